// Fuzz target for the files detector: hostile SMB streams through the whole
// glue - decoder, carving, scan jobs to a real (small) ClamAV service, inline
// holds in ips mode with a tiny hold timeout and a small queue, so that
// verdicts, timeouts and overload policies all happen. The input is the
// script of fuzz_smb (tests/detectors/smb/fuzz_smb.cpp):
//   record := ctl:u8 len:u16le payload[len]
//   ctl bit 0: direction; bit 1: a gap of len bytes; bits 2-7: piece size / 7
// plus: ctl bits 2-7 == 63 runs the detector's poll() instead. After the flow
// ends and every verdict is back, nothing may be left: no gate, no file at
// the scanner, no held packet, no carver memory. Each input runs twice: in
// ips mode (carving on the worker) and in ids mode, where the carving thread
// (FileCarver) carves: no file may stay at it either.
#include <openssl/evp.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "dataplane/event_ring.hpp"
#include "detectors/files/file_carver.hpp"
#include "detectors/files/smb_detector.hpp"
#include "detectors/malware/scan_service.hpp"

namespace {

using namespace sluice;

class FuzzServices final : public WorkerServices {
public:
    explicit FuzzServices(bool ips) : ips_(ips), ring_(1u << 20), eve_(ring_, ~0ull, false, "") {}
    unsigned worker_id() const override { return 0; }
    bool ips() const override { return ips_; }
    bool offline() const override { return false; }
    EveEmitter& eve() override { return eve_; }
    void raise(PacketRef& p, Verdict v, DropReason why) override {
        if (v > p.verdict) p.verdict = v, p.reason = why;
    }
    void raise(StreamContext& ctx, Verdict v, DropReason why) override {
        if (ctx.packet) raise(*ctx.packet, v, why);
        else if (v >= Verdict::drop_flow) ctx.flow.flags |= flowflag::drop;
    }
    void stop_inspection(Flow&) override {}
    void publish(StreamContext&, const AppTransaction&) override {}
    void publish(StreamContext&, const AppRecord&) override {}
    bool hold(PacketRef& p, uint64_t token, uint64_t, Verdict) override {
        if (held_ >= 16) return false;  // a small hold table: refusals happen too
        p.held = true;
        ++held_;
        tokens_[token] += 1;
        return true;
    }
    void release(uint64_t token, Verdict, DropReason) override {
        auto it = tokens_.find(token);
        if (it == tokens_.end()) return;
        held_ -= it->second;
        tokens_.erase(it);
    }
    uint64_t steady_ns() const override {
        return static_cast<uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
    }
    void drain_events() {
        while (!ring_.front().empty()) ring_.pop();
    }
    // Packets still held whose gate settled are released by the worker at
    // their deadline; here: forget them once the detector has no gate.
    void expire_all() {
        tokens_.clear();
        held_ = 0;
    }

private:
    bool ips_;
    EventRing ring_;
    EveEmitter eve_;
    size_t held_ = 0;
    std::map<uint64_t, size_t> tokens_;
};

std::string eicar_md5_line() {
    std::string e = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$";
    e += "EICAR-STANDARD-ANTIVIRUS";
    e += "-TEST-FILE!$H+H*";
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(e.data(), e.size(), d, &n, EVP_md5(), nullptr);
    std::string hex;
    char b[3];
    for (unsigned i = 0; i < n; ++i) {
        std::snprintf(b, sizeof b, "%02x", d[i]);
        hex += b;
    }
    return hex + ":" + std::to_string(e.size()) + ":Fuzz.EICAR\n";
}

struct World {
    World() {
        const char* t = std::getenv("TMPDIR");
        dir = std::filesystem::path(t ? t : "/tmp") / ("sluice-fuzz-files-" + std::to_string(::getpid()));
        std::filesystem::create_directories(dir / "db");
        std::ofstream(dir / "db" / "fuzz.hdb") << eicar_md5_line();
        SmbDetectorSettings s;
        s.smb.pdu_buffer_size = 2048;
        s.smb.max_open_files = 8;
        s.smb.max_pending = 16;
        s.smb.max_chain = 8;
        s.smb.max_name_bytes = 64;
        s.smb.files.memory_total = 256 * 1024;
        s.smb.files.memory_per_file = 8192;
        s.smb.files.max_file_size = 1 << 20;
        s.smb.files.spill_total = 1 << 20;
        s.smb.files.max_ranges = 32;
        s.smb.files.spill_dir = dir.string();
        s.smb.encrypted_policy = EncryptedPolicy::block;
        s.malware.scan.db_dir = (dir / "db").string();
        s.malware.scan.queue_capacity = 4;
        s.malware.scan.results_per_worker = 8;
        s.malware.hold_timeout_ms = 2;
        s.malware.timeout_policy = FailPolicy::fail_closed;
        s.malware.overload_policy = FailPolicy::fail_closed;
        s.max_gates = 4;
        auto svc = ScanService::create(s.malware.scan, 1);
        if (!svc) {
            std::fprintf(stderr, "fuzz_smb_detector: %s\n", svc.message().c_str());
            std::abort();
        }
        scanner = std::shared_ptr<ScanService>(std::move(svc.value()));
        if (!scanner->start()) std::abort();
        det = std::make_unique<SmbDetector>(s, scanner, services, 0);
        s.smb.offload_threads = 2;  // the ids detector spreads its files over two carving threads
        ids_det = std::make_unique<SmbDetector>(s, scanner, ids_services, 0);
        if (ids_det->carvers().size() != 2) std::abort();
    }
    ~World() {
        if (std::getenv("SLUICE_FUZZ_VERBOSE")) {
            for (size_t i = 0; i < CounterSet<FilesCounter>::size; ++i)
                if (det->counters().get(i))
                    std::fprintf(stderr, "  %s %llu\n", std::string(CounterSet<FilesCounter>::name(i)).c_str(),
                                 static_cast<unsigned long long>(det->counters().get(i)));
        }
        det.reset();
        ids_det.reset();
        scanner.reset();
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
    std::filesystem::path dir;
    FuzzServices services{true};
    FuzzServices ids_services{false};
    std::shared_ptr<ScanService> scanner;
    std::unique_ptr<SmbDetector> det;      // ips: carving on the worker
    std::unique_ptr<SmbDetector> ids_det;  // ids: carving thread
};

World& world() {
    static World w;
    return w;
}


void run_one(SmbDetector& det, FuzzServices& services, const uint8_t* data, size_t size) {
    Flow flow;
    flow.key.addr[0] = *IpAddr::parse("198.18.0.10");
    flow.key.addr[1] = *IpAddr::parse("198.18.0.20");
    flow.key.port[0] = 49152;
    flow.key.port[1] = 445;
    flow.key.ip_proto = ipproto::tcp;
    flow.flow_id = 1;
    std::deque<PacketRef> packets;
    size_t at = 0;
    uint64_t offset[2] = {0, 0};
    while (at + 3 <= size) {
        const uint8_t ctl = data[at];
        const size_t len = static_cast<size_t>(data[at + 1]) | (static_cast<size_t>(data[at + 2]) << 8);
        at += 3;
        const auto dir = (ctl & 1) ? Direction::to_client : Direction::to_server;
        auto& off = offset[index(dir)];
        if ((ctl >> 2) == 63) {
            det.poll();
            continue;
        }
        if (ctl & 2) {
            StreamContext ctx{flow, nullptr};
            det.on_stream_gap(ctx, dir, off, len);
            off += len;
            continue;
        }
        const size_t n = len < size - at ? len : size - at;
        const size_t piece = (ctl >> 2) ? (ctl >> 2) * 7u : n;
        for (size_t p = 0; p < n; p += piece) {
            const size_t k = piece < n - p ? piece : n - p;
            packets.emplace_back();
            PacketRef& pr = packets.back();
            pr.flow = &flow;
            pr.dir = dir;
            pr.pkt.ip_proto = ipproto::tcp;
            pr.pkt.payload_len = static_cast<uint32_t>(k);
            StreamContext ctx{flow, &pr};
            det.on_stream_data(ctx, dir, off, std::span<const uint8_t>(data + at + p, k));
            PacketRef* batch[1] = {&pr};
            det.inspect(std::span<PacketRef* const>(batch, 1));
            off += k;
        }
        at += n;
    }
    det.on_stream_end(flow);
    det.on_flow_end(flow);
    if (flow.detector_state[0] != nullptr) std::abort();
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (det.outstanding() && std::chrono::steady_clock::now() < until) {
        det.poll();
        std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    det.poll();
    if (det.outstanding() || det.gates().in_use() || det.gates().unsettled()) std::abort();
    if (det.smb_context().files().memory_used() || det.smb_context().files().spill_used()) std::abort();
    for (const auto& c : det.carvers())
        if (c->in_flight() || c->mbufs_held()) std::abort();
    services.expire_all();
    services.drain_events();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    World& w = world();
    run_one(*w.det, w.services, data, size);
    run_one(*w.ids_det, w.ids_services, data, size);
    return 0;
}
