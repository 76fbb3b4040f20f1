// AppIdDetector: nDPI classification as a worker detector (DESIGN: "nDPI goes
// in classify"). Per worker one NdpiModule and one NdpiFlowPool; per flow an
// AppIdFlow record (56 bytes, from a free list over huge pages, for the flow's life)
// and, while nDPI still looks, one ndpi_flow_struct block from the pool. The
// inspected packets of a flow in detection go to nDPI from their IP header
// with their time in ms, as ndpiReader does, except TCP segments without
// payload after the flow's first (nothing for the dissectors: the handshake's
// SYN-ACK and ACK, pure ACKs); detection ends when nDPI has a verdict
// and wants no more packets, after appid.max-tcp-packets / max-udp-packets
// packets (then nDPI gives up and guesses from ports and addresses), when the
// flow ends, or when the pool is full and a newer flow needs the block (the
// oldest flow in detection gives up). The block goes back to the pool then.
//
// The verdict: nDPI's label ("TLS.Google", written to the EVE flow event as
// `app_proto_ndpi`) and flow.app_proto, mapped by appid_map. flow.app_proto is
// set only from payload verdicts (nDPI confidence DPI or DPI cache; a port or
// address guess is a label only), and only when it is unknown or was set by
// this detector before (nDPI refining NetBIOS to SMB): a protocol an app-layer
// parser or OT decoder proved first is kept. Flows and bytes are counted per
// nDPI master protocol (at most 512 labels: nDPI's protocol ids).
//
// Memory per flow: sizeof(AppIdFlow) for the whole flow, plus while in
// detection one pool block (NdpiFlowPool::block_size(), 704 bytes with Debian's
// libndpi 4.2) and what nDPI allocates inside it (TLS handshake reassembly,
// strings; freed with the block). Per worker: the module (~9 MB) and at most
// appid.max-flows-in-detection blocks.
// Thread rules: one instance per worker; the management thread reads counters
// through metrics() and write_stats().
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "dataplane/counters.hpp"
#include "dataplane/zeroed_pages.hpp"
#include "detectors/appid/appid_config.hpp"
#include "detectors/appid/ndpi_module.hpp"
#include "detectors/detector.hpp"

namespace sluice {

#define SLUICE_APPID_COUNTERS(X)                                                              \
    X(flows, "flows")                           /* flows nDPI saw packets of */               \
    X(classified, "classified")                 /* verdict from the payload */                \
    X(guessed, "guessed")                       /* verdict guessed from ports/addresses */    \
    X(unknown, "unknown")                       /* no verdict */                              \
    X(gave_up_packets, "gave_up_packets")       /* packet limit reached without verdict */    \
    X(gave_up_flow_end, "gave_up_flow_end")     /* flow over before nDPI finished */          \
    X(evicted, "evicted")                       /* detection ended for a newer flow's state */ \
    X(no_state, "no_state")                     /* no memory for a flow record: not classified */ \
    X(app_proto_set, "app_proto_set")           /* flows whose app_proto nDPI set */          \
    X(app_proto_kept, "app_proto_kept")         /* a parser named the flow first and nDPI differs */ \
    X(packets, "packets")                       /* packets given to nDPI */

enum class AppIdCounter : uint8_t {
#define SLUICE_X(id, name) id,
    SLUICE_APPID_COUNTERS(SLUICE_X)
#undef SLUICE_X
        count
};

constexpr std::string_view counter_name(AppIdCounter c) {
    constexpr std::string_view names[] = {
#define SLUICE_X(id, name) name,
        SLUICE_APPID_COUNTERS(SLUICE_X)
#undef SLUICE_X
    };
    return names[static_cast<size_t>(c)];
}

// The classification of one flow, kept for its whole life.
struct AppIdFlow {
    Flow* flow = nullptr;
    ndpi_flow_struct* ndpi = nullptr;  // while in detection
    AppIdFlow* older = nullptr;        // list of flows in detection, oldest first
    AppIdFlow* newer = nullptr;
    uint64_t bytes_counted = 0;        // flow bytes added to the per-protocol counter
    NdpiVerdict verdict;
    uint16_t packets = 0;              // packets given to nDPI
    AppProto set_proto = AppProto::unknown;  // what this detector wrote to flow.app_proto
    bool done = false;                 // detection over: verdict final
};

class AppIdDetector final : public Detector {
public:
    AppIdDetector(const Config& config, const DetectionSnapshot& snapshot, WorkerServices& services, unsigned slot);
    // For tests and benchmarks: the same without a Config.
    AppIdDetector(const AppIdConfig& config, WorkerServices& services, unsigned slot);
    ~AppIdDetector() override;

