#include "dataplane/ports.hpp"

#include <fmt/format.h>
#include <rte_bus_vdev.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_mbuf_pool_ops.h>
#include <rte_mempool.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace sluice {

namespace {

bool hugepages_available() {
    std::ifstream mounts("/proc/mounts");
    std::string line;
    bool mounted = false;
    while (std::getline(mounts, line))
        if (line.find(" hugetlbfs ") != std::string::npos) mounted = true;
    if (!mounted) return false;
    std::ifstream meminfo("/proc/meminfo");
    while (std::getline(meminfo, line)) {
        if (line.rfind("HugePages_Free:", 0) == 0) return std::stoul(line.substr(15)) > 0;
    }
    return false;
}

std::vector<int> allowed_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    std::vector<int> cpus;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        for (int c = 0; c < CPU_SETSIZE; ++c)
            if (CPU_ISSET(c, &set)) cpus.push_back(c);
    if (cpus.empty()) cpus.push_back(0);
    return cpus;
}

// Splits an argument string the way a shell would for plain words and quotes.
std::vector<std::string> split_args(const std::string& s) {
    std::vector<std::string> out;
    std::string cur;
    char quote = 0;
    bool have = false;
    for (char c : s) {
        if (quote) {
            if (c == quote) quote = 0;
            else cur.push_back(c);
        } else if (c == '\'' || c == '"') {
            quote = c;
            have = true;
        } else if (c == ' ' || c == '\t') {
            if (have || !cur.empty()) out.push_back(cur);
            cur.clear();
            have = false;
        } else {
            cur.push_back(c);
        }
    }
    if (have || !cur.empty()) out.push_back(cur);
    return out;
}

bool devarg_safe(const std::string& s) { return s.find_first_of(",=;") == std::string::npos && !s.empty(); }

int eal_log_level(const std::string& level) {
    if (level == "debug" || level == "trace") return 7;  // RTE_LOG_INFO: EAL's own notices
    return 4;                                          // RTE_LOG_ERR
}

Result<uint16_t> find_or_create(const std::string& name, const std::string& vdev_name, const std::string& vdev_args) {
    uint16_t port = 0;
    if (rte_eth_dev_get_port_by_name(name.c_str(), &port) == 0) return port;
    if (rte_vdev_init(vdev_name.c_str(), vdev_args.c_str()) != 0)
        return make_error(fmt::format("cannot create device {} ({}): {}", vdev_name, vdev_args, rte_strerror(rte_errno)));
    if (rte_eth_dev_get_port_by_name(vdev_name.c_str(), &port) != 0)
        return make_error(fmt::format("device {} created but has no port", vdev_name));
    return port;
}

Status configure_port(const PortDesc& p, rte_mempool* pool, const Config& config, bool want_rss) {
    rte_eth_dev_info info{};
    if (int rc = rte_eth_dev_info_get(p.id, &info); rc != 0)
        return make_error(fmt::format("port {}: cannot read device info: {}", p.label, rte_strerror(-rc)));
    rte_eth_conf conf{};
    // A symmetric key (the 0x6d5a pattern) gives both directions of a flow the same queue.
    static uint8_t symmetric_key[40];
    for (size_t i = 0; i < sizeof symmetric_key; i += 2) {
        symmetric_key[i] = 0x6d;
        symmetric_key[i + 1] = 0x5a;
    }
    if (want_rss && p.queues > 1 && info.flow_type_rss_offloads) {
        conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
        conf.rx_adv_conf.rss_conf.rss_key = symmetric_key;
        conf.rx_adv_conf.rss_conf.rss_key_len = sizeof symmetric_key;
        conf.rx_adv_conf.rss_conf.rss_hf =
            info.flow_type_rss_offloads & (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP);
    }
    if (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_TIMESTAMP) conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_TIMESTAMP;
    if (p.queues > info.max_rx_queues || p.queues > info.max_tx_queues)
        return make_error(fmt::format("port {}: {} queues wanted, the device has {} RX / {} TX", p.label, p.queues,
                                      info.max_rx_queues, info.max_tx_queues));
    if (int rc = rte_eth_dev_configure(p.id, p.queues, p.queues, &conf); rc != 0)
        return make_error(fmt::format("port {}: configure failed: {}", p.label, rte_strerror(-rc)));
    uint16_t nb_rx = static_cast<uint16_t>(config.capture.rx_descriptors);
    uint16_t nb_tx = static_cast<uint16_t>(config.capture.tx_descriptors);
    rte_eth_dev_adjust_nb_rx_tx_desc(p.id, &nb_rx, &nb_tx);
    const int socket = rte_eth_dev_socket_id(p.id) < 0 ? 0 : rte_eth_dev_socket_id(p.id);
    for (uint16_t q = 0; q < p.queues; ++q) {
        if (int rc = rte_eth_rx_queue_setup(p.id, q, nb_rx, static_cast<unsigned>(socket), nullptr, pool); rc != 0)
            return make_error(fmt::format("port {}: RX queue {} setup failed: {}", p.label, q, rte_strerror(-rc)));
        if (int rc = rte_eth_tx_queue_setup(p.id, q, nb_tx, static_cast<unsigned>(socket), nullptr); rc != 0)
            return make_error(fmt::format("port {}: TX queue {} setup failed: {}", p.label, q, rte_strerror(-rc)));
    }
    if (int rc = rte_eth_dev_start(p.id); rc != 0)
        return make_error(fmt::format("port {}: start failed: {}", p.label, rte_strerror(-rc)));
    rte_eth_promiscuous_enable(p.id);  // not every virtual device supports it
    return {};
}

