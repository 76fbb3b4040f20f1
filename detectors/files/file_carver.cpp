#include "detectors/files/file_carver.hpp"

#include <rte_mbuf.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstring>
#include <pthread.h>
#include <sched.h>
#include <spdlog/spdlog.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace sluice {

namespace {

constexpr unsigned kBurst = 64;
constexpr uint32_t kMaxArenaPiece = 64 * 1024;  // a copied write goes in pieces of at most this
// An idle carving thread looks at its ring after 50 us, then twice as long
// after each look that finds nothing, up to 1 ms (the first look after work
// is 50 us again). A fixed 50 us cost 64 ms of CPU per 500 ms idle here, per
// worker, with no SMB traffic at all; 1 ms of 10 Gbit/s is about 1.3 MB, well
// within the arena and the operation ring.
constexpr auto kIdleSleepMin = std::chrono::microseconds(50);
constexpr auto kIdleSleepMax = std::chrono::microseconds(1000);
// Reading a capture, the worker sleeps this long between looks while it waits
// for the carving thread, and waits until half of what it waits for is free
// again: every wake-up costs it CPU time (the carving thread's pace is set by
// the capture anyway).
constexpr auto kWaitSleep = std::chrono::microseconds(200);
constexpr uint64_t kPublishEvery = 64;  // operations written before the head is published

#if defined(__x86_64__)
// One 64-byte aligned line, non-temporal.
inline void stream_line(void* dst, const void* src) {
    auto* d = static_cast<__m128i*>(dst);
    const auto* s = static_cast<const __m128i*>(src);
    for (int k = 0; k < 4; ++k) _mm_stream_si128(d + k, _mm_load_si128(s + k));
}

// The last, partial line of a copy, zero-padded, 64-byte aligned.
struct alignas(64) TailLine {
    uint8_t b[64];
    TailLine(const uint8_t* src, size_t n) : b{} { std::memcpy(b, src, n); }
};

// Copies n bytes to a 64-byte aligned destination with non-temporal stores:
// the lines are written to memory without being read for ownership and
// without entering the worker's cache, so the carving thread's later read of
// them invalidates nothing the worker reuses. Writes whole 64-byte lines, up
// to the next multiple of 64 past n, the last one padded with zeros (the arena
// reserves whole lines): a line left partly written leaves the write-combining
// buffer as a partial write, which costs the memory a read of the old line to
// merge it, and the worker a stall (about 0.006 s of the benchmark's 0.33 s
// with 1448-byte pieces). The caller fences (_mm_sfence) before publishing.
void stream_copy_sse2(uint8_t* dst, const uint8_t* src, size_t n) {
    auto* d = reinterpret_cast<__m128i*>(dst);
    size_t i = 0;
    for (; i + 64 <= n; i += 64, d += 4)
        for (size_t k = 0; k < 4; ++k)
            _mm_stream_si128(d + k, _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i + 16 * k)));
    if (i < n) {
        const TailLine t(src + i, n - i);
        stream_line(d, t.b);
    }
}

__attribute__((target("avx512f,avx512bw"))) void stream_copy_avx512(uint8_t* dst, const uint8_t* src, size_t n) {
    auto* d = reinterpret_cast<__m512i*>(dst);
    size_t i = 0;
    for (; i + 64 <= n; i += 64, ++d) _mm512_stream_si512(d, _mm512_loadu_si512(src + i));
    if (i < n) {
        // A masked load reads (and may fault on) only the bytes it keeps.
        const __mmask64 keep = _cvtu64_mask64((uint64_t{1} << (n - i)) - 1);
        _mm512_stream_si512(d, _mm512_maskz_loadu_epi8(keep, src + i));
    }
}

__attribute__((target("avx2"))) void stream_copy_avx2(uint8_t* dst, const uint8_t* src, size_t n) {
    auto* d = reinterpret_cast<__m256i*>(dst);
    size_t i = 0;
    for (; i + 64 <= n; i += 64, d += 2) {
        _mm256_stream_si256(d, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i)));
        _mm256_stream_si256(d + 1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i + 32)));
    }
    if (i < n) {
        const TailLine t(src + i, n - i);
        stream_line(d, t.b);
    }
}

