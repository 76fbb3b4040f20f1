// SignatureMatcher: the per-worker runtime of the signature engine. It inspects
// packets, in-order TCP stream chunks, application transactions (sticky
// buffers) and OT protocol records against a compiled RuleSet: one Hyperscan
// scan of each buffer per rule group, then full confirmation of the candidate
// rules only, flowbits, thresholds, and the verdict (Suricata's action order:
// pass, drop, reject, alert). Alerts go to an AlertSink.
//
// Ownership: the worker owns one SignatureMatcher (which owns its cloned
// Hyperscan scratch, PCRE2 match data, threshold table and counters) and, per
// flow, one SigFlowState. The RuleSet is shared and immutable.
// Thread rules: every call is made by the owning worker only; no locks, no
// allocation per packet (use_rules() allocates, at a burst boundary).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "dataplane/counters.hpp"
#include "dataplane/ip_addr.hpp"
#include "dataplane/result.hpp"
#include "dataplane/stream.hpp"
#include "detectors/app_buffers.hpp"
#include "detectors/app_record.hpp"
#include "detectors/signature/payload_inspector.hpp"
#include "signatures/rule_set.hpp"

struct hs_stream;

namespace sluice {

// The outcome of one inspection; a larger value is stronger.
enum class SigVerdict : uint8_t { none = 0, alert = 1, reject = 2, drop = 3, pass = 4 };

constexpr std::string_view to_string(SigVerdict v) {
    constexpr std::string_view names[] = {"none", "alert", "reject", "drop", "pass"};
    return names[static_cast<size_t>(v)];
}

// What the worker knows about a flow, for stream, transaction and record calls.
struct FlowFacts {
    IpAddr client, server;
    uint16_t client_port = 0, server_port = 0;
    uint8_t ip_proto = 6;
    bool established = true;
    AppProto app_proto = AppProto::unknown;
};

// One decoded packet, for packet-level rules.
struct PacketFacts {
    IpAddr src, dst;
    uint16_t src_port = 0, dst_port = 0;
    uint8_t ip_proto = 0;  // 6 tcp, 17 udp, 1 icmp, 58 icmpv6, ...
    bool ipv6 = false;
    bool flow_known = false;        // false: no flow (flow: keywords never match)
    Direction dir = Direction::to_server;  // relative to the flow's client
    bool established = false;
    AppProto app_proto = AppProto::unknown;
    std::span<const uint8_t> payload;  // L4 payload; dsize is its size
    // TCP
    uint8_t tcp_flags = 0;
    uint32_t seq = 0, ack = 0;
    uint16_t window = 0;
    // IP
    uint8_t ttl = 0;
    uint16_t ip_id = 0;
    // ICMP / ICMPv6
    uint8_t icmp_type = 0, icmp_code = 0;
    uint16_t icmp_id = 0, icmp_seq = 0;
    uint64_t ts_ns = 0;  // packet time, for thresholds
};

struct AlertEvent {
    const Rule* rule = nullptr;
    uint32_t rule_index = 0;           // into RuleSet::rules()
    const Classtype* classtype = nullptr;  // null: none
    RuleAction action = RuleAction::alert;
    InspectPoint point = InspectPoint::packet;
    Direction dir = Direction::to_server;
    // the orientation of the inspected data (packet src/dst, or client/server by direction)
    IpAddr src, dst;
    uint16_t src_port = 0, dst_port = 0;
    // the inspected buffer and the matched region in it (for a payload excerpt)
    std::span<const uint8_t> buffer;
    int16_t buffer_id = kPayloadBuffer;  // kPayloadBuffer or an AppBuffer index
    size_t match_start = 0, match_end = 0;
    uint64_t buffer_stream_offset = 0;   // stream offset of buffer[0] (stream rules)
    const PacketFacts* packet = nullptr;
    const AppTransaction* tx = nullptr;
    const AppRecord* record = nullptr;
    uint64_t ts_ns = 0;
};

class AlertSink {
public:
    virtual ~AlertSink() = default;
    virtual void on_alert(const AlertEvent& event) = 0;
};

struct MatcherConfig {
    uint32_t stream_window_bytes = 2048;     // bytes of each direction kept for matches that span chunks
    uint32_t stream_step_bytes = 65536;      // a longer chunk is inspected in steps of this size
    uint32_t threshold_table_entries = 65536;  // per worker; rounded up to a power of two
    uint32_t max_alerts_per_inspection = 64;   // further matches still count toward the verdict
    uint32_t max_transformed_bytes = 4096;   // dotprefix'd buffers longer than this are not inspected
    PayloadInspectorLimits limits;
};

// Stream rules whose fast pattern was seen but that did not (yet) confirm are
// kept per direction, so that data completing the match in a later chunk is
// still checked while the literal is inside the retained window.
inline constexpr size_t kStreamPendingRules = 8;

// Per-flow matcher state (the worker keeps one per flow, e.g. inside its flow
// entry). Size: sizeof(SigFlowState) (see kSigFlowStateBytes) plus, once the
// flow carries stream data, 2 * stream_window_bytes for the windows and up to
// 2 * RuleSet::stats().stream_state_bytes of Hyperscan stream state.
class SigFlowState {
public:
    SigFlowState() = default;
    ~SigFlowState();
    SigFlowState(const SigFlowState&) = delete;
    SigFlowState& operator=(const SigFlowState&) = delete;
    // Movable, so flow tables may keep it by value (the source is left empty).
    SigFlowState(SigFlowState&& o) noexcept;
    SigFlowState& operator=(SigFlowState&& o) noexcept;

