#include "detectors/ot_policy/ot_policy_detector.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>

#include "app/config.hpp"
#include "detectors/snapshot.hpp"

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "dev"
#endif

namespace sluice {

namespace {

constexpr size_t kMaxCandidates = 32;
// A flow writes its assets' last-seen time to the inventory at most this often
// while it lasts (and once more at its end): the table's lines are then not
// touched for every PDU.
constexpr uint64_t kAssetTouchEveryNs = 1'000'000'000;

const OtPolicyDetector* as_ot(const Detector* d) { return static_cast<const OtPolicyDetector*>(d); }

std::string_view proto_name(int proto_index) { return to_string(kPolicyProtos[static_cast<size_t>(proto_index)]); }

// Each protocol's server port, by policy_proto_index().
constexpr uint16_t kServerPort[kPolicyProtoCount] = {502, 102, 20000, 2404, 44818};

// A flow picked up mid-stream from the server's side has the OT port on its
// "client": the policy's client and server are the other way round then (as
// the OT detector decodes it).
bool turned_round(const Flow& f, int proto_index) {
    const uint16_t port = kServerPort[static_cast<size_t>(proto_index)];
    return f.client_port() == port && f.server_port() != port;
}

// Appends text to a fixed buffer, dropping what does not fit.
struct TextOut {
    char* p;
    char* end;
    TextOut& add(std::string_view t) {
        const size_t n = std::min(t.size(), static_cast<size_t>(end - p));
        if (n) std::memcpy(p, t.data(), n);
        p += n;
        return *this;
    }
    TextOut& num(uint32_t v) {
        char digits[10];
        const auto r = std::to_chars(digits, digits + sizeof digits, v);
        return add({digits, static_cast<size_t>(r.ptr - digits)});
    }
};

}  // namespace

// ---- denial kinds ------------------------------------------------------------

OtDenialTable::OtDenialTable(uint32_t capacity)
    : capacity_(capacity), kinds_(std::make_unique<Kind[]>(std::max<uint32_t>(capacity, 1))) {}

void OtDenialTable::add(int proto_index, std::string_view function) {
    const size_t len = std::min(function.size(), kNameMax);
    for (uint32_t i = 0; i < size_; ++i) {
        Kind& k = kinds_[i];
        if (k.proto_index == proto_index && k.name_len == len && std::memcmp(k.name, function.data(), len) == 0) {
            k.count.add();
            return;
        }
    }
    if (size_ >= capacity_) {
        other_[proto_index].add();
        return;
    }
    Kind& k = kinds_[size_++];
    k.proto_index = static_cast<uint8_t>(proto_index);
    k.name_len = static_cast<uint8_t>(len);
    std::memcpy(k.name, function.data(), len);
    k.count.add();
    k.used.store(1, std::memory_order_release);
}

void OtDenialTable::rows(std::vector<Row>& out) const {
    for (uint32_t i = 0; i < capacity_; ++i) {
        const Kind& k = kinds_[i];
        if (!k.used.load(std::memory_order_acquire)) break;  // filled in order
        out.push_back({k.proto_index, std::string(k.name, k.name_len), k.count.get()});
    }
    for (size_t p = 0; p < kPolicyProtoCount; ++p)
        if (other_[p].get()) out.push_back({static_cast<int>(p), "other", other_[p].get()});
}

// ---- the detector --------------------------------------------------------------

struct alignas(64) OtPolicyDetector::FlowNote {
    // What every record reads first, in the first cache line (with the first
    // candidates), then the rest of the candidates.
    uint64_t policy_id = 0;      // the policy `cand` was computed for (0: none yet)
    uint32_t asset[2] = {OtAssetTable::kNone, OtAssetTable::kNone};  // client, server
    int asset_proto = -1;        // the protocol `reversed` and the asset roles are for
    int proto_index = -1;        // the protocol `cand` and the asset roles are for
    int zone = -1;
    uint32_t ncand = 0;          // candidate rules in all (> kMaxCandidates: full scan)
    uint64_t seen_ns = 0;        // time of the flow's latest record
    uint64_t touched_ns = 0;     // latest time written to the assets' last-seen
    bool reversed = false;       // the policy's client is the flow's server (turned_round)
    bool mac_done[2] = {false, false};
    uint32_t cand[kMaxCandidates] = {};
};

OtPolicyDetector::OtPolicyDetector(const Config& config, const DetectionSnapshot& snapshot, WorkerServices& services,
                                   unsigned slot)
    : config_(config),
      services_(services),
      slot_(slot),
      assets_(config.ot_policy.max_assets),
      denials_(config.ot_policy.max_denial_kinds) {
    if (!config.ot_policy.learn_file.empty())
        learner_ = std::make_unique<OtLearner>(config.ot_policy.learn_max_entries, config.ot_policy.learn_max_ranges);
    on_snapshot(snapshot);
}

OtPolicyDetector::~OtPolicyDetector() = default;

void OtPolicyDetector::on_snapshot(const DetectionSnapshot& snapshot) {
    policy_ = snapshot.ot_policy;
    rules_loaded_.store(policy_ ? policy_->rules().size() : 0, std::memory_order_relaxed);
}

OtPolicyDetector::FlowNote& OtPolicyDetector::new_note(Flow& flow) {
    std::unique_ptr<FlowNote> n = reuse_or_make(pool_);
    flow.detector_state[slot_] = n.get();
    counters_.inc(OtPolicyCounter::flows);
    return *n.release();
}

void OtPolicyDetector::classify(std::span<PacketRef* const> packets) {
    // The burst's stream data comes after classification: fetch the FlowNotes
    // its records will read now, so that their misses overlap.
    for (const PacketRef* r : packets) {
        if (!r->flow || r->pkt.payload_len == 0) continue;
        if (const void* n = r->flow->detector_state[slot_]) __builtin_prefetch(n, 1);  // 64-byte aligned
    }
}

void OtPolicyDetector::inspect(std::span<PacketRef* const> packets) {
    // A FlowNote whose TCP stream is over goes back to the pool now, not when
    // the closed flow leaves the table (see OtDetector::finish_stream).
    for (PacketRef* r : packets)
        if (r->flow && r->pkt.ip_proto == ipproto::tcp && (r->pkt.tcp_flags & tcpflag::fin) &&
            r->flow->detector_state[slot_] && r->flow->stream.complete())
            on_flow_end(*r->flow);
}

void OtPolicyDetector::on_flow_end(Flow& flow) {
    void*& slot = flow.detector_state[slot_];
    if (!slot) return;
    std::unique_ptr<FlowNote> n(static_cast<FlowNote*>(slot));
    slot = nullptr;
    if (n->asset_proto >= 0 && n->seen_ns != n->touched_ns) {
        assets_.touch(n->asset[0], n->seen_ns);
        assets_.touch(n->asset[1], n->seen_ns);
    }
    *n = FlowNote();
    pool_.push_back(std::move(n));
}

void OtPolicyDetector::refresh(FlowNote& n, const IpAddr& client, const IpAddr& server, int proto_index) {
    n.policy_id = policy_->id();
    n.proto_index = proto_index;
    n.zone = policy_->zone_of(client, server);
    n.ncand = static_cast<uint32_t>(policy_->candidates(client, server, proto_index, n.cand));
    if (n.ncand > kMaxCandidates) counters_.inc(OtPolicyCounter::full_scans);
}

void OtPolicyDetector::on_record(StreamContext& ctx, const AppRecord& record) {
    const int pi = policy_proto_index(record.proto);
    if (pi < 0) return;
    counters_.inc(OtPolicyCounter::records);
    Flow& flow = ctx.flow;
    FlowNote& n = note(flow);
    const uint64_t ts = ctx.packet ? ctx.packet->ts_ns : flow.last_ns;

    // Inventory: both ends of the flow, in their roles for this protocol.
    if (n.asset_proto != pi) {
        n.asset_proto = pi;
        n.reversed = turned_round(flow, pi);
        n.asset[0] = assets_.insert(n.reversed ? flow.server_addr() : flow.client_addr(), ot_role_bit(pi, false), ts);
        n.asset[1] = assets_.insert(n.reversed ? flow.client_addr() : flow.server_addr(), ot_role_bit(pi, true), ts);
        n.touched_ns = ts;
    } else if (ts - n.touched_ns >= kAssetTouchEveryNs) {  // (an earlier time wraps round: touched too)
        assets_.touch(n.asset[0], ts);
        assets_.touch(n.asset[1], ts);
        n.touched_ns = ts;
    }
    n.seen_ns = ts;
    const IpAddr& client = n.reversed ? flow.server_addr() : flow.client_addr();
    const IpAddr& server = n.reversed ? flow.client_addr() : flow.server_addr();
    if (const PacketRef* p = ctx.packet) {
        // The Ethernet source of a frame is its sender's (or the last router's) MAC.
        const int side = (p->dir == Direction::to_server) != n.reversed ? 0 : 1;
        if (!n.mac_done[side] && !p->reassembled && p->data && p->len >= 14 && p->pkt.l3_offset >= 14) {
            assets_.set_mac(n.asset[side], p->data + 6);
            n.mac_done[side] = true;
        }
    }

    const OtOperation& op = record.op;
    if (!op.is_request) {
        counters_.inc(OtPolicyCounter::responses);
        if (op.is_exception) {
            counters_.inc(OtPolicyCounter::exception_responses);
            exceptions_[pi].add();
        }
        return;
    }
    counters_.inc(OtPolicyCounter::requests);
    if (learner_) {
        const uint64_t dropped = learner_->dropped();
        learner_->observe(client, server, pi, op, ts);
        counters_.inc(learner_->dropped() != dropped ? OtPolicyCounter::learn_dropped : OtPolicyCounter::learned);
    }
    if (!policy_) return;
    if (n.policy_id != policy_->id() || n.proto_index != pi) refresh(n, client, server, pi);
    if (policy_->action_of(n.zone) == OtAction::allow) {
        counters_.inc(OtPolicyCounter::not_judged);
        return;
    }
    const OtDecision d = n.ncand <= kMaxCandidates ? policy_->decide(std::span<const uint32_t>(n.cand, n.ncand), op)
                                                   : policy_->decide(client, server, pi, op);
    if (d.allowed) {
        counters_.inc(OtPolicyCounter::allowed);
        return;
    }
    deny(ctx, record, n, d);
}

void OtPolicyDetector::deny(StreamContext& ctx, const AppRecord& record, const FlowNote& n, OtDecision d) {
    Flow& flow = ctx.flow;
    const OtOperation& op = record.op;
    const int pi = policy_proto_index(record.proto);
    counters_.inc(OtPolicyCounter::denied);
    if (d.rule >= 0) counters_.inc(OtPolicyCounter::denied_by_rule);
    denials_.add(pi, op.function);
    flow.flags |= flowflag::alerted;

    OtAction action = policy_->action_of(n.zone);
    if (action == OtAction::drop_packet && flow.key.ip_proto == ipproto::tcp) {
        // A dropped segment is retransmitted, and reassembly has already
        // inspected its bytes: on TCP only dropping the flow stops the request.
        action = OtAction::drop_flow;
        counters_.inc(OtPolicyCounter::drop_packet_as_flow);
    }
    const bool enforced = services_.ips() && action >= OtAction::drop_packet;
    const OtRule* rule = d.rule >= 0 ? &policy_->rules()[static_cast<size_t>(d.rule)] : nullptr;

    EveEndpoints ep = flow_endpoints(flow);
    if (record.dir == Direction::to_client) {
        std::swap(ep.src, ep.dst);
        std::swap(ep.src_port, ep.dst_port);
    }
    // The alert is a deferred event: its facts go into the ring as they are
    // and the EVE writer thread renders them (render_alert), so a storm of
    // denials costs the worker no text formatting.
    EveEmitter& eve = services_.eve();
    if (eve.enabled(EveType::alert)) {
        std::span<char> room = eve.begin_deferred(EveType::alert, &OtPolicyDetector::render_alert, EveEmitter::kMaxEvent);
        AlertEvent a{};
        a.ts_ns = ctx.packet ? ctx.packet->ts_ns : flow.last_ns;
        a.flow_id = flow.flow_id;
        a.first_ns = flow.first_ns;
        a.pkts[0] = flow.pkts[0];
        a.pkts[1] = flow.pkts[1];
        a.bytes[0] = flow.bytes[0];
        a.bytes[1] = flow.bytes[1];
        a.ep = ep;
        a.proto = record.proto;
        a.to_server = record.dir == Direction::to_server;
        a.enforced = enforced;
        a.by_rule = rule != nullptr;
        a.access = op.access;
        a.function_code = op.function_code;
        a.has_unit = op.has_unit;
        a.unit = op.unit;
        a.has_address = op.has_address;
        a.address_first = op.address_first;
        a.address_last = op.address_last;
        a.client = n.reversed ? flow.server_addr() : flow.client_addr();
        a.server = n.reversed ? flow.client_addr() : flow.server_addr();
        a.proto_index = static_cast<int8_t>(pi);
        // Then the texts, each appended while it fits.
        size_t used = sizeof a;
        auto append = [&](std::string_view t) {
            if (room.size() < used || room.size() - used < t.size()) return false;
            if (!t.empty()) std::memcpy(room.data() + used, t.data(), t.size());
            used += t.size();
            return true;
        };
        const std::string_view rule_name = rule ? std::string_view(rule->name) : std::string_view();
        bool fits = room.size() >= sizeof a && append(rule_name) && append(op.function);
        a.rule_len = static_cast<uint32_t>(rule_name.size());
        a.function_len = static_cast<uint32_t>(op.function.size());
        if (fits) {
            // The policy's members after "policy": rendered once per kind, or here.
            const size_t at = used;
            if (const std::string* text = alert_text(n.zone, d.rule, action, pi)) {
                fits = append(*text);
            } else {
                const std::string_view members = policy_members_text(room.subspan(at), n.zone, d.rule, action, pi);
                fits = !members.empty();
                used = at + members.size();
            }
            a.policy_len = static_cast<uint32_t>(used - at);
        }
        if (fits && record.write_eve) {
            // The protocol's object: packed for rendering there, or rendered now.
            const size_t at = used;
            if (record.pack_eve && record.write_packed_eve) {
                const size_t k = record.pack_eve(record.data, room.subspan(at));
                fits = k != 0;
                used += k;
                a.write_packed = record.write_packed_eve;
            } else {
                JsonWriter pw(room.data() + at, room.size() - at);
                pw.begin_object();
                record.write_eve(pw, record.data);
                fits = !pw.overflowed();
                if (fits && pw.size() > 1) {
                    std::memmove(room.data() + at, room.data() + at + 1, pw.size() - 1);  // the members, without '{'
                    used = at + pw.size() - 1;
                }
            }
            a.proto_len = static_cast<uint32_t>(used - at);
        }
        if (fits) {
            std::memcpy(room.data(), &a, sizeof a);
            eve.end_deferred(used);
        } else {
            if (!room.empty()) eve.abandon_deferred();
            counters_.inc(OtPolicyCounter::alerts_lost);
        }
    }

    switch (action) {
        case OtAction::drop_packet: services_.raise(ctx, Verdict::drop_packet, DropReason::policy); break;
        case OtAction::drop_flow: services_.raise(ctx, Verdict::drop_flow, DropReason::policy); break;
        case OtAction::reject: services_.raise(ctx, Verdict::reject, DropReason::policy); break;
        default: break;
    }
}

void OtPolicyDetector::render_alert(std::span<const char> payload, const EveRenderContext& ctx, JsonWriter& w) {
    AlertEvent a;
    if (payload.size() < sizeof a) return;
    std::memcpy(&a, payload.data(), sizeof a);
    if (payload.size() - sizeof a < size_t{a.rule_len} + a.function_len + a.policy_len + a.proto_len) return;
    if (a.proto_index < 0 || static_cast<size_t>(a.proto_index) >= kPolicyProtoCount) return;
    const char* p = payload.data() + sizeof a;
    auto take = [&p](uint32_t len) {
        const std::string_view t(p, len);
        p += len;
        return t;
    };
    const std::string_view rule_name = take(a.rule_len);
    const std::string_view function = take(a.function_len);
    const std::string_view policy = take(a.policy_len);
    const std::string_view proto = take(a.proto_len);

    // The alert's text, appended piece by piece (no format parsing), cut at
    // the buffer's end like format_to_n.
    char msg[512];
    TextOut out{msg, msg + sizeof msg};
    char addr[64];
    out.add("OT policy: ").add(proto_name(a.proto_index)).add(" ").add(function).add(" from ");
    out.add({addr, a.client.format(addr, sizeof addr)});
    out.add(" to ");
    out.add({addr, a.server.format(addr, sizeof addr)});
    if (a.has_unit) {
        out.add(" unit ");
        const std::string s7 = a.proto == AppProto::s7comm ? format_s7_unit(a.unit) : std::string();
        if (!s7.empty()) out.add(s7);
        else out.num(a.unit);
    }
    if (a.has_address) {
        out.add(" address ").num(a.address_first);
        if (a.address_first != a.address_last) out.add("-").num(a.address_last);
    }
    if (a.by_rule) out.add(" denied by rule ").add(rule_name);
    else out.add(" not allowed");
    const std::string_view signature(msg, static_cast<size_t>(out.p - msg));

    write_eve_header(w, ctx.type, a.ts_ns, a.flow_id, ctx.in_iface, &a.ep, a.proto);
    w.kv("direction", a.to_server ? "to_server" : "to_client");
    // The members that are the same for every alert of a kind go out as text
    // (kv_raw with the members that follow the first one): the same bytes as
    // writing them one by one.
    static constexpr std::string_view kAlertHead[2][2] = {
        {R"("allowed","gid":9100,"signature_id":9100001,"rev":1)", R"("allowed","gid":9100,"signature_id":9100002,"rev":1)"},
        {R"("blocked","gid":9100,"signature_id":9100001,"rev":1)", R"("blocked","gid":9100,"signature_id":9100002,"rev":1)"}};
    static_assert(kOtPolicyGid == 9100 && kOtPolicySidNotAllowed == 9100001 && kOtPolicySidDenyRule == 9100002);
    w.begin_object("alert")
        .kv_raw("action", kAlertHead[a.enforced ? 1 : 0][a.by_rule ? 1 : 0])
        .kv("signature", signature)
        .kv_raw("category", R"("OT policy violation","severity":1)")
        .end_object();
    w.begin_object("ot_policy");
    w.kv_raw("policy", policy);
    w.kv("function", function).kv("function_code", a.function_code).kv("access", to_string(a.access));
    if (a.has_unit) w.kv("unit", a.unit);
    if (a.has_address) w.kv("address_first", a.address_first).kv("address_last", a.address_last);
    w.end_object();
    char start[32];
    format_eve_time(a.first_ns, start);
    w.begin_object("flow")
        .kv("pkts_toserver", a.pkts[0])
        .kv("pkts_toclient", a.pkts[1])
        .kv("bytes_toserver", a.bytes[0])
        .kv("bytes_toclient", a.bytes[1])
        .kv("start", std::string_view(start, 31))
        .end_object();
    if (a.write_packed) a.write_packed(w, std::span<const char>(proto.data(), proto.size()));
    else w.raw_members(proto);
    w.end_object();
}

void OtPolicyDetector::write_policy_members(JsonWriter& w, int zone, int rule, OtAction action, int pi) const {
    w.kv("policy", std::string_view(policy_->source()))
        .kv("zone", policy_->zone_name(zone))
        .kv("zone_action", eve_name(policy_->action_of(zone)))
        .kv("action", eve_name(action));
    if (rule >= 0) {
        const OtRule& r = policy_->rules()[static_cast<size_t>(rule)];
        w.kv("rule", std::string_view(r.name)).kv("rule_where", std::string_view(r.where));
    }
    w.kv("protocol", proto_name(pi));
}

const std::string* OtPolicyDetector::alert_text(int zone, int rule, OtAction action, int pi) {
    const uint64_t id = policy_->id();
    if (alert_texts_policy_ != id) {
        alert_texts_.clear();
        alert_texts_policy_ = id;
    }
    for (const AlertText& t : alert_texts_)
        if (t.zone == zone && t.rule == rule && t.action == action && t.proto_index == pi) return &t.json;
    if (alert_texts_.size() >= kMaxAlertTexts) return nullptr;
    char buf[4096];
    const std::string_view text = policy_members_text(buf, zone, rule, action, pi);
    if (text.empty()) return nullptr;
    alert_texts_.push_back({zone, rule, action, pi, std::string(text)});
    return &alert_texts_.back().json;
}

std::string_view OtPolicyDetector::policy_members_text(std::span<char> buf, int zone, int rule, OtAction action,
                                                       int pi) const {
    // Rendered as the members would be, then everything after `{"policy":`.
    JsonWriter w(buf);
    w.begin_object();
    write_policy_members(w, zone, rule, action, pi);
    constexpr std::string_view head = R"({"policy":)";
    if (w.overflowed() || w.size() <= head.size() || w.view().substr(0, head.size()) != head) return {};
    const size_t len = w.size() - head.size();
    std::memmove(buf.data(), buf.data() + head.size(), len);
    return {buf.data(), len};
}

// ---- management side -------------------------------------------------------------

namespace {

std::vector<OtAsset> all_assets(std::span<const Detector* const> instances) {
    std::vector<const OtAssetTable*> tables;
    for (const Detector* d : instances) tables.push_back(&as_ot(d)->assets());
    return merge_assets(tables);
}

}  // namespace

void OtPolicyDetector::metrics(std::span<const Detector* const> instances, MetricSamples& out) {
    for (size_t wi = 0; wi < instances.size(); ++wi) {
        const OtPolicyDetector* d = as_ot(instances[wi]);
        const std::string worker = std::to_string(wi);
        for (size_t c = 0; c < static_cast<size_t>(OtPolicyCounter::count); ++c)
            out.push_back({"sluice_ot_policy_total", "OT policy work, by event (records, requests, allowed, denied, ...).", true,
                           {{"worker", worker}, {"event", std::string(counter_name(static_cast<OtPolicyCounter>(c)))}},
                           static_cast<double>(d->counters().get(c))});
        std::vector<OtDenialTable::Row> rows;
        d->denials().rows(rows);
        for (const auto& r : rows)
            out.push_back({"sluice_ot_policy_denials_total",
                           "OT requests the policy did not allow, by protocol and function (bounded: ot-policy.max-denial-kinds per worker, then function=\"other\").",
                           true, {{"worker", worker}, {"proto", std::string(proto_name(r.proto_index))}, {"function", r.function}},
                           static_cast<double>(r.count)});
        for (size_t p = 0; p < kPolicyProtoCount; ++p)
            out.push_back({"sluice_ot_exception_responses_total", "OT exception/error responses, by protocol (not judged).", true,
                           {{"worker", worker}, {"proto", std::string(to_string(kPolicyProtos[p]))}},
                           static_cast<double>(d->exceptions(p))});
        out.push_back({"sluice_ot_assets_dropped_total", "OT assets not tracked because the worker's table was full (ot-policy.max-assets).",
                       true, {{"worker", worker}}, static_cast<double>(d->assets().dropped())});
    }
    if (!instances.empty()) {
        const std::vector<OtAsset> assets = all_assets(instances);
        const OtAssetCounts c = count_assets(assets);
        for (size_t p = 0; p < kPolicyProtoCount; ++p)
            for (int server = 0; server < 2; ++server)
                out.push_back({"sluice_ot_assets", "OT assets seen (distinct addresses), by role and protocol.", false,
                               {{"role", server ? "server" : "client"}, {"proto", std::string(to_string(kPolicyProtos[p]))}},
                               static_cast<double>(server ? c.server[p] : c.client[p])});
        out.push_back({"sluice_ot_policy_rules", "Rules of the OT policy in force (0: no policy).", false, {},
                       static_cast<double>(as_ot(instances[0])->rules_loaded())});
    }
}

void OtPolicyDetector::write_stats(std::span<const Detector* const> instances, JsonWriter& w) {
    uint64_t c[static_cast<size_t>(OtPolicyCounter::count)] = {};
    for (const Detector* d : instances)
        for (size_t i = 0; i < std::size(c); ++i) c[i] += as_ot(d)->counters().get(i);
    w.begin_object("ot_policy");
    for (size_t i = 0; i < std::size(c); ++i) w.kv(counter_name(static_cast<OtPolicyCounter>(i)), c[i]);
    w.kv("assets", static_cast<uint64_t>(all_assets(instances).size()));
    w.end_object();
}

bool OtPolicyDetector::control(std::span<const Detector* const> instances, const std::vector<std::string>& words,
                               std::string& reply) {
    if (words.empty()) return false;
    if (words[0] == "assets") {
        const std::vector<OtAsset> assets = all_assets(instances);
        std::string buf(512 + assets.size() * 512, '\0');
        JsonWriter w(buf.data(), buf.size());
        write_assets_json(w, assets);
        reply = std::string(w.view());
        return true;
    }
    if (words[0] == "ot-policy") {
        std::string buf(1 << 16, '\0');
        JsonWriter w(buf.data(), buf.size());
        w.begin_object();
        write_stats(instances, w);
        std::vector<OtDenialTable::Row> rows;
        for (const Detector* d : instances) as_ot(d)->denials().rows(rows);
        std::map<std::pair<int, std::string>, uint64_t> sum;
        for (const auto& r : rows) sum[{r.proto_index, r.function}] += r.count;
        w.begin_array("denials");
        for (const auto& [k, n] : sum)
            w.begin_object().kv("proto", proto_name(k.first)).kv("function", std::string_view(k.second)).kv("count", n).end_object();
        w.end_array();
        w.end_object();
        reply = std::string(w.view());
        return true;
    }
    return false;
}

Status OtPolicyDetector::finish(std::span<const Detector* const> instances) {
    if (instances.empty()) return {};
    const Config& config = as_ot(instances[0])->config_;
    const std::string& path = config.ot_policy.learn_file;
    if (path.empty()) return {};
    std::vector<const OtLearner*> learners;
    LearnSummary s;
    s.generator = "sluice " SLUICE_VERSION;
    s.max_entries = config.ot_policy.learn_max_entries;
    for (const Detector* d : instances) {
        const OtLearner* l = as_ot(d)->learner();
        if (!l) continue;
        learners.push_back(l);
        s.requests += l->requests();
        s.dropped += l->dropped();
        if (l->first_ns() && (!s.first_ns || l->first_ns() < s.first_ns)) s.first_ns = l->first_ns();
        s.last_ns = std::max(s.last_ns, l->last_ns());
    }
    if (!config.capture.pcap.empty()) s.source = config.capture.pcap;
    else if (config.capture.inline_ifaces.size() == 2)
        s.source = fmt::format("inline {} <-> {}", config.capture.inline_ifaces[0], config.capture.inline_ifaces[1]);
    else s.source = config.capture.iface;
    const std::vector<LearnedOperation> ops = merge_learned(learners, config.ot_policy.learn_max_ranges);
    const std::string text = render_learned_policy(ops, s);
    const std::string tmp = path + ".tmp";
    std::FILE* f = std::fopen(tmp.c_str(), "wb");
    if (!f) return make_error(fmt::format("ot-policy.learn-file {}: cannot write: {}", tmp, std::strerror(errno)));
    const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
    if (std::fclose(f) != 0 || !ok) {
        std::remove(tmp.c_str());
        return make_error(fmt::format("ot-policy.learn-file {}: write failed", tmp));
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        std::remove(tmp.c_str());
        return make_error(fmt::format("ot-policy.learn-file {}: cannot rename: {}", path, std::strerror(errno)));
    }
    spdlog::info("learned OT policy written to {}: {} requests, {} operations{}", path, s.requests, ops.size(),
                 s.dropped ? fmt::format(" (INCOMPLETE: {} requests found no room, raise ot-policy.learn-max-entries)", s.dropped)
                           : std::string());
    return {};
}

Result<std::shared_ptr<const OtPolicy>> build_ot_policy(const Config& config) {
    const OtPolicyConfig& c = config.ot_policy;
    if (!c.learn_file.empty()) {
        namespace fs = std::filesystem;
        std::error_code ec;
        fs::path dir = fs::path(c.learn_file).parent_path();
        if (dir.empty()) dir = ".";
        if (!fs::is_directory(dir, ec) || ::access(dir.c_str(), W_OK) != 0)
            return make_error(fmt::format("ot-policy.learn-file {}: folder {} is missing or not writable", c.learn_file, dir.string()));
        if (fs::is_directory(c.learn_file, ec)) return make_error(fmt::format("ot-policy.learn-file {}: is a folder", c.learn_file));
    }
    if (c.file.empty()) return std::shared_ptr<const OtPolicy>();
    OtPolicyLimits limits;
    limits.max_items = c.max_rules;
    auto p = OtPolicy::load_file(c.file, config.address_groups, limits);
    if (!p) return make_error("OT policy: " + p.message());
    spdlog::info("OT policy {}: {} rules, {} zones, default action {}", c.file, (*p)->rules().size(), (*p)->zones().size(),
                 to_string((*p)->default_action()));
    return p;
}

}  // namespace sluice