using StreamCopy = void (*)(uint8_t*, const uint8_t*, size_t);
bool cpu_has(StreamCopyIsa isa) {
    __builtin_cpu_init();
    switch (isa) {
        case StreamCopyIsa::sse2: return true;
        case StreamCopyIsa::avx2: return __builtin_cpu_supports("avx2");
        case StreamCopyIsa::avx512: return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
    }
    return false;
}
StreamCopy copy_for(StreamCopyIsa isa) {
    switch (isa) {
        case StreamCopyIsa::avx512: return stream_copy_avx512;
        case StreamCopyIsa::avx2: return stream_copy_avx2;
        case StreamCopyIsa::sse2: break;
    }
    return stream_copy_sse2;
}
StreamCopy pick_stream_copy() {
    for (const auto isa : {StreamCopyIsa::avx512, StreamCopyIsa::avx2})
        if (cpu_has(isa)) return copy_for(isa);
    return stream_copy_sse2;
}
const StreamCopy stream_copy = pick_stream_copy();
inline void stream_fence() { _mm_sfence(); }
#else
inline void stream_copy(uint8_t* dst, const uint8_t* src, size_t n) { std::memcpy(dst, src, n); }
inline void stream_line(void* dst, const void* src) { std::memcpy(dst, src, 64); }
inline void stream_fence() {}
#endif

}  // namespace

bool stream_copy_with(StreamCopyIsa isa, uint8_t* dst, const uint8_t* src, size_t n) {
#if defined(__x86_64__)
    if (!cpu_has(isa)) return false;
    copy_for(isa)(dst, src, n);
    stream_fence();
    return true;
#else
    (void)isa, (void)dst, (void)src, (void)n;
    return false;
#endif
}

std::unique_ptr<FileCarver> FileCarver::create(const FileCarverSettings& settings) {
    std::unique_ptr<FileCarver> c(new FileCarver(settings));
    c->thread_ = std::thread([p = c.get()] { p->run(); });
    pthread_setname_np(c->thread_.native_handle(), "sluice-carver");
    if (settings.cpu >= 0) {
        // Validated as a CPU number by the configuration; a CPU outside this
        // process's set is refused by the kernel: the thread then keeps the
        // inherited set, said once (for the first such thread).
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(static_cast<unsigned>(settings.cpu), &set);
        static std::atomic<bool> warned{false};
        if (const int rc = pthread_setaffinity_np(c->thread_.native_handle(), sizeof set, &set);
            rc != 0 && !warned.exchange(true))
            spdlog::warn("smb.file.offload-cpus: cannot pin a carving thread to cpu {}: {}; it runs where the main "
                         "thread may", settings.cpu, std::strerror(rc));
    }
    return c;
}

namespace {

// The settings as the carver uses them: at least one file slot, an arena of
// whole 64-byte lines that holds two pieces.
FileCarverSettings normalized(FileCarverSettings s) {
    s.max_files = std::max<uint32_t>(s.max_files, 1);
    s.arena_bytes = std::max<uint32_t>(s.arena_bytes, 2 * kMaxArenaPiece) & ~63u;
    return s;
}

// Every slot may have an open and a finish/abort queued: that room of the
// operation ring is kept for control operations, data gets the rest.
uint32_t control_reserve_for(const FileCarverSettings& s) { return 2 * s.max_files + 2; }

}  // namespace

FileCarver::FileCarver(const FileCarverSettings& settings)
    : settings_(normalized(settings)),
      ops_(uint64_t{settings_.max_mbufs} + control_reserve_for(settings_) + 4096),
      results_(settings_.max_files),
      done_(std::max<uint32_t>(settings_.max_mbufs, 1)),
      control_reserve_(control_reserve_for(settings_)) {
    store_ = std::make_unique<FileStore>(settings_.files);
    files_.resize(settings_.max_files);
    slot_keep_.assign(settings_.max_files, 0);
    // Huge pages where the kernel gives them (ZeroedPages asks from 2 MiB up):
    // the worker's copies touch a new arena page every few packets, and every
    // system call of a pcap read (or any kernel entry without PCID) empties
    // the TLB.
    // Touched now, not by the worker's first copies (a page fault per 4 KiB
    // cost it 0.03 s in the benchmark's 0.35 s run).
    try {
        arena_pages_ = ZeroedPages(settings_.arena_bytes);
        arena_pages_.touch();
        arena_ = arena_pages_.as<uint8_t>();
    } catch (const std::bad_alloc&) {
        arena_storage_.reset(new uint8_t[settings_.arena_bytes + 64]());  // zeroed: touched as well
        arena_ = arena_storage_.get() + (64 - reinterpret_cast<uintptr_t>(arena_storage_.get()) % 64) % 64;
    }
    free_slots_.reserve(settings_.max_files);
    for (uint32_t i = settings_.max_files; i-- > 0;) free_slots_.push_back(i);
}

