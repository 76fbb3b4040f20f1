#include "dataplane/decode.hpp"

#include <gtest/gtest.h>

#include <random>

#include "tests/support/packet_builder.hpp"

namespace sluice {
namespace {

using test::build_frame;
using test::PacketSpec;

DecodedPacket decode(const std::vector<uint8_t>& f) {
    DecodedPacket p;
    decode_ethernet(f.data(), static_cast<uint32_t>(f.size()), p);
    return p;
}

TEST(Decode, Ipv4Tcp) {
    PacketSpec s;
    s.payload = "GET / HTTP/1.0\r\n\r\n";
    s.tcp_flags = 0x18;
    s.seq = 0x01020304;
    auto p = decode(build_frame(s));
    ASSERT_EQ(p.status, DecodeStatus::ok);
    EXPECT_EQ(p.ip_version, 4);
    EXPECT_EQ(p.ip_proto, ipproto::tcp);
    EXPECT_EQ(p.src.to_string(), "198.18.0.1");
    EXPECT_EQ(p.dst.to_string(), "198.18.0.2");
    EXPECT_EQ(p.src_port, 40000);
    EXPECT_EQ(p.dst_port, 80);
    EXPECT_EQ(p.tcp_seq, 0x01020304u);
    EXPECT_EQ(p.tcp_flags, 0x18);
    EXPECT_EQ(p.payload_len, s.payload.size());
    EXPECT_EQ(p.payload_offset, 14u + 20u + 20u);
}

TEST(Decode, QinQAndIpv4Options) {
    PacketSpec s;
    s.vlans = {100, 200};
    s.ipv4_options = {0x07, 0x07, 0x04, 0, 0, 0, 0, 0x01};  // record route (7 bytes) + NOP
    s.proto = 17;
    s.dport = 53;
    s.payload = "abcd";
    auto p = decode(build_frame(s));
    ASSERT_EQ(p.status, DecodeStatus::ok);
    EXPECT_EQ(p.vlan_count, 2);
    EXPECT_EQ(p.vlan[0], 100);
    EXPECT_EQ(p.vlan[1], 200);
    EXPECT_EQ(p.l4_offset, 14u + 8u + 28u);
    EXPECT_EQ(p.payload_len, 4u);
}

TEST(Decode, Ipv6WithExtensionHeaders) {
    PacketSpec s;
    s.src = "2001:db8::1";
    s.dst = "2001:db8::2";
    s.proto = 0;  // hop-by-hop first
    std::vector<uint8_t> l4;
    // Hop-by-hop (8 bytes) -> destination options (16 bytes) -> UDP.
    l4 = {60, 0, 1, 4, 0, 0, 0, 0};
    l4.insert(l4.end(), {17, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
    PacketSpec u;
    u.proto = 17;
    u.payload = "xyz";
    auto udp = test::build_l4(u);
    l4.insert(l4.end(), udp.begin(), udp.end());
    auto p = decode(build_frame(s, &l4));
    ASSERT_EQ(p.status, DecodeStatus::ok) << counter_name(p.malformed);
    EXPECT_EQ(p.ip_version, 6);
    EXPECT_EQ(p.ip_proto, ipproto::udp);
    EXPECT_EQ(p.payload_len, 3u);
    EXPECT_EQ(p.src.to_string(), "2001:db8::1");
}

TEST(Decode, Ipv4FragmentsAreFlagged) {
    PacketSpec s;
    s.more_fragments = true;
    s.payload = std::string(64, 'x');
    auto p = decode(build_frame(s));
    EXPECT_EQ(p.status, DecodeStatus::fragment);
    EXPECT_TRUE(p.more_fragments);
    s.more_fragments = false;
    s.frag_offset = 64;
    p = decode(build_frame(s));
    EXPECT_EQ(p.status, DecodeStatus::fragment);
    EXPECT_EQ(p.frag_offset, 64);
}

TEST(Decode, EthernetPaddingIsNotPayload) {
    PacketSpec s;
    s.tcp_flags = 0x10;
    auto f = build_frame(s);
    f.resize(60, 0);  // padded to the Ethernet minimum
    auto p = decode(f);
    ASSERT_EQ(p.status, DecodeStatus::ok);
    EXPECT_EQ(p.payload_len, 0u);
}

TEST(Decode, NonIpIsPassedThrough) {
    std::vector<uint8_t> arp(42, 0);
    arp[12] = 0x08;
    arp[13] = 0x06;
    EXPECT_EQ(decode(arp).status, DecodeStatus::not_ip);
}

struct MalformedCase {
    const char* name;
    MalformedReason expect;
    std::function<void(std::vector<uint8_t>&)> mangle;
};

TEST(Decode, MalformedPacketsNameTheirReason) {
    PacketSpec s;
    s.payload = "hello";
    const auto good = build_frame(s);
    const size_t ip = 14;
    const size_t tcp = 34;
    std::vector<MalformedCase> cases = {
        {"short ethernet", MalformedReason::eth_truncated, [](auto& f) { f.resize(10); }},
        {"ip header cut", MalformedReason::ipv4_truncated, [](auto& f) { f.resize(ip + 12); }},
        {"bad version", MalformedReason::ipv4_bad_version, [&](auto& f) { f[ip] = 0x55; }},
        {"ihl below 5", MalformedReason::ipv4_bad_ihl, [&](auto& f) { f[ip] = 0x43; }},
        {"ihl past frame", MalformedReason::ipv4_truncated, [&](auto& f) { f[ip] = 0x4F; f.resize(ip + 40); }},
        {"total length lies up", MalformedReason::ipv4_bad_total_length, [&](auto& f) { f[ip + 2] = 0x40; }},
        {"total length below header", MalformedReason::ipv4_bad_total_length, [&](auto& f) { f[ip + 2] = 0; f[ip + 3] = 10; }},
        {"tcp cut", MalformedReason::tcp_truncated, [&](auto& f) { f[ip + 3] = 30; f.resize(ip + 30); }},
        {"tcp offset too small", MalformedReason::tcp_bad_offset, [&](auto& f) { f[tcp + 12] = 0x30; }},
        {"tcp offset past segment", MalformedReason::tcp_bad_offset, [&](auto& f) { f[tcp + 12] = 0xF0; }},
    };
    for (auto& c : cases) {
        auto f = good;
        c.mangle(f);
        auto p = decode(f);
        EXPECT_EQ(p.status, DecodeStatus::malformed) << c.name;
        EXPECT_EQ(p.malformed, c.expect) << c.name << ": got " << counter_name(p.malformed);
    }
    // UDP length lying.
    PacketSpec u;
    u.proto = 17;
    u.payload = "abc";
    auto f = build_frame(u);
    f[tcp + 4] = 0x10;  // udp length 4096
    EXPECT_EQ(decode(f).malformed, MalformedReason::udp_bad_length);
    f[tcp + 4] = 0; f[tcp + 5] = 4;  // below 8
    EXPECT_EQ(decode(f).malformed, MalformedReason::udp_bad_length);
    // IPv4 option whose length runs past the header.
    PacketSpec o;
    o.ipv4_options = {0x07, 0x20, 0, 0};
    EXPECT_EQ(decode(build_frame(o)).malformed, MalformedReason::ipv4_bad_options);
    // Three VLAN tags.
    PacketSpec v;
    v.vlans = {1, 2, 3};
    EXPECT_EQ(decode(build_frame(v)).malformed, MalformedReason::vlan_too_deep);
    // IPv6 payload length lying.
    PacketSpec six;
    six.src = "2001:db8::1";
    six.dst = "2001:db8::2";
    auto g = build_frame(six);
    g[14 + 4] = 0x7F;
    EXPECT_EQ(decode(g).malformed, MalformedReason::ipv6_bad_payload_length);
}

// Random and truncated frames: decode must stay inside the buffer (the ASan
// build checks) and every result must be a consistent status.
TEST(Decode, RandomAndTruncatedFramesStayInBounds) {
    std::mt19937 rng(1);
    PacketSpec s;
    s.payload = std::string(100, 'p');
    const auto good = build_frame(s);
    for (int i = 0; i < 20000; ++i) {
        std::vector<uint8_t> f;
        if (i % 2) {
            f = good;
            f.resize(rng() % (good.size() + 1));
            for (int k = 0; k < 3 && !f.empty(); ++k) f[rng() % f.size()] = static_cast<uint8_t>(rng());
        } else {
            f.resize(rng() % 200);
            for (auto& b : f) b = static_cast<uint8_t>(rng());
            if (f.size() > 13) { f[12] = (i % 4) ? 0x08 : 0x86; f[13] = (i % 4) ? 0x00 : 0xDD; }
        }
        auto heap = std::make_unique<uint8_t[]>(f.size());  // exact-size copy so ASan sees overruns
        std::copy(f.begin(), f.end(), heap.get());
        DecodedPacket p;
        decode_ethernet(heap.get(), static_cast<uint32_t>(f.size()), p);
        if (p.status == DecodeStatus::ok) {
            EXPECT_LE(p.payload_offset + p.payload_len, f.size());
        }
    }
}

}  // namespace
}  // namespace sluice
