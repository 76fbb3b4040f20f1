// flow_bound: how close a flow tracker can come to dpdk-testpmd's io
// forwarding on this machine, with N concurrent flows visited round-robin (the
// forwarding benchmark's traffic, docs/benchmarks.md), without DPDK.
//
// Four loops run over the same packets, in turns, on one thread:
//   copy     what the forwarding benchmark's packet source costs both programs
//            (testpmd's share): each packet read from its own mbuf-shaped
//            2304-byte slot of a shared 4 KiB-page mapping as net_pcap's
//            infinite_rx replay reads EAL's --no-huge memory (the header's line,
//            then the frame) and copied into one of 32 recycled buffers;
//   minimal  copy + the least work a flow tracker can do: fixed-offset IPv4
//            parse, canonical 5-tuple, CRC32-C hash, one 64-byte entry per flow in
//            an open-addressing table (linear probing, huge pages), every entry
//            of a burst prefetched before any is touched, then key compared and
//            counters, last-seen time and TCP flags updated in that one line;
//   ahead    minimal, software-pipelined: each burst's entries prefetched while
//            the previous burst's are updated;
//   sluice   copy + sluice's own decode_ethernet and FlowTable (probe,
//            prefetch_flow, lookup, update), configured as the forwarding
//            benchmark configures it (capacity max(262144, 2N), 1 h timeouts).
// Each repeat times every loop over the same number of packets (thread CPU
// time) after two warm-up passes over all flows; the ratios copy/X compare with
// the Mpps ratios the forwarding benchmark reports against testpmd, without
// the device and mbuf costs both programs share.
//   bench_flow_bound [--flows N] [--packets P] [--repeats R] [--out FILE]
// writes JSON to FILE, by default bench/results/flow-bound-<UTC time>.json
// (in the working directory when it has no bench/results).
#include <arpa/inet.h>
#include <nmmintrin.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "dataplane/decode.hpp"
#include "dataplane/flow_table.hpp"
#include "dataplane/json_writer.hpp"
#include "dataplane/zeroed_pages.hpp"
#include "thread_clock.hpp"

namespace {

constexpr size_t kSlot = 2304;  // rte_mbuf header + headroom + 2048 data
constexpr size_t kFrame = 60;   // a 64-byte frame without its FCS
constexpr unsigned kBurst = 32;

// Shared 4 KiB pages, as EAL's --no-huge memory (a memfd) is.
void* map_shared_or_die(size_t bytes) {
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        std::fprintf(stderr, "bench_flow_bound: cannot map %zu MiB\n", bytes >> 20);
        std::exit(1);
    }
    return p;
}

uint16_t ip_checksum(const uint8_t* p, size_t n) {
    uint32_t s = 0;
    for (size_t i = 0; i + 1 < n; i += 2) s += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
    while (s >> 16) s = (s & 0xFFFF) + (s >> 16);
    return static_cast<uint16_t>(~s);
}

// The forwarding benchmark's flows (bench/gen_flows_pcap.py): even flows TCP
// ACK|PSH, odd flows UDP, clients in 198.18.0.0/16, servers in 198.19.0.0/16 on
// ports 5001-5008; 60-byte frames. Flow i is packet i.
void write_packet(uint8_t* p, uint32_t i) {
    std::memset(p, 0, kFrame);
    p[12] = 0x08;
    uint8_t* ip = p + 14;
    ip[0] = 0x45;
    ip[3] = 46;
    ip[8] = 64;
    ip[9] = (i & 1) ? 17 : 6;
    const uint32_t client = htonl(0xC6120000u | ((i >> 3) & 0xFFFF));
    const uint32_t server = htonl(0xC6130000u | (i & 0xFF));
    std::memcpy(ip + 12, &client, 4);
    std::memcpy(ip + 16, &server, 4);
    const uint16_t sum = htons(ip_checksum(ip, 20));
    std::memcpy(ip + 10, &sum, 2);
    uint8_t* l4 = ip + 20;
    const uint16_t sport = htons(static_cast<uint16_t>(1024 + i % 60000));
    const uint16_t dport = htons(static_cast<uint16_t>(5001 + i % 8));
    std::memcpy(l4, &sport, 2);
    std::memcpy(l4 + 2, &dport, 2);
    if (i & 1) {
        const uint16_t ulen = htons(26);
        std::memcpy(l4 + 4, &ulen, 2);
    } else {
        l4[12] = 0x50;
        l4[13] = 0x18;  // ACK|PSH
    }
}

