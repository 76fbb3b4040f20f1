#include "app/config_schema.hpp"
#include "signatures/rule_vars.hpp"
#include "dataplane/text.hpp"

#include "app/cli.hpp"  // the command line section of the reference

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <optional>
#include <type_traits>

namespace sluice {

namespace {

constexpr uint64_t KiB = 1024;
constexpr uint64_t MiB = 1024 * KiB;
constexpr uint64_t GiB = 1024 * MiB;
constexpr uint64_t TiB = 1024 * GiB;
constexpr uint64_t kMinute = 60;
constexpr uint64_t kHour = 3600;
constexpr uint64_t kDay = 86400;

// ---- helpers for the table ---------------------------------------------------

Status check_no_control_chars(std::string_view text) {
    for (char ch : text)
        if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) return make_error("contains a control character");
    return {};
}

Status check_socket_path(std::string_view text) {
    if (text.size() > 107) return make_error(fmt::format("a socket path is at most 107 bytes, got {}", text.size()));
    return {};
}

Status check_pcap_path(std::string_view text) {
    // net_pcap takes the path inside a devargs string; ',' would split it there.
    if (text.find(',') != std::string_view::npos) return make_error("a capture path may not contain ','");
    return {};
}

Status check_readable_file(std::string_view text) {
    if (text.empty()) return {};
    const std::string path(text);
    if (std::FILE* f = std::fopen(path.c_str(), "r")) {
        std::fclose(f);
        return {};
    }
    return make_error("cannot read this file");
}

// Binds a key to a Config field: the apply and get functions of the table.
#define BIND_NUMBER(field)                                                                  \
    [](Config& c, const ConfigValue& v) -> Status {                                         \
        c.field = static_cast<std::remove_cvref_t<decltype(c.field)>>(v.number);            \
        return {};                                                                          \
    },                                                                                      \
        [](const Config& c) {                                                               \
            ConfigValue v;                                                                  \
            v.number = static_cast<uint64_t>(c.field);                                      \
            return v;                                                                       \
        }
#define BIND_FLAG(field)                                                                    \
    [](Config& c, const ConfigValue& v) -> Status {                                         \
        c.field = v.flag;                                                                   \
        return {};                                                                          \
    },                                                                                      \
        [](const Config& c) {                                                               \
            ConfigValue v;                                                                  \
            v.flag = c.field;                                                               \
            return v;                                                                       \
        }
#define BIND_TEXT(field)                                                                    \
    [](Config& c, const ConfigValue& v) -> Status {                                         \
        c.field = v.text;                                                                   \
        return {};                                                                          \
    },                                                                                      \
        [](const Config& c) {                                                               \
            ConfigValue v;                                                                  \
            v.text = c.field;                                                               \
            return v;                                                                       \
        }
#define BIND_LIST(field)                                                                    \
    [](Config& c, const ConfigValue& v) -> Status {                                         \
        c.field = v.list;                                                                   \
        return {};                                                                          \
    },                                                                                      \
        [](const Config& c) {                                                               \
            ConfigValue v;                                                                  \
            v.list = c.field;                                                               \
            return v;                                                                       \
        }
#define BIND_MAP(field)                                                                     \
    [](Config& c, const ConfigValue& v) -> Status {                                         \
        c.field = v.map;                                                                    \
        return {};                                                                          \
    },                                                                                      \
        [](const Config& c) {                                                               \
            ConfigValue v;                                                                  \
            v.map = c.field;                                                                \
            return v;                                                                       \
        }
// A choice whose index in the key's choices equals the enum value.
#define BIND_ENUM(field)                                                                    \
    [](Config& c, const ConfigValue& v) -> Status {                                         \
        c.field = static_cast<std::remove_cvref_t<decltype(c.field)>>(v.number);            \
        return {};                                                                          \
    },                                                                                      \
        [](const Config& c) {                                                               \
            ConfigValue v;                                                                  \
            v.number = static_cast<uint64_t>(c.field);                                      \
            return v;                                                                       \
        }
// Flow timeouts by protocol class and state.
#define BIND_TIMEOUT(pc, st) BIND_NUMBER(flow_timeouts.seconds[static_cast<size_t>(ProtoClass::pc)][static_cast<size_t>(FlowState::st)])

Status apply_inline(Config& c, const ConfigValue& v) {
    if (!v.list.empty() && v.list.size() != 2)
        return make_error(fmt::format("expected two interface names (\"A,B\" or a list of two), got {}", v.list.size()));
    if (v.list.size() == 2 && v.list[0] == v.list[1]) return make_error("the two inline interfaces must differ, got \"" + v.list[0] + "\" twice");
    c.capture.inline_ifaces = v.list;
    return {};
}
ConfigValue get_inline(const Config& c) {
    ConfigValue v;
    v.list = c.capture.inline_ifaces;
    return v;
}

Status apply_non_ip(Config& c, const ConfigValue& v) {
    c.filter.non_ip = v.number == 0 ? FilterAction::allow : FilterAction::drop;
    return {};
}
ConfigValue get_non_ip(const Config& c) {
    ConfigValue v;
    v.number = c.filter.non_ip == FilterAction::drop ? 1 : 0;
    return v;
}

ConfigValue get_nothing(const Config&) { return {}; }

// malware.* keys whose Config field has another unit or type than the key.
Status check_cpu_number(std::string_view text) {
    if (text.empty() || text.size() > 4 || text.find_first_not_of("0123456789") != std::string_view::npos)
        return make_error(fmt::format("expected a CPU number 0-1023, got \"{}\"", text));
    if (std::stoul(std::string(text)) > 1023) return make_error(fmt::format("expected a CPU number 0-1023, got {}", text));
    return {};
}
// A list of CPU numbers (each checked by check_cpu_number) into a Config
// member and back; Field::of(config) names the member.
template <typename Field>
Status apply_cpus(Config& c, const ConfigValue& v) {
    auto& cpus = Field::of(c);
    cpus.clear();
    for (const auto& item : v.list) cpus.push_back(static_cast<unsigned>(std::stoul(item)));
    return {};
}
template <typename Field>
ConfigValue get_cpus(const Config& c) {
    ConfigValue v;
    for (unsigned cpu : Field::of(c)) v.list.push_back(std::to_string(cpu));
    return v;
}
struct ScannerCpus {
    static auto& of(Config& c) { return c.malware.scan.scanner_cpus; }
    static const auto& of(const Config& c) { return c.malware.scan.scanner_cpus; }
};
struct CarverCpus {
    static auto& of(Config& c) { return c.smb.offload_cpus; }
    static const auto& of(const Config& c) { return c.smb.offload_cpus; }
};
Status apply_max_scan_time(Config& c, const ConfigValue& v) {
    c.malware.scan.max_scan_time_ms = static_cast<uint32_t>(v.number * 1000);
    return {};
}
ConfigValue get_max_scan_time(const Config& c) {
    ConfigValue v;
    v.number = c.malware.scan.max_scan_time_ms / 1000;
    return v;
}
Status apply_reload_drain(Config& c, const ConfigValue& v) {
    c.malware.scan.reload_drain_ms = static_cast<uint32_t>(v.number * 1000);
    return {};
}
ConfigValue get_reload_drain(const Config& c) {
    ConfigValue v;
    v.number = c.malware.scan.reload_drain_ms / 1000;
    return v;
}

constexpr std::string_view kEveTypes = "alert|anomaly|drop|flow|stats|fileinfo|http|dns|tls|smb|modbus|s7comm|dnp3|iec104|enip";
constexpr std::string_view kActions = "allow|bypass|drop|drop-packet|reject";

// clang-format off
const ConfigKey kKeys[] = {
    {"mode", KeyType::choice, "ids", 0, 0, "ids|ips",
     "ids: observe and log what verdicts would do, never drop; ips: enforce verdicts (needs capture.inline or a capture file).",
     "--mode ids|ips", nullptr, BIND_ENUM(mode)},
    {"workers", KeyType::integer, "1", 1, 128, {},
     "Worker lcores; each polls its own queue of every port. A capture file is read by one queue, so extra workers share its flows by a symmetric hash.",
     "--workers N", nullptr, BIND_NUMBER(workers)},
    {"log-level", KeyType::choice, "info", 0, 0, "trace|debug|info|warning|error|critical|off",
     "Lowest severity written to the log.", "--log-level LEVEL", nullptr, BIND_TEXT(log_level)},

    {"capture.pcap", KeyType::string, "", 0, 0, {},
     "Read packets from this capture file (offline, net_pcap) and stop at its end. Set only one of pcap, iface and inline.",
     "--pcap FILE", check_pcap_path, BIND_TEXT(capture.pcap)},
    {"capture.pcap-loop", KeyType::boolean, "false", 0, 0, {},
     "Replay the capture file forever (benchmarks).", "--pcap-loop", nullptr, BIND_FLAG(capture.pcap_loop)},
    {"capture.write-pcap", KeyType::string, "", 0, 0, {},
     "Write every forwarded packet to this capture file (\"\" = do not write).", "--write-pcap FILE", check_pcap_path,
     BIND_TEXT(capture.write_pcap)},
    {"capture.iface", KeyType::string, "", 0, 0, {},
     "Receive only, from this interface (a SPAN or mirror port, net_af_packet).", "--iface NAME",
     [](std::string_view t) { return t.empty() ? Status{} : check_interface_name(t); }, BIND_TEXT(capture.iface)},
    {"capture.inline", KeyType::string_list, "", 0, 0, {},
     "Bridge these two interfaces both ways (\"A,B\" or a list of two); verdicts apply to what crosses.",
     "--inline A,B", check_interface_name, apply_inline, get_inline},
    {"capture.eal", KeyType::string, "", 0, 0, {},
     "Raw DPDK EAL arguments for real NICs (e.g. \"-l 0-3 -a 0000:01:00.0\"); \"\" = virtual devices and --no-huge when no hugepages are mounted.",
     "--eal \"ARGS\"", nullptr, BIND_TEXT(capture.eal)},
    {"capture.burst", KeyType::integer, "32", 1, 512, {},
     "Packets received and processed per poll.", "", nullptr, BIND_NUMBER(capture.burst)},
    {"capture.mbufs", KeyType::integer, "16384", 1024, 16777216, {},
     "Packet buffers in the pool shared by all ports.", "", nullptr, BIND_NUMBER(capture.mbufs)},
    {"capture.mbuf-size", KeyType::size, "2KiB", 128, 9 * KiB, {},
     "Data bytes per packet buffer; larger frames use several (chained). Small buffers let a benchmark keep a "
     "million-packet capture in memory.", "", nullptr, BIND_NUMBER(capture.mbuf_size)},
    {"capture.rx-descriptors", KeyType::integer, "1024", 64, 32768, {},
     "Receive ring size of each queue.", "", nullptr, BIND_NUMBER(capture.rx_descriptors)},
    {"capture.tx-descriptors", KeyType::integer, "1024", 64, 32768, {},
     "Transmit ring size of each queue.", "", nullptr, BIND_NUMBER(capture.tx_descriptors)},
    {"capture.idle-sleep-us", KeyType::integer, "0", 0, 100000, {},
     "Microseconds a worker sleeps when a poll finds nothing (0 = busy polling, lowest latency).", "", nullptr,
     BIND_NUMBER(capture.idle_sleep_us)},
    {"capture.hold-packets", KeyType::integer, "256", 1, 65536, {},
     "Per worker: packets that may be parked at once waiting for a verdict (ips mode, e.g. the write that completes a file "
     "being scanned); when full, the detector's fail-open/fail-closed policy applies.", "", nullptr,
     BIND_NUMBER(capture.hold_packets)},

    {"eve.file", KeyType::string, "eve.json", 0, 0, {},
     "EVE JSON-lines event log (Suricata's field names).", "--eve FILE", nullptr, BIND_TEXT(eve.file)},
    {"eve.types", KeyType::string_list, "alert,anomaly,flow,stats,fileinfo,drop", 0, 0, kEveTypes,
     "Event types written to the log.", "", nullptr, BIND_LIST(eve.types)},
    {"eve.payload", KeyType::boolean, "false", 0, 0, {},
     "Add a payload excerpt (base64 and printable) to alerts.", "", nullptr, BIND_FLAG(eve.payload)},
    {"eve.payload-max", KeyType::size, "256", 0, 64 * KiB, {},
     "Bytes of payload in an excerpt.", "", nullptr, BIND_NUMBER(eve.payload_max)},
    {"eve.stats-interval", KeyType::duration, "30s", 0, kDay, {},
     "Period of stats events on live capture (0 = only at exit).", "", nullptr, BIND_NUMBER(eve.stats_interval_s)},
    {"eve.ring-bytes", KeyType::size, "4MiB", 64 * KiB, GiB, {},
     "Per-worker ring of events waiting for the writer; when full, events are dropped and counted. One event may take a quarter of it (64 KiB at most); a larger one is dropped and counted (too_large).", "", nullptr,
     BIND_NUMBER(eve.ring_bytes)},

    {"metrics.enabled", KeyType::boolean, "true", 0, 0, {},
     "Serve Prometheus metrics.", "--no-metrics", nullptr, BIND_FLAG(metrics.enabled)},
    {"metrics.listen", KeyType::string, "127.0.0.1:9977", 0, 0, {},
     "Address and port of the metrics endpoint: \"ADDR:PORT\", or \"[ADDR]:PORT\" for IPv6.", "--metrics ADDR:PORT",
     check_listen_address, BIND_TEXT(metrics.listen)},

    {"control.socket", KeyType::string, "/run/sluice/sluice.sock", 0, 0, {},
     "Unix socket of the control interface (sluice ctl); \"\" = none.", "--control PATH", check_socket_path,
     BIND_TEXT(control.socket)},

    {"flow.capacity", KeyType::integer, "262144", 1, 67108864, {},
     "Flows per worker, allocated at start; when full the stalest flow is evicted (counted).", "", nullptr,
     BIND_NUMBER(flow_capacity)},
    {"flow.timeouts.tcp.new", KeyType::duration, "1m", 1, kDay, {},
     "Idle timeout of a TCP flow before the handshake completes.", "", nullptr, BIND_TIMEOUT(tcp, new_)},
    {"flow.timeouts.tcp.established", KeyType::duration, "10m", 1, kDay, {},
     "Idle timeout of an established TCP flow.", "", nullptr, BIND_TIMEOUT(tcp, established)},
    {"flow.timeouts.tcp.closed", KeyType::duration, "1m", 0, kDay, {},
     "Timeout of a TCP flow after FIN or RST (0 = as new).", "", nullptr, BIND_TIMEOUT(tcp, closed)},
    {"flow.timeouts.udp.new", KeyType::duration, "30s", 1, kDay, {},
     "Idle timeout of a UDP flow seen in one direction only.", "", nullptr, BIND_TIMEOUT(udp, new_)},
    {"flow.timeouts.udp.established", KeyType::duration, "5m", 1, kDay, {},
     "Idle timeout of a UDP flow seen in both directions.", "", nullptr, BIND_TIMEOUT(udp, established)},
    {"flow.timeouts.udp.closed", KeyType::duration, "0s", 0, kDay, {},
     "UDP has no closed state; 0 = as new.", "", nullptr, BIND_TIMEOUT(udp, closed)},
    {"flow.timeouts.icmp.new", KeyType::duration, "30s", 1, kDay, {},
     "Idle timeout of an ICMP flow seen in one direction only.", "", nullptr, BIND_TIMEOUT(icmp, new_)},
    {"flow.timeouts.icmp.established", KeyType::duration, "5m", 1, kDay, {},
     "Idle timeout of an ICMP flow seen in both directions.", "", nullptr, BIND_TIMEOUT(icmp, established)},
    {"flow.timeouts.icmp.closed", KeyType::duration, "0s", 0, kDay, {},
     "ICMP has no closed state; 0 = as new.", "", nullptr, BIND_TIMEOUT(icmp, closed)},
    {"flow.timeouts.other.new", KeyType::duration, "30s", 1, kDay, {},
     "Idle timeout of a flow of another IP protocol seen in one direction only.", "", nullptr, BIND_TIMEOUT(other, new_)},
    {"flow.timeouts.other.established", KeyType::duration, "5m", 1, kDay, {},
     "Idle timeout of a flow of another IP protocol seen in both directions.", "", nullptr, BIND_TIMEOUT(other, established)},
    {"flow.timeouts.other.closed", KeyType::duration, "0s", 0, kDay, {},
     "Other protocols have no closed state; 0 = as new.", "", nullptr, BIND_TIMEOUT(other, closed)},

    {"stream.memcap", KeyType::size, "64MiB", MiB, 64 * GiB, {},
     "Per worker: out-of-order TCP data buffered at once, all flows together.", "", nullptr, BIND_NUMBER(stream_memcap)},
    {"stream.max-ooo-bytes", KeyType::size, "256KiB", 0, GiB, {},
     "Per flow and direction: out-of-order bytes buffered before the oldest hole is reported as a gap.", "", nullptr,
     BIND_NUMBER(stream.max_ooo_bytes)},
    {"stream.max-ooo-distance", KeyType::size, "16MiB", 0, GiB, {},
     "Data further ahead of the next expected byte than this is ignored.", "", nullptr, BIND_NUMBER(stream.max_ooo_distance)},
    {"stream.depth", KeyType::size, "0", 0, TiB, {},
     "Bytes per direction handed to detectors (0 = the whole stream).", "", nullptr, BIND_NUMBER(stream.depth)},
    {"stream.midstream", KeyType::boolean, "true", 0, 0, {},
     "Pick up TCP connections whose handshake was not seen.", "", nullptr, BIND_FLAG(stream.midstream)},

    {"defrag.enabled", KeyType::boolean, "true", 0, 0, {},
     "Reassemble IPv4 and IPv6 fragments before inspection.", "", nullptr, BIND_FLAG(defrag.enabled)},
    {"defrag.max-datagrams", KeyType::integer, "1024", 1, 1048576, {},
     "Per worker: datagrams in reassembly at once; beyond, fragments are dropped and counted.", "", nullptr,
     BIND_NUMBER(defrag.max_datagrams)},
    {"defrag.timeout", KeyType::duration, "1m", 1, kHour, {},
     "Time a datagram may wait for its missing fragments.", "", nullptr, BIND_NUMBER(defrag.timeout_s)},

    {"malformed.policy", KeyType::choice, "forward", 0, 0, "forward|drop",
     "What happens to packets that fail to decode (counted by reason either way).", "", nullptr, BIND_ENUM(malformed)},

    {"filter.default-action", KeyType::choice, "allow", 0, 0, kActions,
     "Verdict for flows no filter rule matches; drop makes the rules an allow-list (every port closed except those allowed).",
     "", nullptr, BIND_ENUM(filter.default_action)},
    {"filter.non-ip", KeyType::choice, "allow", 0, 0, "allow|drop",
     "Verdict for frames that are not IP (ARP, LLDP, ...).", "", nullptr, apply_non_ip, get_non_ip},
    {"filter.rules", KeyType::filter_rules, "", 0, 0, {},
     "L3/L4 filter rules, first match wins, evaluated on the first packet of each flow before any detector.", "", nullptr,
     nullptr, get_nothing},

    {"rules.files", KeyType::string_list, "", 0, 0, {},
     "Signature rule files and folders (Suricata's rule language; a folder means every *.rules in it); --rules FILE adds one. "
     "Empty: no signature inspection.", "--rules FILE", nullptr, BIND_LIST(rules.files)},
    {"rules.classification", KeyType::string, "", 0, 0, {},
     "classification.config giving alert categories and default priorities (\"\" = the bundled copy).", "", nullptr,
     BIND_TEXT(rules.classification)},
    {"rules.cache-dir", KeyType::string, "", 0, 0, {},
     "Folder for compiled Hyperscan databases, keyed by the rule text, variables and Hyperscan version, so a restart "
     "with the same rules skips compilation (\"\" = no cache).", "", nullptr, BIND_TEXT(rules.cache_dir)},
    {"rules.pcre-hyperscan", KeyType::boolean, "true", 0, 0, {},
     "Compile pcre to Hyperscan where the pattern allows (PCRE2 JIT otherwise).", "", nullptr,
     BIND_FLAG(rules.pcre_hyperscan)},

    {"detect.stream-window-bytes", KeyType::size, "2KiB", 64, 1 * MiB, {},
     "Bytes of each TCP direction kept per flow so that signatures match across segment boundaries.", "", nullptr,
     BIND_NUMBER(detect.stream_window_bytes)},
    {"detect.threshold-table-entries", KeyType::integer, "65536", 64, 16777216, {},
     "Per worker: threshold/detection_filter trackers (the oldest is reused when full).", "", nullptr,
     BIND_NUMBER(detect.threshold_table_entries)},
    {"detect.max-alerts-per-inspection", KeyType::integer, "64", 1, 65536, {},
     "Alert events written per inspected packet, chunk or transaction (further matches still decide the verdict).",
     "", nullptr, BIND_NUMBER(detect.max_alerts_per_inspection)},

    {"applayer.http.request-body-limit", KeyType::size, "100KiB", 0, 64 * MiB, {},
     "HTTP request body bytes kept for http.request_body.", "", nullptr, BIND_NUMBER(applayer.http_request_body_limit)},
    {"applayer.http.response-body-limit", KeyType::size, "100KiB", 0, 64 * MiB, {},
     "HTTP response body bytes (after dechunking and decompression) kept for http.response_body and file.data.", "",
     nullptr, BIND_NUMBER(applayer.http_response_body_limit)},
    {"applayer.http.max-header-line", KeyType::size, "8KiB", 256, 1 * MiB, {},
     "Longest HTTP start or header line; a longer one gives the flow up (counted).", "", nullptr,
     BIND_NUMBER(applayer.http_max_header_line)},
    {"applayer.http.max-header-bytes", KeyType::size, "32KiB", 1 * KiB, 16 * MiB, {},
     "Largest HTTP header block of one message.", "", nullptr, BIND_NUMBER(applayer.http_max_header_bytes)},
    {"applayer.http.max-headers", KeyType::integer, "128", 1, 4096, {},
     "Header lines of one HTTP message.", "", nullptr, BIND_NUMBER(applayer.http_max_headers)},
    {"applayer.http.max-pending-requests", KeyType::integer, "16", 1, 1024, {},
     "Pipelined HTTP requests remembered for their responses.", "", nullptr,
     BIND_NUMBER(applayer.http_max_pending_requests)},
    {"applayer.http.decompress", KeyType::boolean, "true", 0, 0, {},
     "Gunzip/inflate HTTP bodies before inspection.", "", nullptr, BIND_FLAG(applayer.http_decompress)},
    {"applayer.dns.max-tcp-message", KeyType::size, "65535", 12, 65535, {},
     "Largest DNS-over-TCP message.", "", nullptr, BIND_NUMBER(applayer.dns_max_tcp_message)},
    {"applayer.dns.max-records", KeyType::integer, "32", 1, 64, {},
     "Answer/authority records decoded per DNS message (EVE).", "", nullptr, BIND_NUMBER(applayer.dns_max_records)},
    {"applayer.tls.max-handshake-bytes", KeyType::size, "32KiB", 1 * KiB, 16 * MiB, {},
     "Buffered bytes of one TLS handshake message.", "", nullptr, BIND_NUMBER(applayer.tls_max_handshake_bytes)},

    {"ot-policy.file", KeyType::string, "", 0, 0, {},
     "OT allow-list policy to enforce (YAML, docs/ot-policy.md); read again on reload. \"\" = none.", "--policy FILE",
     nullptr, BIND_TEXT(ot_policy.file)},
    {"ot-policy.learn-file", KeyType::string, "", 0, 0, {},
     "Learn mode: record every OT request seen and write a policy of them to this file at exit. \"\" = off.",
     "--learn FILE", nullptr, BIND_TEXT(ot_policy.learn_file)},
    {"ot-policy.inventory", KeyType::boolean, "true", 0, 0, {},
     "Keep the OT asset inventory (sluice ctl assets, sluice_ot_assets) while ot.enabled, with no policy or learning too.",
     "", nullptr, BIND_FLAG(ot_policy.inventory)},
    {"ot-policy.max-rules", KeyType::integer, "65536", 1, 1048576, {},
     "Most assets, zones and rules a policy file may hold together.", "", nullptr, BIND_NUMBER(ot_policy.max_rules)},
    {"ot-policy.max-assets", KeyType::integer, "4096", 1, 1048576, {},
     "Per worker: OT assets in the inventory (about 96 bytes each, allocated at start); beyond, new ones are counted only.",
     "", nullptr, BIND_NUMBER(ot_policy.max_assets)},
    {"ot-policy.learn-max-entries", KeyType::integer, "16384", 1, 4194304, {},
     "Per worker, in learn mode: distinct operations recorded (about 200 bytes each, allocated at start); beyond, the learned policy is marked incomplete.",
     "", nullptr, BIND_NUMBER(ot_policy.learn_max_entries)},
    {"ot-policy.learn-max-ranges", KeyType::integer, "8", 1, 64, {},
     "In learn mode: address ranges kept per operation; beyond, the two closest ranges are joined.", "", nullptr,
     BIND_NUMBER(ot_policy.learn_max_ranges)},
    {"ot-policy.max-denial-kinds", KeyType::integer, "128", 1, 1024, {},
     "Per worker: (protocol, function) pairs counted apart in sluice_ot_policy_denials_total; beyond, function=\"other\".",
     "", nullptr, BIND_NUMBER(ot_policy.max_denial_kinds)},

    {"appid.enabled", KeyType::boolean, "true", 0, 0, {},
     "Classify every flow with nDPI: app_proto (rules' app-layer-protocol), app_proto_ndpi in flow events, flows and bytes per protocol in metrics.",
     "", nullptr, BIND_FLAG(appid.enabled)},
    {"appid.max-tcp-packets", KeyType::integer, "80", 1, 65535, {},
     "nDPI gives up on a TCP flow after this many packets (both directions) without a verdict and guesses from ports and addresses (ndpiReader: 80).",
     "", nullptr, BIND_NUMBER(appid.max_tcp_packets)},
    {"appid.max-udp-packets", KeyType::integer, "24", 1, 65535, {},
     "The same for UDP and other IP protocols (ndpiReader: 24).", "", nullptr, BIND_NUMBER(appid.max_udp_packets)},
    {"appid.max-flows-in-detection", KeyType::integer, "16384", 1, 16777216, {},
     "Per worker: flows nDPI looks at at once (704 bytes of nDPI state each, allocated as needed, freed at the verdict); when all are taken the oldest gives up.",
     "", nullptr, BIND_NUMBER(appid.max_flows_in_detection)},
    {"appid.protocols-file", KeyType::string, "", 0, 0, {},
     "nDPI protocols file (ndpiReader -p format): custom protocols by port, host name or address (\"\" = none).", "",
     check_readable_file, BIND_TEXT(appid.protocols_file)},

    {"ot.enabled", KeyType::boolean, "true", 0, 0, {},
     "Decode Modbus/TCP (502), S7comm (102), DNP3 (20000), IEC-104 (2404) and EtherNet/IP (44818, UDP 2222) flows, or flows nDPI names so: records for rules and the OT policy, EVE events of those types.",
     "", nullptr, BIND_FLAG(ot.enabled)},
    {"modbus.max-pending-transactions", KeyType::integer, "16", 1, 32, {},
     "Per Modbus flow: requests awaiting their response; when full the oldest is dropped (counted).", "", nullptr,
     BIND_NUMBER(ot.modbus_max_pending_transactions)},
    {"dnp3.max-fragment-size", KeyType::size, "2048", 249, 2048, {},
     "Largest DNP3 application fragment reassembled from transport segments; longer ones are dropped (counted).", "",
     nullptr, BIND_NUMBER(ot.dnp3_max_fragment_size)},
    {"s7comm.max-pdu-size", KeyType::size, "1024", 240, 1024, {},
     "Largest S7 PDU reassembled from COTP segments; longer ones are dropped (counted).", "", nullptr,
     BIND_NUMBER(ot.s7comm_max_pdu_size)},

    {"smb.enabled", KeyType::boolean, "true", 0, 0, {},
     "Decode SMB1/SMB2/SMB3 on TCP 445 and 139 (and flows nDPI names smb): smb events per transaction, every file read or written "
     "carved into a fileinfo event and, with malware.db-dir, scanned by ClamAV (docs/smb.md).",
     "", nullptr, BIND_FLAG(smb_enabled)},
    {"smb.max-pdu-size", KeyType::size, "16777215", 1024, 16777215, {},
     "SMB messages longer than this (NetBIOS length) are skipped by their length without buffering (counted).", "", nullptr,
     BIND_NUMBER(smb.max_pdu_size)},
    {"smb.pdu-buffer-size", KeyType::size, "128KiB", 4 * KiB, 16 * MiB, {},
     "Per flow and direction: bytes of one SMB message buffered, not counting file data, which is streamed straight into the "
     "file; a message needing more is skipped (counted).", "", nullptr, BIND_NUMBER(smb.pdu_buffer_size)},
    {"smb.max-open-files", KeyType::integer, "256", 1, 65536, {},
     "Per flow: open files tracked; when full the least recently used one is finished (TRUNCATED if incomplete).", "", nullptr,
     BIND_NUMBER(smb.max_open_files)},
    {"smb.max-trees", KeyType::integer, "32", 1, 4096, {},
     "Per flow: tree connects (shares) tracked.", "", nullptr, BIND_NUMBER(smb.max_trees)},
    {"smb.max-pending", KeyType::integer, "512", 1, 65536, {},
     "Per flow: requests awaiting their response; the oldest is dropped when full (counted).", "", nullptr,
     BIND_NUMBER(smb.max_pending)},
    {"smb.max-sessions", KeyType::integer, "16", 1, 4096, {},
     "Per flow: sessions remembered for once-per-session reports (encrypted, signed).", "", nullptr,
     BIND_NUMBER(smb.max_sessions)},
    {"smb.max-chain", KeyType::integer, "32", 1, 1024, {},
     "Commands followed in one SMB1 AndX chain or SMB2 compound message.", "", nullptr, BIND_NUMBER(smb.max_chain)},
    {"smb.max-name-bytes", KeyType::size, "1024", 16, 65536, {},
     "UTF-8 bytes kept of a file name or share path (longer ones are cut, counted).", "", nullptr,
     BIND_NUMBER(smb.max_name_bytes)},
    {"smb.encrypted-policy", KeyType::choice, "alert", 0, 0, "allow|alert|block",
     "An encrypted SMB3 session cannot be inspected: it is counted and logged once (smb event); alert also writes an alert "
     "(sid 9500010); block also drops and resets the flow (ips mode).", "", nullptr, BIND_ENUM(smb.encrypted_policy)},
    {"smb.file.enabled", KeyType::boolean, "true", 0, 0, {},
     "Carve files (off: SMB is decoded and logged, no file content is kept or scanned).", "", nullptr,
     BIND_FLAG(smb.carve_files)},
    {"smb.file.offload", KeyType::boolean, "true", 0, 0, {},
     "ids mode: file content is copied, hashed and spilled on a carving thread per worker (smb.file.offload-threads); "
     "the worker hands it over "
     "by a copy into the thread's arena or by packet reference (smb.file.offload-copy; ips carves on the worker).", "", nullptr, BIND_FLAG(smb.offload)},
    {"smb.file.offload-mbufs", KeyType::integer, "4096", 64, 1048576, {},
     "Per worker: packet buffers the carving thread may hold references on; beyond, the worker copies the data "
     "(at most capture.mbufs / (4 x workers) are used, so the carving threads never hold more than a quarter of the "
     "pool).", "", nullptr, BIND_NUMBER(smb.offload_mbufs)},
    {"smb.file.offload-copy", KeyType::boolean, "true", 0, 0, {},
     "ids mode with offload: the worker copies file data into its carving thread's arena with non-temporal stores "
     "and frees the packet at once (the packet buffer stays in the worker's cache); off: it hands the packet over by "
     "reference and the carving thread gives it back when done.", "", nullptr, BIND_FLAG(smb.offload_copy)},
    {"smb.file.offload-arena", KeyType::size, "4MiB", 256 * KiB, 1 * GiB, {},
     "Per carving thread: bytes of the arena file data is copied into (smb.file.offload-copy); a write "
     "that finds it full goes by packet reference.", "", nullptr, BIND_NUMBER(smb.offload_arena)},
    {"smb.file.offload-threads", KeyType::integer, "1", 1, 16, {},
     "Carving threads per worker: each file goes to one of them in turn, which copies, hashes and spills it. "
     "More than one where a single thread cannot hash file data as fast as the worker hands it over (its "
     "files.offload.by_reference_arena_full count grows); the worker's smb.file.offload-mbufs, "
     "smb.file.memory-total and smb.file.spill-total are shared out between them, each has its own arena.",
     "", nullptr, BIND_NUMBER(smb.offload_threads)},
    {"smb.file.offload-cpus", KeyType::string_list, "", 0, 0, {},
     "CPUs for the carving threads: worker i's thread j (of k) runs on cpus[(i * k + j) % n]; empty: no pinning "
     "(they share the main lcore's CPUs with the other non-worker threads).", "", check_cpu_number, apply_cpus<CarverCpus>,
     get_cpus<CarverCpus>},
    {"smb.file.memory-total", KeyType::size, "64MiB", 1 * MiB, 64 * GiB, {},
     "Per worker: file content held in memory; files spill to disk beyond.", "", nullptr,
     BIND_NUMBER(smb.files.memory_total)},
    {"smb.file.memory-per-file", KeyType::size, "4MiB", 4 * KiB, 4 * GiB, {},
     "Bytes of one file held in memory before it spills to disk.", "", nullptr, BIND_NUMBER(smb.files.memory_per_file)},
    {"smb.file.max-size", KeyType::size, "100MiB", 1 * KiB, TiB, {},
     "File content beyond this offset is not kept (the file is TRUNCATED for scanning; size, name and the hash of an "
     "in-order file are still logged).", "", nullptr, BIND_NUMBER(smb.files.max_file_size)},
    {"smb.file.spill-total", KeyType::size, "1GiB", 0, 16 * TiB, {},
     "Per worker: bytes of spill files owned at once.", "", nullptr, BIND_NUMBER(smb.files.spill_total)},
    {"smb.file.spill-dir", KeyType::string, "/var/tmp", 0, 0, {},
     "Directory for spill files (content past the memory caps), on fast local storage; \"\" disables spilling.", "",
     nullptr, BIND_TEXT(smb.files.spill_dir)},
    {"smb.file.max-ranges", KeyType::integer, "1024", 1, 1048576, {},
     "Disjoint byte ranges tracked per file (out-of-order writes); beyond, data is dropped and the file is TRUNCATED.", "",
     nullptr, BIND_NUMBER(smb.files.max_ranges)},
    {"smb.file.magic", KeyType::boolean, "false", 0, 0, {},
     "libmagic type of finished files computed on the worker (0.1-10 ms per file: off by default).", "", nullptr,
     BIND_FLAG(smb.files.magic)},
    {"smb.file.magic-bytes", KeyType::size, "16KiB", 256, 16 * MiB, {},
     "Leading bytes of a file given to libmagic.", "", nullptr, BIND_NUMBER(smb.files.magic_bytes)},

    {"malware.db-dir", KeyType::string, "", 0, 0, {},
     "ClamAV database directory (official main/daily .cvd/.cld, or custom .hdb .hsb .ndb .ldb .cdb); carved files are "
     "scanned when set, and it is loaded again on reload (SIGHUP, sluice ctl reload). \"\" = no scanning.",
     "--clamav-db DIR", nullptr, BIND_TEXT(malware.scan.db_dir)},
    {"malware.scanner-threads", KeyType::integer, "1", 1, 64, {},
     "ClamAV scanner threads (put them on cores the workers do not use).", "", nullptr,
     BIND_NUMBER(malware.scan.scanner_threads)},
    {"malware.scanner-cpus", KeyType::string_list, "", 0, 0, {},
     "CPUs for the scanner threads: thread i runs on cpus[i % n]; empty: no pinning.", "", check_cpu_number,
     apply_cpus<ScannerCpus>, get_cpus<ScannerCpus>},
    {"malware.queue-capacity", KeyType::integer, "1024", 1, 1048576, {},
     "Files waiting for a scanner, all workers together; when full, malware.overload-policy applies (counted).", "",
     nullptr, BIND_NUMBER(malware.scan.queue_capacity)},
    {"malware.results-per-worker", KeyType::integer, "256", 1, 1048576, {},
     "Per worker: files at the scanner at once (submitted, verdict not yet taken back).", "", nullptr,
     BIND_NUMBER(malware.scan.results_per_worker)},
    {"malware.max-file-size", KeyType::size, "100MiB", 1, 4 * TiB, {},
     "Larger files are not scanned (clamav result skipped, reason too_large); also libclamav's per-member limit.", "",
     nullptr, BIND_NUMBER(malware.scan.max_file_size)},
    {"malware.max-scan-size", KeyType::size, "400MiB", 1, 4 * TiB, {},
     "libclamav: data scanned per file, archive members included.", "", nullptr, BIND_NUMBER(malware.scan.max_scan_size)},
    {"malware.max-recursion", KeyType::integer, "17", 1, 100, {},
     "libclamav: archive nesting depth.", "", nullptr, BIND_NUMBER(malware.scan.max_recursion)},
    {"malware.max-files", KeyType::integer, "10000", 1, 100000000, {},
     "libclamav: files scanned inside one container.", "", nullptr, BIND_NUMBER(malware.scan.max_files)},
    {"malware.max-scan-time", KeyType::duration, "2m", 0, kHour, {},
     "libclamav: a scan running longer is stopped (clamav result timeout); 0 = no limit.", "", nullptr,
     apply_max_scan_time, get_max_scan_time},
    {"malware.heuristic-alerts", KeyType::boolean, "true", 0, 0, {},
     "libclamav heuristic detections (clamscan's default).", "", nullptr, BIND_FLAG(malware.scan.heuristic_alerts)},
    {"malware.alert-exceeds-max", KeyType::boolean, "false", 0, 0, {},
     "A scan cut short by a size, recursion or file-count limit is malicious (Heuristics.Limits.Exceeded.*) instead of "
     "clean with reason scan_limits.", "", nullptr, BIND_FLAG(malware.scan.alert_exceeds_max)},
    {"malware.disable-cache", KeyType::boolean, "false", 0, 0, {},
     "Turn off libclamav's cache of clean files.", "", nullptr, BIND_FLAG(malware.scan.disable_cache)},
    {"malware.tmp-dir", KeyType::string, "", 0, 0, {},
     "libclamav's directory for unpacked archive members (\"\" = its default, /tmp).", "", nullptr,
     BIND_TEXT(malware.scan.tmp_dir)},
    {"malware.reload-drain", KeyType::duration, "0s", 0, kHour, {},
     "A database reload waits this long for scans still running on the old engine before it returns (0 = max-scan-time + 1 s).",
     "", nullptr, apply_reload_drain, get_reload_drain},
    {"malware.hold-timeout-ms", KeyType::integer, "5000", 1, 600000, {},
     "ips mode: milliseconds the packet that completes a file is held for the scan verdict; then malware.timeout-policy "
     "applies.", "", nullptr, BIND_NUMBER(malware.hold_timeout_ms)},
    {"malware.timeout-policy", KeyType::choice, "fail-open", 0, 0, "fail-open|fail-closed",
     "No verdict within hold-timeout-ms: fail-open forwards the held packets (the late verdict is still logged); fail-closed "
     "drops them, resets the session and alerts (sid 9500002).", "", nullptr, BIND_ENUM(malware.timeout_policy)},
    {"malware.overload-policy", KeyType::choice, "fail-open", 0, 0, "fail-open|fail-closed",
     "A file that cannot be scanned (queue full, worker backlog) or whose packet cannot be held (capture.hold-packets "
     "full): fail-open lets it pass (fileinfo says skipped); fail-closed drops and resets (ips) and alerts (sid 9500003).",
     "", nullptr, BIND_ENUM(malware.overload_policy)},
    {"malware.scan-truncated", KeyType::boolean, "true", 0, 0, {},
     "Scan TRUNCATED files too (what was carved of them).", "", nullptr, BIND_FLAG(malware.scan_truncated)},
    {"malware.quarantine.enabled", KeyType::boolean, "true", 0, 0, {},
     "Keep malicious files, with a JSON sidecar, in quarantine.dir.", "", nullptr,
     BIND_FLAG(malware.scan.quarantine.enabled)},
    {"malware.quarantine.dir", KeyType::string, "", 0, 0, {},
     "Quarantine directory (made if missing); \"\" = no quarantine.", "", nullptr, BIND_TEXT(malware.scan.quarantine.dir)},
    {"malware.quarantine.max-bytes", KeyType::size, "1GiB", 1, 64 * TiB, {},
     "Quarantine size cap (contents and sidecars); at the cap new files are refused (counted), nothing is deleted.", "",
     nullptr, BIND_NUMBER(malware.scan.quarantine.max_bytes)},
    {"malware.quarantine.max-files", KeyType::integer, "10000", 1, 100000000, {},
     "Quarantine file count cap.", "", nullptr, BIND_NUMBER(malware.scan.quarantine.max_files)},
    {"malware.filestore.enabled", KeyType::boolean, "false", 0, 0, {},
     "Keep clean files too, in filestore.dir.", "", nullptr, BIND_FLAG(malware.scan.filestore.enabled)},
    {"malware.filestore.dir", KeyType::string, "", 0, 0, {},
     "Filestore directory (required when the filestore is enabled; not the quarantine's).", "", nullptr,
     BIND_TEXT(malware.scan.filestore.dir)},
    {"malware.filestore.max-bytes", KeyType::size, "1GiB", 1, 64 * TiB, {},
     "Filestore size cap (contents and sidecars).", "", nullptr, BIND_NUMBER(malware.scan.filestore.max_bytes)},
    {"malware.filestore.max-files", KeyType::integer, "10000", 1, 100000000, {},
     "Filestore file count cap.", "", nullptr, BIND_NUMBER(malware.scan.filestore.max_files)},
    {"malware.filestore.max-file-size", KeyType::size, "10MiB", 0, 4 * TiB, {},
     "Larger clean files are not stored; 0 = no limit.", "", nullptr, BIND_NUMBER(malware.scan.filestore.max_file_size)},
    {"malware.filestore.types", KeyType::string_list, "", 0, 0, {},
     "MIME type prefixes of clean files to store (libmagic), e.g. application/x-dosexec, image/; empty: all.", "", nullptr,
     BIND_LIST(malware.scan.filestore.types)},

    {"vars.address-groups", KeyType::string_map, "", 0, 0, {},
     "Address variables for filter rules and signatures (NAME: spec, used as $NAME). Entries given here replace or add to the defaults.",
     "", nullptr, BIND_MAP(address_groups), kSuricataAddressVars},
    {"vars.port-groups", KeyType::string_map, "", 0, 0, {},
     "Port variables for filter rules and signatures (NAME: spec, used as $NAME). Entries given here replace or add to the defaults.",
     "", nullptr, BIND_MAP(port_groups), kSuricataPortVars},
};
// clang-format on

#undef BIND_NUMBER
#undef BIND_FLAG
#undef BIND_TEXT
#undef BIND_LIST
#undef BIND_MAP
#undef BIND_ENUM
#undef BIND_TIMEOUT

constexpr FilterRuleField kRuleFields[] = {
    {"name", "", "", "Name for logs and events (default: rule-N, N counting from 1)."},
    {"action", "", kActions,
     "Verdict when the rule matches (required): allow (go on to the detectors), bypass (forward without inspection), drop (this "
     "and every later packet of the flow), drop-packet (this packet only), reject (drop and reset: TCP RST, ICMP unreachable)."},
    {"proto", "any", "", "IP protocol: any, tcp, udp, icmp, icmpv6, sctp or a number 0-255."},
    {"src", "any", "", "Client address spec: \"$VAR\", CIDR, address, range, list, negation or any."},
    {"dst", "any", "", "Server address spec, as src."},
    {"src-port", "any", "", "Client port spec: \"80\", \"1024:\", \":1023\", \"[80,443]\", \"!22\", \"$VAR\" or any (tcp, udp, sctp)."},
    {"dst-port", "any", "", "Server port spec, as src-port."},
    {"direction", "to-server", "to-server|both",
     "to-server: src is the flow's client; both: also match with the two sides swapped."},
};
static_assert(std::size(kRuleFields) == kFilterFieldCount);

// ---- text helpers ---------------------------------------------------------------

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& ch : out) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return out;
}

