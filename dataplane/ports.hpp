// EAL start-up and port set-up. Without --eal, Sluice runs on virtual devices
// and needs no hardware: net_pcap for captures, net_af_packet for live
// interfaces (SPAN or an inline pair), --no-huge when no hugepages are mounted,
// a unique --file-prefix so several instances can run side by side. With --eal
// the operator's arguments are used as given, and interface names are looked
// up among the probed ports (a name that is not a port becomes an af_packet
// device). Multi-queue ports get one queue per worker with symmetric RSS where
// the device supports it, so both directions of a flow meet on one worker.
// Thread rules: called from the main thread at start-up and shutdown only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "app/config.hpp"
#include "dataplane/result.hpp"

struct rte_mempool;

namespace sluice {

struct PortDesc {
    uint16_t id = 0;
    std::string name;      // device name (net_pcap0, net_af_packet0, PCI address)
    std::string label;     // what the operator named it (file or interface)
    bool rx = true;
    bool tx = false;       // forwarded packets leave through it
    int peer = -1;         // inline: the port forwarded packets of this one go to
    uint16_t queues = 1;
};

struct Dataplane {
    rte_mempool* pool = nullptr;
    std::vector<PortDesc> ports;
    bool offline = false;         // reading a capture file
    bool dispatch = false;        // one input queue, several workers: software dispatcher
    uint32_t workers = 1;
    std::vector<unsigned> worker_lcores;
    int timestamp_offset = -1;    // RX timestamp dynfield (us) set by net_pcap
    uint64_t timestamp_flag = 0;
    int seqn_offset = -1;         // dispatcher sequence number dynfield
    uint64_t capture_bytes = 0;   // size of the capture file, for progress
};

// The EAL argument vector for this configuration (argv[0] included).
Result<std::vector<std::string>> eal_arguments(const Config& config);
// rte_eal_init with those arguments.
Status eal_start(const std::vector<std::string>& args);
// Creates the mempool and the ports, configures and starts them.
Result<Dataplane> dataplane_start(const Config& config);
// Stops and closes ports (flushes pcap writers), then rte_eal_cleanup.
void dataplane_stop(Dataplane& dp);

}  // namespace sluice
