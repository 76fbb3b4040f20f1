// SpscRing: items come out in order across wraps; a full ring refuses; nothing
// is visible before publish(); free_slots() reads the consumer's index only
// when short of room and then is exact; drained() once every published item
// is released; two threads pass a million items, each once, in order.
#include "dataplane/spsc_ring.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <thread>

namespace sluice {
namespace {

TEST(SpscRing, CapacityIsAPowerOfTwo) {
    EXPECT_EQ(SpscRing<int>(0).capacity(), 1u);
    EXPECT_EQ(SpscRing<int>(5).capacity(), 8u);
    EXPECT_EQ(SpscRing<int>(8).capacity(), 8u);
}

TEST(SpscRing, InOrderAcrossWrapsAndOnlyOncePublished) {
    SpscRing<int> r(4);
    int next_in = 0, next_out = 0;
    for (int round = 0; round < 10; ++round) {
        const int n = 1 + round % 4;
        for (int i = 0; i < n; ++i) ASSERT_TRUE(r.push(next_in++));
        EXPECT_EQ(r.staged(), static_cast<size_t>(n));
        EXPECT_EQ(r.available(), 0u);  // nothing before publish()
        EXPECT_TRUE(r.drained());       // (drained: every published item released)
        r.publish();
        EXPECT_FALSE(r.drained());
        ASSERT_EQ(r.available(), static_cast<size_t>(n));
        for (int i = 0; i < n; ++i) EXPECT_EQ(r.at(static_cast<size_t>(i)), next_out + i);
        next_out += n;
        r.release(static_cast<size_t>(n));
        EXPECT_TRUE(r.drained());
    }
}

TEST(SpscRing, FullRingRefusesAndRoomComesBackOnRelease) {
    SpscRing<int> r(4);
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(r.push(i));
    EXPECT_FALSE(r.push(4));
    EXPECT_EQ(r.free_slots(1), 0u);
    r.publish();
    ASSERT_EQ(r.available(), 4u);
    r.release(1);  // the consumer is done with slot 0 only
    EXPECT_EQ(r.free_slots(1), 1u);
    ASSERT_TRUE(r.push(4));
    EXPECT_FALSE(r.push(5));
    // In place: the producer writes the slot itself.
    r.release(3);
    ASSERT_GE(r.free_slots(3), 3u);
    r.slot() = 5;
    r.advance();
    r.publish();
    ASSERT_EQ(r.available(), 2u);
    EXPECT_EQ(r.at(0), 4);
    EXPECT_EQ(r.at(1), 5);
}

TEST(SpscRing, TwoThreadsPassEveryItemOnceInOrder) {
    constexpr uint64_t kItems = 1'000'000;
    SpscRing<uint64_t> r(256);
    std::thread producer([&] {
        for (uint64_t i = 0; i < kItems;) {
            if (r.free_slots(1) == 0) {
                r.publish();
                std::this_thread::yield();
                continue;
            }
            r.slot() = i++;
            r.advance();
            if (r.staged() >= 16) r.publish();
        }
        r.publish();
    });
    uint64_t expect = 0;
    while (expect < kItems) {
        const size_t n = r.available();
        if (n == 0) {
            std::this_thread::yield();
            continue;
        }
        for (size_t i = 0; i < n; ++i) ASSERT_EQ(r.at(i), expect + i);
        expect += n;
        r.release(n);
    }
    producer.join();
    EXPECT_TRUE(r.drained());
    EXPECT_EQ(r.available(), 0u);
}

}  // namespace
}  // namespace sluice
