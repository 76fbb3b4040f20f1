#include "dataplane/worker.hpp"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_mempool.h>
#include <rte_pause.h>
#include <rte_ring.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <ctime>
#include <thread>

#include "dataplane/reject.hpp"

namespace sluice {

namespace {

constexpr uint16_t kMaxBurst = 64;
constexpr uint32_t kExpireBudget = 512;

uint64_t realtime_ns() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// "Logged once with a clear reason": one line per malformed reason per process.
std::atomic<uint64_t> g_malformed_logged{0};

void log_malformed_once(MalformedReason r, const PacketRef& p) {
    const uint64_t bit = uint64_t{1} << static_cast<unsigned>(r);
    if (g_malformed_logged.load(std::memory_order_relaxed) & bit) return;
    if (g_malformed_logged.fetch_or(bit) & bit) return;
    spdlog::warn("malformed packet ({}): first seen on port {} ({} bytes); further ones are only counted "
                 "(sluice_malformed_packets_total{{reason=\"{}\"}})",
                 counter_name(r), p.rx_port, p.len, counter_name(r));
}

}  // namespace

Worker::Worker(const Config& config, const WorkerSetup& setup, SnapshotPublisher& snapshots, EventRing& events,
               const std::atomic<bool>& stop)
    : config_(config),
      setup_(setup),
      snapshots_(snapshots),
      stop_(stop),
      ips_(config.mode == RunMode::ips),
      burst_(std::min<uint32_t>(config.capture.burst, kMaxBurst)),
      flows_(std::make_unique<FlowTable>(config.flow_capacity, config.flow_timeouts)),
      reasm_(std::make_unique<TcpReassembler>(
          config.stream, static_cast<uint32_t>(std::max<uint64_t>(config.stream_memcap / 2048, 16)))),
      defrag_(std::make_unique<Defragmenter>(config.defrag.max_datagrams, uint64_t{config.defrag.timeout_s} * 1000000000ull)),
      eve_(events, eve_type_mask(config.eve.types), setup.offline, setup_.in_iface),
      scratch_(new uint8_t[kScratch * kMaxBurst]),
      held_(std::max<uint32_t>(config.capture.hold_packets, 1)),
      refs_(new PacketRef[kMaxBurst]),
      probes_(new FlowTable::Probe[kMaxBurst]) {
    refresh_snapshot();
    const auto table = detector_table();
    by_slot_.assign(table.size(), nullptr);
    for (size_t i = 0; i < table.size() && i < kMaxDetectors; ++i) {
        if (!table[i].enabled(config)) continue;
        detectors_.push_back(table[i].create(config, *snapshot_, *this, static_cast<unsigned>(i)));
        Detector* d = detectors_.back().get();
        by_slot_[i] = d;
        const uint32_t h = table[i].hooks;
        if (h & hook::classify) hooked_.classify.push_back(d);
        if (h & hook::stream) hooked_.stream.push_back(d);
        if (h & hook::inspect) hooked_.inspect.push_back(d);
        if (h & hook::transaction) hooked_.transaction.push_back(d);
        if (h & hook::record) hooked_.record.push_back(d);
        if (h & hook::flow_event) hooked_.flow_event.push_back(d);
    }
}

void Worker::refresh_snapshot() {
    const uint64_t gen = snapshots_.generation();
    if (gen == generation_) return;
    snapshot_ = snapshots_.current();
    generation_ = snapshot_->generation;
    filter_ = snapshot_->filter.get();
    for (auto& d : detectors_) d->on_snapshot(*snapshot_);
    snapshots_.ack(setup_.id, generation_);
}

Worker::~Worker() = default;

void Worker::raise(PacketRef& p, Verdict v, DropReason why) {
    if (v > p.verdict) {
        p.verdict = v;
        p.reason = why;
    }
    if (v >= Verdict::drop_flow && p.flow && !(p.flow->flags & flowflag::drop)) {
        p.flow->flags |= flowflag::drop;
        p.flow->drop_from = p.flow_pkt_no;
        p.flow->drop_reason = static_cast<uint8_t>(why);
        emit_drop_event(p);
    }
}

void Worker::raise(StreamContext& ctx, Verdict v, DropReason why) {
    if (ctx.packet) {
        raise(*ctx.packet, v, why);
        return;
    }
    // Data flushed at flow end: nothing left to drop, but the flow records it.
    Flow& f = ctx.flow;
    if (v >= Verdict::drop_flow && !(f.flags & flowflag::drop)) {
        f.flags |= flowflag::drop;
        f.drop_from = f.pkts[0] + f.pkts[1] + 1;
        f.drop_reason = static_cast<uint8_t>(why);
    }
}

void Worker::stop_inspection(Flow& f) { f.flags |= flowflag::pass; }

uint64_t Worker::steady_ns() const {
    return static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
}

bool Worker::hold(PacketRef& p, uint64_t token, uint64_t deadline_ns, Verdict on_timeout) {
    if (!ips_) return false;  // ids mode never delays a packet
    if (p.held) {
        p.hold_token = token;  // one hold per packet: the latest token settles it
        return true;
    }
    if (held_count_ >= held_.size()) {
        counters_.inc(WorkerCounter::hold_full);
        return false;
    }
    ++held_count_;  // reserved now, parked by dispose()
    p.held = true;
    p.hold_token = token;
    p.hold_deadline = deadline_ns;
    p.hold_timeout = on_timeout;
    counters_.inc(WorkerCounter::held);
    return true;
}

void Worker::release(uint64_t token, Verdict v, DropReason why) {
    if (!held_count_) return;
    for (auto& h : held_) {
        if (!h.mbuf || h.token != token) continue;
        rte_mbuf* m = h.mbuf;
        h.mbuf = nullptr;
        --held_count_;
        counters_.inc(WorkerCounter::hold_released);
        settle(m, h.rx_index, h.pkt, v, why);
    }
}

void Worker::expire_holds(bool all) {
    if (!held_count_) return;
    const uint64_t now = steady_ns();
    for (auto& h : held_) {
        if (!h.mbuf || (!all && now < h.deadline)) continue;
        rte_mbuf* m = h.mbuf;
        h.mbuf = nullptr;
        --held_count_;
        counters_.inc(WorkerCounter::hold_timeouts);
        settle(m, h.rx_index, h.pkt, h.on_timeout, DropReason::malware);
    }
}

void Worker::settle(rte_mbuf* m, uint16_t rx_index, const DecodedPacket& pkt, Verdict v, DropReason why) {
    PacketRef r;
    r.mbuf = m;
    r.data = rte_pktmbuf_mtod(m, const uint8_t*);
    r.len = rte_pktmbuf_data_len(m);
    r.pkt = pkt;
    r.verdict = v;
    r.reason = why;
    if (v != Verdict::forward && ips_) {
        drops_.inc(why);
        counters_.inc(WorkerCounter::dropped);
    }
    if (v == Verdict::forward) counters_.inc(WorkerCounter::forwarded);
    rte_mbuf* rejects[2] = {nullptr, nullptr};
    const unsigned nrej = (v == Verdict::reject && ips_) ? build_rejects(r, rejects) : 0;
    counters_.inc(WorkerCounter::rejects_sent, nrej);
    if (setup_.dispatch.input) {
        const uint64_t seqn = *RTE_MBUF_DYNFIELD(m, setup_.seqn_offset, uint64_t*);
        DispatchSlot& s = setup_.dispatch.slots[seqn % setup_.dispatch.window];
        s.mbuf = m;
        s.forward = v == Verdict::forward;
        s.extra[0] = nrej > 0 ? rejects[0] : nullptr;
        s.extra[1] = nrej > 1 ? rejects[1] : nullptr;
        s.done.store(true, std::memory_order_release);
        return;
    }
    const WorkerRxQueue* rxq = setup_.rx.empty() ? nullptr : &setup_.rx[rx_index];
    auto send = [this](int port, rte_mbuf* pkt_mbuf) {
        if (port < 0 || rte_eth_tx_burst(static_cast<uint16_t>(port), setup_.tx_queue, &pkt_mbuf, 1) != 1) {
            if (port >= 0) drops_.inc(DropReason::tx_full);
            rte_pktmbuf_free(pkt_mbuf);
            return;
        }
        counters_.inc(WorkerCounter::tx_packets);
    };
    for (unsigned k = 0; k < nrej; ++k) {
        const bool to_sender = rejects[k]->packet_type == 1;
        rejects[k]->packet_type = 0;
        send(!rxq ? -1 : to_sender ? (rxq->reject_port_tx ? rxq->reject_port : -1) : rxq->tx_port, rejects[k]);
    }
    if (v == Verdict::forward) send(rxq ? rxq->tx_port : -1, m);
    else rte_pktmbuf_free(m);
}

void Worker::publish(StreamContext& ctx, const AppTransaction& tx) {
    if (ctx.flow.flags & (flowflag::drop | flowflag::pass)) return;
    for (Detector* d : hooked_.transaction) d->on_transaction(ctx, tx);
}

void Worker::publish(StreamContext& ctx, const AppRecord& record) {
    if (ctx.flow.flags & (flowflag::drop | flowflag::pass)) return;
    for (Detector* d : hooked_.record) d->on_record(ctx, record);
}

void Worker::handle_malformed(PacketRef& r) {
    const MalformedReason why = r.pkt.malformed;
    malformed_.inc(why);
    counters_.inc(WorkerCounter::malformed);
    log_malformed_once(why, r);
    emit_anomaly(r);
    if (config_.malformed == MalformedPolicy::drop) raise(r, Verdict::drop_packet, DropReason::malformed);
}

void Worker::emit_anomaly(const PacketRef& r) {
    JsonWriter* w = eve_.begin(EveType::anomaly, r.ts_ns, 0, nullptr);
    if (!w) return;
    w->begin_object("anomaly")
        .kv("type", "decode")
        .kv("event", counter_name(r.pkt.malformed))
        .kv("layer", r.pkt.ip_version ? (r.pkt.ip_version == 4 ? "ipv4" : "ipv6") : "ethernet")
        .kv("len", r.len)
        .kv("port", r.rx_port)
        .end_object();
    eve_.end();
}

void Worker::emit_drop_event(const PacketRef& r) {
    if (!r.flow) return;
    const Flow& f = *r.flow;
    const EveEndpoints ep = packet_endpoints(r.pkt);
    JsonWriter* w = eve_.begin(EveType::drop, r.ts_ns, f.flow_id, &ep, f.app_proto);
    if (!w) return;
    w->begin_object("drop")
        .kv("len", r.len)
        .kv("ttl", r.pkt.ttl)
        .kv("ipid", r.pkt.ip_id)
        .kv("reason", counter_name(r.reason))
        .kv("action", ips_ ? "blocked" : "allowed")
        .kv("verdict", to_string(r.verdict));
    if (r.pkt.ip_proto == ipproto::tcp) {
        w->kv("tcpseq", r.pkt.tcp_seq).kv("tcpack", r.pkt.tcp_ack).kv("tcpwin", r.pkt.tcp_window);
        w->kv("syn", (r.pkt.tcp_flags & tcpflag::syn) != 0).kv("ack", (r.pkt.tcp_flags & tcpflag::ack) != 0);
        w->kv("psh", (r.pkt.tcp_flags & tcpflag::psh) != 0).kv("rst", (r.pkt.tcp_flags & tcpflag::rst) != 0);
        w->kv("fin", (r.pkt.tcp_flags & tcpflag::fin) != 0);
    }
    if (r.reason == DropReason::filter && f.filter_rule) {
        const auto& rules = filter_->config().rules;
        const size_t idx = f.filter_rule - 1u;
        if (idx < rules.size()) w->kv("filter_rule", rules[idx].name);
    }
    w->end_object();
    eve_.end();
}

void Worker::emit_flow_event(const Flow& f, FlowEndReason reason) {
    const EveEndpoints ep = flow_endpoints(f);
    JsonWriter* w = eve_.begin(EveType::flow, f.last_ns, f.flow_id, &ep, f.app_proto);
    if (!w) return;
    char start[32], end[32];
    format_eve_time(f.first_ns, start);
    format_eve_time(f.last_ns, end);
    const unsigned ts = index(Direction::to_server), tc = index(Direction::to_client);
    w->begin_object("flow")
        .kv("pkts_toserver", f.pkts[ts])
        .kv("pkts_toclient", f.pkts[tc])
        .kv("bytes_toserver", f.bytes[ts])
        .kv("bytes_toclient", f.bytes[tc])
        .kv("start", std::string_view(start, 31))
        .kv("end", std::string_view(end, 31))
        .kv("age", (f.last_ns - f.first_ns) / 1000000000ull)
        .kv("state", to_string(f.state))
        .kv("reason", counter_name(reason))
        .kv("alerted", (f.flags & flowflag::alerted) != 0);
    if (f.flags & flowflag::drop) {
        w->kv("action", ips_ ? "drop" : "would_drop");
        w->kv("drop_reason", counter_name(static_cast<DropReason>(f.drop_reason)));
    }
    if (f.flags & flowflag::bypass) w->kv("bypass", "filter");
    w->end_object();
    if (f.key.ip_proto == ipproto::tcp) {
        char hex[8];
        auto flags_hex = [&hex](uint8_t v) {
            static constexpr char digits[] = "0123456789abcdef";
            hex[0] = digits[v >> 4];
            hex[1] = digits[v & 0xF];
            return std::string_view(hex, 2);
        };
        const uint8_t all = f.tcp_flags[ts] | f.tcp_flags[tc];
        w->begin_object("tcp");
        w->kv("tcp_flags", flags_hex(all));
        w->kv("tcp_flags_ts", flags_hex(f.tcp_flags[ts]));
        w->kv("tcp_flags_tc", flags_hex(f.tcp_flags[tc]));
        if (all & tcpflag::syn) w->kv("syn", true);
        if (all & tcpflag::fin) w->kv("fin", true);
        if (all & tcpflag::rst) w->kv("rst", true);
        if (all & tcpflag::psh) w->kv("psh", true);
        if (all & tcpflag::ack) w->kv("ack", true);
        w->kv("state", to_string(f.tcp_state));
        w->end_object();
    }
    for (Detector* d : hooked_.flow_event) d->write_flow_event(f, *w);
    eve_.end();
}

void Worker::prepare(PacketRef& r, rte_mbuf* m, uint16_t rx_index, unsigned slot) {
    // Field by field: a whole `r = PacketRef{}` costs a zeroed temporary and a
    // copy per packet; decode_ethernet() resets r.pkt itself.
    r.flow = nullptr;
    r.dir = Direction::to_server;
    r.flow_pkt_no = 0;
    r.verdict = Verdict::forward;
    r.reason = DropReason::count;
    r.inspect = false;
    r.established = false;
    r.reassembled = false;
    r.held = false;
    r.mbuf = m;
    r.rx_port = setup_.rx.empty() ? m->port : setup_.rx[rx_index].port;
    r.len = rte_pktmbuf_pkt_len(m);
    if (setup_.offline && setup_.timestamp_offset >= 0 && (m->ol_flags & setup_.timestamp_flag))
        r.ts_ns = *RTE_MBUF_DYNFIELD(m, setup_.timestamp_offset, uint64_t*) * 1000ull;
    else
        r.ts_ns = now_ns_;
    counters_.inc(WorkerCounter::rx_packets);
    counters_.inc(WorkerCounter::rx_bytes, r.len);

    uint8_t* scratch = scratch_.get() + slot * kScratch;
    if (rte_pktmbuf_is_contiguous(m)) {
        r.data = rte_pktmbuf_mtod(m, const uint8_t*);
    } else {
        const uint32_t len = std::min<uint32_t>(r.len, static_cast<uint32_t>(kScratch));
        r.data = static_cast<const uint8_t*>(rte_pktmbuf_read(m, 0, len, scratch));
        r.len = len;
    }
    decode_ethernet(r.data, r.len, r.pkt);
    switch (r.pkt.status) {
        case DecodeStatus::ok:
            break;
        case DecodeStatus::not_ip:
            counters_.inc(WorkerCounter::non_ip);
            if (filter_->non_ip() == FilterAction::drop || filter_->non_ip() == FilterAction::drop_packet ||
                filter_->non_ip() == FilterAction::reject)
                raise(r, Verdict::drop_packet, DropReason::non_ip);
            return;
        case DecodeStatus::malformed:
            handle_malformed(r);
            return;
        case DecodeStatus::fragment: {
            counters_.inc(WorkerCounter::fragments);
            if (!config_.defrag.enabled) return;
            auto dg = defrag_->add(r.data, r.pkt, r.ts_ns);
            if (dg.empty()) return;  // held for reassembly; the fragment itself goes on
            const size_t n = std::min(dg.size(), kScratch);
            std::memcpy(scratch, dg.data(), n);
            DecodedPacket whole;
            whole.ethertype = r.pkt.ethertype;
            whole.vlan_count = r.pkt.vlan_count;
            whole.vlan[0] = r.pkt.vlan[0];
            whole.vlan[1] = r.pkt.vlan[1];
            decode_ip(scratch, static_cast<uint32_t>(n), 0, whole);
            r.data = scratch;
            r.len = static_cast<uint32_t>(n);
            r.reassembled = true;
            r.pkt = whole;
            if (whole.status != DecodeStatus::ok) {
                if (whole.status == DecodeStatus::malformed) handle_malformed(r);
                return;
            }
            break;
        }
    }
}

void Worker::apply_filter(PacketRef& r) {
    Flow& f = *r.flow;
    if (!(f.flags & flowflag::filtered)) {
        f.flags |= flowflag::filtered;
        if (filter_->is_pass_through()) {
            f.filter_action = static_cast<uint8_t>(FilterAction::allow);
        } else {
            const FilterVerdict v =
                filter_->evaluate(f.key.ip_proto, f.client_addr(), f.client_port(), f.server_addr(), f.server_port());
            f.filter_action = static_cast<uint8_t>(v.action);
            f.filter_rule = static_cast<uint16_t>(v.rule + 1);
        }
    }
    switch (static_cast<FilterAction>(f.filter_action)) {
        case FilterAction::allow:
            break;
        case FilterAction::bypass:
            f.flags |= flowflag::bypass;
            break;
        case FilterAction::drop:
            raise(r, Verdict::drop_flow, DropReason::filter);
            break;
        case FilterAction::drop_packet:
            raise(r, Verdict::drop_packet, DropReason::filter);
            break;
        case FilterAction::reject:
            raise(r, (f.flags & flowflag::rejected) ? Verdict::drop_flow : Verdict::reject, DropReason::filter);
            break;
    }
}

bool Worker::track(PacketRef& r, const FlowTable::Probe& probe) {
    const PacketFlowInfo info = flows_->lookup(r.pkt, probe, r.ts_ns, *this);
    if (info.blocked) return false;
    if (!info.flow) {
        counters_.inc(WorkerCounter::no_flow);
        return true;
    }
    Flow& f = *info.flow;
    if (info.created) {
        switch (f.pclass) {
            case ProtoClass::tcp: counters_.inc(WorkerCounter::flows_tcp); break;
            case ProtoClass::udp: counters_.inc(WorkerCounter::flows_udp); break;
            case ProtoClass::icmp: counters_.inc(WorkerCounter::flows_icmp); break;
            default: counters_.inc(WorkerCounter::flows_other); break;
        }
    }
    flows_->update(f, info.dir, r.pkt, r.ts_ns);
    r.flow = &f;
    r.dir = info.dir;
    r.flow_pkt_no = f.pkts[0] + f.pkts[1];
    r.flow_pkts[0] = static_cast<uint32_t>(f.pkts[0]);
    r.flow_pkts[1] = static_cast<uint32_t>(f.pkts[1]);
    r.flow_bytes[0] = f.bytes[0];
    r.flow_bytes[1] = f.bytes[1];
    r.established = f.key.ip_proto == ipproto::tcp
                        ? (f.tcp_state == TcpState::established || f.tcp_state == TcpState::fin_wait ||
                           f.tcp_state == TcpState::closing)
                        : (f.pkts[0] > 0 && f.pkts[1] > 0);
    if ((f.flags & flowflag::drop) && r.flow_pkt_no > f.drop_from) {
        r.verdict = std::max(r.verdict, Verdict::drop_flow);
        r.reason = DropReason::flow;
    } else {
        apply_filter(r);
    }
    r.inspect = !(f.flags & (flowflag::drop | flowflag::bypass | flowflag::pass));
    if (f.flags & flowflag::bypass) counters_.inc(WorkerCounter::bypassed);
    return true;
}

void Worker::on_data(Direction dir, uint64_t offset, std::span<const uint8_t> data) {
    if (!stream_ctx_) return;
    if (stream_ctx_->flow.flags & (flowflag::drop | flowflag::bypass | flowflag::pass)) return;
    for (Detector* d : hooked_.stream) d->on_stream_data(*stream_ctx_, dir, offset, data);
}

void Worker::on_gap(Direction dir, uint64_t offset, uint64_t len) {
    if (!stream_ctx_) return;
    for (Detector* d : hooked_.stream) d->on_stream_gap(*stream_ctx_, dir, offset, len);
}

void Worker::on_end() {
    if (!stream_ctx_) return;
    for (Detector* d : hooked_.stream) d->on_stream_end(stream_ctx_->flow);
}

void Worker::on_flow_end(Flow& flow, FlowEndReason reason) {
    if (flow.key.ip_proto == ipproto::tcp) {
        if (!detectors_.empty() && !(flow.flags & (flowflag::drop | flowflag::bypass | flowflag::pass))) {
            StreamContext ctx{flow, nullptr};
            StreamContext* saved = stream_ctx_;
            stream_ctx_ = &ctx;
            reasm_->finish(flow.stream, *this);
            stream_ctx_ = saved;
        } else {
            reasm_->release(flow.stream);
        }
    }
    for (auto& d : detectors_) d->on_flow_end(flow);
    emit_flow_event(flow, reason);
}

unsigned Worker::build_rejects(const PacketRef& r, rte_mbuf** out) {
    unsigned n = 0;
    for (int to_sender = 1; to_sender >= 0; --to_sender) {
        rte_mbuf* m = rte_pktmbuf_alloc(setup_.pool);
        if (!m) {
            drops_.inc(DropReason::no_mbuf);
            continue;
        }
        uint8_t* buf = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, 1600));
        size_t len = 0;
        if (buf) {
            std::span<uint8_t> span(buf, 1600);
            // A reassembled datagram has no L2 header of its own: use the fragment's frame.
            const uint8_t* frame = r.data;
            DecodedPacket p = r.pkt;
            if (r.reassembled) {
                frame = rte_pktmbuf_mtod(r.mbuf, const uint8_t*);
                p.l3_offset = 0;  // degenerate: no L2 header available in the datagram copy
            }
            len = to_sender ? build_reject_to_sender(frame, p, span) : build_reject_to_receiver(frame, p, span);
        }
        if (len == 0) {
            rte_pktmbuf_free(m);
            continue;
        }
        rte_pktmbuf_trim(m, static_cast<uint16_t>(1600 - len));
        m->packet_type = to_sender ? 1 : 0;  // 1: goes back out of the RX port
        out[n++] = m;
    }
    return n;
}

