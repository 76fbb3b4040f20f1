// SpscRing<T>: a bounded single-producer single-consumer ring of T, for handing
// work between a worker and a thread of its own (the SMB carving thread: its
// operations, the files it finished, the packets it is done with) without
// locks. The producer writes items in place (slot(), advance()) and makes them
// visible in batches (publish()); the consumer reads them in place (at()) and
// gives their slots back (release()) when it is done with them, so a producer
// that sees room knows the consumer no longer reads those slots. Each side
// caches the other's index and reads the shared one only when its cache says
// the ring is too full (producer) or empty (consumer): the two index lines do
// not travel between the cores for every item. (EventRing is the ring for
// variable-size records.)
// Thread rules: exactly one producer thread and one consumer thread; either
// side's calls may move to another thread only across a synchronisation (a
// join, say: the destructor of the owner drains as consumer).
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace sluice {

template <typename T>
class SpscRing {
public:
    // `min_slots` is rounded up to a power of two (at least 1).
    explicit SpscRing(size_t min_slots = 1)
        : slots_(std::bit_ceil(min_slots ? min_slots : size_t{1})), mask_(slots_.size() - 1) {}

    size_t capacity() const { return slots_.size(); }

    // ---- producer
    // Free slots; exact when fewer than `want` seemed free (the consumer's
    // index is read then), otherwise at least `want`.
    size_t free_slots(size_t want = 1) {
        if (slots_.size() - (head_ - tail_cache_) < want) tail_cache_ = released_.load(std::memory_order_acquire);
        return slots_.size() - (head_ - tail_cache_);
    }
    // The next slot to write; free_slots() >= 1 must hold.
    T& slot() { return slots_[head_ & mask_]; }
    // The slot written counts (not yet visible to the consumer).
    void advance() { ++head_; }
    bool push(const T& v) {
        if (free_slots(1) < 1) return false;
        slot() = v;
        advance();
        return true;
    }
    // Items written since the last publish().
    size_t staged() const { return head_ - published_; }
    void publish() {
        if (head_ == published_) return;
        published_head_.store(head_, std::memory_order_release);
        published_ = head_;
    }
    // Every published item released by the consumer.
    bool drained() const { return released_.load(std::memory_order_acquire) == published_; }

    // ---- consumer
    // Published items not yet released.
    size_t available() {
        if (head_cache_ == tail_) head_cache_ = published_head_.load(std::memory_order_acquire);
        return head_cache_ - tail_;
    }
    // The i-th unreleased item; i < available().
    T& at(size_t i) { return slots_[(tail_ + i) & mask_]; }
    void release(size_t n) {
        tail_ += n;
        released_.store(tail_, std::memory_order_release);
    }

private:
    std::vector<T> slots_;
    size_t mask_;
    alignas(64) std::atomic<uint64_t> published_head_{0};  // written by the producer
    alignas(64) std::atomic<uint64_t> released_{0};         // written by the consumer
    alignas(64) uint64_t head_ = 0;                         // producer: next slot to write
    uint64_t published_ = 0;                                // producer: head as last published
    uint64_t tail_cache_ = 0;                               // producer: released_ as last read
    alignas(64) uint64_t tail_ = 0;                         // consumer: next slot to read
    uint64_t head_cache_ = 0;                               // consumer: published_head_ as last read
};

}  // namespace sluice
