#include "detectors/ot/ot_detector.hpp"

#include <algorithm>
#include <initializer_list>
#include <new>
#include <string>
#include <type_traits>
#include <utility>

#include "app/config.hpp"
#include "dataplane/json_writer.hpp"

namespace sluice {

namespace {

// The state of a flow whose decoder found it is not its protocol: nothing more
// is done for it (an address that is never dereferenced).
char g_rejected_marker;
void* rejected_marker() { return &g_rejected_marker; }

// The state of a TCP flow whose stream is over while the flow is still in the
// table (both FINs seen and every byte before them delivered): its decoder went
// back to the free list early (finish_stream).
char g_finished_marker;
void* finished_marker() { return &g_finished_marker; }

bool is_marker(const void* s) { return s == rejected_marker() || s == finished_marker(); }

// Decoders of ended flows kept for reuse, at most this many per worker.
constexpr size_t kMaxFreeDecoders = 256;

const OtDetector* as_ot(const Detector* d) { return static_cast<const OtDetector*>(d); }

size_t idx(OtProto p) { return static_cast<size_t>(p); }

// Calls f(decoder) with the flow's decoder as its own type. Only for objects
// in a flow's slot, whose decoder is always there (the free list's are empty):
// not testing the optional spares the read of its flag, which sits after the
// whole decoder, on a cache line a PDU would not touch otherwise.
template <class F>
void visit_decoder(OtFlow& o, F&& f) {
    auto call = [&](auto* flow) { f(*flow->decoder); };
    switch (o.proto) {
        case OtProto::modbus: call(static_cast<OtFlowOf<ModbusDecoder>*>(&o)); break;
        case OtProto::s7comm: call(static_cast<OtFlowOf<S7commDecoder>*>(&o)); break;
        case OtProto::dnp3: call(static_cast<OtFlowOf<Dnp3Decoder>*>(&o)); break;
        case OtProto::iec104: call(static_cast<OtFlowOf<Iec104Decoder>*>(&o)); break;
        case OtProto::enip: call(static_cast<OtFlowOf<EnipDecoder>*>(&o)); break;
        case OtProto::count: break;
    }
}

// The flow's decoder when it is a D, else null.
template <class D>
D* decoder_as(OtFlow& o, OtProto p) {
    if (o.proto != p) return nullptr;
    return &*static_cast<OtFlowOf<D>*>(&o)->decoder;
}

// A flow object for decoder D: one of the free list, else a new one.
template <class D, class... Args>
std::unique_ptr<OtFlow> make_flow(std::vector<std::unique_ptr<OtFlow>>& free, size_t& free_count, Args&&... args) {
    std::unique_ptr<OtFlow> o;
    if (!free.empty()) {
        o = std::move(free.back());
        free.pop_back();
        --free_count;
    } else {
        o.reset(new (std::nothrow) OtFlowOf<D>);
        if (!o) return nullptr;
    }
    static_cast<OtFlowOf<D>*>(o.get())->decoder.emplace(std::forward<Args>(args)...);
    return o;
}

EveType eve_type_of(AppProto p) {
    switch (p) {
        case AppProto::modbus: return EveType::modbus;
        case AppProto::dnp3: return EveType::dnp3;
        case AppProto::enip: return EveType::enip;
        case AppProto::s7comm: return EveType::s7comm;
        case AppProto::iec104: return EveType::iec104;
        default: return EveType::count;
    }
}

bool port_choice(uint16_t port, uint8_t ip_proto, OtChoice& c) {
    const bool tcp = ip_proto == ipproto::tcp, udp = ip_proto == ipproto::udp;
    switch (port) {
        case 502:
            if (!tcp && !udp) return false;
            c.proto = OtProto::modbus;
            return true;
        case 102:
            if (!tcp) return false;
            c.proto = OtProto::s7comm;
            return true;
        case 20000:
            if (!tcp && !udp) return false;
            c.proto = OtProto::dnp3;
            return true;
        case 2404:
            if (!tcp) return false;
            c.proto = OtProto::iec104;
            return true;
        case 44818:
            if (!tcp && !udp) return false;
            c.proto = OtProto::enip;
            return true;
        case 2222:
            if (!udp) return false;
            c.proto = OtProto::enip;
            c.io = true;
            return true;
        default:
            return false;
    }
}

// The decoder counters that count traffic (sluice_ot_pdus_total); every other
// counter of a decoder is an anomaly by reason (sluice_ot_malformed_total).
template <typename E>
bool is_traffic(E e, std::initializer_list<E> traffic) {
    return std::find(traffic.begin(), traffic.end(), e) != traffic.end();
}
bool is_traffic(ModbusCounter c) {
    return is_traffic(c, {ModbusCounter::requests, ModbusCounter::responses, ModbusCounter::exception_responses,
                          ModbusCounter::datagrams});
}
bool is_traffic(S7commCounter c) {
    return is_traffic(c, {S7commCounter::pdus, S7commCounter::s7comm_plus_pdus, S7commCounter::cotp_connects,
                          S7commCounter::cotp_other});
}
bool is_traffic(Dnp3Counter c) {
    return is_traffic(c, {Dnp3Counter::link_frames, Dnp3Counter::link_only_frames, Dnp3Counter::requests,
                          Dnp3Counter::confirms, Dnp3Counter::responses, Dnp3Counter::unsolicited_responses,
                          Dnp3Counter::datagrams});
}
bool is_traffic(Iec104Counter c) {
    return is_traffic(c, {Iec104Counter::i_frames, Iec104Counter::s_frames, Iec104Counter::u_frames});
}
bool is_traffic(EnipCounter c) {
    return is_traffic(c, {EnipCounter::pdus, EnipCounter::cip_requests, EnipCounter::cip_responses,
                          EnipCounter::datagrams, EnipCounter::io_datagrams});
}

template <typename E>
void decoder_samples(const CounterSet<E>& c, OtProto p, const std::string& worker, MetricSamples& out) {
    for (size_t i = 0; i < CounterSet<E>::size; ++i) {
        const bool traffic = is_traffic(static_cast<E>(i));
        out.push_back({traffic ? "sluice_ot_pdus_total" : "sluice_ot_malformed_total",
                       traffic ? "OT protocol messages decoded, by protocol and kind."
                               : "OT protocol anomalies (malformed or lost input, flows not of the protocol), by protocol and reason.",
                       true,
                       {{"worker", worker}, {"proto", std::string(to_string(p))},
                        {traffic ? "kind" : "reason", std::string(CounterSet<E>::name(i))}},
                       static_cast<double>(c.get(i))});
    }
}

template <typename E>
void decoder_stats(std::span<const Detector* const> instances, const CounterSet<E>& (*get)(const OtDetector&),
                   JsonWriter& w) {
    w.begin_object("decoder");
    for (size_t i = 0; i < CounterSet<E>::size; ++i) {
        uint64_t sum = 0;
        for (const Detector* d : instances) sum += get(*as_ot(d)).get(i);
        if (sum) w.kv(CounterSet<E>::name(i), sum);
    }
    w.end_object();
}

}  // namespace

std::string_view to_string(OtProto p) {
    static constexpr std::string_view names[] = {"modbus", "s7comm", "dnp3", "iec104", "enip"};
    return p < OtProto::count ? names[idx(p)] : "unknown";
}

AppProto app_proto_of(OtProto p) {
    switch (p) {
        case OtProto::modbus: return AppProto::modbus;
        case OtProto::s7comm: return AppProto::s7comm;
        case OtProto::dnp3: return AppProto::dnp3;
        case OtProto::iec104: return AppProto::iec104;
        case OtProto::enip: return AppProto::enip;
        default: return AppProto::unknown;
    }
}

OtChoice choose_ot_protocol(const Flow& flow) {
    OtChoice c;
    const uint8_t ipp = flow.key.ip_proto;
    if (port_choice(flow.server_port(), ipp, c)) {
        c.found = true;
        return c;
    }
    if (port_choice(flow.client_port(), ipp, c)) {
        c.found = true;
        c.reversed = true;
        return c;
    }
    if (ipp != ipproto::tcp && ipp != ipproto::udp) return c;
    switch (flow.app_proto) {
        case AppProto::modbus: c.proto = OtProto::modbus; break;
        case AppProto::dnp3: c.proto = OtProto::dnp3; break;
        case AppProto::enip: c.proto = OtProto::enip; break;
        case AppProto::s7comm:
            if (ipp != ipproto::tcp) return c;
            c.proto = OtProto::s7comm;
            break;
        case AppProto::iec104:
            if (ipp != ipproto::tcp) return c;
            c.proto = OtProto::iec104;
            break;
        default: return c;
    }
    c.found = true;
    return c;
}

bool ot_record_logged(const AppRecord& record) {
    if (!record.data) return false;
    switch (record.proto) {
        case AppProto::modbus:
            // One event per transaction: the response carries its request;
            // a request never answered is logged alone at the end of the flow.
            return !record.op.is_request || static_cast<const ModbusRecord*>(record.data)->unanswered;
        case AppProto::s7comm:
            return static_cast<const S7commRecord*>(record.data)->item_index <= 0;
        case AppProto::enip:
            return static_cast<const EnipRecord*>(record.data)->first_of_pdu;
        case AppProto::dnp3:
        case AppProto::iec104:
            return true;
        default:
            return false;
    }
}

OtDetector::OtDetector(const Config& config, const DetectionSnapshot&, WorkerServices& services, unsigned slot)
    : OtDetector(config.ot, services, slot) {}

OtDetector::OtDetector(const OtConfig& config, WorkerServices& services, unsigned slot)
    : services_(services), eve_(services.eve()), slot_(slot) {
    modbus_.config.max_pending_transactions = config.modbus_max_pending_transactions;
    dnp3_.config.max_fragment_size = config.dnp3_max_fragment_size;
    s7comm_.config.max_pdu_size = config.s7comm_max_pdu_size;
    for (auto& f : free_) f.reserve(kMaxFreeDecoders);
    static_assert(static_cast<size_t>(AppProto::count) <= 64);
    for (AppProto p : {AppProto::modbus, AppProto::dnp3, AppProto::enip, AppProto::s7comm, AppProto::iec104})
        if (eve_.enabled(eve_type_of(p))) eve_protos_ |= uint64_t{1} << static_cast<unsigned>(p);
}

OtDetector::~OtDetector() = default;

const OtFlow* OtDetector::flow_decoder(const Flow& flow) const {
    void* s = flow.detector_state[slot_];
    if (!s || is_marker(s)) return nullptr;
    return static_cast<const OtFlow*>(s);
}

OtFlow* OtDetector::decoder_for(Flow& flow) {
    void*& slot = flow.detector_state[slot_];
    if (is_marker(slot)) return nullptr;
    if (slot) return static_cast<OtFlow*>(slot);
    const OtChoice c = choose_ot_protocol(flow);
    if (!c.found) return nullptr;
    const Direction requests = c.reversed ? Direction::to_client : Direction::to_server;
    auto& free = free_[idx(c.proto)];
    std::unique_ptr<OtFlow> o;
    switch (c.proto) {
        case OtProto::modbus: o = make_flow<ModbusDecoder>(free, free_count_, modbus_, requests); break;
        case OtProto::s7comm: o = make_flow<S7commDecoder>(free, free_count_, s7comm_); break;
        case OtProto::dnp3: o = make_flow<Dnp3Decoder>(free, free_count_, dnp3_); break;
        case OtProto::iec104: o = make_flow<Iec104Decoder>(free, free_count_, iec104_); break;
        case OtProto::enip: o = make_flow<EnipDecoder>(free, free_count_, enip_, requests); break;
        default: return nullptr;
    }
    if (!o) return nullptr;
    o->proto = c.proto;
    o->io = c.io;
    o->announced = false;
    flow_counters_[idx(c.proto)].inc(OtFlowCounter::flows);
    slot = o.release();
    return static_cast<OtFlow*>(slot);
}

void OtDetector::release(Flow& flow) {
    void*& slot = flow.detector_state[slot_];
    if (slot && !is_marker(slot)) {
        std::unique_ptr<OtFlow> o(static_cast<OtFlow*>(slot));
        visit_decoder(*o, [&](auto& d) {
            using D = std::decay_t<decltype(d)>;
            static_cast<OtFlowOf<D>*>(o.get())->decoder.reset();
        });
        if (free_count_ < kMaxFreeDecoders) {
            free_[idx(o->proto)].push_back(std::move(o));
            ++free_count_;
        }
    }
    slot = nullptr;
}

void OtDetector::after_feed(Flow& flow, OtFlow& o) {
    bool rejected = false;
    visit_decoder(o, [&](const auto& d) { rejected = d.rejected(); });
    if (rejected) reject(flow, o);
}

void OtDetector::reject(Flow& flow, OtFlow& o) {
    flow_counters_[idx(o.proto)].inc(OtFlowCounter::rejected);
    release(flow);
    flow.detector_state[slot_] = rejected_marker();
}

void OtDetector::on_stream_data(StreamContext& ctx, Direction dir, uint64_t, std::span<const uint8_t> data) {
    // The flow's decoder in place when it has one (every chunk but the first).
    void* s = ctx.flow.detector_state[slot_];
    OtFlow* o = s && !is_marker(s) ? static_cast<OtFlow*>(s) : decoder_for(ctx.flow);
    if (!o || o->io) return;
    current_ = &ctx;
    current_flow_ = o;
    bool rejected = false;
    visit_decoder(*o, [&](auto& d) {
        d.on_data(dir, data, sink_);
        rejected = d.rejected();
    });
    current_ = nullptr;
    current_flow_ = nullptr;
    if (rejected) reject(ctx.flow, *o);
}

void OtDetector::on_stream_gap(StreamContext& ctx, Direction dir, uint64_t, uint64_t len) {
    void* s = ctx.flow.detector_state[slot_];
    if (!s || is_marker(s)) return;
    OtFlow* o = static_cast<OtFlow*>(s);
    visit_decoder(*o, [&](auto& d) { d.on_gap(dir, len); });
}

void OtDetector::finish_stream(Flow& flow) {
    void* s = flow.detector_state[slot_];
    if (!s || is_marker(s) || !flow.stream.complete()) return;
    OtFlow* o = static_cast<OtFlow*>(s);
    // Requests still unanswered are logged at the flow's end, as before: keep
    // the decoder that holds them.
    if (auto* m = decoder_as<ModbusDecoder>(*o, OtProto::modbus); m && m->pending_requests() != 0) return;
    const OtProto proto = o->proto;  // release() may delete o (free list full)
    release(flow);
    flow.detector_state[slot_] = finished_marker();
    flow_counters_[idx(proto)].inc(OtFlowCounter::finished_early);
}

void OtDetector::classify(std::span<PacketRef* const> packets) {
    // Stream data of this burst is delivered after every detector classified
    // it: fetching the decoders' first lines (object header, framing and
    // pairing state) now overlaps their cache misses instead of taking them
    // one after another.
    for (const PacketRef* r : packets) {
        if (!r->flow || r->pkt.payload_len == 0) continue;
        const void* s = r->flow->detector_state[slot_];
        if (!s || is_marker(s)) continue;
        __builtin_prefetch(s, 1);  // one line: OtFlowOf is 64-byte aligned
    }
}

void OtDetector::inspect(std::span<PacketRef* const> packets) {
    for (PacketRef* r : packets) {
        if (!r->flow) continue;
        if (r->pkt.ip_proto == ipproto::tcp) {
            // A decoder whose stream is over goes back to the free list now,
            // not when the closed flow times out of the table: the next flow
            // reuses it while it is still in the cache, and the heap stops
            // growing with the closed flows the table keeps.
            if (r->pkt.tcp_flags & tcpflag::fin) finish_stream(*r->flow);
            continue;
        }
        if (r->pkt.ip_proto != ipproto::udp || r->pkt.payload_len == 0) continue;
        if (static_cast<uint64_t>(r->pkt.payload_offset) + r->pkt.payload_len > r->len) continue;
        OtFlow* o = decoder_for(*r->flow);
        if (!o) continue;
        const std::span<const uint8_t> data(r->data + r->pkt.payload_offset, r->pkt.payload_len);
        StreamContext ctx{*r->flow, r};
        current_ = &ctx;
        current_flow_ = o;
        if (auto* m = decoder_as<ModbusDecoder>(*o, OtProto::modbus)) m->on_datagram(r->dir, data, sink_);
        else if (auto* d = decoder_as<Dnp3Decoder>(*o, OtProto::dnp3)) d->on_datagram(r->dir, data, sink_);
        else if (auto* e = decoder_as<EnipDecoder>(*o, OtProto::enip)) {
            if (o->io) e->on_io_datagram(r->dir, data);
            else e->on_datagram(r->dir, data, sink_);
        }
        current_ = nullptr;
        current_flow_ = nullptr;
        after_feed(*r->flow, *o);
    }
}

namespace {

// Logs records found at the end of a flow (Modbus requests never answered):
// EVE only, since rules and the OT policy saw each request when it came.
class EndOfFlowLog final : public AppRecordSink {
public:
    EndOfFlowLog(OtDetector& d, Flow& f, OtFlow& o) : d_(d), f_(f), o_(o) {}
    void on_record(const AppRecord& record) override { d_.log_eve(f_, o_, record, f_.last_ns); }

private:
    OtDetector& d_;
    Flow& f_;
    OtFlow& o_;
};

}  // namespace

void OtDetector::on_flow_end(Flow& flow) {
    void* s = flow.detector_state[slot_];
    if (s && !is_marker(s)) {
        OtFlow* o = static_cast<OtFlow*>(s);
        if (auto* m = decoder_as<ModbusDecoder>(*o, OtProto::modbus)) {
            EndOfFlowLog log(*this, flow, *o);
            m->flush_unanswered(log);
        }
    }
    release(flow);
}

void OtDetector::on_decoded(const AppRecord& record) {
    if (!current_ || !current_flow_) return;
    StreamContext& ctx = *current_;
    Flow& f = ctx.flow;
    OtFlow& o = *current_flow_;
    auto& fc = flow_counters_[idx(o.proto)];
    if (!o.announced) {
        o.announced = true;
        fc.inc(OtFlowCounter::decoded);
        // The decoder proved the protocol: it names the flow unless something
        // named it first (nDPI's `other` is only "not one of Sluice's").
        if (f.app_proto == AppProto::unknown || f.app_proto == AppProto::other) f.app_proto = record.proto;
    }
    fc.inc(OtFlowCounter::records);
    if (record.op.is_request) fc.inc(OtFlowCounter::requests);
    if (record.op.is_exception) fc.inc(OtFlowCounter::exceptions);
    if (record.op.access < OtAccess::count) by_access_[idx(o.proto)][static_cast<size_t>(record.op.access)].add(1);

    services_.publish(ctx, record);
    log_eve(f, o, record, ctx.packet ? ctx.packet->ts_ns : f.last_ns);
}

void OtDetector::write_eve(Flow& f, OtFlow& o, const AppRecord& record, uint64_t ts) {
    if (!record.write_eve || !ot_record_logged(record)) return;
    auto& fc = flow_counters_[idx(o.proto)];
    const EveEndpoints ep = flow_endpoints(f);
    JsonWriter* w = eve_.begin(eve_type_of(record.proto), ts, f.flow_id, &ep, f.app_proto);
    if (!w) return;
    record.write_eve(*w, record.data);
    if (eve_.end()) fc.inc(OtFlowCounter::eve_events);
}

void OtDetector::metrics(std::span<const Detector* const> instances, MetricSamples& out) {
    for (size_t wi = 0; wi < instances.size(); ++wi) {
        const OtDetector& d = *as_ot(instances[wi]);
        const std::string worker = std::to_string(wi);
        decoder_samples(d.modbus_.counters, OtProto::modbus, worker, out);
        decoder_samples(d.s7comm_.counters, OtProto::s7comm, worker, out);
        decoder_samples(d.dnp3_.counters, OtProto::dnp3, worker, out);
        decoder_samples(d.iec104_.counters, OtProto::iec104, worker, out);
        decoder_samples(d.enip_.counters, OtProto::enip, worker, out);
        for (size_t p = 0; p < kOtProtos; ++p) {
            const std::string proto(to_string(static_cast<OtProto>(p)));
            const auto& fc = d.flow_counters_[p];
            for (OtFlowCounter c : {OtFlowCounter::flows, OtFlowCounter::decoded, OtFlowCounter::rejected})
                out.push_back({"sluice_ot_flows_total", "Flows given to an OT decoder, by protocol and outcome.", true,
                               {{"worker", worker}, {"proto", proto}, {"result", std::string(counter_name(c))}},
                               static_cast<double>(fc.get(c))});
            for (size_t a = 0; a < static_cast<size_t>(OtAccess::count); ++a)
                out.push_back({"sluice_ot_records_total", "OT operations decoded (requests and responses), by protocol and access class.",
                               true, {{"worker", worker}, {"proto", proto}, {"access", std::string(to_string(static_cast<OtAccess>(a)))}},
                               static_cast<double>(d.by_access_[p][a].get())});
        }
    }
}

void OtDetector::write_stats(std::span<const Detector* const> instances, JsonWriter& w) {
    w.begin_object("ot");
    for (size_t p = 0; p < kOtProtos; ++p) {
        const OtProto proto = static_cast<OtProto>(p);
        w.begin_object(to_string(proto));
        for (size_t i = 0; i < CounterSet<OtFlowCounter>::size; ++i) {
            uint64_t sum = 0;
            for (const Detector* d : instances) sum += as_ot(d)->flow_counters_[p].get(i);
            w.kv(CounterSet<OtFlowCounter>::name(i), sum);
        }
        switch (proto) {
            case OtProto::modbus:
                decoder_stats<ModbusCounter>(instances, [](const OtDetector& d) -> const CounterSet<ModbusCounter>& { return d.modbus_.counters; }, w);
                break;
            case OtProto::s7comm:
                decoder_stats<S7commCounter>(instances, [](const OtDetector& d) -> const CounterSet<S7commCounter>& { return d.s7comm_.counters; }, w);
                break;
            case OtProto::dnp3:
                decoder_stats<Dnp3Counter>(instances, [](const OtDetector& d) -> const CounterSet<Dnp3Counter>& { return d.dnp3_.counters; }, w);
                break;
            case OtProto::iec104:
                decoder_stats<Iec104Counter>(instances, [](const OtDetector& d) -> const CounterSet<Iec104Counter>& { return d.iec104_.counters; }, w);
                break;
            default:
                decoder_stats<EnipCounter>(instances, [](const OtDetector& d) -> const CounterSet<EnipCounter>& { return d.enip_.counters; }, w);
                break;
        }
        w.end_object();
    }
    w.end_object();
}

}  // namespace sluice
