#include "detectors/signature/signature_detector.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>

#include "app/config.hpp"
#include "detectors/snapshot.hpp"

namespace sluice {

namespace {

MatcherConfig matcher_config(const Config& c) {
    MatcherConfig m;
    m.stream_window_bytes = c.detect.stream_window_bytes;
    m.threshold_table_entries = c.detect.threshold_table_entries;
    m.max_alerts_per_inspection = c.detect.max_alerts_per_inspection;
    return m;
}

// RFC 4648 base64 of a payload excerpt, into `out`.
void base64(std::span<const uint8_t> in, std::string& out) {
    static constexpr char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    out.clear();
    size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        const uint32_t v = (uint32_t{in[i]} << 16) | (uint32_t{in[i + 1]} << 8) | in[i + 2];
        out += {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], t[v & 63]};
    }
    if (i + 1 == in.size()) {
        const uint32_t v = uint32_t{in[i]} << 16;
        out += {t[v >> 18], t[(v >> 12) & 63], '=', '='};
    } else if (i + 2 == in.size()) {
        const uint32_t v = (uint32_t{in[i]} << 16) | (uint32_t{in[i + 1]} << 8);
        out += {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], '='};
    }
}

// "key value, key value" (a rule's metadata) as Suricata's {"key": ["value"]}.
void write_metadata(JsonWriter& w, std::string_view raw) {
    std::map<std::string_view, std::vector<std::string_view>> m;
    size_t pos = 0;
    auto trim = [](std::string_view s) {
        while (!s.empty() && (s.front() == ' ' || s.front() == ';')) s.remove_prefix(1);
        while (!s.empty() && (s.back() == ' ' || s.back() == ';')) s.remove_suffix(1);
        return s;
    };
    while (pos <= raw.size()) {
        size_t end = raw.find_first_of(",;", pos);
        if (end == std::string_view::npos) end = raw.size();
        const std::string_view item = trim(raw.substr(pos, end - pos));
        if (!item.empty()) {
            const size_t sp = item.find(' ');
            if (sp == std::string_view::npos) m[item];
            else m[item.substr(0, sp)].push_back(trim(item.substr(sp + 1)));
        }
        pos = end + 1;
    }
    if (m.empty()) return;
    w.begin_object("metadata");
    for (const auto& [k, vs] : m) {
        w.begin_array(k);
        for (auto v : vs) w.value(v);
        w.end_array();
    }
    w.end_object();
}

const SignatureDetector* as_sig(const Detector* d) { return static_cast<const SignatureDetector*>(d); }

}  // namespace

SignatureDetector::SignatureDetector(const Config& config, const DetectionSnapshot& snapshot, WorkerServices& services,
                                     unsigned slot)
    : config_(config), services_(services), slot_(slot) {
    if (snapshot.rules) {
        auto m = SignatureMatcher::create(snapshot.rules, matcher_config(config));
        if (m) matcher_ = std::move(*m);
        else spdlog::error("worker {}: signature matcher: {}", services.worker_id(), m.message());
    }
}

SignatureDetector::~SignatureDetector() = default;

void SignatureDetector::on_snapshot(const DetectionSnapshot& snapshot) {
    if (!snapshot.rules) return;
    if (matcher_ && matcher_->rules() == snapshot.rules) return;
    if (!matcher_) {
        auto m = SignatureMatcher::create(snapshot.rules, matcher_config(config_));
        if (m) matcher_ = std::move(*m);
        else spdlog::error("worker {}: signature matcher: {}", services_.worker_id(), m.message());
        return;
    }
    if (auto s = matcher_->use_rules(snapshot.rules); !s)
        spdlog::error("worker {}: new rule set not taken, the old one stays: {}", services_.worker_id(), s.message());
}

SigFlowState& SignatureDetector::state(Flow& flow) {
    void*& slot = flow.detector_state[slot_];
    if (!slot) {
        slot = reuse_or_make(pool_).release();
    }
    return *static_cast<SigFlowState*>(slot);
}

void SignatureDetector::on_flow_end(Flow& flow) {
    void*& slot = flow.detector_state[slot_];
    if (!slot) return;
    std::unique_ptr<SigFlowState> s(static_cast<SigFlowState*>(slot));
    slot = nullptr;
    if (matcher_) matcher_->end_flow(*s);
    *s = SigFlowState();  // back to empty, keeps nothing of the old flow
    pool_.push_back(std::move(s));
}

