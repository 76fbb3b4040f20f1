// Test support: MiniWorker runs detectors the way dataplane/worker.cpp does,
// without DPDK, so detector tests see exactly the calls the appliance makes:
// Ethernet decode, IPv4/IPv6 defragmentation, the FlowTable (timeouts, reuse),
// bursts of packets with classify(burst) -> TCP reassembly (on_stream_*) ->
// inspect(burst), and at each flow's end the remaining stream data,
// on_flow_end and write_flow_event. It is the WorkerServices of its detectors:
// publish() hands transactions and records to every detector and keeps a copy
// of each record's summary; EVE events land in `events` as JSON lines.
// Only Ethernet captures are read (as the appliance's net_pcap ports).
// Thread rules: single-threaded test code.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "dataplane/decode.hpp"
#include "dataplane/defrag.hpp"
#include "dataplane/eve.hpp"
#include "dataplane/event_ring.hpp"
#include "dataplane/flow_table.hpp"
#include "dataplane/tcp_reassembly.hpp"
#include "detectors/detector.hpp"

namespace sluice::test {

struct MiniWorkerOptions {
    FlowTimeouts timeouts;
    uint32_t flow_capacity = 65536;
    uint32_t burst = 32;
    StreamLimits stream;
};

// What a published record said (the record itself lives on the decoder's stack).
struct RecordSummary {
    uint64_t flow_id = 0;
    AppProto proto = AppProto::unknown;
    Direction dir = Direction::to_server;
    OtOperation op;
    std::string function;  // op.function copied
};

class MiniWorker final : public WorkerServices, private StreamConsumer, private FlowEndHandler {
public:
    explicit MiniWorker(const MiniWorkerOptions& options = {});
    ~MiniWorker() override;

    // Adds a detector (its slot is its position): D(args..., services, slot).
    template <typename D, typename... A>
    D& add(A&&... args) {
        auto d = std::make_unique<D>(std::forward<A>(args)..., *this, static_cast<unsigned>(detectors_.size()));
        D& ref = *d;
        detectors_.push_back(std::move(d));
        return ref;
    }

    // Every frame of an Ethernet capture, then the end of every flow. False
    // (with the reason) when the file cannot be read or is not Ethernet.
    bool run_capture(const std::string& path, std::string* error = nullptr);
    // One frame (queued into the current burst); flush() processes the burst.
    void frame(const uint8_t* data, uint32_t len, uint64_t ts_ns);
    void flush();
    // Ends every flow (end of input).
    void finish();

    // Called for each flow after the detectors' on_flow_end, before its flow event.
    std::function<void(const Flow&)> on_flow_ended;

    std::vector<std::string> events;        // EVE lines (flow events included)
    std::vector<RecordSummary> records;     // every published record
    uint64_t transactions = 0;              // published app-layer transactions
    uint64_t verdicts = 0;                  // raise() calls with a verdict above forward
    uint64_t packets = 0;
    uint64_t ethernet_skipped = 0;          // frames that were not IP (or malformed)
    const FlowTable& flows() const { return *flows_; }

    // WorkerServices
    unsigned worker_id() const override { return 0; }
    bool ips() const override { return false; }
    bool offline() const override { return true; }
    EveEmitter& eve() override { return *eve_; }
    void raise(PacketRef& p, Verdict v, DropReason why) override;
    void raise(StreamContext& ctx, Verdict v, DropReason why) override;
    void stop_inspection(Flow& f) override { f.flags |= flowflag::pass; }
    void publish(StreamContext& ctx, const AppTransaction& tx) override;
    void publish(StreamContext& ctx, const AppRecord& record) override;
    // No packet is held here: a detector that asks gets its fail policy.
    bool hold(PacketRef&, uint64_t, uint64_t, Verdict) override { return false; }
    void release(uint64_t, Verdict, DropReason) override {}
    uint64_t steady_ns() const override { return now_ns_; }

private:
    struct Pending {
        std::vector<uint8_t> bytes;  // the frame, or the reassembled datagram
        PacketRef ref;
    };
    void on_data(Direction dir, uint64_t offset, std::span<const uint8_t> data) override;
    void on_gap(Direction dir, uint64_t offset, uint64_t len) override;
    void on_end() override;
    void on_flow_end(Flow& flow, FlowEndReason reason) override;
    void run_stages(size_t from, size_t to);
    void drain_events();

    MiniWorkerOptions options_;
    std::unique_ptr<FlowTable> flows_;
    std::unique_ptr<TcpReassembler> reasm_;
    std::unique_ptr<Defragmenter> defrag_;
    std::unique_ptr<EventRing> ring_;
    EveReader reader_;  // renders deferred events (OT policy alerts)
    std::unique_ptr<EveEmitter> eve_;
    std::vector<std::unique_ptr<Detector>> detectors_;
    std::vector<Pending> burst_;
    StreamContext* stream_ctx_ = nullptr;
    uint64_t now_ns_ = 0;  // packet time of the last burst
};

}  // namespace sluice::test
