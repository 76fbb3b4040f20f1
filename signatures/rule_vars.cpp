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
    for (const auto& v : kSuricataAddressVars) addresses_.emplace(v.name, v.value);
    for (const auto& v : kSuricataPortVars) ports_.emplace(v.name, v.value);
    // Snort's names that the community rules use.
    for (const char* name : {"SIP_SERVERS", "SSH_SERVERS", "FTP_SERVERS", "SNMP_SERVERS"})
        addresses_.emplace(name, "$HOME_NET");
    ports_.emplace("SIP_PORTS", "[5060,5061,5600]");
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