FlowFacts SignatureDetector::facts(const Flow& flow, const PacketRef* packet) const {
    FlowFacts f;
    f.client = flow.client_addr();
    f.server = flow.server_addr();
    f.client_port = flow.client_port();
    f.server_port = flow.server_port();
    f.ip_proto = flow.key.ip_proto;
    // As of the packet being inspected (the flow itself may be further on in
    // this burst); data flushed at flow end counts as established traffic.
    f.established = packet ? packet->established : true;
    f.app_proto = flow.app_proto;
    return f;
}

void SignatureDetector::apply(SigVerdict v, StreamContext& ctx) {
    switch (v) {
        case SigVerdict::drop: services_.raise(ctx, Verdict::drop_flow, DropReason::rule); break;
        case SigVerdict::reject: services_.raise(ctx, Verdict::reject, DropReason::rule); break;
        case SigVerdict::pass: services_.stop_inspection(ctx.flow); break;
        default: break;
    }
}

void SignatureDetector::apply(SigVerdict v, PacketRef& p) {
    switch (v) {
        case SigVerdict::drop: services_.raise(p, p.flow ? Verdict::drop_flow : Verdict::drop_packet, DropReason::rule); break;
        case SigVerdict::reject: services_.raise(p, Verdict::reject, DropReason::rule); break;
        case SigVerdict::pass:
            if (p.flow) services_.stop_inspection(*p.flow);
            break;
        default: break;
    }
}

void SignatureDetector::on_stream_data(StreamContext& ctx, Direction dir, uint64_t offset, std::span<const uint8_t> data) {
    if (!matcher_) return;
    alert_flow_ = &ctx.flow;
    alert_packet_ = ctx.packet;
    const uint64_t ts = ctx.packet ? ctx.packet->ts_ns : ctx.flow.last_ns;
    apply(matcher_->inspect_stream(facts(ctx.flow, ctx.packet), state(ctx.flow), dir, offset, data, ts, *this), ctx);
    alert_flow_ = nullptr;
    alert_packet_ = nullptr;
}

void SignatureDetector::on_stream_gap(StreamContext& ctx, Direction dir, uint64_t offset, uint64_t len) {
    if (matcher_) matcher_->stream_gap(state(ctx.flow), dir, offset, len);
}

void SignatureDetector::inspect(std::span<PacketRef* const> packets) {
    if (!matcher_) return;
    for (PacketRef* p : packets) {
        const DecodedPacket& d = p->pkt;
        PacketFacts f;
        f.src = d.src;
        f.dst = d.dst;
        f.src_port = d.src_port;
        f.dst_port = d.dst_port;
        f.ip_proto = d.ip_proto;
        f.ipv6 = d.ip_version == 6;
        f.flow_known = p->flow != nullptr;
        f.dir = p->dir;
        if (p->flow) {
            f.established = p->established;
            f.app_proto = p->flow->app_proto;
        }
        f.payload = {p->data + d.payload_offset, d.payload_len};
        f.tcp_flags = d.tcp_flags;
        f.seq = d.tcp_seq;
        f.ack = d.tcp_ack;
        f.window = d.tcp_window;
        f.ttl = d.ttl;
        f.ip_id = d.ip_id;
        f.icmp_type = d.icmp_type;
        f.icmp_code = d.icmp_code;
        f.icmp_id = d.icmp_id;
        f.icmp_seq = d.icmp_seq;
        f.ts_ns = p->ts_ns;
        alert_flow_ = p->flow;
        alert_packet_ = p;
        apply(matcher_->inspect_packet(f, p->flow ? &state(*p->flow) : nullptr, *this), *p);
    }
    alert_flow_ = nullptr;
    alert_packet_ = nullptr;
}

void SignatureDetector::on_transaction(StreamContext& ctx, const AppTransaction& tx) {
    if (!matcher_) return;
    alert_flow_ = &ctx.flow;
    alert_packet_ = ctx.packet;
    const uint64_t ts = ctx.packet ? ctx.packet->ts_ns : ctx.flow.last_ns;
    apply(matcher_->inspect_transaction(facts(ctx.flow, ctx.packet), state(ctx.flow), tx, ts, *this), ctx);
    alert_flow_ = nullptr;
    alert_packet_ = nullptr;
}

