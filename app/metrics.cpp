#include "app/metrics.hpp"

#include <fmt/format.h>
#include <prometheus/collectable.h>
#include <prometheus/exposer.h>
#include <prometheus/metric_family.h>

#include <map>

namespace sluice {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

class FamilyBuilder {
public:
    explicit FamilyBuilder(std::vector<MetricFamily>& out) : out_(out) {}

    MetricFamily& family(const std::string& name, const std::string& help, MetricType type) {
        out_.push_back(MetricFamily{name, help, type, {}});
        return out_.back();
    }
    static void add(MetricFamily& f, double value, std::vector<prometheus::ClientMetric::Label> labels = {}) {
        ClientMetric m;
        m.label = std::move(labels);
        if (f.type == MetricType::Counter) m.counter.value = value;
        else m.gauge.value = value;
        f.metric.push_back(std::move(m));
    }

private:
    std::vector<MetricFamily>& out_;
};

template <typename E>
double at(const CounterArray<E>& a, E e) {
    return static_cast<double>(a[static_cast<size_t>(e)]);
}

}  // namespace

class MetricsServer::Collector final : public prometheus::Collectable {
public:
    explicit Collector(std::function<StatsSnapshot()> snapshot) : snapshot_(std::move(snapshot)) {}

    std::vector<MetricFamily> Collect() const override {
        std::vector<MetricFamily> out;
        out.reserve(48);
        FamilyBuilder b(out);
        const StatsSnapshot s = snapshot_();

        auto& info = b.family("sluice_build_info", "Build information (always 1).", MetricType::Gauge);
        FamilyBuilder::add(info, 1, {{"version", SLUICE_VERSION}});
        FamilyBuilder::add(b.family("sluice_uptime_seconds", "Seconds since start.", MetricType::Gauge), s.uptime_s);

        struct PortField {
            const char* name;
            const char* help;
            uint64_t PortStats::*field;
        };
        static const PortField port_fields[] = {
            {"sluice_port_rx_packets_total", "Packets received by the port (device counter).", &PortStats::rx_packets},
            {"sluice_port_rx_bytes_total", "Bytes received by the port.", &PortStats::rx_bytes},
            {"sluice_port_tx_packets_total", "Packets transmitted by the port.", &PortStats::tx_packets},
            {"sluice_port_tx_bytes_total", "Bytes transmitted by the port.", &PortStats::tx_bytes},
            {"sluice_port_rx_missed_total", "Packets the device dropped for lack of RX descriptors.", &PortStats::rx_missed},
            {"sluice_port_rx_errors_total", "Erroneous packets received.", &PortStats::rx_errors},
            {"sluice_port_tx_errors_total", "Failed transmissions.", &PortStats::tx_errors},
            {"sluice_port_rx_nombuf_total", "RX mbuf allocation failures.", &PortStats::rx_nombuf},
        };
        for (const auto& pf : port_fields) {
            auto& f = b.family(pf.name, pf.help, MetricType::Counter);
            for (const auto& p : s.ports) FamilyBuilder::add(f, static_cast<double>(p.*(pf.field)), {{"port", p.name}, {"iface", p.label}});
        }

        struct WorkerField {
            const char* name;
            const char* help;
            WorkerCounter c;
        };
        static const WorkerField worker_fields[] = {
            {"sluice_worker_packets_total", "Packets received by the worker.", WorkerCounter::rx_packets},
            {"sluice_worker_bytes_total", "Bytes received by the worker.", WorkerCounter::rx_bytes},
            {"sluice_worker_tx_packets_total", "Packets the worker transmitted.", WorkerCounter::tx_packets},
            {"sluice_worker_tx_bytes_total", "Bytes the worker transmitted.", WorkerCounter::tx_bytes},
            {"sluice_worker_forwarded_total", "Packets forwarded (inline) or let pass (SPAN).", WorkerCounter::forwarded},
            {"sluice_rejects_sent_total", "TCP resets and ICMP unreachables sent.", WorkerCounter::rejects_sent},
            {"sluice_non_ip_packets_total", "Packets that are not IP (ARP, LLDP, ...).", WorkerCounter::non_ip},
            {"sluice_fragments_total", "IP fragments received.", WorkerCounter::fragments},
            {"sluice_bypassed_packets_total", "Packets of bypassed flows.", WorkerCounter::bypassed},
            {"sluice_flows_no_slot_total", "Packets that found no flow slot (table full of flows in use).", WorkerCounter::no_flow},
            {"sluice_worker_busy_cycles_total", "TSC cycles the worker spent processing bursts.", WorkerCounter::busy_cycles},
            {"sluice_worker_loop_cycles_total", "TSC cycles the worker spent in its loop.", WorkerCounter::loop_cycles},
        };
        for (const auto& wf : worker_fields) {
            auto& f = b.family(wf.name, wf.help, MetricType::Counter);
            for (size_t w = 0; w < s.workers.size(); ++w)
                FamilyBuilder::add(f, at(s.workers[w].worker, wf.c), {{"worker", std::to_string(w)}});
        }

        per_reason<DropReason>(b, s, "sluice_drops_total", "Packets dropped (ips mode), by reason.", &WorkerStats::drops, "reason");
        per_reason<DropReason>(b, s, "sluice_would_drops_total", "Packets that would have been dropped (ids mode), by reason.",
                               &WorkerStats::would_drops, "reason");
        per_reason<MalformedReason>(b, s, "sluice_malformed_packets_total", "Malformed packets, by reason.", &WorkerStats::malformed, "reason");
        per_reason<DefragCounter>(b, s, "sluice_defrag_total", "IP defragmentation events.", &WorkerStats::defrag, "event");
        per_reason<StreamCounter>(b, s, "sluice_stream_total", "TCP reassembly events.", &WorkerStats::stream, "event");
        per_reason<FlowCounter>(b, s, "sluice_flow_events_total", "Flows created and ended, by event.", &WorkerStats::flow, "event");

        auto& created = b.family("sluice_flows_created_total", "Flows created, by protocol.", MetricType::Counter);
        auto& active = b.family("sluice_flows_active", "Flows in the flow table.", MetricType::Gauge);
        auto& capacity = b.family("sluice_flows_capacity", "Flow table capacity.", MetricType::Gauge);
        auto& evicted = b.family("sluice_flows_evicted_total", "Flows evicted because the table was full.", MetricType::Counter);
        auto& segs = b.family("sluice_stream_segments_in_use", "Out-of-order segment chunks held.", MetricType::Gauge);
        auto& busy = b.family("sluice_worker_busy_ratio", "Share of loop time spent on packets since the last scrape.", MetricType::Gauge);
        std::lock_guard lock(mu_);
        if (prev_busy_.size() != s.workers.size()) {
            prev_busy_.assign(s.workers.size(), 0);
            prev_loop_.assign(s.workers.size(), 0);
        }
        for (size_t w = 0; w < s.workers.size(); ++w) {
            const auto& ws = s.workers[w];
            const std::string id = std::to_string(w);
            FamilyBuilder::add(created, at(ws.worker, WorkerCounter::flows_tcp), {{"worker", id}, {"proto", "tcp"}});
            FamilyBuilder::add(created, at(ws.worker, WorkerCounter::flows_udp), {{"worker", id}, {"proto", "udp"}});
            FamilyBuilder::add(created, at(ws.worker, WorkerCounter::flows_icmp), {{"worker", id}, {"proto", "icmp"}});
            FamilyBuilder::add(created, at(ws.worker, WorkerCounter::flows_other), {{"worker", id}, {"proto", "other"}});
            FamilyBuilder::add(active, static_cast<double>(ws.flows_active), {{"worker", id}});
            FamilyBuilder::add(capacity, static_cast<double>(ws.flow_capacity), {{"worker", id}});
            FamilyBuilder::add(evicted, at(ws.flow, FlowCounter::evicted), {{"worker", id}});
            FamilyBuilder::add(segs, static_cast<double>(ws.stream_segments_in_use), {{"worker", id}});
            const uint64_t b_now = ws.worker[static_cast<size_t>(WorkerCounter::busy_cycles)];
            const uint64_t l_now = ws.worker[static_cast<size_t>(WorkerCounter::loop_cycles)];
            const double db = static_cast<double>(b_now - prev_busy_[w]);
            const double dl = static_cast<double>(l_now - prev_loop_[w]);
            FamilyBuilder::add(busy, dl > 0 ? std::min(1.0, db / dl) : 0.0, {{"worker", id}});
            prev_busy_[w] = b_now;
            prev_loop_[w] = l_now;
        }

        FamilyBuilder::add(b.family("sluice_mempool_in_use", "Packet buffers (mbufs) in use.", MetricType::Gauge),
                           static_cast<double>(s.mempool_in_use));
        FamilyBuilder::add(b.family("sluice_mempool_size", "Packet buffers (mbufs) in the pool.", MetricType::Gauge),
                           static_cast<double>(s.mempool_size));
        auto& eve = b.family("sluice_eve_events_total", "EVE events written, by type.", MetricType::Counter);
        for (size_t i = 0; i < s.total.eve_written.size(); ++i)
            FamilyBuilder::add(eve, static_cast<double>(s.total.eve_written[i]), {{"type", std::string(counter_name(static_cast<EveType>(i)))}});
        auto& lost = b.family("sluice_eve_lost_total", "EVE events lost, by reason.", MetricType::Counter);
        for (size_t i = 0; i < s.total.eve_lost.size(); ++i)
            FamilyBuilder::add(lost, static_cast<double>(s.total.eve_lost[i]), {{"reason", std::string(counter_name(static_cast<EveLoss>(i)))}});
        FamilyBuilder::add(b.family("sluice_eve_write_errors_total", "Events not written to the EVE file: failed writes, deferred events that could not be rendered.", MetricType::Counter),
                           static_cast<double>(s.eve_write_errors));
        for (const auto& ext : extensions_) ext(out);
        return out;
    }

