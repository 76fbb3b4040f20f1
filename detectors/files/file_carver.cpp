#include "detectors/files/file_carver.hpp"

#include <rte_mbuf.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstring>
#include <pthread.h>

namespace sluice {

namespace {

constexpr unsigned kBurst = 64;
constexpr uint32_t kMaxArenaPiece = 64 * 1024;  // a copied write goes in pieces of at most this
constexpr auto kIdleSleep = std::chrono::microseconds(50);
// Reading a capture, the worker sleeps this long between looks while it waits
// for the carving thread, and waits until half of what it waits for is free
// again: every wake-up costs it CPU time (the carving thread's pace is set by
// the capture anyway).
constexpr auto kWaitSleep = std::chrono::microseconds(200);
constexpr uint64_t kPublishEvery = 64;  // operations written before the head is published

}  // namespace

std::unique_ptr<FileCarver> FileCarver::create(const FileCarverSettings& settings) {
    std::unique_ptr<FileCarver> c(new FileCarver(settings));
    c->thread_ = std::thread([p = c.get()] { p->run(); });
    pthread_setname_np(c->thread_.native_handle(), "sluice-carver");
    return c;
}

FileCarver::FileCarver(const FileCarverSettings& settings) : settings_(settings) {
    settings_.max_files = std::max<uint32_t>(settings_.max_files, 1);
    settings_.arena_bytes = std::max<uint32_t>(settings_.arena_bytes, 2 * kMaxArenaPiece);
    store_ = std::make_unique<FileStore>(settings_.files);
    files_.resize(settings_.max_files);
    slot_keep_.assign(settings_.max_files, 0);
    arena_.reset(new uint8_t[settings_.arena_bytes]);
    // Every slot may have an open and a finish/abort queued: that room is kept
    // for control operations, data gets the rest.
    control_reserve_ = 2 * settings_.max_files + 2;
    const uint64_t ops = std::bit_ceil(uint64_t{settings_.max_mbufs} + control_reserve_ + 4096);
    ops_.resize(ops);
    ops_mask_ = static_cast<uint32_t>(ops - 1);
    const uint64_t done = std::bit_ceil(uint64_t{std::max<uint32_t>(settings_.max_mbufs, 1)});
    done_.assign(done, nullptr);
    done_mask_ = static_cast<uint32_t>(done - 1);
    const uint64_t res = std::bit_ceil(uint64_t{settings_.max_files});
    results_.assign(res, nullptr);
    results_mask_ = static_cast<uint32_t>(res - 1);
    free_slots_.reserve(settings_.max_files);
    for (uint32_t i = settings_.max_files; i-- > 0;) free_slots_.push_back(i);
}

FileCarver::~FileCarver() {
    flush();
    stop_.store(true, std::memory_order_release);
    if (thread_.joinable()) thread_.join();
    // What the thread left: operations (mbuf references), files, results.
    uint64_t tail = ops_tail_.load(std::memory_order_relaxed);
    const uint64_t head = ops_head_.load(std::memory_order_relaxed);
    for (; tail != head; ++tail) {
        const Op& op = ops_[tail & ops_mask_];
        if (op.mbuf) rte_pktmbuf_free(op.mbuf);
    }
    ops_tail_.store(tail, std::memory_order_relaxed);
    reclaim();
    while (CarvedFile* c = pop_result()) delete c;
    files_.clear();
}

// ------------------------------------------------------------ worker side

void FileCarver::set_backing(rte_mbuf* m) {
    backing_ = m;
    if (m) {
        backing_begin_ = rte_pktmbuf_mtod(m, const uint8_t*);
        backing_end_ = backing_begin_ + rte_pktmbuf_data_len(m);
    } else {
        backing_begin_ = backing_end_ = nullptr;
    }
}

uint32_t FileCarver::mbufs_held() const {
    return static_cast<uint32_t>(mbufs_sent_.get() - mbufs_freed_.get());
}

void FileCarver::reclaim() {
    uint64_t tail = done_tail_.load(std::memory_order_relaxed);
    const uint64_t head = done_head_.load(std::memory_order_acquire);
    if (tail == head) return;
    rte_mbuf* batch[kBurst];
    while (tail != head) {
        unsigned n = 0;
        while (tail != head && n < kBurst) batch[n++] = done_[tail++ & done_mask_];
        rte_pktmbuf_free_bulk(batch, n);
        mbufs_freed_.add(n);
    }
    done_tail_.store(tail, std::memory_order_release);
}

// The worker reads the thread's tail only when its cached value says the ring
// is short of room, and publishes its head in batches (flush), so the two
// cache lines do not travel between the cores on every write.
uint32_t FileCarver::ring_free(uint32_t want) {
    uint64_t used = head_ - tail_cache_;
    if (ops_.size() - used < want) {
        tail_cache_ = ops_tail_.load(std::memory_order_acquire);
        used = head_ - tail_cache_;
    }
    return static_cast<uint32_t>(ops_.size() - used);
}

void FileCarver::flush() {
    if (head_ == published_) return;
    ops_head_.store(head_, std::memory_order_release);
    published_ = head_;
}

bool FileCarver::push(const Op& op) {
    if (ring_free(1) < 1) return false;
    ops_[head_ & ops_mask_] = op;
    ++head_;
    if (head_ - published_ >= kPublishEvery) flush();
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

uint32_t FileCarver::ring_slack() const { return static_cast<uint32_t>(ops_.size() / 4); }

bool FileCarver::room_for_data() { return ring_free(control_reserve_ + 1) > control_reserve_; }

bool FileCarver::copy_write(uint32_t handle, uint64_t offset, std::span<const uint8_t> data, CarverCounter reason) {
    counters_.inc(reason);
    const uint64_t cap = settings_.arena_bytes;
    while (!data.empty()) {
        const uint32_t n = static_cast<uint32_t>(std::min<size_t>(data.size(), kMaxArenaPiece));
        // A piece never wraps: the bytes left before the arena's end are skipped.
        const uint64_t at = arena_head_ % cap;
        const uint32_t skip = at + n > cap ? static_cast<uint32_t>(cap - at) : 0;
        const uint64_t need = uint64_t{skip} + n;
        auto ready = [&] {
            return room_for_data() && arena_head_ + need - arena_released_.load(std::memory_order_acquire) <= cap;
        };
        if (!ready()) {
            if (!settings_.offline) {
                counters_.inc(CarverCounter::lost_writes);
                counters_.inc(CarverCounter::lost_bytes, data.size());
                return false;
            }
            wait_for(ready);
        }
        uint8_t* dst = arena_.get() + (skip ? 0 : at);
        std::memcpy(dst, data.data(), n);
        Op op;
        op.kind = Op::data;
        op.handle = handle;
        op.len = n;
        op.arena_bytes = static_cast<uint32_t>(need);
        op.offset = offset;
        op.ptr = dst;
        push(op);  // room_for_data() held
        arena_head_ += need;
        counters_.inc(CarverCounter::copied_bytes, n);
        data = data.subspan(n);
        offset += n;
    }
    return true;
}

void FileCarver::write(uint32_t handle, uint64_t offset, std::span<const uint8_t> data) {
    if (data.empty()) return;
    const bool in_mbuf = backing_ && data.data() >= backing_begin_ && data.data() + data.size() <= backing_end_;
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
    const uint64_t tail = res_tail_.load(std::memory_order_relaxed);
    if (tail == res_head_.load(std::memory_order_acquire)) return nullptr;
    CarvedFile* c = results_[tail & results_mask_];
    res_tail_.store(tail + 1, std::memory_order_release);
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
    while (ops_tail_.load(std::memory_order_acquire) != ops_head_.load(std::memory_order_relaxed))
        std::this_thread::sleep_for(kWaitSleep);
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
            const uint64_t head = res_head_.load(std::memory_order_relaxed);
            results_[head & results_mask_] = c;
            res_head_.store(head + 1, std::memory_order_release);
            break;
        }
        case Op::abort_file:
            f.reset();
            break;
    }
}

void FileCarver::run() {
    Op batch[kBurst];
    rte_mbuf* to_free[kBurst];
    for (;;) {
        const uint64_t tail = ops_tail_.load(std::memory_order_relaxed);
        const uint64_t head = ops_head_.load(std::memory_order_acquire);
        if (tail == head) {
            if (stop_.load(std::memory_order_acquire)) return;
            std::this_thread::sleep_for(kIdleSleep);
            continue;
        }
        const unsigned n = static_cast<unsigned>(std::min<uint64_t>(head - tail, kBurst));
        for (unsigned i = 0; i < n; ++i) batch[i] = ops_[(tail + i) & ops_mask_];
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
            const uint64_t dh = done_head_.load(std::memory_order_relaxed);
            for (unsigned i = 0; i < nfree; ++i) done_[(dh + i) & done_mask_] = to_free[i];
            done_head_.store(dh + nfree, std::memory_order_release);
        }
        if (arena) arena_released_.fetch_add(arena, std::memory_order_release);
        ops_tail_.store(tail + n, std::memory_order_release);
    }
}

}  // namespace sluice