// The packet pool. Virtual devices and IOVA-as-VA need no physically contiguous
// objects: saying so lets the pool be one block instead of one mbuf per 4 KiB
// page when running without hugepages (start-up in milliseconds, not seconds).
// `anonymous`: plain mmap'd memory, only for runs without hugepages.
rte_mempool* create_pool(uint32_t n, uint16_t data_room, bool anonymous) {
    const int socket = static_cast<int>(rte_socket_id());
    rte_pktmbuf_pool_private priv{};
    priv.mbuf_data_room_size = data_room;
    priv.mbuf_priv_size = 0;
    const unsigned elt = sizeof(rte_mbuf) + data_room;
    rte_mempool* mp = rte_mempool_create_empty("sluice_mbufs", n, elt, 256, sizeof priv, socket,
                                               rte_eal_iova_mode() == RTE_IOVA_VA ? RTE_MEMPOOL_F_NO_IOVA_CONTIG : 0);
    if (!mp) return nullptr;
    if (rte_mempool_set_ops_byname(mp, rte_mbuf_best_mempool_ops(), nullptr) != 0) {
        rte_mempool_free(mp);
        return nullptr;
    }
    rte_pktmbuf_pool_init(mp, &priv);
    // Without hugepages nothing is DMA-able anyway (virtual devices only):
    // anonymous memory avoids walking every 4 KiB page of the EAL's memory.
    const int populated = anonymous ? rte_mempool_populate_anon(mp) : rte_mempool_populate_default(mp);
    if (populated <= 0) {
        rte_mempool_free(mp);
        return nullptr;
    }
    rte_mempool_obj_iter(mp, rte_pktmbuf_init, nullptr);
    return mp;
}

}  // namespace

Result<std::vector<std::string>> eal_arguments(const Config& config) {
    std::vector<std::string> args = {"sluice"};
    if (!config.capture.eal.empty()) {
        for (auto& a : split_args(config.capture.eal)) args.push_back(a);
        return args;
    }
    args.push_back("--no-pci");
    const uint64_t pool_mb = (uint64_t{config.capture.mbufs} * (config.capture.mbuf_size + 400) >> 20) + 1;
    if (!hugepages_available()) {
        args.push_back("--no-huge");
        args.push_back("-m");
        args.push_back(std::to_string(std::max<uint64_t>(512, pool_mb * 2 + 256)));
    }
    args.push_back(fmt::format("--file-prefix=sluice{}", getpid()));
    // No multi-process shared config and no telemetry socket: nothing is left in
    // /var/run/dpdk, and several instances never meet.
    args.push_back("--no-shconf");
    args.push_back("--no-telemetry");
    // Main lcore plus one per worker, spread over the CPUs we may use.
    const auto cpus = allowed_cpus();
    std::string lcores;
    for (uint32_t l = 0; l <= config.workers; ++l) {
        if (!lcores.empty()) lcores += ',';
        lcores += fmt::format("{}@{}", l, cpus[l % cpus.size()]);
    }
    args.push_back("--lcores=" + lcores);
    args.push_back(fmt::format("--log-level={}", eal_log_level(config.log_level)));
    return args;
}

Status eal_start(const std::vector<std::string>& args) {
    std::vector<char*> argv;
    std::vector<std::string> copy = args;  // rte_eal_init may permute argv
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int rc = rte_eal_init(static_cast<int>(copy.size()), argv.data());
    if (rc < 0) return make_error(fmt::format("DPDK EAL initialisation failed: {}", rte_strerror(rte_errno)));
    return {};
}

