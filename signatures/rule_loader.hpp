// RuleLoader: reads rule files and directories (every *.rules in it, sorted),
// follows `include` lines, joins continuation lines, drops comments, and parses
// each rule. A rule that fails is skipped with one message
// "file:line: sid N: reason" and counted by reason; loading goes on. Also hashes
// everything it read (SHA-256) for the compiled-rules cache key.
// Thread rules: runs on the management thread; results are plain values.
#pragma once

#include <array>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "signatures/rule.hpp"
#include "signatures/rule_parser.hpp"
#include "signatures/rule_vars.hpp"

namespace sluice {

struct LoadReport {
    size_t loaded = 0;
    size_t skipped = 0;
    size_t files = 0;
    std::array<size_t, static_cast<size_t>(RuleError::count)> skipped_by_reason{};
    std::vector<std::string> messages;  // first max_messages, "file:line: sid N: reason"
    size_t messages_dropped = 0;

    size_t malformed() const {
        size_t n = 0;
        for (size_t i = 0; i < skipped_by_reason.size(); ++i)
            if (is_malformed(static_cast<RuleError>(i))) n += skipped_by_reason[i];
        return n;
    }
    void skip(RuleError reason, std::string message, size_t max_messages);
};

struct RuleLoadOptions {
    const RuleVars* vars = nullptr;                // required
    const ClassificationTable* classes = nullptr;  // null: classtypes not checked
    size_t max_messages = 1000;
    int max_include_depth = 8;
};

struct LoadedRules {
    std::vector<Rule> rules;
    LoadReport report;
    std::string content_sha256;  // hex digest of every file's path and bytes, in load order
    std::string vars_fingerprint;  // RuleVars::fingerprint() of the variables used
};

// Each path is a rule file or a directory of *.rules files.
LoadedRules load_rules(std::span<const std::string> paths, const RuleLoadOptions& opts);
// Rules from text (tests, the control socket); `name` stands for the file name in messages.
LoadedRules load_rules_text(std::string_view text, std::string_view name, const RuleLoadOptions& opts);

}  // namespace sluice
