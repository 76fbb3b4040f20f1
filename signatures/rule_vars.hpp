// RuleVars: the address and port variables a rule header refers to ($HOME_NET,
// $HTTP_PORTS, ...), as Suricata's `vars: address-groups / port-groups`. The
// caller (config loading) sets what the operator configured; a variable it does
// not set falls back to Suricata's default value. Resolution expands nested
// groups, lists, ranges and negation, with a depth limit against loops.
// Thread rules: built on the management thread, then read-only.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "dataplane/ip_addr.hpp"
#include "dataplane/result.hpp"
#include "signatures/rule.hpp"

namespace sluice {

class RuleVars {
public:
    // With Suricata's defaults (suricata.yaml of Suricata 7) for every name not set.
    RuleVars();

    // name without '$', text as in suricata.yaml ("[10.0.0.0/8,!10.1.0.0/16]", "any").
    void set_address(std::string name, std::string text) { addresses_[std::move(name)] = std::move(text); }
    void set_port(std::string name, std::string text) { ports_[std::move(name)] = std::move(text); }
    // Without the defaults (tests that need an unknown variable).
    void clear() { addresses_.clear(); ports_.clear(); }

    // An address list of a rule header ("$HOME_NET", "[1.2.3.4,!$DNS_SERVERS]", "any").
    Result<IpRangeSet> resolve_addresses(std::string_view text) const;
    Result<PortSet> resolve_ports(std::string_view text) const;

    // A stable text of every variable, for the compiled-rules cache key.
    std::string fingerprint() const;

    static constexpr int kMaxDepth = 16;

private:
    Result<IpRangeSet> address_set(std::string_view text, int depth) const;
    Result<PortSet> port_set(std::string_view text, int depth) const;

    std::map<std::string, std::string, std::less<>> addresses_;
    std::map<std::string, std::string, std::less<>> ports_;
};

// a ∩ b for finalized sets.
IpRangeSet intersect(const IpRangeSet& a, const IpRangeSet& b);

}  // namespace sluice
