#include "tests/detectors/appid/mini_worker.hpp"

#include <pcap/pcap.h>

#include <algorithm>
#include <cstring>

namespace sluice::test {

namespace {

uint64_t all_eve_types() {
    std::vector<std::string> names;
    for (size_t i = 0; i < static_cast<size_t>(EveType::count); ++i)
        names.emplace_back(counter_name(static_cast<EveType>(i)));
    return eve_type_mask(names);
}

}  // namespace

MiniWorker::MiniWorker(const MiniWorkerOptions& options)
    : options_(options),
      flows_(std::make_unique<FlowTable>(options.flow_capacity, options.timeouts)),
      reasm_(std::make_unique<TcpReassembler>(options.stream, 32768)),
      defrag_(std::make_unique<Defragmenter>(1024, 60ull * 1000000000ull)),
      ring_(std::make_unique<EventRing>(8u << 20)),
      eve_(std::make_unique<EveEmitter>(*ring_, all_eve_types(), false, "test")) {
    burst_.reserve(std::max<uint32_t>(options.burst, 1));
}

MiniWorker::~MiniWorker() = default;

bool MiniWorker::run_capture(const std::string& path, std::string* error) {
    char errbuf[PCAP_ERRBUF_SIZE] = {};
    pcap_t* p = pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, errbuf);
    if (!p) {
        if (error) *error = errbuf;
        return false;
    }
    if (pcap_datalink(p) != DLT_EN10MB) {
        if (error) *error = "link type " + std::to_string(pcap_datalink(p)) + " is not Ethernet";
        pcap_close(p);
        return false;
    }
    pcap_pkthdr* h = nullptr;
    const u_char* data = nullptr;
    while (pcap_next_ex(p, &h, &data) == 1)
        frame(data, h->caplen, static_cast<uint64_t>(h->ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(h->ts.tv_usec));
    pcap_close(p);
    finish();
    return true;
}

void MiniWorker::frame(const uint8_t* data, uint32_t len, uint64_t ts_ns) {
    Pending& p = burst_.emplace_back();
    p.bytes.assign(data, data + len);
    p.ref.ts_ns = ts_ns;
    ++packets;
    if (burst_.size() >= options_.burst) flush();
}

void MiniWorker::flush() {
    if (burst_.empty()) return;
    flows_->next_epoch();
    size_t start = 0;
    uint64_t now = 0;
    for (size_t i = 0; i < burst_.size(); ++i) {
        Pending& p = burst_[i];
        PacketRef& r = p.ref;
        now = std::max(now, r.ts_ns);
        r.data = p.bytes.data();
        r.len = static_cast<uint32_t>(p.bytes.size());
        decode_ethernet(r.data, r.len, r.pkt);
        if (r.pkt.status == DecodeStatus::fragment) {
            const auto dg = defrag_->add(r.data, r.pkt, r.ts_ns);
            if (dg.empty()) continue;
            DecodedPacket whole;
            whole.ethertype = r.pkt.ethertype;
            whole.vlan_count = r.pkt.vlan_count;
            whole.vlan[0] = r.pkt.vlan[0];
            whole.vlan[1] = r.pkt.vlan[1];
            p.bytes.assign(dg.begin(), dg.end());
            r.data = p.bytes.data();
            r.len = static_cast<uint32_t>(p.bytes.size());
            decode_ip(r.data, r.len, 0, whole);
            r.pkt = whole;
            r.reassembled = true;
        }
        if (r.pkt.status != DecodeStatus::ok) {
            ++ethernet_skipped;
            continue;
        }
        PacketFlowInfo info = flows_->lookup(r.pkt, r.ts_ns, *this);
        if (info.blocked) {
            run_stages(start, i);
            start = i;
            flows_->next_epoch();
            info = flows_->lookup(r.pkt, r.ts_ns, *this);
        }
        if (!info.flow) continue;
        Flow& f = *info.flow;
        flows_->update(f, info.dir, r.pkt, r.ts_ns);
        r.flow = &f;
        r.dir = info.dir;
        r.flow_pkt_no = f.pkts[0] + f.pkts[1];
        r.inspect = !(f.flags & (flowflag::drop | flowflag::bypass | flowflag::pass));
    }
    now_ns_ = std::max(now_ns_, now);
    run_stages(start, burst_.size());
    burst_.clear();
    flows_->expire(now, 1u << 20, *this);
    drain_events();
}

void MiniWorker::run_stages(size_t from, size_t to) {
    std::vector<PacketRef*> batch;
    for (size_t i = from; i < to; ++i)
        if (burst_[i].ref.flow && burst_[i].ref.inspect) batch.push_back(&burst_[i].ref);
    if (!batch.empty()) {
        for (auto& d : detectors_) d->classify(batch);
        for (PacketRef* r : batch) {
            if (r->pkt.ip_proto != ipproto::tcp) continue;
            StreamContext ctx{*r->flow, r};
            stream_ctx_ = &ctx;
            reasm_->on_segment(r->flow->stream, r->dir, r->pkt.tcp_seq, r->pkt.tcp_ack, r->pkt.tcp_flags,
                               {r->data + r->pkt.payload_offset, r->pkt.payload_len}, *this);
            stream_ctx_ = nullptr;
        }
        for (auto& d : detectors_) d->inspect(batch);
    }
    for (size_t i = from; i < to; ++i) burst_[i].ref.flow = nullptr;
}

void MiniWorker::finish() {
    flush();
    flows_->end_all(*this, FlowEndReason::shutdown);
    drain_events();
}

void MiniWorker::on_data(Direction dir, uint64_t offset, std::span<const uint8_t> data) {
    if (!stream_ctx_ || (stream_ctx_->flow.flags & (flowflag::drop | flowflag::bypass | flowflag::pass))) return;
    for (auto& d : detectors_) d->on_stream_data(*stream_ctx_, dir, offset, data);
}

void MiniWorker::on_gap(Direction dir, uint64_t offset, uint64_t len) {
    if (!stream_ctx_) return;
    for (auto& d : detectors_) d->on_stream_gap(*stream_ctx_, dir, offset, len);
}

void MiniWorker::on_end() {
    if (!stream_ctx_) return;
    for (auto& d : detectors_) d->on_stream_end(stream_ctx_->flow);
}

void MiniWorker::on_flow_end(Flow& flow, FlowEndReason) {
    if (flow.key.ip_proto == ipproto::tcp) {
        if (!(flow.flags & (flowflag::drop | flowflag::bypass | flowflag::pass))) {
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
    if (on_flow_ended) on_flow_ended(flow);
    const EveEndpoints ep = flow_endpoints(flow);
    if (JsonWriter* w = eve_->begin(EveType::flow, flow.last_ns, flow.flow_id, &ep, flow.app_proto)) {
        w->begin_object("flow").kv("pkts_toserver", flow.pkts[0]).kv("pkts_toclient", flow.pkts[1]).end_object();
        for (auto& d : detectors_) d->write_flow_event(flow, *w);
        eve_->end();
    }
    drain_events();
}

void MiniWorker::drain_events() {
    for (;;) {
        const std::string_view s = reader_.front(*ring_);
        if (s.empty()) break;
        events.emplace_back(s);
        ring_->pop();
    }
}

void MiniWorker::raise(PacketRef& p, Verdict v, DropReason why) {
    if (v > Verdict::forward) ++verdicts;
    if (v > p.verdict) {
        p.verdict = v;
        p.reason = why;
    }
    if (v >= Verdict::drop_flow && p.flow) p.flow->flags |= flowflag::drop;
}

void MiniWorker::raise(StreamContext& ctx, Verdict v, DropReason why) {
    if (ctx.packet) {
        raise(*ctx.packet, v, why);
        return;
    }
    if (v > Verdict::forward) ++verdicts;
    if (v >= Verdict::drop_flow) ctx.flow.flags |= flowflag::drop;
}

void MiniWorker::publish(StreamContext& ctx, const AppTransaction& tx) {
    if (ctx.flow.flags & (flowflag::drop | flowflag::pass)) return;
    ++transactions;
    for (auto& d : detectors_) d->on_transaction(ctx, tx);
}

void MiniWorker::publish(StreamContext& ctx, const AppRecord& record) {
    if (ctx.flow.flags & (flowflag::drop | flowflag::pass)) return;
    RecordSummary s;
    s.flow_id = ctx.flow.flow_id;
    s.proto = record.proto;
    s.dir = record.dir;
    s.op = record.op;
    s.function = std::string(record.op.function);
    s.op.function = {};
    records.push_back(std::move(s));
    for (auto& d : detectors_) d->on_record(ctx, record);
}

}  // namespace sluice::test
