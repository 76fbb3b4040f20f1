#include "detectors/signature/signature_matcher.hpp"

#include <hs/hs.h>

#include <algorithm>
#include <cstring>

namespace sluice {

struct SignatureMatcher::Ctx {
    InspectPoint point = InspectPoint::packet;
    Direction dir = Direction::to_server;
    IpAddr src, dst;
    uint16_t sport = 0, dport = 0;
    uint8_t ip_proto = 0;
    bool flow_known = false;
    bool established = false;
    AppProto app_proto = AppProto::unknown;
    SigFlowState* state = nullptr;
    const PacketFacts* pkt = nullptr;
    const AppTransaction* tx = nullptr;
    const AppRecord* rec = nullptr;
    InspectBuffer payload;
    uint64_t ts = 0;
};

namespace {

SigVerdict verdict_of(RuleAction a) {
    switch (a) {
        case RuleAction::pass: return SigVerdict::pass;
        case RuleAction::drop: return SigVerdict::drop;
        case RuleAction::reject: return SigVerdict::reject;
        default: return SigVerdict::alert;
    }
}

uint64_t mix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

SignatureMatcher::Ctx flow_ctx(const FlowFacts& f, Direction dir, SigFlowState* state, uint64_t ts) {
    SignatureMatcher::Ctx c;
    c.dir = dir;
    const bool ts_dir = dir == Direction::to_server;
    c.src = ts_dir ? f.client : f.server;
    c.dst = ts_dir ? f.server : f.client;
    c.sport = ts_dir ? f.client_port : f.server_port;
    c.dport = ts_dir ? f.server_port : f.client_port;
    c.ip_proto = f.ip_proto;
    c.flow_known = true;
    c.established = f.established;
    c.app_proto = f.app_proto;
    c.state = state;
    c.ts = ts;
    return c;
}

}  // namespace

// ---------------------------------------------------------------------------
// SigFlowState

SigFlowState::~SigFlowState() { close_streams(); }

SigFlowState::SigFlowState(SigFlowState&& o) noexcept { *this = std::move(o); }

SigFlowState& SigFlowState::operator=(SigFlowState&& o) noexcept {
    if (this == &o) return *this;
    close_streams();
    generation_ = o.generation_;
    flowbit_epoch_ = o.flowbit_epoch_;
    bits_ = o.bits_;
    dir_ = o.dir_;
    window_ = std::move(o.window_);
    window_cap_ = o.window_cap_;
    hs_stream_bytes_ = o.hs_stream_bytes_;
    passed_ = o.passed_;
    for (auto& d : o.dir_) d = Dir{};  // the streams now belong to *this
    o.window_cap_ = 0;
    o.generation_ = 0;
    o.passed_ = false;
    return *this;
}

void SigFlowState::close_streams() {
    for (auto& d : dir_) {
        if (d.hs) hs_close_stream(d.hs, nullptr, nullptr, nullptr);
        d.hs = nullptr;
    }
}

size_t SigFlowState::memory_bytes() const {
    size_t n = sizeof(SigFlowState);
    if (window_) n += 2 * size_t{window_cap_};
    for (const auto& d : dir_)
        if (d.hs) n += hs_stream_bytes_;
    return n;
}

// ---------------------------------------------------------------------------
// SignatureMatcher

SignatureMatcher::SignatureMatcher(const MatcherConfig& cfg) : cfg_(cfg), inspector_(cfg.limits) {
    if (cfg_.stream_step_bytes == 0) cfg_.stream_step_bytes = 65536;
    stream_buf_ = std::make_unique<uint8_t[]>(size_t{cfg_.stream_window_bytes} + cfg_.stream_step_bytes);
    transform_buf_ = std::make_unique<uint8_t[]>(size_t{cfg_.max_transformed_bytes} + 1);
    size_t n = 1;
    while (n < cfg_.threshold_table_entries) n <<= 1;
    thresholds_ = std::make_unique<ThresholdEntry[]>(n);
    threshold_mask_ = n - 1;
}

SignatureMatcher::~SignatureMatcher() = default;

Result<std::unique_ptr<SignatureMatcher>> SignatureMatcher::create(std::shared_ptr<const RuleSet> rules, const MatcherConfig& cfg) {
    std::unique_ptr<SignatureMatcher> m(new SignatureMatcher(cfg));
    if (auto st = m->use_rules(std::move(rules)); !st) return st.error();
    return m;
}

Status SignatureMatcher::use_rules(std::shared_ptr<const RuleSet> rules) {
    if (!rules) return make_error("no rule set");
    HsScratch s;
    if (rules->prototype_scratch()) {
        hs_scratch_t* c = nullptr;
        if (hs_clone_scratch(rules->prototype_scratch(), &c) != HS_SUCCESS) return make_error("hs_clone_scratch failed");
        s.reset(c);
    }
    const size_t n = std::max<size_t>(rules->rules().size(), 1);
    stamp_ = std::make_unique<uint32_t[]>(n);
    alerted_ = std::make_unique<uint32_t[]>(n);
    cands_ = std::make_unique<uint32_t[]>(n);
    lit_stamp_ = std::make_unique<uint32_t[]>(n);
    lit_end_ = std::make_unique<uint64_t[]>(n);
    rule_count_ = rules->rules().size();
    class_count_ = rules->classtypes().size() + 1;
    auto block = std::make_shared<RuleCounters>();
    block->rules = rules;
    block->hits = std::make_unique<Counter[]>(n);
    block->rule_count = rule_count_;
    block->by_class = std::make_unique<Counter[]>(class_count_);
    block->class_count = class_count_;
    cur_stamp_ = 0;
    cur_call_ = 0;
    ncands_ = 0;
    scratch_ = std::move(s);
    counters_block_ = block;
    published_.store(std::shared_ptr<const RuleCounters>(std::move(block)), std::memory_order_release);
    inspector_.reserve_captures(rules->max_pcre_captures());
    inspector_.bind(rules.get(), scratch_.get());
    rules_ = std::move(rules);
    return {};
}

size_t SignatureMatcher::max_flow_state_bytes() const {
    return sizeof(SigFlowState) + 2 * size_t{cfg_.stream_window_bytes} + 2 * rules_->stats().stream_state_bytes;
}

void SignatureMatcher::next_call() {
    if (++cur_call_ == 0) {
        std::fill(alerted_.get(), alerted_.get() + std::max<size_t>(rule_count_, 1), 0u);
        cur_call_ = 1;
    }
}

void SignatureMatcher::begin() {
    ncands_ = 0;
    if (++cur_stamp_ == 0) {
        std::fill(stamp_.get(), stamp_.get() + std::max<size_t>(rule_count_, 1), 0u);
        std::fill(lit_stamp_.get(), lit_stamp_.get() + std::max<size_t>(rule_count_, 1), 0u);
        cur_stamp_ = 1;
    }
}

void SignatureMatcher::collect(uint32_t rule) {
    if (stamp_[rule] == cur_stamp_) return;
    stamp_[rule] = cur_stamp_;
    cands_[ncands_++] = rule;
}

void SignatureMatcher::collect_ids(const RuleGroup& g, unsigned id) {
    for (uint32_t k = g.lit_begin[id]; k < g.lit_begin[id + 1]; ++k) collect(g.lit_rules[k]);
}

int SignatureMatcher::on_literal(unsigned id, unsigned long long, unsigned long long to, unsigned, void* ctx) {
    auto* self = static_cast<SignatureMatcher*>(ctx);
    const RuleGroup& g = *self->cur_group_;
    if (self->stream_mode_) {
        for (uint32_t k = g.lit_begin[id]; k < g.lit_begin[id + 1]; ++k) {
            const uint32_t r = g.lit_rules[k];
            self->lit_stamp_[r] = self->cur_stamp_;
            self->lit_end_[r] = self->cur_hs_base_ + to;
        }
    }
    self->collect_ids(g, id);
    return 0;
}

// Re-scanning the retained window after a reload or re-open: literals seen there
// become pending rules (they may complete with the next bytes), nothing alerts.
int SignatureMatcher::on_prime(unsigned id, unsigned long long, unsigned long long to, unsigned, void* ctx) {
    auto* self = static_cast<SignatureMatcher*>(ctx);
    const RuleGroup& g = *self->cur_group_;
    for (uint32_t k = g.lit_begin[id]; k < g.lit_begin[id + 1]; ++k)
        self->pending_add(*self->priming_, g.lit_rules[k], self->cur_hs_base_ + to);
    return 0;
}

void SignatureMatcher::pending_add(SigFlowState::Dir& ds, uint32_t rule, uint64_t lit_end) {
    for (uint8_t i = 0; i < ds.npending; ++i)
        if (ds.pending[i].rule == rule) {
            ds.pending[i].lit_end = std::max(ds.pending[i].lit_end, lit_end);
            return;
        }
    if (ds.npending < kStreamPendingRules) {
        ds.pending[ds.npending++] = {rule, lit_end};
        return;
    }
    size_t oldest = 0;
    for (size_t i = 1; i < kStreamPendingRules; ++i)
        if (ds.pending[i].lit_end < ds.pending[oldest].lit_end) oldest = i;
    if (ds.pending[oldest].lit_end > lit_end) return;
    counters_.inc(SigCounter::stream_pending_evictions);
    ds.pending[oldest] = {rule, lit_end};
}

void SignatureMatcher::collect_group(const RuleGroup& g, std::span<const uint8_t> data) {
    if (g.db && !data.empty()) {
        cur_group_ = &g;
        counters_.inc(SigCounter::scans);
        hs_error_t rc = hs_scan(g.db.get(), reinterpret_cast<const char*>(data.data()), static_cast<unsigned>(data.size()), 0,
                                scratch_.get(), on_literal, this);
        if (rc != HS_SUCCESS && rc != HS_SCAN_TERMINATED) counters_.inc(SigCounter::hs_errors);
    }
    for (uint32_t r : g.always) collect(r);
}

void SignatureMatcher::sync_state(SigFlowState& st) {
    if (st.generation_ == rules_->generation()) return;
    if (st.generation_ != 0) {
        counters_.inc(SigCounter::state_resets);
        st.close_streams();  // re-opened against the new databases and primed from the window
        for (auto& d : st.dir_) d.npending = 0;  // rule indices of the old set
    }
    if (st.flowbit_epoch_ != rules_->flowbit_epoch()) st.bits_.fill(0);
    st.flowbit_epoch_ = rules_->flowbit_epoch();
    st.generation_ = rules_->generation();
}

bool SignatureMatcher::header_ok(const Rule& r, const Ctx& c) const {
    switch (r.proto) {
        case RuleProto::tcp: if (c.ip_proto != 6) return false; break;
        case RuleProto::udp: if (c.ip_proto != 17) return false; break;
        case RuleProto::icmp: if (c.ip_proto != 1 && c.ip_proto != 58) return false; break;
        case RuleProto::ip: break;
        case RuleProto::app:
            if (c.point == InspectPoint::packet || c.point == InspectPoint::stream)
                if (c.app_proto != r.app_proto) return false;
            break;
    }
    auto fwd = [&](const IpAddr& s, const IpAddr& d, uint16_t sp, uint16_t dp) {
        return (r.src_any || r.src.contains(s)) && (r.dst_any || r.dst.contains(d)) &&
               (r.src_ports_any || r.src_ports.contains(sp)) && (r.dst_ports_any || r.dst_ports.contains(dp));
    };
    if (!fwd(c.src, c.dst, c.sport, c.dport) && !(r.bidirectional && fwd(c.dst, c.src, c.dport, c.sport))) return false;
    if (r.flow) {
        if ((r.flow & flow_flag::established) && !(c.flow_known && c.established)) return false;
        if ((r.flow & flow_flag::not_established) && (c.flow_known && c.established)) return false;
        if ((r.flow & flow_flag::to_server) && !(c.flow_known && c.dir == Direction::to_server)) return false;
        if ((r.flow & flow_flag::to_client) && !(c.flow_known && c.dir == Direction::to_client)) return false;
    }
    if (r.app_layer_protocol && ((c.app_proto == *r.app_layer_protocol) == r.app_layer_protocol_negated)) return false;
    for (const auto& op : r.flowbits) {
        if (op.cmd != FlowbitCmd::isset && op.cmd != FlowbitCmd::isnotset) continue;
        const bool want_set = op.cmd == FlowbitCmd::isset;
        size_t hits = 0;
        for (uint16_t b : op.bits)
            if (c.state && c.state->flowbit(b) == want_set) ++hits;
        if (!c.state && !want_set) hits = op.bits.size();
        if (op.any_of ? hits == 0 : hits != op.bits.size()) return false;
    }
    return true;
}

std::span<const uint8_t> SignatureMatcher::tx_buffer(const AppTransaction& tx, int16_t buffer, bool dotprefix, bool& ok) {
    ok = false;
    const auto b = static_cast<AppBuffer>(buffer);
    if (!tx.has(b)) return {};
    const int side = buffer_side(b);
    if (side != 0 && side != (tx.dir == Direction::to_server ? 1 : 2)) return {};
    auto data = tx.get(b);
    ok = true;
    if (!dotprefix) return data;
    if (data.size() + 1 > cfg_.max_transformed_bytes) {
        counters_.inc(SigCounter::transform_too_long);
        ok = false;
        return {};
    }
    transform_buf_[0] = '.';
    if (!data.empty()) std::memcpy(transform_buf_.get() + 1, data.data(), data.size());
    return {transform_buf_.get(), data.size() + 1};
}

bool SignatureMatcher::evaluate(const Rule& r, Ctx& c, MatchSpan& span, std::span<const uint8_t>& buf, int16_t& buf_id) {
    if (!header_ok(r, c)) return false;
    span = {};
    buf = {};
    buf_id = kPayloadBuffer;
    switch (c.point) {
        case InspectPoint::packet: {
            const PacketFacts& p = *c.pkt;
            if (r.dsize && !r.dsize->match(p.payload.size())) return false;
            if (r.ttl && !r.ttl->match(p.ttl)) return false;
            if (r.ip_proto && !r.ip_proto->match(p.ip_proto)) return false;
            if (r.ip_id && !r.ip_id->match(p.ip_id)) return false;
            if (r.tcp_flags || r.ack || r.seq || r.window) {
                if (p.ip_proto != 6) return false;
                if (r.tcp_flags && !r.tcp_flags->match(p.tcp_flags)) return false;
                if (r.ack && !r.ack->match(p.ack)) return false;
                if (r.seq && !r.seq->match(p.seq)) return false;
                if (r.window && !r.window->match(p.window)) return false;
            }
            if (r.itype || r.icode || r.icmp_id || r.icmp_seq) {
                if (p.ip_proto != 1 && p.ip_proto != 58) return false;
                if (r.itype && !r.itype->match(p.icmp_type)) return false;
                if (r.icode && !r.icode->match(p.icmp_code)) return false;
                if (r.icmp_id && !r.icmp_id->match(p.icmp_id)) return false;
                if (r.icmp_seq && !r.icmp_seq->match(p.icmp_seq)) return false;
            }
            if (const BufferMatch* pl = r.payload()) {
                if (!inspector_.match(*pl, c.payload, &span)) return false;
                buf = c.payload.data;
            }
            return true;
        }
        case InspectPoint::stream: {
            const BufferMatch* pl = r.payload();
            if (!pl) return false;
            if (!inspector_.match(*pl, c.payload, &span)) return false;
            buf = c.payload.data;
            return true;
        }
        case InspectPoint::transaction: {
            const AppTransaction& tx = *c.tx;
            if (r.app_proto != AppProto::unknown && r.app_proto != tx.proto) return false;
            for (const auto& bm : r.buffers) {
                bool ok;
                auto data = tx_buffer(tx, bm.buffer, bm.dotprefix, ok);
                if (!ok) return false;
                MatchSpan s;
                if (!inspector_.match(bm, InspectBuffer{data, 0, 0}, &s)) return false;
                if (!bm.elems.empty() && buf.empty()) {
                    span = s;
                    buf = data;
                    buf_id = bm.buffer;
                }
            }
            return true;
        }
        case InspectPoint::record: {
            const AppRecord& rec = *c.rec;
            if (r.app_proto != AppProto::unknown && r.app_proto != rec.proto) return false;
            for (const auto& k : r.app_keywords)
                if (!k.matcher->match(rec)) return false;
            return true;
        }
    }
    return false;
}

bool SignatureMatcher::threshold_allows(const Rule& r, uint32_t, const Ctx& c, const ThresholdSpec& t) {
    uint64_t h = mix((uint64_t{r.gid} << 32) | r.sid);
    h = mix(h ^ (static_cast<uint64_t>(t.type) << 8 | static_cast<uint64_t>(t.track)));
    auto addr = [&](const IpAddr& a) { h = mix(h ^ a.hi()) ^ mix(a.lo() + 0x51ce); };
    if (t.track == ThresholdTrack::by_src || t.track == ThresholdTrack::by_both) addr(c.src);
    if (t.track == ThresholdTrack::by_dst || t.track == ThresholdTrack::by_both) addr(c.dst);
    if (h == 0) h = 1;
    ThresholdEntry* e = nullptr;
    ThresholdEntry* oldest = nullptr;
    for (size_t k = 0; k < 8; ++k) {
        ThresholdEntry& s = thresholds_[(h + k) & threshold_mask_];
        if (s.key == h) {
            e = &s;
            break;
        }
        if (s.key == 0) {
            if (!e) e = &s;
            break;
        }
        if (!oldest || s.window_start_ns < oldest->window_start_ns) oldest = &s;
    }
    if (!e) {
        counters_.inc(SigCounter::threshold_evictions);
        e = oldest;
        e->key = 0;
    }
    const uint64_t window = uint64_t{t.seconds} * 1000000000ull;
    if (e->key != h || c.ts - e->window_start_ns >= window || c.ts < e->window_start_ns) {
        e->key = h;
        e->count = 0;
        e->window_start_ns = c.ts;
    }
    ++e->count;
    switch (t.type) {
        case ThresholdType::limit: return e->count <= t.count;
        case ThresholdType::threshold:
            if (e->count >= t.count) {
                e->count = 0;
                return true;
            }
            return false;
        case ThresholdType::both: return e->count == t.count;
        case ThresholdType::detection_filter: return e->count > t.count;
    }
    return true;
}

SigVerdict SignatureMatcher::confirm(Ctx& c, AlertSink& sink) {
    SigVerdict v = SigVerdict::none;
    if (ncands_ == 0) return v;
    std::sort(cands_.get(), cands_.get() + ncands_);
    counters_.inc(SigCounter::candidates, ncands_);
    uint32_t emitted = 0;
    for (size_t k = 0; k < ncands_; ++k) {
        const uint32_t ri = cands_[k];
        if (alerted_[ri] == cur_call_) continue;
        const Rule& r = rules_->rule(ri);
        // A transaction handed over twice (headers, then body) runs each rule once.
        if (c.tx && !evaluate_rule_at(c.tx->stage, r.uses_body_buffer)) continue;
        MatchSpan span;
        std::span<const uint8_t> buf;
        int16_t buf_id;
        if (!evaluate(r, c, span, buf, buf_id)) continue;
        counters_.inc(SigCounter::confirmed);
        alerted_[ri] = cur_call_;
        if (c.state) {
            for (const auto& op : r.flowbits) {
                for (uint16_t b : op.bits) {
                    uint64_t& w = c.state->bits_[b / 64];
                    const uint64_t m = uint64_t{1} << (b % 64);
                    if (op.cmd == FlowbitCmd::set) w |= m;
                    else if (op.cmd == FlowbitCmd::unset) w &= ~m;
                    else if (op.cmd == FlowbitCmd::toggle) w ^= m;
                }
            }
        }
        if (r.detection_filter && !threshold_allows(r, ri, c, *r.detection_filter)) {
            counters_.inc(SigCounter::suppressed);
            continue;
        }
        if (r.action == RuleAction::pass) {
            if (c.state && !c.state->passed_) {
                c.state->passed_ = true;
                counters_.inc(SigCounter::passed_flows);
            }
            counters_block_->hits[ri].add();
            v = SigVerdict::pass;
            break;  // pass rules sort first: nothing else is inspected
        }
        if (r.threshold && !threshold_allows(r, ri, c, *r.threshold)) {
            counters_.inc(SigCounter::suppressed);
            continue;
        }
        v = std::max(v, verdict_of(r.action));
        if (r.noalert) {
            counters_.inc(SigCounter::suppressed);
            continue;
        }
        if (emitted >= cfg_.max_alerts_per_inspection) {
            counters_.inc(SigCounter::alert_overflow);
            continue;
        }
        ++emitted;
        counters_.inc(SigCounter::alerts);
        by_action_.inc(r.action);
        const size_t cls = r.classtype_index >= 0 && static_cast<size_t>(r.classtype_index) < class_count_ - 1
                               ? static_cast<size_t>(r.classtype_index)
                               : class_count_ - 1;
        counters_block_->by_class[cls].add();
        counters_block_->hits[ri].add();
        AlertEvent ev;
        ev.rule = &r;
        ev.rule_index = ri;
        ev.classtype = cls < class_count_ - 1 ? &rules_->classtypes()[cls] : nullptr;
        ev.action = r.action;
        ev.point = c.point;
        ev.dir = c.dir;
        ev.src = c.src;
        ev.dst = c.dst;
        ev.src_port = c.sport;
        ev.dst_port = c.dport;
        ev.buffer = buf;
        ev.buffer_id = buf_id;
        ev.match_start = std::min(span.start, buf.size());
        ev.match_end = std::min(span.end, buf.size());
        ev.buffer_stream_offset = c.point == InspectPoint::stream ? c.payload.base : 0;
        ev.packet = c.pkt;
        ev.tx = c.tx;
        ev.record = c.rec;
        ev.ts_ns = c.ts;
        sink.on_alert(ev);
    }
    const auto& s = inspector_.stats();
    counters_.inc(SigCounter::pcre_hyperscan, s.pcre_hyperscan - seen_inspector_.pcre_hyperscan);
    counters_.inc(SigCounter::pcre_fallbacks, s.pcre_pcre2 - seen_inspector_.pcre_pcre2);
    counters_.inc(SigCounter::pcre_errors, s.pcre_errors - seen_inspector_.pcre_errors);
    counters_.inc(SigCounter::backtrack_limit, s.budget_exhausted - seen_inspector_.budget_exhausted);
    seen_inspector_ = s;
    return v;
}

SigVerdict SignatureMatcher::inspect_packet(const PacketFacts& pkt, SigFlowState* state, AlertSink& sink) {
    counters_.inc(SigCounter::packets);
    next_call();
    if (state) {
        sync_state(*state);
        if (state->passed_) return SigVerdict::pass;
    }
    Ctx c;
    c.point = InspectPoint::packet;
    c.dir = pkt.dir;
    c.src = pkt.src;
    c.dst = pkt.dst;
    c.sport = pkt.src_port;
    c.dport = pkt.dst_port;
    c.ip_proto = pkt.ip_proto;
    c.flow_known = pkt.flow_known;
    c.established = pkt.established;
    c.app_proto = pkt.app_proto;
    c.state = state;
    c.pkt = &pkt;
    c.payload = InspectBuffer{pkt.payload, 0, 0};
    c.ts = pkt.ts_ns;
    begin();
    PacketClass cls = pkt.ip_proto == 6 ? PacketClass::tcp
                      : pkt.ip_proto == 17 ? PacketClass::udp
                      : (pkt.ip_proto == 1 || pkt.ip_proto == 58) ? PacketClass::icmp
                                                                  : PacketClass::other;
    collect_group(rules_->packet_group(cls, pkt.dir), pkt.payload);
    // IP-only rules: first packet of each direction of a flow, every packet without one
    if (!state || !state->dir_[index(pkt.dir)].ip_only_done) {
        for (uint32_t r : rules_->ip_only_by_src().lookup(pkt.src)) collect(r);
        for (uint32_t r : rules_->ip_only_by_dst().lookup(pkt.dst)) collect(r);
        for (uint32_t r : rules_->ip_only_plain()) collect(r);
        if (state) state->dir_[index(pkt.dir)].ip_only_done = true;
    }
    return confirm(c, sink);
}

SigVerdict SignatureMatcher::inspect_stream(const FlowFacts& flow, SigFlowState& state, Direction dir, uint64_t offset,
                                         std::span<const uint8_t> data, uint64_t ts_ns, AlertSink& sink) {
    counters_.inc(SigCounter::stream_chunks);
    next_call();
    sync_state(state);
    if (state.passed_) return SigVerdict::pass;
    auto& ds = state.dir_[index(dir)];
    if (offset > ds.next) stream_gap(state, dir, ds.next, offset - ds.next);
    if (offset < ds.next) {  // already seen: only the new tail counts
        if (offset + data.size() <= ds.next) return SigVerdict::none;
        data = data.subspan(static_cast<size_t>(ds.next - offset));
    }
    const RuleGroup& g = rules_->stream_group(dir);
    if (g.empty()) {
        ds.next += data.size();
        ds.win_len = 0;
        return SigVerdict::none;
    }
    const uint32_t wcap = cfg_.stream_window_bytes;
    if (!state.window_ || state.window_cap_ != wcap) {
        state.window_ = std::make_unique<uint8_t[]>(2 * size_t{wcap} + 1);  // once per flow
        state.window_cap_ = wcap;
        for (auto& d : state.dir_) d.win_len = 0;
    }
    uint8_t* win = state.window_.get() + index(dir) * size_t{wcap};
    if (g.db && !ds.hs) {
        hs_stream_t* s = nullptr;
        if (hs_open_stream(g.db.get(), 0, &s) == HS_SUCCESS) {
            ds.hs = s;
            ds.hs_base = ds.next - ds.win_len;
            state.hs_stream_bytes_ = rules_->stats().stream_state_bytes;
            if (ds.win_len > 0) {  // prime the automaton so a literal split across the reload still matches
                cur_group_ = &g;
                cur_hs_base_ = ds.hs_base;
                priming_ = &ds;
                hs_scan_stream(s, reinterpret_cast<const char*>(win), ds.win_len, 0, scratch_.get(), on_prime, this);
                priming_ = nullptr;
            }
        } else {
            counters_.inc(SigCounter::hs_errors);
        }
    }
    Ctx c = flow_ctx(flow, dir, &state, ts_ns);
    c.point = InspectPoint::stream;
    SigVerdict v = SigVerdict::none;
    size_t pos = 0;
    while (pos < data.size()) {
        const size_t n = std::min<size_t>(cfg_.stream_step_bytes, data.size() - pos);
        auto chunk = data.subspan(pos, n);
        begin();
        if (ds.hs) {
            cur_group_ = &g;
            cur_hs_base_ = ds.hs_base;
            stream_mode_ = true;
            counters_.inc(SigCounter::scans);
            hs_error_t rc = hs_scan_stream(ds.hs, reinterpret_cast<const char*>(chunk.data()), static_cast<unsigned>(n), 0,
                                           scratch_.get(), on_literal, this);
            stream_mode_ = false;
            if (rc != HS_SUCCESS && rc != HS_SCAN_TERMINATED) counters_.inc(SigCounter::hs_errors);
        }
        for (uint32_t r : g.always) collect(r);
        // rules whose literal is still inside the window may complete now
        const uint64_t window_start = ds.next - ds.win_len;
        uint8_t live = 0;
        for (uint8_t i = 0; i < ds.npending; ++i) {
            if (ds.pending[i].lit_end <= window_start) continue;
            ds.pending[live++] = ds.pending[i];
            collect(ds.pending[i].rule);
        }
        ds.npending = live;
        if (ncands_ > 0) {
            if (ds.win_len == 0) {
                c.payload = InspectBuffer{chunk, ds.next, 0};
            } else {
                std::memcpy(stream_buf_.get(), win, ds.win_len);
                std::memcpy(stream_buf_.get() + ds.win_len, chunk.data(), n);
                c.payload = InspectBuffer{{stream_buf_.get(), ds.win_len + n}, ds.next - ds.win_len, ds.win_len};
            }
            const size_t ncands = ncands_;
            v = std::max(v, confirm(c, sink));
            // literal seen, rule not confirmed: it may complete with later bytes
            for (size_t k = 0; k < ncands; ++k) {
                const uint32_t r = cands_[k];
                const bool matched = alerted_[r] == cur_call_;
                if (!matched && lit_stamp_[r] == cur_stamp_) pending_add(ds, r, lit_end_[r]);
                if (matched)
                    for (uint8_t i = 0; i < ds.npending; ++i)
                        if (ds.pending[i].rule == r) {
                            ds.pending[i] = ds.pending[--ds.npending];
                            break;
                        }
            }
        }
        // keep the last wcap bytes of this direction
        if (n >= wcap) {
            std::memcpy(win, chunk.data() + n - wcap, wcap);
            ds.win_len = wcap;
        } else {
            const size_t keep = std::min<size_t>(ds.win_len, wcap - n);
            std::memmove(win, win + ds.win_len - keep, keep);
            std::memcpy(win + keep, chunk.data(), n);
            ds.win_len = static_cast<uint32_t>(keep + n);
        }
        ds.next += n;
        pos += n;
        if (v == SigVerdict::pass) break;
    }
    return v;
}

void SignatureMatcher::stream_gap(SigFlowState& state, Direction dir, uint64_t offset, uint64_t len) {
    sync_state(state);
    auto& ds = state.dir_[index(dir)];
    counters_.inc(SigCounter::stream_gaps);
    ds.win_len = 0;
    ds.npending = 0;
    if (ds.hs) hs_reset_stream(ds.hs, 0, nullptr, nullptr, nullptr);
    ds.next = offset + len;
    ds.hs_base = ds.next;
}

SigVerdict SignatureMatcher::inspect_transaction(const FlowFacts& flow, SigFlowState& state, const AppTransaction& tx,
                                              uint64_t ts_ns, AlertSink& sink) {
    counters_.inc(SigCounter::transactions);
    next_call();
    sync_state(state);
    if (state.passed_) return SigVerdict::pass;
    begin();
    for (uint16_t key : rules_->tx_keys(tx.dir)) {
        bool ok;
        auto data = tx_buffer(tx, static_cast<int16_t>(key / 2), (key & 1) != 0, ok);
        if (!ok) continue;
        collect_group(rules_->tx_group(key, tx.dir), data);
    }
    for (uint32_t r : rules_->tx_unbuffered(tx.dir)) collect(r);
    Ctx c = flow_ctx(flow, tx.dir, &state, ts_ns);
    c.point = InspectPoint::transaction;
    c.tx = &tx;
    return confirm(c, sink);
}

SigVerdict SignatureMatcher::inspect_record(const FlowFacts& flow, SigFlowState& state, const AppRecord& rec, uint64_t ts_ns,
                                         AlertSink& sink) {
    counters_.inc(SigCounter::records);
    next_call();
    sync_state(state);
    if (state.passed_) return SigVerdict::pass;
    begin();
    for (uint32_t r : rules_->record_rules(rec.proto)) collect(r);
    Ctx c = flow_ctx(flow, rec.dir, &state, ts_ns);
    c.point = InspectPoint::record;
    c.rec = &rec;
    return confirm(c, sink);
}

void SignatureMatcher::end_flow(SigFlowState& state) {
    state.close_streams();
    state.window_.reset();
    state.window_cap_ = 0;
    for (auto& d : state.dir_) d.win_len = 0;
}

}  // namespace sluice
