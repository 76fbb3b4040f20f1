#include "dataplane/defrag.hpp"

#include <gtest/gtest.h>

#include "tests/support/packet_builder.hpp"

namespace sluice {
namespace {

using test::build_frame;
using test::PacketSpec;

constexpr uint64_t kSec = 1000000000ull;

// The UDP datagram "hdr + payload" split into fragments of `size` bytes.
struct Fragments {
    std::vector<std::vector<uint8_t>> frames;
    std::vector<uint8_t> l4;
};

Fragments make_v4(const std::string& payload, size_t size, uint16_t id = 7) {
    PacketSpec u;
    u.proto = 17;
    u.dport = 53;
    u.payload = payload;
    Fragments f;
    f.l4 = test::build_l4(u);
    for (size_t off = 0; off < f.l4.size(); off += size) {
        PacketSpec s = u;
        s.ip_id = id;
        s.frag_offset = static_cast<uint16_t>(off);
        s.more_fragments = off + size < f.l4.size();
        std::vector<uint8_t> piece(f.l4.begin() + static_cast<long>(off),
                                   f.l4.begin() + static_cast<long>(std::min(off + size, f.l4.size())));
        f.frames.push_back(build_frame(s, &piece));
    }
    return f;
}

std::span<const uint8_t> add(Defragmenter& d, const std::vector<uint8_t>& frame, uint64_t t = kSec) {
    DecodedPacket p;
    decode_ethernet(frame.data(), static_cast<uint32_t>(frame.size()), p);
    EXPECT_EQ(p.status, DecodeStatus::fragment);
    return d.add(frame.data(), p, t);
}

void expect_datagram(std::span<const uint8_t> out, const std::string& payload) {
    ASSERT_FALSE(out.empty());
    DecodedPacket p;
    decode_ip(out.data(), static_cast<uint32_t>(out.size()), 0, p);
    ASSERT_EQ(p.status, DecodeStatus::ok) << counter_name(p.malformed);
    EXPECT_EQ(p.ip_proto, ipproto::udp);
    EXPECT_EQ(p.dst_port, 53);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(out.data() + p.payload_offset), p.payload_len), payload);
}

TEST(Defrag, InOrderAndReverse) {
    const std::string payload(1000, 'q');
    for (bool reverse : {false, true}) {
        Defragmenter d(4, 60 * kSec);
        auto f = make_v4(payload, 256);
        if (reverse) std::reverse(f.frames.begin(), f.frames.end());
        std::span<const uint8_t> out;
        for (size_t i = 0; i < f.frames.size(); ++i) {
            out = add(d, f.frames[i]);
            if (i + 1 < f.frames.size()) {
                EXPECT_TRUE(out.empty());
            }
        }
        expect_datagram(out, payload);
        EXPECT_EQ(d.in_use(), 0u);
        EXPECT_EQ(d.counters().get(DefragCounter::reassembled), 1u);
    }
}

TEST(Defrag, MoreThanEightFragments) {
    std::string payload;
    for (int i = 0; i < 4000; ++i) payload.push_back(static_cast<char>('a' + i % 26));
    Defragmenter d(4, 60 * kSec);
    auto f = make_v4(payload, 128);  // 32 fragments
    std::span<const uint8_t> out;
    for (auto& fr : f.frames) out = add(d, fr);
    expect_datagram(out, payload);
}

TEST(Defrag, OverlapsAreFirstWinsAndConflictsCounted) {
    Defragmenter d(4, 60 * kSec);
    const std::string payload(64, 'A');
    auto f = make_v4(payload, 24);  // 8-byte UDP header + 64: fragments at 0, 24, 48
    // A forged copy of the middle fragment with other bytes, sent first.
    auto forged = f.frames[1];
    for (size_t i = 34; i < forged.size(); ++i) forged[i] = 'Z';
    EXPECT_TRUE(add(d, forged).empty());
    EXPECT_TRUE(add(d, f.frames[0]).empty());
    EXPECT_TRUE(add(d, f.frames[1]).empty());  // the genuine one comes second and loses
    auto out = add(d, f.frames[2]);
    ASSERT_FALSE(out.empty());
    EXPECT_GE(d.counters().get(DefragCounter::overlap_conflicts), 1u);
    DecodedPacket p;
    decode_ip(out.data(), static_cast<uint32_t>(out.size()), 0, p);
    const std::string got(reinterpret_cast<const char*>(out.data() + p.payload_offset), p.payload_len);
    EXPECT_EQ(got.substr(0, 16), std::string(16, 'A'));
    EXPECT_EQ(got.substr(16, 24), std::string(24, 'Z'));  // the first copy of bytes 24..47 won
    EXPECT_EQ(got.substr(40), std::string(24, 'A'));
}

