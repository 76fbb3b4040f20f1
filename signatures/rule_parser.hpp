// RuleParser: turns one rule's text into a Rule, or says why it cannot (a
// RuleError reason plus a message). Also the classification.config table
// (classtype name -> description and default priority).
// Thread rules: pure functions over their arguments; a ClassificationTable is
// read-only once loaded.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/result.hpp"
#include "signatures/rule.hpp"
#include "signatures/rule_vars.hpp"

namespace sluice {

// Why a rule was skipped. Counted by reason in the LoadReport and in metrics.
enum class RuleError : uint8_t {
    syntax,                   // malformed rule text (header, option list, quotes)
    unknown_keyword,          // an option that neither Suricata nor Snort has
    unsupported_keyword,      // a real Suricata/Snort keyword Sluice does not implement
    unsupported_buffer,       // a sticky buffer Sluice's parsers do not fill
    unknown_protocol,         // header protocol Sluice does not know
    unsupported_action,       // action other than alert/drop/reject/pass (log, sdrop, ...)
    bad_address,
    bad_port,
    unknown_variable,         // $VAR not defined
    bad_value,                // an option value out of range or malformed
    bad_content,              // content string: quotes, escapes, hex
    content_too_long,
    bad_pcre,                 // pcre that does not compile or bad flags
    missing_sid,
    duplicate_sid,
    unknown_classtype,
    unsupported_combination,  // keywords Sluice cannot evaluate together
    too_many_flowbits,        // rule set uses more flowbit names than the per-flow bitmap holds
    include_error,            // include loop, depth, missing file
    io_error,                 // a rule file could not be read
    count
};

constexpr std::string_view counter_name(RuleError e) {
    constexpr std::string_view names[] = {
        "syntax", "unknown_keyword", "unsupported_keyword", "unsupported_buffer", "unknown_protocol",
        "unsupported_action", "bad_address", "bad_port", "unknown_variable", "bad_value", "bad_content",
        "content_too_long", "bad_pcre", "missing_sid", "duplicate_sid", "unknown_classtype",
        "unsupported_combination", "too_many_flowbits", "include_error", "io_error"};
    return names[static_cast<size_t>(e)];
}

// True for reasons that mean the rule text is wrong (check_rules fails on
// them), false for rules that are valid but use what Sluice does not support.
constexpr bool is_malformed(RuleError e) {
    switch (e) {
        case RuleError::unsupported_keyword:
        case RuleError::unsupported_buffer:
        case RuleError::unknown_protocol:
        case RuleError::unsupported_action:
        case RuleError::unsupported_combination:
        case RuleError::too_many_flowbits:
            return false;
        default:
            return true;
    }
}

struct Classtype {
    std::string name;
    std::string description;
    uint8_t priority = 3;
};

// classification.config: lines "config classification: name,description,priority".
class ClassificationTable {
public:
    // Adds or replaces entries from a file's text; returns the number of bad lines
    // (each described in *errors when given).
    size_t add_text(std::string_view text, std::vector<std::string>* errors = nullptr);
    Status load_file(const std::string& path);
    // Index into entries(), or -1.
    int find(std::string_view name) const;
    const std::vector<Classtype>& entries() const { return entries_; }

private:
    std::vector<Classtype> entries_;
};

// Caps on untrusted rule text (documented in docs/rules.md).
inline constexpr size_t kMaxContentBytes = 4096;
inline constexpr size_t kMaxRuleBytes = 64 * 1024;
inline constexpr size_t kMaxPcreBytes = 8192;

struct RuleParseContext {
    const RuleVars* vars = nullptr;                  // required
    const ClassificationTable* classes = nullptr;    // null: classtype names are not checked
    std::string_view file;
    uint32_t line = 0;
};

struct RuleParseOutcome {
    std::optional<Rule> rule;      // set on success
    RuleError reason = RuleError::syntax;
    std::string message;           // the reason in words (no file:line prefix)
    uint32_t sid = 0;              // 0 when the text did not get that far
};

// Parses one rule (without the trailing newline; continuation lines already joined).
RuleParseOutcome parse_rule(std::string_view text, const RuleParseContext& ctx);

}  // namespace sluice
