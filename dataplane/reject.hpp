// Reject packets: TCP RST to both ends of a connection, or an ICMP / ICMPv6
// destination-unreachable (port unreachable) for UDP and other protocols, built
// from the packet being rejected, with VLAN tags kept and all checksums set.
// Thread rules: pure functions writing into caller buffers.
#pragma once

#include <cstdint>
#include <span>

#include "dataplane/decode.hpp"

namespace sluice {

// Writes the frame that goes back to the packet's sender: for TCP a RST+ACK
// from the packet's destination, otherwise an ICMP unreachable. Returns its
// length, 0 when nothing can be built. `out` must hold at least 1600 bytes.
size_t build_reject_to_sender(const uint8_t* frame, const DecodedPacket& p, std::span<uint8_t> out);
// For TCP only: the RST that goes on to the packet's destination, as if sent by
// the packet's source. Returns 0 for other protocols and for a bare SYN (the
// receiver never saw it, so it has no connection to reset).
size_t build_reject_to_receiver(const uint8_t* frame, const DecodedPacket& p, std::span<uint8_t> out);

}  // namespace sluice