    bool passed() const { return passed_; }
    bool flowbit(uint16_t bit) const { return (bits_[bit / 64] >> (bit % 64)) & 1; }
    // Bytes of memory this state holds now (fixed part + windows + stream state).
    size_t memory_bytes() const;

private:
    friend class SignatureMatcher;
    struct Pending {
        uint32_t rule = 0;
        uint64_t lit_end = 0;  // stream offset just past the literal
    };
    struct Dir {
        hs_stream* hs = nullptr;
        uint64_t next = 0;          // next expected stream offset
        uint64_t hs_base = 0;       // stream offset of Hyperscan's offset 0
        uint32_t win_len = 0;
        uint8_t npending = 0;
        bool ip_only_done = false;  // IP-only rules ran on this direction's first packet
        std::array<Pending, kStreamPendingRules> pending{};
    };
    void close_streams();

    uint64_t generation_ = 0;
    uint64_t flowbit_epoch_ = 0;
    std::array<uint64_t, kMaxFlowbits / 64> bits_{};
    std::array<Dir, 2> dir_{};
    std::unique_ptr<uint8_t[]> window_;
    uint32_t window_cap_ = 0;
    size_t hs_stream_bytes_ = 0;
    bool passed_ = false;
};

inline constexpr size_t kSigFlowStateBytes = sizeof(SigFlowState);

enum class SigCounter : uint8_t {
    packets,
    stream_chunks,
    transactions,
    records,
    scans,              // Hyperscan prefilter scans
    candidates,         // rules handed to confirmation
    confirmed,          // candidates that matched in full
    alerts,
    suppressed,         // matched, but threshold/detection_filter/noalert kept it quiet
    pcre_hyperscan,
    pcre_fallbacks,     // pcre evaluated with PCRE2 (no Hyperscan form)
    pcre_errors,
    backtrack_limit,
    stream_gaps,
    state_resets,       // flow state reset or re-bound after a rule reload
    passed_flows,
    alert_overflow,     // matches beyond max_alerts_per_inspection (verdict kept, no event)
    threshold_evictions,
    stream_pending_evictions,
    hs_errors,
    transform_too_long,
    count
};

constexpr std::string_view counter_name(SigCounter c) {
    constexpr std::string_view names[] = {
        "packets", "stream_chunks", "transactions", "records", "scans", "candidates", "confirmed", "alerts",
        "suppressed", "pcre_hyperscan", "pcre_fallbacks", "pcre_errors", "backtrack_limit", "stream_gaps",
        "state_resets", "passed_flows", "alert_overflow", "threshold_evictions", "stream_pending_evictions", "hs_errors", "transform_too_long"};
    return names[static_cast<size_t>(c)];
}

// Alert counters that belong to one rule set (indices into its rules and
// classtypes). The worker writes them; other threads read them through
// SignatureMatcher::rule_counters(), which stays valid across a reload.
struct RuleCounters {
    std::shared_ptr<const RuleSet> rules;
    std::unique_ptr<Counter[]> hits;      // one per rules->rules() entry
    std::unique_ptr<Counter[]> by_class;  // one per rules->classtypes() entry, then "none"
    size_t rule_count = 0;
    size_t class_count = 0;
    std::span<const Counter> rule_hits() const { return {hits.get(), rule_count}; }
    std::span<const Counter> alerts_by_classtype() const { return {by_class.get(), class_count}; }
};

class SignatureMatcher {
public:
    // Clones the rule set's prototype scratch (allocates). Fails only on Hyperscan errors.
    static Result<std::unique_ptr<SignatureMatcher>> create(std::shared_ptr<const RuleSet> rules, const MatcherConfig& cfg = {});
    ~SignatureMatcher();
    SignatureMatcher(const SignatureMatcher&) = delete;
    SignatureMatcher& operator=(const SignatureMatcher&) = delete;

    // Switches to a new rule set (hot reload) at a burst boundary; allocates a
    // new scratch and per-rule counters. Flow states are re-bound lazily on their
    // next call (flowbits kept when the set continued the old numbering, stream
    // state re-primed from the retained window). On error the old set stays.
    Status use_rules(std::shared_ptr<const RuleSet> rules);
    const std::shared_ptr<const RuleSet>& rules() const { return rules_; }

