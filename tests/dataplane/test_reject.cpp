#include "dataplane/reject.hpp"

#include <gtest/gtest.h>

#include "tests/support/packet_builder.hpp"

namespace sluice {
namespace {

using test::build_frame;
using test::PacketSpec;

uint32_t sum16(const uint8_t* p, size_t n, uint32_t s = 0) {
    for (size_t i = 0; i + 1 < n; i += 2) s += (uint32_t{p[i]} << 8) | p[i + 1];
    if (n & 1) s += uint32_t{p[n - 1]} << 8;
    return s;
}
bool valid(uint32_t s) {
    while (s >> 16) s = (s & 0xFFFF) + (s >> 16);
    return s == 0xFFFF;
}

// Checks the IP and L4 checksums of a built frame and returns it decoded.
DecodedPacket check(const uint8_t* f, size_t n) {
    DecodedPacket p;
    decode_ethernet(f, static_cast<uint32_t>(n), p);
    EXPECT_EQ(p.status, DecodeStatus::ok);
    const uint8_t* ip = f + p.l3_offset;
    const uint32_t l4_len = p.ip_len - (p.l4_offset - p.l3_offset);
    uint32_t pseudo = 0;
    if (p.ip_version == 4) {
        EXPECT_TRUE(valid(sum16(ip, 20))) << "ipv4 header checksum";
        pseudo = sum16(ip + 12, 8) + p.ip_proto + l4_len;
    } else {
        pseudo = sum16(ip + 8, 32) + p.ip_proto + l4_len;
    }
    if (p.ip_proto == ipproto::icmp) pseudo = 0;
    EXPECT_TRUE(valid(sum16(f + p.l4_offset, l4_len, pseudo))) << "l4 checksum";
    return p;
}

TEST(Reject, TcpResetsBothWays) {
    for (const char* family : {"v4", "v6"}) {
        PacketSpec s;
        if (std::string(family) == "v6") {
            s.src = "2001:db8::10";
            s.dst = "2001:db8::20";
        }
        s.vlans = {42};
        s.tcp_flags = tcpflag::ack | tcpflag::psh;
        s.seq = 1000;
        s.ack = 5000;
        s.payload = "evil";
        auto frame = build_frame(s);
        DecodedPacket p;
        decode_ethernet(frame.data(), static_cast<uint32_t>(frame.size()), p);
        uint8_t out[1600];
        size_t n = build_reject_to_sender(frame.data(), p, out);
        ASSERT_GT(n, 0u);
        auto r = check(out, n);
        EXPECT_EQ(r.vlan_count, 1);
        EXPECT_EQ(r.vlan[0], 42);
        EXPECT_EQ(r.src, p.dst);
        EXPECT_EQ(r.dst, p.src);
        EXPECT_EQ(r.src_port, p.dst_port);
        EXPECT_EQ(r.tcp_flags, tcpflag::rst | tcpflag::ack);
        EXPECT_EQ(r.tcp_seq, 5000u);
        EXPECT_EQ(r.tcp_ack, 1004u);
        n = build_reject_to_receiver(frame.data(), p, out);
        ASSERT_GT(n, 0u);
        r = check(out, n);
        EXPECT_EQ(r.src, p.src);
        // The rejected packet never reaches the receiver: its RST starts where
        // that packet started, the only sequence number a receiver accepts.
        EXPECT_EQ(r.tcp_seq, 1000u);
        EXPECT_EQ(r.tcp_ack, 5000u);
        EXPECT_TRUE(r.tcp_flags & tcpflag::rst);
    }
}

TEST(Reject, RejectedSynResetsOnlyTheSender) {
    PacketSpec s;
    s.tcp_flags = tcpflag::syn;
    s.seq = 7000;
    auto frame = build_frame(s);
    DecodedPacket p;
    decode_ethernet(frame.data(), static_cast<uint32_t>(frame.size()), p);
    uint8_t out[1600];
    const size_t n = build_reject_to_sender(frame.data(), p, out);
    ASSERT_GT(n, 0u);
    auto r = check(out, n);
    EXPECT_EQ(r.tcp_flags, tcpflag::rst | tcpflag::ack);
    EXPECT_EQ(r.tcp_seq, 0u);
    EXPECT_EQ(r.tcp_ack, 7001u);  // acknowledges the SYN, so the client takes it
    EXPECT_EQ(build_reject_to_receiver(frame.data(), p, out), 0u);
    // A rejected SYN-ACK: the client that receives the RST has a half-open
    // connection that the RST must clear.
    s.tcp_flags = tcpflag::syn | tcpflag::ack;
    frame = build_frame(s);
    decode_ethernet(frame.data(), static_cast<uint32_t>(frame.size()), p);
    EXPECT_GT(build_reject_to_receiver(frame.data(), p, out), 0u);
}

TEST(Reject, UdpGetsPortUnreachable) {
    for (const char* family : {"v4", "v6"}) {
        PacketSpec s;
        if (std::string(family) == "v6") {
            s.src = "2001:db8::10";
            s.dst = "2001:db8::20";
        }
        s.proto = 17;
        s.payload = std::string(100, 'u');
        auto frame = build_frame(s);
        DecodedPacket p;
        decode_ethernet(frame.data(), static_cast<uint32_t>(frame.size()), p);
        uint8_t out[1600];
        const size_t n = build_reject_to_sender(frame.data(), p, out);
        ASSERT_GT(n, 0u);
        auto r = check(out, n);
        EXPECT_EQ(r.dst, p.src);
        EXPECT_EQ(r.icmp_type, p.ip_version == 4 ? 3 : 1);
        EXPECT_EQ(r.icmp_code, p.ip_version == 4 ? 3 : 4);
        EXPECT_EQ(build_reject_to_receiver(frame.data(), p, out), 0u);
    }
}

TEST(Reject, NeverAnswersResetsOrIcmpErrors) {
    PacketSpec s;
    s.tcp_flags = tcpflag::rst;
    auto frame = build_frame(s);
    DecodedPacket p;
    decode_ethernet(frame.data(), static_cast<uint32_t>(frame.size()), p);
    uint8_t out[1600];
    EXPECT_EQ(build_reject_to_sender(frame.data(), p, out), 0u);
    PacketSpec i;
    i.proto = 1;
    i.icmp_type = 3;
    frame = build_frame(i);
    decode_ethernet(frame.data(), static_cast<uint32_t>(frame.size()), p);
    EXPECT_EQ(build_reject_to_sender(frame.data(), p, out), 0u);
}

}  // namespace
}  // namespace sluice
