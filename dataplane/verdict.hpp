// Verdicts: what happens to a packet, by strength. Filters and detectors raise
// a packet's verdict; the strongest wins. In ips mode it is enforced; in ids
// mode it is only logged and counted as what would have happened.
#pragma once

#include <cstdint>
#include <string_view>

namespace sluice {

enum class Verdict : uint8_t {
    forward = 0,
    drop_packet = 1,  // this packet only
    drop_flow = 2,    // this packet and every later one of its flow
    reject = 3,       // drop_flow, and reset the connection (TCP RST both ways / ICMP unreachable)
    count
};

constexpr std::string_view to_string(Verdict v) {
    constexpr std::string_view n[] = {"forward", "drop", "drop_flow", "reject"};
    return n[static_cast<size_t>(v)];
}
constexpr std::string_view counter_name(Verdict v) { return to_string(v); }

// Why a packet was dropped (or would have been, in ids mode).
#define SLUICE_DROP_REASONS(X)                                   \
    X(filter, "filter")           /* the L3/L4 filter */         \
    X(flow, "flow")               /* its flow was dropped */     \
    X(rule, "rule")               /* a drop/reject rule */       \
    X(policy, "policy")           /* the OT allow-list */        \
    X(malware, "malware")         /* a file verdict */           \
    X(malformed, "malformed")     /* malformed policy: drop */   \
    X(non_ip, "non_ip")           /* filter.non-ip: drop */      \
    X(tx_full, "tx_full")         /* transmit queue full */      \
    X(no_mbuf, "no_mbuf")         /* reject packets not built */

enum class DropReason : uint8_t {
#define SLUICE_X(id, name) id,
    SLUICE_DROP_REASONS(SLUICE_X)
#undef SLUICE_X
        count
};

constexpr std::string_view counter_name(DropReason r) {
    constexpr std::string_view names[] = {
#define SLUICE_X(id, name) name,
        SLUICE_DROP_REASONS(SLUICE_X)
#undef SLUICE_X
    };
    return names[static_cast<size_t>(r)];
}

}  // namespace sluice
