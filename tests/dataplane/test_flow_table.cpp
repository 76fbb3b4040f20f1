#include "dataplane/flow_table.hpp"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <vector>

#include "tests/support/packet_builder.hpp"

namespace sluice {
namespace {

using test::build_frame;
using test::PacketSpec;

struct Ends : FlowEndHandler {
    std::vector<std::pair<uint64_t, FlowEndReason>> ended;
    void on_flow_end(Flow& f, FlowEndReason r) override { ended.emplace_back(f.flow_id, r); }
};

constexpr uint64_t kSec = 1000000000ull;

struct Pkt {
    std::vector<uint8_t> frame;
    DecodedPacket p;
};

Pkt make(PacketSpec s) {
    Pkt k;
    k.frame = build_frame(s);
    decode_ethernet(k.frame.data(), static_cast<uint32_t>(k.frame.size()), k.p);
    return k;
}

PacketSpec tcp(bool from_client, uint8_t flags) {
    PacketSpec s;
    if (!from_client) {
        std::swap(s.src, s.dst);
        std::swap(s.sport, s.dport);
    }
    s.tcp_flags = flags;
    return s;
}

class FlowTableTest : public ::testing::Test {
protected:
    // Each packet in its own burst (epoch).
    PacketFlowInfo feed(const PacketSpec& s, uint64_t t) {
        auto k = make(s);
        table.next_epoch();
        auto info = table.lookup(k.p, t, ends);
        EXPECT_FALSE(info.blocked);
        if (info.flow) table.update(*info.flow, info.dir, k.p, t);
        return info;
    }
    FlowTimeouts timeouts;
    FlowTable table{8, timeouts};
    Ends ends;
};

TEST_F(FlowTableTest, BothDirectionsShareOneFlowWithTheRightDirection) {
    auto a = feed(tcp(true, tcpflag::syn), 1 * kSec);
    auto b = feed(tcp(false, tcpflag::syn | tcpflag::ack), 1 * kSec);
    auto c = feed(tcp(true, tcpflag::ack), 1 * kSec);
    ASSERT_TRUE(a.flow && a.created);
    EXPECT_EQ(a.flow, b.flow);
    EXPECT_EQ(a.flow, c.flow);
    EXPECT_FALSE(b.created);
    EXPECT_EQ(a.dir, Direction::to_server);
    EXPECT_EQ(b.dir, Direction::to_client);
    EXPECT_EQ(a.flow->tcp_state, TcpState::established);
    EXPECT_EQ(a.flow->state, FlowState::established);
    EXPECT_EQ(a.flow->client_addr().to_string(), "198.18.0.1");
    EXPECT_EQ(a.flow->server_port(), 80);
    EXPECT_EQ(a.flow->pkts[0], 2u);
    EXPECT_EQ(a.flow->pkts[1], 1u);
    EXPECT_EQ(table.active(), 1u);
}

TEST_F(FlowTableTest, SynAckSeenFirstMakesTheDestinationTheClient) {
    auto a = feed(tcp(false, tcpflag::syn | tcpflag::ack), kSec);
    EXPECT_EQ(a.dir, Direction::to_client);
    EXPECT_EQ(a.flow->client_addr().to_string(), "198.18.0.1");
}

TEST_F(FlowTableTest, TcpCloseAndReset) {
    auto f = feed(tcp(true, tcpflag::syn), kSec).flow;
    feed(tcp(false, tcpflag::syn | tcpflag::ack), kSec);
    feed(tcp(true, tcpflag::ack), kSec);
    feed(tcp(true, tcpflag::fin | tcpflag::ack), kSec);
    EXPECT_EQ(f->tcp_state, TcpState::fin_wait);
    feed(tcp(false, tcpflag::fin | tcpflag::ack), kSec);
    EXPECT_EQ(f->tcp_state, TcpState::closing);
    feed(tcp(true, tcpflag::ack), kSec);
    EXPECT_EQ(f->tcp_state, TcpState::closed);
    EXPECT_EQ(f->state, FlowState::closed);

    PacketSpec other = tcp(true, tcpflag::ack);
    other.sport = 40001;
    auto g = feed(other, kSec).flow;
    EXPECT_EQ(g->tcp_state, TcpState::established);  // midstream
    other.tcp_flags = tcpflag::rst;
    feed(other, kSec);
    EXPECT_EQ(g->tcp_state, TcpState::closed);
}

TEST_F(FlowTableTest, NewSynOnAClosedTupleStartsANewFlow) {
    auto first = feed(tcp(true, tcpflag::syn), kSec);
    feed(tcp(true, tcpflag::rst), kSec);
    const uint64_t old_id = first.flow->flow_id;
    auto again = feed(tcp(true, tcpflag::syn), 2 * kSec);
    EXPECT_TRUE(again.created);
    ASSERT_EQ(ends.ended.size(), 1u);
    EXPECT_EQ(ends.ended[0].first, old_id);
    EXPECT_EQ(ends.ended[0].second, FlowEndReason::reused);
}

TEST_F(FlowTableTest, ExpiryIsTheSameLazyOrInTheBackground) {
    PacketSpec u;
    u.proto = 17;
    u.dport = 53;
    // Lazy: the next packet comes after the UDP new timeout (30 s).
    auto a = feed(u, 10 * kSec);
    const uint64_t id_a = a.flow->flow_id;
    auto b = feed(u, 41 * kSec);
    EXPECT_TRUE(b.created);
    ASSERT_EQ(ends.ended.size(), 1u);
    EXPECT_EQ(ends.ended[0], std::make_pair(id_a, FlowEndReason::timeout));
    // Background: the same flow ended by expire() at the same point.
    FlowTable t2(8, timeouts);
    Ends e2;
    auto k = make(u);
    t2.next_epoch();
    auto i = t2.lookup(k.p, 10 * kSec, e2);
    t2.update(*i.flow, i.dir, k.p, 10 * kSec);
    EXPECT_EQ(t2.expire(40 * kSec, 100, e2), 0u);  // exactly at the timeout: still alive
    EXPECT_EQ(t2.expire(41 * kSec, 100, e2), 1u);
    ASSERT_EQ(e2.ended.size(), 1u);
    EXPECT_EQ(e2.ended[0], ends.ended[0]);  // same flow id, same reason
    EXPECT_EQ(t2.active(), 0u);
}

TEST_F(FlowTableTest, EstablishedFlowsLiveLonger) {
    PacketSpec u;
    u.proto = 17;
    auto a = feed(u, kSec);
    PacketSpec r = u;
    std::swap(r.src, r.dst);
    std::swap(r.sport, r.dport);
    feed(r, kSec);
    EXPECT_EQ(a.flow->state, FlowState::established);
    EXPECT_EQ(table.expire(100 * kSec, 100, ends), 0u);  // udp established: 300 s
    EXPECT_EQ(table.expire(302 * kSec, 100, ends), 1u);
}

TEST_F(FlowTableTest, FullTableEvictsClosedFlowsFirst) {
    FlowTable small(2, timeouts);
    Ends e;
    auto feed2 = [&](PacketSpec s, uint64_t t) {
        auto k = make(s);
        small.next_epoch();
        auto i = small.lookup(k.p, t, e);
        EXPECT_TRUE(i.flow);
        small.update(*i.flow, i.dir, k.p, t);
        return i;
    };
    PacketSpec est = tcp(true, tcpflag::ack);  // midstream: established
    auto older = feed2(est, kSec);
    PacketSpec closed = tcp(true, tcpflag::syn);
    closed.sport = 40001;
    auto c = feed2(closed, 2 * kSec);
    closed.tcp_flags = tcpflag::rst;
    feed2(closed, 2 * kSec);
    const uint64_t closed_id = c.flow->flow_id;
    PacketSpec third = tcp(true, tcpflag::syn);
    third.sport = 40002;
    auto n = feed2(third, 3 * kSec);
    ASSERT_TRUE(n.created);
    ASSERT_EQ(e.ended.size(), 1u);
    EXPECT_EQ(e.ended[0].first, closed_id);
    EXPECT_EQ(e.ended[0].second, FlowEndReason::evicted);
    EXPECT_EQ(small.counters().get(FlowCounter::evicted), 1u);
    EXPECT_EQ(older.flow->state, FlowState::established);
}

TEST_F(FlowTableTest, FlowsOfTheCurrentEpochAreNeverEndedUnderThePacketsThatUseThem) {
    PacketSpec u;
    u.proto = 17;
    auto k = make(u);
    table.next_epoch();
    auto first = table.lookup(k.p, kSec, ends);
    table.update(*first.flow, first.dir, k.p, kSec);
    // Same epoch (same burst), but 100 s later: the flow has timed out, yet an
    // earlier packet of this burst still refers to it.
    auto again = table.lookup(k.p, 100 * kSec, ends);
    EXPECT_TRUE(again.blocked);
    EXPECT_TRUE(ends.ended.empty());
    table.next_epoch();
    again = table.lookup(k.p, 100 * kSec, ends);
    EXPECT_FALSE(again.blocked);
    EXPECT_TRUE(again.created);
    EXPECT_EQ(ends.ended.size(), 1u);
    // A full table whose only flows are protected blocks instead of evicting them.
    FlowTable one(1, timeouts);
    one.next_epoch();
    auto a = one.lookup(k.p, kSec, ends);
    one.update(*a.flow, a.dir, k.p, kSec);
    PacketSpec v = u;
    v.sport = 1;
    auto kv = make(v);
    EXPECT_TRUE(one.lookup(kv.p, kSec, ends).blocked);
    one.next_epoch();
    auto b = one.lookup(kv.p, kSec, ends);
    ASSERT_TRUE(b.flow);
    EXPECT_EQ(one.counters().get(FlowCounter::evicted), 1u);
}

TEST_F(FlowTableTest, IcmpFlowsAreKeyedByExchange) {
    PacketSpec req;
    req.src = "2001:db8:1::1";
    req.dst = "2001:db8:1::2";
    req.proto = 58;
    req.icmp_type = 136;  // a neighbour advertisement from the client first
    auto na = feed(req, kSec);
    req.icmp_type = 128;  // then an echo request
    auto echo = feed(req, kSec);
    PacketSpec rep = req;
    std::swap(rep.src, rep.dst);
    rep.icmp_type = 129;
    auto reply = feed(rep, kSec);
    EXPECT_NE(na.flow, echo.flow);
    EXPECT_EQ(echo.flow, reply.flow);
    EXPECT_EQ(reply.dir, Direction::to_client);
    EXPECT_EQ(echo.flow->client_addr().to_string(), "2001:db8:1::1");
    // An echo reply seen first: its destination asked.
    PacketSpec lone = rep;
    lone.icmp_type = 0;
    lone.proto = 1;
    lone.src = "198.18.0.2";
    lone.dst = "198.18.0.1";
    auto r = feed(lone, kSec);
    EXPECT_EQ(r.dir, Direction::to_client);
    EXPECT_EQ(r.flow->client_addr().to_string(), "198.18.0.1");
}

TEST_F(FlowTableTest, FlowIdDependsOnlyOnKeyAndStart) {
    auto a = feed(tcp(true, tcpflag::syn), 5 * kSec);
    FlowTable other(1024, timeouts);
    Ends e;
    auto k = make(tcp(false, tcpflag::syn | tcpflag::ack));  // seen from the other side first
    other.next_epoch();
    auto b = other.lookup(k.p, 5 * kSec, e);
    EXPECT_EQ(a.flow->flow_id, b.flow->flow_id);
    EXPECT_LT(a.flow->flow_id, uint64_t{1} << 51);
}

TEST_F(FlowTableTest, EndAllReportsTimedOutFlowsAsTimeoutsWhereverTheySit) {
    PacketSpec a;
    a.proto = 17;
    a.sport = 1;
    PacketSpec b = a;
    b.sport = 2;
    feed(a, 1 * kSec);   // will be silent for 60 s: past the 30 s new-flow timeout
    feed(b, 1 * kSec);
    feed(b, 50 * kSec);  // active: not timed out at 60 s
    ends.ended.clear();
    table.end_all(ends, FlowEndReason::shutdown, 60 * kSec);
    ASSERT_EQ(ends.ended.size(), 2u);
    int timed_out = 0, shut_down = 0;
    for (auto& [id, r] : ends.ended) (r == FlowEndReason::timeout ? timed_out : shut_down)++;
    EXPECT_EQ(timed_out, 1);
    EXPECT_EQ(shut_down, 1);
}

TEST_F(FlowTableTest, BusyFlowsAreReplacedLazilyButNeverExpireEarly) {
    PacketSpec u;
    u.proto = 17;
    PacketSpec r = u;
    std::swap(r.src, r.dst);
    std::swap(r.sport, r.dport);
    // An established flow seen every 100 ms for 10 minutes, then silent.
    for (uint64_t t = 0; t <= 600; ++t) feed(t % 2 ? u : r, kSec + t * (kSec / 10));
    const uint64_t last = kSec + 600 * (kSec / 10);
    EXPECT_EQ(table.expire(last + 299 * kSec, 100, ends), 0u);  // 300 s established timeout not reached
    EXPECT_EQ(table.expire(last + 301 * kSec, 100, ends), 1u);
}

TEST_F(FlowTableTest, EndAllEndsEverything) {
    for (uint16_t p = 1; p <= 8; ++p) {
        PacketSpec s = tcp(true, tcpflag::syn);
        s.sport = p;
        feed(s, kSec);
    }
    EXPECT_EQ(table.active(), 8u);
    table.end_all(ends, FlowEndReason::shutdown);
    EXPECT_EQ(table.active(), 0u);
    EXPECT_EQ(ends.ended.size(), 8u);
    // Slots are reusable afterwards.
    EXPECT_TRUE(feed(tcp(true, tcpflag::syn), 2 * kSec).created);
}

// Flows come and go (created, timed out, evicted) in small tables, with
// chains of several flows: after every packet
// the table must agree with a plain map of what is alive, every live flow must
// be found again (never created twice), and no two live flows share a slot.
void churn(uint32_t capacity, uint32_t keys, uint32_t seed) {
    FlowTimeouts t;
    FlowTable table(capacity, t);
    struct Record : FlowEndHandler {
        std::set<uint64_t> ended;
        void on_flow_end(Flow& f, FlowEndReason) override { ended.insert(f.flow_id); }
    } ends;
    struct Live {
        uint64_t id;
        uint64_t last_ns;
    };
    std::map<uint16_t, Live> alive;  // UDP source port -> its flow
    const uint64_t timeout_ns = uint64_t{t.seconds[static_cast<size_t>(ProtoClass::udp)][0]} * kSec;
    auto forget_ended = [&] {
        for (auto it = alive.begin(); it != alive.end();)
            it = ends.ended.count(it->second.id) ? alive.erase(it) : std::next(it);
        ends.ended.clear();
    };
    std::mt19937 rng(seed);
    uint64_t now = kSec;
    for (int step = 0; step < 10000; ++step) {
        PacketSpec u;
        u.proto = 17;
        u.sport = static_cast<uint16_t>(1000 + rng() % keys);
        now += rng() % (kSec / 2);
        auto k = make(u);
        table.next_epoch();
        const PacketFlowInfo info = table.lookup(k.p, now, ends);
        ASSERT_FALSE(info.blocked);
        ASSERT_NE(info.flow, nullptr);
        forget_ended();
        const auto was = alive.find(u.sport);
        if (was != alive.end()) {
            // Only the client ever sends: the flow stays new, with the new timeout.
            ASSERT_LE(now, was->second.last_ns + timeout_ns) << "a timed-out flow was not ended, step " << step;
            ASSERT_FALSE(info.created) << "a live flow was created again, step " << step;
            ASSERT_EQ(info.flow->flow_id, was->second.id);
            was->second.last_ns = now;
        } else {
            ASSERT_TRUE(info.created) << "an ended flow was found, step " << step;
            alive[u.sport] = {info.flow->flow_id, now};
        }
        ASSERT_EQ(info.flow->client_port(), u.sport);
        table.update(*info.flow, info.dir, k.p, now);
        if (step % 97 == 0) {
            table.next_epoch();
            table.expire(now, 8, ends);
            forget_ended();
        }
        ASSERT_EQ(table.active(), alive.size());
    }
    // Every live flow is found where it is, each in its own slot.
    std::set<const Flow*> slots;
    for (const auto& [sport, live] : alive) {
        PacketSpec u;
        u.proto = 17;
        u.sport = sport;
        auto k = make(u);
        table.next_epoch();
        const PacketFlowInfo info = table.lookup(k.p, now, ends);
        ASSERT_TRUE(info.flow && !info.created);
        EXPECT_EQ(info.flow->flow_id, live.id);
        EXPECT_TRUE(slots.insert(info.flow).second);
    }
    Record last;
    table.end_all(last, FlowEndReason::shutdown);
    EXPECT_EQ(last.ended.size(), alive.size());
    EXPECT_EQ(table.active(), 0u);
}

TEST(FlowTableChurn, LiveFlowsStayFindableThroughEvictionsAndTimeouts) {
    churn(64, 256, 1);  // more keys than slots: evictions
    churn(61, 244, 2);  // not a power of two
    churn(7, 28, 3);
    churn(1, 4, 4);
    churn(64, 48, 5);  // room for all: flows end by timing out, found so on lookup or by expire()
}

}  // namespace
}  // namespace sluice
