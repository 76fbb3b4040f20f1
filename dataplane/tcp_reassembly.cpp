#include "dataplane/tcp_reassembly.hpp"

#include <algorithm>
#include <cstring>

#include "dataplane/decode.hpp"

namespace sluice {

namespace {

// Signed distance a - b in sequence space.
inline int32_t seq_diff(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b); }

}  // namespace

SegmentPool::SegmentPool(uint32_t chunks)
    : meta_(chunks), data_(new uint8_t[static_cast<size_t>(chunks) * kChunkBytes]) {
    for (uint32_t i = 0; i < chunks; ++i) meta_[i].next = (i + 1 < chunks) ? i + 1 : kNoSegment;
    free_head_ = chunks ? 0 : kNoSegment;
}

TcpReassembler::TcpReassembler(const StreamLimits& limits, uint32_t pool_chunks)
    : limits_(limits), pool_(pool_chunks) {}

void TcpReassembler::deliver(TcpDirectionState& d, Direction dir, std::span<const uint8_t> data,
                             StreamConsumer& c) {
    if (data.empty() || d.done) return;
    if (d.fin_seen) {
        // Nothing past the FIN belongs to the stream.
        const int32_t room = seq_diff(d.fin_seq, d.next_seq);
        if (room <= 0) {
            counters_.inc(StreamCounter::after_fin);
            return;
        }
        if (static_cast<uint32_t>(room) < data.size()) {
            counters_.inc(StreamCounter::after_fin);
            data = data.first(static_cast<uint32_t>(room));
        }
    }
    if (limits_.depth != 0) {
        if (d.offset >= limits_.depth) return;
        if (d.offset + data.size() > limits_.depth) {
            data = data.first(static_cast<size_t>(limits_.depth - d.offset));
            counters_.inc(StreamCounter::depth_reached);
        }
    }
    c.on_data(dir, d.offset, data);
    d.offset += data.size();
    d.next_seq += static_cast<uint32_t>(data.size());
    if (limits_.depth != 0 && d.offset >= limits_.depth) {
        d.done = true;
        free_all(d);
    }
}

void TcpReassembler::drain(TcpDirectionState& d, Direction dir, StreamConsumer& c) {
    while (d.ooo_head != kNoSegment) {
        auto& m = pool_.meta(d.ooo_head);
        const int32_t rel = seq_diff(m.seq, d.next_seq);
        if (rel > 0) break;
        const uint32_t skip = static_cast<uint32_t>(-rel);
        if (skip < m.len && !d.done) deliver(d, dir, {pool_.data(d.ooo_head) + skip, m.len - skip}, c);
        const uint32_t next = m.next;
        d.ooo_bytes -= m.len;
        pool_.release(d.ooo_head);
        d.ooo_head = next;
    }
}

void TcpReassembler::deliver_in_order(TcpDirectionState& d, Direction dir, uint32_t seq,
                                      std::span<const uint8_t> payload, StreamConsumer& c) {
    while (!payload.empty() && !d.done) {
        const int32_t rel = seq_diff(seq, d.next_seq);
        if (static_cast<int64_t>(rel) + static_cast<int64_t>(payload.size()) <= 0) return;
        if (rel < 0) {  // the front was delivered already: first wins
            payload = payload.subspan(static_cast<size_t>(-static_cast<int64_t>(rel)));
            seq = d.next_seq;
        }
        // Buffered data inside this segment was there first: deliver up to it,
        // let drain() deliver the buffered bytes, then go on past them.
        size_t n = payload.size();
        if (d.ooo_head != kNoSegment) {
            const int32_t room = seq_diff(pool_.meta(d.ooo_head).seq, d.next_seq);
            if (room >= 0 && static_cast<size_t>(room) < n) n = static_cast<size_t>(room);
        }
        const uint32_t before = d.next_seq;
        deliver(d, dir, payload.first(n), c);
        if (d.next_seq - before != n) return;  // stopped at the FIN or the depth
        drain(d, dir, c);
        payload = payload.subspan(n);
        seq += static_cast<uint32_t>(n);
    }
}

void TcpReassembler::skip_hole(TcpDirectionState& d, Direction dir, uint32_t upto, StreamConsumer& c) {
    const int32_t len = seq_diff(upto, d.next_seq);
    if (len <= 0) return;
    counters_.inc(StreamCounter::gaps);
    counters_.inc(StreamCounter::gap_bytes, static_cast<uint32_t>(len));
    if (!d.done) c.on_gap(dir, d.offset, static_cast<uint32_t>(len));
    d.offset += static_cast<uint32_t>(len);
    d.next_seq = upto;
}

void TcpReassembler::free_all(TcpDirectionState& d) {
    while (d.ooo_head != kNoSegment) {
        const uint32_t next = pool_.meta(d.ooo_head).next;
        pool_.release(d.ooo_head);
        d.ooo_head = next;
    }
    d.ooo_bytes = 0;
}

