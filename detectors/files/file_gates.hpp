// FileGates: the per-worker table of inline file verdicts being waited for
// (ips mode). A gate belongs to one flow: it is opened when a chunk of that
// flow completes a file that went to the scanner, and every packet the worker
// holds for that flow (the one that completed the file, later ones in the
// same direction, retransmissions of the held bytes) waits under the gate's
// hold token. Files finishing on the flow while the gate is open join it. The
// gate settles once: forward when every file came back clean, reject at the
// first malicious verdict, or the timeout policy at its deadline; it is freed
// when the last of its files came back (late verdicts still find it).
//
// PendingFiles: what the worker remembers of each file at the scanner (the
// job's cookie indexes it): the EVE facts and the gate it waits under.
//
// Both are fixed-size tables allocated at start (no allocation per packet or
// per file beyond the scan job itself).
// Thread rules: owned by one worker.
#pragma once

#include <cstdint>
#include <vector>

#include "dataplane/flow_table.hpp"
#include "detectors/files/file_events.hpp"

namespace sluice {

// Hold tokens of this detector: a fixed tag in the top 16 bits, so they never
// equal another detector's tokens in the worker's shared hold table.
inline constexpr uint64_t kFileHoldTokenTag = 0xF11Eull << 48;

struct FileGate {
    uint64_t token = 0;        // 0: free
    Flow* flow = nullptr;      // null once the flow ended
    uint64_t deadline_ns = 0;  // steady clock
    uint32_t pending = 0;      // files waiting for their verdict
    uint32_t held = 0;         // packets held under the token
    uint8_t dirs = 0;          // bit per Direction whose packets are held
    bool settled = false;      // released (forward/reject) or timed out: nothing more is held
    bool blocked = false;      // settled by rejecting the held packets
    bool timed_out = false;
};

class FileGates {
public:
    explicit FileGates(uint32_t capacity);

    // A new gate for `flow` (1-based index), or 0 when the table is full.
    uint32_t open(Flow* flow, uint64_t deadline_ns);
    FileGate& at(uint32_t index) { return gates_[index - 1]; }
    const FileGate& at(uint32_t index) const { return gates_[index - 1]; }
    void free(uint32_t index);

    // Gates not yet settled (open ones are scanned for deadlines only while > 0).
    uint32_t unsettled() const { return unsettled_; }
    uint32_t in_use() const { return in_use_; }
    uint32_t capacity() const { return static_cast<uint32_t>(gates_.size()); }
    void mark_settled(FileGate& g) {
        if (!g.settled) --unsettled_;
        g.settled = true;
    }

    // Calls fn(index, gate) for every unsettled gate whose deadline is <= now.
    template <typename Fn>
    void for_each_expired(uint64_t now_ns, Fn&& fn) {
        if (!unsettled_) return;
        for (uint32_t i = 0; i < gates_.size(); ++i) {
            FileGate& g = gates_[i];
            if (g.token && !g.settled && g.deadline_ns <= now_ns) fn(i + 1, g);
        }
    }

private:
    std::vector<FileGate> gates_;
    std::vector<uint32_t> free_;  // free indices (0-based), used as a stack
    uint64_t next_seq_ = 0;
    uint32_t unsettled_ = 0;
    uint32_t in_use_ = 0;
};

struct PendingFile {
    bool used = false;
    Flow* flow = nullptr;       // null once the flow ended
    uint32_t gate = 0;          // FileGates index, 0: not gated
    uint64_t gate_token = 0;    // the gate's token when joined (a freed and reused gate has another)
    FileRecord record;
};

class PendingFiles {
public:
    explicit PendingFiles(uint32_t capacity);

    // A free entry's index (its cookie), or UINT32_MAX when full.
    uint32_t take();
    PendingFile* find(uint64_t cookie);
    void release(uint64_t cookie);
    uint32_t in_use() const { return in_use_; }

private:
    std::vector<PendingFile> entries_;
    std::vector<uint32_t> free_;
    uint32_t in_use_ = 0;
};

}  // namespace sluice
