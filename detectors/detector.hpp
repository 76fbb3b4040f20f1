// Detector: the small interface every detector implements (habit 1), and the
// services the worker offers it. A worker owns one instance of each enabled
// detector, created from the constant table in detectors/registry.cpp; it
// calls them at four points, always with the worker's own state:
//   classify(burst)      every inspected packet, before stream reassembly (nDPI);
//   on_stream_*(...)     in-order TCP data, gaps and end, per direction;
//   inspect(burst)       every inspected packet, after stream data (rules, policy);
//   on_flow_end(flow)    once, when the flow is over, to free per-flow state.
// Batch calls take the whole burst (habit 2): one virtual call per burst. The
// worker calls a detector only for the hooks its class overrides (hooks_of).
// Thread rules: called only on the owning worker; never block, never lock.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "dataplane/eve.hpp"
#include "dataplane/result.hpp"
#include "dataplane/packet.hpp"
#include "detectors/app_buffers.hpp"
#include "detectors/app_record.hpp"

namespace sluice {

struct Config;
struct DetectionSnapshot;

// The flow whose stream is delivered, and the packet that delivered it (null
// when data is flushed at flow end: no verdict can be given then).
struct StreamContext {
    Flow& flow;
    PacketRef* packet;
};

class WorkerServices {
public:
    virtual ~WorkerServices() = default;
    virtual unsigned worker_id() const = 0;
    virtual bool ips() const = 0;
    virtual bool offline() const = 0;
    virtual EveEmitter& eve() = 0;
    // Raises the packet's verdict (and its flow's, for drop_flow/reject).
    virtual void raise(PacketRef& p, Verdict v, DropReason why) = 0;
    // A verdict found in stream data: on the packet that delivered it, or,
    // when data is flushed at flow end (no packet), on the flow alone.
    virtual void raise(StreamContext& ctx, Verdict v, DropReason why) = 0;
    // Stops detection on the flow (a pass rule); packets are still forwarded.
    virtual void stop_inspection(Flow& f) = 0;
    // Hands an application transaction (HTTP request, DNS query, ...) or an OT
    // record found in this flow to every detector (signatures, OT policy, EVE).
    virtual void publish(StreamContext& ctx, const AppTransaction& tx) = 0;
    virtual void publish(StreamContext& ctx, const AppRecord& record) = 0;
    // Holds the packet (ips mode): it is neither sent nor freed until
    // release(token, ...) or, at `deadline_ns` (steady clock), `on_timeout`
    // applies. Several packets may share a token. False when the worker's hold
    // table is full (the caller applies its fail-open/fail-closed policy).
    virtual bool hold(PacketRef& p, uint64_t token, uint64_t deadline_ns, Verdict on_timeout) = 0;
    // Settles every packet held under `token`: forward, drop or reject.
    virtual void release(uint64_t token, Verdict v, DropReason why) = 0;
    // Steady-clock nanoseconds, for hold deadlines.
    virtual uint64_t steady_ns() const = 0;
};

class Detector {
public:
    virtual ~Detector() = default;
    // A new detection snapshot (rules, policy) takes effect from the next burst.
    virtual void on_snapshot(const DetectionSnapshot& snapshot) { (void)snapshot; }
    virtual void classify(std::span<PacketRef* const> packets) { (void)packets; }
    virtual void on_stream_data(StreamContext& ctx, Direction dir, uint64_t offset, std::span<const uint8_t> data) {
        (void)ctx, (void)dir, (void)offset, (void)data;
    }
    virtual void on_stream_gap(StreamContext& ctx, Direction dir, uint64_t offset, uint64_t len) {
        (void)ctx, (void)dir, (void)offset, (void)len;
    }
    virtual void on_stream_end(Flow& flow) { (void)flow; }
    virtual void inspect(std::span<PacketRef* const> packets) { (void)packets; }
    // Application transactions and OT records other detectors found.
    virtual void on_transaction(StreamContext& ctx, const AppTransaction& tx) { (void)ctx, (void)tx; }
    virtual void on_record(StreamContext& ctx, const AppRecord& record) { (void)ctx, (void)record; }
    virtual void on_flow_end(Flow& flow) { (void)flow; }
    // Called once per worker loop iteration (between bursts): results from
    // helper threads (scanners) are collected here.
    virtual void poll() {}
    // Results from helper threads are still to come (e.g. files at the
    // scanner): at the end of the input the worker keeps calling poll() until
    // no detector has any, so their events are written before it finishes.
    virtual bool pending() const { return false; }
    // Fields this detector adds to the flow's EVE flow event (e.g. "alerted").
    virtual void write_flow_event(const Flow& flow, JsonWriter& w) { (void)flow, (void)w; }
};

// The per-packet, per-chunk and per-record hooks a detector's class
// overrides (hooks_of): the worker calls each detector only for those, so a
// Modbus PDU costs no calls to the empty hooks of nDPI or SMB. The others
// (on_snapshot, poll, pending, on_flow_end) are called on every detector.
namespace hook {
inline constexpr uint32_t classify = 1u << 0;
inline constexpr uint32_t stream = 1u << 1;  // on_stream_data, on_stream_gap, on_stream_end
inline constexpr uint32_t inspect = 1u << 2;
inline constexpr uint32_t transaction = 1u << 3;
inline constexpr uint32_t record = 1u << 4;
inline constexpr uint32_t flow_event = 1u << 5;
}  // namespace hook

namespace detail {
// True unless D's name lookup for the hook finds Detector's own declaration:
// D or a class between it and Detector declares it (an override, or an
// overload that hides it: calling the default then costs nothing but the
// call), or the name is ambiguous in D. Never false for an override.
#define SLUICE_DECLARES(D, name, ...) \
    (!requires { requires std::is_same_v<decltype(&D::name), std::type_identity_t<__VA_ARGS__> Detector::*>; })
template <typename D>
constexpr bool declares_stream() {
    return SLUICE_DECLARES(D, on_stream_data, void(StreamContext&, Direction, uint64_t, std::span<const uint8_t>)) ||
           SLUICE_DECLARES(D, on_stream_gap, void(StreamContext&, Direction, uint64_t, uint64_t)) ||
           SLUICE_DECLARES(D, on_stream_end, void(Flow&));
}
}  // namespace detail

template <typename D>
constexpr uint32_t hooks_of() {
    static_assert(std::is_base_of_v<Detector, D>);
    uint32_t h = 0;
    if (SLUICE_DECLARES(D, classify, void(std::span<PacketRef* const>))) h |= hook::classify;
    if (detail::declares_stream<D>()) h |= hook::stream;
    if (SLUICE_DECLARES(D, inspect, void(std::span<PacketRef* const>))) h |= hook::inspect;
    if (SLUICE_DECLARES(D, on_transaction, void(StreamContext&, const AppTransaction&))) h |= hook::transaction;
    if (SLUICE_DECLARES(D, on_record, void(StreamContext&, const AppRecord&))) h |= hook::record;
    if (SLUICE_DECLARES(D, write_flow_event, void(const Flow&, JsonWriter&))) h |= hook::flow_event;
    return h;
}
#undef SLUICE_DECLARES

// Per-flow state slots: Flow::detector_state[slot] belongs to the detector at
// that position of the table; it must be null again after on_flow_end.
inline constexpr size_t kMaxDetectors = 8;

// Per-flow state objects are kept for reuse when their flow ends: the last
// one given back, else a new one.
template <typename T>
std::unique_ptr<T> reuse_or_make(std::vector<std::unique_ptr<T>>& pool) {
    if (pool.empty()) return std::make_unique<T>();
    std::unique_ptr<T> p = std::move(pool.back());
    pool.pop_back();
    return p;
}

// One Prometheus sample a detector reports (the runtime adds the worker label
// and groups samples into families); read from the management side only.
struct MetricSample {
    std::string family;  // full name, e.g. "sluice_alerts_total"
    std::string help;
    bool counter = true;
    std::vector<std::pair<std::string, std::string>> labels;
    double value = 0;
};
using MetricSamples = std::vector<MetricSample>;

struct DetectorEntry {
    std::string_view name;
    bool (*enabled)(const Config& config);
    std::unique_ptr<Detector> (*create)(const Config& config, const DetectionSnapshot& snapshot, WorkerServices& services,
                                        unsigned slot);
    uint32_t hooks;  // hooks_of<the detector's class>()
    // The management side's view over every worker's instance (may be null):
    // samples for Prometheus, a section of the EVE stats event, control commands
    // (true when the command was this detector's; the reply is a JSON value).
    void (*metrics)(std::span<const Detector* const> instances, MetricSamples& out) = nullptr;
    void (*write_stats)(std::span<const Detector* const> instances, JsonWriter& w) = nullptr;
    bool (*control)(std::span<const Detector* const> instances, const std::vector<std::string>& words,
                    std::string& reply) = nullptr;
    // Once at exit, after every worker stopped (e.g. write what was learned);
    // an error is reported and makes the exit status 1.
    Status (*finish)(std::span<const Detector* const> instances) = nullptr;
};

// The detector table, in the order the worker calls them.
std::span<const DetectorEntry> detector_table();

}  // namespace sluice
