// RuleSet: the compiled, immutable form of a loaded rule set, shared by every
// worker (std::shared_ptr<const RuleSet>). RuleCompiler (RuleSet::compile)
// groups the rules by inspection point, protocol, direction and buffer, puts the
// fast-pattern literal of every rule of a group into one Hyperscan database
// (streaming mode for TCP streams, block mode for packets and transaction
// buffers), keeps rules without a usable literal in the group's short "always"
// list, indexes IP-only rules by address, compiles pcre to Hyperscan where the
// semantics allow (PCRE2 JIT otherwise), and serializes the databases to a cache
// directory keyed by the rule text, the variables and the Hyperscan version.
// It owns a prototype scratch that workers clone (SignatureMatcher).
// Thread rules: compile() runs on the management thread; a compiled RuleSet is
// read-only and safe to share; workers never write to it.
#pragma once

#include <array>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "dataplane/result.hpp"
#include "detectors/app_buffers.hpp"
#include "signatures/rule.hpp"
#include "signatures/rule_loader.hpp"
#include "signatures/rule_parser.hpp"

struct hs_database;
struct hs_scratch;

namespace sluice {

struct HsDatabaseFree {
    void operator()(hs_database* db) const;
};
using HsDatabase = std::unique_ptr<hs_database, HsDatabaseFree>;
struct HsScratchFree {
    void operator()(hs_scratch* s) const;
};
using HsScratch = std::unique_ptr<hs_scratch, HsScratchFree>;

// The per-flow flowbit bitmap holds this many names (docs/rules.md).
inline constexpr size_t kMaxFlowbits = 512;

// Rules inspected together on one buffer. Literal id i of `db` stands for the
// rules lit_rules[lit_begin[i] .. lit_begin[i+1]).
struct RuleGroup {
    HsDatabase db;
    std::vector<uint32_t> lit_begin;
    std::vector<uint32_t> lit_rules;
    std::vector<uint32_t> always;  // no usable fast pattern: evaluated on every inspection
    size_t rule_count = 0;
    size_t literal_count = 0;
    bool empty() const { return rule_count == 0; }
};

// IP-only rules (no payload, no flow options, ports any), indexed by one side's
// address: elementary intervals [starts[i], starts[i+1]) -> rules[begin[i]..begin[i+1]).
struct AddressIndex {
    std::vector<IpAddr> starts;
    std::vector<uint32_t> begin;
    std::vector<uint32_t> rules;
    std::span<const uint32_t> lookup(const IpAddr& a) const;
};

// Packet groups are per transport class; an `ip` rule is in all four.
enum class PacketClass : uint8_t { tcp = 0, udp = 1, icmp = 2, other = 3, count };

struct RuleSetOptions {
    std::string cache_dir;       // "" = no cache
    bool pcre_hyperscan = true;  // compile pcre to Hyperscan where possible
};

struct CompileStats {
    bool cache_hit = false;
    bool cache_written = false;
    std::string cache_file;
    std::string cache_note;   // why the cache was not used / not written
    double seconds = 0;
    size_t databases = 0;
    size_t literals = 0;
    size_t always_rules = 0;  // summed over groups (a rule may sit in several)
    size_t ip_only_rules = 0;
    size_t pcre_hyperscan = 0;
    size_t pcre_pcre2 = 0;
    size_t stream_state_bytes = 0;  // Hyperscan stream state per direction
    size_t scratch_bytes = 0;
};

class RuleSet {
public:
    // Compiles `loaded` (moved in). `previous` (may be null): the set being
    // replaced, so flowbit names keep their bit (state survives a reload).
    static Result<std::shared_ptr<const RuleSet>> compile(LoadedRules loaded, const ClassificationTable& classes,
                                                          const RuleSetOptions& opts, const RuleSet* previous = nullptr);

    ~RuleSet();
    RuleSet(const RuleSet&) = delete;
    RuleSet& operator=(const RuleSet&) = delete;