// The replayed source and the receive buffers, shared by the loops. Each
// source slot is laid out as an mbuf is (a 128-byte header, 128 bytes of
// headroom, the frame), and a receive reads it as net_pcap's infinite_rx does:
// the source's header (data offset and length, its first line), then the frame
// (a line 256 bytes further), copied into a recycled buffer whose header is
// written too. Two source lines per packet, as for testpmd.
struct Source {
    static constexpr size_t kDataOff = 16;  // where rte_mbuf keeps data_off and data_len
    static constexpr size_t kDataLen = 40;
    static constexpr size_t kFrameAt = 256;

    uint32_t flows;
    uint8_t* slots;
    uint8_t* rx;
    size_t next = 0;

    explicit Source(uint32_t n) : flows(n) {
        slots = static_cast<uint8_t*>(map_shared_or_die(static_cast<size_t>(n) * kSlot));
        for (uint32_t i = 0; i < n; ++i) {
            uint8_t* slot = slots + static_cast<size_t>(i) * kSlot;
            const uint16_t off = kFrameAt, len = kFrame;
            std::memcpy(slot + kDataOff, &off, 2);
            std::memcpy(slot + kDataLen, &len, 2);
            write_packet(slot + kFrameAt, i);
        }
        rx = static_cast<uint8_t*>(std::aligned_alloc(64, kBurst * kSlot));
    }
    const uint8_t* frame(unsigned k) const { return rx + k * kSlot + kFrameAt; }
    void receive() {
        for (unsigned k = 0; k < kBurst; ++k) {
            const uint8_t* slot = slots + next * kSlot;
            uint16_t off, len;
            std::memcpy(&off, slot + kDataOff, 2);
            std::memcpy(&len, slot + kDataLen, 2);
            uint8_t* dst = rx + k * kSlot;
            std::memcpy(dst + kDataLen, &len, 2);
            std::memcpy(dst + kFrameAt, slot + off, len);
            if (++next == flows) next = 0;
        }
    }
};

struct alignas(64) Entry {
    uint32_t addr[2];
    uint16_t port[2];
    uint8_t proto;
    uint8_t used;
    uint8_t tcp_flags[2];
    uint32_t hash;
    uint64_t last_ns;
    uint64_t pkts[2];
    uint64_t bytes[2];
};
static_assert(sizeof(Entry) == 64);

class MinimalTable {
public:
    explicit MinimalTable(uint32_t flows) {
        size_t cap = 1;
        while (cap < 2 * static_cast<size_t>(flows)) cap <<= 1;
        mask_ = cap - 1;
        pages_ = sluice::ZeroedPages(cap * sizeof(Entry));  // huge pages where the kernel allows
        entries_ = pages_.as<Entry>();
    }
    struct Key {
        uint32_t a, b;
        uint16_t pa, pb;
        uint8_t proto, flags, dir;
        uint32_t hash;
    };
    struct Burst {
        Key keys[kBurst];
        unsigned n = 0;
    };

    // Parses a burst and prefetches its entries.
    void parse(const Source& src, Burst& out) const {
        out.n = 0;
        for (unsigned k = 0; k < kBurst; ++k) {
            const uint8_t* p = src.frame(k);
            if (p[12] != 0x08 || p[13] != 0x00) continue;
            const uint8_t* ip = p + 14;
            const unsigned ihl = (ip[0] & 15u) * 4u;
            uint32_t sa, da, ports;
            std::memcpy(&sa, ip + 12, 4);
            std::memcpy(&da, ip + 16, 4);
            std::memcpy(&ports, ip + ihl, 4);
            const uint16_t sp = static_cast<uint16_t>(ports), dp = static_cast<uint16_t>(ports >> 16);
            const bool swap = sa > da || (sa == da && sp > dp);
            Key& key = out.keys[out.n++];
            key.a = swap ? da : sa;
            key.b = swap ? sa : da;
            key.pa = swap ? dp : sp;
            key.pb = swap ? sp : dp;
            key.proto = ip[9];
            key.flags = key.proto == 6 ? ip[ihl + 13] : 0;
            key.dir = swap;
            uint32_t h = _mm_crc32_u32(0, key.a);
            h = _mm_crc32_u32(h, key.b);
            h = _mm_crc32_u32(h, static_cast<uint32_t>(key.pa) | static_cast<uint32_t>(key.pb) << 16);
            key.hash = _mm_crc32_u32(h, key.proto);
            __builtin_prefetch(&entries_[key.hash & mask_], 1, 3);
        }
    }

