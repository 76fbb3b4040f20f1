// IPv4 and IPv6 fragment reassembly, per worker, in bounded memory.
//
// Fragments are copied into one 64 KiB buffer per datagram from a fixed pool
// (no allocation per packet); overlapping data is resolved first-wins, 8 bytes
// at a time, and counted (overlaps with different bytes are a classic evasion).
// A datagram completes when the last fragment has been seen and every byte
// before it is present; the caller then inspects the whole datagram (an IP
// packet starting at its IP header) while the original fragments are forwarded
// as they came: the fragment that completes the datagram carries its verdict.
// Datagrams expire after a timeout, and when the pool is full the oldest one
// is given up; both are counted.
// Thread rules: one Defragmenter per worker.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "dataplane/counters.hpp"
#include "dataplane/decode.hpp"

namespace sluice {

#define SLUICE_DEFRAG_COUNTERS(X)                                        \
    X(fragments, "fragments")                                            \
    X(reassembled, "reassembled")                                        \
    X(overlaps, "overlaps")                /* bytes seen twice */         \
    X(overlap_conflicts, "overlap_conflicts") /* ...with different data */\
    X(timeouts, "timeouts")                                              \
    X(evicted, "evicted")                  /* pool full */               \
    X(too_large, "too_large")              /* datagram over 65535 */     \
    X(inconsistent, "inconsistent")        /* data past the last fragment */

enum class DefragCounter : uint8_t {
#define SLUICE_X(id, name) id,
    SLUICE_DEFRAG_COUNTERS(SLUICE_X)
#undef SLUICE_X
        count
};

constexpr std::string_view counter_name(DefragCounter c) {
    constexpr std::string_view names[] = {
#define SLUICE_X(id, name) name,
        SLUICE_DEFRAG_COUNTERS(SLUICE_X)
#undef SLUICE_X
    };
    return names[static_cast<size_t>(c)];
}

class Defragmenter {
public:
    Defragmenter(uint32_t max_datagrams, uint64_t timeout_ns);

    // Adds a fragment (`p.status == DecodeStatus::fragment`, decoded from
    // `frame`). Returns the reassembled datagram, from its IP header to the end
    // of its payload, when this fragment completed it; empty otherwise. The
    // bytes stay valid until the next call.
    std::span<const uint8_t> add(const uint8_t* frame, const DecodedPacket& p, uint64_t now_ns);

    // Gives up datagrams older than the timeout.
    void expire(uint64_t now_ns);

    uint32_t in_use() const { return in_use_; }
    const CounterSet<DefragCounter>& counters() const { return counters_; }

private:
    static constexpr uint32_t kMaxPayload = 65535;
    static constexpr uint32_t kMaxHeader = 60 + 512;  // IPv4 options or IPv6 unfragmentable part

    struct Datagram {
        bool used = false;
        bool v6 = false;
        uint8_t proto = 0;
        uint32_t id = 0;
        IpAddr src, dst;
        uint64_t first_ns = 0;
        uint32_t total = 0;       // payload length, known once the last fragment came
        bool have_last = false;
        bool have_first = false;
        uint16_t header_len = 0;  // bytes of header[] in use
        uint16_t nh_offset = 0;   // IPv6: offset in header[] of the next-header byte to patch
        uint8_t header[kMaxHeader];
        uint8_t blocks[kMaxPayload / 64 + 1];  // one bit per 8 bytes present
    };

    Datagram* find(const DecodedPacket& p);
    Datagram* allocate(const DecodedPacket& p, uint64_t now_ns);
    void release(Datagram& d);
    bool complete(const Datagram& d) const;

    uint64_t timeout_ns_;
    std::vector<Datagram> slots_;
    std::unique_ptr<uint8_t[]> payload_;  // kMaxPayload bytes per slot
    std::vector<uint8_t> out_;            // the last reassembled datagram
    uint32_t in_use_ = 0;
    CounterSet<DefragCounter> counters_;
};

}  // namespace sluice
