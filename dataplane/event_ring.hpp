// EventRing: a single-producer single-consumer ring of variable-size records
// (EVE JSON lines) from one worker to the EVE writer thread. The worker writes
// an event in place (reserve, fill, commit), so building an event allocates
// nothing; when the ring is full reserve() says so at once and the caller counts
// the loss (live) or waits for the writer (offline, where nothing may be lost).
// A record is either the event's JSON text or, committed as `deferred`, the
// fixed-layout bytes of an event that the writer thread renders (eve.hpp).
// Thread rules: exactly one producer thread and one consumer thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string_view>

#include "dataplane/zeroed_pages.hpp"

namespace sluice {

class EventRing {
public:
    // `bytes` is rounded up to a power of two; records may be up to bytes/4.
    explicit EventRing(size_t bytes);

    size_t capacity() const { return size_; }
    size_t max_record() const { return size_ / 4; }

    // Producer: space for a record of up to `max_len` bytes, or an empty span
    // when the ring has no room now. Nothing is visible until commit().
    std::span<char> reserve(size_t max_len);
    void commit(size_t len, bool deferred = false);

    // Consumer: the oldest record, or empty when none. Valid until pop().
    // `deferred`, when given, says whether it was committed as deferred.
    std::string_view front(bool* deferred = nullptr);
    void pop();

    bool empty() const { return head_.load(std::memory_order_acquire) == tail_.load(std::memory_order_acquire); }

private:
    static constexpr uint32_t kWrap = 0xFFFFFFFFu;
    static constexpr uint32_t kDeferred = 0x80000000u;  // flag in a record's length word
    static size_t record_size(size_t len) { return (4 + len + 7) & ~size_t{7}; }
    size_t free_space(uint64_t pos) {
        uint64_t tail = tail_cache_;
        if (size_ - (pos - tail) < size_ / 2) tail = tail_cache_ = tail_.load(std::memory_order_acquire);
        return size_ - static_cast<size_t>(pos - tail);
    }

    size_t size_;
    size_t mask_;
    ZeroedPages pages_;  // the ring (huge pages from 2 MiB up), touched when made
    char* buf_;
    alignas(64) std::atomic<uint64_t> head_{0};  // published by the producer
    uint64_t write_pos_ = 0;                     // producer: start of the reserved record
    uint64_t tail_cache_ = 0;                    // producer's view of tail_
    alignas(64) std::atomic<uint64_t> tail_{0};  // published by the consumer
    uint64_t read_len_ = 0;                      // consumer: size of the record at front()
};

inline EventRing::EventRing(size_t bytes) {
    size_ = 4096;
    while (size_ < bytes && size_ < (size_t{1} << 30)) size_ <<= 1;  // 1 GiB at most (eve.ring-bytes)
    mask_ = size_ - 1;
    pages_ = ZeroedPages(size_);
    buf_ = pages_.as<char>();
    // Touched here, on the thread that makes the ring: else the worker's
    // first pass over it takes a page fault every 4 KiB of events.
    pages_.touch();
}

inline std::span<char> EventRing::reserve(size_t max_len) {
    if (max_len > max_record()) return {};
    uint64_t pos = head_.load(std::memory_order_relaxed);
    const size_t need = record_size(max_len);
    const size_t off = static_cast<size_t>(pos & mask_);
    const size_t to_end = size_ - off;
    if (to_end < need) {
        // Not enough room before the end: mark the rest as padding and start at 0.
        if (free_space(pos) < to_end + need) return {};
        const uint32_t wrap = kWrap;
        std::memcpy(&buf_[off], &wrap, sizeof wrap);
        pos += to_end;
    } else if (free_space(pos) < need) {
        return {};
    }
    write_pos_ = pos;
    return {&buf_[static_cast<size_t>(pos & mask_) + 4], max_len};
}

inline void EventRing::commit(size_t len, bool deferred) {
    // Records are at most a quarter of the ring, which is far below 2 GiB:
    // the length never reaches the flag bit.
    const uint32_t l = static_cast<uint32_t>(len) | (deferred ? kDeferred : 0u);
    std::memcpy(&buf_[static_cast<size_t>(write_pos_ & mask_)], &l, sizeof l);
    head_.store(write_pos_ + record_size(len), std::memory_order_release);
}

inline std::string_view EventRing::front(bool* deferred) {
    const uint64_t head = head_.load(std::memory_order_acquire);
    uint64_t tail = tail_.load(std::memory_order_relaxed);
    while (tail != head) {
        const size_t off = static_cast<size_t>(tail & mask_);
        uint32_t len;
        std::memcpy(&len, &buf_[off], sizeof len);
        if (len == kWrap) {
            tail += size_ - off;
            tail_.store(tail, std::memory_order_release);
            continue;
        }
        if (deferred) *deferred = (len & kDeferred) != 0;
        len &= ~kDeferred;
        read_len_ = len;
        return {&buf_[off + 4], len};
    }
    return {};
}

inline void EventRing::pop() {
    const uint64_t tail = tail_.load(std::memory_order_relaxed);
    tail_.store(tail + record_size(read_len_), std::memory_order_release);
}

}  // namespace sluice
