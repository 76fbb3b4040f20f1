// Packet decode: Ethernet, 802.1Q/802.1ad (QinQ), IPv4 with options, IPv6 with
// extension headers, TCP, UDP, ICMP and ICMPv6, from one contiguous buffer into a
// DecodedPacket of offsets and header fields. Decode never reads outside
// [data, data+len); anything that does not add up is a MalformedReason, counted
// by the caller and handled by its policy (forward or drop).
// Thread rules: pure functions; the DecodedPacket borrows the caller's buffer.
#pragma once

#include <cstdint>
#include <string_view>

#include "dataplane/ip_addr.hpp"

namespace sluice {

#define SLUICE_MALFORMED_REASONS(X)                                                 \
    X(eth_truncated, "eth_truncated")                /* shorter than 14 bytes */     \
    X(vlan_truncated, "vlan_truncated")              /* VLAN tag cut off */          \
    X(vlan_too_deep, "vlan_too_deep")                /* more than 2 VLAN tags */     \
    X(ipv4_truncated, "ipv4_truncated")              /* header cut off */            \
    X(ipv4_bad_version, "ipv4_bad_version")                                          \
    X(ipv4_bad_ihl, "ipv4_bad_ihl")                  /* header length < 20 */        \
    X(ipv4_bad_total_length, "ipv4_bad_total_length")/* < header or > frame */       \
    X(ipv4_bad_options, "ipv4_bad_options")          /* option length lies */        \
    X(ipv6_truncated, "ipv6_truncated")                                              \
    X(ipv6_bad_version, "ipv6_bad_version")                                          \
    X(ipv6_bad_payload_length, "ipv6_bad_payload_length")                            \
    X(ipv6_ext_truncated, "ipv6_ext_truncated")      /* extension header cut off */  \
    X(ipv6_too_many_ext, "ipv6_too_many_ext")        /* more than 8 extensions */    \
    X(tcp_truncated, "tcp_truncated")                                                \
    X(tcp_bad_offset, "tcp_bad_offset")              /* data offset < 5 or > seg */  \
    X(udp_truncated, "udp_truncated")                                                \
    X(udp_bad_length, "udp_bad_length")              /* length < 8 or > datagram */  \
    X(icmp_truncated, "icmp_truncated")                                              \
    X(icmpv6_truncated, "icmpv6_truncated")                                          \
    X(frag_bad_offset, "frag_bad_offset")            /* fragment past 65535 */       \
    X(frag_reassembly_failed, "frag_reassembly_failed")

enum class MalformedReason : uint8_t {
#define SLUICE_X(id, name) id,
    SLUICE_MALFORMED_REASONS(SLUICE_X)
#undef SLUICE_X
        count
};

constexpr std::string_view counter_name(MalformedReason r) {
    constexpr std::string_view names[] = {
#define SLUICE_X(id, name) name,
        SLUICE_MALFORMED_REASONS(SLUICE_X)
#undef SLUICE_X
    };
    return names[static_cast<size_t>(r)];
}

enum class DecodeStatus : uint8_t {
    ok,         // IP packet decoded through L4 (or an IP protocol without ports)
    not_ip,     // ARP, LLDP, ...: forwarded untouched, no flow
    fragment,   // an IP fragment: reassemble, then decode the whole datagram
    malformed,  // see DecodedPacket::malformed
};

namespace ipproto {
inline constexpr uint8_t icmp = 1;
inline constexpr uint8_t tcp = 6;
inline constexpr uint8_t udp = 17;
inline constexpr uint8_t icmpv6 = 58;
}  // namespace ipproto

namespace tcpflag {
inline constexpr uint8_t fin = 0x01;
inline constexpr uint8_t syn = 0x02;
inline constexpr uint8_t rst = 0x04;
inline constexpr uint8_t psh = 0x08;
inline constexpr uint8_t ack = 0x10;
inline constexpr uint8_t urg = 0x20;
inline constexpr uint8_t ece = 0x40;
inline constexpr uint8_t cwr = 0x80;
}  // namespace tcpflag

struct DecodedPacket {
    DecodeStatus status = DecodeStatus::malformed;
    MalformedReason malformed = MalformedReason::count;

    uint32_t frame_len = 0;   // bytes in the buffer
    uint16_t l3_offset = 0;   // start of the IP header
    uint16_t l4_offset = 0;   // start of the TCP/UDP/ICMP header
    uint32_t payload_offset = 0;
    uint32_t payload_len = 0;  // L4 payload, trimmed to the IP length (no Ethernet padding)
    uint32_t ip_len = 0;       // IP header + payload as the IP header says

    uint16_t ethertype = 0;
    uint8_t vlan_count = 0;
    uint16_t vlan[2] = {0, 0};  // outer first, 12-bit ids

    uint8_t ip_version = 0;  // 4 or 6
    uint8_t ip_proto = 0;    // the final L4 protocol (after IPv6 extensions)
    uint8_t ttl = 0;         // or hop limit
    uint16_t ip_id = 0;
    IpAddr src;
    IpAddr dst;

    // Fragments (status == fragment).
    bool more_fragments = false;
    uint16_t frag_offset = 0;        // in bytes
    uint16_t ipv6_frag_hdr_offset = 0; // offset of the IPv6 fragment header, 0 if none
    bool ipv6_frag_after_ext = false;  // IPv6 fragment header behind other extensions

    uint16_t src_port = 0;
    uint16_t dst_port = 0;
    uint8_t tcp_flags = 0;
    uint32_t tcp_seq = 0;
    uint32_t tcp_ack = 0;
    uint16_t tcp_window = 0;
    uint8_t tcp_wscale = 0xff;  // window scale option value, 0xff when absent
    uint8_t icmp_type = 0;
    uint8_t icmp_code = 0;
    uint16_t icmp_id = 0;
    uint16_t icmp_seq = 0;

    bool has_ports() const { return ip_proto == ipproto::tcp || ip_proto == ipproto::udp; }
};

// Decodes an Ethernet frame.
void decode_ethernet(const uint8_t* data, uint32_t len, DecodedPacket& out);
// Reads only the IP source and destination of an Ethernet frame (VLAN tags
// skipped), without checking lengths past them: enough to spread packets over
// workers from the first bytes of a frame. False when it is not IP.
bool peek_ip_addresses(const uint8_t* data, uint32_t len, IpAddr& src, IpAddr& dst);
// Decodes from an IP header at `l3_offset` (used again after defragmentation).
void decode_ip(const uint8_t* data, uint32_t len, uint16_t l3_offset, DecodedPacket& out);

}  // namespace sluice
