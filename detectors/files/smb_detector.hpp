// SmbDetector: SMB decoding, file carving and ClamAV verdicts in the data path
// (issue 5). Per SMB flow (server port 445 or 139, or app_proto smb from
// nDPI) it owns an SmbDecoder (detectors/smb) fed by the reassembled TCP
// streams; it writes EVE "smb" events per transaction, applies
// smb.encrypted-policy to encrypted SMB3 sessions (alert sid 9500010), and
// hands every finished file to the process-wide ScanService
// (detectors/malware) through this worker's ScanPort. Verdicts are collected
// in poll(): a "fileinfo" event per file (with the "clamav" result), an
// "alert" per malicious file (sid 9500001). Without a scanner (no
// malware.db-dir) files are logged as they finish. With a scanner in ids mode
// the worker does not hash files carved in memory: the scanner thread does,
// before scanning, and the fileinfo event carries its hash (docs/smb.md).
//
// Inline (ips mode): the packet whose data completed a file (the hold hook of
// SmbDecoder::last_result) is held under a gate (file_gates.hpp) until the
// verdict: clean -> forwarded; malicious -> rejected (TCP reset both ways)
// and the rest of the flow dropped; no verdict by malware.hold-timeout-ms ->
// malware.timeout-policy. Later packets of the flow in a held direction
// (retransmissions of the held bytes included) wait under the same gate. A
// file that cannot be scanned or held (queue full, hold table full) gets
// malware.overload-policy. Capture input never loses a file: a full queue
// makes the worker wait for room, and a flow's end waits for its verdicts (so
// its flow event and the file events come in the same order for any number
// of workers).
//
// Carving off the worker (ids mode, smb.file.offload, the default): the
// worker's file assemblers hand their writes to a FileCarver (file_carver.hpp),
// or to one of several (smb.file.offload-threads: each file to one, in turn),
// copied into its arena with non-temporal stores on the in-order path
// (smb.file.offload-copy; by packet reference when that is off or the arena
// is full); its carving thread copies, spills,
// hashes and finishes each file, and the file comes back in poll(), where its
// fileinfo event is written (or it goes on to the scanner). Reading a capture,
// a flow's end waits for its files to come back. ips carves on the worker
// (the completing packet is held on the file's hash and verdict).
//
// Ownership: one instance per worker. Per flow: a FlowState (the decoder and
// gate links) in Flow::detector_state[slot], made at the flow's first SMB
// stream data and freed in on_flow_end. Per worker: the SmbWorkerContext
// (carving budgets), the gate table (capture.hold-packets entries) and the
// pending-file table (malware.results-per-worker entries), all sized at start.
// Memory per flow is bounded by the smb.* caps (docs/smb.md).
// Thread rules: everything on the owning worker; metrics/write_stats/control
// read counters from the management thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "detectors/detector.hpp"
#include "detectors/files/file_gates.hpp"
#include "detectors/files/files_config.hpp"
#include "detectors/files/files_counters.hpp"
#include "detectors/smb/smb_decoder.hpp"

namespace sluice {

class ScanService;
class ScanPort;
class FileCarver;
struct CarvedFile;

struct SmbDetectorSettings {
    SmbConfig smb;
    MalwareConfig malware;
    uint32_t max_gates = 256;  // capture.hold-packets: a gate holds at least one packet
};

// The detector's settings from the configuration. The carving threads'
// packet references come out of the packet pool: all workers together hold at
// most a quarter of capture.mbufs, whatever smb.file.offload-mbufs says, so a
// carving thread that falls behind never starves the receive rings.
SmbDetectorSettings smb_detector_settings(const Config& config);

class SmbDetector final : public Detector, private SmbEventSink {
public:
    SmbDetector(const Config& config, const DetectionSnapshot& snapshot, WorkerServices& services, unsigned slot);
    SmbDetector(SmbDetectorSettings settings, std::shared_ptr<ScanService> scanner, WorkerServices& services, unsigned slot);
    ~SmbDetector() override;

