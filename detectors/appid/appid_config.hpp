// AppIdConfig: settings of the nDPI classification (the appid.* keys of
// app/config_schema.cpp). The defaults follow ndpiReader 4.2, whose results are
// the reference the classification is tested against: a flow is given up after
// 80 TCP or 24 UDP packets (both directions counted) without a verdict.
// Thread rules: part of the immutable Config.
#pragma once

#include <cstdint>
#include <string>

namespace sluice {

struct AppIdConfig {
    bool enabled = true;                     // appid.enabled
    uint32_t max_tcp_packets = 80;           // appid.max-tcp-packets: give up after this many packets
    uint32_t max_udp_packets = 24;           // appid.max-udp-packets: UDP and other IP protocols
    uint32_t max_flows_in_detection = 16384; // appid.max-flows-in-detection: nDPI flow states per worker
    std::string protocols_file;              // appid.protocols-file: nDPI custom protocols ("" = none)
};

}  // namespace sluice
