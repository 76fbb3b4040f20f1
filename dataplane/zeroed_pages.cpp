#include "dataplane/zeroed_pages.hpp"

#include <sys/mman.h>

#include <cstring>
#include <new>

namespace sluice {

ZeroedPages::ZeroedPages(size_t bytes) : bytes_(bytes ? bytes : 1) {
    void* p = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    if (bytes_ >= kHugePage) madvise(p, bytes_, MADV_HUGEPAGE);
    p_ = p;
}

void ZeroedPages::touch() {
    if (p_) std::memset(p_, 0, bytes_);
}

ZeroedPages::~ZeroedPages() {
    if (p_) munmap(p_, bytes_);
}

}  // namespace sluice
