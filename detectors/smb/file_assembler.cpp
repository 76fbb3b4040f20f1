#include "detectors/smb/file_assembler.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <utility>

namespace sluice {

namespace {

constexpr size_t kScratchSize = 64 * 1024;

bool pwrite_all(int fd, const uint8_t* p, size_t n, uint64_t off) {
    while (n > 0) {
        const ssize_t w = ::pwrite(fd, p, n, static_cast<off_t>(off));
        if (w < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        if (w == 0) return false;
        p += w;
        n -= static_cast<size_t>(w);
        off += static_cast<uint64_t>(w);
    }
    return true;
}

// Reads exactly n bytes; bytes past the end of the file (sparse tail) read as zero.
bool pread_full(int fd, uint8_t* p, size_t n, uint64_t off) {
    while (n > 0) {
        const ssize_t r = ::pread(fd, p, n, static_cast<off_t>(off));
        if (r < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        if (r == 0) {
            std::memset(p, 0, n);
            return true;
        }
        p += r;
        n -= static_cast<size_t>(r);
        off += static_cast<uint64_t>(r);
    }
    return true;
}

}  // namespace

// ---------------------------------------------------------------- FileContent

FileContent FileContent::from_memory(FileBuffer bytes) {
    FileContent c;
    c.kind_ = Kind::memory;
    c.size_ = bytes.size();
    c.mem_ = std::move(bytes);
    return c;
}

FileContent FileContent::from_spill(std::string path, uint64_t size) {
    FileContent c;
    c.kind_ = Kind::spill;
    c.size_ = size;
    c.path_ = std::move(path);
    return c;
}

FileContent::FileContent(FileContent&& o) noexcept
    : kind_(o.kind_), size_(o.size_), mem_(std::move(o.mem_)), path_(std::move(o.path_)) {
    o.kind_ = Kind::none;
    o.size_ = 0;
    o.path_.clear();
    o.mem_.clear();
}

FileContent& FileContent::operator=(FileContent&& o) noexcept {
    if (this != &o) {
        reset();
        kind_ = o.kind_;
        size_ = o.size_;
        mem_ = std::move(o.mem_);
        path_ = std::move(o.path_);
        o.kind_ = Kind::none;
        o.size_ = 0;
        o.path_.clear();
        o.mem_.clear();
    }
    return *this;
}

FileContent::~FileContent() { reset(); }

void FileContent::reset() {
    if (kind_ == Kind::spill && !path_.empty()) ::unlink(path_.c_str());
    kind_ = Kind::none;
    size_ = 0;
    path_.clear();
    FileBuffer().swap(mem_);
}

FileBuffer FileContent::take_memory() {
    FileBuffer out = std::move(mem_);
    mem_.clear();
    if (kind_ == Kind::memory) {
        kind_ = Kind::none;
        size_ = 0;
    }
    return out;
}

std::string FileContent::release_path() {
    std::string out = std::move(path_);
    path_.clear();
    if (kind_ == Kind::spill) {
        kind_ = Kind::none;
        size_ = 0;
    }
    return out;
}

bool FileContent::read_all(std::vector<uint8_t>* out) const {
    out->clear();
    if (kind_ == Kind::memory) {
        out->assign(mem_.begin(), mem_.end());
        return true;
    }
    if (kind_ == Kind::none) return true;
    const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    out->resize(size_);
    const bool ok = pread_full(fd, out->data(), out->size(), 0);
    ::close(fd);
    return ok;
}

// ------------------------------------------------------------------ FileStore

FileStore::FileStore(FileStoreConfig cfg) : cfg_(std::move(cfg)) {
    sha256_ = EVP_MD_fetch(nullptr, "SHA2-256", nullptr);
    scratch_.resize(std::max<size_t>(kScratchSize, cfg_.magic_bytes));
    if (cfg_.magic) {
        magic_ = std::make_unique<FileMagic>();
        if (!magic_->available()) counters_.inc(FileCounter::magic_failures);
    }
}

FileStore::~FileStore() {
    if (sha256_) EVP_MD_free(sha256_);
}

void FileStore::recycle(FileBuffer&& buf) {
    FileBuffer b = std::move(buf);
    const size_t cap = b.capacity();
    if (cap < kPoolMinBytes || cap > cfg_.memory_per_file) return;  // freed here
    b.clear();
    if (pool_.size() < kPoolBuffers) {
        if (pool_.capacity() < kPoolBuffers) pool_.reserve(kPoolBuffers);
        pool_.push_back(std::move(b));
        return;
    }
    // Full: keep the larger buffers.
    auto smallest = std::min_element(pool_.begin(), pool_.end(),
                                     [](const FileBuffer& x, const FileBuffer& y) { return x.capacity() < y.capacity(); });
    if (smallest->capacity() < cap) smallest->swap(b);
}

FileBuffer FileStore::take_buffer(uint64_t n) {
    // The smallest pooled buffer that is large enough.
    auto best = pool_.end();
    for (auto it = pool_.begin(); it != pool_.end(); ++it)
        if (it->capacity() >= n && (best == pool_.end() || it->capacity() < best->capacity())) best = it;
    if (best == pool_.end()) return {};
    FileBuffer out = std::move(*best);
    if (best != pool_.end() - 1) *best = std::move(pool_.back());
    pool_.pop_back();
    return out;
}

bool FileStore::sha256_of(std::span<const uint8_t> data, std::array<uint8_t, 32>& out) const {
    unsigned int len = 0;
    return sha256_ && EVP_Digest(data.data(), data.size(), out.data(), &len, sha256_, nullptr) == 1 && len == out.size();
}

bool FileStore::complete_hash(AssembledFile& f) const {
    if (!f.sha256_deferred) return f.has_sha256;
    f.sha256_deferred = false;
    const std::span<const uint8_t> mem = f.content.memory();
    if (f.content.kind() != FileContent::Kind::memory || mem.size() < f.sha256_bytes) return false;
    f.has_sha256 = sha256_of(mem.first(static_cast<size_t>(f.sha256_bytes)), f.sha256);
    return f.has_sha256;
}

uint64_t FileStore::pool_bytes() const {
    uint64_t n = 0;
    for (const FileBuffer& b : pool_) n += b.capacity();
    return n;
}

void FileStore::set_config(FileStoreConfig cfg) {
    const bool want_magic = cfg.magic;
    cfg_ = std::move(cfg);
    if (scratch_.size() < cfg_.magic_bytes) scratch_.resize(cfg_.magic_bytes);
    if (want_magic && !magic_) magic_ = std::make_unique<FileMagic>();
}

bool FileStore::reserve_memory(uint64_t n) {
    if (n > cfg_.memory_total || mem_used_ > cfg_.memory_total - n) return false;
    mem_used_ += n;
    return true;
}

bool FileStore::reserve_spill(uint64_t n) {
    if (n > cfg_.spill_total || spill_used_ > cfg_.spill_total - n) return false;
    spill_used_ += n;
    return true;
}

int FileStore::create_spill_file(std::string* path) {
    if (cfg_.spill_dir.empty()) return -1;
    std::string tmpl = cfg_.spill_dir;
    if (tmpl.back() != '/') tmpl.push_back('/');
    tmpl += "sluice-file-XXXXXX";
    const int fd = ::mkostemp(tmpl.data(), O_CLOEXEC);
    if (fd >= 0) *path = std::move(tmpl);
    return fd;
}

// -------------------------------------------------------------- FileAssembler

FileAssembler::FileAssembler(FileStore& store, uint64_t size_hint) : store_(store), uid_(store.next_uid()) {
    if (ContentSink* sink = store_.sink_) {
        const uint32_t h = sink->open(size_hint);
        if (h != ContentSink::kNoHandle) {
            // Carved elsewhere: the sink's store counts the file, its memory and its hash.
            sink_ = sink;
            handle_ = h;
            return;
        }
    }
    store_.counters().inc(FileCounter::files);
    sha_ = EVP_MD_CTX_new();
    if (!sha_ || !store_.sha256_ || EVP_DigestInit_ex(sha_, store_.sha256_, nullptr) != 1) hash_broken_ = true;
    defer_ = store_.defer_hash_ && !hash_broken_;
    hash_only_ = !store_.keep_content_ && !hash_broken_ && !defer_;
    // A known size (a download's end of file) sizes the buffer once (not when
    // only data ahead of the hashed prefix is kept).
    const uint64_t want = std::min(size_hint, store_.cfg_.memory_per_file);
    if (want > 0 && !hash_only_ && store_.reserve_memory(want)) {
        mem_ = store_.take_buffer(want);
        mem_.reserve(want);
        mem_accounted_ = want;
    }
}

FileAssembler::~FileAssembler() {
    if (sink_ && !finished_) sink_->abort(handle_);
    drop_content();
    if (sha_) EVP_MD_CTX_free(sha_);
}

void FileAssembler::write_any(uint64_t offset, std::span<const uint8_t> data) {
    if (finished_ || data.empty()) return;
    if (sink_) {
        // Carved elsewhere: the write goes as it is (the sink's assembler keeps,
        // counts and hashes it); here only the ranges, with the same checks.
        sink_->write(handle_, offset, data);
        if (offset > std::numeric_limits<uint64_t>::max() - data.size()) return;
        const uint64_t end = offset + data.size();
        max_end_ = std::max(max_end_, end);
        // (A write in order, the common case, took write()'s inline way.)
        auto lo = std::lower_bound(ranges_.begin(), ranges_.end(), offset,
                                   [](const Range& r, uint64_t v) { return r.end < v; });
        auto hi = std::upper_bound(lo, ranges_.end(), end, [](uint64_t v, const Range& r) { return v < r.start; });
        if (ranges_.size() - static_cast<size_t>(hi - lo) + 1 > store_.cfg_.max_ranges) return;
        merge_range(lo, hi, offset, end);
        return;
    }
    auto& c = store_.counters();
    c.inc(FileCounter::bytes_written, data.size());
    if (offset > std::numeric_limits<uint64_t>::max() - data.size()) {
        c.inc(FileCounter::offset_overflow);
        content_dropped_ = true;
        return;
    }
    const uint64_t end = offset + data.size();
    max_end_ = std::max(max_end_, end);

    // Ranges overlapping or adjacent to [offset, end): [lo, hi).
    auto lo = std::lower_bound(ranges_.begin(), ranges_.end(), offset,
                               [](const Range& r, uint64_t v) { return r.end < v; });
    auto hi = std::upper_bound(lo, ranges_.end(), end, [](uint64_t v, const Range& r) { return v < r.start; });
    const size_t merged = static_cast<size_t>(hi - lo);
    if (ranges_.size() - merged + 1 > store_.cfg_.max_ranges) {
        c.inc(FileCounter::range_overflow);
        content_dropped_ = true;
        return;
    }

    // Nobody reads the content: a write that extends the hashed prefix with
    // nothing buffered after it is hashed from the input and not kept.
    if (hash_only_ && offset == hashed_ && end <= store_.cfg_.max_file_size &&
        (!store_.cfg_.magic || offset >= store_.cfg_.magic_bytes) &&
        (lo == hi || (hi - lo == 1 && lo->start == 0 && lo->end == offset))) {
        c.inc(FileCounter::bytes_kept, data.size());
        if (lo != hi) lo->end = end;
        else ranges_.insert(lo, Range{offset, end});
        EVP_DigestUpdate(sha_, data.data(), data.size());
        hashed_ = end;
        return;
    }

    // Keep only the bytes not present yet (first data wins).
    uint64_t cur = offset;
    uint64_t fresh = 0;
    for (auto it = lo; it != hi; ++it) {
        if (it->start > cur) {
            const uint64_t piece_end = std::min(it->start, end);
            store(cur, data.subspan(cur - offset, piece_end - cur));
            fresh += piece_end - cur;
        }
        cur = std::max(cur, it->end);
        if (cur >= end) break;
    }
    if (cur < end) {
        store(cur, data.subspan(cur - offset, end - cur));
        fresh += end - cur;
    }
    c.inc(FileCounter::bytes_kept, fresh);
    if (fresh < data.size()) c.inc(FileCounter::bytes_overlap, data.size() - fresh);

    const bool all_fresh = fresh == data.size();
    merge_range(lo, hi, offset, end);
    advance_hash(offset, data, all_fresh ? offset : end, end);
}

void FileAssembler::store(uint64_t offset, std::span<const uint8_t> data) {
    const uint64_t max = store_.cfg_.max_file_size;
    if (defer_ && offset + data.size() > max) stop_deferring();  // bytes past the cap are hashed from the input only
    if (offset >= max) {
        if (!content_dropped_) store_.counters().inc(FileCounter::max_size_reached);
        content_dropped_ = true;
        return;
    }
    if (data.size() > max - offset) {
        if (!content_dropped_) store_.counters().inc(FileCounter::max_size_reached);
        content_dropped_ = true;
        data = data.first(max - offset);
    }
    if (spill_failed_) return;  // storage lost: content_dropped_ is set
    const uint64_t need = offset + data.size();
    if (fd_ < 0) {
        if (need > mem_.size()) {
            const uint64_t old = mem_.size();
            if (need > mem_accounted_ && !grow_memory(need)) {
                if (!spill()) return;
            } else {
                mem_.resize(need);  // not zeroed: the data covers [offset, need)
                if (offset > old) std::memset(mem_.data() + old, 0, offset - old);  // a hole
            }
        }
        if (fd_ < 0) {
            std::memcpy(mem_.data() + offset, data.data(), data.size());
            kept_end_ = std::max(kept_end_, need);
            return;
        }
    }
    if (need > spill_accounted_) {
        if (!store_.reserve_spill(need - spill_accounted_)) {
            store_.counters().inc(FileCounter::spill_cap_reached);
            drop_content();
            return;
        }
        spill_accounted_ = need;
    }
    if (!pwrite_all(fd_, data.data(), data.size(), offset)) {
        store_.counters().inc(FileCounter::spill_failures);
        drop_content();
        return;
    }
    store_.counters().inc(FileCounter::spilled_bytes, data.size());
    kept_end_ = std::max(kept_end_, need);
}

bool FileAssembler::grow_memory(uint64_t need) {
    const auto& cfg = store_.cfg_;
    if (need > cfg.memory_per_file) {
        store_.counters().inc(FileCounter::spill_per_file_cap);
        return false;
    }
    const uint64_t doubled = std::max<uint64_t>(4096, mem_accounted_ * 2);
    const uint64_t cap = std::max(need, std::min(doubled, cfg.memory_per_file));
    if (cap > mem_accounted_ && !store_.reserve_memory(cap - mem_accounted_)) {
        store_.counters().inc(FileCounter::spill_global_cap);
        return false;
    }
    if (cap > mem_accounted_) mem_accounted_ = cap;
    if (cap > mem_.capacity()) {
        // Move to a pooled buffer (pages already mapped) when one is large enough.
        FileBuffer pooled = store_.take_buffer(cap);
        if (pooled.capacity() >= cap) {
            pooled.resize(mem_.size());
            if (!mem_.empty()) std::memcpy(pooled.data(), mem_.data(), mem_.size());
            mem_.swap(pooled);
            store_.recycle(std::move(pooled));
        }
    }
    mem_.reserve(cap);
    return true;
}

bool FileAssembler::spill() {
    stop_deferring();  // hash what is in memory before it moves to disk
    auto& c = store_.counters();
    std::string path;
    const int fd = store_.create_spill_file(&path);
    if (fd < 0) {
        c.inc(FileCounter::spill_failures);
        drop_content();
        return false;
    }
    fd_ = fd;
    spill_path_ = std::move(path);
    if (!store_.reserve_spill(kept_end_)) {
        c.inc(FileCounter::spill_cap_reached);
        drop_content();
        return false;
    }
    spill_accounted_ = kept_end_;
    if (kept_end_ > 0 && !pwrite_all(fd_, mem_.data(), kept_end_, 0)) {
        c.inc(FileCounter::spill_failures);
        drop_content();
        return false;
    }
    c.inc(FileCounter::spilled_files);
    c.inc(FileCounter::spilled_bytes, kept_end_);
    store_.recycle(std::move(mem_));
    mem_.clear();
    store_.release_memory(mem_accounted_);
    mem_accounted_ = 0;
    return true;
}

// Stops keeping content: frees memory, removes the spill file. Hashing goes on
// from in-order input only.
void FileAssembler::drop_content() {
    if (mem_accounted_) store_.release_memory(mem_accounted_);
    mem_accounted_ = 0;
    store_.recycle(std::move(mem_));
    mem_.clear();
    if (fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
    }
    if (!spill_path_.empty()) ::unlink(spill_path_.c_str());
    spill_path_.clear();
    if (spill_accounted_) store_.release_spill(spill_accounted_);
    spill_accounted_ = 0;
    if (!finished_) {
        spill_failed_ = true;
        content_dropped_ = true;
    }
    kept_end_ = 0;
}

// Extends the hash over the contiguous prefix. [fresh_from, fresh_to) is the part
// of this write that was entirely new and can be hashed from the input itself.
void FileAssembler::merge_range(std::vector<Range>::iterator lo, std::vector<Range>::iterator hi, uint64_t start,
                                uint64_t end) {
    Range r{start, end};
    if (lo != hi) {
        r.start = std::min(r.start, lo->start);
        r.end = std::max(r.end, (hi - 1)->end);
        *lo = r;
        ranges_.erase(lo + 1, hi);
    } else {
        ranges_.insert(lo, r);
    }
}

void FileAssembler::advance_hash(uint64_t write_off, std::span<const uint8_t> data, uint64_t fresh_from,
                                 uint64_t fresh_to) {
    if (hash_broken_ || defer_) return;
    const uint64_t c = contiguous();
    if (c <= hashed_) return;
    if (hashed_ >= fresh_from && c <= fresh_to) {
        EVP_DigestUpdate(sha_, data.data() + (hashed_ - write_off), c - hashed_);
        hashed_ = c;
        return;
    }
    if (!hash_from_storage(hashed_, c)) hash_broken_ = true;
}

void FileAssembler::stop_deferring() {
    if (!defer_) return;
    defer_ = false;
    const uint64_t c = contiguous();
    if (c > hashed_ && !hash_from_storage(hashed_, c)) hash_broken_ = true;
}

bool FileAssembler::hash_from_storage(uint64_t from, uint64_t to) {
    if (spill_failed_ || to > store_.cfg_.max_file_size || to > kept_end_) return false;
    if (fd_ < 0) {
        EVP_DigestUpdate(sha_, mem_.data() + from, to - from);
        hashed_ = to;
        return true;
    }
    auto& scratch = store_.scratch_;
    while (from < to) {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(scratch.size(), to - from));
        if (!pread_full(fd_, scratch.data(), n, from)) return false;
        EVP_DigestUpdate(sha_, scratch.data(), n);
        from += n;
        hashed_ = from;
    }
    return true;
}

void FileAssembler::compute_magic(AssembledFile& out) {
    if (!store_.cfg_.magic || !store_.magic_available()) return;
    const uint64_t n = std::min<uint64_t>({store_.cfg_.magic_bytes, contiguous(), kept_end_});
    if (n == 0 || spill_failed_) return;
    const void* p = nullptr;
    if (fd_ < 0) {
        p = mem_.data();
    } else {
        if (!pread_full(fd_, store_.scratch_.data(), static_cast<size_t>(n), 0)) return;
        p = store_.scratch_.data();
    }
    out.magic = store_.magic_->describe(std::span<const uint8_t>(static_cast<const uint8_t*>(p), static_cast<size_t>(n)));
    if (out.magic.empty()) store_.counters().inc(FileCounter::magic_failures);
}

AssembledFile FileAssembler::finish(uint64_t required_end) {
    AssembledFile out;
    out.file_uid = uid_;
    if (finished_) return out;
    out.size = std::max(max_end_, required_end);
    const uint64_t c = contiguous();
    out.gaps = c < out.size;
    if (sink_) {
        // The sink's assembler decides the rest (kept content, hash, magic).
        out.state = out.gaps ? FileState::truncated : FileState::complete;
        out.carved_elsewhere = true;
        out.sink_handle = handle_;
        finished_ = true;
        sink_->finish(handle_, required_end);
        return out;
    }
    out.content_truncated = content_dropped_;

    if (defer_) {
        // Left to whoever takes the content when it is exactly the hashed prefix.
        if (c > 0 && c == kept_end_ && fd_ < 0 && !spill_failed_) {
            out.sha256_deferred = true;
            out.sha256_bytes = c;
        } else {
            stop_deferring();
        }
    }
    if (out.sha256_deferred) {
        // whole below: the hash will cover [0, c)
    } else if (sha_) {
        unsigned int len = 0;
        if (EVP_DigestFinal_ex(sha_, out.sha256.data(), &len) == 1 && len == out.sha256.size()) {
            out.has_sha256 = true;
            out.sha256_bytes = hashed_;
        }
    }
    const bool hashed_all = out.sha256_deferred ? out.sha256_bytes == out.size : out.has_sha256 && hashed_ == out.size;
    const bool whole = !out.gaps && !content_dropped_ && hashed_all;
    out.state = whole ? FileState::complete : FileState::truncated;
    compute_magic(out);

    finished_ = true;
    if (spill_failed_) {
        // nothing kept
    } else if (fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
        out.content = FileContent::from_spill(std::move(spill_path_), kept_end_);
        spill_path_.clear();
        store_.release_spill(spill_accounted_);  // the caller owns the file now
        spill_accounted_ = 0;
    } else {
        mem_.resize(kept_end_);
        out.content = FileContent::from_memory(std::move(mem_));
        mem_.clear();
        store_.release_memory(mem_accounted_);  // the caller owns the buffer now
        mem_accounted_ = 0;
    }
    return out;
}

}  // namespace sluice
