// nDPI's own regression captures (corpus ndpi-4.2/pcap) through the worker's
// path (MiniWorker: decode, defragmentation, flow table, bursts) and the
// AppIdDetector, compared with nDPI 4.2's expected results (ndpi-4.2/result/
// <capture>.out, reproduced by Debian's ndpiReader 4.2, see ground-truth/):
// for each capture, the number of flows per protocol in ndpiReader's summary
// table (a flow counts under its app protocol: TLS.Google under Google) must
// equal Sluice's. ndpiReader runs with example/protos.txt, so Sluice loads it
// as appid.protocols-file; flows are not split by idle time in ndpiReader, so
// the flow timeouts here are a day.
//
// A capture is compared only where Sluice's flow definition agrees with
// ndpiReader's, i.e. both count the same number of flows; the others are
// exceptions, each counted by its reason and printed:
//   link      - not an Ethernet capture (Sluice's ports take Ethernet only);
//   tunnel    - ndpiReader decapsulates GTP-U, CAPWAP, TZSP and IP-in-IP and
//               classifies the inner flows, Sluice classifies the outer one
//               (GTP_U, IP_in_IP), even where the flow counts happen to agree;
//   flows     - another flow count (a new SYN on a closed connection starts a
//               new flow in Sluice; fragments; non-IP frames nDPI keys as flows).
// The test fails when the share of compared captures that match drops below
// what this implementation reaches (kMinMatchShare), or when fewer captures
// can be compared than now (kMinCompared).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "detectors/appid/appid_detector.hpp"
#include "tests/detectors/appid/mini_worker.hpp"
#include "tests/support/pcap_streams.hpp"

