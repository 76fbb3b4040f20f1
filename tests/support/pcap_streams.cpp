#include "tests/support/pcap_streams.hpp"

#include <pcap/pcap.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <tuple>

#include "dataplane/byte_reader.hpp"

namespace sluice::test {

namespace {

struct Key {
    IpAddr a, b;
    uint16_t pa, pb;
    uint8_t proto;
    auto operator<=>(const Key&) const = default;
};

struct DirState {
    bool started = false;
    uint32_t next = 0;
    std::map<uint32_t, std::vector<uint8_t>> pending;  // keyed by seq - next (small captures only)
};

struct Conn {
    size_t id = 0;
    Endpoints ep;
    DirState dir[2];
    bool ended = false;
};

int32_t seq_diff(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b); }

void deliver(Conn& c, Direction d, uint32_t seq, std::span<const uint8_t> data, const CaptureStreams& h) {
    DirState& s = c.dir[index(d)];
    if (!s.started) {
        s.started = true;
        s.next = seq;
    }
    int32_t delta = seq_diff(seq, s.next);
    if (delta < 0) {  // retransmission, possibly with new bytes at the end
        if (static_cast<size_t>(-static_cast<int64_t>(delta)) >= data.size()) return;
        data = data.subspan(static_cast<size_t>(-static_cast<int64_t>(delta)));
        seq = s.next;
        delta = 0;
    }
    if (delta > 0) {
        s.pending.emplace(seq, std::vector<uint8_t>(data.begin(), data.end()));
        return;
    }
    if (h.on_tcp) h.on_tcp(c.id, c.ep, d, data);
    s.next += static_cast<uint32_t>(data.size());
    for (auto it = s.pending.begin(); it != s.pending.end();) {
        int32_t dd = seq_diff(it->first, s.next);
        if (dd > 0) { ++it; continue; }
        auto& v = it->second;
        if (static_cast<size_t>(-static_cast<int64_t>(dd)) < v.size()) {
            std::span<const uint8_t> rest(v.data() + (-dd), v.size() - static_cast<size_t>(-dd));
            if (h.on_tcp) h.on_tcp(c.id, c.ep, d, rest);
            s.next += static_cast<uint32_t>(rest.size());
        }
        it = s.pending.erase(it);
        it = s.pending.begin();
    }
}

}  // namespace

std::string corpus_dir() {
    const char* env = std::getenv("SLUICE_CORPUS");
    if (!env) return {};
    struct stat st{};
    if (stat(env, &st) != 0 || !S_ISDIR(st.st_mode)) return {};
    return env;
}

