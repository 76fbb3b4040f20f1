// TCP stream reassembly, per direction, with bounded memory.
//
// In-order data is handed to the StreamConsumer straight from the packet (no
// copy). Out-of-order data is copied into fixed-size chunks of a per-worker
// SegmentPool and delivered once the hole before it is filled. Overlaps are
// resolved first-wins: bytes already delivered or already buffered are never
// replaced by a later copy. Memory is bounded twice: per direction
// (max_ooo_bytes) and per worker (the pool). When either is exhausted, or when
// the peer acknowledges data that never passed by (capture loss), the hole is
// given up: on_gap() reports it and delivery resumes after it, so consumers
// always see every byte position once, as data or as gap (habit 7).
// Sequence numbers use serial-number arithmetic, so streams may wrap 2^32.
//
// Thread rules: a TcpReassembler and its pool belong to one worker; the
// TcpStreamState lives in that worker's flow table.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "dataplane/counters.hpp"
#include "dataplane/stream.hpp"

namespace sluice {

#define SLUICE_STREAM_COUNTERS(X)                                          \
    X(segments, "segments")                   /* segments with payload */  \
    X(in_order, "in_order")                   /* delivered directly */     \
    X(out_of_order, "out_of_order")           /* buffered for later */     \
    X(retransmissions, "retransmissions")     /* nothing new in them */    \
    X(overlaps, "overlaps")                   /* partly seen before */     \
    X(gaps, "gaps")                           /* holes given up */         \
    X(gap_bytes, "gap_bytes")                                              \
    X(ooo_limit, "ooo_limit")                 /* per-direction cap hit */  \
    X(pool_exhausted, "pool_exhausted")       /* per-worker memcap hit */  \
    X(bogus_seq, "bogus_seq")                 /* too far ahead to keep */  \
    X(depth_reached, "depth_reached")                                      \
    X(midstream, "midstream")                 /* picked up without SYN */  \
    X(after_fin, "after_fin")                 /* data past the FIN */

enum class StreamCounter : uint8_t {
#define SLUICE_X(id, name) id,
    SLUICE_STREAM_COUNTERS(SLUICE_X)
#undef SLUICE_X
        count
};

constexpr std::string_view counter_name(StreamCounter c) {
    constexpr std::string_view names[] = {
#define SLUICE_X(id, name) name,
        SLUICE_STREAM_COUNTERS(SLUICE_X)
#undef SLUICE_X
    };
    return names[static_cast<size_t>(c)];
}

struct StreamLimits {
    uint32_t max_ooo_bytes = 256 * 1024;     // per direction
    uint32_t max_ooo_distance = 16u << 20;   // data further ahead than this is ignored
    uint64_t depth = 0;                      // bytes per direction to reassemble; 0 = all
    bool midstream = true;                   // pick up connections whose SYN was not seen
};

inline constexpr uint32_t kNoSegment = 0xFFFFFFFFu;

struct TcpDirectionState {
    uint32_t next_seq = 0;          // next byte expected
    uint32_t fin_seq = 0;           // sequence number of the FIN, when fin_seen
    uint64_t offset = 0;            // stream offset of next_seq
    uint32_t ooo_head = kNoSegment; // buffered segments, sorted by sequence
    uint32_t ooo_bytes = 0;
    bool seq_known = false;
    bool fin_seen = false;
    bool done = false;              // FIN reached or depth reached: nothing more delivered
};

struct TcpStreamState {
    TcpDirectionState dir[2];  // indexed by Direction
    bool ended = false;        // on_end() delivered

    // Both directions reached their FIN and every byte before it was
    // delivered: no more data can come (nothing is delivered past a FIN), only
    // the on_end() at the flow's end.
    bool complete() const {
        return dir[0].fin_seen && dir[1].fin_seen && dir[0].next_seq == dir[0].fin_seq &&
               dir[1].next_seq == dir[1].fin_seq;
    }
};

// Fixed-size chunks for out-of-order data, one pool per worker.
class SegmentPool {
public:
    static constexpr uint32_t kChunkBytes = 2048 - 16;

    explicit SegmentPool(uint32_t chunks);

    uint32_t alloc() {
        if (free_head_ == kNoSegment) return kNoSegment;
        uint32_t i = free_head_;
        free_head_ = meta_[i].next;
        ++in_use_;
        return i;
    }
    void release(uint32_t i) {
        meta_[i].next = free_head_;
        free_head_ = i;
        --in_use_;
    }

    struct Meta {
        uint32_t seq;
        uint32_t next;
        uint16_t len;
    };
    Meta& meta(uint32_t i) { return meta_[i]; }
    uint8_t* data(uint32_t i) { return &data_[static_cast<size_t>(i) * kChunkBytes]; }
    uint32_t capacity() const { return static_cast<uint32_t>(meta_.size()); }
    uint32_t in_use() const { return in_use_; }

private:
    std::vector<Meta> meta_;
    std::unique_ptr<uint8_t[]> data_;
    uint32_t free_head_ = kNoSegment;
    uint32_t in_use_ = 0;
};

class TcpReassembler {
public:
    TcpReassembler(const StreamLimits& limits, uint32_t pool_chunks);

    // One TCP segment of direction `dir`: its sequence number, flags, payload
    // and acknowledgement number (which acknowledges the opposite direction).
    void on_segment(TcpStreamState& s, Direction dir, uint32_t seq, uint32_t ack, uint8_t flags,
                    std::span<const uint8_t> payload, StreamConsumer& consumer);

    // End of the connection: buffered data behind holes is delivered after
    // on_gap() for each hole, then on_end(). Frees the state's segments.
    void finish(TcpStreamState& s, StreamConsumer& consumer);
    // Frees the state's segments without delivering anything (flow dropped).
    void release(TcpStreamState& s);

    const CounterSet<StreamCounter>& counters() const { return counters_; }
    const SegmentPool& pool() const { return pool_; }
    const StreamLimits& limits() const { return limits_; }

private:
    void deliver(TcpDirectionState& d, Direction dir, std::span<const uint8_t> data, StreamConsumer& c);
    void drain(TcpDirectionState& d, Direction dir, StreamConsumer& c);
    // Delivers a segment that starts at or before next_seq, around buffered data.
    void deliver_in_order(TcpDirectionState& d, Direction dir, uint32_t seq, std::span<const uint8_t> payload,
                          StreamConsumer& c);
    // Gives up the hole before the first buffered segment.
    void skip_hole(TcpDirectionState& d, Direction dir, uint32_t upto, StreamConsumer& c);
    // Buffers [seq, seq+data.size()) where not already buffered; false when a
    // limit stopped it (nothing partial is left unreported: the caller skips).
    bool buffer(TcpDirectionState& d, uint32_t seq, std::span<const uint8_t> data);
    void free_all(TcpDirectionState& d);

    StreamLimits limits_;
    SegmentPool pool_;
    CounterSet<StreamCounter> counters_;
};

}  // namespace sluice