    // Finds or creates each packet's entry and updates it.
    uint64_t apply(const Burst& b, uint64_t now_ns) {
        uint64_t sink = 0;
        for (unsigned k = 0; k < b.n; ++k) {
            const Key& key = b.keys[k];
            for (size_t i = key.hash & mask_;; i = (i + 1) & mask_) {
                Entry& e = entries_[i];
                if (!e.used) {
                    e.used = 1;
                    e.addr[0] = key.a;
                    e.addr[1] = key.b;
                    e.port[0] = key.pa;
                    e.port[1] = key.pb;
                    e.proto = key.proto;
                    e.hash = key.hash;
                } else if (e.hash != key.hash || e.addr[0] != key.a || e.addr[1] != key.b || e.port[0] != key.pa ||
                           e.port[1] != key.pb || e.proto != key.proto) {
                    continue;
                }
                e.pkts[key.dir] += 1;
                e.bytes[key.dir] += kFrame;
                e.tcp_flags[key.dir] |= key.flags;
                e.last_ns = now_ns;
                sink += e.pkts[key.dir];
                break;
            }
        }
        return sink;
    }

    // One burst: parse and prefetch it, then update.
    uint64_t burst(const Source& src, uint64_t now_ns) {
        parse(src, cur_);
        return apply(cur_, now_ns);
    }

    // Software-pipelined: this burst's entries are prefetched while the
    // previous burst's are updated, so a burst's misses have a whole burst of
    // work to hide behind instead of the parse loop only.
    uint64_t burst_ahead(const Source& src, uint64_t now_ns) {
        Burst& next = ahead_[flip_];
        Burst& prev = ahead_[flip_ ^ 1];
        flip_ ^= 1;
        parse(src, next);
        return apply(prev, now_ns);
    }

private:
    sluice::ZeroedPages pages_;
    Entry* entries_;
    size_t mask_;
    Burst cur_;
    Burst ahead_[2];
    unsigned flip_ = 0;
};

struct NoEnd final : sluice::FlowEndHandler {
    void on_flow_end(sluice::Flow&, sluice::FlowEndReason) override {}
};

class SluiceTable {
public:
    explicit SluiceTable(uint32_t flows) : table_(std::max<uint32_t>(262144, 2 * flows), timeouts()) {}
    uint64_t burst(const Source& src, uint64_t now_ns) {
        table_.next_epoch();
        for (unsigned k = 0; k < kBurst; ++k) {
            sluice::decode_ethernet(src.frame(k), kFrame, pkt_[k]);
            if (pkt_[k].status == sluice::DecodeStatus::ok) table_.probe(pkt_[k], probe_[k]);
        }
        for (unsigned k = 0; k < kBurst; ++k)
            if (pkt_[k].status == sluice::DecodeStatus::ok) table_.prefetch_flow(probe_[k]);
        uint64_t sink = 0;
        for (unsigned k = 0; k < kBurst; ++k) {
            if (pkt_[k].status != sluice::DecodeStatus::ok) continue;
            const sluice::PacketFlowInfo info = table_.lookup(pkt_[k], probe_[k], now_ns, end_);
            if (!info.flow) continue;
            table_.update(*info.flow, info.dir, pkt_[k], now_ns);
            sink += info.flow->pkts[0];
        }
        return sink;
    }
    uint32_t active() const { return table_.active(); }

private:
    static sluice::FlowTimeouts timeouts() {
        sluice::FlowTimeouts t;
        for (auto& row : t.seconds)
            for (auto& s : row) s = 3600;
        return t;
    }
    sluice::FlowTable table_;
    NoEnd end_;
    sluice::DecodedPacket pkt_[kBurst];
    sluice::FlowTable::Probe probe_[kBurst];
};

enum class Loop { copy, minimal, ahead, sluice };
constexpr unsigned kLoops = 4;
constexpr const char* kNames[kLoops] = {"copy", "minimal", "ahead", "sluice"};

struct Bench {
    Source src;
    MinimalTable minimal;
    SluiceTable table;
    uint64_t now_ns = 1'000'000'000ull;
    uint64_t sink = 0;

    explicit Bench(uint32_t flows) : src(flows), minimal(flows), table(flows) {}

    // ns per packet of thread CPU time over `packets` packets.
    double run(Loop loop, uint64_t packets) {
        const uint64_t bursts = packets / kBurst;
        const double t0 = thread_cpu_seconds();
        for (uint64_t b = 0; b < bursts; ++b) {
            src.receive();
            now_ns += 1000;  // 32 Mpps of wall time: no flow ages out
            switch (loop) {
                case Loop::copy:
                    for (unsigned k = 0; k < kBurst; ++k) sink += src.frame(k)[23];
                    break;
                case Loop::minimal: sink += minimal.burst(src, now_ns); break;
                case Loop::ahead: sink += minimal.burst_ahead(src, now_ns); break;
                case Loop::sluice: sink += table.burst(src, now_ns); break;
            }
        }
        return (thread_cpu_seconds() - t0) * 1e9 / static_cast<double>(bursts * kBurst);
    }
};

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string cpu_model() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("model name", 0) == 0) {
            const size_t colon = line.find(':');
            return colon == std::string::npos ? std::string() : line.substr(line.find_first_not_of(' ', colon + 1));
        }
    return {};
}