    void on_snapshot(const DetectionSnapshot& snapshot) override;
    void on_stream_data(StreamContext& ctx, Direction dir, uint64_t offset, std::span<const uint8_t> data) override;
    void on_stream_gap(StreamContext& ctx, Direction dir, uint64_t offset, uint64_t len) override;
    void on_stream_end(Flow& flow) override;
    void inspect(std::span<PacketRef* const> packets) override;
    void on_flow_end(Flow& flow) override;
    void poll() override;
    bool pending() const override;

    // Introspection (tests, metrics; counters may be read from another thread).
    const SmbWorkerContext& smb_context() const { return smb_; }
    const CounterSet<FilesCounter>& counters() const { return counters_; }
    const FileGates& gates() const { return gates_; }
    const ScanService* scanner() const { return scanner_.get(); }
    // The carving threads (ids with smb.file.offload; smb.file.offload-threads of them).
    std::span<const std::unique_ptr<FileCarver>> carvers() const { return carvers_; }
    // Files handed off the worker (carver, scanner) and not yet taken back.
    uint32_t outstanding() const;
    // Whether `flow` has SMB state (made at its first SMB stream data).
    bool tracks(const Flow& flow) const { return flow.detector_state[slot_] != nullptr; }

    static void metrics(std::span<const Detector* const> instances, MetricSamples& out);
    static void write_stats(std::span<const Detector* const> instances, JsonWriter& w);
    static bool control(std::span<const Detector* const> instances, const std::vector<std::string>& words,
                        std::string& reply);

private:
    struct FlowState;
    struct CarvingFile;

    // SmbEventSink (called during SmbDecoder::on_data/on_gap/on_end; current_ is set).
    void on_file_finished(FileInfo& info) override;
    void on_session(const SmbSessionEvent& ev) override;
    void on_smb_transaction(const SmbTransaction& tx) override;

    FlowState* state(const Flow& flow) const { return static_cast<FlowState*>(flow.detector_state[slot_]); }
    FlowState* flow_state(StreamContext& ctx);
    void after_chunk(StreamContext& ctx, FlowState& st, Direction dir);
    // Runs `feed` (a call into st's decoder) with ctx/st as the current flow, which
    // the SmbEventSink callbacks read, and puts back the previous ones after (a
    // flow may end while another flow's packet is being decoded).
    template <typename Feed>
    void decode_as_current(StreamContext& ctx, FlowState& st, Feed&& feed);
    FileRecord make_record(const StreamContext& ctx, const FileInfo& info) const;
    // A finished file with its record: logged, or handed to the scanner (gated
    // in ips when `packet` completed it). flow/st may be null (flow ended).
    void route_file(FileInfo& info, FileRecord rec, Flow* flow, FlowState* st, PacketRef* packet);
    void poll_carved();
    void handle_carved(CarvedFile& c, uint32_t handle);
    // Capture input: retries `done` (polling results in between) until it
    // succeeds or a scan's worst case passed; live input: one try.
    bool wait_offline(const std::function<bool()>& done);
    void poll_results();
    void handle_result(ScanJob& job);
    void check_deadlines();
    // Settles a gate by rejecting what it holds and drops the rest of its flow.
    void block_gate(uint32_t index, FileGate& g);
    void free_gate(uint32_t index);
    void drop_flow(Flow& flow);
    Verdict timeout_verdict() const;
    void use_scanner_hash();
    uint64_t event_time(const StreamContext& ctx) const;

    SmbDetectorSettings settings_;
    WorkerServices& services_;
    unsigned slot_;
    SmbWorkerContext smb_;
    std::shared_ptr<ScanService> scanner_;
    ScanPort* port_ = nullptr;
    FileGates gates_;
    PendingFiles pending_;
    CounterSet<FilesCounter> counters_;

    StreamContext* current_ = nullptr;  // the flow/packet whose data is being decoded
    FlowState* current_state_ = nullptr;
    std::vector<CarvingFile> carving_;     // files at the carving threads, by sink handle
    std::unique_ptr<ContentSink> lanes_;   // several carving threads: the sink that spreads files over them
    unsigned lane_bits_ = 0;               // a sink handle is (carver handle << lane_bits_) | carver index
    std::vector<std::unique_ptr<FileCarver>> carvers_;  // last: stopped first
    mutable uint64_t drain_started_ns_ = 0;  // pending(): when the worker began waiting at exit
};

}  // namespace sluice
