// Dispatcher: the software stage that spreads single-queue sources (a
// capture file; af_packet interfaces, whose kernel fanout moves packets of a
// flow to another queue when one fills up) over several workers. It reads bursts, numbers every packet,
// hashes it symmetrically by its address pair (so both directions of a flow,
// and every fragment of a datagram, meet on one worker), and hands it to that
// worker's ring. Workers settle each packet into its numbered slot of a shared
// window; the dispatcher transmits (or frees) packets strictly in input order.
// So the written capture, the verdicts and the events are the same for any
// number of workers. Its clock (the time of the last packet dispatched) lets
// idle workers expire flows at the same capture time as a single worker would.
// Thread rules: runs on the main lcore; the window slots are written by workers
// (one writer per slot, published with release) and read by the dispatcher.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "dataplane/counters.hpp"
#include "dataplane/worker.hpp"

struct rte_mempool;
struct rte_ring;

namespace sluice {

class Dispatcher {
public:
    // One input port and where its forwarded packets leave (-1: nowhere).
    struct Port {
        uint16_t rx = 0;
        int tx = -1;
        bool reply = false;  // rejects to the sender may leave through `rx`
    };

    Dispatcher(std::vector<Port> ports, bool offline, uint32_t workers, rte_mempool* pool, int seqn_offset,
               int ts_offset, uint64_t ts_flag, uint32_t burst, uint32_t idle_sleep_us, const std::atomic<bool>& stop);
    ~Dispatcher();

    // What worker `w` needs to take part.
    DispatchLink link(uint32_t w) const;

    // Runs until the input ends (or stop) and every packet is settled.
    void run();

    uint64_t packets() const { return packets_.get(); }
    uint64_t forwarded() const { return forwarded_.get(); }

private:
    void drain();
    uint32_t pick_worker(rte_mbuf* m) const;
    const Port* port_of(uint16_t id) const;

    std::vector<Port> ports_;
    bool offline_;
    uint32_t workers_;
    rte_mempool* pool_;
    int seqn_offset_;
    int ts_offset_;
    uint64_t ts_flag_;
    uint32_t burst_;
    uint32_t idle_sleep_us_;
    const std::atomic<bool>& stop_;
    uint32_t window_;
    std::unique_ptr<DispatchSlot[]> slots_;
    std::vector<rte_ring*> rings_;
    uint64_t next_ = 0;  // sequence number of the next packet read
    uint64_t head_ = 0;  // oldest packet not yet settled
    std::atomic<uint64_t> clock_{0};
    std::atomic<bool> input_done_{false};
    Counter packets_;
    Counter forwarded_;
};

}  // namespace sluice