FileCarver::~FileCarver() {
    flush();
    stop_.store(true, std::memory_order_release);
    if (thread_.joinable()) thread_.join();
    // What the thread left (this thread is the rings' consumer now that it
    // has been joined): operations (mbuf references), files, results.
    for (size_t n = ops_.available(); n > 0; n = ops_.available()) {
        for (size_t i = 0; i < n; ++i)
            if (ops_.at(i).mbuf) rte_pktmbuf_free(ops_.at(i).mbuf);
        ops_.release(n);
    }
    reclaim();
    while (CarvedFile* c = pop_result()) delete c;
    files_.clear();
}

// ------------------------------------------------------------ worker side

uint32_t FileCarver::mbufs_held() const {
    return static_cast<uint32_t>(mbufs_sent_.get() - mbufs_freed_.get());
}

void FileCarver::reclaim() {
    size_t n = done_.available();
    if (n == 0) return;
    rte_mbuf* batch[kBurst];
    size_t taken = 0;
    while (taken < n) {
        unsigned k = 0;
        while (taken < n && k < kBurst) batch[k++] = done_.at(taken++);
        rte_pktmbuf_free_bulk(batch, k);
        mbufs_freed_.add(k);
    }
    done_.release(n);
}

// The operation ring is published in batches (flush), so its head's line
// does not travel between the cores on every write (and the ring reads the
// thread's index only when short of room).
inline uint32_t FileCarver::ring_free(uint32_t want) { return static_cast<uint32_t>(ops_.free_slots(want)); }

void FileCarver::flush() {
    if (ops_.staged() == 0) return;
    if (streamed_) {
        stream_fence();  // the arena's non-temporal stores before the ring head
        streamed_ = false;
    }
    ops_.publish();
}

// After each operation written: publishes every kPublishEvery of them.
inline void FileCarver::staged_one() {
    if (ops_.staged() >= kPublishEvery) flush();
}

inline bool FileCarver::push(const Op& op) {
    if (!ops_.push(op)) return false;
    staged_one();
    return true;
}

template <typename Ready>
void FileCarver::wait_for(Ready&& ready) {
    counters_.inc(CarverCounter::waits);
    flush();
    while (!ready()) std::this_thread::sleep_for(kWaitSleep);
}

void FileCarver::push_control(const Op& op) {
    // The reserve makes this succeed; the loop is only a guard.
    while (!push(op)) {
        flush();
        std::this_thread::sleep_for(kWaitSleep);
    }
}

uint32_t FileCarver::open(uint64_t size_hint) {
    if (free_slots_.empty()) {
        counters_.inc(CarverCounter::no_slot);
        return kNoHandle;
    }
    const uint32_t h = free_slots_.back();
    free_slots_.pop_back();
    slots_in_use_.add();
    counters_.inc(CarverCounter::files);
    Op op;
    op.kind = Op::open_file;
    op.handle = h;
    op.offset = size_hint;
    op.keep = keep_;
    push_control(op);
    return h;
}

uint32_t FileCarver::ring_slack() const { return static_cast<uint32_t>(ops_.capacity() / 4); }

inline bool FileCarver::room_for_data() { return ring_free(control_reserve_ + 1) > control_reserve_; }

inline uint64_t FileCarver::arena_need(uint32_t n) const {
    const uint64_t cap = settings_.arena_bytes;
    const uint64_t r = (uint64_t{n} + 63) & ~uint64_t{63};
    const uint64_t at = arena_at_;
    return at + r > cap ? cap - at + r : r;
}