bool TcpReassembler::buffer(TcpDirectionState& d, uint32_t seq, std::span<const uint8_t> data) {
    // Walk the sorted list; insert only the parts of [seq, end) that no buffered
    // segment covers yet (first wins).
    const uint32_t base = d.next_seq;
    auto rel = [base](uint32_t s) { return s - base; };  // all buffered data is ahead of base
    uint32_t cursor = rel(seq);
    const uint32_t end = cursor + static_cast<uint32_t>(data.size());
    uint32_t* link = &d.ooo_head;
    bool overlapped = false;
    auto insert_piece = [&](uint32_t from, uint32_t to) -> bool {
        while (from < to) {
            const uint32_t n = std::min<uint32_t>(to - from, SegmentPool::kChunkBytes);
            if (d.ooo_bytes + n > limits_.max_ooo_bytes) {
                counters_.inc(StreamCounter::ooo_limit);
                return false;
            }
            const uint32_t idx = pool_.alloc();
            if (idx == kNoSegment) {
                counters_.inc(StreamCounter::pool_exhausted);
                return false;
            }
            auto& m = pool_.meta(idx);
            m.seq = base + from;
            m.len = static_cast<uint16_t>(n);
            std::memcpy(pool_.data(idx), data.data() + (from - rel(seq)), n);
            m.next = *link;
            *link = idx;
            link = &m.next;
            d.ooo_bytes += n;
            from += n;
        }
        return true;
    };
    while (*link != kNoSegment && cursor < end) {
        auto& m = pool_.meta(*link);
        const uint32_t a = rel(m.seq);
        const uint32_t b = a + m.len;
        if (b <= cursor) {
            link = &m.next;
            continue;
        }
        if (a > cursor) {
            if (!insert_piece(cursor, std::min(end, a))) return false;
            // insert_piece advanced `link` past the new pieces; it now points at m again.
        }
        if (a < end && b > cursor) overlapped = true;
        cursor = std::max(cursor, b);
        link = &pool_.meta(*link).next;
    }
    if (cursor < end && !insert_piece(cursor, end)) return false;
    if (overlapped) counters_.inc(StreamCounter::overlaps);
    return true;
}

void TcpReassembler::on_segment(TcpStreamState& s, Direction dir, uint32_t seq, uint32_t ack, uint8_t flags,
                                std::span<const uint8_t> payload, StreamConsumer& consumer) {
    TcpDirectionState& d = s.dir[index(dir)];
    if (s.ended) return;

    if (flags & tcpflag::syn) {
        if (!d.seq_known) {
            d.seq_known = true;
            d.next_seq = seq + 1;
        }
        seq += 1;  // data in a SYN starts after it
    } else if (!d.seq_known && !payload.empty()) {
        if (!limits_.midstream) return;
        counters_.inc(StreamCounter::midstream);
        d.seq_known = true;
        d.next_seq = seq;
    }

    // The ACK tells what the other side has received: a hole it acknowledged
    // was lost before us and will never come.
    if ((flags & tcpflag::ack) != 0) {
        TcpDirectionState& o = s.dir[index(opposite(dir))];
        if (o.seq_known && o.ooo_head != kNoSegment && seq_diff(ack, o.next_seq) > 0) {
            const uint32_t head_seq = pool_.meta(o.ooo_head).seq;
            if (seq_diff(ack, head_seq) >= 0) {
                skip_hole(o, opposite(dir), head_seq, consumer);
                drain(o, opposite(dir), consumer);
            }
        }
    }

    if (!payload.empty() && d.seq_known) {
        counters_.inc(StreamCounter::segments);
        const int32_t rel = seq_diff(seq, d.next_seq);
        const int64_t end_rel = static_cast<int64_t>(rel) + static_cast<int64_t>(payload.size());
        if (end_rel <= 0) {
            counters_.inc(StreamCounter::retransmissions);
        } else if (rel <= 0) {
            counters_.inc(rel < 0 ? StreamCounter::overlaps : StreamCounter::in_order);
            deliver_in_order(d, dir, seq, payload, consumer);
        } else if (static_cast<uint32_t>(rel) > limits_.max_ooo_distance) {
            counters_.inc(StreamCounter::bogus_seq);
        } else if (!d.done) {
            counters_.inc(StreamCounter::out_of_order);
            // When a limit refuses the data, give up the oldest hole and retry;
            // each round delivers or frees buffered data, so this ends.
            for (int round = 0; round < 64 && !buffer(d, seq, payload); ++round) {
                if (d.ooo_head == kNoSegment) {
                    // Nothing buffered to make room with: this segment itself is
                    // beyond what we may keep; skip to it and deliver it.
                    skip_hole(d, dir, seq, consumer);
                    deliver_in_order(d, dir, seq, payload, consumer);
                    break;
                }
                skip_hole(d, dir, pool_.meta(d.ooo_head).seq, consumer);
                drain(d, dir, consumer);
                if (seq_diff(seq, d.next_seq) <= 0) {
                    deliver_in_order(d, dir, seq, payload, consumer);
                    break;
                }
            }
        }
    }

    if ((flags & tcpflag::fin) && d.seq_known && !d.fin_seen) {
        d.fin_seen = true;
        d.fin_seq = seq + static_cast<uint32_t>(payload.size());
    }
}

void TcpReassembler::finish(TcpStreamState& s, StreamConsumer& consumer) {
    if (s.ended) return;
    for (Direction dir : {Direction::to_server, Direction::to_client}) {
        TcpDirectionState& d = s.dir[index(dir)];
        while (d.ooo_head != kNoSegment) {
            skip_hole(d, dir, pool_.meta(d.ooo_head).seq, consumer);
            drain(d, dir, consumer);
        }
    }
    s.ended = true;
    consumer.on_end();
}

void TcpReassembler::release(TcpStreamState& s) {
    free_all(s.dir[0]);
    free_all(s.dir[1]);
    s.ended = true;
}

}  // namespace sluice
