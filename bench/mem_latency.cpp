// mem_latency: what one random memory read costs on this machine, alone and
// with several independent reads in flight, so the flow-table findings of the
// forwarding benchmark (docs/benchmarks.md) can be checked on any box.
// A random cyclic permutation of cache lines over SIZE MiB is followed as a
// pointer chase: 1 chain (each read waits for the one before, like sluice's
// per-packet lookup) and 16 chains interleaved (reads overlap, like a burst
// whose lookups are prefetched). Times are CPU time of the thread, so a busy
// machine does not inflate them. `--thp` asks for transparent huge pages.
//   build-bench/bench/bench_mem_latency [SIZE_MIB=512] [--thp]
#include <sys/mman.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <numeric>
#include <random>
#include <vector>

#include "thread_clock.hpp"

namespace {

constexpr size_t kLine = 64;

// Follows `chains` interleaved chains for `steps` reads in all; ns per read.
double chase(const uint8_t* base, const std::vector<uint64_t>& starts, size_t steps) {
    const size_t chains = starts.size();
    std::vector<uint64_t> at(starts);
    const double t0 = thread_cpu_seconds();
    for (size_t s = 0; s < steps / chains; ++s)
        for (size_t k = 0; k < chains; ++k) {
            uint64_t next;
            std::memcpy(&next, base + at[k], sizeof next);
            at[k] = next;
        }
    const double t = thread_cpu_seconds() - t0;
    uint64_t sink = 0;
    for (auto v : at) sink ^= v;
    if (sink == 1) std::puts("");  // keeps the loads
    return t / static_cast<double>(steps / chains * chains) * 1e9;
}

}  // namespace

int main(int argc, char** argv) {
    size_t mib = 512;
    bool thp = false;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--thp") == 0) thp = true;
        else mib = std::strtoul(argv[i], nullptr, 10);
    }
    if (mib == 0 || mib > (1u << 20)) {
        std::fprintf(stderr, "usage: %s [SIZE_MIB] [--thp]\n", argv[0]);
        return 2;
    }
    const size_t bytes = mib << 20;
    void* mem = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) {
        std::perror("mmap");
        return 1;
    }
    if (thp) madvise(mem, bytes, MADV_HUGEPAGE);
    auto* base = static_cast<uint8_t*>(mem);
    const size_t lines = bytes / kLine;
    std::vector<uint64_t> order(lines);
    std::iota(order.begin(), order.end(), uint64_t{0});
    std::shuffle(order.begin(), order.end(), std::mt19937_64(1));
    for (size_t i = 0; i < lines; ++i) {
        const uint64_t next = order[(i + 1) % lines] * kLine;
        std::memcpy(base + order[i] * kLine, &next, sizeof next);
    }
    const size_t steps = 4'000'000;
    std::vector<uint64_t> one = {order[0] * kLine};
    std::vector<uint64_t> many;
    for (size_t k = 0; k < 16; ++k) many.push_back(order[k * (lines / 16)] * kLine);
    const double serial = chase(base, one, steps);
    const double parallel = chase(base, many, steps);
    std::printf("%zu MiB%s: %.1f ns per dependent read, %.1f ns per read with 16 in flight\n", mib,
                thp ? " (THP asked)" : "", serial, parallel);
    munmap(mem, bytes);
    return 0;
}