std::vector<std::string_view> split_choices(std::string_view choices) {
    std::vector<std::string_view> out;
    while (!choices.empty()) {
        auto bar = choices.find('|');
        out.push_back(choices.substr(0, bar));
        if (bar == std::string_view::npos) break;
        choices.remove_prefix(bar + 1);
    }
    return out;
}

std::string join(const std::vector<std::string_view>& items, std::string_view sep) {
    std::string out;
    for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += sep;
        out += items[i];
    }
    return out;
}

std::optional<uint64_t> parse_u64(std::string_view t) {
    if (t.empty() || t.size() > 20) return std::nullopt;
    for (char ch : t)
        if (ch < '0' || ch > '9') return std::nullopt;
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (ec != std::errc() || p != t.data() + t.size()) return std::nullopt;
    return v;
}

// "64MiB", "1gb", "512k", "1000" -> bytes.
std::optional<uint64_t> parse_size(std::string_view t) {
    size_t digits = 0;
    while (digits < t.size() && t[digits] >= '0' && t[digits] <= '9') ++digits;
    auto n = parse_u64(t.substr(0, digits));
    if (!n) return std::nullopt;
    std::string unit = lower(trim_space(t.substr(digits)));
    uint64_t mult = 1;
    if (unit.empty() || unit == "b") mult = 1;
    else if (unit == "k" || unit == "kb" || unit == "kib") mult = KiB;
    else if (unit == "m" || unit == "mb" || unit == "mib") mult = MiB;
    else if (unit == "g" || unit == "gb" || unit == "gib") mult = GiB;
    else if (unit == "t" || unit == "tb" || unit == "tib") mult = TiB;
    else return std::nullopt;
    if (*n > UINT64_MAX / mult) return std::nullopt;
    return *n * mult;
}

