// Test support: builds Ethernet frames byte by byte (IPv4/IPv6, TCP/UDP/ICMP,
// VLAN tags, options, fragments) so decode, flow and reassembly tests state
// their packets in a line, with correct lengths unless a test lies on purpose.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dataplane/ip_addr.hpp"

namespace sluice::test {

struct PacketSpec {
    std::string src = "198.18.0.1";
    std::string dst = "198.18.0.2";
    uint8_t proto = 6;  // tcp
    uint16_t sport = 40000;
    uint16_t dport = 80;
    uint8_t tcp_flags = 0x10;
    uint32_t seq = 1;
    uint32_t ack = 0;
    std::string payload;
    std::vector<uint16_t> vlans;       // outer first
    std::vector<uint8_t> ipv4_options; // padded to 4 bytes by the caller
    uint16_t frag_offset = 0;          // bytes (multiple of 8)
    bool more_fragments = false;
    uint16_t ip_id = 1;
    uint8_t icmp_type = 8;
    uint8_t icmp_code = 0;
};

inline void put16(std::vector<uint8_t>& v, uint16_t x) {
    v.push_back(static_cast<uint8_t>(x >> 8));
    v.push_back(static_cast<uint8_t>(x));
}
inline void put32(std::vector<uint8_t>& v, uint32_t x) {
    put16(v, static_cast<uint16_t>(x >> 16));
    put16(v, static_cast<uint16_t>(x));
}

inline uint16_t inet_checksum(const uint8_t* p, size_t n, uint32_t sum = 0) {
    for (size_t i = 0; i + 1 < n; i += 2) sum += (uint32_t{p[i]} << 8) | p[i + 1];
    if (n & 1) sum += uint32_t{p[n - 1]} << 8;
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(~sum);
}

// The L4 header and payload (TCP/UDP/ICMP) without checksums (decode does not check them).
inline std::vector<uint8_t> build_l4(const PacketSpec& s) {
    std::vector<uint8_t> l4;
    if (s.proto == 6) {
        put16(l4, s.sport); put16(l4, s.dport); put32(l4, s.seq); put32(l4, s.ack);
        l4.push_back(0x50); l4.push_back(s.tcp_flags); put16(l4, 65535); put16(l4, 0); put16(l4, 0);
    } else if (s.proto == 17) {
        put16(l4, s.sport); put16(l4, s.dport); put16(l4, static_cast<uint16_t>(8 + s.payload.size())); put16(l4, 0);
    } else if (s.proto == 1 || s.proto == 58) {
        l4.push_back(s.icmp_type); l4.push_back(s.icmp_code); put16(l4, 0); put16(l4, 0x1234); put16(l4, 1);
    }
    l4.insert(l4.end(), s.payload.begin(), s.payload.end());
    return l4;
}

inline std::vector<uint8_t> build_frame(const PacketSpec& s, const std::vector<uint8_t>* l4_override = nullptr) {
    std::vector<uint8_t> f = {0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1};
    for (uint16_t v : s.vlans) { put16(f, 0x8100); put16(f, v); }
    const IpAddr src = *IpAddr::parse(s.src), dst = *IpAddr::parse(s.dst);
    const std::vector<uint8_t> l4 = l4_override ? *l4_override : build_l4(s);
    if (src.is_v4()) {
        put16(f, 0x0800);
        const size_t ip = f.size();
        const size_t ihl = 20 + s.ipv4_options.size();
        f.push_back(static_cast<uint8_t>(0x40 | (ihl / 4))); f.push_back(0);
        put16(f, static_cast<uint16_t>(ihl + l4.size())); put16(f, s.ip_id);
        put16(f, static_cast<uint16_t>((s.more_fragments ? 0x2000 : 0) | (s.frag_offset / 8)));
        f.push_back(64); f.push_back(s.proto); put16(f, 0);
        f.insert(f.end(), src.b.begin() + 12, src.b.end());
        f.insert(f.end(), dst.b.begin() + 12, dst.b.end());
        f.insert(f.end(), s.ipv4_options.begin(), s.ipv4_options.end());
        const uint16_t c = inet_checksum(&f[ip], ihl);
        f[ip + 10] = static_cast<uint8_t>(c >> 8); f[ip + 11] = static_cast<uint8_t>(c);
    } else {
        put16(f, 0x86DD);
        put32(f, 0x60000000); put16(f, static_cast<uint16_t>(l4.size())); f.push_back(s.proto); f.push_back(64);
        f.insert(f.end(), src.b.begin(), src.b.end());
        f.insert(f.end(), dst.b.begin(), dst.b.end());
    }
    f.insert(f.end(), l4.begin(), l4.end());
    return f;
}

}  // namespace sluice::test
