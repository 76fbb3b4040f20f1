// Fuzz target for the rule parser: each input line is parsed as a rule; a rule
// that parses has its match lists run (PCRE2 path, no Hyperscan) against the
// input bytes, so the payload inspector sees hostile rules and data together.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "detectors/signature/payload_inspector.hpp"
#include "signatures/rule_parser.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const sluice::RuleVars vars;
    static sluice::ClassificationTable classes = [] {
        sluice::ClassificationTable t;
        t.add_text("config classification: trojan-activity,Trojan,1\nconfig classification: misc-activity,Misc,3\n");
        return t;
    }();
    static sluice::PayloadInspector inspector;
    std::string_view text(reinterpret_cast<const char*>(data), size);
    const std::span<const uint8_t> bytes(data, size);
    while (!text.empty()) {
        size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        sluice::RuleParseContext ctx{&vars, &classes, "fuzz", 1};
        auto out = sluice::parse_rule(line, ctx);
        if (!out.rule) continue;
        for (const auto& list : out.rule->buffers) {
            sluice::MatchSpan span;
            inspector.match(list, sluice::InspectBuffer{bytes, 0, 0}, &span);
            inspector.match(list, sluice::InspectBuffer{bytes, 7, size / 2}, &span);
        }
    }
    return 0;
}
