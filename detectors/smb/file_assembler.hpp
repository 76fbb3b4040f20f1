// File reassembly for carved files (SMB reads and writes, any protocol that moves
// a file as data at offsets).
//
// FileAssembler: one file being carved. Writes come at arbitrary offsets, out of
// order and overlapping; the first data for a byte wins (like TCP). Content lives
// in memory up to a per-file cap and the worker's global cap, then spills to a
// temporary file in the configured directory; content past the maximum file size
// is not kept. SHA-256 is computed incrementally over the contiguous prefix from
// offset 0, so an in-order file is hashed as it arrives (also past the size cap,
// where the bytes are no longer kept). With FileStore::set_defer_hash(true) (the
// worker has a scanner that takes the content anyway) a file kept in memory is
// not hashed on the way: if at finish() its content is exactly its contiguous
// prefix, the hash is left to whoever takes the content (sha256_deferred; the
// scanner thread, or FileStore::complete_hash()); a file that spills, passes the
// size cap or ends otherwise is hashed from its kept bytes at that moment, so
// every file ends with the same hash either way. finish() says COMPLETE only when every byte
// from 0 to the required end is present and kept; anything else is TRUNCATED.
//
// FileStore: the per-worker context every assembler of that worker draws on
// (memory and spill budgets, spill directory, libmagic cookie, SHA-256 algorithm,
// scratch buffer, counters, file ids, and a small pool of freed content buffers).
// Buffer pool: a finished file's buffer given back with recycle() (the worker
// does so once it has logged a file it does not hand to a scanner), or an
// unfinished assembler's, is kept (at most kPoolBuffers, each at least
// kPoolMinBytes) and handed to the next assembler that needs room, so carving
// writes into pages already mapped instead of allocating and first-touching
// fresh ones per file. The budget (memory_total) counts the bytes a file
// reserved, as without the pool; the pool itself holds at most
// kPoolBuffers x memory_per_file more (16 MiB with the defaults), freed with
// the store (or by trim_pool()).
//
// Carving elsewhere (FileStore::set_content_sink): an assembler made while the
// store has a ContentSink keeps only the range bookkeeping on the worker
// (max_end, contiguous, covers: what the SMB decoder needs to see a file
// complete) and hands every write, as given, to the sink, which assembles the
// content, hashes it and finishes it on another thread with a FileAssembler of
// its own (detectors/files FileCarver). finish() then returns the file without
// content or hash (AssembledFile::carved_elsewhere, the sink's handle); the
// sink reports the real one later. Counters, memory and spill budgets are
// those of the sink's own FileStore then. When the sink refuses a file (no
// free handle), the assembler carves locally as before.
//
// Ownership: the worker owns its FileStore; a FileAssembler belongs to the flow
// that carves the file and must not outlive the store. finish() hands the content
// (memory buffer or spill file path) to the caller in a FileContent, which owns it:
// it frees the memory or unlinks the spill file when destroyed, unless released.
// Thread rules: FileStore and its assemblers are used by one worker thread only;
// a FileContent may be moved to another thread (the scanner).
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dataplane/counters.hpp"
#include "detectors/file_buffer.hpp"
#include "detectors/smb/file_magic.hpp"
#include "detectors/smb/smb_config.hpp"

struct evp_md_st;      // OpenSSL EVP_MD
struct evp_md_ctx_st;  // OpenSSL EVP_MD_CTX