    const std::vector<Rule>& rules() const { return rules_; }
    const Rule& rule(uint32_t i) const { return rules_[i]; }
    const LoadReport& load_report() const { return report_; }
    const CompileStats& stats() const { return stats_; }
    const std::vector<Classtype>& classtypes() const { return classtypes_; }
    const std::vector<std::string>& flowbit_names() const { return flowbit_names_; }
    uint64_t generation() const { return generation_; }
    // Changes when flowbit numbering is not a continuation of the previous set's.
    uint64_t flowbit_epoch() const { return flowbit_epoch_; }
    const std::string& key() const { return key_; }

    // Groups
    const RuleGroup& packet_group(PacketClass c, Direction d) const { return packet_[static_cast<size_t>(c)][index(d)]; }
    const RuleGroup& stream_group(Direction d) const { return stream_[index(d)]; }
    // buffer_key = AppBuffer index * 2 + dotprefix
    const RuleGroup& tx_group(size_t buffer_key, Direction d) const { return tx_[buffer_key][index(d)]; }
    const std::vector<uint32_t>& tx_unbuffered(Direction d) const { return tx_plain_[index(d)]; }
    // The buffer keys whose tx group has rules, per direction (so a transaction visits only those).
    const std::vector<uint16_t>& tx_keys(Direction d) const { return tx_keys_[index(d)]; }
    const std::vector<uint32_t>& record_rules(AppProto p) const { return record_[static_cast<size_t>(p)]; }
    const AddressIndex& ip_only_by_src() const { return ip_src_; }
    const AddressIndex& ip_only_by_dst() const { return ip_dst_; }
    const std::vector<uint32_t>& ip_only_plain() const { return ip_plain_; }
    const hs_database* pcre_db(int32_t i) const { return pcre_dbs_[static_cast<size_t>(i)].get(); }
    const hs_database* stream_db(Direction d) const { return stream_[index(d)].db.get(); }

    const hs_scratch* prototype_scratch() const { return scratch_.get(); }
    size_t max_group_rules() const { return max_group_rules_; }
    size_t max_pcre_captures() const { return max_captures_; }
    static constexpr size_t kTxBufferKeys = kAppBufferCount * 2;

private:
    RuleSet() = default;
    friend class RuleCompiler;

    std::vector<Rule> rules_;
    LoadReport report_;
    CompileStats stats_;
    std::vector<Classtype> classtypes_;
    std::vector<std::string> flowbit_names_;
    uint64_t generation_ = 0;
    uint64_t flowbit_epoch_ = 0;
    std::string key_;

    std::array<std::array<RuleGroup, 2>, static_cast<size_t>(PacketClass::count)> packet_;
    std::array<RuleGroup, 2> stream_;
    std::array<std::array<RuleGroup, 2>, kTxBufferKeys> tx_;
    std::array<std::vector<uint32_t>, 2> tx_plain_;
    std::array<std::vector<uint16_t>, 2> tx_keys_;
    std::array<std::vector<uint32_t>, static_cast<size_t>(AppProto::count)> record_;
    AddressIndex ip_src_, ip_dst_;
    std::vector<uint32_t> ip_plain_;
    std::vector<HsDatabase> pcre_dbs_;
    HsScratch scratch_;
    size_t max_group_rules_ = 0;
    size_t max_captures_ = 0;
};

// The fast pattern the compiler picks for a rule (tests and docs): buffer index
// into rule.buffers, element index, the literal bytes and whether it is caseless.
struct FastPatternChoice {
    size_t buffer = 0;
    size_t elem = 0;
    std::string literal;
    bool caseless = false;
};
std::optional<FastPatternChoice> choose_fast_pattern(const Rule& rule);

// `sluice --check-rules FILES`: loads and compiles the files with `vars` and
// the classification file (empty: the bundled one is not implied; classtypes are
// then not checked), prints the summary (loaded, skipped by reason, the first
// `max_messages` messages, compile result) to `out`, and returns the exit
// status: 0 fine, 1 a malformed rule or nothing loaded, 2 compile failure.
int check_rules(std::span<const std::string> files, const RuleVars& vars, const std::string& classification_file,
                std::FILE* out, size_t max_messages = 20);

}  // namespace sluice
