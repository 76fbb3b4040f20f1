// The contract between TCP stream reassembly and everything that reads a
// connection's bytes (signatures, SMB, OT protocol decoders): each direction is
// delivered in order, exactly once, with explicit gaps (habit 7: consumers see gaps).
// Thread rules: called only by the worker that owns the flow.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace sluice {

// Direction relative to the connection's initiator (the client).
enum class Direction : uint8_t { to_server = 0, to_client = 1 };

constexpr Direction opposite(Direction d) {
    return d == Direction::to_server ? Direction::to_client : Direction::to_server;
}
constexpr unsigned index(Direction d) { return static_cast<unsigned>(d); }
constexpr std::string_view to_string(Direction d) {
    return d == Direction::to_server ? "to_server" : "to_client";
}

class StreamConsumer {
public:
    virtual ~StreamConsumer() = default;
    // The next in-order bytes of `dir`; `offset` is the stream offset of data[0]
    // (bytes since the first payload byte of that direction, gaps included).
    virtual void on_data(Direction dir, uint64_t offset, std::span<const uint8_t> data) = 0;
    // `len` bytes of `dir` starting at `offset` will never be delivered (capture
    // loss, reassembly memory limit). The next on_data for `dir` starts at offset+len.
    virtual void on_gap(Direction dir, uint64_t offset, uint64_t len) = 0;
    // The connection is over (FIN, RST, timeout, eviction or end of input); nothing follows.
    virtual void on_end() = 0;
};

}  // namespace sluice