TEST(Defrag, MissingPieceNeverCompletesAndTimesOut) {
    Defragmenter d(4, 10 * kSec);
    auto f = make_v4(std::string(600, 'x'), 200);
    ASSERT_GE(f.frames.size(), 3u);
    EXPECT_TRUE(add(d, f.frames[0]).empty());
    EXPECT_TRUE(add(d, f.frames[2], kSec).empty());
    EXPECT_EQ(d.in_use(), 1u);
    d.expire(20 * kSec);
    EXPECT_EQ(d.in_use(), 0u);
    EXPECT_EQ(d.counters().get(DefragCounter::timeouts), 1u);
}

TEST(Defrag, FullPoolEvictsTheOldest) {
    Defragmenter d(2, 60 * kSec);
    for (uint16_t id = 1; id <= 3; ++id) {
        auto f = make_v4(std::string(300, 'x'), 160, id);
        EXPECT_TRUE(add(d, f.frames[0], id * kSec).empty());
    }
    EXPECT_EQ(d.in_use(), 2u);
    EXPECT_EQ(d.counters().get(DefragCounter::evicted), 1u);
}

TEST(Defrag, LyingLastFragmentIsInconsistent) {
    Defragmenter d(4, 60 * kSec);
    auto f = make_v4(std::string(600, 'x'), 200);
    add(d, f.frames.back());
    // A second "last" fragment claiming another total length.
    PacketSpec s;
    s.proto = 17;
    s.frag_offset = 800;
    s.ip_id = 7;
    std::vector<uint8_t> piece(16, 'y');
    EXPECT_TRUE(add(d, build_frame(s, &piece)).empty());
    EXPECT_GE(d.counters().get(DefragCounter::inconsistent), 1u);
}

TEST(Defrag, Ipv6FragmentsBehindADestinationOptionsHeader) {
    const std::string payload(300, 'v');
    PacketSpec u;
    u.proto = 17;
    u.dport = 53;
    u.payload = payload;
    const auto l4 = test::build_l4(u);
    Defragmenter d(4, 60 * kSec);
    std::span<const uint8_t> out;
    const size_t size = 160;
    for (size_t off = 0; off < l4.size(); off += size) {
        PacketSpec s;
        s.src = "2001:db8::1";
        s.dst = "2001:db8::2";
        s.proto = 60;  // destination options, then the fragment header
        const bool more = off + size < l4.size();
        const uint16_t fo = static_cast<uint16_t>(off | (more ? 1 : 0));
        std::vector<uint8_t> ext = {44, 0, 1, 4, 0, 0, 0, 0, 17, 0, static_cast<uint8_t>(fo >> 8), static_cast<uint8_t>(fo), 0, 0, 0, 9};
        for (size_t i = off; i < std::min(off + size, l4.size()); ++i) ext.push_back(l4[i]);
        auto frame = build_frame(s, &ext);
        DecodedPacket p;
        decode_ethernet(frame.data(), static_cast<uint32_t>(frame.size()), p);
        ASSERT_EQ(p.status, DecodeStatus::fragment);
        out = d.add(frame.data(), p, kSec);
    }
    ASSERT_FALSE(out.empty());
    DecodedPacket p;
    decode_ip(out.data(), static_cast<uint32_t>(out.size()), 0, p);
    ASSERT_EQ(p.status, DecodeStatus::ok) << counter_name(p.malformed);
    EXPECT_EQ(p.ip_proto, ipproto::udp);
    EXPECT_EQ(p.payload_len, payload.size());
}

}  // namespace
}  // namespace sluice