namespace sluice::test {
namespace {

namespace fs = std::filesystem;

constexpr double kMinMatchShare = 1.0;  // 203 of 203 compared captures match (Debian libndpi 4.2)
constexpr size_t kMinCompared = 203;

struct Expected {
    std::map<std::string, uint64_t> flows;  // summary table: protocol -> flows
    uint64_t total = 0;
    bool tunnel = false;                    // a flow line says "[proto: GTP:..." and the like
    bool ip_in_ip = false;
};

Expected parse_out(const fs::path& path) {
    Expected e;
    std::ifstream f(path);
    std::string line;
    bool in_table = false, table_done = false;
    while (std::getline(f, line)) {
        if (line.rfind("Confidence ", 0) == 0) {
            in_table = true;
            continue;
        }
        if (in_table && !table_done) {
            if (line.empty()) {
                if (!e.flows.empty()) table_done = true;
                continue;
            }
            // "Name\tpackets\tbytes\tflows"
            std::vector<std::string> fields;
            std::stringstream ss(line);
            std::string field;
            while (std::getline(ss, field, '\t')) fields.push_back(field);
            if (fields.size() == 4 && !fields[0].empty()) {
                const uint64_t n = std::stoull(fields[3]);
                e.flows[fields[0]] += n;
                e.total += n;
            }
            continue;
        }
        const auto p = line.find("[proto: ");
        if (p != std::string::npos) {
            const auto colon = line.find(':', p + 8);
            const auto slash = line.find('/', p + 8);
            if (colon != std::string::npos && slash != std::string::npos && colon < slash) e.tunnel = true;
        }
    }
    return e;
}

// The outer flow of a tunnel ndpiReader opens: IPv4/IPv6 in IP, GTP-U,
// CAPWAP data/control, TZSP.
bool is_tunnel_carrier(const Flow& f) {
    if (f.key.ip_proto == 4 || f.key.ip_proto == 41) return true;
    if (f.key.ip_proto != ipproto::udp) return false;
    for (uint16_t port : {uint16_t{2152}, uint16_t{5246}, uint16_t{5247}, uint16_t{37008}})
        if (f.server_port() == port || f.client_port() == port) return true;
    return false;
}

std::string show(const std::map<std::string, uint64_t>& m) {
    std::string s;
    for (const auto& [k, v] : m) s += k + "(" + std::to_string(v) + ") ";
    return s;
}

// The protocols whose flow counts differ: "name ours/theirs".
std::string diff(const std::map<std::string, uint64_t>& ours, const std::map<std::string, uint64_t>& theirs) {
    std::map<std::string, std::pair<uint64_t, uint64_t>> all;
    for (const auto& [k, v] : ours) all[k].first = v;
    for (const auto& [k, v] : theirs) all[k].second = v;
    std::string s;
    for (const auto& [k, v] : all)
        if (v.first != v.second) s += k + " " + std::to_string(v.first) + "/" + std::to_string(v.second) + "; ";
    return s;
}

TEST(AppIdCorpus, FlowsPerProtocolMatchNdpiReader) {
    const std::string corpus = corpus_dir();
    if (corpus.empty()) GTEST_SKIP() << "SLUICE_CORPUS not set or missing: nDPI captures unavailable";
    const fs::path root = fs::path(corpus) / "ndpi-4.2";
    if (!fs::is_directory(root / "result")) GTEST_SKIP() << "corpus lacks ndpi-4.2/result";
    const std::string protos = (root / "example" / "protos.txt").string();

    std::vector<fs::path> outs;
    for (const auto& e : fs::directory_iterator(root / "result"))
        if (e.path().extension() == ".out") outs.push_back(e.path());
    std::sort(outs.begin(), outs.end());

    size_t compared = 0, matched = 0;
    std::map<std::string, size_t> exceptions;
    std::vector<std::string> mismatches;
    const auto t0 = std::chrono::steady_clock::now();
    for (const auto& out : outs) {
        const std::string name = out.stem().string();  // "modbus.pcap"
        const fs::path pcap = root / "pcap" / name;
        if (!fs::exists(pcap)) continue;
        const Expected want = parse_out(out);

        MiniWorkerOptions opt;
        for (auto& pc : opt.timeouts.seconds)
            for (auto& s : pc) s = 86400;
        MiniWorker w(opt);
        AppIdConfig cfg;
        cfg.protocols_file = protos;
        auto& appid = w.add<AppIdDetector>(cfg);
        ASSERT_FALSE(appid.failed());
        std::map<std::string, uint64_t> got;
        uint64_t total = 0;
        bool carrier = false;  // Sluice saw a tunnel's outer flow
        w.on_flow_ended = [&](const Flow& f) {
            const NdpiVerdict* v = appid.ended_verdict(f);
            got[std::string(appid.module().name(v ? v->table_key() : 0))]++;
            ++total;
            carrier |= is_tunnel_carrier(f);
        };
        std::string error;
        const bool ran = w.run_capture(pcap.string(), &error);
        std::string reason;
        if (!ran) reason = "link";
        else if (want.tunnel || carrier) reason = "tunnel";
        else if (total != want.total) reason = "flows";
        if (!reason.empty()) {
            ++exceptions[reason];
            std::printf("EXCEPTION %-7s %-50s sluice %llu flows, ndpiReader %llu%s%s\n", reason.c_str(), name.c_str(),
                        static_cast<unsigned long long>(total), static_cast<unsigned long long>(want.total),
                        error.empty() ? "" : ": ", error.c_str());
            continue;
        }
        ++compared;
        if (got == want.flows) {
            ++matched;
            continue;
        }
        mismatches.push_back(name + ": " + diff(got, want.flows));
        std::printf("MISMATCH %-50s %s\n    sluice:     %s\n    ndpiReader: %s\n", name.c_str(), diff(got, want.flows).c_str(),
                    show(got).c_str(), show(want.flows).c_str());
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double share = compared ? static_cast<double>(matched) / static_cast<double>(compared) : 0.0;
    std::printf("nDPI corpus: %zu captures compared, %zu match (%.1f%%), %zu mismatch; exceptions:", compared, matched,
                100.0 * share, mismatches.size());
    for (const auto& [k, v] : exceptions) std::printf(" %s %zu", k.c_str(), v);
    std::printf("; %.1f s\n", secs);
    EXPECT_GE(compared, kMinCompared);
    EXPECT_GE(share, kMinMatchShare);
}

}  // namespace
}  // namespace sluice::test