Result<Dataplane> dataplane_start(const Config& config) {
    Dataplane dp;
    dp.workers = config.workers;
    unsigned lcore;
    RTE_LCORE_FOREACH_WORKER(lcore) {
        if (dp.worker_lcores.size() < config.workers) dp.worker_lcores.push_back(lcore);
    }
    if (dp.worker_lcores.size() < config.workers)
        return make_error(fmt::format("--workers {} needs {} worker lcores, the EAL has {}", config.workers,
                                      config.workers, dp.worker_lcores.size()));

    const auto& cap = config.capture;
    dp.offline = !cap.pcap.empty();
    // Virtual devices have one real queue each (a file; af_packet's kernel
    // fanout moves a flow to another queue when one fills up, which would split
    // it between workers): several workers share them through the dispatcher.
    // Ports given with --eal (real NICs) get one queue per worker and symmetric RSS.
    dp.dispatch = config.workers > 1 && (dp.offline || cap.eal.empty());
    const uint16_t queues = dp.dispatch ? 1 : static_cast<uint16_t>(config.workers);

    dp.pool = create_pool(cap.mbufs, static_cast<uint16_t>(cap.mbuf_size + RTE_PKTMBUF_HEADROOM),
                          cap.eal.empty() && !rte_eal_has_hugepages());
    if (!dp.pool)
        return make_error(fmt::format("cannot create a pool of {} mbufs: {} (lower capture.mbufs or give the EAL more memory)",
                                      cap.mbufs, rte_strerror(rte_errno)));

    auto add_port = [&](const std::string& label, const std::string& vdev, const std::string& args, bool tx) -> Status {
        auto id = find_or_create(label, vdev, args);
        if (!id) return id.error();
        PortDesc p;
        p.id = *id;
        p.label = label;
        char name[RTE_ETH_NAME_MAX_LEN] = {};
        rte_eth_dev_get_name_by_port(p.id, name);
        p.name = name;
        p.tx = tx;
        p.queues = queues;
        dp.ports.push_back(p);
        return {};
    };

    if (dp.offline) {
        if (!devarg_safe(cap.pcap) || (!cap.write_pcap.empty() && !devarg_safe(cap.write_pcap)))
            return make_error("capture file names may not contain ',', '=' or ';' (DPDK device arguments)");
        struct stat st{};
        if (stat(cap.pcap.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
            return make_error(fmt::format("--pcap {}: no such file", cap.pcap));
        if (access(cap.pcap.c_str(), R_OK) != 0) return make_error(fmt::format("--pcap {}: not readable", cap.pcap));
        dp.capture_bytes = static_cast<uint64_t>(st.st_size);
        std::string args = "rx_pcap=" + cap.pcap;
        if (!cap.write_pcap.empty()) args += ",tx_pcap=" + cap.write_pcap;
        if (cap.pcap_loop) args += ",infinite_rx=1";
        if (auto s = add_port(cap.pcap, "net_pcap0", args, !cap.write_pcap.empty()); !s) return s.error();
    } else if (!cap.inline_ifaces.empty()) {
        for (size_t i = 0; i < cap.inline_ifaces.size(); ++i) {
            const auto& name = cap.inline_ifaces[i];
            if (!devarg_safe(name)) return make_error(fmt::format("--inline: bad interface name '{}'", name));
            const std::string args = fmt::format("iface={},qpairs={},qdisc_bypass=0", name, queues);
            if (auto s = add_port(name, fmt::format("net_af_packet{}", i), args, true); !s) return s.error();
        }
        dp.ports[0].peer = 1;
        dp.ports[1].peer = 0;
    } else if (!cap.iface.empty()) {
        if (!devarg_safe(cap.iface)) return make_error(fmt::format("--iface: bad interface name '{}'", cap.iface));
        const std::string args = fmt::format("iface={},qpairs={},qdisc_bypass=0", cap.iface, queues);
        if (auto s = add_port(cap.iface, "net_af_packet0", args, false); !s) return s.error();
    } else {
        return make_error("nothing to read: give --pcap FILE, --iface NAME or --inline A,B");
    }

    for (const auto& p : dp.ports)
        if (auto s = configure_port(p, dp.pool, config, !dp.offline); !s) return s.error();

    // net_pcap stamps each packet with its capture time in this dynfield (us).
    int off = -1;
    uint64_t flag = 0;
    if (rte_mbuf_dyn_rx_timestamp_register(&off, &flag) == 0) {
        dp.timestamp_offset = off;
        dp.timestamp_flag = flag;
    }
    if (dp.dispatch) {
        static const rte_mbuf_dynfield desc = {"sluice_dispatch_seqn", sizeof(uint64_t), alignof(uint64_t), 0};
        dp.seqn_offset = rte_mbuf_dynfield_register(&desc);
        if (dp.seqn_offset < 0) return make_error("cannot register the dispatcher's mbuf field");
    }
    return dp;
}

void dataplane_stop(Dataplane& dp) {
    for (const auto& p : dp.ports) {
        rte_eth_dev_stop(p.id);
        rte_eth_dev_close(p.id);
    }
    dp.ports.clear();
    if (dp.pool) rte_mempool_free(dp.pool);
    dp.pool = nullptr;
    rte_eal_cleanup();
    // The EAL's runtime folder (/var/run/dpdk/<prefix>): ours, empty or not.
    std::error_code ec;
    std::filesystem::remove_all(fmt::format("/var/run/dpdk/sluice{}", getpid()), ec);
}

}  // namespace sluice