// The worker reads the thread's published release count only when its cached
// value says the arena is short of room.
inline bool FileCarver::arena_room(uint64_t need) {
    const uint64_t cap = settings_.arena_bytes;
    if (arena_head_ + need - arena_released_cache_ <= cap) return true;
    arena_released_cache_ = arena_released_.load(std::memory_order_acquire);
    return arena_head_ + need - arena_released_cache_ <= cap;
}

inline void FileCarver::put_piece(uint32_t handle, uint64_t offset, std::span<const uint8_t> data, uint64_t need) {
    const uint64_t cap = settings_.arena_bytes;
    const uint64_t at = arena_at_;
    uint8_t* dst = arena_ + (at + need > cap ? 0 : at);
    stream_copy(dst, data.data(), data.size());
    streamed_ = true;
    Op op;
    op.kind = Op::data;
    op.handle = handle;
    op.len = static_cast<uint32_t>(data.size());
    op.arena_bytes = static_cast<uint32_t>(need);
    op.offset = offset;
    op.ptr = dst;
    // room_for_data() held: the slot is free.
    stream_line(&ops_.slot(), &op);
    ops_.advance();
    staged_one();
    arena_head_ += need;
    // A piece that wrapped skipped the arena's tail: need = (cap - at) + its lines.
    arena_at_ = at + need >= cap ? at + need - cap : at + need;
    counters_.inc(CarverCounter::copied_bytes, data.size());
}

bool FileCarver::copy_write(uint32_t handle, uint64_t offset, std::span<const uint8_t> data, CarverCounter reason) {
    counters_.inc(reason);
    while (!data.empty()) {
        const uint32_t n = static_cast<uint32_t>(std::min<size_t>(data.size(), kMaxArenaPiece));
        const uint64_t need = arena_need(n);
        auto ready = [&] { return room_for_data() && arena_room(need); };
        if (!ready()) {
            if (!settings_.offline) {
                counters_.inc(CarverCounter::lost_writes);
                counters_.inc(CarverCounter::lost_bytes, data.size());
                return false;
            }
            wait_for(ready);
        }
        put_piece(handle, offset, data.first(n), need);
        data = data.subspan(n);
        offset += n;
    }
    return true;
}

void FileCarver::write(uint32_t handle, uint64_t offset, std::span<const uint8_t> data) {
    if (data.empty()) return;
    bool in_mbuf = false;
    if (backing_) {
        const uint8_t* begin = rte_pktmbuf_mtod(backing_, const uint8_t*);
        in_mbuf = data.data() >= begin && data.data() + data.size() <= begin + rte_pktmbuf_data_len(backing_);
    }
    if (settings_.copy && in_mbuf) {
        // Copy mode: the packet's mbuf goes back to the worker's pool with the
        // burst, still hot in its cache; the bytes go to the arena. An arena
        // without room now sends the write by reference instead.
        const uint64_t need = arena_need(static_cast<uint32_t>(data.size()));
        if (data.size() <= kMaxArenaPiece && room_for_data() && arena_room(need)) {
            counters_.inc(CarverCounter::copied_in_mbuf);
            put_piece(handle, offset, data, need);
            return;
        }
        counters_.inc(CarverCounter::by_reference_arena_full);
    }
    if (!in_mbuf) {
        copy_write(handle, offset, data, CarverCounter::copied_not_in_mbuf);
        return;
    }
    if (mbufs_held() >= settings_.max_mbufs) reclaim();
    if (mbufs_held() >= settings_.max_mbufs) {
        // Live: copy rather than stall. Reading a capture: wait for the carving
        // thread to drop references (the worker's time is not spent copying).
        if (!settings_.offline || settings_.max_mbufs == 0) {
            copy_write(handle, offset, data, CarverCounter::copied_mbuf_limit);
            return;
        }
        wait_for([this] {
            reclaim();
            return mbufs_held() <= settings_.max_mbufs / 2;
        });
    }
    if (!room_for_data()) {
        if (!settings_.offline) {
            counters_.inc(CarverCounter::lost_writes);
            counters_.inc(CarverCounter::lost_bytes, data.size());
            return;
        }
        wait_for([this] { return ring_free(control_reserve_ + ring_slack()) > control_reserve_ + ring_slack(); });
    }
    // Every reference count change of a handed-over mbuf happens on this
    // worker (its own free after the burst, reclaim() after the carving
    // thread is done): a plain increment, no atomic.
    rte_mbuf_refcnt_set(backing_, static_cast<uint16_t>(rte_mbuf_refcnt_read(backing_) + 1));
    Op op;
    op.kind = Op::data;
    op.handle = handle;
    op.len = static_cast<uint32_t>(data.size());
    op.offset = offset;
    op.ptr = data.data();
    op.mbuf = backing_;
    push(op);
    mbufs_sent_.add();
    counters_.inc(CarverCounter::chunks_by_reference);
    counters_.inc(CarverCounter::bytes_by_reference, data.size());
}

