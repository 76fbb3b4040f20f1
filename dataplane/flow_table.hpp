// FlowTable: one per worker, fixed capacity allocated at start (no allocation
// per packet). Flows are found by their bidirectional FlowKey in a chained hash
// of pre-allocated slots. Every flow sits in exactly one timeout list (its
// protocol class x state, e.g. tcp/established); each list is ordered by last
// activity, so expiry only ever looks at list heads. A flow whose next packet
// comes after its timeout ends first and a new flow starts, whether or not the
// background expiry got to it: the outcome does not depend on when expiry runs,
// which keeps events identical for any number of workers. When the table is
// full the stalest flow is evicted (closed flows first, then new, then
// established), counted.
// Thread rules: owned by one worker; the management thread reads counters only.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "dataplane/counters.hpp"
#include "dataplane/flow_key.hpp"
#include "dataplane/stream.hpp"
#include "dataplane/tcp_reassembly.hpp"
#include "dataplane/zeroed_pages.hpp"
#include "detectors/app_proto.hpp"

namespace sluice {

enum class ProtoClass : uint8_t { tcp, udp, icmp, other, count };
enum class FlowState : uint8_t { new_, established, closed, count };
enum class TcpState : uint8_t { none, syn_sent, syn_recv, established, fin_wait, closing, closed };

constexpr std::string_view to_string(ProtoClass c) {
    constexpr std::string_view n[] = {"tcp", "udp", "icmp", "other"};
    return n[static_cast<size_t>(c)];
}
constexpr std::string_view to_string(FlowState s) {
    constexpr std::string_view n[] = {"new", "established", "closed"};
    return n[static_cast<size_t>(s)];
}
constexpr std::string_view to_string(TcpState s) {
    constexpr std::string_view n[] = {"none", "syn_sent", "syn_recv", "established", "fin_wait", "closing", "closed"};
    return n[static_cast<size_t>(s)];
}

constexpr ProtoClass proto_class(uint8_t ip_proto) {
    switch (ip_proto) {
        case ipproto::tcp: return ProtoClass::tcp;
        case ipproto::udp: return ProtoClass::udp;
        case ipproto::icmp:
        case ipproto::icmpv6: return ProtoClass::icmp;
        default: return ProtoClass::other;
    }
}

#define SLUICE_FLOW_END_REASONS(X) \
    X(timeout, "timeout")          \
    X(evicted, "evicted")          \
    X(reused, "reused")            /* a new SYN on a closed connection's tuple */ \
    X(shutdown, "shutdown")        /* end of input or stop */

enum class FlowEndReason : uint8_t {
#define SLUICE_X(id, name) id,
    SLUICE_FLOW_END_REASONS(SLUICE_X)
#undef SLUICE_X
        count
};

constexpr std::string_view counter_name(FlowEndReason r) {
    constexpr std::string_view names[] = {
#define SLUICE_X(id, name) name,
        SLUICE_FLOW_END_REASONS(SLUICE_X)
#undef SLUICE_X
    };
    return names[static_cast<size_t>(r)];
}

// What later packets of a flow get, decided by filters and detectors.
namespace flowflag {
inline constexpr uint8_t drop = 0x01;     // every later packet dropped (ips) / would be (ids)
inline constexpr uint8_t bypass = 0x02;   // forwarded without inspection
inline constexpr uint8_t pass = 0x04;     // a pass rule matched: no more detection
inline constexpr uint8_t alerted = 0x08;  // at least one alert
inline constexpr uint8_t filtered = 0x10; // the L3/L4 filter gave its verdict (cached)
inline constexpr uint8_t rejected = 0x20; // reject packets already sent
}  // namespace flowflag

// The first cache line holds what a lookup and a packet's update read: the
// key, hash, chain link, last activity and the state bytes.
struct alignas(64) Flow {
    FlowKey key;
    uint32_t hash = 0;
    uint32_t bucket_next = 0;
    uint64_t last_ns = 0;
    uint8_t client_side = 0;     // index into key.addr/key.port of the client
    ProtoClass pclass = ProtoClass::other;
    FlowState state = FlowState::new_;
    TcpState tcp_state = TcpState::none;
    uint8_t tcp_flags[2] = {0, 0};  // flags seen, by Direction
    uint8_t flags = 0;              // flowflag::*
    uint8_t list = 0;               // the timeout list it sits in
    // -- second cache line on
    uint32_t lru_prev = 0;
    uint32_t lru_next = 0;
    uint32_t epoch = 0;             // the table epoch of its last packet
    uint64_t placed_ns = 0;         // last_ns when it was last put at its list's tail
    AppProto app_proto = AppProto::unknown;
    uint8_t filter_action = 0;
    uint16_t filter_rule = 0;       // the L3/L4 filter rule that matched, + 1; 0 = none
    uint8_t drop_reason = 0;        // DropReason of a dropped flow
    uint64_t flow_id = 0;
    uint64_t first_ns = 0;
    uint64_t pkts[2] = {0, 0};      // by Direction
    uint64_t bytes[2] = {0, 0};
    uint64_t drop_from = 0;         // packets from this number on are dropped; 0 = none
    TcpStreamState stream;
    void* detector_state[8] = {};   // one slot per detector (detectors/detector.hpp)

