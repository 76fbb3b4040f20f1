// Config: the whole run-time configuration of one sluice process, as typed
// values. It is built once at start-up (and again on reload) from the YAML file
// and the command line by app/config_loader, validated against the schema in
// app/config_schema (habit 6: every key has a type, default, range and help
// text in one table), and then only read. Dataplane units receive the small
// structs they need (StreamLimits, FlowTimeouts, ...), never the whole Config.
// Thread rules: immutable after loading; shared by pointer.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "dataplane/address_spec.hpp"
#include "dataplane/flow_table.hpp"
#include "dataplane/ip_addr.hpp"
#include "dataplane/tcp_reassembly.hpp"
#include "detectors/applayer/applayer_config.hpp"
#include "detectors/appid/appid_config.hpp"
#include "detectors/files/files_config.hpp"
#include "detectors/ot/ot_config.hpp"
#include "detectors/ot_policy/ot_policy_config.hpp"
#include "detectors/smb/smb_config.hpp"

namespace sluice {

enum class RunMode : uint8_t { ids, ips };
enum class MalformedPolicy : uint8_t { forward, drop };

// A verdict the L3/L4 filter can give a flow.
enum class FilterAction : uint8_t {
    allow,        // go on to the detectors
    bypass,       // forward without inspection
    drop,         // drop this packet and every later one of the flow
    drop_packet,  // drop this packet only (the next one is filtered again)
    reject,       // drop, and reset the connection (TCP RST both ways, ICMP unreachable for UDP)
};

struct FilterRule {
    std::string name;
    FilterAction action = FilterAction::allow;
    // 0 = any IP protocol; otherwise the IP protocol number (6 tcp, 17 udp, 1 icmp, 58 icmpv6).
    uint8_t ip_proto = 0;
    IpRangeSet src;           // finalized; "any" when not given
    IpRangeSet dst;
    PortSet src_ports;
    PortSet dst_ports;
    bool both_directions = false;  // also match with source and destination swapped
    std::string where;             // "file:line" of the rule, for logs
};

struct FilterConfig {
    FilterAction default_action = FilterAction::allow;
    FilterAction non_ip = FilterAction::allow;  // ARP, LLDP, ...: allow (forward) or drop
    std::vector<FilterRule> rules;
};

struct CaptureConfig {
    std::string pcap;                  // offline input (net_pcap rx_pcap)
    bool pcap_loop = false;            // replay the file forever (benchmarks: infinite_rx)
    std::string write_pcap;            // write what is forwarded (net_pcap tx_pcap)
    std::string iface;                 // SPAN: one interface, receive only
    std::vector<std::string> inline_ifaces;  // inline: exactly two, bridged both ways
    std::string eal;                   // raw EAL arguments (real NICs); empty = vdev defaults
    uint32_t burst = 32;
    uint32_t mbufs = 16384;            // mbufs in the packet pool
    uint32_t mbuf_size = 2048;         // data bytes per mbuf (larger frames are chained)
    uint32_t rx_descriptors = 1024;
    uint32_t tx_descriptors = 1024;
    uint32_t idle_sleep_us = 0;        // sleep when a poll finds nothing (0 = busy poll)
    uint32_t hold_packets = 256;       // per worker: packets parked waiting for a verdict (ips)
};

struct EveConfig {
    std::string file = "eve.json";
    std::vector<std::string> types = {"alert", "anomaly", "flow", "stats", "fileinfo", "drop"};
    bool payload = false;             // alert: payload excerpt (base64 + printable)
    uint32_t payload_max = 256;       // bytes of payload in an excerpt
    uint32_t stats_interval_s = 30;   // periodic stats events when live (0 = only at exit)
    uint32_t ring_bytes = 4u << 20;   // per-worker event ring
};

struct MetricsConfig {
    bool enabled = true;
    std::string listen = "127.0.0.1:9977";
};

struct ControlConfig {
    std::string socket = "/run/sluice/sluice.sock";  // "" disables the control socket
};

struct DefragConfig {
    bool enabled = true;
    uint32_t max_datagrams = 1024;   // per worker, in reassembly at once
    uint32_t timeout_s = 60;
};

struct RulesConfig {
    std::vector<std::string> files;       // rule files and folders (Suricata rule language)
    std::string classification;           // classification.config ("" = the bundled one)
    std::string cache_dir;                // compiled-database cache ("" = off)
    bool pcre_hyperscan = true;           // compile pcre to Hyperscan where it can
};

struct DetectConfig {
    uint32_t stream_window_bytes = 2048;  // bytes of each direction kept for matches across chunks
    uint32_t threshold_table_entries = 65536;
    uint32_t max_alerts_per_inspection = 64;
};

struct Config {
    std::string source;  // the config file's path, or "" for defaults only
    RunMode mode = RunMode::ids;
    uint32_t workers = 1;
    std::string log_level = "info";
    CaptureConfig capture;
    EveConfig eve;
    MetricsConfig metrics;
    ControlConfig control;
    uint32_t flow_capacity = 262144;  // per worker
    FlowTimeouts flow_timeouts;
    StreamLimits stream;
    uint64_t stream_memcap = 64u << 20;  // per worker, bytes of out-of-order data
    DefragConfig defrag;
    MalformedPolicy malformed = MalformedPolicy::forward;
    FilterConfig filter;
    RulesConfig rules;
    DetectConfig detect;
    AppLayerConfig applayer;
    AppIdConfig appid;
    OtConfig ot;
    OtPolicyConfig ot_policy;
    SmbConfig smb;              // smb.* (detectors/smb, docs/smb.md)
    bool smb_enabled = true;    // smb.enabled: decode SMB flows, carve and log files
    MalwareConfig malware;      // malware.* (detectors/files, detectors/malware, docs/malware.md)
    // Suricata-style variables for rules and filters: name (without '$') -> text.
    VarMap address_groups;
    VarMap port_groups;
};

}  // namespace sluice
