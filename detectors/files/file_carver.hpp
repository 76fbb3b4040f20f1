// FileCarver: carves one worker's SMB files on a thread of its own, so the
// worker does no per-byte work on file content (issue 5 part 8). It is the
// worker's ContentSink (detectors/smb/file_assembler.hpp): the worker's
// assemblers keep only range bookkeeping and hand every write over; the
// carving thread runs a FileAssembler per file (copy into the file's buffer,
// spill to disk past the caps, SHA-256, libmagic) with a FileStore of its own,
// and hands each finished file back.
//
// Hand-over by copy (copy mode, the default: smb.file.offload-copy): while the
// worker feeds the SMB decoder a chunk of reassembled stream that lies in a
// packet's mbuf, a write inside it is copied into the carving thread's arena
// (smb.file.offload-arena, touched at creation) with non-temporal stores, and
// the mbuf is freed with its burst as if there were no carving: it goes back
// to the worker's mempool cache still in the worker's cache, and the next
// packet copied into it (net_pcap, af_packet) does not have to take its lines
// back from the carving thread's core; the stores themselves neither read the
// arena's lines for ownership nor pull them into the worker's cache. A write
// that finds the arena full goes by reference instead (below).
//
// Hand-over without a copy (smb.file.offload-copy off, or the arena full):
// while the worker feeds the SMB decoder a chunk of
// reassembled stream that lies in a packet's mbuf (the in-order fast path;
// set_backing), a write inside it is passed by reference: the worker takes a
// reference on the mbuf (rte_mbuf_refcnt_update) and the carving thread drops
// it (rte_pktmbuf_free, safe from a non-EAL thread) once it has copied the
// bytes, handing the mbuf back through a return ring: the worker frees it in
// poll() (reclaim), so it goes back to the worker's own mempool cache and is
// reused while its lines are still cached, instead of travelling through the
// pool's common ring (which, reading a capture, made the worker cycle through
// the whole pool, every packet copy a cache miss). Other writes (out-of-order data from the reassembler's own buffers,
// IP-reassembled datagrams, data fed without a packet) and writes once
// max_mbufs references are held are copied by the worker into a bounded byte
// arena instead, counted by reason. When neither the ring nor the arena has
// room: reading a capture the worker waits (counted; nothing is lost), live
// the write is lost (counted) and the file ends TRUNCATED (a hole).
//
// Rings: one single-producer (worker) single-consumer (carving thread) ring of
// operations (open, write, finish, abort), with room always kept for the
// control operations of every file slot; one ring of finished files back,
// as large as the slot table, so it never overflows. Files are slots
// (handles) of a table of max_files; a file without a free slot is carved on
// the worker (counted).
//
// Ownership: the SmbDetector of a worker owns its FileCarver; the carving
// thread is started by create() and stopped by the destructor, which frees
// the mbuf references and files still in flight (so the carver must be
// destroyed before the packet pool). A CarvedFile from poll() owns its
// content (when kept) and is freed after the callback.
// Thread rules: open/write/finish/abort/set_backing/poll on the owning worker
// only; counters()/carving_counters()/memory_used() from any thread (plain
// integers, summed by the reader).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <thread>
#include <vector>

#include "dataplane/counters.hpp"
#include "dataplane/spsc_ring.hpp"
#include "dataplane/zeroed_pages.hpp"
#include "detectors/smb/file_assembler.hpp"

struct rte_mbuf;

