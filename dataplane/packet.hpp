// PacketRef: one packet as the worker processes it: its mbuf, the contiguous
// bytes decoded, its flow and direction, and the verdict that filters and
// detectors raise. A burst is an array of PacketRefs on the worker's stack.
// Thread rules: worker-local, valid for one burst.
#pragma once

#include <cstdint>

#include "dataplane/decode.hpp"
#include "dataplane/flow_table.hpp"
#include "dataplane/stream.hpp"
#include "dataplane/verdict.hpp"

struct rte_mbuf;

namespace sluice {

struct PacketRef {
    rte_mbuf* mbuf = nullptr;
    const uint8_t* data = nullptr;  // contiguous frame (or the reassembled IP datagram)
    uint32_t len = 0;
    DecodedPacket pkt;
    Flow* flow = nullptr;           // null: not IP, malformed, or no flow slot
    Direction dir = Direction::to_server;
    uint64_t ts_ns = 0;
    uint64_t flow_pkt_no = 0;       // 1-based position of this packet in its flow
    Verdict verdict = Verdict::forward;
    DropReason reason = DropReason::count;
    uint16_t rx_port = 0;
    bool inspect = false;           // detectors look at it
    bool established = false;       // the flow's state right after this packet (a burst
                                    // updates every flow before detectors run)
    uint32_t flow_pkts[2] = {0, 0}; // the flow's packet and byte counts right after this
    uint64_t flow_bytes[2] = {0, 0};// packet, by Direction (for events about it)
    bool reassembled = false;       // `data` is a reassembled datagram, not the frame
    bool held = false;              // parked by hold() until a detector's verdict
    uint64_t hold_token = 0;
    uint64_t hold_deadline = 0;
    Verdict hold_timeout = Verdict::forward;
};

}  // namespace sluice