void SignatureDetector::on_record(StreamContext& ctx, const AppRecord& record) {
    if (!matcher_) return;
    alert_flow_ = &ctx.flow;
    alert_packet_ = ctx.packet;
    const uint64_t ts = ctx.packet ? ctx.packet->ts_ns : ctx.flow.last_ns;
    apply(matcher_->inspect_record(facts(ctx.flow, ctx.packet), state(ctx.flow), record, ts, *this), ctx);
    alert_flow_ = nullptr;
    alert_packet_ = nullptr;
}

void SignatureDetector::on_alert(const AlertEvent& e) {
    const Rule& rule = *e.rule;
    Flow* flow = const_cast<Flow*>(alert_flow_);
    if (flow) flow->flags |= flowflag::alerted;
    EveEndpoints ep;
    ep.src = e.src;
    ep.dst = e.dst;
    ep.src_port = e.src_port;
    ep.dst_port = e.dst_port;
    if (alert_packet_) {
        const EveEndpoints pe = packet_endpoints(alert_packet_->pkt);
        ep.ip_proto = pe.ip_proto;
        ep.vlan_count = pe.vlan_count;
        ep.vlan[0] = pe.vlan[0];
        ep.vlan[1] = pe.vlan[1];
        ep.has_icmp = pe.has_icmp;
        ep.icmp_type = pe.icmp_type;
        ep.icmp_code = pe.icmp_code;
    } else if (flow) {
        ep.ip_proto = flow->key.ip_proto;
        if (flow->key.vlan) {
            ep.vlan_count = 1;
            ep.vlan[0] = flow->key.vlan;
        }
    }
    EveEmitter& eve = services_.eve();
    JsonWriter* w = eve.begin(EveType::alert, e.ts_ns, flow ? flow->flow_id : 0, &ep,
                              flow ? flow->app_proto : AppProto::unknown);
    if (!w) return;
    if (flow) w->kv("direction", e.dir == Direction::to_server ? "to_server" : "to_client");
    if (e.tx) w->kv("tx_id", e.tx->tx_id);
    const bool enforced = services_.ips() && (e.action == RuleAction::drop || e.action == RuleAction::reject);
    w->begin_object("alert")
        .kv("action", enforced ? "blocked" : "allowed")
        .kv("gid", rule.gid)
        .kv("signature_id", rule.sid)
        .kv("rev", rule.rev)
        .kv("signature", rule.msg)
        .kv("category", e.classtype ? std::string_view(e.classtype->description) : std::string_view())
        .kv("severity", rule.priority);
    if (e.action != RuleAction::alert) w->kv("rule_action", counter_name(e.action));
    write_metadata(*w, rule.metadata);
    w->end_object();
    if (flow) {
        // The flow as of the alerting packet (the flow itself may already count
        // later packets of the same burst); the flow's end state when flushed.
        char start[32];
        format_eve_time(flow->first_ns, start);
        const PacketRef* p = alert_packet_;
        w->begin_object("flow")
            .kv("pkts_toserver", p ? uint64_t{p->flow_pkts[0]} : flow->pkts[0])
            .kv("pkts_toclient", p ? uint64_t{p->flow_pkts[1]} : flow->pkts[1])
            .kv("bytes_toserver", p ? p->flow_bytes[0] : flow->bytes[0])
            .kv("bytes_toclient", p ? p->flow_bytes[1] : flow->bytes[1])
            .kv("start", std::string_view(start, 31))
            .end_object();
    }
    if (e.tx && e.tx->write_eve) e.tx->write_eve(*w, e.tx->eve_ctx);
    if (e.record && e.record->write_eve) e.record->write_eve(*w, e.record->data);
    if (config_.eve.payload && !e.buffer.empty()) {
        // An excerpt around the match, at most payload_max bytes.
        const size_t max = config_.eve.payload_max;
        size_t from = e.match_start > max / 2 ? e.match_start - max / 2 : 0;
        size_t to = std::min(e.buffer.size(), from + max);
        if (to - from < max && to == e.buffer.size()) from = to > max ? to - max : 0;
        const auto excerpt = e.buffer.subspan(from, to - from);
        std::string b64;
        base64(excerpt, b64);
        std::string printable(excerpt.size(), '.');
        for (size_t i = 0; i < excerpt.size(); ++i)
            if (excerpt[i] >= 0x20 && excerpt[i] < 0x7f) printable[i] = static_cast<char>(excerpt[i]);
        w->kv("payload", b64).kv("payload_printable", printable).kv("stream", e.point == InspectPoint::stream ? 1 : 0);
    }
    eve.end();
}

