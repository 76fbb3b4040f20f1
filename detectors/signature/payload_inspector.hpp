// PayloadInspector: confirms one buffer's match list of a rule (content with
// nocase/offset/depth/distance/within/startswith/endswith and negation, pcre,
// byte_test, byte_jump, byte_extract, isdataat, bsize) against bytes, as
// Suricata's content inspection does, including retrying earlier contents when a
// later relative element fails (bounded by a budget). pcre runs through its
// Hyperscan database when the compiler built one, else PCRE2 with JIT and match
// limits. Used only on candidates that the Hyperscan prefilter produced.
// Thread rules: one per worker (owns PCRE2 match data and JIT stack); borrows
// the worker's Hyperscan scratch; never allocates after construction.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "signatures/rule.hpp"

struct pcre2_real_match_data_8;
struct pcre2_real_match_context_8;
struct pcre2_real_jit_stack_8;
struct hs_scratch;

namespace sluice {

class RuleSet;

struct PayloadInspectorLimits {
    uint32_t pcre_match_limit = 3500;       // PCRE2 match limit (Suricata's default)
    uint32_t pcre_depth_limit = 1500;       // PCRE2 depth (recursion) limit
    uint32_t backtrack_budget = 3000;       // content retries per rule evaluation (Suricata's inspection_recursion_limit)
};

// The bytes a match list is checked against.
struct InspectBuffer {
    std::span<const uint8_t> data;
    uint64_t base = 0;     // stream offset of data[0] (0 for packets and transaction buffers)
    size_t min_end = 0;    // the list's last positive content/pcre must end after this many bytes (stream: the retained window)
};

struct MatchSpan {
    size_t start = 0;
    size_t end = 0;
};

struct PayloadInspectorStats {
    uint64_t pcre_hyperscan = 0;
    uint64_t pcre_pcre2 = 0;
    uint64_t pcre_errors = 0;        // match limit hit or other PCRE2 error (treated as no match)
    uint64_t budget_exhausted = 0;
};

class PayloadInspector {
public:
    explicit PayloadInspector(const PayloadInspectorLimits& limits = {});
    ~PayloadInspector();
    PayloadInspector(const PayloadInspector&) = delete;
    PayloadInspector& operator=(const PayloadInspector&) = delete;

    // The rule set whose pcre databases the elements refer to, and the worker's scratch.
    void bind(const RuleSet* rules, hs_scratch* scratch) {
        rules_ = rules;
        scratch_ = scratch;
    }
    // Ensures the match data holds `captures` groups (call when binding a new set; allocates).
    void reserve_captures(size_t captures);

    // True when `list` matches `buf`; `span` gets the matched region.
    bool match(const BufferMatch& list, const InspectBuffer& buf, MatchSpan* span = nullptr);

    const PayloadInspectorStats& stats() const { return stats_; }

private:
    bool step(const BufferMatch& list, size_t i, size_t cursor, size_t max_end, size_t min_start);
    bool find_pcre(const PayloadElem& e, size_t from, size_t need_end, size_t& start, size_t& end);
    bool read_number(const ByteOp& op, size_t pos, uint64_t& out) const;
    int64_t value_of(uint8_t var, int64_t fallback) const { return var == kNoVar ? fallback : static_cast<int64_t>(vars_[var]); }

    const RuleSet* rules_ = nullptr;
    hs_scratch* scratch_ = nullptr;
    PayloadInspectorLimits limits_;
    pcre2_real_match_data_8* md_ = nullptr;
    pcre2_real_match_context_8* mctx_ = nullptr;
    pcre2_real_jit_stack_8* jit_ = nullptr;
    size_t md_captures_ = 0;
    // per evaluation
    InspectBuffer buf_;
    std::array<uint64_t, kMaxByteVars> vars_{};
    uint32_t budget_ = 0;
    size_t last_positive_ = 0;
    MatchSpan span_;
    PayloadInspectorStats stats_;
};

}  // namespace sluice
