#include "dataplane/event_ring.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>

namespace sluice {
namespace {

TEST(EventRing, RecordsComeOutInOrderAcrossWraps) {
    EventRing r(4096);
    size_t produced = 0, consumed = 0;
    for (int round = 0; round < 2000; ++round) {
        const std::string rec = "event-" + std::to_string(round) + std::string(static_cast<size_t>(round % 300), 'x');
        auto span = r.reserve(rec.size() + 10);
        if (span.empty()) {
            // Full: drain one and retry.
            auto f = r.front();
            ASSERT_FALSE(f.empty());
            ASSERT_EQ(f.substr(0, f.find('x')), "event-" + std::to_string(consumed));
            r.pop();
            ++consumed;
            span = r.reserve(rec.size() + 10);
            if (span.empty()) { --round; continue; }
        }
        std::memcpy(span.data(), rec.data(), rec.size());
        r.commit(rec.size());
        ++produced;
    }
    while (!r.front().empty()) {
        r.pop();
        ++consumed;
    }
    EXPECT_EQ(produced, consumed);
}

TEST(EventRing, FullRingRefusesInsteadOfOverwriting) {
    EventRing r(4096);
    int n = 0;
    while (true) {
        auto s = r.reserve(100);
        if (s.empty()) break;
        std::memset(s.data(), 'a' + n % 26, 100);
        r.commit(100);
        ++n;
    }
    EXPECT_GT(n, 30);
    EXPECT_LE(n * 104, 4096);
    for (int i = 0; i < n; ++i) {
        auto f = r.front();
        ASSERT_EQ(f.size(), 100u);
        EXPECT_EQ(f[0], 'a' + i % 26);
        r.pop();
    }
    EXPECT_TRUE(r.front().empty());
    EXPECT_TRUE(r.reserve(r.max_record() + 1).empty());
}

TEST(EventRing, TwoThreads) {
    EventRing r(1 << 16);
    constexpr int kCount = 200000;
    std::thread consumer([&] {
        int expect = 0;
        while (expect < kCount) {
            auto f = r.front();
            if (f.empty()) continue;
            ASSERT_EQ(std::string(f), std::to_string(expect));
            r.pop();
            ++expect;
        }
    });
    for (int i = 0; i < kCount;) {
        const std::string s = std::to_string(i);
        auto span = r.reserve(s.size());
        if (span.empty()) continue;
        std::memcpy(span.data(), s.data(), s.size());
        r.commit(s.size());
        ++i;
    }
    consumer.join();
}

}  // namespace
}  // namespace sluice
