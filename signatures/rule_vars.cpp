#include "signatures/rule_vars.hpp"

namespace sluice {

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

}  // namespace

RuleVars::RuleVars() {
    // Suricata 7 suricata.yaml defaults, plus the Snort names the community rules use.
    addresses_ = {
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
        {"SIP_SERVERS", "$HOME_NET"},
        {"SSH_SERVERS", "$HOME_NET"},
        {"FTP_SERVERS", "$HOME_NET"},
        {"SNMP_SERVERS", "$HOME_NET"},
    };
    ports_ = {
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
        {"SIP_PORTS", "[5060,5061,5600]"},
    };
}

RuleVars::~RuleVars() = default;

SpecResolver& RuleVars::resolver() const {
    if (!resolver_) resolver_ = std::make_unique<SpecResolver>(addresses_, ports_);
    return *resolver_;
}

Result<IpRangeSet> RuleVars::resolve_addresses(std::string_view text) const { return resolver().address(trim(text)); }
Result<PortSet> RuleVars::resolve_ports(std::string_view text) const { return resolver().port(trim(text)); }

std::string RuleVars::fingerprint() const {
    std::string out;
    for (const auto& [k, v] : addresses_) out += "A " + k + "=" + v + "\n";
    for (const auto& [k, v] : ports_) out += "P " + k + "=" + v + "\n";
    return out;
}

}  // namespace sluice
