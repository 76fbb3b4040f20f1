#include "dataplane/event_ring.hpp"

#include "dataplane/eve.hpp"

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

// The smallest ring the configuration allows (eve.ring-bytes 64KiB) still takes
// events: an event is bounded by a quarter of the ring, not refused outright
// (it used to be refused, and an offline run waited 10 s for each).
TEST(EveEmitter, SmallRingBoundsEventsInsteadOfRefusingThem) {
    EventRing ring(64 * 1024);
    EveEmitter eve(ring, ~uint64_t{0}, true, "");
    JsonWriter* w = eve.begin(EveType::flow, 1'700'000'000'000'000'000ull, 7, nullptr);
    ASSERT_NE(w, nullptr);
    w->kv("note", "small ring");
    EXPECT_TRUE(eve.end());
    const std::string_view rec = ring.front();
    EXPECT_NE(rec.find("\"note\":\"small ring\""), std::string_view::npos) << rec;
    ring.pop();
    // An event over a quarter of the ring is dropped and counted, not cut.
    w = eve.begin(EveType::flow, 1'700'000'000'000'000'000ull, 8, nullptr);
    ASSERT_NE(w, nullptr);
    w->kv("big", std::string(20000, 'x'));
    EXPECT_FALSE(eve.end());
    EXPECT_EQ(eve.lost().get(EveLoss::too_large), 1u);
    EXPECT_EQ(eve.written().get(EveType::flow), 1u);
    EXPECT_TRUE(ring.front().empty());
}

TEST(EventRing, DeferredFlagTravelsWithTheRecord) {
    EventRing r(4096);
    for (bool deferred : {false, true, false, true}) {
        auto span = r.reserve(10);
        ASSERT_FALSE(span.empty());
        std::memcpy(span.data(), "0123456789", 10);
        r.commit(deferred ? 7 : 10, deferred);
    }
    for (bool expect : {false, true, false, true}) {
        bool deferred = !expect;
        const std::string_view f = r.front(&deferred);
        EXPECT_EQ(deferred, expect);
        EXPECT_EQ(f, expect ? "0123456" : "0123456789");  // the flag is not part of the length
        r.pop();
    }
    EXPECT_TRUE(r.front().empty());
}

// The endpoints of the test events (198.18.0.1:1234 -> 198.18.0.2:502, TCP).
EveEndpoints test_endpoints() {
    EveEndpoints ep;
    ep.src = IpAddr::v4(0xC6120001);
    ep.dst = IpAddr::v4(0xC6120002);
    ep.src_port = 1234;
    ep.dst_port = 502;
    ep.ip_proto = ipproto::tcp;
    return ep;
}

// A renderer for the tests: payload = an 8-byte number, then a text.
void render_test_event(std::span<const char> payload, const EveRenderContext& ctx, JsonWriter& w) {
    uint64_t v = 0;
    std::memcpy(&v, payload.data(), sizeof v);
    const EveEndpoints ep = test_endpoints();
    write_eve_header(w, ctx.type, 1'700'000'000'000'000'000ull, 42, ctx.in_iface, &ep, AppProto::modbus);
    w.kv("n", v).kv("text", std::string_view(payload.data() + 8, payload.size() - 8));
    w.end_object();
}

// A deferred event comes out of the reader as the very bytes begin()/end()
// write for the same facts, in ring order among ordinary events.
TEST(EveEmitter, DeferredEventRendersAsTheSameJson) {
    EventRing ring(1u << 20);
    EveEmitter eve(ring, ~uint64_t{0}, false, "eth7");
    const EveEndpoints ep = test_endpoints();
    JsonWriter* w = eve.begin(EveType::alert, 1'700'000'000'000'000'000ull, 42, &ep, AppProto::modbus);
    ASSERT_NE(w, nullptr);
    w->kv("n", uint64_t{77}).kv("text", "a \"quoted\" text");
    ASSERT_TRUE(eve.end());

    std::span<char> room = eve.begin_deferred(EveType::alert, &render_test_event, 1000);
    ASSERT_EQ(room.size(), 1000u);
    const uint64_t v = 77;
    std::memcpy(room.data(), &v, 8);
    const std::string text = "a \"quoted\" text";
    std::memcpy(room.data() + 8, text.data(), text.size());
    ASSERT_TRUE(eve.end_deferred(8 + text.size()));
    EXPECT_EQ(eve.written().get(EveType::alert), 2u);

    EveReader reader;
    const std::string direct(reader.front(ring));
    ring.pop();
    bool failed = true;
    const std::string_view rendered = reader.front(ring, &failed);
    EXPECT_FALSE(failed);
    EXPECT_EQ(rendered, direct);
    EXPECT_NE(direct.find("\"in_iface\":\"eth7\""), std::string::npos) << direct;
    ring.pop();
    EXPECT_TRUE(reader.front(ring).empty());
}

TEST(EveEmitter, DeferredEventsOffLostAndDamaged) {
    EventRing ring(64 * 1024);  // events bounded to 16 KiB
    EveEmitter eve(ring, uint64_t{1} << static_cast<unsigned>(EveType::flow), false, "");
    // A type that is off gives no room.
    EXPECT_TRUE(eve.begin_deferred(EveType::alert, &render_test_event, 100).empty());
    // A small ring bounds the room instead of refusing.
    std::span<char> room = eve.begin_deferred(EveType::flow, &render_test_event, 1u << 20);
    ASSERT_FALSE(room.empty());
    EXPECT_LT(room.size(), 16u * 1024);
    // Given up: counted as too large, nothing published.
    eve.abandon_deferred();
    EXPECT_EQ(eve.lost().get(EveLoss::too_large), 1u);
    EXPECT_FALSE(eve.end_deferred(10));
    EXPECT_TRUE(ring.front().empty());
    // A damaged deferred record (no renderer) is reported, not rendered.
    auto span = ring.reserve(16);
    ASSERT_FALSE(span.empty());
    std::memset(span.data(), 0, 16);
    ring.commit(16, true);
    EveReader reader;
    bool failed = false;
    EXPECT_TRUE(reader.front(ring, &failed).empty());
    EXPECT_TRUE(failed);
    ring.pop();
    EXPECT_TRUE(ring.front().empty());
}

}  // namespace
}  // namespace sluice
