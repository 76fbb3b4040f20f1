// Per-lcore counters (habit 5): plain 64-bit integers owned by one writer (a
// worker) and summed by readers (the management thread). Writers do a relaxed
// load + store, which compiles to a plain add: no lock and no atomic
// read-modify-write on the packet path; readers see each counter untorn.
//
// A counter group is an enum class ending in `count` plus a name table found by
// ADL: `constexpr std::string_view counter_name(E)`. Names are the label values
// exported to Prometheus, so they are snake_case and stable.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sluice {

class Counter {
public:
    void add(uint64_t n = 1) noexcept { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
    void sub(uint64_t n = 1) noexcept { v_.store(v_.load(std::memory_order_relaxed) - n, std::memory_order_relaxed); }
    void set(uint64_t n) noexcept { v_.store(n, std::memory_order_relaxed); }
    uint64_t get() const noexcept { return v_.load(std::memory_order_relaxed); }

private:
    std::atomic<uint64_t> v_{0};
};

template <typename E>
constexpr size_t counter_count() { return static_cast<size_t>(E::count); }

template <typename E>
class CounterSet {
public:
    static constexpr size_t size = counter_count<E>();

    void inc(E e, uint64_t n = 1) noexcept { c_[static_cast<size_t>(e)].add(n); }
    uint64_t get(E e) const noexcept { return c_[static_cast<size_t>(e)].get(); }
    uint64_t get(size_t i) const noexcept { return c_[i].get(); }
    static std::string_view name(size_t i) { return counter_name(static_cast<E>(i)); }

    uint64_t total() const noexcept {
        uint64_t t = 0;
        for (const auto& c : c_) t += c.get();
        return t;
    }

private:
    std::array<Counter, size> c_{};
};

}  // namespace sluice
