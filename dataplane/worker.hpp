// Worker: one poll-mode worker lcore, run to completion (DESIGN "data path").
// It owns everything it touches: its RX/TX queues, flow table, reassembler,
// defragmenter, detectors, event ring and counters. Per burst of up to 32
// packets: decode, defragment, flow lookup and update, L3/L4 filter, detector
// classification, TCP reassembly (stream detectors), packet detectors, verdict,
// then transmit to the peer port (inline), free (SPAN), or hand back to the
// dispatcher (pcap with several workers). Between bursts: flow expiry.
// Thread rules: a Worker runs on one lcore; other threads only read its
// counters (plain per-lcore integers, habit 5) and set the stop flag.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "app/config.hpp"
#include "dataplane/counters.hpp"
#include "dataplane/defrag.hpp"
#include "dataplane/eve.hpp"
#include "dataplane/filter.hpp"
#include "dataplane/flow_table.hpp"
#include "dataplane/packet.hpp"
#include "dataplane/tcp_reassembly.hpp"
#include "detectors/detector.hpp"
#include "detectors/snapshot.hpp"

struct rte_mempool;
struct rte_ring;

namespace sluice {

#define SLUICE_WORKER_COUNTERS(X)                                            \
    X(rx_packets, "rx_packets")                                              \
    X(rx_bytes, "rx_bytes")                                                  \
    X(tx_packets, "tx_packets")                                              \
    X(tx_bytes, "tx_bytes")                                                  \
    X(forwarded, "forwarded")          /* sent on, or left to go (SPAN) */   \
    X(dropped, "dropped")              /* enforced drops, all reasons */     \
    X(would_drop, "would_drop")        /* ids mode: drops not enforced */    \
    X(rejects_sent, "rejects_sent")    /* RST / ICMP packets sent */         \
    X(non_ip, "non_ip")                                                      \
    X(malformed, "malformed")                                                \
    X(fragments, "fragments")                                                \
    X(bypassed, "bypassed")            /* packets of bypassed flows */       \
    X(no_flow, "no_flow")              /* no flow slot could be had */       \
    X(bursts, "bursts")                                                      \
    X(busy_cycles, "busy_cycles")      /* TSC cycles spent on bursts */      \
    X(loop_cycles, "loop_cycles")      /* TSC cycles in the loop */          \
    X(flows_tcp, "flows_tcp")                                                \
    X(flows_udp, "flows_udp")                                                \
    X(flows_icmp, "flows_icmp")                                              \
    X(flows_other, "flows_other")                                            \
    X(held, "held")                    /* packets parked for a verdict */    \
    X(hold_released, "hold_released")  /* ...settled by the verdict */       \
    X(hold_timeouts, "hold_timeouts")  /* ...settled by the deadline */      \
    X(hold_full, "hold_full")          /* hold table full */

enum class WorkerCounter : uint8_t {
#define SLUICE_X(id, name) id,
    SLUICE_WORKER_COUNTERS(SLUICE_X)
#undef SLUICE_X
        count
};

constexpr std::string_view counter_name(WorkerCounter c) {
    constexpr std::string_view names[] = {
#define SLUICE_X(id, name) name,
        SLUICE_WORKER_COUNTERS(SLUICE_X)
#undef SLUICE_X
    };
    return names[static_cast<size_t>(c)];
}

// One RX queue a worker polls, and where forwarded packets of it go.
struct WorkerRxQueue {
    uint16_t port = 0;
    uint16_t queue = 0;
    int tx_port = -1;  // -1: nothing is transmitted (SPAN)
    uint16_t reject_port = 0;  // where rejects to the sender leave (the RX port itself)
    bool reject_port_tx = false;
};

// The slot a worker fills for each packet the dispatcher gave it.
struct DispatchSlot {
    rte_mbuf* mbuf = nullptr;
    rte_mbuf* extra[2] = {nullptr, nullptr};  // reject packets to send after it
    bool forward = false;
    std::atomic<bool> done{false};
};

struct DispatchLink {
    rte_ring* input = nullptr;                     // dispatcher -> worker
    DispatchSlot* slots = nullptr;                 // shared window, indexed by seqn % window
    uint32_t window = 0;
    const std::atomic<uint64_t>* clock = nullptr;  // last packet time dispatched (ns)
    const std::atomic<bool>* input_done = nullptr;
};

struct WorkerSetup {
    unsigned id = 0;
    unsigned lcore = 0;
    std::vector<WorkerRxQueue> rx;  // direct mode
    uint16_t tx_queue = 0;
    DispatchLink dispatch;          // dispatcher mode when dispatch.input != nullptr
    rte_mempool* pool = nullptr;
    bool offline = false;           // reading a capture: time from packets, end at EOF
    std::string in_iface;
    int timestamp_offset = -1;      // mbuf dynfield offset of the RX timestamp (us), -1 if none
    uint64_t timestamp_flag = 0;
    int seqn_offset = -1;           // mbuf dynfield with the dispatcher's sequence number
};

class Worker final : public WorkerServices, private StreamConsumer, private FlowEndHandler {
public:
    Worker(const Config& config, const WorkerSetup& setup, SnapshotPublisher& snapshots, EventRing& events,
           const std::atomic<bool>& stop);
    ~Worker() override;

    // The lcore loop; returns when stopped or, offline, at the end of the input.
    int run();

