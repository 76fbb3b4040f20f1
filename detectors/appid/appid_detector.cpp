#include "detectors/appid/appid_detector.hpp"

#include <algorithm>
#include <new>
#include <string>
#include <type_traits>

#include "app/config.hpp"
#include "dataplane/json_writer.hpp"
#include "detectors/appid/appid_map.hpp"

namespace sluice {

namespace {

const AppIdDetector* as_appid(const Detector* d) { return static_cast<const AppIdDetector*>(d); }

std::unique_ptr<NdpiModule> build_module(const AppIdConfig& c) {
    auto m = NdpiModule::create(c.protocols_file);
    if (m.ok()) return std::move(m.value());
    // The configuration check reads the file first; an unreadable file here
    // leaves the detector idle (failed()), it never stops the worker.
    auto plain = NdpiModule::create("");
    return plain.ok() ? std::move(plain.value()) : nullptr;
}

}  // namespace

AppIdDetector::AppIdDetector(const Config& config, const DetectionSnapshot&, WorkerServices& services, unsigned slot)
    : AppIdDetector(config.appid, services, slot) {}

AppIdDetector::AppIdDetector(const AppIdConfig& config, WorkerServices&, unsigned slot)
    : config_(config),
      slot_(slot),
      module_(build_module(config)),
      pool_(config.max_flows_in_detection) {}

AppIdDetector::~AppIdDetector() {
    // Flows still open when the worker goes away: give their blocks back so
    // nDPI's allocations inside them are freed.
    for (AppIdFlow* s = oldest_; s;) {
        AppIdFlow* next = s->newer;
        pool_.release(s->ndpi);
        s->ndpi = nullptr;
        s = next;
    }
}

AppIdFlow* AppIdDetector::new_record() {
    static_assert(std::is_trivially_destructible_v<AppIdFlow>);  // regions are unmapped as they are
    if (AppIdFlow* s = free_records_) {
        free_records_ = s->older;
        *s = AppIdFlow{};
        return s;
    }
    if (fresh_records_ == kRecordsPerRegion) {
        try {
            record_regions_.emplace_back(kRecordsPerRegion * sizeof(AppIdFlow));
        } catch (const std::bad_alloc&) {
            return nullptr;
        }
        fresh_records_ = 0;
    }
    return new (record_regions_.back().as<AppIdFlow>() + fresh_records_++) AppIdFlow{};
}

void AppIdDetector::free_record(AppIdFlow* s) {
    s->flow = nullptr;
    s->older = free_records_;
    free_records_ = s;
}

AppIdFlow* AppIdDetector::record(Flow& flow) {
    void*& slot = flow.detector_state[slot_];
    if (slot) return static_cast<AppIdFlow*>(slot);
    AppIdFlow* s = new_record();
    if (!s) {
        counters_.inc(AppIdCounter::no_state);
        return nullptr;
    }
    s->flow = &flow;
    slot = s;
    counters_.inc(AppIdCounter::flows);
    if (!start_detection(*s)) {
        // No nDPI state to be had: the flow stays unknown.
        s->done = true;
        counters_.inc(AppIdCounter::unknown);
        proto_flows_[0].add(1);
    }
    return s;
}

bool AppIdDetector::start_detection(AppIdFlow& s) {
    ndpi_flow_struct* block = pool_.acquire();
    if (!block && oldest_) {
        // Every block is in use: the flow that has been in detection longest
        // (typically a scan's half-open connection) gives up for the new one.
        finish(*oldest_, oldest_->verdict.app == 0, AppIdCounter::evicted);
        block = pool_.acquire();
    }
    if (!block) return false;
    s.ndpi = block;
    s.older = newest_;
    s.newer = nullptr;
    if (newest_) newest_->newer = &s;
    else oldest_ = &s;
    newest_ = &s;
    in_detection_.add(1);
    return true;
}

void AppIdDetector::unlink(AppIdFlow& s) {
    if (s.older) s.older->newer = s.newer;
    else oldest_ = s.newer;
    if (s.newer) s.newer->older = s.older;
    else newest_ = s.older;
    s.older = s.newer = nullptr;
}

void AppIdDetector::classify(std::span<PacketRef* const> packets) {
    if (!module_) return;
    for (PacketRef* r : packets) {
        if (!r->flow) continue;
        // Most packets belong to flows classified already: their record is
        // read here, without a call.
        AppIdFlow* s = static_cast<AppIdFlow*>(r->flow->detector_state[slot_]);
        if (!s && !(s = record(*r->flow))) continue;
        if (s->done) {
            // A classified flow's bytes reach the per-protocol counter every
            // kAccountEvery packets and at its end: a lag the metric bears,
            // and nothing to do for the other packets.
            if (r->flow_pkt_no % kAccountEvery == 0) account_bytes(*s, r->flow->bytes[0] + r->flow->bytes[1]);
            continue;
        }
        feed(*s, *r);
    }
}

void AppIdDetector::feed(AppIdFlow& s, const PacketRef& r) {
    // Past the flow's first packet, a TCP segment without payload (the
    // handshake's SYN-ACK and ACK, pure ACKs) has nothing for nDPI's
    // dissectors, and its sequence tracking starts from any segment with ACK:
    // it is not given to nDPI, which halves nDPI's calls for a flow classified
    // by its first request. It still counts towards the packet limit.
    const bool empty_segment = r.pkt.payload_len == 0 && r.pkt.ip_proto == ipproto::tcp && s.packets != 0;
    if (!empty_segment) {
        if (r.pkt.l3_offset >= r.len) return;
        const uint32_t avail = r.len - r.pkt.l3_offset;
        const uint32_t len = std::min<uint32_t>({r.pkt.ip_len ? r.pkt.ip_len : avail, avail, 65535u});
        const NdpiVerdict v =
            module_->process(s.ndpi, r.data + r.pkt.l3_offset, static_cast<uint16_t>(len), r.ts_ns / 1000000u);
        counters_.inc(AppIdCounter::packets);
        if (s.packets < UINT16_MAX) ++s.packets;
        s.verdict = v;
        if (v.app != 0) note(s, v);
    }

    // As ndpiReader: stop at a verdict unless nDPI wants more packets for its
    // details, or give up past the packet limit (both directions counted).
    const uint32_t limit = s.flow->key.ip_proto == ipproto::tcp ? config_.max_tcp_packets : config_.max_udp_packets;
    const bool enough = r.flow_pkt_no > limit;
    if (!enough && s.verdict.app == 0) return;
    if (!enough && module_->extra_dissection_possible(s.ndpi)) return;
    end_detection(s, AppIdCounter::gave_up_packets);
}

void AppIdDetector::end_detection(AppIdFlow& s, AppIdCounter if_no_verdict) {
    const bool none = s.verdict.app == 0;
    finish(s, none, none ? if_no_verdict : AppIdCounter::count);
}

void AppIdDetector::note(AppIdFlow& s, const NdpiVerdict& v) {
    if (!v.by_dpi()) return;  // port and address guesses only label the flow
    const AppProto p = app_proto_of_ndpi(v.master, v.app);
    if (p == AppProto::unknown) return;
    Flow& f = *s.flow;
    if (f.app_proto == p) return;
    // First identification wins; nDPI may refine only what it set itself.
    if (f.app_proto == AppProto::unknown || (s.set_proto != AppProto::unknown && f.app_proto == s.set_proto)) {
        if (s.set_proto == AppProto::unknown) counters_.inc(AppIdCounter::app_proto_set);
        f.app_proto = p;
        s.set_proto = p;
    }
}

void AppIdDetector::account_bytes(AppIdFlow& s, uint64_t total) {
    if (total <= s.bytes_counted) return;
    proto_bytes_[s.verdict.master_key()].add(total - s.bytes_counted);
    s.bytes_counted = total;
}

void AppIdDetector::finish(AppIdFlow& s, bool give_up, AppIdCounter why) {
    if (s.done) return;
    if (s.ndpi) {
        if (give_up) s.verdict = module_->give_up(s.ndpi);
        unlink(s);
        pool_.release(s.ndpi);
        s.ndpi = nullptr;
        in_detection_.sub(1);
    }
    s.done = true;
    if (why != AppIdCounter::count) counters_.inc(why);
    const NdpiVerdict& v = s.verdict;
    if (v.by_dpi()) counters_.inc(AppIdCounter::classified);
    else if (v.known()) counters_.inc(AppIdCounter::guessed);
    else counters_.inc(AppIdCounter::unknown);
    note(s, v);
    Flow& f = *s.flow;
    if (v.by_dpi() && f.app_proto != AppProto::unknown && f.app_proto != s.set_proto &&
        app_proto_of_ndpi(v.master, v.app) != f.app_proto)
        counters_.inc(AppIdCounter::app_proto_kept);
    proto_flows_[v.master_key()].add(1);
    account_bytes(s, f.bytes[0] + f.bytes[1]);
}

void AppIdDetector::on_flow_end(Flow& flow) {
    void*& slot = flow.detector_state[slot_];
    ended_flow_ = nullptr;
    if (!slot) return;
    AppIdFlow* s = static_cast<AppIdFlow*>(slot);
    if (!s->done) end_detection(*s, AppIdCounter::gave_up_flow_end);
    account_bytes(*s, flow.bytes[0] + flow.bytes[1]);
    ended_flow_ = &flow;
    ended_flow_id_ = flow.flow_id;
    ended_verdict_ = s->verdict;
    ended_packets_ = s->packets;
    free_record(s);
    slot = nullptr;
}

const NdpiVerdict* AppIdDetector::ended_verdict(const Flow& flow) const {
    if (ended_flow_ != &flow || ended_flow_id_ != flow.flow_id) return nullptr;
    return &ended_verdict_;
}

void AppIdDetector::write_flow_event(const Flow& flow, JsonWriter& w) {
    const NdpiVerdict* v = ended_verdict(flow);
    if (!v || !module_) return;
    char buf[96];
    w.kv("app_proto_ndpi", module_->label(*v, buf));
    w.begin_object("ndpi")
        .kv("confidence", NdpiModule::confidence_name(v->confidence))
        .kv("category", module_->category_name(v->category))
        .kv("packets", ended_packets_)
        .end_object();
}

void AppIdDetector::metrics(std::span<const Detector* const> instances, MetricSamples& out) {
    for (size_t wi = 0; wi < instances.size(); ++wi) {
        const AppIdDetector& d = *as_appid(instances[wi]);
        if (!d.module_) continue;
        const std::string worker = std::to_string(wi);
        for (size_t id = 0; id < NdpiModule::kMaxProtocols; ++id) {
            const uint64_t flows = d.proto_flows_[id].get();
            const uint64_t bytes = d.proto_bytes_[id].get();
            if (!flows && !bytes) continue;
            const std::string name(d.module_->name(static_cast<uint16_t>(id)));
            out.push_back({"sluice_appid_flows_total", "Flows classified by nDPI, by nDPI master protocol.", true,
                           {{"worker", worker}, {"proto", name}}, static_cast<double>(flows)});
            out.push_back({"sluice_appid_bytes_total", "Bytes of flows classified by nDPI, by nDPI master protocol.", true,
                           {{"worker", worker}, {"proto", name}}, static_cast<double>(bytes)});
        }
        for (size_t i = 0; i < CounterSet<AppIdCounter>::size; ++i)
            out.push_back({"sluice_appid_events_total", "nDPI classification events, by event.", true,
                           {{"worker", worker}, {"event", std::string(CounterSet<AppIdCounter>::name(i))}},
                           static_cast<double>(d.counters_.get(i))});
        out.push_back({"sluice_appid_flows_in_detection", "Flows nDPI is still looking at (each holds one nDPI flow state).",
                       false, {{"worker", worker}}, static_cast<double>(d.in_detection_.get())});
    }
}

void AppIdDetector::write_stats(std::span<const Detector* const> instances, JsonWriter& w) {
    const AppIdDetector* first = nullptr;
    for (const Detector* d : instances)
        if (as_appid(d)->module_) first = as_appid(d);
    if (!first) return;
    // "appid": {"events": {...}, "in_detection": n, "protocols": {"TLS": {"flows": n, "bytes": n}, ...}}
    w.begin_object("appid");
    w.begin_object("events");
    for (size_t i = 0; i < CounterSet<AppIdCounter>::size; ++i) {
        uint64_t sum = 0;
        for (const Detector* d : instances) sum += as_appid(d)->counters_.get(i);
        w.kv(CounterSet<AppIdCounter>::name(i), sum);
    }
    w.end_object();
    uint64_t in_detection = 0;
    for (const Detector* d : instances) in_detection += as_appid(d)->in_detection_.get();
    w.kv("in_detection", in_detection);
    w.begin_object("protocols");
    for (size_t id = 0; id < NdpiModule::kMaxProtocols; ++id) {
        uint64_t flows = 0, bytes = 0;
        for (const Detector* d : instances) {
            flows += as_appid(d)->proto_flows_[id].get();
            bytes += as_appid(d)->proto_bytes_[id].get();
        }
        if (!flows && !bytes) continue;
        w.begin_object(first->module_->name(static_cast<uint16_t>(id))).kv("flows", flows).kv("bytes", bytes).end_object();
    }
    w.end_object();
    w.end_object();
}

}  // namespace sluice