namespace sluice {

#define SLUICE_FILE_COUNTERS(X)                                                        \
    X(files, "files")                               /* assemblers created */           \
    X(bytes_written, "bytes_written")               /* bytes offered to assemblers */  \
    X(bytes_kept, "bytes_kept")                     /* new bytes stored */             \
    X(bytes_overlap, "bytes_overlap")               /* already present: first wins */  \
    X(spilled_files, "spilled_files")                                                  \
    X(spilled_bytes, "spilled_bytes")                                                  \
    X(spill_per_file_cap, "spill_per_file_cap")     /* spilled: per-file memory cap */ \
    X(spill_global_cap, "spill_global_cap")         /* spilled: worker memory cap */   \
    X(spill_failures, "spill_failures")             /* could not spill: content dropped */ \
    X(spill_cap_reached, "spill_cap_reached")       /* worker spill budget exhausted */ \
    X(max_size_reached, "max_size_reached")         /* content past smb.file.max_size */ \
    X(range_overflow, "range_overflow")             /* too many disjoint ranges */     \
    X(offset_overflow, "offset_overflow")           /* offset + length past 2^64 */    \
    X(magic_failures, "magic_failures")

enum class FileCounter : unsigned {
#define SLUICE_X(id, name) id,
    SLUICE_FILE_COUNTERS(SLUICE_X)
#undef SLUICE_X
        count
};

constexpr std::string_view counter_name(FileCounter c) {
    constexpr std::string_view names[] = {
#define SLUICE_X(id, name) name,
        SLUICE_FILE_COUNTERS(SLUICE_X)
#undef SLUICE_X
    };
    return names[static_cast<size_t>(c)];
}

// FileBuffer (detectors/file_buffer.hpp): file content without zero-fill on
// resize; moved whole into a scan job.

enum class FileState : uint8_t { complete, truncated };

constexpr std::string_view to_string(FileState s) {
    return s == FileState::complete ? "COMPLETE" : "TRUNCATED";
}

// The kept bytes of a finished file: nothing, a memory buffer, or a spill file.
// Bytes of holes (never received) read as zero. Move-only; owns what it holds.
class FileContent {
public:
    enum class Kind : uint8_t { none, memory, spill };

    FileContent() = default;
    static FileContent from_memory(FileBuffer bytes);
    static FileContent from_spill(std::string path, uint64_t size);
    FileContent(FileContent&& o) noexcept;
    FileContent& operator=(FileContent&& o) noexcept;
    FileContent(const FileContent&) = delete;
    FileContent& operator=(const FileContent&) = delete;
    ~FileContent();  // frees memory / unlinks the spill file unless released

    Kind kind() const { return kind_; }
    uint64_t size() const { return size_; }
    std::span<const uint8_t> memory() const { return mem_; }  // Kind::memory
    const std::string& path() const { return path_; }          // Kind::spill

    // Take ownership out: the caller then frees the buffer / unlinks the file.
    FileBuffer take_memory();
    std::string release_path();
    // Reads the whole content (memory copy or file read); for tests and tools.
    bool read_all(std::vector<uint8_t>* out) const;

private:
    void reset();

    Kind kind_ = Kind::none;
    uint64_t size_ = 0;
    FileBuffer mem_;
    std::string path_;
};

// Where the content of files carved elsewhere goes (see above). The handle is
// the sink's; kNoHandle: carve here.
class ContentSink {
public:
    static constexpr uint32_t kNoHandle = 0xffffffffu;
    virtual ~ContentSink() = default;
    // A new file (FileAssembler constructor); kNoHandle when it cannot take it.
    virtual uint32_t open(uint64_t size_hint) = 0;
    // A write, exactly as FileAssembler::write got it (any offset, overlaps).
    virtual void write(uint32_t handle, uint64_t offset, std::span<const uint8_t> data) = 0;
    // finish(required_end) of the file; its result comes back from the sink.
    virtual void finish(uint32_t handle, uint64_t required_end) = 0;
    // The file is dropped unfinished: no result.
    virtual void abort(uint32_t handle) = 0;
};

// What finish() returns.
struct AssembledFile {
    uint64_t file_uid = 0;       // unique per worker (FileStore), from 1
    FileState state = FileState::truncated;
    uint64_t size = 0;           // highest byte offset seen + 1 (or the required end, if larger)
    bool gaps = false;           // some byte below `size` never arrived
    bool content_truncated = false;  // content was dropped (max size, caps, I/O failure)
    bool has_sha256 = false;
    std::array<uint8_t, 32> sha256{};
    uint64_t sha256_bytes = 0;   // the hash covers bytes [0, sha256_bytes): the whole file when COMPLETE
    // The hash of content bytes [0, sha256_bytes) (the whole content) is still to
    // be computed (has_sha256 false until then): FileStore::complete_hash().
    bool sha256_deferred = false;
    std::string magic;           // libmagic description, "" when smb.file.magic is off or unknown
    FileContent content;         // kept bytes [0, content.size())
    // Carved by a ContentSink: state (COMPLETE here means only "no gaps seen"),
    // hash, magic and content come from the sink under this handle.
    bool carved_elsewhere = false;
    uint32_t sink_handle = ContentSink::kNoHandle;
};

class FileStore {
public:
    explicit FileStore(FileStoreConfig cfg);
    ~FileStore();
    FileStore(const FileStore&) = delete;
    FileStore& operator=(const FileStore&) = delete;