    // Processes one burst (public for tests and benchmarks).
    void process_burst(rte_mbuf** mbufs, uint16_t n, uint16_t rx_index);

    bool finished() const { return finished_.load(std::memory_order_acquire); }

    // Read by the management thread.
    const CounterSet<WorkerCounter>& counters() const { return counters_; }
    const CounterSet<DropReason>& drops() const { return drops_; }
    const CounterSet<DropReason>& would_drops() const { return would_drops_; }
    const CounterSet<MalformedReason>& malformed() const { return malformed_; }
    const FlowTable& flows() const { return *flows_; }
    const TcpReassembler& reassembler() const { return *reasm_; }
    const Defragmenter& defrag() const { return *defrag_; }
    const EveEmitter& eve_emitter() const { return eve_; }
    uint64_t clock_ns() const { return clock_pub_.load(std::memory_order_relaxed); }

    // The detector at a position of the detector table, or null when disabled.
    const Detector* detector(size_t slot) const { return slot < by_slot_.size() ? by_slot_[slot] : nullptr; }

    // WorkerServices
    unsigned worker_id() const override { return setup_.id; }
    bool ips() const override { return ips_; }
    bool offline() const override { return setup_.offline; }
    EveEmitter& eve() override { return eve_; }
    void raise(PacketRef& p, Verdict v, DropReason why) override;
    void raise(StreamContext& ctx, Verdict v, DropReason why) override;
    void stop_inspection(Flow& f) override;
    void publish(StreamContext& ctx, const AppTransaction& tx) override;
    void publish(StreamContext& ctx, const AppRecord& record) override;
    bool hold(PacketRef& p, uint64_t token, uint64_t deadline_ns, Verdict on_timeout) override;
    void release(uint64_t token, Verdict v, DropReason why) override;
    uint64_t steady_ns() const override;
    size_t held_packets() const { return held_count_; }

private:
    void on_data(Direction dir, uint64_t offset, std::span<const uint8_t> data) override;
    void on_gap(Direction dir, uint64_t offset, uint64_t len) override;
    void on_end() override;
    void on_flow_end(Flow& flow, FlowEndReason reason) override;

    void prepare(PacketRef& r, rte_mbuf* m, uint16_t rx_index, unsigned slot);
    // Finds and updates the packet's flow; false when the table asks for a new epoch first.
    bool track(PacketRef& r, const FlowTable::Probe& probe);
    void apply_filter(PacketRef& r);
    void handle_malformed(PacketRef& r);
    void dispose(PacketRef* refs, uint16_t n, uint16_t rx_index);
    unsigned build_rejects(const PacketRef& r, rte_mbuf** out);
    void emit_flow_event(const Flow& f, FlowEndReason reason);
    void emit_drop_event(const PacketRef& r);
    void emit_anomaly(const PacketRef& r);
    void housekeeping();
    // Settles held packets whose deadline passed; all of them when `all`.
    void expire_holds(bool all);
    // Sends or frees one settled packet (and its rejects) as dispose() would.
    void settle(rte_mbuf* m, uint16_t rx_index, const DecodedPacket& pkt, Verdict v, DropReason why);
    // Takes a newly published detection snapshot, at a burst boundary.
    void refresh_snapshot();
    void finish();

    const Config& config_;
    WorkerSetup setup_;
    SnapshotPublisher& snapshots_;
    std::shared_ptr<const DetectionSnapshot> snapshot_;
    uint64_t generation_ = 0;
    const L4Filter* filter_ = nullptr;
    const std::atomic<bool>& stop_;
    bool ips_;
    uint32_t burst_;

    std::unique_ptr<FlowTable> flows_;
    std::unique_ptr<TcpReassembler> reasm_;
    std::unique_ptr<Defragmenter> defrag_;
    EveEmitter eve_;
    std::vector<std::unique_ptr<Detector>> detectors_;
    std::vector<const Detector*> by_slot_;
    // The detectors whose class overrides a hook (hooks_of), in table order.
    struct HookLists {
        std::vector<Detector*> classify, stream, inspect, transaction, record, flow_event;
    } hooked_;

    // Per burst slot: linear copies of multi-segment frames and reassembled datagrams.
    std::unique_ptr<uint8_t[]> scratch_;
    static constexpr size_t kScratch = 65536 + 128;

    StreamContext* stream_ctx_ = nullptr;  // set while reassembly delivers data
    uint64_t now_ns_ = 0;
    std::atomic<uint64_t> clock_pub_{0};
    std::atomic<bool> finished_{false};
    uint64_t last_housekeeping_ns_ = 0;

    // Packets parked by hold(): bounded, scanned only while non-empty.
    struct Held {
        rte_mbuf* mbuf = nullptr;
        uint64_t token = 0;
        uint64_t deadline = 0;
        DecodedPacket pkt;
        uint16_t rx_index = 0;
        Verdict on_timeout = Verdict::forward;
    };
    std::vector<Held> held_;
    size_t held_count_ = 0;
    std::unique_ptr<PacketRef[]> refs_;  // the burst being processed
    std::unique_ptr<FlowTable::Probe[]> probes_;  // their flow keys and hashes

    CounterSet<WorkerCounter> counters_;
    CounterSet<DropReason> drops_;
    CounterSet<DropReason> would_drops_;
    CounterSet<MalformedReason> malformed_;
};

}  // namespace sluice
