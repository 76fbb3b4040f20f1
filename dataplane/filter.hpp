// L3/L4 filter: the first-match list of FilterRules from the configuration,
// evaluated once per flow on its first packet (client -> server orientation),
// before any detector runs. With default-action drop it is a positive filter
// (allow-list: every port closed except what the plant needs); with allow it is
// a deny-list. The result is cached in the flow.
// Thread rules: immutable after construction, shared by all workers.
#pragma once

#include <cstdint>
#include <vector>

#include "app/config.hpp"
#include "dataplane/decode.hpp"

namespace sluice {

struct FilterVerdict {
    FilterAction action = FilterAction::allow;
    int rule = -1;  // index of the matching rule, -1 for the default action
};

class L4Filter {
public:
    explicit L4Filter(FilterConfig config) : config_(std::move(config)) {}

    // `client`/`server` address and ports as the flow sees them.
    FilterVerdict evaluate(uint8_t ip_proto, const IpAddr& client, uint16_t client_port, const IpAddr& server,
                           uint16_t server_port) const;
    FilterAction non_ip() const { return config_.non_ip; }
    const FilterConfig& config() const { return config_; }
    // True when every flow is allowed: the filter can be skipped.
    bool is_pass_through() const { return config_.rules.empty() && config_.default_action == FilterAction::allow; }

private:
    FilterConfig config_;
};

constexpr std::string_view to_string(FilterAction a) {
    constexpr std::string_view n[] = {"allow", "bypass", "drop", "drop-packet", "reject"};
    return n[static_cast<size_t>(a)];
}

}  // namespace sluice
