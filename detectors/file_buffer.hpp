// FileBuffer: the byte vector that carries a carved file's content from the
// carver (detectors/smb FileAssembler, on the worker) to the scanner
// (detectors/malware ScanJob, on a scanner thread) without a copy: the
// carver's buffer is moved into the scan job whole. Its resize() does not
// zero the new bytes (the carver copies file data over them and zeroes holes
// itself), so appending file data costs one copy, not a memset plus a copy.
// Thread rules: a value type; one owner at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <new>
#include <utility>
#include <vector>

namespace sluice {

template <typename T>
struct DefaultInitAllocator : std::allocator<T> {
    template <typename U>
    struct rebind {
        using other = DefaultInitAllocator<U>;
    };
    DefaultInitAllocator() = default;
    template <typename U>
    DefaultInitAllocator(const DefaultInitAllocator<U>&) noexcept {}  // NOLINT(google-explicit-constructor)
    template <typename U>
    void construct(U* p) noexcept {
        ::new (static_cast<void*>(p)) U;
    }
    template <typename U, typename... Args>
    void construct(U* p, Args&&... args) {
        ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
    }
};

using FileBuffer = std::vector<uint8_t, DefaultInitAllocator<uint8_t>>;

}  // namespace sluice
