#include "dataplane/tcp_reassembly.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "dataplane/decode.hpp"

namespace sluice {
namespace {

// Rebuilds each direction as the consumer saw it: data as is, gaps as '#'.
struct Recorder : StreamConsumer {
    std::string text[2];
    uint64_t next_offset[2] = {0, 0};
    int gaps = 0;
    uint64_t gap_bytes = 0;
    int ends = 0;
    int chunks = 0;
    void on_data(Direction d, uint64_t off, std::span<const uint8_t> data) override {
        EXPECT_EQ(off, next_offset[index(d)]) << "offsets must be contiguous";
        text[index(d)].append(reinterpret_cast<const char*>(data.data()), data.size());
        next_offset[index(d)] = off + data.size();
        ++chunks;
    }
    void on_gap(Direction d, uint64_t off, uint64_t len) override {
        EXPECT_EQ(off, next_offset[index(d)]);
        text[index(d)].append(len, '#');
        next_offset[index(d)] = off + len;
        ++gaps;
        gap_bytes += len;
    }
    void on_end() override { ++ends; }
};

std::span<const uint8_t> bytes(const std::string& s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

struct Seg {
    uint32_t seq;
    std::string data;
};

class ReassemblyTest : public ::testing::Test {
protected:
    void syn(uint32_t isn, Direction d = Direction::to_server) {
        r.on_segment(st, d, isn, 0, tcpflag::syn, {}, rec);
    }
    void seg(uint32_t seq, const std::string& data, Direction d = Direction::to_server, uint8_t flags = tcpflag::ack,
             uint32_t ack = 0) {
        r.on_segment(st, d, seq, ack, flags, bytes(data), rec);
    }
    StreamLimits limits;
    TcpReassembler r{limits, 1024};
    TcpStreamState st;
    Recorder rec;
};

TEST_F(ReassemblyTest, InOrderIsDeliveredWithoutBuffering) {
    syn(1000);
    seg(1001, "hello ");
    seg(1007, "world");
    EXPECT_EQ(rec.text[0], "hello world");
    EXPECT_EQ(r.pool().in_use(), 0u);
    EXPECT_EQ(r.counters().get(StreamCounter::in_order), 2u);
    r.finish(st, rec);
    EXPECT_EQ(rec.ends, 1);
    EXPECT_EQ(rec.gaps, 0);
}

TEST_F(ReassemblyTest, ReverseOrderIsPutBack) {
    syn(1000);
    seg(1011, "KLMNO");
    seg(1006, "FGHIJ");
    EXPECT_EQ(rec.text[0], "");
    seg(1001, "ABCDE");
    EXPECT_EQ(rec.text[0], "ABCDEFGHIJKLMNO");
    EXPECT_EQ(r.pool().in_use(), 0u);
}

TEST_F(ReassemblyTest, OverlapsAreFirstWins) {
    syn(0);
    seg(6, "XXXXX");        // buffered first: bytes 5..9 of the stream
    seg(1, "abcdefghijkl");  // covers 0..11; its 5..9 lose to the buffered XXXXX
    EXPECT_EQ(rec.text[0], "abcdeXXXXXkl");
    seg(3, "ZZZZZZZZZZZZZZ");  // stream bytes 2..15: only 12..15 are new
    EXPECT_EQ(rec.text[0], "abcdeXXXXXklZZZZ");
    EXPECT_GE(r.counters().get(StreamCounter::overlaps), 1u);
}

TEST_F(ReassemblyTest, OverlappingOutOfOrderSegmentsKeepTheFirstCopy) {
    syn(0);
    seg(11, "1111");   // 10..13
    seg(9, "222222");  // 8..13: only 8..9 is new
    seg(13, "3333");   // 12..15: only 14..15 is new
    seg(1, "abcdefgh");
    EXPECT_EQ(rec.text[0], "abcdefgh22111133");
}

TEST_F(ReassemblyTest, HoleAtEndOfConnectionIsAGap) {
    syn(100);
    seg(101, "abc");
    seg(107, "ghi");  // 104..106 never comes
    r.finish(st, rec);
    EXPECT_EQ(rec.text[0], "abc###ghi");
    EXPECT_EQ(rec.gaps, 1);
    EXPECT_EQ(rec.gap_bytes, 3u);
    EXPECT_EQ(rec.ends, 1);
    EXPECT_EQ(r.pool().in_use(), 0u);
}

TEST_F(ReassemblyTest, AcknowledgedHoleIsGivenUpAtOnce) {
    syn(100);
    syn(5000, Direction::to_client);
    seg(101, "abc");
    seg(107, "ghi");
    // The server acknowledges everything up to 110: bytes 104..106 were lost before us.
    seg(5001, "ok", Direction::to_client, tcpflag::ack, 110);
    EXPECT_EQ(rec.text[0], "abc###ghi");
    EXPECT_EQ(rec.text[1], "ok");
}

TEST_F(ReassemblyTest, SequenceNumbersWrapAround) {
    const uint32_t isn = 0xFFFFFFF0u;
    syn(isn);
    std::string data;
    for (int i = 0; i < 64; ++i) data.push_back(static_cast<char>('a' + i % 26));
    // Out of order across the wrap.
    seg(isn + 1 + 32, data.substr(32));
    seg(isn + 1 + 8, data.substr(8, 24));
    seg(isn + 1, data.substr(0, 8));
    EXPECT_EQ(rec.text[0], data);
}

TEST_F(ReassemblyTest, OnePerByteInRandomOrderWithDuplicates) {
    std::mt19937 rng(7);
    std::string data(3000, ' ');
    for (auto& c : data) c = static_cast<char>('A' + rng() % 26);
    syn(42);
    std::vector<Seg> segs;
    size_t pos = 0;
    while (pos < data.size()) {
        size_t n = 1 + rng() % 40;
        if (pos + n > data.size()) n = data.size() - pos;
        segs.push_back({static_cast<uint32_t>(43 + pos), data.substr(pos, n)});
        if (rng() % 5 == 0) segs.push_back(segs.back());  // duplicate
        if (rng() % 5 == 0 && pos > 5) segs.push_back({static_cast<uint32_t>(43 + pos - 5), data.substr(pos - 5, n + 5)});
        pos += n;
    }
    // Shuffle within windows of 16 segments (reordering, not random arrival over the whole stream).
    for (size_t i = 0; i < segs.size(); i += 16)
        std::shuffle(segs.begin() + static_cast<long>(i), segs.begin() + static_cast<long>(std::min(i + 16, segs.size())), rng);
    for (const auto& s : segs) seg(s.seq, s.data);
    r.finish(st, rec);
    EXPECT_EQ(rec.text[0], data);
    EXPECT_EQ(rec.gaps, 0);
    EXPECT_EQ(r.pool().in_use(), 0u);
}

TEST(Reassembly, PerDirectionLimitGivesUpHolesWithGaps) {
    StreamLimits lim;
    lim.max_ooo_bytes = 8;
    TcpReassembler r(lim, 64);
    TcpStreamState st;
    Recorder rec;
    r.on_segment(st, Direction::to_server, 0, 0, tcpflag::syn, {}, rec);
    r.on_segment(st, Direction::to_server, 5, 0, tcpflag::ack, bytes("efgh"), rec);   // 4..7 buffered
    r.on_segment(st, Direction::to_server, 11, 0, tcpflag::ack, bytes("klmn"), rec);  // 10..13 buffered (8 bytes)
    r.on_segment(st, Direction::to_server, 17, 0, tcpflag::ack, bytes("qrst"), rec);  // over the cap: give up the first hole
    EXPECT_EQ(rec.text[0], "####efgh");
    EXPECT_GE(r.counters().get(StreamCounter::ooo_limit), 1u);
    r.finish(st, rec);
    EXPECT_EQ(rec.text[0], "####efgh##klmn##qrst");
    EXPECT_EQ(r.pool().in_use(), 0u);
}

TEST(Reassembly, WorkerPoolExhaustionIsBoundedAndReported) {
    StreamLimits lim;
    TcpReassembler r(lim, 2);  // two chunks for everything
    TcpStreamState a, b;
    Recorder ra, rb;
    r.on_segment(a, Direction::to_server, 0, 0, tcpflag::syn, {}, ra);
    r.on_segment(b, Direction::to_server, 0, 0, tcpflag::syn, {}, rb);
    r.on_segment(a, Direction::to_server, 3, 0, tcpflag::ack, bytes("cc"), ra);
    r.on_segment(a, Direction::to_server, 7, 0, tcpflag::ack, bytes("gg"), ra);
    EXPECT_EQ(r.pool().in_use(), 2u);
    r.on_segment(b, Direction::to_server, 4, 0, tcpflag::ack, bytes("dd"), rb);  // no chunk left
    EXPECT_GE(r.counters().get(StreamCounter::pool_exhausted), 1u);
    EXPECT_EQ(rb.text[0], "###dd");
    EXPECT_LE(r.pool().in_use(), 2u);
    r.finish(a, ra);
    EXPECT_EQ(ra.text[0], "##cc##gg");
    EXPECT_EQ(r.pool().in_use(), 0u);
}

TEST(Reassembly, DepthStopsDelivery) {
    StreamLimits lim;
    lim.depth = 5;
    TcpReassembler r(lim, 16);
    TcpStreamState st;
    Recorder rec;
    r.on_segment(st, Direction::to_server, 0, 0, tcpflag::syn, {}, rec);
    r.on_segment(st, Direction::to_server, 1, 0, tcpflag::ack, bytes("abc"), rec);
    r.on_segment(st, Direction::to_server, 4, 0, tcpflag::ack, bytes("defg"), rec);
    r.on_segment(st, Direction::to_server, 8, 0, tcpflag::ack, bytes("hij"), rec);
    EXPECT_EQ(rec.text[0], "abcde");
}

TEST(Reassembly, DataPastTheFinIsIgnored) {
    StreamLimits lim;
    TcpReassembler r(lim, 16);
    TcpStreamState st;
    Recorder rec;
    r.on_segment(st, Direction::to_server, 0, 0, tcpflag::syn, {}, rec);
    r.on_segment(st, Direction::to_server, 1, 0, tcpflag::ack | tcpflag::fin, bytes("abc"), rec);
    r.on_segment(st, Direction::to_server, 4, 0, tcpflag::ack, bytes("evil"), rec);
    EXPECT_EQ(rec.text[0], "abc");
    EXPECT_GE(r.counters().get(StreamCounter::after_fin), 1u);
}

TEST(Reassembly, MidstreamPickupIsOptional) {
    StreamLimits lim;
    lim.midstream = false;
    TcpReassembler r(lim, 16);
    TcpStreamState st;
    Recorder rec;
    r.on_segment(st, Direction::to_server, 500, 0, tcpflag::ack, bytes("abc"), rec);
    EXPECT_EQ(rec.text[0], "");
    StreamLimits on;
    TcpReassembler r2(on, 16);
    TcpStreamState st2;
    r2.on_segment(st2, Direction::to_server, 500, 0, tcpflag::ack, bytes("abc"), rec);
    EXPECT_EQ(rec.text[0], "abc");
    EXPECT_EQ(r2.counters().get(StreamCounter::midstream), 1u);
}

TEST(Reassembly, FarFutureSequenceIsIgnoredNotBuffered) {
    StreamLimits lim;
    TcpReassembler r(lim, 16);
    TcpStreamState st;
    Recorder rec;
    r.on_segment(st, Direction::to_server, 0, 0, tcpflag::syn, {}, rec);
    r.on_segment(st, Direction::to_server, 0x40000000u, 0, tcpflag::ack, bytes("zzz"), rec);
    EXPECT_EQ(r.pool().in_use(), 0u);
    EXPECT_EQ(r.counters().get(StreamCounter::bogus_seq), 1u);
}

}  // namespace
}  // namespace sluice