    const FileStoreConfig& config() const { return cfg_; }
    // New caps apply to allocations made from now on.
    void set_config(FileStoreConfig cfg);

    uint64_t memory_used() const { return mem_used_; }
    uint64_t spill_used() const { return spill_used_; }
    const CounterSet<FileCounter>& counters() const { return counters_; }
    CounterSet<FileCounter>& counters() { return counters_; }
    bool magic_available() const { return magic_ && magic_->available(); }

    // Gives a finished file's buffer back for reuse (kept if the pool has room
    // and it is large enough, freed otherwise). Its content is not read again.
    void recycle(FileBuffer&& buf);
    static constexpr size_t kPoolBuffers = 4;
    static constexpr size_t kPoolMinBytes = 64 * 1024;
    size_t pool_buffers() const { return pool_.size(); }
    uint64_t pool_bytes() const;
    void trim_pool() { pool_.clear(); }

    // Whether anyone reads the content of files made from now on (default
    // true). Off (a carving thread whose files go to no scanner): in-order
    // data, hashed straight from the write, is not copied into the buffer;
    // only what arrives ahead of the contiguous prefix (and the first
    // magic_bytes when smb.file.magic is on) is kept, until the hash passes it.
    // State, size and hash are the same; the content is not.
    void set_keep_content(bool on) { keep_content_ = on; }
    bool keep_content() const { return keep_content_; }

    // Carving elsewhere (see above) for assemblers made from now on; null: here.
    void set_content_sink(ContentSink* sink) { sink_ = sink; }
    ContentSink* content_sink() const { return sink_; }

    // Deferred hashing (see FileAssembler) for assemblers made from now on.
    void set_defer_hash(bool on) { defer_hash_ = on; }
    bool defer_hash() const { return defer_hash_; }
    // Computes a deferred hash from the file's memory content on this thread;
    // returns has_sha256. A file without a deferred hash is left as it is.
    bool complete_hash(AssembledFile& f) const;
    // SHA-256 of `data` (the carver's algorithm); false if it failed.
    bool sha256_of(std::span<const uint8_t> data, std::array<uint8_t, 32>& out) const;

private:
    friend class FileAssembler;
    bool reserve_memory(uint64_t n);
    void release_memory(uint64_t n) { mem_used_ -= n; }
    bool reserve_spill(uint64_t n);
    void release_spill(uint64_t n) { spill_used_ -= n; }
    uint64_t next_uid() { return ++last_uid_; }
    // A pooled buffer with capacity >= n (empty, size 0), or an empty vector.
    FileBuffer take_buffer(uint64_t n);
    // Creates a spill file; returns its fd (or -1) and sets *path.
    int create_spill_file(std::string* path);

    FileStoreConfig cfg_;
    uint64_t mem_used_ = 0;
    uint64_t spill_used_ = 0;
    uint64_t last_uid_ = 0;
    CounterSet<FileCounter> counters_;
    evp_md_st* sha256_ = nullptr;
    std::unique_ptr<FileMagic> magic_;  // only when cfg.magic
    std::vector<uint8_t> scratch_;  // pre-sized read buffer for spill re-reads
    std::vector<FileBuffer> pool_;  // freed content buffers, at most kPoolBuffers
    bool defer_hash_ = false;
    bool keep_content_ = true;
    ContentSink* sink_ = nullptr;
};

class FileAssembler {
public:
    explicit FileAssembler(FileStore& store, uint64_t size_hint = 0);
    ~FileAssembler();  // drops what was not finished (frees memory, unlinks spill)
    FileAssembler(const FileAssembler&) = delete;
    FileAssembler& operator=(const FileAssembler&) = delete;

