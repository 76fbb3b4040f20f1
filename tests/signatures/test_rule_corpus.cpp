// Loads the real rule sets of the shared corpus (ET Open suricata-5.0 enhanced,
// Snort community, Talos ICS) and prints how many rules load and why the rest
// are skipped. Fails when the loaded share of a set falls below what this
// implementation reached (the floors below; raise them when support grows).
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "signatures/rule_set.hpp"
#include "tests/support/pcap_streams.hpp"

namespace sluice {
namespace {

struct SetResult {
    size_t loaded = 0;
    size_t active = 0;  // loaded + skipped
};

SetResult load_set(const std::string& name, const std::vector<std::string>& paths, const std::string& classification) {
    RuleVars vars;
    ClassificationTable classes;
    if (!classification.empty()) {
        auto st = classes.load_file(classification);
        EXPECT_TRUE(st.ok()) << st.message();
    }
    RuleLoadOptions opts;
    opts.vars = &vars;
    opts.classes = classification.empty() ? nullptr : &classes;
    opts.max_messages = 100000;
    LoadedRules lr = load_rules(paths, opts);
    const auto& r = lr.report;
    std::printf("[%s] files %zu, loaded %zu, skipped %zu (%.1f%% loaded)\n", name.c_str(), r.files, r.loaded, r.skipped,
                100.0 * static_cast<double>(r.loaded) / static_cast<double>(std::max<size_t>(1, r.loaded + r.skipped)));
    for (size_t i = 0; i < r.skipped_by_reason.size(); ++i)
        if (r.skipped_by_reason[i])
            std::printf("  skipped %-24s %zu\n", std::string(counter_name(static_cast<RuleError>(i))).c_str(), r.skipped_by_reason[i]);
    if (const char* dump = std::getenv("SLUICE_RULE_DUMP"))
        for (const auto& m : r.messages) std::fprintf(stderr, "%s %s\n", dump, m.c_str());
    if (std::getenv("SLUICE_CORPUS_COMPILE")) {
        RuleSetOptions ro;
        if (const char* c = std::getenv("SLUICE_CORPUS_CACHE")) ro.cache_dir = c;
        auto rs = RuleSet::compile(std::move(lr), classes, ro);
        EXPECT_TRUE(rs.ok()) << (rs.ok() ? "" : rs.message());
        if (rs.ok()) {
            const auto& s = (*rs)->stats();
            std::printf("  compiled: %zu databases, %zu literals, %zu always, %zu ip-only, pcre %zu hs / %zu pcre2, stream state %zu B, scratch %zu B, cache %s, %.2f s\n",
                        s.databases, s.literals, s.always_rules, s.ip_only_rules, s.pcre_hyperscan, s.pcre_pcre2,
                        s.stream_state_bytes, s.scratch_bytes, s.cache_hit ? "hit" : "miss", s.seconds);
        }
    }
    return {r.loaded, r.loaded + r.skipped};
}

TEST(RuleCorpus, LoadsRealRuleSets) {
    std::string corpus = test::corpus_dir();
    if (corpus.empty()) GTEST_SKIP() << "SLUICE_CORPUS not set or missing: real rule sets not available";
    std::string et = corpus + "/rules/et-open-suricata-5.0-enhanced";
    if (!std::filesystem::is_directory(et)) GTEST_SKIP() << "corpus has no rules/ folder";

    auto ets = load_set("et-open", {et}, et + "/classification.config");
    auto snort = load_set("snort-community", {corpus + "/rules/snort-community-2022-03-02/community.rules"}, et + "/classification.config");
    auto talos = load_set("talos-ics", {corpus + "/rules/iti-talos-ics/talos-snort.rules"}, et + "/classification.config");

    auto share = [](const SetResult& s) { return static_cast<double>(s.loaded) / static_cast<double>(std::max<size_t>(1, s.active)); };
    // Reached on 2026-11-25: ET 23909 / 24827 (96.3%), Snort community 528 / 545 (96.9%), Talos ICS 19 / 19.
    EXPECT_GE(share(ets), 0.962);
    EXPECT_GE(ets.loaded, 23900u);
    EXPECT_GE(share(snort), 0.968);
    EXPECT_GE(snort.loaded, 528u);
    EXPECT_EQ(talos.loaded, 19u);
    EXPECT_EQ(talos.active, 19u);
}

}  // namespace
}  // namespace sluice
