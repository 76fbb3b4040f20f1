// RuleVars: the address and port variables a rule header refers to ($HOME_NET,
// $HTTP_PORTS, ...), as Suricata's `vars: address-groups / port-groups`. The
// caller (config loading) sets what the operator configured; a variable it does
// not set falls back to Suricata's default value. Resolution expands nested
// groups, lists, ranges and negation, with a depth limit against loops.
// Thread rules: built on the management thread, then read-only.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "dataplane/address_spec.hpp"
#include "dataplane/ip_addr.hpp"
#include "dataplane/result.hpp"
#include "signatures/rule.hpp"

namespace sluice {

class RuleVars {
public:
    // With Suricata's defaults (suricata.yaml of Suricata 7) for every name not set.
    RuleVars();

    // name without '$', text as in suricata.yaml ("[10.0.0.0/8,!10.1.0.0/16]", "any").
    RuleVars(const RuleVars& o) : addresses_(o.addresses_), ports_(o.ports_) {}
    RuleVars& operator=(const RuleVars& o) {
        addresses_ = o.addresses_;
        ports_ = o.ports_;
        resolver_.reset();
        return *this;
    }
    RuleVars(RuleVars&&) = default;
    RuleVars& operator=(RuleVars&&) = default;
    ~RuleVars();

    void set_address(std::string name, std::string text) {
        addresses_[std::move(name)] = std::move(text);
        resolver_.reset();
    }
    void set_port(std::string name, std::string text) {
        ports_[std::move(name)] = std::move(text);
        resolver_.reset();
    }
    // Without the defaults (tests that need an unknown variable).
    void clear() {
        addresses_.clear();
        ports_.clear();
        resolver_.reset();
    }

    // An address list of a rule header ("$HOME_NET", "[1.2.3.4,!$DNS_SERVERS]", "any").
    Result<IpRangeSet> resolve_addresses(std::string_view text) const;
    Result<PortSet> resolve_ports(std::string_view text) const;

    // A stable text of every variable, for the compiled-rules cache key.
    std::string fingerprint() const;


private:
    // The shared Suricata address/port syntax (dataplane/address_spec), with
    // each variable resolved once per rule set; rebuilt when a variable changes.
    SpecResolver& resolver() const;

    VarMap addresses_;
    VarMap ports_;
    mutable std::unique_ptr<SpecResolver> resolver_;
};

}  // namespace sluice