    void classify(std::span<PacketRef* const> packets) override;
    void on_flow_end(Flow& flow) override;
    void write_flow_event(const Flow& flow, JsonWriter& w) override;

    // The flow's classification so far (null when nDPI never saw it).
    const AppIdFlow* flow_state(const Flow& flow) const {
        return static_cast<const AppIdFlow*>(flow.detector_state[slot_]);
    }
    // nDPI's label of a verdict ("TLS.Google").
    std::string_view label(const NdpiVerdict& v, std::span<char> buf) const { return module_->label(v, buf); }
    const NdpiModule& module() const { return *module_; }
    const NdpiFlowPool& pool() const { return pool_; }
    const CounterSet<AppIdCounter>& counters() const { return counters_; }
    // The last verdict of a flow that ended (for its EVE flow event), null if none.
    const NdpiVerdict* ended_verdict(const Flow& flow) const;
    // Flows and bytes by nDPI master protocol id.
    uint64_t flows_of(uint16_t master_key) const { return proto_flows_[master_key].get(); }
    uint64_t bytes_of(uint16_t master_key) const { return proto_bytes_[master_key].get(); }

    static void metrics(std::span<const Detector* const> instances, MetricSamples& out);
    static void write_stats(std::span<const Detector* const> instances, JsonWriter& w);

    // True when the module could not be built (then the detector classifies nothing).
    bool failed() const { return !module_; }

private:
    AppIdFlow* record(Flow& flow);
    void feed(AppIdFlow& s, const PacketRef& r);
    void note(AppIdFlow& s, const NdpiVerdict& v);
    void finish(AppIdFlow& s, bool give_up, AppIdCounter why);
    // Detection over for `s`: nDPI gives up (counted as if_no_verdict) when it has no verdict.
    void end_detection(AppIdFlow& s, AppIdCounter if_no_verdict);
    bool start_detection(AppIdFlow& s);
    void unlink(AppIdFlow& s);
    void account_bytes(AppIdFlow& s, uint64_t total);
    AppIdFlow* new_record();
    void free_record(AppIdFlow* s);

    AppIdConfig config_;
    unsigned slot_;
    std::unique_ptr<NdpiModule> module_;
    NdpiFlowPool pool_;
    CounterSet<AppIdCounter> counters_;
    Counter in_detection_;
    std::array<Counter, NdpiModule::kMaxProtocols> proto_flows_{};
    std::array<Counter, NdpiModule::kMaxProtocols> proto_bytes_{};

    static constexpr uint64_t kAccountEvery = 64;  // packets of a classified flow per byte count

    // Flows in detection, oldest first (the one to give up when the pool is full).
    AppIdFlow* oldest_ = nullptr;
    AppIdFlow* newest_ = nullptr;

    // AppIdFlow records: regions of zeroed pages (one huge page each where the
    // kernel allows: the records of 37 000 flows, touched as they are first
    // used), and a free list through `older`.
    static constexpr size_t kRecordsPerRegion = ZeroedPages::kHugePage / sizeof(AppIdFlow);
    std::vector<ZeroedPages> record_regions_;
    size_t fresh_records_ = kRecordsPerRegion;  // records of the last region never used
    AppIdFlow* free_records_ = nullptr;

    // The verdict of the flow that ended last: the worker writes its flow event
    // right after on_flow_end.
    const Flow* ended_flow_ = nullptr;
    uint64_t ended_flow_id_ = 0;
    NdpiVerdict ended_verdict_;
    uint16_t ended_packets_ = 0;
};

}  // namespace sluice
