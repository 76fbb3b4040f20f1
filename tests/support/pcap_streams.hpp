// Test support: reads a capture file with libpcap and yields what protocol
// decoders consume, without DPDK: each TCP connection's two byte streams in
// order (retransmissions dropped, out-of-order segments put back in place) and
// each UDP datagram, with the direction relative to the connection's initiator.
// Only for tests of decoders against real captures; the appliance itself uses
// dataplane/ decode and reassembly.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "dataplane/ip_addr.hpp"
#include "dataplane/stream.hpp"

namespace sluice::test {

struct Endpoints {
    IpAddr client;
    IpAddr server;
    uint16_t client_port = 0;
    uint16_t server_port = 0;
    uint8_t ip_proto = 0;  // 6 or 17
};

struct CaptureStreams {
    // Called per TCP chunk in stream order of each direction (interleaved as the
    // packets came); `connection` numbers connections from 0 in order of appearance.
    std::function<void(size_t connection, const Endpoints&, Direction, std::span<const uint8_t>)> on_tcp;
    // Called when a TCP connection's data is over (end of file for all still open).
    std::function<void(size_t connection, const Endpoints&)> on_tcp_end;
    std::function<void(const Endpoints&, Direction, std::span<const uint8_t>)> on_udp;
};

// Returns false (and sets *error) when the file cannot be read.
bool read_capture(const std::string& path, const CaptureStreams& handlers, std::string* error = nullptr);

// $SLUICE_CORPUS, or "" when unset or missing.
std::string corpus_dir();

}  // namespace sluice::test