    uint64_t file_uid() const { return uid_; }

    // Adds `data` at `offset`; bytes already present keep their first value.
    void write(uint64_t offset, std::span<const uint8_t> data) {
        // Carved elsewhere and in order (nearly every write of a transfer): the
        // sink takes the bytes and the last range grows; the rest in write_any.
        if (sink_ && !finished_ && !data.empty() && !ranges_.empty() && ranges_.back().end == offset &&
            offset <= std::numeric_limits<uint64_t>::max() - data.size()) {
            sink_->write(handle_, offset, data);
            const uint64_t end = offset + data.size();
            ranges_.back().end = end;
            if (end > max_end_) max_end_ = end;
            return;
        }
        write_any(offset, data);
    }

    uint64_t max_end() const { return max_end_; }       // highest offset seen + 1
    uint64_t contiguous() const {                       // bytes present from 0
        return (!ranges_.empty() && ranges_.front().start == 0) ? ranges_.front().end : 0;
    }
    bool covers(uint64_t end) const { return contiguous() >= end; }
    bool spilled() const { return fd_ >= 0 || spill_failed_; }
    uint64_t memory_held() const { return mem_accounted_; }
    size_t ranges() const { return ranges_.size(); }
    bool finished() const { return finished_; }
    bool carved_elsewhere() const { return handle_ != ContentSink::kNoHandle; }

    // Ends the file. COMPLETE when bytes [0, max(required_end, max_end())) are
    // all present and kept, TRUNCATED otherwise. Call once.
    AssembledFile finish(uint64_t required_end);

private:
    struct Range {
        uint64_t start;
        uint64_t end;
    };
    void write_any(uint64_t offset, std::span<const uint8_t> data);
    void store(uint64_t offset, std::span<const uint8_t> data);
    bool grow_memory(uint64_t need);
    bool spill();
    void drop_content();
    void advance_hash(uint64_t write_off, std::span<const uint8_t> data, uint64_t fresh_from, uint64_t fresh_to);
    // Records [start, end) in ranges_, merged with the ranges [lo, hi) it touches.
    void merge_range(std::vector<Range>::iterator lo, std::vector<Range>::iterator hi, uint64_t start, uint64_t end);
    bool hash_from_storage(uint64_t from, uint64_t to);
    // Ends deferral: hashes the contiguous prefix kept so far, then hashing goes on as it arrives.
    void stop_deferring();
    void compute_magic(AssembledFile& out);

    FileStore& store_;
    uint64_t uid_;
    std::vector<Range> ranges_;      // sorted, disjoint, non-adjacent
    uint64_t max_end_ = 0;
    uint64_t kept_end_ = 0;          // highest kept offset + 1
    FileBuffer mem_;                 // [0, kept_end_) in memory mode; holes are zero
    uint64_t mem_accounted_ = 0;     // bytes reserved from the store for mem_
    int fd_ = -1;
    std::string spill_path_;
    uint64_t spill_accounted_ = 0;
    bool spill_failed_ = false;
    bool content_dropped_ = false;   // some data was not kept
    bool hash_broken_ = false;
    bool defer_ = false;             // hashing deferred while the content is only in memory
    bool hash_only_ = false;         // FileStore::keep_content off: in-order data is hashed, not kept
    uint64_t hashed_ = 0;
    evp_md_ctx_st* sha_ = nullptr;
    bool finished_ = false;
    ContentSink* sink_ = nullptr;    // carving elsewhere: the sink and its handle
    uint32_t handle_ = ContentSink::kNoHandle;
};

}  // namespace sluice
