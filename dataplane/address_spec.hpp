// Address and port specifications in Suricata's syntax, shared by the L3/L4
// filter and the configuration's variables: "any", "198.18.0.0/15",
// "[198.18.0.1, 2001:db8::/32, !198.18.0.7]", "$HOME_NET", "!$EXTERNAL_NET";
// ports "80", "[80,443,8000:8080]", "1024:", "!22", "$HTTP_PORTS".
// Variables come from a name -> text map (names without '$') and may nest;
// loops and unknown names are errors.
// Thread rules: pure functions; results are immutable values.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/ip_addr.hpp"
#include "dataplane/result.hpp"

namespace sluice {

struct PortRange {
    uint16_t first = 0;
    uint16_t last = 65535;
};

// A set of ports: sorted, merged ranges. Empty ranges with negated=false = any.
struct PortSet {
    std::vector<PortRange> ranges;
    bool negated = false;
    bool any() const { return ranges.empty() && !negated; }
    bool contains(uint16_t port) const {
        if (ranges.empty()) return !negated;
        bool in = false;
        for (const auto& r : ranges)
            if (port >= r.first && port <= r.last) { in = true; break; }
        return in != negated;
    }
};

using VarMap = std::map<std::string, std::string, std::less<>>;

// Parses an address specification; the result is finalized (ready for contains()).
Result<IpRangeSet> parse_address_spec(std::string_view text, const VarMap& address_groups);
// Parses a port specification.
Result<PortSet> parse_port_spec(std::string_view text, const VarMap& port_groups);

}  // namespace sluice
