// Address and port specifications in Suricata's syntax, shared by the L3/L4
// filter and the configuration's variables: "any", "198.18.0.0/15",
// "[198.18.0.1, 2001:db8::/32, !198.18.0.7]", "$HOME_NET", "!$EXTERNAL_NET";
// ports "80", "[80,443,8000:8080]", "1024:", "!22", "$HTTP_PORTS".
// Variables come from a name -> text map (names without '$') and may nest;
// loops and unknown names are errors.
// Lists follow Suricata: the union of the positive elements (or "any" when
// there are none) minus the negated ones; a variable stands for its resolved
// set; ranges are "a-b" for addresses and "a:b", "a:", ":b" for ports; an
// IPv4 netmask "a.b.c.d/255.255.0.0" works too. A spec that matches nothing
// (e.g. "!any") is an error, as are empty lists, unbalanced brackets, bad
// CIDRs and ports above 65535. Errors are one line, without the caller's
// location (the caller prefixes file:line: key).
// Thread rules: pure functions; results are immutable values.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dataplane/ip_addr.hpp"
#include "dataplane/result.hpp"

namespace sluice {

// A set of ports: sorted, merged, closed intervals over 0..65535 (negation is
// stored as the complement). Built with add() + finalize(); `any` is 0-65535.
class PortSet {
public:
    static PortSet all() {
        PortSet p;
        p.add(0, 65535);
        return p;
    }
    void add(uint16_t lo, uint16_t hi) { ranges_.emplace_back(lo, hi); }
    void finalize();
    PortSet complement() const;
    PortSet intersect(const PortSet& o) const;
    bool contains(uint16_t p) const;
    bool is_any() const { return ranges_.size() == 1 && ranges_[0].first == 0 && ranges_[0].second == 65535; }
    // A default-constructed set (no ranges) also means "any" where a filter
    // rule leaves the ports out.
    bool any() const { return ranges_.empty() || is_any(); }
    bool empty() const { return ranges_.empty(); }
    const std::vector<std::pair<uint16_t, uint16_t>>& ranges() const { return ranges_; }

private:
    std::vector<std::pair<uint16_t, uint16_t>> ranges_;
};

using VarMap = std::map<std::string, std::string, std::less<>>;

// Lists, negations and variable references nest at most this deep; deeper
// input is an error (it bounds the parser's recursion on hostile text).
inline constexpr int kMaxSpecNesting = 64;

// Parses an address specification; the result is finalized (ready for contains()).
Result<IpRangeSet> parse_address_spec(std::string_view text, const VarMap& address_groups);
// Parses a port specification.
Result<PortSet> parse_port_spec(std::string_view text, const VarMap& port_groups);

// Parses many specifications against the same variables (a rule set, the
// filter list), resolving each variable once for all of them. The maps must
// outlive the resolver. Not thread-safe; results are independent values.
class SpecResolver {
public:
    SpecResolver(const VarMap& address_groups, const VarMap& port_groups);
    ~SpecResolver();
    SpecResolver(const SpecResolver&) = delete;
    SpecResolver& operator=(const SpecResolver&) = delete;

    Result<IpRangeSet> address(std::string_view text);
    Result<PortSet> port(std::string_view text);

private:
    struct Parsers;
    std::unique_ptr<Parsers> parsers_;
};

}  // namespace sluice