void Worker::dispose(PacketRef* refs, uint16_t n, uint16_t rx_index) {
    rte_mbuf* tx[kMaxBurst + 2 * kMaxBurst];
    rte_mbuf* back[2 * kMaxBurst];
    uint16_t ntx = 0, nback = 0;
    const bool dispatched = setup_.dispatch.input != nullptr;
    const WorkerRxQueue* rxq = setup_.rx.empty() ? nullptr : &setup_.rx[rx_index];
    for (uint16_t i = 0; i < n; ++i) {
        PacketRef& r = refs[i];
        if (r.held && r.verdict == Verdict::forward) {
            // Parked until its verdict: neither sent nor freed now.
            for (auto& h : held_) {
                if (h.mbuf) continue;
                h.mbuf = r.mbuf;
                h.token = r.hold_token;
                h.deadline = r.hold_deadline;
                h.pkt = r.pkt;
                h.rx_index = rx_index;
                h.on_timeout = r.hold_timeout;
                break;
            }
            continue;
        }
        if (r.held) --held_count_;  // dropped anyway: the reserved place is free again
        rte_mbuf* rejects[2] = {nullptr, nullptr};
        unsigned nrej = 0;
        const bool drop = r.verdict != Verdict::forward;
        if (drop && !ips_) would_drops_.inc(r.reason), counters_.inc(WorkerCounter::would_drop);
        if (drop && ips_) {
            drops_.inc(r.reason);
            counters_.inc(WorkerCounter::dropped);
            if (r.verdict == Verdict::reject) nrej = build_rejects(r, rejects);
            counters_.inc(WorkerCounter::rejects_sent, nrej);
        }
        const bool forward = !drop || !ips_;
        if (dispatched) {
            const uint64_t seqn = *RTE_MBUF_DYNFIELD(r.mbuf, setup_.seqn_offset, uint64_t*);
            DispatchSlot& s = setup_.dispatch.slots[seqn % setup_.dispatch.window];
            s.mbuf = r.mbuf;
            s.forward = forward;
            s.extra[0] = nrej > 0 ? rejects[0] : nullptr;
            s.extra[1] = nrej > 1 ? rejects[1] : nullptr;
            if (forward) counters_.inc(WorkerCounter::forwarded);
            s.done.store(true, std::memory_order_release);
            continue;
        }
        for (unsigned k = 0; k < nrej; ++k) {
            rte_mbuf* m = rejects[k];
            const bool to_sender = m->packet_type == 1;
            m->packet_type = 0;
            if (to_sender && rxq && rxq->reject_port_tx) back[nback++] = m;
            else if (!to_sender && rxq && rxq->tx_port >= 0) tx[ntx++] = m;
            else rte_pktmbuf_free(m);
        }
        if (!forward) {
            rte_pktmbuf_free(r.mbuf);
            continue;
        }
        counters_.inc(WorkerCounter::forwarded);
        if (rxq && rxq->tx_port >= 0) tx[ntx++] = r.mbuf;
        else rte_pktmbuf_free(r.mbuf);
    }
    if (dispatched || !rxq) return;
    auto send = [this](uint16_t port, rte_mbuf** pkts, uint16_t count) {
        uint16_t sent = 0;
        // A short retry: virtual devices drain their queue as they go.
        for (int tries = 0; sent < count && tries < 8; ++tries)
            sent += rte_eth_tx_burst(port, setup_.tx_queue, pkts + sent, count - sent);
        counters_.inc(WorkerCounter::tx_packets, sent);
        if (sent < count) {
            drops_.inc(DropReason::tx_full, count - sent);
            rte_pktmbuf_free_bulk(pkts + sent, count - sent);
        }
    };
    if (nback) send(rxq->reject_port, back, nback);
    if (ntx) {
        uint64_t bytes = 0;
        for (uint16_t i = 0; i < ntx; ++i) bytes += rte_pktmbuf_pkt_len(tx[i]);
        counters_.inc(WorkerCounter::tx_bytes, bytes);
        send(static_cast<uint16_t>(rxq->tx_port), tx, ntx);
    }
}

