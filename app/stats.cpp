#include "app/stats.hpp"

namespace sluice {

namespace {

template <typename E>
void copy(CounterArray<E>& out, const CounterSet<E>& in) {
    for (size_t i = 0; i < out.size(); ++i) out[i] = in.get(i);
}
template <typename E>
void add_to(CounterArray<E>& out, const CounterArray<E>& in) {
    for (size_t i = 0; i < out.size(); ++i) out[i] += in[i];
}
template <typename E>
uint64_t at(const CounterArray<E>& a, E e) {
    return a[static_cast<size_t>(e)];
}
template <typename E>
void write_map(JsonWriter& w, std::string_view key, const CounterArray<E>& a, bool skip_zero = true) {
    w.begin_object(key);
    for (size_t i = 0; i < a.size(); ++i)
        if (!skip_zero || a[i]) w.kv(counter_name(static_cast<E>(i)), a[i]);
    w.end_object();
}

}  // namespace

void WorkerStats::add(const WorkerStats& o) {
    add_to(worker, o.worker);
    add_to(drops, o.drops);
    add_to(would_drops, o.would_drops);
    add_to(malformed, o.malformed);
    add_to(flow, o.flow);
    add_to(stream, o.stream);
    add_to(defrag, o.defrag);
    add_to(eve_written, o.eve_written);
    add_to(eve_lost, o.eve_lost);
    flows_active += o.flows_active;
    flow_capacity += o.flow_capacity;
    stream_segments_in_use += o.stream_segments_in_use;
    if (o.clock_ns > clock_ns) clock_ns = o.clock_ns;
}

WorkerStats read_worker(const Worker& w) {
    WorkerStats s;
    copy(s.worker, w.counters());
    copy(s.drops, w.drops());
    copy(s.would_drops, w.would_drops());
    copy(s.malformed, w.malformed());
    copy(s.flow, w.flows().counters());
    copy(s.stream, w.reassembler().counters());
    copy(s.defrag, w.defrag().counters());
    copy(s.eve_written, w.eve_emitter().written());
    copy(s.eve_lost, w.eve_emitter().lost());
    s.flows_active = w.flows().active();
    s.flow_capacity = w.flows().capacity();
    s.stream_segments_in_use = w.reassembler().pool().in_use();
    s.clock_ns = w.clock_ns();
    return s;
}

void write_stats_object(JsonWriter& w, const StatsSnapshot& s, const std::function<void(JsonWriter&)>& extra) {
    const WorkerStats& t = s.total;
    w.begin_object("stats");
    w.kv("uptime", static_cast<uint64_t>(s.uptime_s));
    w.kv("workers", static_cast<uint64_t>(s.workers.size()));
    uint64_t missed = 0, nombuf = 0;
    for (const auto& p : s.ports) {
        missed += p.rx_missed;
        nombuf += p.rx_nombuf;
    }
    w.begin_object("capture")
        .kv("kernel_packets", at(t.worker, WorkerCounter::rx_packets))
        .kv("kernel_drops", missed)
        .kv("rx_nombuf", nombuf)
        .end_object();
    uint64_t invalid = 0;
    for (auto v : t.malformed) invalid += v;
    w.begin_object("decoder")
        .kv("pkts", at(t.worker, WorkerCounter::rx_packets))
        .kv("bytes", at(t.worker, WorkerCounter::rx_bytes))
        .kv("invalid", invalid)
        .kv("non_ip", at(t.worker, WorkerCounter::non_ip))
        .kv("fragments", at(t.worker, WorkerCounter::fragments));
    write_map(w, "malformed", t.malformed);
    write_map(w, "defrag", t.defrag);
    w.end_object();
    w.begin_object("flow")
        .kv("tcp", at(t.worker, WorkerCounter::flows_tcp))
        .kv("udp", at(t.worker, WorkerCounter::flows_udp))
        .kv("icmp", at(t.worker, WorkerCounter::flows_icmp))
        .kv("other", at(t.worker, WorkerCounter::flows_other))
        .kv("total", at(t.flow, FlowCounter::created))
        .kv("active", t.flows_active)
        .kv("capacity", t.flow_capacity)
        .kv("evicted", at(t.flow, FlowCounter::evicted))
        .kv("no_slot", at(t.worker, WorkerCounter::no_flow));
    w.begin_object("ended")
        .kv("timeout", at(t.flow, FlowCounter::timeout))
        .kv("evicted", at(t.flow, FlowCounter::evicted))
        .kv("reused", at(t.flow, FlowCounter::reused))
        .kv("shutdown", at(t.flow, FlowCounter::shutdown))
        .end_object();
    w.end_object();
    w.begin_object("tcp");
    for (size_t i = 0; i < t.stream.size(); ++i) w.kv(counter_name(static_cast<StreamCounter>(i)), t.stream[i]);
    w.kv("segments_in_use", t.stream_segments_in_use);
    w.end_object();
    w.begin_object("verdict")
        .kv("forwarded", at(t.worker, WorkerCounter::forwarded))
        .kv("dropped", at(t.worker, WorkerCounter::dropped))
        .kv("would_drop", at(t.worker, WorkerCounter::would_drop))
        .kv("rejects_sent", at(t.worker, WorkerCounter::rejects_sent))
        .kv("bypassed", at(t.worker, WorkerCounter::bypassed));
    write_map(w, "drop_reasons", t.drops);
    write_map(w, "would_drop_reasons", t.would_drops);
    w.end_object();
    w.begin_object("eve");
    write_map(w, "written", t.eve_written);
    write_map(w, "lost", t.eve_lost, false);
    w.kv("write_errors", s.eve_write_errors);
    w.end_object();
    w.begin_object("mempool").kv("in_use", s.mempool_in_use).kv("size", s.mempool_size).end_object();
    if (extra) extra(w);
    w.end_object();
}

}  // namespace sluice
