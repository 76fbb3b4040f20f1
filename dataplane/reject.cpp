#include "dataplane/reject.hpp"

#include <algorithm>
#include <cstring>

namespace sluice {

namespace {

void put16(uint8_t* p, uint16_t v) {
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}
void put32(uint8_t* p, uint32_t v) {
    put16(p, static_cast<uint16_t>(v >> 16));
    put16(p + 2, static_cast<uint16_t>(v));
}

uint32_t sum16(const uint8_t* p, size_t n, uint32_t sum = 0) {
    for (size_t i = 0; i + 1 < n; i += 2) sum += (uint32_t{p[i]} << 8) | p[i + 1];
    if (n & 1) sum += uint32_t{p[n - 1]} << 8;
    return sum;
}
uint16_t fold(uint32_t sum) {
    while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
    return static_cast<uint16_t>(~sum);
}

// Pseudo-header sum for TCP/UDP/ICMPv6 checksums.
uint32_t pseudo_sum(const uint8_t* ip, bool v6, uint8_t proto, uint32_t l4_len) {
    uint32_t s = 0;
    if (v6) {
        s = sum16(ip + 8, 32);
        s += l4_len >> 16;
        s += l4_len & 0xFFFF;
    } else {
        s = sum16(ip + 12, 8);
        s += l4_len;
    }
    s += proto;
    return s;
}

// Copies the L2 header with source and destination MAC optionally swapped.
size_t write_l2(const uint8_t* frame, const DecodedPacket& p, uint8_t* out, bool swap) {
    std::memcpy(out, frame, p.l3_offset);
    if (swap) {
        std::memcpy(out, frame + 6, 6);
        std::memcpy(out + 6, frame, 6);
    }
    return p.l3_offset;
}

// Writes an IP header for `l4_len` bytes of `proto`, from src to dst; returns its length.
size_t write_ip(uint8_t* out, bool v6, const IpAddr& src, const IpAddr& dst, uint8_t proto, uint32_t l4_len) {
    if (v6) {
        put32(out, 0x60000000);
        put16(out + 4, static_cast<uint16_t>(l4_len));
        out[6] = proto;
        out[7] = 64;
        std::memcpy(out + 8, src.b.data(), 16);
        std::memcpy(out + 24, dst.b.data(), 16);
        return 40;
    }
    out[0] = 0x45;
    out[1] = 0;
    put16(out + 2, static_cast<uint16_t>(20 + l4_len));
    put16(out + 4, 0);
    put16(out + 6, 0x4000);  // don't fragment
    out[8] = 64;
    out[9] = proto;
    put16(out + 10, 0);
    std::memcpy(out + 12, &src.b[12], 4);
    std::memcpy(out + 16, &dst.b[12], 4);
    put16(out + 10, fold(sum16(out, 20)));
    return 20;
}

size_t build_rst(const uint8_t* frame, const DecodedPacket& p, std::span<uint8_t> out, bool to_sender) {
    if (out.size() < p.l3_offset + 60u) return 0;
    uint8_t* o = out.data();
    size_t len = write_l2(frame, p, o, to_sender);
    const bool v6 = p.ip_version == 6;
    const IpAddr& src = to_sender ? p.dst : p.src;
    const IpAddr& dst = to_sender ? p.src : p.dst;
    uint8_t* ip = o + len;
    len += write_ip(ip, v6, src, dst, ipproto::tcp, 20);
    uint8_t* tcp = o + len;
    // Sequence space consumed by the packet: payload plus SYN/FIN.
    uint32_t consumed = p.payload_len;
    if (p.tcp_flags & tcpflag::syn) ++consumed;
    if (p.tcp_flags & tcpflag::fin) ++consumed;
    uint32_t seq, ack;
    uint8_t flags;
    if (to_sender) {
        seq = (p.tcp_flags & tcpflag::ack) ? p.tcp_ack : 0;
        ack = p.tcp_seq + consumed;
        flags = tcpflag::rst | tcpflag::ack;
    } else {
        // The rejected packet is dropped, so the receiver still expects its
        // first byte: a RST must carry exactly that sequence number (RFC 5961
        // 3.2: Linux answers any other in-window RST with a challenge ACK and
        // keeps the connection open).
        seq = p.tcp_seq;
        ack = p.tcp_ack;
        flags = tcpflag::rst | ((p.tcp_flags & tcpflag::ack) ? tcpflag::ack : 0);
    }
    put16(tcp, to_sender ? p.dst_port : p.src_port);
    put16(tcp + 2, to_sender ? p.src_port : p.dst_port);
    put32(tcp + 4, seq);
    put32(tcp + 8, ack);
    tcp[12] = 0x50;
    tcp[13] = flags;
    put16(tcp + 14, 0);
    put16(tcp + 16, 0);
    put16(tcp + 18, 0);
    put16(tcp + 16, fold(sum16(tcp, 20, pseudo_sum(ip, v6, ipproto::tcp, 20))));
    return len + 20;
}

}  // namespace

size_t build_reject_to_sender(const uint8_t* frame, const DecodedPacket& p, std::span<uint8_t> out) {
    if (p.ip_version != 4 && p.ip_version != 6) return 0;
    if (p.ip_proto == ipproto::tcp) {
        if (p.tcp_flags & tcpflag::rst) return 0;  // never answer a reset
        return build_rst(frame, p, out, true);
    }
    // Never answer an ICMP error with another one.
    if ((p.ip_proto == ipproto::icmp && p.icmp_type != 8 && p.icmp_type != 13) ||
        (p.ip_proto == ipproto::icmpv6 && p.icmp_type < 128))
        return 0;
    const bool v6 = p.ip_version == 6;
    // Quote as much of the original as the rules allow: IPv4 header + 8 bytes,
    // IPv6 up to a 1280-byte packet.
    const uint32_t ip_len = std::min<uint32_t>(p.ip_len, p.frame_len - p.l3_offset);
    const uint32_t quote = v6 ? std::min<uint32_t>(ip_len, 1280 - 48) : std::min<uint32_t>(ip_len, (p.l4_offset - p.l3_offset) + 8u);
    if (out.size() < p.l3_offset + 48u + quote) return 0;
    uint8_t* o = out.data();
    size_t len = write_l2(frame, p, o, true);
    uint8_t* ip = o + len;
    const uint32_t icmp_len = 8 + quote;
    len += write_ip(ip, v6, p.dst, p.src, v6 ? ipproto::icmpv6 : ipproto::icmp, icmp_len);
    uint8_t* icmp = o + len;
    icmp[0] = v6 ? 1 : 3;  // destination unreachable
    icmp[1] = v6 ? 4 : 3;  // port unreachable
    put16(icmp + 2, 0);
    put32(icmp + 4, 0);
    std::memcpy(icmp + 8, frame + p.l3_offset, quote);
    const uint32_t start = v6 ? pseudo_sum(ip, true, ipproto::icmpv6, icmp_len) : 0;
    put16(icmp + 2, fold(sum16(icmp, icmp_len, start)));
    return len + icmp_len;
}

size_t build_reject_to_receiver(const uint8_t* frame, const DecodedPacket& p, std::span<uint8_t> out) {
    if (p.ip_proto != ipproto::tcp || (p.tcp_flags & tcpflag::rst)) return 0;
    if (p.ip_version != 4 && p.ip_version != 6) return 0;
    // A rejected SYN never reached the receiver: it has no connection to reset.
    if ((p.tcp_flags & (tcpflag::syn | tcpflag::ack)) == tcpflag::syn) return 0;
    return build_rst(frame, p, out, false);
}

}  // namespace sluice