namespace sluice {

#define SLUICE_CARVER_COUNTERS(X)                                                                  \
    X(files, "files")                             /* files carved on the carving thread */         \
    X(chunks_by_reference, "chunks_by_reference") /* writes passed by mbuf reference */            \
    X(bytes_by_reference, "bytes_by_reference")                                                    \
    X(copied_not_in_mbuf, "copied_not_in_mbuf")   /* copied: not inside the packet's mbuf */       \
    X(copied_mbuf_limit, "copied_mbuf_limit")     /* copied: max_mbufs references held */          \
    X(copied_in_mbuf, "copied_in_mbuf")           /* copy mode: in the packet's mbuf, copied */     \
    X(by_reference_arena_full, "by_reference_arena_full") /* copy mode: arena full, by reference */  \
    X(copied_bytes, "copied_bytes")               /* bytes the worker copied into the arena */     \
    X(waits, "waits")                             /* capture input: waited for room */             \
    X(lost_writes, "lost_writes")                 /* live: no room, write lost (file TRUNCATED) */ \
    X(lost_bytes, "lost_bytes")                                                                    \
    X(no_slot, "no_slot")                         /* no free file slot: carved on the worker */

enum class CarverCounter : unsigned {
#define SLUICE_X(id, name) id,
    SLUICE_CARVER_COUNTERS(SLUICE_X)
#undef SLUICE_X
        count
};

constexpr std::string_view counter_name(CarverCounter c) {
    constexpr std::string_view names[] = {
#define SLUICE_X(id, name) name,
        SLUICE_CARVER_COUNTERS(SLUICE_X)
#undef SLUICE_X
    };
    return names[static_cast<size_t>(c)];
}

struct FileCarverSettings {
    FileStoreConfig files;           // caps of the carving thread's FileStore
    uint32_t max_files = 1024;       // file slots (files handed over and not yet polled back)
    uint32_t max_mbufs = 4096;       // mbuf references held at once (smb.file.offload-mbufs)
    uint32_t arena_bytes = 4u << 20; // bytes copied by the worker and not yet carved
    // Copy mode (smb.file.offload-copy): the worker copies every write into the
    // arena with non-temporal stores and keeps no packet reference; a write
    // that finds the arena full goes by reference instead (or waits/is lost as below).
    bool copy = false;
    bool offline = false;            // reading a capture: wait for room, never lose a write
    int cpu = -1;                    // the CPU the carving thread runs on (smb.file.offload-cpus); -1: inherited
};

// A finished file, back from the carving thread.
struct CarvedFile {
    uint32_t handle = ContentSink::kNoHandle;
    AssembledFile file;  // as FileAssembler::finish made it; content empty unless kept
};

// The copy mode's non-temporal copy, one instruction set chosen (tests: the
// carver picks the widest the CPU has): n bytes to a 64-byte aligned dst, the
// last line zero-padded to 64 bytes. False when the CPU lacks the set.
enum class StreamCopyIsa { sse2, avx2, avx512 };
bool stream_copy_with(StreamCopyIsa isa, uint8_t* dst, const uint8_t* src, size_t n);

class FileCarver final : public ContentSink {
public:
    static std::unique_ptr<FileCarver> create(const FileCarverSettings& settings);
    ~FileCarver() override;
    FileCarver(const FileCarver&) = delete;
    FileCarver& operator=(const FileCarver&) = delete;

    // The packet whose reassembled bytes are being fed (null: none): writes that
    // lie inside its first segment's data go by reference.
    void set_backing(rte_mbuf* m) { backing_ = m; }

    // ContentSink (the worker's assemblers call these).
    uint32_t open(uint64_t size_hint) override;
    void write(uint32_t handle, uint64_t offset, std::span<const uint8_t> data) override;
    void finish(uint32_t handle, uint64_t required_end) override;
    void abort(uint32_t handle) override;
    // Whether finished files keep their content for the caller (a scanner
    // takes it) or the carving thread frees it (files finished from now on).
    void set_keep_content(bool keep) { keep_ = keep; }

    // Calls f(CarvedFile&) for each finished file, in finishing order, then
    // frees it and its slot. Returns how many.
    template <typename F>
    size_t poll(F&& f) {
        flush();
        reclaim();
        size_t n = 0;
        while (CarvedFile* c = pop_result()) {
            f(*c);
            release(c);
            ++n;
        }
        return n;
    }
    // Frees the mbufs the carving thread is done with (poll() does it too).
    void reclaim();
    // Publishes the operations written so far to the carving thread (poll()
    // does it too; writes publish every few operations on their own).
    void flush();
    // Files handed over (slots in use) whose result was not yet polled.
    uint32_t in_flight() const { return static_cast<uint32_t>(slots_in_use_.get()); }
    bool has_free_slot() const { return !free_slots_.empty(); }  // worker side
    uint32_t mbufs_held() const;

