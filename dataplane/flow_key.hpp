// FlowKey: the bidirectional identity of a flow. Both directions of a
// connection build the same key (the lower address/port pair first), so one
// lookup finds the flow whichever side sent the packet, and flow_hash() is
// symmetric: the software dispatcher and the flow table agree on it.
// Thread rules: value type.
#pragma once

#include <cstdint>
#include <cstring>

#include "dataplane/decode.hpp"
#include "dataplane/ip_addr.hpp"

namespace sluice {

struct FlowKey {
    IpAddr addr[2];      // addr[0] <= addr[1] (with ports as tie-break)
    uint16_t port[2] = {0, 0};
    uint16_t vlan = 0;   // innermost VLAN id; flows on different VLANs are distinct
    uint8_t ip_proto = 0;
    uint8_t pad = 0;

    bool operator==(const FlowKey& o) const { return std::memcmp(this, &o, sizeof *this) == 0; }
};
static_assert(sizeof(FlowKey) == 40);

// ICMP has no ports: both "ports" of an ICMP flow key name the exchange
// instead, so an echo request and its reply share a flow (by identifier), a
// neighbour solicitation and its advertisement another, and errors a third.
inline uint16_t icmp_flow_port(const DecodedPacket& p) {
    const uint8_t t = p.icmp_type;
    if (p.ip_proto == ipproto::icmp) {
        if (t == 8 || t == 0 || t == 13 || t == 14) return p.icmp_id;
    } else {
        if (t == 128 || t == 129) return p.icmp_id;
        if (t == 135 || t == 136) return 0xFF00 | 135;  // neighbour discovery
        if (t == 133 || t == 134) return 0xFF00 | 133;  // router discovery
    }
    return static_cast<uint16_t>(0xFE00 | t);
}

// 64-bit mix (splitmix64 finalizer).
inline uint64_t mix64(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

namespace detail {
// The key as five 64-bit words: each address as its two 8-byte halves in
// memory order, then ports, VLAN and protocol packed as they lie in FlowKey
// on a little-endian machine. The hash is taken over these words, built in
// registers: writing the key field by field and reading it back as words
// would stall on store forwarding for every packet.
inline uint64_t raw64(const uint8_t* p) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
}
inline uint64_t tail_word(uint16_t port0, uint16_t port1, uint16_t vlan, uint8_t ip_proto) {
    return uint64_t{port0} | (uint64_t{port1} << 16) | (uint64_t{vlan} << 32) | (uint64_t{ip_proto} << 48);
}
// One multiply per word and one final mix.
inline uint64_t hash_words(uint64_t w0, uint64_t w1, uint64_t w2, uint64_t w3, uint64_t w4) {
    constexpr uint64_t k = 0x9E3779B97F4A7C15ULL;
    uint64_t h = 0x51CE5EEDULL;
    h = (h ^ w0) * k;
    h = (h ^ w1) * k;
    h = (h ^ w2) * k;
    h = (h ^ w3) * k;
    h = (h ^ w4) * k;
    return mix64(h);
}
}  // namespace detail

// Symmetric because the key is.
inline uint64_t flow_hash(const FlowKey& k) {
    return detail::hash_words(detail::raw64(&k.addr[0].b[0]), detail::raw64(&k.addr[0].b[8]), detail::raw64(&k.addr[1].b[0]),
                              detail::raw64(&k.addr[1].b[8]),
                              detail::tail_word(k.port[0], k.port[1], k.vlan, k.ip_proto));
}

// Builds the key into `k` and returns flow_hash(k); `src_is_side0` tells
// whether the packet's source is addr[0].
inline uint64_t make_flow_key(const DecodedPacket& p, FlowKey& k, bool& src_is_side0) {
    const bool ports = p.has_ports();
    const bool icmp = p.ip_proto == ipproto::icmp || p.ip_proto == ipproto::icmpv6;
    const uint16_t sp = ports ? p.src_port : icmp ? icmp_flow_port(p) : 0;
    const uint16_t dp = ports ? p.dst_port : icmp ? icmp_flow_port(p) : 0;
    // Addresses compared as two big-endian 64-bit words each (no memcmp call).
    const uint64_t s0 = detail::raw64(&p.src.b[0]), s1 = detail::raw64(&p.src.b[8]);
    const uint64_t d0 = detail::raw64(&p.dst.b[0]), d1 = detail::raw64(&p.dst.b[8]);
    const uint64_t sh = __builtin_bswap64(s0), dh = __builtin_bswap64(d0);
    const uint64_t sl = __builtin_bswap64(s1), dl = __builtin_bswap64(d1);
    src_is_side0 = sh < dh || (sh == dh && (sl < dl || (sl == dl && sp <= dp)));
    const uint64_t a0 = src_is_side0 ? s0 : d0, a1 = src_is_side0 ? s1 : d1;
    const uint64_t b0 = src_is_side0 ? d0 : s0, b1 = src_is_side0 ? d1 : s1;
    const uint16_t port0 = src_is_side0 ? sp : dp, port1 = src_is_side0 ? dp : sp;
    const uint16_t vlan = p.vlan_count ? p.vlan[p.vlan_count - 1] : 0;
    std::memcpy(&k.addr[0].b[0], &a0, 8);
    std::memcpy(&k.addr[0].b[8], &a1, 8);
    std::memcpy(&k.addr[1].b[0], &b0, 8);
    std::memcpy(&k.addr[1].b[8], &b1, 8);
    k.port[0] = port0;
    k.port[1] = port1;
    k.vlan = vlan;
    k.ip_proto = p.ip_proto;
    k.pad = 0;
    return detail::hash_words(a0, a1, b0, b1, detail::tail_word(port0, port1, vlan, p.ip_proto));
}

inline FlowKey make_flow_key(const DecodedPacket& p, bool& src_is_side0) {
    FlowKey k;
    make_flow_key(p, k, src_is_side0);
    return k;
}

}  // namespace sluice
