#include "dataplane/dispatcher.hpp"

#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_mempool.h>
#include <rte_pause.h>
#include <rte_ring.h>

#include <algorithm>
#include <string>

#include "dataplane/decode.hpp"
#include "dataplane/flow_key.hpp"

namespace sluice {

namespace {
constexpr uint32_t kWindow = 8192;
constexpr unsigned kRingSize = 4096;
}  // namespace

Dispatcher::Dispatcher(uint16_t port, bool transmit, uint32_t workers, rte_mempool* pool, int seqn_offset,
                       int ts_offset, uint64_t ts_flag, uint32_t burst, const std::atomic<bool>& stop)
    : port_(port),
      transmit_(transmit),
      workers_(workers),
      pool_(pool),
      seqn_offset_(seqn_offset),
      ts_offset_(ts_offset),
      ts_flag_(ts_flag),
      burst_(burst),
      stop_(stop),
      window_(kWindow),
      slots_(new DispatchSlot[kWindow]) {
    for (uint32_t w = 0; w < workers_; ++w) {
        const std::string name = "sluice_disp" + std::to_string(w);
        rings_.push_back(rte_ring_create(name.c_str(), kRingSize, static_cast<int>(rte_socket_id()),
                                         RING_F_SP_ENQ | RING_F_SC_DEQ));
    }
}

Dispatcher::~Dispatcher() {
    for (auto* r : rings_)
        if (r) rte_ring_free(r);
}

DispatchLink Dispatcher::link(uint32_t w) const {
    DispatchLink l;
    l.input = rings_[w];
    l.slots = slots_.get();
    l.window = window_;
    l.clock = &clock_;
    l.input_done = &input_done_;
    return l;
}

uint32_t Dispatcher::pick_worker(rte_mbuf* m) const {
    if (workers_ == 1) return 0;
    uint8_t tmp[128];
    const uint32_t len = std::min<uint32_t>(rte_pktmbuf_pkt_len(m), sizeof tmp);
    const uint8_t* data = static_cast<const uint8_t*>(rte_pktmbuf_read(m, 0, len, tmp));
    IpAddr src, dst;
    if (!data || !peek_ip_addresses(data, len, src, dst)) return 0;
    // Addresses only: fragments carry no ports, and must meet their datagram's flow.
    FlowKey k;
    const bool lower = src < dst;
    k.addr[0] = lower ? src : dst;
    k.addr[1] = lower ? dst : src;
    return static_cast<uint32_t>(flow_hash(k) % workers_);
}

void Dispatcher::drain() {
    rte_mbuf* tx[64];
    uint16_t ntx = 0;
    auto flush = [&] {
        uint16_t sent = 0;
        for (int tries = 0; sent < ntx && tries < 8; ++tries) sent += rte_eth_tx_burst(port_, 0, tx + sent, ntx - sent);
        if (sent < ntx) rte_pktmbuf_free_bulk(tx + sent, ntx - sent);
        ntx = 0;
    };
    auto out = [&](rte_mbuf* m) {
        if (!transmit_) {
            rte_pktmbuf_free(m);
            return;
        }
        tx[ntx++] = m;
        if (ntx == 64) flush();
    };
    while (head_ < next_) {
        DispatchSlot& s = slots_[head_ % window_];
        if (!s.done.load(std::memory_order_acquire)) break;
        if (s.forward) {
            forwarded_.add();
            out(s.mbuf);
        } else {
            rte_pktmbuf_free(s.mbuf);
        }
        for (auto*& e : s.extra) {
            if (e) out(e);
            e = nullptr;
        }
        s.mbuf = nullptr;
        s.done.store(false, std::memory_order_relaxed);
        ++head_;
    }
    if (ntx) flush();
}

void Dispatcher::run() {
    rte_mbuf* pkts[64];
    std::vector<std::vector<rte_mbuf*>> pending(workers_);
    bool eof = false;
    uint64_t latest = 0;  // capture time of the newest packet read
    while (true) {
        drain();
        if (stop_.load(std::memory_order_relaxed)) eof = true;
        bool pending_left = false;
        for (uint32_t w = 0; w < workers_; ++w) {
            auto& q = pending[w];
            if (q.empty()) continue;
            const unsigned n = rte_ring_enqueue_burst(rings_[w], reinterpret_cast<void* const*>(q.data()),
                                                      static_cast<unsigned>(q.size()), nullptr);
            q.erase(q.begin(), q.begin() + n);
            if (!q.empty()) pending_left = true;
        }
        if (!eof && !pending_left && next_ - head_ + burst_ <= window_) {
            const uint16_t n = rte_eth_rx_burst(port_, 0, pkts, static_cast<uint16_t>(burst_));
            if (n == 0 && rte_mempool_avail_count(pool_) > 2 * burst_) eof = true;
            for (uint16_t i = 0; i < n; ++i) {
                rte_mbuf* m = pkts[i];
                *RTE_MBUF_DYNFIELD(m, seqn_offset_, uint64_t*) = next_++;
                if (ts_offset_ >= 0 && (m->ol_flags & ts_flag_))
                    latest = std::max<uint64_t>(latest, *RTE_MBUF_DYNFIELD(m, ts_offset_, uint64_t*) * 1000ull);
                pending[pick_worker(m)].push_back(m);
            }
            packets_.add(n);
            for (uint32_t w = 0; w < workers_; ++w) {
                auto& q = pending[w];
                if (q.empty()) continue;
                const unsigned k = rte_ring_enqueue_burst(rings_[w], reinterpret_cast<void* const*>(q.data()),
                                                          static_cast<unsigned>(q.size()), nullptr);
                q.erase(q.begin(), q.begin() + k);
            }
        }
        // Publish the clock only once every packet up to it is in a ring.
        bool all_queued = true;
        for (auto& q : pending) all_queued = all_queued && q.empty();
        if (all_queued && latest > clock_.load(std::memory_order_relaxed)) clock_.store(latest, std::memory_order_release);
        if (eof && !pending_left && head_ == next_) break;
        rte_pause();
    }
    input_done_.store(true, std::memory_order_release);
}

}  // namespace sluice