// "30", "30s", "5m", "1h", "1d" -> seconds.
std::optional<uint64_t> parse_duration(std::string_view t) {
    size_t digits = 0;
    while (digits < t.size() && t[digits] >= '0' && t[digits] <= '9') ++digits;
    auto n = parse_u64(t.substr(0, digits));
    if (!n) return std::nullopt;
    std::string unit = lower(trim_space(t.substr(digits)));
    uint64_t mult = 1;
    if (unit.empty() || unit == "s") mult = 1;
    else if (unit == "m") mult = kMinute;
    else if (unit == "h") mult = kHour;
    else if (unit == "d") mult = kDay;
    else return std::nullopt;
    if (*n > UINT64_MAX / mult) return std::nullopt;
    return *n * mult;
}

std::string format_size(uint64_t v) {
    if (v != 0) {
        if (v % TiB == 0) return fmt::format("{}TiB", v / TiB);
        if (v % GiB == 0) return fmt::format("{}GiB", v / GiB);
        if (v % MiB == 0) return fmt::format("{}MiB", v / MiB);
        if (v % KiB == 0) return fmt::format("{}KiB", v / KiB);
    }
    return fmt::format("{}", v);
}

std::string format_duration(uint64_t v) {
    if (v != 0) {
        if (v % kDay == 0) return fmt::format("{}d", v / kDay);
        if (v % kHour == 0) return fmt::format("{}h", v / kHour);
        if (v % kMinute == 0) return fmt::format("{}m", v / kMinute);
    }
    return fmt::format("{}s", v);
}

