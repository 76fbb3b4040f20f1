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

// A variable and its default text.
struct VarDefault {
    std::string_view name;
    std::string_view value;
};

// Suricata 7's suricata.yaml defaults, in its order: the configuration's
// defaults for vars.address-groups / vars.port-groups (app/config_schema.cpp).
inline constexpr VarDefault kSuricataAddressVars[] = {
    {"HOME_NET", "[192.168.0.0/16,10.0.0.0/8,172.16.0.0/12]"},
    {"EXTERNAL_NET", "!$HOME_NET"},
    {"HTTP_SERVERS", "$HOME_NET"},
    {"SMTP_SERVERS", "$HOME_NET"},
    {"SQL_SERVERS", "$HOME_NET"},
    {"DNS_SERVERS", "$HOME_NET"},
    {"TELNET_SERVERS", "$HOME_NET"},
    {"AIM_SERVERS", "$EXTERNAL_NET"},
    {"DC_SERVERS", "$HOME_NET"},
    {"DNP3_SERVER", "$HOME_NET"},
    {"DNP3_CLIENT", "$HOME_NET"},
    {"MODBUS_CLIENT", "$HOME_NET"},
    {"MODBUS_SERVER", "$HOME_NET"},
    {"ENIP_CLIENT", "$HOME_NET"},
    {"ENIP_SERVER", "$HOME_NET"},
};
inline constexpr VarDefault kSuricataPortVars[] = {
    {"HTTP_PORTS", "80"},
    {"SHELLCODE_PORTS", "!80"},
    {"ORACLE_PORTS", "1521"},
    {"SSH_PORTS", "22"},
    {"DNP3_PORTS", "20000"},
    {"MODBUS_PORTS", "502"},
    {"FILE_DATA_PORTS", "[$HTTP_PORTS,110,143]"},
    {"FTP_PORTS", "21"},
    {"GENEVE_PORTS", "6081"},
    {"VXLAN_PORTS", "4789"},
    {"TEREDO_PORTS", "3544"},
};

class RuleVars {
public:
    // With Suricata's defaults (kSuricata*Vars) plus the Snort names the community
    // rules use (SIP_SERVERS, SSH_SERVERS, FTP_SERVERS, SNMP_SERVERS, SIP_PORTS).
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