void Worker::process_burst(rte_mbuf** mbufs, uint16_t n, uint16_t rx_index) {
    PacketRef* refs = refs_.get();  // reused across bursts: nothing to construct per burst
    if (snapshots_.generation() != generation_) refresh_snapshot();
    if (!setup_.offline) now_ns_ = realtime_ns();
    flows_->next_epoch();

    // Runs the detection stages for refs[from, to) and settles their verdicts,
    // so that their flows may end afterwards.
    auto run_stages = [this, &refs](uint16_t from, uint16_t to) {
        PacketRef* inspect[kMaxBurst];
        uint16_t ni = 0;
        for (uint16_t i = from; i < to; ++i)
            if (refs[i].inspect) inspect[ni++] = &refs[i];
        if (!detectors_.empty() && ni) {
            std::span<PacketRef* const> batch(inspect, ni);
            for (Detector* d : hooked_.classify) d->classify(batch);
            for (uint16_t k = 0; k < ni; ++k) {
                PacketRef& r = *inspect[k];
                if (r.pkt.ip_proto != ipproto::tcp || !r.flow) continue;
                StreamContext ctx{*r.flow, &r};
                stream_ctx_ = &ctx;
                reasm_->on_segment(r.flow->stream, r.dir, r.pkt.tcp_seq, r.pkt.tcp_ack, r.pkt.tcp_flags,
                                   {r.data + r.pkt.payload_offset, r.pkt.payload_len}, *this);
                stream_ctx_ = nullptr;
            }
            for (Detector* d : hooked_.inspect) d->inspect(batch);
        }
        for (uint16_t i = from; i < to; ++i) {
            PacketRef& r = refs[i];
            // A flow dropped by a later packet's detection in this burst: the
            // packets after that one go too (they were tracked before it).
            if (r.flow && (r.flow->flags & flowflag::drop) && r.flow->drop_from && r.flow_pkt_no > r.flow->drop_from &&
                r.verdict < Verdict::drop_flow) {
                r.verdict = Verdict::drop_flow;
                r.reason = DropReason::flow;
            }
            if (r.flow && r.verdict == Verdict::reject) {
                if (r.flow->flags & flowflag::rejected) r.verdict = Verdict::drop_flow;
                else if (ips_) r.flow->flags |= flowflag::rejected;
            }
            r.flow = nullptr;  // the flow may end from here on
        }
    };

    // Decode the burst and hash every flow key, prefetching its bucket; then
    // prefetch the flows the buckets point to; then look them up. The cache
    // misses of the burst overlap instead of following one another.
    FlowTable::Probe* probes = probes_.get();  // reused like refs: written by probe() before use
    uint64_t max_ts = now_ns_;
    for (uint16_t i = 0; i < n; ++i) {
        prepare(refs[i], mbufs[i], rx_index, i);
        if (refs[i].ts_ns > max_ts) max_ts = refs[i].ts_ns;
        if (refs[i].pkt.status == DecodeStatus::ok) flows_->probe(refs[i].pkt, probes[i]);
    }
    for (uint16_t i = 0; i < n; ++i)
        if (refs[i].pkt.status == DecodeStatus::ok) flows_->prefetch_flow(probes[i]);
    uint16_t start = 0;
    for (uint16_t i = 0; i < n; ++i) {
        if (refs[i].pkt.status != DecodeStatus::ok) continue;
        if (!track(refs[i], probes[i])) {
            // The flow table must end a flow that earlier packets of this burst
            // still use: settle those packets first, then look up again.
            run_stages(start, i);
            start = i;
            flows_->next_epoch();
            track(refs[i], probes[i]);
        }
    }
    run_stages(start, n);
    if (max_ts > now_ns_) now_ns_ = max_ts;
    clock_pub_.store(now_ns_, std::memory_order_relaxed);
    dispose(refs, n, rx_index);
}

