// SmbDecoder: decodes the SMB traffic of one TCP connection (445 direct TCP or
// 139 NetBIOS session service) from the reassembled byte streams, tracks
// sessions, shares and open files, and carves every file read or written into a
// FileAssembler; it reports files, encrypted/signed sessions, transactions and
// anomalies to an SmbEventSink.
//
// Feeding: the worker calls on_data/on_gap/on_end (dataplane/stream.hpp) with the
// in-order chunks of each direction, any boundaries. File data of READ responses
// and WRITE requests is copied once, straight from the chunk into the file's
// assembler, without buffering the message; the rest of a message is buffered up
// to smb.pdu_buffer_size. After each call, last_result() says whether the chunk
// completed or closed a file with content: the hold hook for ips mode.
//
// Ownership: the worker owns one SmbWorkerContext (config, FileStore, counters)
// and, per SMB flow, one SmbDecoder that refers to the context and to the sink;
// both must outlive the decoder. Memory per flow is bounded by the smb.* caps.
// Thread rules: a decoder, its context and its sink are used by one worker only.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "dataplane/counters.hpp"
#include "dataplane/stream.hpp"
#include "detectors/smb/file_assembler.hpp"
#include "detectors/smb/smb_config.hpp"
#include "detectors/smb/smb_counters.hpp"
#include "detectors/smb/smb_events.hpp"

namespace sluice {

// Per-worker state shared by every SMB flow of the worker.
class SmbWorkerContext {
public:
    explicit SmbWorkerContext(SmbConfig cfg = {});

    const SmbConfig& config() const { return cfg_; }
    // New caps apply to state allocated from now on (call at a burst boundary).
    void set_config(SmbConfig cfg);

    FileStore& files() { return files_; }
    const FileStore& files() const { return files_; }
    CounterSet<SmbCounter>& counters() { return counters_; }
    const CounterSet<SmbCounter>& counters() const { return counters_; }
    CounterSet<SmbAnomaly>& anomalies() { return anomalies_; }
    const CounterSet<SmbAnomaly>& anomalies() const { return anomalies_; }

private:
    SmbConfig cfg_;
    FileStore files_;
    CounterSet<SmbCounter> counters_;
    CounterSet<SmbAnomaly> anomalies_;
};

class SmbConnection;  // per-flow state, detectors/smb/smb_connection.hpp

class SmbDecoder final : public StreamConsumer {
public:
    // directions_known: the flow's to_server side is the TCP initiator (SYN
    // seen). Requests are then accepted only to_server and responses only
    // to_client (a forged response from the client never feeds a file). For a
    // flow picked up midstream pass false: the first SMB message's request/
    // response flag fixes the orientation, enforced from then on.
    SmbDecoder(SmbWorkerContext& ctx, SmbEventSink& sink, bool directions_known = true);
    ~SmbDecoder() override;  // drops unfinished files without events (call on_end first to report them)
    SmbDecoder(const SmbDecoder&) = delete;
    SmbDecoder& operator=(const SmbDecoder&) = delete;

    void on_data(Direction dir, uint64_t offset, std::span<const uint8_t> data) override;
    void on_gap(Direction dir, uint64_t offset, uint64_t len) override;
    // Finishes every open file (TRUNCATED unless all bytes of a known size are there).
    void on_end() override;

    // The same as on_data, returning the hold-hook result.
    const SmbFeedResult& feed(Direction dir, std::span<const uint8_t> data);
    // What the last on_data/on_gap/on_end did (files finished, their uids).
    const SmbFeedResult& last_result() const;

    // Introspection (tests, metrics): open files tracked, bytes of per-flow
    // buffers and tables currently allocated (file content not included).
    size_t open_files() const;
    size_t state_bytes() const;

private:
    // Runs one entry point; an exception (allocation failure) never reaches the
    // worker: it is counted, the flow's SMB state is dropped and the rest of the
    // flow is ignored.
    template <typename F>
    void guarded(F&& f);

    SmbWorkerContext& ctx_;
    SmbEventSink& sink_;
    std::unique_ptr<SmbConnection> conn_;
    SmbFeedResult dead_;  // last_result() once the state was dropped
};

}  // namespace sluice