// "20261127-020000" for file names, or ISO 8601 "2026-11-27T02:00:00Z".
std::string utc_stamp(bool iso) {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    if (iso) std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    else std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
    return buf;
}

void usage(const char* argv0) {
    std::fprintf(stderr, "usage: %s [--flows N] [--packets P] [--repeats R] [--out FILE]\n", argv0);
    std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
    uint32_t flows = 1000000;
    uint64_t packets = 20'000'000;
    unsigned repeats = 5;
    std::string out;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (i + 1 >= argc) usage(argv[0]);
        const char* v = argv[++i];
        char* end = nullptr;
        const unsigned long long n = std::strtoull(v, &end, 10);
        if (a == "--out") out = v;
        else if (*end || n == 0) usage(argv[0]);
        else if (a == "--flows" && n <= 16'000'000) flows = static_cast<uint32_t>(n);
        else if (a == "--packets") packets = std::max<uint64_t>(n, kBurst);
        else if (a == "--repeats" && n <= 1000) repeats = static_cast<unsigned>(n);
        else usage(argv[0]);
    }

    std::unique_ptr<Bench> made;
    try {
        made = std::make_unique<Bench>(flows);
    } catch (const std::bad_alloc&) {
        std::fprintf(stderr, "bench_flow_bound: cannot allocate the tables for %u flows\n", flows);
        return 1;
    }
    Bench& bench = *made;
    for (unsigned l = 0; l < kLoops; ++l) bench.run(static_cast<Loop>(l), 2ull * flows);  // warm up, create flows
    std::vector<double> ns[kLoops], ratio[kLoops];
    for (unsigned r = 0; r < repeats; ++r) {
        double t[kLoops];
        for (unsigned k = 0; k < kLoops; ++k) {  // the first loop changes each repeat
            const unsigned l = (k + r) % kLoops;
            t[l] = bench.run(static_cast<Loop>(l), packets);
            ns[l].push_back(t[l]);
        }
        std::printf("repeat %u/%u:", r + 1, repeats);
        for (unsigned l = 0; l < kLoops; ++l) {
            ratio[l].push_back(t[0] / t[l]);
            std::printf(" %s %.1f", kNames[l], t[l]);
        }
        std::printf(" ns per packet\n");
    }
    std::printf("flows %u, %llu packets per loop and repeat, %u repeats (thread CPU time; medians, ratio [min-max])\n",
                flows, static_cast<unsigned long long>(packets), repeats);
    for (unsigned l = 0; l < kLoops; ++l) {
        const auto [lo, hi] = std::minmax_element(ratio[l].begin(), ratio[l].end());
        std::printf("  %-8s %7.1f ns/packet %7.2f Mpps   copy/%-8s %.3f [%.3f-%.3f]\n", kNames[l], median(ns[l]),
                    1e3 / median(ns[l]), kNames[l], median(ratio[l]), *lo, *hi);
    }
    std::printf("  sluice's table holds %u flows\n", bench.table.active());
    if (bench.sink == 1) std::puts("");  // keeps the loads

    if (out.empty()) {
        struct stat st{};
        const bool dir = stat("bench/results", &st) == 0 && S_ISDIR(st.st_mode);
        out = (dir ? "bench/results/" : "") + ("flow-bound-" + utc_stamp(false) + ".json");
    }
    {
        utsname u{};
        uname(&u);
        std::vector<char> buf(64 * 1024);
        sluice::JsonWriter w(buf.data(), buf.size());
        w.begin_object()
            .kv("benchmark", "flow_bound")
            .kv("date", utc_stamp(true))
            .kv("host", u.nodename)
            .kv("cpu", cpu_model())
            .kv("cpus", static_cast<int64_t>(sysconf(_SC_NPROCESSORS_ONLN)))
            .kv("kernel", u.release)
            .kv("flows", flows)
            .kv("packets_per_loop", packets)
            .kv("repeats", repeats)
            .begin_object("loops");
        for (unsigned l = 0; l < kLoops; ++l) {
            w.begin_object(kNames[l]).begin_array("ns_per_packet");
            for (const double v : ns[l]) w.value(v);
            w.end_array().kv("ns_median", median(ns[l])).begin_array("ratio_copy_over");
            for (const double v : ratio[l]) w.value(v);
            w.end_array().kv("ratio_median", median(ratio[l])).end_object();
        }
        w.end_object().end_object();
        w.append("\n");
        std::ofstream f(out);
        if (w.overflowed() || !(f << w.view()) || !f.flush()) {
            std::fprintf(stderr, "bench_flow_bound: cannot write %s\n", out.c_str());
            return 1;
        }
        std::printf("wrote %s\n", out.c_str());
    }
    return 0;
}