    const IpAddr& client_addr() const { return key.addr[client_side]; }
    const IpAddr& server_addr() const { return key.addr[client_side ^ 1]; }
    uint16_t client_port() const { return key.port[client_side]; }
    uint16_t server_port() const { return key.port[client_side ^ 1]; }
};

struct FlowTimeouts {
    // Seconds, by ProtoClass and FlowState.
    uint32_t seconds[static_cast<size_t>(ProtoClass::count)][static_cast<size_t>(FlowState::count)] = {
        {60, 600, 60},  // tcp (Suricata's defaults)
        {30, 300, 0},   // udp (no closed state)
        {30, 300, 0},   // icmp
        {30, 300, 0},   // other
    };
};

#define SLUICE_FLOW_COUNTERS(X)                 \
    X(created, "created")                       \
    X(ended, "ended")                           \
    X(timeout, "ended_timeout")                 \
    X(evicted, "evicted")                       \
    X(reused, "ended_reused")                   \
    X(shutdown, "ended_shutdown")

enum class FlowCounter : uint8_t {
#define SLUICE_X(id, name) id,
    SLUICE_FLOW_COUNTERS(SLUICE_X)
#undef SLUICE_X
        count
};

constexpr std::string_view counter_name(FlowCounter c) {
    constexpr std::string_view names[] = {
#define SLUICE_X(id, name) name,
        SLUICE_FLOW_COUNTERS(SLUICE_X)
#undef SLUICE_X
    };
    return names[static_cast<size_t>(c)];
}

class FlowEndHandler {
public:
    virtual ~FlowEndHandler() = default;
    // The flow is over; its slot is reused right after this returns.
    virtual void on_flow_end(Flow& flow, FlowEndReason reason) = 0;
};

struct PacketFlowInfo {
    Flow* flow = nullptr;
    Direction dir = Direction::to_server;
    bool created = false;
    // The lookup would have to end a flow that packets of the current epoch
    // still refer to: finish those packets, call next_epoch() and look up again.
    bool blocked = false;
};

class FlowTable {
public:
    FlowTable(uint32_t capacity, const FlowTimeouts& timeouts);
    FlowTable(const FlowTable&) = delete;
    FlowTable& operator=(const FlowTable&) = delete;

    // Finds the packet's flow or creates it, ending an expired or reused one on
    // the way and evicting when full. `now_ns` is the packet's time.
    PacketFlowInfo lookup(const DecodedPacket& p, uint64_t now_ns, FlowEndHandler& end);