void FileCarver::finish(uint32_t handle, uint64_t required_end) {
    Op op;
    op.kind = Op::finish_file;
    op.handle = handle;
    op.offset = required_end;
    push_control(op);
}

void FileCarver::abort(uint32_t handle) {
    Op op;
    op.kind = Op::abort_file;
    op.handle = handle;
    push_control(op);
    // Operations run in order: the slot may carry a new file at once.
    free_slots_.push_back(handle);
    slots_in_use_.sub();
}

CarvedFile* FileCarver::pop_result() {
    if (results_.available() == 0) return nullptr;
    CarvedFile* c = results_.at(0);
    results_.release(1);
    return c;
}

void FileCarver::release(CarvedFile* c) {
    if (c->handle < files_.size()) {
        free_slots_.push_back(c->handle);
        slots_in_use_.sub();
    }
    delete c;
}

void FileCarver::drain() {
    flush();
    while (!ops_.drained()) std::this_thread::sleep_for(kWaitSleep);
}

// ---------------------------------------------------------- carving thread

void FileCarver::apply(const Op& op) {
    std::unique_ptr<FileAssembler>& f = files_[op.handle];
    switch (op.kind) {
        case Op::open_file:
            // Content nobody reads is not kept: in-order data is only hashed.
            store_->set_keep_content(op.keep);
            f = std::make_unique<FileAssembler>(*store_, op.offset);
            slot_keep_[op.handle] = op.keep ? 1 : 0;
            break;
        case Op::data:
            if (f) f->write(op.offset, {op.ptr, op.len});
            break;
        case Op::finish_file: {
            auto* c = new CarvedFile;
            c->handle = op.handle;
            if (f) c->file = f->finish(op.offset);
            f.reset();
            if (!slot_keep_[op.handle]) {
                // Nobody reads the content: its buffer carves the next file here.
                if (c->file.content.kind() == FileContent::Kind::memory) store_->recycle(c->file.content.take_memory());
                c->file.content = FileContent();  // unlinks a spill file
            }
            // The ring holds every slot: never full.
            results_.slot() = c;
            results_.advance();
            results_.publish();
            break;
        }
        case Op::abort_file:
            f.reset();
            break;
    }
}

void FileCarver::run() {
    std::chrono::microseconds idle = kIdleSleepMin;
    Op batch[kBurst];
    rte_mbuf* to_free[kBurst];
    for (;;) {
        const size_t avail = ops_.available();
        if (avail == 0) {
            if (stop_.load(std::memory_order_acquire)) return;
            std::this_thread::sleep_for(idle);
            idle = std::min(idle * 2, kIdleSleepMax);
            continue;
        }
        idle = kIdleSleepMin;
        const unsigned n = static_cast<unsigned>(std::min<size_t>(avail, kBurst));
        for (unsigned i = 0; i < n; ++i) batch[i] = ops_.at(i);
        unsigned nfree = 0;
        uint64_t arena = 0;
        for (unsigned i = 0; i < n; ++i) {
            apply(batch[i]);
            if (batch[i].mbuf) to_free[nfree++] = batch[i].mbuf;
            arena += batch[i].arena_bytes;
        }
        // The mbufs go back to the worker (it frees them into its own cache);
        // at most max_mbufs are out at once, so the return ring has room.
        if (nfree) {
            for (unsigned i = 0; i < nfree; ++i) {
                done_.slot() = to_free[i];
                done_.advance();
            }
            done_.publish();
        }
        if (arena) arena_released_.fetch_add(arena, std::memory_order_release);
        ops_.release(n);
    }
}

}  // namespace sluice