    const CounterSet<CarverCounter>& counters() const { return counters_; }
    // The carving thread's FileStore counters and budgets.
    const CounterSet<FileCounter>& carving_counters() const { return store_->counters(); }
    uint64_t memory_used() const { return store_->memory_used(); }
    uint64_t spill_used() const { return store_->spill_used(); }

    // For tests: waits (sleeping) until the carving thread has done every
    // operation handed over so far.
    void drain();

private:
    // One cache line: a data operation is written to the ring with one
    // non-temporal store (the slot's line was last read by the carving
    // thread: an ordinary store would fetch it back from that core first).
    struct alignas(64) Op {
        enum Kind : uint8_t { open_file, data, finish_file, abort_file };
        Kind kind = data;
        bool keep = false;        // open_file: keep the content for the caller
        uint32_t handle = 0;
        uint32_t len = 0;
        uint32_t arena_bytes = 0; // data from the arena: bytes to give back after it
        uint64_t offset = 0;      // data: file offset; open: size hint; finish: required end
        const uint8_t* ptr = nullptr;
        rte_mbuf* mbuf = nullptr; // reference to drop after the copy
    };

    static_assert(sizeof(Op) == 64, "a ring operation is one cache line");

    explicit FileCarver(const FileCarverSettings& settings);
    void run();
    void apply(const Op& op);
    // Worker side.
    bool push(const Op& op);
    void staged_one();
    uint32_t ring_free(uint32_t want);
    bool room_for_data();
    uint32_t ring_slack() const;  // room a waiting worker waits for beyond the reserve
    bool copy_write(uint32_t handle, uint64_t offset, std::span<const uint8_t> data, CarverCounter reason);
    // Arena bytes a piece of n bytes takes at the current head (64-byte
    // aligned; a piece never wraps: the bytes left before the end are skipped).
    uint64_t arena_need(uint32_t n) const;
    bool arena_room(uint64_t need);
    // Copies one piece (at most kMaxArenaPiece bytes) into the arena and queues
    // it; arena_room(need) and room_for_data() must hold.
    void put_piece(uint32_t handle, uint64_t offset, std::span<const uint8_t> data, uint64_t need);
    // Capture input: sleeps until ready() (the carving thread always progresses).
    template <typename Ready>
    void wait_for(Ready&& ready);
    void push_control(const Op& op);
    CarvedFile* pop_result();
    void release(CarvedFile* c);

    FileCarverSettings settings_;
    std::unique_ptr<FileStore> store_;  // the carving thread's
    std::vector<std::unique_ptr<FileAssembler>> files_;  // by handle; carving thread only
    std::vector<uint8_t> slot_keep_;    // by handle: content kept (set at open); carving thread only
    ZeroedPages arena_pages_;           // the arena, mapped (else in arena_storage_)
    std::unique_ptr<uint8_t[]> arena_storage_;
    uint8_t* arena_ = nullptr;          // 64-byte aligned, arena_bytes (a multiple of 64)

    // Operations (worker -> thread; a slot is released once its operation
    // was applied), finished files (thread -> worker, as large as the slot
    // table: never full), mbufs the thread is done with (thread -> worker, as
    // large as max_mbufs: never full).
    SpscRing<Op> ops_;
    SpscRing<CarvedFile*> results_;
    SpscRing<rte_mbuf*> done_;
    // Published by the thread: arena bytes given back.
    alignas(64) std::atomic<uint64_t> arena_released_{0};
    std::atomic<bool> stop_{false};

    // Worker-only state.
    alignas(64) Counter mbufs_sent_;   // worker-written; read by metrics too
    Counter mbufs_freed_;
    uint64_t arena_head_ = 0;
    uint64_t arena_at_ = 0;              // arena_head_ % arena_bytes, moved along with it (no division per write)
    uint64_t arena_released_cache_ = 0;  // arena_released_ as last read
    bool streamed_ = false;               // non-temporal stores not yet fenced
    rte_mbuf* backing_ = nullptr;
    std::vector<uint32_t> free_slots_;
    Counter slots_in_use_;
    uint32_t control_reserve_ = 0;
    bool keep_ = false;
    CounterSet<CarverCounter> counters_;

    std::thread thread_;
};

}  // namespace sluice
