#include "dataplane/filter.hpp"

namespace sluice {

namespace {

bool matches(const FilterRule& r, uint8_t proto, const IpAddr& src, uint16_t sport, const IpAddr& dst, uint16_t dport) {
    const bool ports = proto == ipproto::tcp || proto == ipproto::udp;
    if (!r.src.contains(src) || !r.dst.contains(dst)) return false;
    if (ports) {
        if (!r.src_ports.contains(sport) || !r.dst_ports.contains(dport)) return false;
    } else if (!r.src_ports.any() || !r.dst_ports.any()) {
        return false;  // a rule about ports never matches a protocol without them
    }
    return true;
}

}  // namespace

FilterVerdict L4Filter::evaluate(uint8_t ip_proto, const IpAddr& client, uint16_t client_port, const IpAddr& server,
                                 uint16_t server_port) const {
    for (size_t i = 0; i < config_.rules.size(); ++i) {
        const FilterRule& r = config_.rules[i];
        if (r.ip_proto != 0 && r.ip_proto != ip_proto) continue;
        if (matches(r, ip_proto, client, client_port, server, server_port) ||
            (r.both_directions && matches(r, ip_proto, server, server_port, client, client_port)))
            return {r.action, static_cast<int>(i)};
    }
    return {config_.default_action, -1};
}

}  // namespace sluice
