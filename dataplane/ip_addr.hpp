// IpAddr: one IPv4 or IPv6 address in a single 16-byte form (IPv4 is stored
// v4-mapped, ::ffff:a.b.c.d), so that flow keys, filters and rules compare both
// families the same way. IpRangeSet: a sorted set of address intervals built from
// CIDRs and single addresses, with negation, for filters, zones and rule headers;
// lookups are a binary search, so sets of thousands of addresses stay cheap.
// Thread rules: value types; an IpRangeSet is immutable once built.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/result.hpp"

namespace sluice {

struct IpAddr {
    std::array<uint8_t, 16> b{};

    static IpAddr v4(uint32_t host_order) {
        IpAddr a;
        a.b[10] = 0xff;
        a.b[11] = 0xff;
        a.b[12] = static_cast<uint8_t>(host_order >> 24);
        a.b[13] = static_cast<uint8_t>(host_order >> 16);
        a.b[14] = static_cast<uint8_t>(host_order >> 8);
        a.b[15] = static_cast<uint8_t>(host_order);
        return a;
    }
    // From 4 bytes in network order.
    static IpAddr v4_bytes(const uint8_t* p) {
        // ::ffff:a.b.c.d as two 8-byte stores: built byte by byte, every
        // later 8-byte read of the address would wait on store forwarding.
        IpAddr a;
        uint32_t v4;
        std::memcpy(&v4, p, 4);
        uint8_t low[8] = {0, 0, 0xff, 0xff, 0, 0, 0, 0};
        std::memcpy(&low[4], &v4, 4);
        std::memcpy(&a.b[8], low, 8);
        return a;
    }
    // From 16 bytes in network order.
    static IpAddr v6_bytes(const uint8_t* p) {
        IpAddr a;
        std::memcpy(a.b.data(), p, 16);
        return a;
    }

    bool is_v4() const {
        static constexpr uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        return std::memcmp(b.data(), prefix, 12) == 0;
    }
    uint32_t v4_host_order() const {
        return (uint32_t{b[12]} << 24) | (uint32_t{b[13]} << 16) | (uint32_t{b[14]} << 8) | b[15];
    }
    uint64_t hi() const { return load64(0); }
    uint64_t lo() const { return load64(8); }

    auto operator<=>(const IpAddr& o) const { return std::memcmp(b.data(), o.b.data(), 16) <=> 0; }
    bool operator==(const IpAddr& o) const { return std::memcmp(b.data(), o.b.data(), 16) == 0; }

    // "198.18.0.1" or "2001:db8::1"
    std::string to_string() const;
    // Writes the text form into buf (at least 46 bytes); returns its length.
    size_t format(char* buf, size_t cap) const;
    static Result<IpAddr> parse(std::string_view text);

private:
    uint64_t load64(size_t off) const {
        uint64_t v;
        std::memcpy(&v, &b[off], 8);
        return __builtin_bswap64(v);  // network order: the first byte is the most significant
    }
};

// A closed interval [first, last] of addresses.
struct IpRange {
    IpAddr first;
    IpAddr last;
};

class IpRangeSet {
public:
    // Adds "any", a CIDR ("198.18.0.0/15", "2001:db8::/32") or one address.
    Status add(std::string_view text);
    void add_range(const IpAddr& first, const IpAddr& last);
    void add_set(const IpRangeSet& other);
    void add_any();
    // Sorts and merges; must be called after the last add and before contains().
    void finalize();
    // The complement within the whole address space (IPv4 and IPv6).
    IpRangeSet complement() const;
    // Addresses in both sets (both finalized); the result is finalized.
    IpRangeSet intersect(const IpRangeSet& other) const;

    bool contains(const IpAddr& a) const;
    bool empty() const { return ranges_.empty(); }
    bool is_any() const;
    size_t range_count() const { return ranges_.size(); }
    const std::vector<IpRange>& ranges() const { return ranges_; }

private:
    std::vector<IpRange> ranges_;
};

}  // namespace sluice
