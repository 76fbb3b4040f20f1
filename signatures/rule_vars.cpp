#include "signatures/rule_vars.hpp"
#include "dataplane/text.hpp"

namespace sluice {

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

Result<IpRangeSet> RuleVars::resolve_addresses(std::string_view text) const { return resolver().address(trim_blanks(text)); }
Result<PortSet> RuleVars::resolve_ports(std::string_view text) const { return resolver().port(trim_blanks(text)); }

std::string RuleVars::fingerprint() const {
    std::string out;
    for (const auto& [k, v] : addresses_) out += "A " + k + "=" + v + "\n";
    for (const auto& [k, v] : ports_) out += "P " + k + "=" + v + "\n";
    return out;
}

}  // namespace sluice