// A YAML scalar that needs no quotes (conservative).
bool is_plain(std::string_view s) {
    if (s.empty()) return false;
    for (char ch : s) {
        bool ok = std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.' || ch == '/';
        if (!ok) return false;
    }
    // Words YAML would read as something else.
    std::string l = lower(s);
    for (std::string_view w : {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"})
        if (l == w) return false;
    if (std::isdigit(static_cast<unsigned char>(s.front())) || s.front() == '-' || s.front() == '.') return false;
    return true;
}

std::string yaml_quote(std::string_view s) {
    std::string out = "\"";
    for (char ch : s) {
        auto u = static_cast<unsigned char>(ch);
        if (ch == '"' || ch == '\\') {
            out += '\\';
            out += ch;
        } else if (u < 0x20 || u == 0x7f) {
            out += fmt::format("\\x{:02x}", u);
        } else {
            out += ch;
        }
    }
    out += '"';
    return out;
}

std::string yaml_item(std::string_view s) { return is_plain(s) ? std::string(s) : yaml_quote(s); }

// Splits a dotted path.
std::vector<std::string_view> path_parts(std::string_view path) {
    std::vector<std::string_view> out;
    while (true) {
        auto dot = path.find('.');
        out.push_back(path.substr(0, dot));
        if (dot == std::string_view::npos) break;
        path.remove_prefix(dot + 1);
    }
    return out;
}

// Word-wraps text into lines of at most `width` characters.
std::vector<std::string> wrap(std::string_view text, size_t width) {
    std::vector<std::string> lines;
    std::string line;
    while (!text.empty()) {
        auto sp = text.find(' ');
        std::string_view word = text.substr(0, sp);
        text = sp == std::string_view::npos ? std::string_view{} : text.substr(sp + 1);
        if (!line.empty() && line.size() + 1 + word.size() > width) {
            lines.push_back(std::move(line));
            line.clear();
        }
        if (!line.empty()) line += ' ';
        line += word;
    }
    if (!line.empty()) lines.push_back(std::move(line));
    return lines;
}

std::string short_type(const ConfigKey& k) {
    switch (k.type) {
        case KeyType::boolean: return "true|false";
        case KeyType::integer: return fmt::format("integer {}-{}", k.min, k.max);
        case KeyType::size: return fmt::format("size {}-{}", format_size(k.min), format_size(k.max));
        case KeyType::duration: return fmt::format("duration {}-{}", format_duration(k.min), format_duration(k.max));
        case KeyType::string: return "string";
        case KeyType::choice: return std::string(k.choices);
        case KeyType::string_list: return k.choices.empty() ? "list" : "list of " + join(split_choices(k.choices), ", ");
        case KeyType::string_map: return "map NAME: spec";
        case KeyType::filter_rules: return "list of rules";
    }
    return {};
}

std::string md_escape(std::string_view s) {
    std::string out;
    for (char ch : s) {
        if (ch == '|') out += "\\|";
        else out += ch;
    }
    return out;
}

}  // namespace

// ---- public functions ----------------------------------------------------------

std::string_view to_string(KeyType t) {
    constexpr std::string_view n[] = {"boolean", "integer", "size", "duration", "string", "choice", "list", "map", "rules"};
    return n[static_cast<size_t>(t)];
}

std::span<const ConfigKey> config_keys() { return kKeys; }

std::span<const FilterRuleField> filter_rule_fields() { return kRuleFields; }

const ConfigKey* find_config_key(std::string_view path) {
    for (const auto& k : kKeys)
        if (k.path == path) return &k;
    return nullptr;
}

size_t config_key_index(const ConfigKey& key) { return static_cast<size_t>(&key - kKeys); }

std::string describe_expected(const ConfigKey& k) {
    switch (k.type) {
        case KeyType::boolean: return "true or false";
        case KeyType::integer: return fmt::format("an integer between {} and {}", k.min, k.max);
        case KeyType::size:
            return fmt::format("a size between {} and {} (bytes, or with a unit: KiB, MiB, GiB)", format_size(k.min), format_size(k.max));
        case KeyType::duration:
            return fmt::format("a duration between {} and {} (seconds, or with a unit: s, m, h, d)", format_duration(k.min),
                               format_duration(k.max));
        case KeyType::string: return "a string";
        case KeyType::choice: return "one of " + join(split_choices(k.choices), ", ");
        case KeyType::string_list:
            return k.choices.empty() ? "a list of strings" : "a list of " + join(split_choices(k.choices), ", ");
        case KeyType::string_map: return "a map of NAME: spec";
        case KeyType::filter_rules: return "a list of filter rules (maps)";
    }
    return {};
}

Status check_list_item(const ConfigKey& key, std::string_view item) {
    if (item.empty()) return make_error("empty list item");
    if (auto st = check_no_control_chars(item); !st) return st;
    if (!key.choices.empty()) {
        auto c = split_choices(key.choices);
        if (std::find(c.begin(), c.end(), item) == c.end())
            return make_error(fmt::format("unknown item {}, expected one of {}", quote_for_message(item), join(c, ", ")));
    }
    if (key.validate) {
        if (auto st = key.validate(item); !st) return st;
    }
    return {};
}

std::vector<std::string> split_list_text(std::string_view text) {
    text = trim_space(text);
    if (text.size() >= 2 && text.front() == '[' && text.back() == ']') text = trim_space(text.substr(1, text.size() - 2));
    std::vector<std::string> out;
    if (text.empty()) return out;
    while (true) {
        auto comma = text.find(',');
        out.emplace_back(trim_space(text.substr(0, comma)));
        if (comma == std::string_view::npos) break;
        text.remove_prefix(comma + 1);
    }
    return out;
}

Result<ConfigValue> parse_scalar(const ConfigKey& k, std::string_view raw) {
    ConfigValue v;
    std::string_view t = trim_space(raw);
    auto bad = [&] { return make_error(fmt::format("expected {}, got {}", describe_expected(k), quote_for_message(raw))); };
    switch (k.type) {
        case KeyType::boolean: {
            std::string l = lower(t);
            if (l == "true" || l == "yes" || l == "on" || l == "1") v.flag = true;
            else if (l == "false" || l == "no" || l == "off" || l == "0") v.flag = false;
            else return bad();
            return v;
        }
        case KeyType::integer:
        case KeyType::size:
        case KeyType::duration: {
            std::optional<uint64_t> n = k.type == KeyType::integer ? parse_u64(t)
                                        : k.type == KeyType::size  ? parse_size(t)
                                                                   : parse_duration(t);
            if (!n || *n < k.min || *n > k.max) return bad();
            v.number = *n;
            return v;
        }
        case KeyType::string: {
            if (auto st = check_no_control_chars(raw); !st) return make_error(fmt::format("{}: {}", st.message(), quote_for_message(raw)));
            if (k.validate) {
                if (auto st = k.validate(raw); !st) return st.error();
            }
            v.text = std::string(raw);
            return v;
        }
        case KeyType::choice: {
            auto c = split_choices(k.choices);
            auto it = std::find(c.begin(), c.end(), t);
            if (it == c.end()) return bad();
            v.number = static_cast<uint64_t>(it - c.begin());
            v.text = std::string(t);
            return v;
        }
        case KeyType::string_list: {
            for (auto& item : split_list_text(raw)) {
                if (auto st = check_list_item(k, item); !st) return st.error();
                v.list.push_back(std::move(item));
            }
            return v;
        }
        case KeyType::string_map:
        case KeyType::filter_rules: return bad();
    }
    return bad();
}

std::string format_value(const ConfigKey& k, const ConfigValue& v) {
    switch (k.type) {
        case KeyType::boolean: return v.flag ? "true" : "false";
        case KeyType::integer: return fmt::format("{}", v.number);
        case KeyType::size: return format_size(v.number);
        case KeyType::duration: return format_duration(v.number);
        case KeyType::string: return yaml_quote(v.text);
        case KeyType::choice: {
            if (!v.text.empty()) return v.text;
            auto c = split_choices(k.choices);
            return v.number < c.size() ? std::string(c[v.number]) : "?";
        }
        case KeyType::string_list: {
            std::string out = "[";
            for (size_t i = 0; i < v.list.size(); ++i) {
                if (i) out += ", ";
                out += yaml_item(v.list[i]);
            }
            return out + "]";
        }
        case KeyType::string_map: {
            std::string out = "{";
            size_t i = 0;
            for (const auto& [name, value] : v.map) {
                if (i++) out += ", ";
                out += name + ": " + yaml_quote(value);
            }
            return out + "}";
        }
        case KeyType::filter_rules: return v.rules.empty() ? "[]" : fmt::format("[{} rules]", v.rules.size());
    }
    return {};
}

std::vector<ConfigValue> default_config_values() {
    std::vector<ConfigValue> out;
    out.reserve(std::size(kKeys));
    for (const auto& k : kKeys) {
        ConfigValue v;
        if (k.type == KeyType::string_map) {
            for (const auto& d : k.map_default) {
                v.map.emplace(std::string(d.name), std::string(d.value));
                v.map_where.emplace(std::string(d.name), "<default>");
            }
        } else if (k.type != KeyType::filter_rules) {
            auto parsed = parse_scalar(k, k.def);
            // The table's defaults are checked by the unit tests; a bad one stays zero.
            if (parsed) v = std::move(*parsed);
        }
        v.where = "<default>";
        out.push_back(std::move(v));
    }
    return out;
}

std::string_view filter_action_name(FilterAction a) {
    auto c = split_choices(kActions);
    return c[static_cast<size_t>(a)];
}

Result<FilterAction> parse_filter_action(std::string_view text) {
    auto c = split_choices(kActions);
    auto it = std::find(c.begin(), c.end(), text);
    if (it == c.end()) return make_error(fmt::format("expected one of {}, got {}", join(c, ", "), quote_for_message(text)));
    return static_cast<FilterAction>(it - c.begin());
}

Result<uint8_t> parse_ip_proto(std::string_view text) {
    if (text == "any") return uint8_t{0};
    if (text == "tcp") return uint8_t{6};
    if (text == "udp") return uint8_t{17};
    if (text == "icmp") return uint8_t{1};
    if (text == "icmpv6") return uint8_t{58};
    if (text == "sctp") return uint8_t{132};
    auto n = parse_u64(text);
    if (!n || *n > 255)
        return make_error(fmt::format("expected any, tcp, udp, icmp, icmpv6, sctp or a protocol number 0-255, got {}", quote_for_message(text)));
    return static_cast<uint8_t>(*n);
}

Status check_listen_address(std::string_view text) {
    auto bad = [&](std::string_view why) {
        return make_error(fmt::format("expected ADDR:PORT (\"127.0.0.1:9977\" or \"[::1]:9977\"), got {}: {}", quote_for_message(text), why));
    };
    std::string_view addr, port;
    if (!text.empty() && text.front() == '[') {
        auto close = text.find("]:");
        if (close == std::string_view::npos) return bad("an IPv6 address needs \"[ADDR]:PORT\"");
        addr = text.substr(1, close - 1);
        port = text.substr(close + 2);
        auto a = IpAddr::parse(addr);
        if (!a || addr.find(':') == std::string_view::npos) return bad("not an IPv6 address inside the brackets");
    } else {
        auto colon = text.rfind(':');
        if (colon == std::string_view::npos) return bad("no port");
        addr = text.substr(0, colon);
        port = text.substr(colon + 1);
        if (addr.find(':') != std::string_view::npos) return bad("an IPv6 address needs brackets");
        auto a = IpAddr::parse(addr);
        if (!a) return bad("not an IP address");
    }
    auto p = parse_u64(port);
    if (!p || *p == 0 || *p > 65535) return bad("the port must be 1-65535");
    return {};
}

Status check_interface_name(std::string_view text) {
    if (text.empty() || text.size() > 15)
        return make_error(fmt::format("expected an interface name of 1 to 15 characters, got {}", quote_for_message(text)));
    for (char ch : text) {
        auto u = static_cast<unsigned char>(ch);
        if (u <= 0x20 || u == 0x7f || ch == ',' || ch == '/' || ch == '=')
            return make_error(fmt::format("bad character in interface name {}", quote_for_message(text)));
    }
    return {};
}

// ---- generators -------------------------------------------------------------------

std::string render_config_yaml(std::span<const ConfigValue> values) {
    std::string out;
    out +=
        "%YAML 1.1\n"
        "---\n"
        "# Sluice configuration. Every key is shown with its default; delete what you\n"
        "# do not change. Reference: docs/configuration.md (or `sluice --help-config`).\n"
        "# Generated by `sluice --dump-config`; a test keeps config/sluice.yaml equal to it.\n";
    std::vector<std::string_view> open;  // sections currently open
    for (size_t i = 0; i < std::size(kKeys) && i < values.size(); ++i) {
        const ConfigKey& k = kKeys[i];
        const ConfigValue& v = values[i];
        auto parts = path_parts(k.path);
        size_t common = 0;
        while (common < open.size() && common + 1 < parts.size() && open[common] == parts[common]) ++common;
        open.resize(common);
        if (common == 0) out += "\n";
        for (size_t d = common; d + 1 < parts.size(); ++d) {
            out += std::string(d * 2, ' ') + std::string(parts[d]) + ":\n";
            open.push_back(parts[d]);
        }
        std::string indent(open.size() * 2, ' ');
        std::string comment = std::string(k.help) + " (" + short_type(k) + ")";
        for (const auto& line : wrap(comment, 78 - indent.size() - 2)) out += indent + "# " + line + "\n";
        std::string_view leaf = parts.back();
        switch (k.type) {
            case KeyType::string_map: {
                out += indent + std::string(leaf) + ":\n";
                // The defaults' order first (Suricata's), then the others by name.
                std::vector<std::string_view> names;
                for (const auto& d : k.map_default)
                    if (v.map.count(d.name)) names.push_back(d.name);
                for (const auto& [name, value] : v.map)
                    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
                for (auto name : names) out += indent + "  " + std::string(name) + ": " + yaml_quote(v.map.find(name)->second) + "\n";
                if (names.empty()) out += indent + "  {}\n";
                break;
            }
            case KeyType::filter_rules: {
                if (v.rules.empty()) {
                    std::string keys = "Each rule has the keys";
                    for (const auto& f : kRuleFields) keys += std::string(" ") + std::string(f.name);
                    keys += "; for example:";
                    for (const auto& line : wrap(keys, 78 - indent.size() - 2)) out += indent + "# " + line + "\n";
                    out += indent + "#   - name: modbus-from-scada\n";
                    out += indent + "#     action: allow\n";
                    out += indent + "#     proto: tcp\n";
                    out += indent + "#     src: \"$MODBUS_CLIENT\"\n";
                    out += indent + "#     dst: \"$MODBUS_SERVER\"\n";
                    out += indent + "#     dst-port: \"$MODBUS_PORTS\"\n";
                    out += indent + std::string(leaf) + ": []\n";
                    break;
                }
                out += indent + std::string(leaf) + ":\n";
                for (const auto& r : v.rules) {
                    bool first = true;
                    for (size_t f = 0; f < kFilterFieldCount; ++f) {
                        if (r.value[f].empty()) continue;
                        out += indent + (first ? "  - " : "    ") + std::string(kRuleFields[f].name) + ": " + yaml_quote(r.value[f]) + "\n";
                        first = false;
                    }
                }
                break;
            }
            default: out += indent + std::string(leaf) + ": " + format_value(k, v) + "\n";
        }
    }
    return out;
}

std::string default_config_yaml() { return render_config_yaml(default_config_values()); }

std::string config_reference_markdown() {
    std::string out;
    out +=
        "# Configuration reference\n"
        "\n"
        "<!-- Generated by `sluice --dump-config-reference` from the schema in app/config_schema.cpp and the\n"
        "     command line in app/cli.cpp;\n"
        "     do not edit by hand: a unit test checks that this file equals the generator's output. -->\n"
        "\n"
        "Sluice reads one YAML file (`sluice --config FILE`); every key has a default, so the file\n"
        "holds only what differs. `config/sluice.yaml` is the complete file with every default\n"
        "(`sluice --dump-config` prints it, with the effective values when a file or options are given).\n"
        "Keys use dashes (`max-ooo-bytes`), sections nest (`flow.timeouts.tcp.new` is\n"
        "`flow:` / `timeouts:` / `tcp:` / `new:`).\n"
        "\n"
        "## Loading rules\n"
        "\n"
        "- An unknown key is an error, with a suggestion when a known key is close (`did you mean ...`).\n"
        "- Every error is one line naming the file, line and column, the key and what is wrong, e.g.\n"
        "  `sluice.yaml:12:3: flow.capacity: expected an integer between 1 and 67108864, got \"lots\"`;\n"
        "  `sluice` then exits with code 2.\n"
        "- Command-line options apply after the file and win over it. `--set KEY=VALUE` sets any key\n"
        "  (`--set flow.capacity=1000000`, `--set eve.types=alert,flow`,\n"
        "  `--set vars.address-groups.PLANT=[198.18.0.0/24]`, `--set 'filter.rules=[{action: drop, proto: tcp, dst-port: 23}]'`);\n"
        "  the dedicated options (`--workers`, `--pcap`, ...) are shorthands listed in the tables.\n"
        "  `--pcap`, `--iface` and `--inline` each replace the capture source of the file.\n";
    out += fmt::format(
        "- Limits: the file is at most {} ({} once YAML aliases are expanded); at most {} filter rules,\n"
        "  holding at most {} address and port ranges together.\n",
        format_size(kMaxConfigFileBytes), format_size(kMaxExpandedBytes), kMaxFilterRules, kMaxFilterRanges);
    out +=
        "\n"
        "## Value types\n"
        "\n"
        "| type | written as |\n"
        "|---|---|\n"
        "| boolean | `true`/`false` (also `yes`/`no`, `on`/`off`, `1`/`0`) |\n"
        "| integer | decimal digits |\n"
        "| size | bytes, or a number with a unit: `KiB`, `MiB`, `GiB`, `TiB` (`k`, `kb`, `m`, `mb`, `g`, `gb` mean the same: all units count in 1024s) |\n"
        "| duration | seconds, or a number with a unit: `s`, `m`, `h`, `d` |\n"
        "| string | text; quote it when it starts with `!`, `$`, `[`, `*` or contains `: ` |\n"
        "| list | a YAML sequence, or one string `\"a,b\"` |\n"
        "| map | `NAME: value` entries |\n"
        "\n";
    std::string_view section;
    for (const auto& k : kKeys) {
        auto parts = path_parts(k.path);
        std::string_view top = parts.size() > 1 ? parts[0] : std::string_view("general");
        if (top != section) {
            section = top;
            out += top == "general" ? std::string("## Top level\n\n") : fmt::format("\n## `{}`\n\n", top);
            out += "| key | type | default | description |\n|---|---|---|---|\n";
        }
        std::string def;
        if (k.type == KeyType::string_map) def = "see below";
        else if (k.type == KeyType::filter_rules) def = "`[]`";
        else {
            auto parsed = parse_scalar(k, k.def);
            def = "`" + (parsed ? format_value(k, *parsed) : std::string(k.def)) + "`";
        }
        std::string desc(k.help);
        if (!k.cli.empty()) desc += fmt::format(" Command line: `{}`.", k.cli);
        out += fmt::format("| `{}` | {} | {} | {} |\n", k.path, md_escape(short_type(k)), md_escape(def), md_escape(desc));
        // Section trailers.
        if (k.path == "filter.rules") {
            out += "\n### Filter rules\n\n"
                   "`filter.rules` is a list of maps; the first rule that matches a flow's first packet gives the verdict,\n"
                   "otherwise `filter.default-action` does. In ids mode verdicts are only logged. Each rule:\n\n"
                   "| sub-key | default | description |\n|---|---|---|\n";
            for (const auto& f : kRuleFields) {
                std::string d = f.def.empty() ? (f.name == "action" ? "required" : "") : "`" + std::string(f.def) + "`";
                if (f.name == "name") d = "`rule-N`";
                out += fmt::format("| `{}` | {} | {} |\n", f.name, d, md_escape(f.help));
            }
            out += "\nExample (an allow-list between the office and a PLC cell):\n\n"
                   "```yaml\n"
                   "filter:\n"
                   "  default-action: drop\n"
                   "  rules:\n"
                   "    - name: modbus-from-scada\n"
                   "      action: allow\n"
                   "      proto: tcp\n"
                   "      src: \"$MODBUS_CLIENT\"\n"
                   "      dst: \"$MODBUS_SERVER\"\n"
                   "      dst-port: \"$MODBUS_PORTS\"\n"
                   "    - name: no-telnet\n"
                   "      action: reject\n"
                   "      proto: tcp\n"
                   "      dst-port: 23\n"
                   "      direction: both\n"
                   "```\n\n"
                   "Errors name the rule: `sluice.yaml:40:7: filter.rules[1].src: unknown address variable $PLNT`.\n";
        }
    }
    out += "\n## Address and port specifications\n\n"
           "Filter rules and variables use Suricata's syntax:\n\n"
           "- addresses: `any`, `198.18.0.1`, `198.18.0.0/15`, `2001:db8::/32`, `198.18.0.1-198.18.0.9`,\n"
           "  `198.18.0.0/255.254.0.0`, `$HOME_NET`, `!198.18.0.7`, lists `[198.18.0.0/24, 2001:db8::1]`;\n"
           "- ports: `any`, `80`, `80:90`, `1024:` (1024 and up), `:1023` (up to 1023), `!22`, `$HTTP_PORTS`,\n"
           "  lists `[80, 443, 8000:8080]`;\n"
           "- a list is the union of its positive elements (or everything, when all are negated) minus its\n"
           "  negated elements: `[198.18.0.0/24, !198.18.0.7]`; lists and variables nest up to 64 levels;\n"
           "- a variable stands for its resolved set (`[$EXTERNAL_NET, 198.18.0.1]` adds one address to it);\n"
           "  variables may refer to others, loops are errors;\n"
           "- a spec that matches nothing (`!any`, `[198.18.0.1, !198.18.0.1]`) is an error, as are empty lists,\n"
           "  unbalanced brackets, bad CIDRs and ports above 65535.\n"
           "\n"
           "Quote specs in YAML (`\"!$HOME_NET\"`, `\"[80,443]\"`): unquoted, `!` starts a YAML tag and `[` a YAML list\n"
           "(an unquoted list of specs is accepted and read as the spec list `[a,b]`).\n";
    for (const auto& k : kKeys) {
        if (k.type != KeyType::string_map) continue;
        out += fmt::format("\n### Default `{}`\n\n| name | value |\n|---|---|\n", k.path);
        for (const auto& d : k.map_default) out += fmt::format("| `{}` | `{}` |\n", d.name, md_escape(d.value));
    }
    out +=
        "\n## Command line\n"
        "\n"
        "Options that stand for configuration keys are shorthands for `--set KEY=VALUE` and are checked the same way;\n"
        "they apply after the `--config` file, in the order given. A mistake is one line on standard error starting\n"
        "`<command line>: ` and exit code 2. `--eal` values that start with `-` may be written `--eal=\"-l 0-3\"`.\n"
        "\n"
        "```text\n";
    out += cli_help_text();
    out +=
        "```\n"
        "\n"
        "`sluice ctl [--socket PATH] COMMAND [ARGS...]` sends COMMAND to a running sluice over its control socket\n"
        "(`--socket`, or `control.socket` of the `--config` file); everything after COMMAND is passed on as it is.\n";
    return out;
}

std::string config_help_text() {
    std::string out = "Configuration keys (YAML path, type, default); set them in the file or with --set KEY=VALUE:\n";
    for (const auto& k : kKeys) {
        std::string def;
        if (k.type == KeyType::string_map) def = fmt::format("{} defaults", k.map_default.size());
        else if (k.type == KeyType::filter_rules) def = "[]";
        else if (auto parsed = parse_scalar(k, k.def)) def = format_value(k, *parsed);
        out += fmt::format("\n  {}  ({}; default {})\n", k.path, short_type(k), def);
        for (const auto& line : wrap(k.help, 72)) out += "      " + line + "\n";
        if (!k.cli.empty()) out += fmt::format("      command line: {}\n", k.cli);
    }
    out += "\nFilter rule keys:";
    for (const auto& f : kRuleFields) out += std::string(" ") + std::string(f.name);
    out += "\nFull reference: docs/configuration.md\n";
    return out;
}

}  // namespace sluice
