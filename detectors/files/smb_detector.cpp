#include "detectors/files/smb_detector.hpp"

#include "detectors/files/file_carver.hpp"

#include <algorithm>
#include <chrono>
#include <functional>
#include <thread>

#include "app/config.hpp"
#include "detectors/malware/clam_engine.hpp"
#include "detectors/malware/scan_events.hpp"
#include "detectors/malware/scan_service.hpp"
#include "detectors/smb/smb_eve.hpp"
#include "detectors/smb/smb_proto.hpp"
#include "detectors/snapshot.hpp"

namespace sluice {

namespace {

// What a fileinfo event says about the file itself (state, size, hash, type).
void set_file_facts(FileRecord& r, const AssembledFile& f) {
    r.state = f.state;
    r.gaps = f.gaps;
    r.size = f.size;
    r.has_sha256 = f.has_sha256;
    r.sha256 = f.sha256;
    r.sha256_bytes = f.sha256_bytes;
    r.magic = f.magic;
}

constexpr size_t kPollBatch = 32;

bool smb_port(uint16_t port) { return port == 445 || port == 139; }

uint8_t dir_bit(Direction d) { return static_cast<uint8_t>(1u << index(d)); }

const SmbDetector* as_smb(const Detector* d) { return static_cast<const SmbDetector*>(d); }

uint64_t smb_pdus(const SmbWorkerContext& c) {
    return c.counters().get(SmbCounter::pdus_smb1) + c.counters().get(SmbCounter::pdus_smb2) +
           c.counters().get(SmbCounter::pdus_encrypted);
}

// Several carving threads per worker (smb.file.offload-threads): each file goes
// to one of them, in turn among those with a free file slot, and all its
// writes follow it. The sink handle carries the thread's index in its low bits.
class CarverLanes final : public ContentSink {
public:
    CarverLanes(std::span<const std::unique_ptr<FileCarver>> lanes, unsigned bits)
        : lanes_(lanes), bits_(bits), mask_((1u << bits) - 1) {}

