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

// Builds the key; `src_is_side0` tells whether the packet's source is addr[0].
inline FlowKey make_flow_key(const DecodedPacket& p, bool& src_is_side0) {
    FlowKey k;
    const bool ports = p.has_ports();
    const bool icmp = p.ip_proto == ipproto::icmp || p.ip_proto == ipproto::icmpv6;
    const uint16_t sp = ports ? p.src_port : icmp ? icmp_flow_port(p) : 0;
    const uint16_t dp = ports ? p.dst_port : icmp ? icmp_flow_port(p) : 0;
    // Addresses compared as two big-endian 64-bit words each (no memcmp call).
    const uint64_t sh = p.src.hi(), dh = p.dst.hi();
    const uint64_t sl = p.src.lo(), dl = p.dst.lo();
    src_is_side0 = sh < dh || (sh == dh && (sl < dl || (sl == dl && sp <= dp)));
    if (src_is_side0) {
        k.addr[0] = p.src; k.addr[1] = p.dst; k.port[0] = sp; k.port[1] = dp;
    } else {
        k.addr[0] = p.dst; k.addr[1] = p.src; k.port[0] = dp; k.port[1] = sp;
    }
    k.vlan = p.vlan_count ? p.vlan[p.vlan_count - 1] : 0;
    k.ip_proto = p.ip_proto;
    return k;
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

// Symmetric because the key is; one multiply per word and one final mix.
inline uint64_t flow_hash(const FlowKey& k) {
    uint64_t w[5];
    std::memcpy(w, &k, sizeof w);
    uint64_t h = 0x51CE5EEDULL;
    for (uint64_t v : w) h = (h ^ v) * 0x9E3779B97F4A7C15ULL;
    return mix64(h);
}

}  // namespace sluice
