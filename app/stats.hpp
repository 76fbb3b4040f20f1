// StatsSnapshot: every counter of the process summed over workers (habit 5:
// workers keep plain per-lcore integers, readers sum them). One snapshot
// feeds the EVE stats event, `sluice ctl stats`, the exit summary and, per
// worker, the Prometheus metrics.
// Thread rules: built by any reader thread from the workers' relaxed counters.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "dataplane/decode.hpp"
#include "dataplane/defrag.hpp"
#include "dataplane/eve.hpp"
#include "dataplane/flow_table.hpp"
#include "dataplane/json_writer.hpp"
#include "dataplane/tcp_reassembly.hpp"
#include "dataplane/verdict.hpp"
#include "dataplane/worker.hpp"

namespace sluice {

// A plain copy of one counter group, tagged with its enum so the names follow.
template <typename E>
struct CounterArray {
    std::array<uint64_t, static_cast<size_t>(E::count)> v{};
    uint64_t& operator[](size_t i) { return v[i]; }
    uint64_t operator[](size_t i) const { return v[i]; }
    uint64_t operator[](E e) const { return v[static_cast<size_t>(e)]; }
    static constexpr size_t size() { return static_cast<size_t>(E::count); }
    auto begin() const { return v.begin(); }
    auto end() const { return v.end(); }
};

struct WorkerStats {
    CounterArray<WorkerCounter> worker{};
    CounterArray<DropReason> drops{};
    CounterArray<DropReason> would_drops{};
    CounterArray<MalformedReason> malformed{};
    CounterArray<FlowCounter> flow{};
    CounterArray<StreamCounter> stream{};
    CounterArray<DefragCounter> defrag{};
    CounterArray<EveType> eve_written{};
    CounterArray<EveLoss> eve_lost{};
    uint64_t flows_active = 0;
    uint64_t flow_capacity = 0;
    uint64_t stream_segments_in_use = 0;
    uint64_t clock_ns = 0;

    void add(const WorkerStats& o);
};

struct PortStats {
    std::string name;
    std::string label;
    uint64_t rx_packets = 0, rx_bytes = 0, tx_packets = 0, tx_bytes = 0, rx_missed = 0, rx_errors = 0,
             tx_errors = 0, rx_nombuf = 0;
};

struct StatsSnapshot {
    double uptime_s = 0;
    std::vector<WorkerStats> workers;
    WorkerStats total;
    std::vector<PortStats> ports;
    uint64_t mempool_in_use = 0;
    uint64_t mempool_size = 0;
    uint64_t eve_events = 0;
    uint64_t eve_write_errors = 0;
};

WorkerStats read_worker(const Worker& w);

// The "stats" object of the EVE stats event (Suricata-like sections);
// `extra` adds further sections (detectors) before it is closed.
void write_stats_object(JsonWriter& w, const StatsSnapshot& s, const std::function<void(JsonWriter&)>& extra = {});

}  // namespace sluice
