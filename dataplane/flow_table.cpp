#include "dataplane/flow_table.hpp"

#include <bit>
#include <new>
#include <type_traits>

namespace sluice {

uint64_t make_flow_id(const FlowKey& key, uint64_t first_ns) {
    uint64_t id = mix64(flow_hash(key) ^ mix64(first_ns)) & ((uint64_t{1} << 51) - 1);
    return id ? id : 1;
}

FlowTable::FlowTable(uint32_t capacity, const FlowTimeouts& timeouts)
    : capacity_(capacity ? capacity : 1),
      bucket_mask_(static_cast<uint32_t>(std::bit_ceil(capacity_)) - 1),
      flow_pages_(sizeof(Flow) * capacity_),
      bucket_pages_(sizeof(uint32_t) * (bucket_mask_ + 1u)),
      flows_(flow_pages_.as<Flow>()),
      buckets_(bucket_pages_.as<uint32_t>()),
      timeouts_(timeouts) {
    static_assert(std::is_trivially_destructible_v<Flow>);
    for (size_t c = 0; c < static_cast<size_t>(ProtoClass::count); ++c)
        for (size_t s = 0; s < static_cast<size_t>(FlowState::count); ++s) {
            uint32_t sec = timeouts_.seconds[c][s];
            // Protocols without a closed state use their new timeout for it.
            if (sec == 0) sec = timeouts_.seconds[c][0];
            lists_[list_index(static_cast<ProtoClass>(c), static_cast<FlowState>(s))].timeout_ns = uint64_t{sec} * 1000000000ull;
        }
}

void FlowTable::list_remove(Flow& f) {
    List& l = lists_[f.list];
    if (f.lru_prev != kNil) at(f.lru_prev).lru_next = f.lru_next;
    else l.head = f.lru_next;
    if (f.lru_next != kNil) at(f.lru_next).lru_prev = f.lru_prev;
    else l.tail = f.lru_prev;
}

void FlowTable::list_append(Flow& f) {
    f.placed_ns = f.last_ns;
    List& l = lists_[f.list];
    const uint32_t i = slot_of(f);
    f.lru_prev = l.tail;
    f.lru_next = kNil;
    if (l.tail != kNil) at(l.tail).lru_next = i;
    else l.head = i;
    l.tail = i;
}

void FlowTable::end_flow(Flow& f, FlowEndReason reason, FlowEndHandler& end) {
    end.on_flow_end(f, reason);
    switch (reason) {
        case FlowEndReason::timeout: counters_.inc(FlowCounter::timeout); break;
        case FlowEndReason::evicted: counters_.inc(FlowCounter::evicted); break;
        case FlowEndReason::reused: counters_.inc(FlowCounter::reused); break;
        case FlowEndReason::shutdown: counters_.inc(FlowCounter::shutdown); break;
        case FlowEndReason::count: break;
    }
    counters_.inc(FlowCounter::ended);
    list_remove(f);
    // Unlink from its bucket chain.
    const uint32_t i = slot_of(f);
    uint32_t* head_link = head_ref(f.hash);
    if (*head_link - 1u == i) {
        *head_link = f.bucket_next + 1u;
    } else {
        uint32_t* link = &at(*head_link - 1u).bucket_next;
        while (*link != kNil && *link != i) link = &at(*link).bucket_next;
        if (*link == i) *link = f.bucket_next;
    }
    f = Flow{};
    f.bucket_next = free_head_;
    free_head_ = i;
    --active_;
}

uint32_t FlowTable::pick_victim() const {
    // Closed flows first, then new ones, then established: the stalest of each
    // tier that no packet of the current epoch refers to.
    for (FlowState tier : {FlowState::closed, FlowState::new_, FlowState::established}) {
        uint32_t best = kNil;
        for (size_t c = 0; c < static_cast<size_t>(ProtoClass::count); ++c) {
            uint32_t h = lists_[list_index(static_cast<ProtoClass>(c), tier)].head;
            for (int step = 0; h != kNil && protected_flow(at(h)) && step < 64; ++step) h = at(h).lru_next;
            if (h != kNil && protected_flow(at(h))) h = kNil;
            if (h != kNil && (best == kNil || at(h).last_ns < at(best).last_ns)) best = h;
        }
        if (best != kNil) return best;
    }
    return kNil;
}

void FlowTable::probe(const DecodedPacket& p, Probe& out) const {
    out.hash = static_cast<uint32_t>(make_flow_key(p, out.key, out.src_is_side0));
    __builtin_prefetch(&buckets_[out.hash & bucket_mask_], 0, 3);
}

void FlowTable::prefetch_flow(const Probe& pr) const {
    const uint32_t i = head(pr.hash);
    if (i == kNil) return;
    // Every line of the flow: the lookup reads the first, the update, the
    // filter, reassembly and the detectors' slots the others; fetched
    // together they overlap with the rest of the burst's misses instead of
    // each costing a wait later (1M flows: +13 % packets per CPU-second).
    const char* f = reinterpret_cast<const char*>(&at(i));
    for (size_t off = 0; off < sizeof(Flow); off += 64) __builtin_prefetch(f + off, 1, 3);
}

PacketFlowInfo FlowTable::lookup(const DecodedPacket& p, uint64_t now_ns, FlowEndHandler& end) {
    Probe pr;
    probe(p, pr);
    return lookup(p, pr, now_ns, end);
}

PacketFlowInfo FlowTable::lookup(const DecodedPacket& p, const Probe& pr, uint64_t now_ns, FlowEndHandler& end) {
    const FlowKey& key = pr.key;
    const bool src_is_side0 = pr.src_is_side0;
    const uint32_t hash = pr.hash;
    uint32_t i = head(hash);
    while (i != kNil) {
        Flow& f = at(i);
        if (f.hash == hash && f.key == key) break;
        i = f.bucket_next;
    }
    if (i != kNil) {
        Flow& f = at(i);
        const bool new_syn = p.ip_proto == ipproto::tcp && (p.tcp_flags & (tcpflag::syn | tcpflag::ack)) == tcpflag::syn;
        const bool timed_out = expired(f, now_ns);
        const bool reused = !timed_out && new_syn && f.tcp_state == TcpState::closed;
        if ((timed_out || reused) && protected_flow(f)) {
            PacketFlowInfo blocked;
            blocked.blocked = true;
            return blocked;
        }
        if (timed_out) {
            end_flow(f, FlowEndReason::timeout, end);
        } else if (reused) {
            end_flow(f, FlowEndReason::reused, end);
        } else {
            const bool src_is_client = (f.client_side == 0) == src_is_side0;
            return {&f, src_is_client ? Direction::to_server : Direction::to_client, false};
        }
    }
    if (free_head_ == kNil && fresh_ < capacity_) {
        at(fresh_).bucket_next = kNil;
        free_head_ = fresh_++;
    }
    if (free_head_ == kNil) {
        const uint32_t victim = pick_victim();
        if (victim == kNil) {
            PacketFlowInfo blocked;
            blocked.blocked = active_ > 0;  // all protected: retry in a new epoch
            return blocked;
        }
        end_flow(at(victim), FlowEndReason::evicted, end);
    }
    i = free_head_;
    Flow& f = at(i);
    free_head_ = f.bucket_next;
    f = Flow{};
    f.key = key;
    f.hash = hash;
    f.bucket_next = head(hash);
    *head_ref(hash) = i + 1u;
    f.first_ns = f.last_ns = now_ns;
    f.flow_id = make_flow_id(key, now_ns);
    f.pclass = proto_class(p.ip_proto);
    // The client is the side that opened the exchange: for a SYN+ACK or an
    // ICMP reply seen first it is the destination, otherwise the source.
    const bool synack = p.ip_proto == ipproto::tcp && (p.tcp_flags & (tcpflag::syn | tcpflag::ack)) == (tcpflag::syn | tcpflag::ack);
    const uint8_t t = p.icmp_type;
    const bool icmp_reply = (p.ip_proto == ipproto::icmp && (t == 0 || t == 14)) ||
                            (p.ip_proto == ipproto::icmpv6 && (t == 129 || t == 134 || t == 136));
    const bool src_is_client = !synack && !icmp_reply;
    f.client_side = static_cast<uint8_t>((src_is_side0 == src_is_client) ? 0 : 1);
    f.state = FlowState::new_;
    f.list = list_index(f.pclass, f.state);
    list_append(f);
    ++active_;
    counters_.inc(FlowCounter::created);
    return {&f, src_is_client ? Direction::to_server : Direction::to_client, true};
}

void FlowTable::update(Flow& f, Direction dir, const DecodedPacket& p, uint64_t now_ns) {
    const unsigned d = index(dir);
    f.epoch = epoch_;
    f.pkts[d] += 1;
    f.bytes[d] += p.frame_len;
    if (now_ns > f.last_ns) f.last_ns = now_ns;

    FlowState state = f.state;
    if (p.ip_proto == ipproto::tcp) {
        const uint8_t fl = p.tcp_flags;
        f.tcp_flags[d] |= fl;
        TcpState t = f.tcp_state;
        if (fl & tcpflag::rst) {
            t = TcpState::closed;
        } else {
            switch (t) {
                case TcpState::none:
                    if ((fl & (tcpflag::syn | tcpflag::ack)) == tcpflag::syn) t = TcpState::syn_sent;
                    else if ((fl & (tcpflag::syn | tcpflag::ack)) == (tcpflag::syn | tcpflag::ack)) t = TcpState::syn_recv;
                    else t = TcpState::established;  // picked up midstream
                    break;
                case TcpState::syn_sent:
                    if ((fl & (tcpflag::syn | tcpflag::ack)) == (tcpflag::syn | tcpflag::ack) && dir == Direction::to_client)
                        t = TcpState::syn_recv;
                    break;
                case TcpState::syn_recv:
                    if ((fl & tcpflag::ack) && !(fl & tcpflag::syn) && dir == Direction::to_server) t = TcpState::established;
                    break;
                default:
                    break;
            }
            if (fl & tcpflag::fin) {
                if (t == TcpState::fin_wait || t == TcpState::closing) {
                    // A FIN from the side that had not closed yet.
                    const bool other_fin = (f.tcp_flags[index(opposite(dir))] & tcpflag::fin) != 0;
                    if (other_fin) t = TcpState::closing;
                } else if (t != TcpState::closed) {
                    t = TcpState::fin_wait;
                }
            } else if (t == TcpState::closing && (fl & tcpflag::ack)) {
                t = TcpState::closed;  // the last FIN acknowledged
            }
        }
        f.tcp_state = t;
        switch (t) {
            case TcpState::none:
            case TcpState::syn_sent:
            case TcpState::syn_recv: state = FlowState::new_; break;
            case TcpState::established:
            case TcpState::fin_wait: state = FlowState::established; break;
            case TcpState::closing:
            case TcpState::closed: state = FlowState::closed; break;
        }
    } else if (f.pkts[0] && f.pkts[1]) {
        state = FlowState::established;
    }

    // Move to the tail of its (possibly new) timeout list. A busy flow that
    // stays in its list is moved at most once per kReplaceNs: every move
    // touches two neighbours' cache lines; expire() re-places heads that were
    // active since they were placed, so no expired flow waits behind them.
    const uint8_t list = list_index(f.pclass, state);
    f.state = state;
    if (list != f.list || f.last_ns - f.placed_ns > kReplaceNs) {
        list_remove(f);
        f.list = list;
        list_append(f);
    }
}

uint32_t FlowTable::expire(uint64_t now_ns, uint32_t budget, FlowEndHandler& end) {
    uint32_t n = 0;
    for (auto& l : lists_) {
        while (n < budget && l.head != kNil) {
            Flow& f = at(l.head);
            if (!expired(f, now_ns)) {
                if (f.last_ns == f.placed_ns || f.lru_next == kNil) break;
                // Active since it was placed: put it where it belongs and look on.
                list_remove(f);
                list_append(f);
                ++n;
                continue;
            }
            end_flow(f, FlowEndReason::timeout, end);
            ++n;
        }
    }
    return n;
}

void FlowTable::end_all(FlowEndHandler& end, FlowEndReason reason, uint64_t now_ns) {
    // Flows whose timeout passed end as timed out, wherever they sit in their
    // list (expire() only looks at heads): the outcome at the end of the input
    // must not depend on how far the background expiry got.
    if (now_ns != 0) {
        for (auto& l : lists_) {
            for (uint32_t i = l.head; i != kNil;) {
                Flow& f = at(i);
                i = f.lru_next;
                if (expired(f, now_ns)) end_flow(f, FlowEndReason::timeout, end);
            }
        }
    }
    for (auto& l : lists_)
        while (l.head != kNil) end_flow(at(l.head), reason, end);
}

}  // namespace sluice