void SignatureDetector::metrics(std::span<const Detector* const> instances, MetricSamples& out) {
    for (size_t wi = 0; wi < instances.size(); ++wi) {
        const SignatureMatcher* m = as_sig(instances[wi])->matcher();
        if (!m) continue;
        const std::string worker = std::to_string(wi);
        for (size_t a = 0; a < static_cast<size_t>(RuleAction::count); ++a)
            out.push_back({"sluice_alerts_total", "Alerts by rule action.", true,
                           {{"worker", worker}, {"action", std::string(counter_name(static_cast<RuleAction>(a)))}},
                           static_cast<double>(m->alerts_by_action().get(a))});
        for (size_t c = 0; c < static_cast<size_t>(SigCounter::count); ++c)
            out.push_back({"sluice_signature_total", "Signature engine work, by event.", true,
                           {{"worker", worker}, {"event", std::string(counter_name(static_cast<SigCounter>(c)))}},
                           static_cast<double>(m->counters().get(c))});
        const auto rc = m->rule_counters();
        if (rc && rc->rules) {
            const auto& classes = rc->rules->classtypes();
            const auto by_class = rc->alerts_by_classtype();
            for (size_t c = 0; c < by_class.size(); ++c)
                out.push_back({"sluice_alerts_by_classtype_total", "Alerts by rule classtype.", true,
                               {{"worker", worker}, {"classtype", c < classes.size() ? classes[c].name : std::string("none")}},
                               static_cast<double>(by_class[c].get())});
        }
    }
}

void SignatureDetector::write_stats(std::span<const Detector* const> instances, JsonWriter& w) {
    uint64_t by_action[static_cast<size_t>(RuleAction::count)] = {};
    uint64_t sig[static_cast<size_t>(SigCounter::count)] = {};
    for (const Detector* d : instances) {
        const SignatureMatcher* m = as_sig(d)->matcher();
        if (!m) continue;
        for (size_t a = 0; a < std::size(by_action); ++a) by_action[a] += m->alerts_by_action().get(a);
        for (size_t c = 0; c < std::size(sig); ++c) sig[c] += m->counters().get(c);
    }
    w.begin_object("detect");
    uint64_t total = 0;
    for (auto v : by_action) total += v;
    w.kv("alert", total);
    w.begin_object("alerts_by_action");
    for (size_t a = 0; a < std::size(by_action); ++a) w.kv(counter_name(static_cast<RuleAction>(a)), by_action[a]);
    w.end_object();
    w.begin_object("engine");
    for (size_t c = 0; c < std::size(sig); ++c) w.kv(counter_name(static_cast<SigCounter>(c)), sig[c]);
    w.end_object();
    w.end_object();
}

bool SignatureDetector::control(std::span<const Detector* const> instances, const std::vector<std::string>& words,
                                std::string& reply) {
    if (words.empty() || words[0] != "top-rules") return false;
    size_t n = 10;
    if (words.size() > 1) n = std::clamp<size_t>(std::strtoul(words[1].c_str(), nullptr, 10), 1, 1000);
    // Sum per-rule hits over workers that run the same rule set.
    std::shared_ptr<const RuleSet> rules;
    std::vector<uint64_t> hits;
    for (const Detector* d : instances) {
        const SignatureMatcher* m = as_sig(d)->matcher();
        if (!m) continue;
        const auto rc = m->rule_counters();
        if (!rc || !rc->rules) continue;
        if (!rules) {
            rules = rc->rules;
            hits.assign(rc->rule_count, 0);
        }
        if (rc->rules != rules) continue;  // a worker still on the previous set
        const auto h = rc->rule_hits();
        for (size_t i = 0; i < h.size() && i < hits.size(); ++i) hits[i] += h[i].get();
    }
    std::vector<size_t> order(hits.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return hits[a] > hits[b]; });
    std::string buf(1 << 16, '\0');
    JsonWriter w(buf.data(), buf.size());
    w.begin_array();
    for (size_t k = 0; k < order.size() && k < n && hits[order[k]] > 0; ++k) {
        const Rule& r = rules->rules()[order[k]];
        w.begin_object().kv("gid", r.gid).kv("sid", r.sid).kv("rev", r.rev).kv("msg", r.msg).kv("hits", hits[order[k]]).end_object();
    }
    w.end_array();
    reply = std::string(w.view());
    return true;
}

}  // namespace sluice
