#include "dataplane/dispatcher.hpp"

#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_mempool.h>
#include <rte_pause.h>
#include <rte_ring.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <string>

#include "dataplane/decode.hpp"
#include "dataplane/flow_key.hpp"

namespace sluice {

namespace {
constexpr uint32_t kWindow = 8192;
constexpr unsigned kRingSize = 4096;
}  // namespace

Dispatcher::Dispatcher(std::vector<Port> ports, bool offline, uint32_t workers, rte_mempool* pool, int seqn_offset,
                       int ts_offset, uint64_t ts_flag, uint32_t burst, uint32_t idle_sleep_us,
                       const std::atomic<bool>& stop)
    : ports_(std::move(ports)),
      offline_(offline),
      workers_(workers),
      pool_(pool),
      seqn_offset_(seqn_offset),
      ts_offset_(ts_offset),
      ts_flag_(ts_flag),
      burst_(burst),
      idle_sleep_us_(idle_sleep_us),
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

const Dispatcher::Port* Dispatcher::port_of(uint16_t id) const {
    for (const auto& p : ports_)
        if (p.rx == id) return &p;
    return nullptr;
}

void Dispatcher::drain() {
    // Per output port, a small batch; a reject to the sender (packet_type 1,
    // set by the worker) leaves through the port its packet came in on.
    struct Out {
        uint16_t port;
        uint16_t n = 0;
        rte_mbuf* pkts[64];
    };
    Out outs[4];
    unsigned nouts = 0;
    auto flush = [](Out& o) {
        uint16_t sent = 0;
        for (int tries = 0; sent < o.n && tries < 8; ++tries) sent += rte_eth_tx_burst(o.port, 0, o.pkts + sent, o.n - sent);
        if (sent < o.n) rte_pktmbuf_free_bulk(o.pkts + sent, o.n - sent);
        o.n = 0;
    };
    auto send = [&](rte_mbuf* m, int port) {
        if (port < 0) {
            rte_pktmbuf_free(m);
            return;
        }
        Out* o = nullptr;
        for (unsigned i = 0; i < nouts; ++i)
            if (outs[i].port == port) o = &outs[i];
        if (!o) {
            if (nouts == 4) {
                rte_pktmbuf_free(m);
                return;
            }
            o = &outs[nouts++];
            o->port = static_cast<uint16_t>(port);
        }
        o->pkts[o->n++] = m;
        if (o->n == 64) flush(*o);
    };
    while (head_ < next_) {
        DispatchSlot& s = slots_[head_ % window_];
        if (!s.done.load(std::memory_order_acquire)) break;
        const Port* in = port_of(s.mbuf->port);
        const int tx = in ? in->tx : -1;
        const int back = in && in->reply ? in->rx : -1;
        for (auto*& e : s.extra) {
            if (!e) continue;
            const bool to_sender = e->packet_type == 1;
            e->packet_type = 0;
            send(e, to_sender ? back : tx);
            e = nullptr;
        }
        if (s.forward) {
            forwarded_.add();
            send(s.mbuf, tx);
        } else {
            rte_pktmbuf_free(s.mbuf);
        }
        s.mbuf = nullptr;
        s.done.store(false, std::memory_order_relaxed);
        ++head_;
    }
    for (unsigned i = 0; i < nouts; ++i)
        if (outs[i].n) flush(outs[i]);
}

void Dispatcher::run() {
    rte_mbuf* pkts[64];
    std::vector<std::vector<rte_mbuf*>> pending(workers_);
    bool eof = false;
    uint64_t latest = 0;  // capture time of the newest packet read
    uint64_t idle = 0;
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
        for (size_t pi = 0; pi < ports_.size() && !eof && !pending_left && next_ - head_ + burst_ <= window_; ++pi) {
            const uint16_t n = rte_eth_rx_burst(ports_[pi].rx, 0, pkts, static_cast<uint16_t>(burst_));
            if (offline_ && n == 0 && rte_mempool_avail_count(pool_) > 2 * burst_) eof = true;
            if (!offline_) latest = 0;  // live: workers keep their own clock
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
                if (!q.empty()) pending_left = true;
            }
            if (n) idle = 0;
        }
        // Publish the clock only once every packet up to it is in a ring.
        bool all_queued = true;
        for (auto& q : pending) all_queued = all_queued && q.empty();
        if (all_queued && latest > clock_.load(std::memory_order_relaxed)) clock_.store(latest, std::memory_order_release);
        if (eof && !pending_left && head_ == next_) break;
        if (idle_sleep_us_ && ++idle > 64) std::this_thread::sleep_for(std::chrono::microseconds(idle_sleep_us_));
        else rte_pause();
    }
    input_done_.store(true, std::memory_order_release);
}

}  // namespace sluice
