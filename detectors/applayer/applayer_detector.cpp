#include "detectors/applayer/applayer_detector.hpp"

#include "app/config.hpp"

namespace sluice {

namespace {

const AppLayerDetector* as_app(const Detector* d) { return static_cast<const AppLayerDetector*>(d); }

template <typename E>
void add_counters(const CounterSet<E>& c, std::string_view proto, const std::string& worker, MetricSamples& out) {
    for (size_t i = 0; i < CounterSet<E>::size; ++i)
        out.push_back({"sluice_applayer_total", "HTTP/DNS/TLS parser events, by protocol and event.", true,
                       {{"worker", worker}, {"proto", std::string(proto)}, {"event", std::string(CounterSet<E>::name(i))}},
                       static_cast<double>(c.get(i))});
}

}  // namespace

AppLayerDetector::AppLayerDetector(const Config& config, const DetectionSnapshot&, WorkerServices& services, unsigned slot)
    : config_(config), services_(services), slot_(slot), ctx_(config.applayer) {}

AppLayerDetector::~AppLayerDetector() = default;

AppLayerFlow* AppLayerDetector::flow_parser(Flow& flow, bool create) {
    void*& slot = flow.detector_state[slot_];
    // One parser slot per flow, made when the flow first carries payload (per
    // flow, never per packet) and freed at its end.
    if (!slot && create) slot = new AppLayerFlow(ctx_, *this, flow.key.ip_proto);
    return static_cast<AppLayerFlow*>(slot);
}

void AppLayerDetector::note_protocol(Flow& flow, const AppLayerFlow& parser) {
    const AppProto p = parser.protocol();
    if (flow.app_proto == AppProto::unknown && p != AppProto::unknown && p != AppProto::failed) flow.app_proto = p;
}

void AppLayerDetector::on_flow_end(Flow& flow) {
    void*& slot = flow.detector_state[slot_];
    if (!slot) return;
    delete static_cast<AppLayerFlow*>(slot);
    slot = nullptr;
}

void AppLayerDetector::on_stream_data(StreamContext& ctx, Direction dir, uint64_t offset, std::span<const uint8_t> data) {
    AppLayerFlow* p = flow_parser(ctx.flow, true);
    if (p->state() != ParserState::active && p->protocol() != AppProto::unknown) return;
    if (p->protocol() == AppProto::unknown && ctx.flow.app_proto != AppProto::unknown) p->start(ctx.flow.app_proto);
    StreamContext* saved = current_;
    current_ = &ctx;
    p->on_data(dir, offset, data);
    current_ = saved;
    note_protocol(ctx.flow, *p);
}

void AppLayerDetector::on_stream_gap(StreamContext& ctx, Direction dir, uint64_t offset, uint64_t len) {
    AppLayerFlow* p = flow_parser(ctx.flow, false);
    if (!p) return;
    StreamContext* saved = current_;
    current_ = &ctx;
    p->on_gap(dir, offset, len);
    current_ = saved;
}

void AppLayerDetector::on_stream_end(Flow& flow) {
    AppLayerFlow* p = flow_parser(flow, false);
    if (!p) return;
    StreamContext ctx{flow, nullptr};
    StreamContext* saved = current_;
    current_ = &ctx;
    p->on_end();
    current_ = saved;
}

void AppLayerDetector::inspect(std::span<PacketRef* const> packets) {
    for (PacketRef* r : packets) {
        if (!r->flow || r->pkt.ip_proto != ipproto::udp || r->pkt.payload_len == 0) continue;
        AppLayerFlow* p = flow_parser(*r->flow, true);
        if (p->protocol() == AppProto::unknown && r->flow->app_proto != AppProto::unknown) p->start(r->flow->app_proto);
        StreamContext ctx{*r->flow, r};
        current_ = &ctx;
        p->on_datagram(r->dir, {r->data + r->pkt.payload_offset, r->pkt.payload_len});
        current_ = nullptr;
        note_protocol(*r->flow, *p);
    }
}

void AppLayerDetector::on_transaction(const AppTransaction& tx, AppTxStage stage) {
    if (!current_) return;
    AppTransaction staged = tx;
    staged.stage = stage;
    Flow& flow = current_->flow;
    if (flow.app_proto == AppProto::unknown) flow.app_proto = tx.proto;
    services_.publish(*current_, staged);

    // One EVE event per message, when it is complete: an HTTP exchange once its
    // response (or a request without one at the end), DNS and TLS messages as they come.
    EveType type;
    switch (tx.proto) {
        case AppProto::http:
            if (stage == AppTxStage::headers) return;
            if (tx.dir == Direction::to_server && stage != AppTxStage::whole) return;
            type = EveType::http;
            break;
        case AppProto::dns: type = EveType::dns; break;
        case AppProto::tls:
            // One event per session, with the server's side (its parser holds both).
            if (tx.dir != Direction::to_client) return;
            type = EveType::tls;
            break;
        default: return;
    }
    EveEmitter& eve = services_.eve();
    if (!eve.enabled(type) || !tx.write_eve) return;
    const uint64_t ts = current_->packet ? current_->packet->ts_ns : flow.last_ns;
    const EveEndpoints ep = flow_endpoints(flow);
    JsonWriter* w = eve.begin(type, ts, flow.flow_id, &ep, flow.app_proto);
    if (!w) return;
    w->kv("tx_id", tx.tx_id);
    tx.write_eve(*w, tx.eve_ctx);
    eve.end();
}

void AppLayerDetector::metrics(std::span<const Detector* const> instances, MetricSamples& out) {
    for (size_t wi = 0; wi < instances.size(); ++wi) {
        const AppLayerCounters& c = as_app(instances[wi])->context().counters;
        const std::string worker = std::to_string(wi);
        add_counters(c.http, "http", worker, out);
        add_counters(c.dns, "dns", worker, out);
        add_counters(c.tls, "tls", worker, out);
    }
}

void AppLayerDetector::write_stats(std::span<const Detector* const> instances, JsonWriter& w) {
    auto section = [&](std::string_view name, auto member) {
        using Set = std::remove_cvref_t<decltype(as_app(instances[0])->context().counters.*member)>;
        w.begin_object(name);
        for (size_t i = 0; i < Set::size; ++i) {
            uint64_t sum = 0;
            for (const Detector* d : instances) sum += (as_app(d)->context().counters.*member).get(i);
            if (sum) w.kv(Set::name(i), sum);
        }
        w.end_object();
    };
    w.begin_object("app_layer");
    section("http", &AppLayerCounters::http);
    section("dns", &AppLayerCounters::dns);
    section("tls", &AppLayerCounters::tls);
    w.end_object();
}

}  // namespace sluice