bool read_capture(const std::string& path, const CaptureStreams& h, std::string* error) {
    char errbuf[PCAP_ERRBUF_SIZE];
    pcap_t* p = pcap_open_offline(path.c_str(), errbuf);
    if (!p) {
        if (error) *error = errbuf;
        return false;
    }
    const int linktype = pcap_datalink(p);
    std::map<Key, Conn> conns;
    size_t next_id = 0;
    pcap_pkthdr* hdr = nullptr;
    const u_char* pkt = nullptr;
    while (pcap_next_ex(p, &hdr, &pkt) == 1) {
        ByteReader r(pkt, hdr->caplen);
        uint16_t ethertype = 0;
        if (linktype == DLT_EN10MB) {
            r.skip(12);
            ethertype = r.be16();
            while (ethertype == 0x8100 || ethertype == 0x88a8) {
                r.skip(2);
                ethertype = r.be16();
            }
        } else if (linktype == DLT_RAW || linktype == 12 /* LINKTYPE_RAW on some systems */) {
            auto v = r.peek(1);
            if (v.empty()) continue;
            ethertype = (v[0] >> 4) == 6 ? 0x86dd : 0x0800;
        } else if (linktype == DLT_LINUX_SLL) {
            r.skip(14);
            ethertype = r.be16();
        } else if (linktype == DLT_NULL) {
            uint32_t fam = r.le32();
            ethertype = (fam == 2) ? 0x0800 : 0x86dd;
        } else {
            continue;
        }
        IpAddr src, dst;
        uint8_t proto = 0;
        size_t l4_len = 0;
        if (ethertype == 0x0800) {
            size_t start = r.pos();
            uint8_t vihl = r.u8();
            r.skip(1);
            uint16_t total = r.be16();
            r.skip(2);
            uint16_t frag = r.be16();
            r.skip(1);
            proto = r.u8();
            r.skip(2);
            auto s = r.bytes(4), d = r.bytes(4);
            if (r.failed() || (frag & 0x3fff) != 0) continue;
            src = IpAddr::v4_bytes(s.data());
            dst = IpAddr::v4_bytes(d.data());
            size_t ihl = (vihl & 0xf) * 4u;
            if (ihl < 20 || total < ihl) continue;
            r.seek(start + ihl);
            l4_len = total - ihl;
        } else if (ethertype == 0x86dd) {
            r.skip(4);
            uint16_t plen = r.be16();
            proto = r.u8();
            r.skip(1);
            auto s = r.bytes(16), d = r.bytes(16);
            if (r.failed()) continue;
            src = IpAddr::v6_bytes(s.data());
            dst = IpAddr::v6_bytes(d.data());
            l4_len = plen;
        } else {
            continue;
        }
        if (r.failed()) continue;
        l4_len = std::min(l4_len, r.remaining());
        ByteReader l4(r.peek(l4_len));
        uint16_t sport = l4.be16(), dport = l4.be16();
        std::span<const uint8_t> payload;
        uint32_t seq = 0;
        uint8_t flags = 0;
        if (proto == 6) {
            seq = l4.be32();
            l4.skip(4);
            uint8_t off = l4.u8();
            flags = l4.u8();
            size_t hl = (off >> 4) * 4u;
            if (l4.failed() || hl < 20 || hl > l4_len) continue;
            payload = l4.data().subspan(hl);
        } else if (proto == 17) {
            l4.skip(4);
            if (l4.failed()) continue;
            payload = l4.rest();
        } else {
            continue;
        }
        Key k{src, dst, sport, dport, proto};
        Key rk{dst, src, dport, sport, proto};
        auto it = conns.find(k);
        Direction d = Direction::to_server;
        if (it == conns.end()) {
            it = conns.find(rk);
            if (it != conns.end()) d = Direction::to_client;
        }
        if (it == conns.end() || (proto == 6 && it->second.ended && (flags & 0x02))) {
            if (it != conns.end()) conns.erase(it);
            // A SYN+ACK first means we see the server side first.
            bool reversed = proto == 6 && (flags & 0x12) == 0x12;
            Conn c;
            c.id = next_id++;
            c.ep = reversed ? Endpoints{dst, src, dport, sport, proto} : Endpoints{src, dst, sport, dport, proto};
            it = conns.emplace(reversed ? rk : k, std::move(c)).first;
            d = reversed ? Direction::to_client : Direction::to_server;
        }
        Conn& c = it->second;
        if (proto == 17) {
            if (h.on_udp && !payload.empty()) h.on_udp(c.ep, d, payload);
            continue;
        }
        if (flags & 0x02) {  // SYN: data starts at seq + 1
            c.dir[index(d)].started = true;
            c.dir[index(d)].next = seq + 1;
        }
        if (!payload.empty()) deliver(c, d, seq, payload, h);
        if (flags & 0x05) c.ended = true;  // FIN or RST: a later SYN on this tuple is a new connection
    }
    pcap_close(p);
    if (h.on_tcp_end) {
        std::vector<std::pair<size_t, Endpoints>> order;
        for (auto& [k, c] : conns)
            if (c.ep.ip_proto == 6) order.emplace_back(c.id, c.ep);
        std::sort(order.begin(), order.end(), [](auto& a, auto& b) { return a.first < b.first; });
        for (auto& [id, ep] : order) h.on_tcp_end(id, ep);
    }
    return true;
}

}  // namespace sluice::test