    // Packet-level rules. `state` may be null (no flow).
    SigVerdict inspect_packet(const PacketFacts& pkt, SigFlowState* state, AlertSink& sink);
    // The next in-order bytes of one direction (from StreamConsumer::on_data).
    SigVerdict inspect_stream(const FlowFacts& flow, SigFlowState& state, Direction dir, uint64_t offset,
                           std::span<const uint8_t> data, uint64_t ts_ns, AlertSink& sink);
    // From StreamConsumer::on_gap: matches never span a gap.
    void stream_gap(SigFlowState& state, Direction dir, uint64_t offset, uint64_t len);
    // One application transaction (all its buffers together).
    SigVerdict inspect_transaction(const FlowFacts& flow, SigFlowState& state, const AppTransaction& tx, uint64_t ts_ns,
                                AlertSink& sink);
    // One OT protocol record.
    SigVerdict inspect_record(const FlowFacts& flow, SigFlowState& state, const AppRecord& rec, uint64_t ts_ns, AlertSink& sink);
    // The flow is over (StreamConsumer::on_end or flow eviction): frees stream state.
    void end_flow(SigFlowState& state);

    // Counters (summed over workers by the reader).
    const CounterSet<SigCounter>& counters() const { return counters_; }
    const CounterSet<RuleAction>& alerts_by_action() const { return by_action_; }
    // One per RuleSet::classtypes() entry, then one for rules without a classtype.
    // (Owning thread only; other threads use rule_counters().)
    std::span<const Counter> alerts_by_classtype() const { return counters_block_->alerts_by_classtype(); }
    // One per RuleSet::rules() entry of rules(): hits (alerts) per rule, for a top-N list.
    std::span<const Counter> rule_hits() const { return counters_block_->rule_hits(); }
    // For the management thread (any thread): the per-rule and per-classtype
    // counters of the current rule set, kept alive by the returned pointer.
    std::shared_ptr<const RuleCounters> rule_counters() const { return published_.load(std::memory_order_acquire); }
    const MatcherConfig& config() const { return cfg_; }
    // Bytes per flow at most: fixed part + windows + Hyperscan stream state.
    size_t max_flow_state_bytes() const;

    struct Ctx;  // evaluation context (internal)

private:
    explicit SignatureMatcher(const MatcherConfig& cfg);
    void begin();
    void next_call();
    void collect(uint32_t rule);
    void collect_group(const RuleGroup& g, std::span<const uint8_t> data);
    void collect_ids(const RuleGroup& g, unsigned id);
    void sync_state(SigFlowState& state);
    SigVerdict confirm(Ctx& ctx, AlertSink& sink);
    bool evaluate(const Rule& r, Ctx& ctx, MatchSpan& span, std::span<const uint8_t>& buf, int16_t& buf_id);
    bool header_ok(const Rule& r, const Ctx& ctx) const;
    bool threshold_allows(const Rule& r, uint32_t rule_index, const Ctx& ctx, const ThresholdSpec& t);
    std::span<const uint8_t> tx_buffer(const AppTransaction& tx, int16_t buffer, bool dotprefix, bool& ok);
    static int on_literal(unsigned id, unsigned long long from, unsigned long long to, unsigned flags, void* ctx);
    static int on_prime(unsigned id, unsigned long long from, unsigned long long to, unsigned flags, void* ctx);
    void pending_add(SigFlowState::Dir& ds, uint32_t rule, uint64_t lit_end);

    MatcherConfig cfg_;
    std::shared_ptr<const RuleSet> rules_;
    HsScratch scratch_;
    PayloadInspector inspector_;
    // candidate collection
    std::unique_ptr<uint32_t[]> stamp_;
    std::unique_ptr<uint32_t[]> alerted_;
    std::unique_ptr<uint32_t[]> cands_;
    std::unique_ptr<uint32_t[]> lit_stamp_;  // collected from a literal in this step (streams)
    std::unique_ptr<uint64_t[]> lit_end_;    // stream offset past that literal
    bool stream_mode_ = false;
    uint64_t cur_hs_base_ = 0;
    SigFlowState::Dir* priming_ = nullptr;
    size_t ncands_ = 0;
    uint32_t cur_stamp_ = 0;
    uint32_t cur_call_ = 0;
    const RuleGroup* cur_group_ = nullptr;
    size_t rule_count_ = 0;
    // buffers
    std::unique_ptr<uint8_t[]> stream_buf_;
    std::unique_ptr<uint8_t[]> transform_buf_;
    // threshold table
    struct ThresholdEntry {
        uint64_t key = 0;  // 0 = free
        uint64_t window_start_ns = 0;
        uint32_t count = 0;
        uint32_t pad = 0;
    };
    std::unique_ptr<ThresholdEntry[]> thresholds_;
    size_t threshold_mask_ = 0;
    // counters
    CounterSet<SigCounter> counters_;
    CounterSet<RuleAction> by_action_;
    std::shared_ptr<RuleCounters> counters_block_;
    std::atomic<std::shared_ptr<const RuleCounters>> published_;
    size_t class_count_ = 0;
    PayloadInspectorStats seen_inspector_{};
};

}  // namespace sluice