    uint32_t open(uint64_t size_hint) override {
        const uint32_t n = static_cast<uint32_t>(lanes_.size());
        uint32_t lane = next_;
        for (uint32_t tries = 0; tries < n && !lanes_[lane]->has_free_slot(); ++tries) lane = lane + 1 == n ? 0 : lane + 1;
        next_ = lane + 1 == n ? 0 : lane + 1;
        const uint32_t h = lanes_[lane]->open(size_hint);  // none free: counted there (no_slot)
        return h == kNoHandle ? kNoHandle : (h << bits_) | lane;
    }
    void write(uint32_t handle, uint64_t offset, std::span<const uint8_t> data) override {
        lanes_[handle & mask_]->write(handle >> bits_, offset, data);
    }
    void finish(uint32_t handle, uint64_t required_end) override {
        lanes_[handle & mask_]->finish(handle >> bits_, required_end);
    }
    void abort(uint32_t handle) override { lanes_[handle & mask_]->abort(handle >> bits_); }

private:
    std::span<const std::unique_ptr<FileCarver>> lanes_;
    unsigned bits_;
    uint32_t mask_;
    uint32_t next_ = 0;
};

}  // namespace

SmbDetectorSettings smb_detector_settings(const Config& c) {
    SmbDetectorSettings s;
    s.smb = c.smb;
    s.malware = c.malware;
    s.max_gates = std::max<uint32_t>(c.capture.hold_packets, 1);
    const uint32_t share = c.capture.mbufs / (4 * std::max<uint32_t>(c.workers, 1));
    s.smb.offload_mbufs = std::max<uint32_t>(std::min(s.smb.offload_mbufs, share), 64);
    s.smb.offload_threads = std::clamp<uint32_t>(s.smb.offload_threads, 1, 16);
    return s;
}

struct SmbDetector::FlowState {
    FlowState(SmbWorkerContext& ctx, SmbEventSink& sink, bool directions_known) : decoder(ctx, sink, directions_known) {}
    SmbDecoder decoder;
    uint32_t gate = 0;         // FileGates index while the flow has a gate
    uint32_t joined = 0;       // files of the current chunk waiting under the gate
    uint32_t outstanding = 0;  // files of this flow at the scanner
    uint32_t carving = 0;      // files of this flow at the carver
    bool block_chunk = false;  // a fail-closed policy blocked the current chunk's packet
};

// A file finished on the worker while its content is still at the carver.
struct SmbDetector::CarvingFile {
    bool used = false;
    FileInfo info;  // names, ids; file: the worker's view (state, size, gaps)
    FileRecord rec;
    Flow* flow = nullptr;  // null once the flow ended
};

SmbDetector::SmbDetector(const Config& config, const DetectionSnapshot& snapshot, WorkerServices& services, unsigned slot)
    : SmbDetector(smb_detector_settings(config), snapshot.scanner, services, slot) {}

SmbDetector::SmbDetector(SmbDetectorSettings settings, std::shared_ptr<ScanService> scanner, WorkerServices& services,
                         unsigned slot)
    : settings_(std::move(settings)),
      services_(services),
      slot_(slot),
      smb_(settings_.smb),
      gates_(settings_.max_gates),
      pending_(std::max<uint32_t>(settings_.malware.scan.results_per_worker, 1)) {
    if (scanner && services_.worker_id() < scanner->workers()) {
        scanner_ = std::move(scanner);
        port_ = &scanner_->port(services_.worker_id());
    }
    if (settings_.smb.carve_files && settings_.smb.offload && !services_.ips()) {
        // The worker's budgets (packet references, memory, spill) are shared
        // out between its carving threads; each has an arena of its own.
        const uint32_t k = std::max<uint32_t>(settings_.smb.offload_threads, 1);
        FileCarverSettings cs;
        cs.files = settings_.smb.files;
        cs.files.memory_total = std::max<uint64_t>(cs.files.memory_total / k, 1);
        cs.files.spill_total /= k;
        cs.max_mbufs = std::max<uint32_t>(settings_.smb.offload_mbufs / k, 1);
        cs.copy = settings_.smb.offload_copy;
        cs.arena_bytes = settings_.smb.offload_arena;
        cs.offline = services_.offline();
        const auto& cpus = settings_.smb.offload_cpus;
        for (uint32_t j = 0; j < k; ++j) {
            if (!cpus.empty()) cs.cpu = static_cast<int>(cpus[(services_.worker_id() * k + j) % cpus.size()]);
            carvers_.push_back(FileCarver::create(cs));
        }
        while ((1u << lane_bits_) < k) ++lane_bits_;
        carving_.resize(static_cast<size_t>(cs.max_files) << lane_bits_);
        if (k == 1) {
            smb_.files().set_content_sink(carvers_[0].get());
        } else {
            lanes_ = std::make_unique<CarverLanes>(carvers_, lane_bits_);
            smb_.files().set_content_sink(lanes_.get());
        }
    }
    use_scanner_hash();
}

// ids with a scanner: files kept in memory go to a scanner thread whole, and
// it computes their SHA-256 (ScanJob::hash_content) instead of the worker.
// ips keeps hashing on the worker, so that a policy alert raised before the
// verdict (hold timeout) carries the hash as it always did.
// With a carver, the carving thread hashes; the content comes back only for a scanner.
void SmbDetector::use_scanner_hash() {
    smb_.files().set_defer_hash(scanner_ != nullptr && !services_.ips());
    for (auto& c : carvers_) c->set_keep_content(scanner_ != nullptr);
}

SmbDetector::~SmbDetector() {
    // The carving threads drain and stop first (they hold packet references).
    carvers_.clear();
}

void SmbDetector::on_snapshot(const DetectionSnapshot& snapshot) {
    // The service is made once and carried over by reloads; a snapshot can
    // bring one where there was none (scanning turned on by a reload).
    if (scanner_ || !snapshot.scanner || services_.worker_id() >= snapshot.scanner->workers()) return;
    scanner_ = snapshot.scanner;
    port_ = &scanner_->port(services_.worker_id());
    use_scanner_hash();
}

SmbDetector::FlowState* SmbDetector::flow_state(StreamContext& ctx) {
    Flow& f = ctx.flow;
    if (FlowState* st = state(f)) return st;
    if (f.key.ip_proto != ipproto::tcp) return nullptr;
    if (!smb_port(f.server_port()) && f.app_proto != AppProto::smb) return nullptr;
    // The dataplane knows who the client is when it saw the handshake.
    const bool known = ((f.tcp_flags[0] | f.tcp_flags[1]) & tcpflag::syn) != 0;
    auto* st = new FlowState(smb_, *this, known);
    f.detector_state[slot_] = st;
    return st;
}

uint64_t SmbDetector::event_time(const StreamContext& ctx) const {
    return ctx.packet ? ctx.packet->ts_ns : ctx.flow.last_ns;
}

Verdict SmbDetector::timeout_verdict() const {
    return settings_.malware.timeout_policy == FailPolicy::fail_closed ? Verdict::reject : Verdict::forward;
}

template <typename Feed>
void SmbDetector::decode_as_current(StreamContext& ctx, FlowState& st, Feed&& feed) {
    StreamContext* saved_ctx = current_;
    FlowState* saved_state = current_state_;
    current_ = &ctx;
    current_state_ = &st;
    st.joined = 0;
    st.block_chunk = false;
    feed();
    current_ = saved_ctx;
    current_state_ = saved_state;
}

void SmbDetector::on_stream_data(StreamContext& ctx, Direction dir, uint64_t offset, std::span<const uint8_t> data) {
    FlowState* st = state(ctx.flow);
    if (!st && !(st = flow_state(ctx))) return;
    // File data inside the packet's mbuf goes to the carver by reference.
    for (auto& c : carvers_) c->set_backing(ctx.packet ? ctx.packet->mbuf : nullptr);
    decode_as_current(ctx, *st, [&] {
        const bool unknown = ctx.flow.app_proto == AppProto::unknown;
        const uint64_t before = unknown ? smb_pdus(smb_) : 0;
        st->decoder.on_data(dir, offset, data);
        if (unknown && smb_pdus(smb_) != before) ctx.flow.app_proto = AppProto::smb;
        if (st->block_chunk || st->joined) after_chunk(ctx, *st, dir);  // else it has nothing to do
    });
    for (auto& c : carvers_) c->set_backing(nullptr);
}

void SmbDetector::on_stream_gap(StreamContext& ctx, Direction dir, uint64_t offset, uint64_t len) {
    FlowState* st = state(ctx.flow);
    if (!st) return;
    decode_as_current(ctx, *st, [&] {
        st->decoder.on_gap(dir, offset, len);
        after_chunk(ctx, *st, dir);
    });
}

void SmbDetector::on_stream_end(Flow& flow) {
    FlowState* st = state(flow);
    if (!st) return;
    StreamContext ctx{flow, nullptr};
    // Open files finish (TRUNCATED unless whole by their known size).
    decode_as_current(ctx, *st, [&] { st->decoder.on_end(); });
}

// The hold hook: the chunk just fed completed (or closed) files that went to
// the scanner under the flow's gate; its packet waits for their verdicts.
void SmbDetector::after_chunk(StreamContext& ctx, FlowState& st, Direction dir) {
    if (!ctx.packet) return;
    if (st.block_chunk) {
        services_.raise(ctx, Verdict::reject, DropReason::malware);
        return;
    }
    if (st.joined == 0 || st.gate == 0) return;
    FileGate& g = gates_.at(st.gate);
    if (g.settled || ctx.packet->held) return;
    if (services_.hold(*ctx.packet, g.token, g.deadline_ns, timeout_verdict())) {
        ++g.held;
        g.dirs |= dir_bit(dir);
        counters_.inc(FilesCounter::held_packets);
        return;
    }
    // The worker's hold table is full: the file cannot be stopped in time.
    counters_.inc(FilesCounter::hold_refused);
    if (settings_.malware.overload_policy == FailPolicy::fail_closed) {
        counters_.inc(FilesCounter::overload_fail_closed);
        block_gate(st.gate, g);
        services_.raise(ctx, Verdict::reject, DropReason::malware);
    } else {
        counters_.inc(FilesCounter::overload_fail_open);
    }
}

FileRecord SmbDetector::make_record(const StreamContext& ctx, const FileInfo& info) const {
    FileRecord r;
    r.flow_id = ctx.flow.flow_id;
    r.ts_ns = event_time(ctx);
    r.ep = flow_endpoints(ctx.flow);
    r.tx_id = info.tx_id;
    r.direction = flow_direction(info.direction);
    set_file_facts(r, info.file);
    r.filename = info.filename;
    r.share = info.share;
    return r;
}

bool SmbDetector::wait_offline(const std::function<bool()>& done) {
    if (done()) return true;
    if (!services_.offline()) return false;
    // Reading a capture: wait for room rather than lose a verdict (the
    // scanners always progress: every scan is bounded by max-scan-time).
    counters_.inc(FilesCounter::offline_waits);
    const uint64_t limit_ms = (settings_.malware.scan.max_scan_time_ms ? settings_.malware.scan.max_scan_time_ms : 600000) + 10000;
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(limit_ms);
    while (std::chrono::steady_clock::now() < until) {
        poll_results();
        if (done()) return true;
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return false;
}

void SmbDetector::on_file_finished(FileInfo& info) {
    if (!current_) return;
    StreamContext& ctx = *current_;
    if (info.file.carved_elsewhere && !carvers_.empty() && info.file.sink_handle < carving_.size()) {
        // Its content, hash and final state come back from the carver (poll).
        CarvingFile& c = carving_[info.file.sink_handle];
        c.used = true;
        c.rec = make_record(ctx, info);
        c.flow = &ctx.flow;
        c.info = std::move(info);
        if (current_state_) ++current_state_->carving;
        return;
    }
    route_file(info, make_record(ctx, info), &ctx.flow, current_state_, ctx.packet);
}

void SmbDetector::route_file(FileInfo& info, FileRecord rec, Flow* flow, FlowState* st, PacketRef* packet) {
    counters_.inc(FilesCounter::files);
    const bool to_scanner = scanner_ && info.file.content.kind() != FileContent::Kind::none &&
                            info.file.content.size() != 0 &&
                            !(info.file.state == FileState::truncated && !settings_.malware.scan_truncated);
    // A deferred hash not left to a scanner thread is computed here.
    if (!to_scanner && smb_.files().complete_hash(info.file)) {
        rec.has_sha256 = true;
        rec.sha256 = info.file.sha256;
        rec.sha256_bytes = info.file.sha256_bytes;
    }
    EveEmitter& eve = services_.eve();
    if (!scanner_) {
        emit_fileinfo_event(eve, rec, FileScanStatus{});
        // The content is not needed any more: its buffer carves the next file.
        smb_.files().recycle(info.file.content.take_memory());
        return;
    }
    FileScanStatus status;
    status.scanning = true;
    if (info.file.content.kind() == FileContent::Kind::none || info.file.content.size() == 0) {
        counters_.inc(FilesCounter::not_scanned_no_content);
        status.not_scanned = "no_content";
        emit_fileinfo_event(eve, rec, status);
        return;
    }
    if (info.file.state == FileState::truncated && !settings_.malware.scan_truncated) {
        counters_.inc(FilesCounter::not_scanned_truncated);
        status.not_scanned = "truncated";
        emit_fileinfo_event(eve, rec, status);
        smb_.files().recycle(info.file.content.take_memory());
        return;
    }

    auto job = std::make_unique<ScanJob>();
    ScanFileMeta& m = job->meta;
    m.flow_id = rec.flow_id;
    m.src_ip = rec.ep.src;
    m.dest_ip = rec.ep.dst;
    m.src_port = rec.ep.src_port;
    m.dest_port = rec.ep.dst_port;
    m.app_proto = AppProto::smb;
    m.direction = rec.direction;
    m.share = info.share;
    m.names.push_back(info.filename);
    m.size = info.file.size;
    // The carver's hash names the stored copy only when it covers exactly the
    // content handed over; otherwise the service hashes what it stores.
    if (info.file.has_sha256 && info.file.sha256_bytes == info.file.content.size()) m.sha256 = info.file.sha256;
    job->hash_content = info.file.sha256_deferred;  // the scanner thread hashes it before scanning
    m.truncated = info.file.state == FileState::truncated;
    m.timestamp_ns = rec.ts_ns;
    if (info.file.content.kind() == FileContent::Kind::spill) {
        job->spill = SpillFile(info.file.content.release_path(), true);
    } else {
        job->bytes = info.file.content.take_memory();
    }

    // ips: the packet that completed the file waits for the verdict.
    const bool gate_wanted = services_.ips() && packet != nullptr && flow != nullptr;
    uint64_t deadline = 0;
    if (gate_wanted) {
        deadline = st && st->gate && !gates_.at(st->gate).settled
                       ? gates_.at(st->gate).deadline_ns
                       : services_.steady_ns() + uint64_t{settings_.malware.hold_timeout_ms} * 1000000ull;
        job->deadline_ns = static_cast<int64_t>(deadline);
    }
    uint32_t cookie = UINT32_MAX;
    bool submitted = false;
    bool backlog = !wait_offline([&] { return (cookie = pending_.take()) != UINT32_MAX; });
    if (!backlog) {
        job->cookie = cookie;
        const uint64_t backlog_before = port_->counters().get(SubmitCounter::rejected_backlog);
        submitted = wait_offline([&] { return port_->submit(job); });
        if (!submitted) {
            backlog = port_->counters().get(SubmitCounter::rejected_backlog) != backlog_before;
            pending_.release(cookie);
        }
    }
    if (!submitted) {
        if (job && job->hash_content) rec.has_sha256 = smb_.files().sha256_of(job->bytes, rec.sha256);
        counters_.inc(backlog ? FilesCounter::rejected_backlog : FilesCounter::rejected_queue_full);
        status.not_scanned = backlog ? "backlog" : "queue_full";
        emit_fileinfo_event(eve, rec, status);
        if (settings_.malware.overload_policy == FailPolicy::fail_closed) {
            counters_.inc(FilesCounter::overload_fail_closed);
            const bool blocked = services_.ips() && packet != nullptr;
            emit_file_policy_alert(eve, rec, status, kSidScanQueueFull, blocked);
            if (flow) flow->flags |= flowflag::alerted;
            if (blocked && st) {
                st->block_chunk = true;
                if (st->gate) block_gate(st->gate, gates_.at(st->gate));
            }
        } else {
            counters_.inc(FilesCounter::overload_fail_open);
        }
        if (job) smb_.files().recycle(std::move(job->bytes));
        return;  // the job is freed here
    }
    counters_.inc(FilesCounter::submitted);
    PendingFile* pf = pending_.find(cookie);
    pf->flow = flow;
    pf->record = std::move(rec);
    if (st) ++st->outstanding;
    if (!gate_wanted || !st) return;

    // Join the flow's open gate, or open one.
    if (st->gate && gates_.at(st->gate).settled) {
        // A settled gate (timed out, blocked) only waits for late verdicts: a new file starts a new gate.
        gates_.at(st->gate).flow = nullptr;
        st->gate = 0;
    }
    if (!st->gate) {
        st->gate = gates_.open(flow, deadline);
        if (st->gate) counters_.inc(FilesCounter::gates);
    }
    if (!st->gate) {
        counters_.inc(FilesCounter::gate_table_full);
        if (settings_.malware.overload_policy == FailPolicy::fail_closed) {
            counters_.inc(FilesCounter::overload_fail_closed);
            st->block_chunk = true;
        } else {
            counters_.inc(FilesCounter::overload_fail_open);
        }
        return;
    }
    FileGate& g = gates_.at(st->gate);
    ++g.pending;
    pf->gate = st->gate;
    pf->gate_token = g.token;
    ++st->joined;
}

void SmbDetector::on_session(const SmbSessionEvent& ev) {
    if (!current_ || ev.kind != SmbSessionKind::encrypted) return;
    StreamContext& ctx = *current_;
    counters_.inc(FilesCounter::encrypted_sessions);
    EveEmitter& eve = services_.eve();
    const EveEndpoints ep = flow_endpoints(ctx.flow);
    const uint64_t ts = event_time(ctx);
    // Logged once per session (the decoder reports each session once).
    if (JsonWriter* w = eve.begin(EveType::smb, ts, ctx.flow.flow_id, &ep, AppProto::smb)) {
        w->begin_object("smb");
        w->kv("session_id", ev.session_id);
        w->kv("dialect", smb::smb2_dialect_name(ev.dialect));
        w->kv("encrypted", true);
        w->kv("policy", to_string(ev.policy));
        w->end_object();
        eve.end();
    }
    if (ev.policy == EncryptedPolicy::allow) return;
    const bool block = ev.policy == EncryptedPolicy::block;
    const bool blocked = block && services_.ips();
    counters_.inc(block ? FilesCounter::encrypted_blocked : FilesCounter::encrypted_alerted);
    emit_smb_encrypted_alert(eve, ts, ctx.flow.flow_id, ep, ev.session_id, ev.dialect, blocked);
    ctx.flow.flags |= flowflag::alerted;
    if (block) services_.raise(ctx, Verdict::reject, DropReason::policy);
}

void SmbDetector::on_smb_transaction(const SmbTransaction& tx) {
    if (!current_) return;
    EveEmitter& eve = services_.eve();
    if (!eve.enabled(EveType::smb)) return;
    StreamContext& ctx = *current_;
    const EveEndpoints ep = flow_endpoints(ctx.flow);
    JsonWriter* w = eve.begin(EveType::smb, event_time(ctx), ctx.flow.flow_id, &ep, AppProto::smb);
    if (!w) return;
    write_smb_eve(*w, tx);
    eve.end();
}

void SmbDetector::inspect(std::span<PacketRef* const> packets) {
    if (!gates_.unsettled()) return;
    for (PacketRef* p : packets) {
        if (!p->flow || p->held || p->verdict != Verdict::forward) continue;
        FlowState* st = state(*p->flow);
        if (!st || !st->gate) continue;
        FileGate& g = gates_.at(st->gate);
        if (g.settled || !(g.dirs & dir_bit(p->dir))) continue;
        // Later bytes (and retransmissions of the held ones) wait too, so the
        // receiver cannot complete the file around the hold; bare ACKs pass.
        if (p->pkt.payload_len == 0 && !(p->pkt.tcp_flags & (tcpflag::fin | tcpflag::rst))) continue;
        if (services_.hold(*p, g.token, g.deadline_ns, timeout_verdict())) {
            ++g.held;
            counters_.inc(FilesCounter::held_packets);
        } else {
            // Not forwarded out of order past the hold: TCP sends it again.
            services_.raise(*p, Verdict::drop_packet, DropReason::malware);
            counters_.inc(FilesCounter::followers_dropped);
        }
    }
}

void SmbDetector::on_flow_end(Flow& flow) {
    FlowState* st = state(flow);
    if (!st) return;
    // Files at the carver: reading a capture they come back before the flow
    // ends (their events before its flow event); live they are logged without it.
    if (st->carving && !carvers_.empty()) {
        if (services_.offline()) {
            while (st->carving) {
                poll_carved();
                if (st->carving) std::this_thread::sleep_for(std::chrono::microseconds(20));
            }
        } else {
            for (CarvingFile& c : carving_)
                if (c.used && c.flow == &flow) c.flow = nullptr;
        }
    }
    // Reading a capture: the flow's verdicts are taken before it ends, so its
    // flow event says `alerted` whatever the scanner's timing (1 or n workers).
    if (st->outstanding && port_ && services_.offline()) wait_offline([st] { return st->outstanding == 0; });
    if (st->gate) gates_.at(st->gate).flow = nullptr;
    if (st->outstanding) {
        for (uint32_t c = 0; c < settings_.malware.scan.results_per_worker; ++c)
            if (PendingFile* pf = pending_.find(c); pf && pf->flow == &flow) pf->flow = nullptr;
    }
    delete st;
    flow.detector_state[slot_] = nullptr;
}

void SmbDetector::poll() {
    if (!carvers_.empty()) poll_carved();  // also publishes the burst's writes and frees returned mbufs
    if (!port_) return;
    if (port_->outstanding()) poll_results();
    check_deadlines();
}

void SmbDetector::poll_carved() {
    for (uint32_t lane = 0; lane < carvers_.size(); ++lane)
        carvers_[lane]->poll([this, lane](CarvedFile& c) {
            handle_carved(c, c.handle < (ContentSink::kNoHandle >> lane_bits_) ? (c.handle << lane_bits_) | lane
                                                                                : ContentSink::kNoHandle);
        });
}

void SmbDetector::handle_carved(CarvedFile& c, uint32_t handle) {
    if (handle >= carving_.size() || !carving_[handle].used) return;  // dropped unfinished
    CarvingFile& e = carving_[handle];
    e.used = false;
    FileInfo info = std::move(e.info);
    FileRecord rec = std::move(e.rec);
    Flow* flow = e.flow;
    e.flow = nullptr;
    // The worker's TRUNCATED (gaps seen, or no close and no known size) stands;
    // its COMPLETE holds only if the carver kept and hashed every byte.
    const bool truncated = info.file.state == FileState::truncated;
    const uint64_t uid = info.file.file_uid;
    info.file = std::move(c.file);
    info.file.file_uid = uid;
    if (truncated) info.file.state = FileState::truncated;
    set_file_facts(rec, info.file);
    FlowState* st = flow ? state(*flow) : nullptr;
    if (st && st->carving) --st->carving;
    route_file(info, std::move(rec), flow, st, nullptr);
}

void SmbDetector::poll_results() {
    ScanJobPtr done[kPollBatch];
    for (;;) {
        const size_t n = port_->poll(std::span<ScanJobPtr>(done, kPollBatch));
        for (size_t k = 0; k < n; ++k) {
            handle_result(*done[k]);
            done[k].reset();
        }
        if (n < kPollBatch) break;
    }
}

void SmbDetector::handle_result(ScanJob& job) {
    PendingFile* pf = pending_.find(job.cookie);
    if (!pf) return;
    const ScanResult& r = job.result;
    counters_.inc(FilesCounter::verdicts);
    switch (r.verdict) {
        case ScanVerdict::clean: counters_.inc(FilesCounter::clean); break;
        case ScanVerdict::malicious: counters_.inc(FilesCounter::malicious); break;
        case ScanVerdict::error: counters_.inc(FilesCounter::scan_errors); break;
        case ScanVerdict::timeout: counters_.inc(FilesCounter::scan_timeouts); break;
        default: counters_.inc(FilesCounter::scan_skipped); break;
    }
    FileRecord& rec = pf->record;
    // The service computed the hash when it stored a file the carver had no whole hash for.
    // So did the scanner thread for a file whose hash the carver deferred (sha256_bytes already set).
    if (!rec.has_sha256 && job.meta.sha256_known()) {
        rec.has_sha256 = true;
        rec.sha256 = job.meta.sha256;
        if (rec.sha256_bytes == 0) rec.sha256_bytes = r.bytes_scanned;
    }
    FileScanStatus status;
    status.scanning = true;
    status.result = &r;
    EveEmitter& eve = services_.eve();
    emit_fileinfo_event(eve, rec, status);

    FileGate* g = nullptr;
    if (pf->gate && gates_.at(pf->gate).token == pf->gate_token) g = &gates_.at(pf->gate);
    Flow* flow = pf->flow;
    if (r.verdict == ScanVerdict::malicious) {
        bool blocked = false;
        if (g && !g->settled) {
            block_gate(pf->gate, *g);
            counters_.inc(FilesCounter::blocked_malicious);
            blocked = true;
        } else if (g && g->blocked) {
            blocked = true;  // its gate was already rejected (another file, or a fail-closed policy)
        } else {
            counters_.inc(FilesCounter::malicious_passed);
            if (flow && services_.ips()) drop_flow(*flow);
        }
        emit_malware_alert(eve, rec, status, blocked);
        if (flow) flow->flags |= flowflag::alerted;
    }
    if (flow) {
        if (FlowState* st = state(*flow); st && st->outstanding) --st->outstanding;
    }
    if (g) {
        if (g->pending) --g->pending;
        if (g->pending == 0) {
            if (!g->settled) {
                services_.release(g->token, Verdict::forward, DropReason::malware);
                gates_.mark_settled(*g);
                counters_.inc(FilesCounter::released_clean);
            }
            free_gate(pf->gate);
        }
    }
    pending_.release(job.cookie);
}

void SmbDetector::check_deadlines() {
    if (!gates_.unsettled()) return;
    const uint64_t now = services_.steady_ns();
    gates_.for_each_expired(now, [this](uint32_t index, FileGate& g) {
        g.timed_out = true;
        if (settings_.malware.timeout_policy == FailPolicy::fail_closed) {
            counters_.inc(FilesCounter::timeout_fail_closed);
            block_gate(index, g);
            // One policy alert per file still waiting under the gate.
            EveEmitter& eve = services_.eve();
            FileScanStatus status;
            status.scanning = true;
            status.not_scanned = "timeout";
            for (uint32_t c = 0; c < settings_.malware.scan.results_per_worker; ++c) {
                PendingFile* pf = pending_.find(c);
                if (pf && pf->gate == index && pf->gate_token == g.token)
                    emit_file_policy_alert(eve, pf->record, status, kSidScanTimeout, true);
            }
            if (g.flow) g.flow->flags |= flowflag::alerted;
        } else {
            counters_.inc(FilesCounter::timeout_fail_open);
            services_.release(g.token, Verdict::forward, DropReason::malware);
            gates_.mark_settled(g);
        }
    });
}

void SmbDetector::block_gate(uint32_t index, FileGate& g) {
    (void)index;
    if (g.settled && g.blocked) return;
    g.blocked = true;
    gates_.mark_settled(g);
    services_.release(g.token, Verdict::reject, DropReason::malware);
    if (g.flow) drop_flow(*g.flow);
}

void SmbDetector::drop_flow(Flow& flow) {
    StreamContext ctx{flow, nullptr};
    services_.raise(ctx, Verdict::drop_flow, DropReason::malware);
}

void SmbDetector::free_gate(uint32_t index) {
    FileGate& g = gates_.at(index);
    if (g.flow) {
        if (FlowState* st = state(*g.flow); st && st->gate == index) st->gate = 0;
    }
    gates_.free(index);
}

uint32_t SmbDetector::outstanding() const {
    uint32_t n = port_ ? port_->outstanding() : 0;
    for (const auto& c : carvers_) n += c->in_flight();
    return n;
}

bool SmbDetector::pending() const {
    for (const auto& c : carvers_)
        if (c->in_flight()) return true;  // the carving threads always get through
    if (!port_ || port_->outstanding() == 0) return false;
    if (services_.offline()) return true;  // a capture's verdicts are all written
    // Live, at exit: wait for verdicts at most as long as a hold would.
    const uint64_t now = services_.steady_ns();
    if (!drain_started_ns_) drain_started_ns_ = now;
    const uint64_t limit = std::max<uint64_t>(uint64_t{settings_.malware.hold_timeout_ms} * 1000000ull, 1000000000ull);
    return now - drain_started_ns_ < limit;
}

// ---- management side ------------------------------------------------------------

namespace {

template <typename E>
void add_set(const CounterSet<E>& c, const char* family, const char* help, const char* label, const std::string& worker,
             MetricSamples& out) {
    for (size_t i = 0; i < CounterSet<E>::size; ++i)
        out.push_back({family, help, true, {{"worker", worker}, {label, std::string(CounterSet<E>::name(i))}},
                       static_cast<double>(c.get(i))});
}

template <typename E, size_t N>
void add_array(const std::array<uint64_t, N>& a, const char* family, const char* help, const char* label,
               MetricSamples& out, bool counter = true) {
    for (size_t i = 0; i < N; ++i)
        out.push_back({family, help, counter, {{label, std::string(counter_name(static_cast<E>(i)))}},
                       static_cast<double>(a[i])});
}

template <typename E>
void write_sum(JsonWriter& w, std::string_view name, std::span<const Detector* const> instances,
               const CounterSet<E>& (*get)(const SmbDetector&)) {
    w.begin_object(name);
    for (size_t i = 0; i < CounterSet<E>::size; ++i) {
        uint64_t sum = 0;
        for (const Detector* d : instances) sum += get(*as_smb(d)).get(i);
        if (sum) w.kv(CounterSet<E>::name(i), sum);
    }
    w.end_object();
}

const ScanService* shared_scanner(std::span<const Detector* const> instances) {
    for (const Detector* d : instances)
        if (const ScanService* s = as_smb(d)->scanner()) return s;
    return nullptr;
}

void write_malware_object(JsonWriter& w, const ScanService& svc) {
    const ScanMetrics m = svc.metrics();
    const EngineInfo e = svc.engine_info();
    w.begin_object("engine");
    w.kv("version", e.engine_version);
    w.kv("db_dir", e.db_dir);
    w.kv("signatures", uint64_t{e.signatures});
    w.kv("db_version", uint64_t{e.db_version});
    w.kv("db_time", e.db_time);
    w.end_object();
    w.kv("queued", uint64_t{svc.queued()});
    w.begin_object("jobs");
    for (size_t i = 0; i < m.submit.size(); ++i) w.kv(counter_name(static_cast<SubmitCounter>(i)), m.submit[i]);
    w.end_object();
    w.begin_object("scans");
    for (size_t i = 0; i < m.scan.size(); ++i) w.kv(counter_name(static_cast<ScanCounter>(i)), m.scan[i]);
    w.end_object();
    w.begin_object("reasons");
    for (size_t i = 1; i < m.reasons.size(); ++i) w.kv(counter_name(static_cast<ScanReason>(i)), m.reasons[i]);
    w.end_object();
    w.begin_object("service");
    for (size_t i = 0; i < m.service.size(); ++i) w.kv(counter_name(static_cast<ServiceCounter>(i)), m.service[i]);
    w.end_object();
}

}  // namespace

void SmbDetector::metrics(std::span<const Detector* const> instances, MetricSamples& out) {
    for (size_t wi = 0; wi < instances.size(); ++wi) {
        const SmbDetector& d = *as_smb(instances[wi]);
        const std::string worker = std::to_string(wi);
        add_set(d.smb_context().counters(), "sluice_smb_total", "SMB decoding, by event.", "event", worker, out);
        add_set(d.smb_context().anomalies(), "sluice_smb_anomalies_total", "Malformed or hostile SMB input, by reason.",
                "reason", worker, out);
        {
            // Carving on the worker and on its carving thread, summed.
            CounterSet<FileCounter> carving;
            for (size_t i = 0; i < CounterSet<FileCounter>::size; ++i) {
                uint64_t v = d.smb_context().files().counters().get(i);
                for (const auto& c : d.carvers()) v += c->carving_counters().get(i);
                carving.inc(static_cast<FileCounter>(i), v);
            }
            add_set(carving, "sluice_files_carving_total", "File reassembly (carving), by event.", "event", worker, out);
        }
        if (!d.carvers().empty()) {
            CounterSet<CarverCounter> offload;
            for (const auto& c : d.carvers())
                for (size_t i = 0; i < CounterSet<CarverCounter>::size; ++i)
                    offload.inc(static_cast<CarverCounter>(i), c->counters().get(i));
            add_set(offload, "sluice_files_offload_total",
                    "File data handed from the worker to its carving threads, by event.", "event", worker, out);
        }
        add_set(d.counters(), "sluice_files_total", "Carved files on their way to the scanner and back, inline holds, by event.",
                "event", worker, out);
        uint64_t memory = d.smb_context().files().memory_used(), spill = d.smb_context().files().spill_used(), held = 0;
        for (const auto& c : d.carvers()) {
            memory += c->memory_used();
            spill += c->spill_used();
            held += c->mbufs_held();
        }
        out.push_back({"sluice_files_memory_bytes", "File content held in memory by the carver.", false,
                       {{"worker", worker}}, static_cast<double>(memory)});
        out.push_back({"sluice_files_spill_bytes", "File content in spill files owned by the carver.", false,
                       {{"worker", worker}}, static_cast<double>(spill)});
        if (!d.carvers().empty())
            out.push_back({"sluice_files_offload_mbufs", "Packet buffers the carving threads hold references on.", false,
                           {{"worker", worker}}, static_cast<double>(held)});
        out.push_back({"sluice_files_gates", "Inline file holds in use (waiting or draining).", false, {{"worker", worker}},
                       static_cast<double>(d.gates().in_use())});
        out.push_back({"sluice_files_outstanding", "Files handed off the worker (carving thread, scanner), not yet taken back.", false, {{"worker", worker}},
                       static_cast<double>(d.outstanding())});
    }
    const ScanService* svc = shared_scanner(instances);
    if (!svc) return;
    const ScanMetrics m = svc->metrics();
    add_array<SubmitCounter>(m.submit, "sluice_malware_jobs_total", "Scan jobs handed over by workers, by outcome.", "event", out);
    add_array<ScanCounter>(m.scan, "sluice_malware_scans_total",
                           "Scanner work, by event (verdicts, bytes, time sums in ns, scan time buckets, quarantine, filestore).",
                           "event", out);
    add_array<ScanReason>(m.reasons, "sluice_malware_scan_reasons_total",
                          "Why a scan was not plainly clean or malicious, by reason.", "reason", out);
    out.push_back({"sluice_malware_reloads_total", "ClamAV database reloads, by result.", true, {{"result", "ok"}},
                   static_cast<double>(m.get(ServiceCounter::reloads_ok))});
    out.push_back({"sluice_malware_reloads_total", "ClamAV database reloads, by result.", true, {{"result", "failed"}},
                   static_cast<double>(m.get(ServiceCounter::reloads_failed))});
    out.push_back({"sluice_malware_reload_seconds", "Load and compile time of the last database reload attempt.", false, {},
                   static_cast<double>(m.get(ServiceCounter::last_reload_ns)) / 1e9});
    out.push_back({"sluice_malware_signatures", "Signatures in the ClamAV engine in use.", false, {},
                   static_cast<double>(m.get(ServiceCounter::engine_signatures))});
    out.push_back({"sluice_malware_db_version", "Version of the official ClamAV database in use (0: custom only).", false, {},
                   static_cast<double>(m.get(ServiceCounter::engine_db_version))});
    out.push_back({"sluice_malware_queue_jobs", "Jobs waiting for a scanner thread.", false, {},
                   static_cast<double>(svc->queued())});
}

void SmbDetector::write_stats(std::span<const Detector* const> instances, JsonWriter& w) {
    if (instances.empty()) return;
    w.begin_object("smb");
    write_sum<SmbCounter>(w, "decoder", instances, [](const SmbDetector& d) -> const CounterSet<SmbCounter>& {
        return d.smb_context().counters();
    });
    write_sum<SmbAnomaly>(w, "anomalies", instances, [](const SmbDetector& d) -> const CounterSet<SmbAnomaly>& {
        return d.smb_context().anomalies();
    });
    w.end_object();
    w.begin_object("files");
    w.begin_object("carving");
    for (size_t i = 0; i < CounterSet<FileCounter>::size; ++i) {
        uint64_t sum = 0;
        for (const Detector* d : instances) {
            sum += as_smb(d)->smb_context().files().counters().get(i);
            for (const auto& c : as_smb(d)->carvers()) sum += c->carving_counters().get(i);
        }
        if (sum) w.kv(CounterSet<FileCounter>::name(i), sum);
    }
    w.end_object();
    w.begin_object("offload");
    for (size_t i = 0; i < CounterSet<CarverCounter>::size; ++i) {
        uint64_t sum = 0;
        for (const Detector* d : instances)
            for (const auto& c : as_smb(d)->carvers()) sum += c->counters().get(i);
        if (sum) w.kv(CounterSet<CarverCounter>::name(i), sum);
    }
    w.end_object();
    write_sum<FilesCounter>(w, "verdicts", instances,
                            [](const SmbDetector& d) -> const CounterSet<FilesCounter>& { return d.counters(); });
    w.end_object();
    if (const ScanService* svc = shared_scanner(instances)) {
        w.begin_object("malware");
        write_malware_object(w, *svc);
        w.end_object();
    }
}

bool SmbDetector::control(std::span<const Detector* const> instances, const std::vector<std::string>& words,
                          std::string& reply) {
    if (words.empty() || words[0] != "malware-stats") return false;
    std::string buf(1 << 16, '\0');
    JsonWriter w(buf.data(), buf.size());
    w.begin_object();
    const ScanService* svc = shared_scanner(instances);
    w.kv("enabled", svc != nullptr);
    if (svc) write_malware_object(w, *svc);
    uint64_t held = 0, gates = 0, outstanding = 0;
    for (const Detector* d : instances) {
        held += as_smb(d)->counters().get(FilesCounter::held_packets);
        gates += as_smb(d)->gates().in_use();
        outstanding += as_smb(d)->outstanding();
    }
    w.begin_object("workers");
    w.kv("gates_in_use", gates);
    w.kv("outstanding", outstanding);
    w.kv("held_packets", held);
    w.end_object();
    w.end_object();
    reply = std::string(w.view());
    return true;
}

}  // namespace sluice