    // The same in steps, for a burst: hash every packet's key and prefetch
    // its bucket, then prefetch the flows the buckets point to, then look up;
    // the cache misses of a burst overlap instead of following one another.
    struct Probe {
        FlowKey key;
        uint32_t hash = 0;
        bool src_is_side0 = true;
    };
    void probe(const DecodedPacket& p, Probe& out) const;
    void prefetch_flow(const Probe& pr) const;
    PacketFlowInfo lookup(const DecodedPacket& p, const Probe& pr, uint64_t now_ns, FlowEndHandler& end);

    // Updates TCP/UDP state and counters for a packet of `flow`, and moves the
    // flow to the tail of its (possibly new) timeout list.
    void update(Flow& flow, Direction dir, const DecodedPacket& p, uint64_t now_ns);

    // Flows touched since the last call are protected from being ended by a
    // lookup (expiry, reuse, eviction): the worker calls this between bursts.
    void next_epoch() { ++epoch_; }

    // Ends up to `budget` flows whose timeout passed by `now_ns`; returns how many.
    uint32_t expire(uint64_t now_ns, uint32_t budget, FlowEndHandler& end);
    // Ends every flow (end of input, shutdown): those whose timeout passed by
    // `now_ns` (0: none) as timed out, the others with `reason`.
    void end_all(FlowEndHandler& end, FlowEndReason reason, uint64_t now_ns = 0);

    uint32_t capacity() const { return capacity_; }
    uint32_t active() const { return active_; }
    const CounterSet<FlowCounter>& counters() const { return counters_; }
    const FlowTimeouts& timeouts() const { return timeouts_; }
    bool expired(const Flow& f, uint64_t now_ns) const { return now_ns > f.last_ns + lists_[f.list].timeout_ns; }

private:
    static constexpr uint32_t kNil = 0xFFFFFFFFu;
    static constexpr uint64_t kReplaceNs = 1000000000ull;  // see update()
    static constexpr size_t kLists = static_cast<size_t>(ProtoClass::count) * static_cast<size_t>(FlowState::count);

    struct List {
        uint32_t head = kNil;
        uint32_t tail = kNil;
        uint64_t timeout_ns = 0;
    };

    uint32_t slot_of(const Flow& f) const { return static_cast<uint32_t>(&f - flows_); }
    Flow& at(uint32_t i) const { return flows_[i]; }
    static uint8_t list_index(ProtoClass c, FlowState s) {
        return static_cast<uint8_t>(static_cast<size_t>(c) * static_cast<size_t>(FlowState::count) + static_cast<size_t>(s));
    }
    void list_remove(Flow& f);
    void list_append(Flow& f);
    void end_flow(Flow& f, FlowEndReason reason, FlowEndHandler& end);
    uint32_t pick_victim() const;
    bool protected_flow(const Flow& f) const { return f.epoch == epoch_; }

    uint32_t capacity_;
    uint32_t bucket_mask_;
    // Zeroed pages (huge pages where the kernel allows), touched only as slots
    // and buckets are first used, so a large table costs nothing until
    // traffic fills it.
    ZeroedPages flow_pages_;
    ZeroedPages bucket_pages_;
    Flow* flows_;
    uint32_t fresh_ = 0;  // slots [fresh_, capacity_) were never used
    // Chain heads, stored as slot + 1 so that zeroed (untouched) pages mean
    // "empty".
    uint32_t* buckets_;
    uint32_t head(uint32_t hash) const { return buckets_[hash & bucket_mask_] - 1u; }
    uint32_t* head_ref(uint32_t hash) { return &buckets_[hash & bucket_mask_]; }
    uint32_t free_head_ = kNil;
    uint32_t active_ = 0;
    uint32_t epoch_ = 1;
    List lists_[kLists];
    FlowTimeouts timeouts_;
    CounterSet<FlowCounter> counters_;
};

// A flow id that depends only on the flow's key and its first packet time, so
// it is the same whatever worker or run sees the flow. Positive, 51 bits, like
// Suricata's (exact JSON integers in any consumer).
uint64_t make_flow_id(const FlowKey& key, uint64_t first_ns);

}  // namespace sluice
