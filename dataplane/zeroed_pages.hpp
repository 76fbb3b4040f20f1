// ZeroedPages: anonymous memory straight from mmap, for the large per-worker
// tables (flow slots, their hash heads, detector records). The pages read as
// zeros and cost nothing until first touched, so a table sized for the worst
// case costs only what traffic fills. Regions of 2 MiB and more ask for
// transparent huge pages (madvise mode, Debian's default): a million flows
// would otherwise span gigabytes of TLB reach, and one huge page fault costs
// about what one 4 KiB fault does (about 15 us on the virtual machines we
// measure on, 0.3 us per 4 KiB with huge pages: docs/benchmarks.md).
// Owns its mapping; move-only. Throws std::bad_alloc when mmap fails.
#pragma once

#include <cstddef>
#include <utility>

namespace sluice {

class ZeroedPages {
public:
    static constexpr size_t kHugePage = size_t{2} << 20;

    ZeroedPages() = default;
    explicit ZeroedPages(size_t bytes);
    ~ZeroedPages();
    ZeroedPages(ZeroedPages&& o) noexcept : p_(std::exchange(o.p_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
    ZeroedPages& operator=(ZeroedPages&& o) noexcept {
        if (this != &o) {
            ZeroedPages gone(std::move(*this));
            p_ = std::exchange(o.p_, nullptr);
            bytes_ = std::exchange(o.bytes_, 0);
        }
        return *this;
    }
    ZeroedPages(const ZeroedPages&) = delete;
    ZeroedPages& operator=(const ZeroedPages&) = delete;

    template <typename T>
    T* as() const {
        return static_cast<T*>(p_);
    }
    size_t bytes() const { return bytes_; }
    // Makes every page resident now (writes zeros), so that the thread that
    // later uses the memory (a worker) takes none of its page faults.
    void touch();

private:
    void* p_ = nullptr;
    size_t bytes_ = 0;
};

}  // namespace sluice
