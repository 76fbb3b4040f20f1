// ZeroedPages: zeroed, writable, owned memory from mmap; moves hand the
// mapping over, and a region too large to map is std::bad_alloc, not a crash.
#include <gtest/gtest.h>

#include <cstdint>
#include <new>
#include <utility>

#include "dataplane/zeroed_pages.hpp"

namespace sluice {
namespace {

TEST(ZeroedPages, ReadsAsZerosAndIsWritable) {
    ZeroedPages p(3 * ZeroedPages::kHugePage + 100);
    ASSERT_NE(p.as<uint8_t>(), nullptr);
    EXPECT_EQ(p.bytes(), 3 * ZeroedPages::kHugePage + 100);
    auto* b = p.as<uint8_t>();
    for (size_t i = 0; i < p.bytes(); i += 4096) {
        EXPECT_EQ(b[i], 0u) << i;
        b[i] = 0xa5;
    }
    EXPECT_EQ(b[p.bytes() - 1], 0u);
    b[p.bytes() - 1] = 1;
    EXPECT_EQ(b[4096], 0xa5);
}

TEST(ZeroedPages, MovesHandTheMappingOver) {
    ZeroedPages a(4096);
    a.as<uint32_t>()[7] = 42;
    const void* where = a.as<void>();
    ZeroedPages b(std::move(a));
    EXPECT_EQ(a.as<void>(), nullptr);  // NOLINT(bugprone-use-after-move): the moved-from state is specified
    EXPECT_EQ(a.bytes(), 0u);
    EXPECT_EQ(b.as<void>(), where);
    EXPECT_EQ(b.as<uint32_t>()[7], 42u);
    ZeroedPages c(8192);
    c = std::move(b);  // c's own mapping is unmapped, b's taken over
    EXPECT_EQ(c.as<void>(), where);
    EXPECT_EQ(c.bytes(), 4096u);
    c = ZeroedPages();
    EXPECT_EQ(c.as<void>(), nullptr);
}

TEST(ZeroedPages, ARegionTooLargeIsBadAlloc) {
    // Larger than any x86-64 address space: mmap refuses it at once.
    EXPECT_THROW(ZeroedPages(size_t{1} << 62), std::bad_alloc);
}

}  // namespace
}  // namespace sluice