void Worker::housekeeping() {
    refresh_snapshot();
    flows_->next_epoch();
    flows_->expire(now_ns_, kExpireBudget, *this);
    defrag_->expire(now_ns_);
}

void Worker::finish() {
    // Verdicts still on their way: give them their deadline, then settle.
    while (held_count_) {
        for (auto& d : detectors_) d->poll();
        expire_holds(false);
        if (held_count_) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    flows_->next_epoch();
    flows_->end_all(*this, FlowEndReason::shutdown, now_ns_);
    // Results of work the flows' end started (files handed to the scanner).
    auto pending = [this] {
        for (const auto& d : detectors_)
            if (d->pending()) return true;
        return false;
    };
    while (pending() || held_count_) {
        for (auto& d : detectors_) d->poll();
        expire_holds(false);
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    finished_.store(true, std::memory_order_release);
}

int Worker::run() {
    rte_mbuf* pkts[kMaxBurst];
    const bool dispatched = setup_.dispatch.input != nullptr;
    uint64_t idle_polls = 0;
    uint64_t last = rte_rdtsc();
    if (!setup_.offline) now_ns_ = realtime_ns();
    while (!stop_.load(std::memory_order_relaxed)) {
        bool any = false;
        if (dispatched) {
            // Read the dispatcher's clock before looking at the ring: every packet
            // older than it is in the ring or done, so it is a safe "now".
            const uint64_t clock = setup_.dispatch.clock->load(std::memory_order_acquire);
            const bool done = setup_.dispatch.input_done->load(std::memory_order_acquire);
            const unsigned n = rte_ring_dequeue_burst(setup_.dispatch.input, reinterpret_cast<void**>(pkts), burst_, nullptr);
            if (n) {
                const uint64_t t0 = rte_rdtsc();
                process_burst(pkts, static_cast<uint16_t>(n), 0);
                counters_.inc(WorkerCounter::busy_cycles, rte_rdtsc() - t0);
                counters_.inc(WorkerCounter::bursts);
                any = true;
            } else {
                if (clock > now_ns_) now_ns_ = clock;
                if (done) break;
            }
        } else {
            for (uint16_t q = 0; q < setup_.rx.size(); ++q) {
                const uint16_t n = rte_eth_rx_burst(setup_.rx[q].port, setup_.rx[q].queue, pkts, static_cast<uint16_t>(burst_));
                if (!n) continue;
                const uint64_t t0 = rte_rdtsc();
                process_burst(pkts, n, q);
                counters_.inc(WorkerCounter::busy_cycles, rte_rdtsc() - t0);
                counters_.inc(WorkerCounter::bursts);
                any = true;
            }
            // A capture file is over when a poll finds nothing although the
            // pool has room: net_pcap only returns nothing at end of file.
            if (!any && setup_.offline && rte_mempool_avail_count(setup_.pool) > 2 * burst_) break;
        }
        for (auto& d : detectors_) d->poll();
        if (held_count_) expire_holds(false);
        if (!setup_.offline && !any) now_ns_ = realtime_ns();
        if (now_ns_ - last_housekeeping_ns_ > 100000000ull || (!any && now_ns_ != last_housekeeping_ns_)) {
            housekeeping();
            last_housekeeping_ns_ = now_ns_;
        }
        const uint64_t t = rte_rdtsc();
        counters_.inc(WorkerCounter::loop_cycles, t - last);
        last = t;
        if (any) {
            idle_polls = 0;
        } else if (config_.capture.idle_sleep_us && ++idle_polls > 64) {
            std::this_thread::sleep_for(std::chrono::microseconds(config_.capture.idle_sleep_us));
        } else if (dispatched) {
            rte_pause();
        }
    }
    finish();
    return 0;
}

}  // namespace sluice