    void add_extension(MetricsExtension ext) {
        std::lock_guard lock(mu_);
        extensions_.push_back(std::move(ext));
    }

private:
    template <typename E>
    static void per_reason(FamilyBuilder& b, const StatsSnapshot& s, const char* name, const char* help,
                           CounterArray<E> WorkerStats::*member, const char* label) {
        auto& f = b.family(name, help, MetricType::Counter);
        for (size_t w = 0; w < s.workers.size(); ++w) {
            const auto& arr = s.workers[w].*member;
            for (size_t i = 0; i < arr.size(); ++i)
                FamilyBuilder::add(f, static_cast<double>(arr[i]),
                                   {{"worker", std::to_string(w)}, {label, std::string(counter_name(static_cast<E>(i)))}});
        }
    }

    std::function<StatsSnapshot()> snapshot_;
    mutable std::mutex mu_;
    mutable std::vector<uint64_t> prev_busy_;
    mutable std::vector<uint64_t> prev_loop_;
    std::vector<MetricsExtension> extensions_;
};

void append_samples(const std::vector<MetricSample>& samples, std::vector<prometheus::MetricFamily>& out) {
    std::map<std::string, size_t> index;
    for (const auto& s : samples) {
        auto it = index.find(s.family);
        if (it == index.end()) {
            out.push_back(MetricFamily{s.family, s.help, s.counter ? MetricType::Counter : MetricType::Gauge, {}});
            it = index.emplace(s.family, out.size() - 1).first;
        }
        std::vector<ClientMetric::Label> labels;
        for (const auto& [k, v] : s.labels) labels.push_back({k, v});
        FamilyBuilder::add(out[it->second], s.value, std::move(labels));
    }
}

Result<std::unique_ptr<MetricsServer>> MetricsServer::start(const std::string& listen,
                                                            std::function<StatsSnapshot()> snapshot) {
    std::unique_ptr<MetricsServer> m(new MetricsServer());
    m->listen_ = listen;
    try {
        m->exposer_ = std::make_unique<prometheus::Exposer>(listen, 2);
    } catch (const std::exception& e) {
        return make_error(fmt::format("metrics.listen {}: cannot listen there ({}); is another sluice or service on that port? "
                                      "choose another with --metrics ADDR:PORT or --no-metrics",
                                      listen, e.what()));
    }
    m->collector_ = std::make_shared<Collector>(std::move(snapshot));
    m->exposer_->RegisterCollectable(m->collector_);
    return m;
}

MetricsServer::~MetricsServer() = default;

void MetricsServer::add_extension(MetricsExtension ext) { collector_->add_extension(std::move(ext)); }

std::vector<prometheus::MetricFamily> MetricsServer::collect() const { return collector_->Collect(); }

}  // namespace sluice
