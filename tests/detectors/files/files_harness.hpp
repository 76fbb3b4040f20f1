// Test support for the files detector: a WorkerServices that records what a
// detector asks of the worker (verdicts, holds, releases) and keeps the EVE
// events it writes (a real EveEmitter over a real EventRing), a flow on port
// 445, and SMB2 message sequences (uploads, downloads) built with the SMB
// decoder tests' PDU builder. The detector, the SMB decoder and the ClamAV
// service under test are the real ones.
// Thread rules: test code; the detector runs on the test thread.
#pragma once

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "dataplane/eve.hpp"
#include "dataplane/event_ring.hpp"
#include "detectors/detector.hpp"
#include "detectors/files/smb_detector.hpp"
#include "tests/detectors/smb/smb_pdu_builder.hpp"

namespace sluice::test {

class RecordingServices final : public WorkerServices {
public:
    explicit RecordingServices(bool ips, bool offline = false, size_t hold_capacity = 256)
        : ips_(ips), offline_(offline), hold_capacity_(hold_capacity), ring_(16u << 20), eve_(ring_, ~0ull, false, "") {}

    unsigned worker_id() const override { return 0; }
    bool ips() const override { return ips_; }
    bool offline() const override { return offline_; }
    EveEmitter& eve() override { return eve_; }

    void raise(PacketRef& p, Verdict v, DropReason why) override {
        raised.push_back({&p, nullptr, v, why});
        if (v > p.verdict) {
            p.verdict = v;
            p.reason = why;
        }
        if (v >= Verdict::drop_flow && p.flow) p.flow->flags |= flowflag::drop;
    }
    void raise(StreamContext& ctx, Verdict v, DropReason why) override {
        if (ctx.packet) {
            raise(*ctx.packet, v, why);
            return;
        }
        raised.push_back({nullptr, &ctx.flow, v, why});
        if (v >= Verdict::drop_flow) ctx.flow.flags |= flowflag::drop;
    }
    void stop_inspection(Flow& f) override { f.flags |= flowflag::pass; }
    void publish(StreamContext&, const AppTransaction&) override {}
    void publish(StreamContext&, const AppRecord&) override {}

    bool hold(PacketRef& p, uint64_t token, uint64_t deadline_ns, Verdict on_timeout) override {
        ++hold_calls;
        if (!ips_ || held_count() >= hold_capacity_) return false;
        p.held = true;
        p.hold_token = token;
        p.hold_deadline = deadline_ns;
        p.hold_timeout = on_timeout;
        held[token].push_back(&p);
        return true;
    }
    void release(uint64_t token, Verdict v, DropReason why) override {
        auto it = held.find(token);
        if (it == held.end()) return;
        for (PacketRef* p : it->second) settled.push_back({p, v, why});
        held.erase(it);
    }
    uint64_t steady_ns() const override {
        return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                         std::chrono::steady_clock::now().time_since_epoch())
                                         .count());
    }

    size_t held_count() const {
        size_t n = 0;
        for (const auto& [t, v] : held) n += v.size();
        return n;
    }

    // Events written since the last call, parsed.
    std::vector<nlohmann::json> take_events() {
        std::vector<nlohmann::json> out;
        for (;;) {
            const std::string_view rec = reader_.front(ring_);
            if (rec.empty()) break;
            out.push_back(nlohmann::json::parse(rec));
            ring_.pop();
        }
        all_events.insert(all_events.end(), out.begin(), out.end());
        return out;
    }
    std::vector<nlohmann::json> events_of(const std::string& type) {
        take_events();
        std::vector<nlohmann::json> out;
        for (const auto& e : all_events)
            if (e.value("event_type", "") == type) out.push_back(e);
        return out;
    }

    struct Raised {
        PacketRef* packet;
        Flow* flow;
        Verdict verdict;
        DropReason reason;
    };
    struct Settled {
        PacketRef* packet;
        Verdict verdict;
        DropReason reason;
    };
    std::vector<Raised> raised;
    std::map<uint64_t, std::vector<PacketRef*>> held;
    std::vector<Settled> settled;
    size_t hold_calls = 0;
    std::vector<nlohmann::json> all_events;

private:
    bool ips_;
    bool offline_;
    size_t hold_capacity_;
    EventRing ring_;
    EveReader reader_;
    EveEmitter eve_;
};

inline Flow make_smb_flow(uint64_t flow_id = 7001, uint16_t server_port = 445) {
    Flow f;
    f.key.addr[0] = *IpAddr::parse("198.18.0.10");
    f.key.addr[1] = *IpAddr::parse("198.18.0.20");
    f.key.port[0] = 49152;
    f.key.port[1] = server_port;
    f.key.ip_proto = ipproto::tcp;
    f.client_side = 0;
    f.flow_id = flow_id;
    f.pclass = ProtoClass::tcp;
    f.tcp_flags[0] = tcpflag::syn | tcpflag::ack;
    f.tcp_flags[1] = tcpflag::syn | tcpflag::ack;
    f.first_ns = f.last_ns = 1700000000000000000ull;
    return f;
}

constexpr Direction kC = Direction::to_server;
constexpr Direction kS = Direction::to_client;
constexpr Fid kFileId{0x1111, 0x2222};

struct Msg {
    Direction dir;
    Bytes msg;
};

// Negotiate 3.1.1, session, tree connect to \\198.18.0.20\plant (tree 5), CREATE of
// `name` answered with kFileId and end of file `eof`.
inline std::vector<Msg> open_file(const std::string& name, uint64_t eof, uint64_t mid0 = 0, bool negotiate = true,
                                  Fid fid = kFileId) {
    std::vector<Msg> s;
    if (negotiate) {
        s.push_back({kC, smb2({.cmd = 0, .mid = 0, .tree = 0, .session = 0}, Bytes{36, 0, 1, 0})});
        s.push_back({kS, smb2({.cmd = 0, .mid = 0, .resp = true, .tree = 0, .session = 0}, negotiate_resp(0x0311))});
        s.push_back({kC, smb2({.cmd = 1, .mid = 1, .tree = 0}, Bytes{25, 0, 0, 0})});
        s.push_back({kS, smb2({.cmd = 1, .mid = 1, .resp = true, .tree = 0}, session_setup_resp(0))});
        s.push_back({kC, smb2({.cmd = 3, .mid = 2, .tree = 0}, tree_connect_req("\\\\198.18.0.20\\plant"))});
        s.push_back({kS, smb2({.cmd = 3, .mid = 2, .resp = true, .tree = 5}, tree_connect_resp(1))});
    }
    s.push_back({kC, smb2({.cmd = 5, .mid = mid0 + 3, .tree = 5}, create_req(name, 5))});
    s.push_back({kS, smb2({.cmd = 5, .mid = mid0 + 3, .resp = true, .tree = 5}, create_resp(fid, eof, eof ? 1 : 2))});
    return s;
}

// An upload of `content` in writes of `chunk` bytes, then CLOSE (the file
// finishes at the CLOSE request: its size was not announced).
inline std::vector<Msg> upload(const std::string& name, const Bytes& content, size_t chunk = 16384, uint64_t mid0 = 0,
                               bool negotiate = true, Fid fid = kFileId) {
    auto s = open_file(name, 0, mid0, negotiate, fid);
    uint64_t mid = mid0 + 10;
    for (size_t off = 0; off < content.size(); off += chunk) {
        const Bytes piece(content.begin() + static_cast<long>(off),
                          content.begin() + static_cast<long>(std::min(content.size(), off + chunk)));
        s.push_back({kC, smb2({.cmd = 9, .mid = mid, .tree = 5}, write_req(fid, off, piece))});
        s.push_back({kS, smb2({.cmd = 9, .mid = mid, .resp = true, .tree = 5}, write_resp(static_cast<uint32_t>(piece.size())))});
        ++mid;
    }
    s.push_back({kC, smb2({.cmd = 6, .mid = mid, .tree = 5}, close_req(fid))});
    s.push_back({kS, smb2({.cmd = 6, .mid = mid, .resp = true, .tree = 5}, close_resp())});
    return s;
}

// A download of `content` (size announced by CREATE) in reads of `chunk`
// bytes: the file completes with the last READ response.
inline std::vector<Msg> download(const std::string& name, const Bytes& content, size_t chunk = 16384) {
    auto s = open_file(name, content.size());
    uint64_t mid = 10;
    for (size_t off = 0; off < content.size(); off += chunk) {
        const Bytes piece(content.begin() + static_cast<long>(off),
                          content.begin() + static_cast<long>(std::min(content.size(), off + chunk)));
        s.push_back({kC, smb2({.cmd = 8, .mid = mid, .tree = 5}, read_req(kFileId, off, static_cast<uint32_t>(piece.size())))});
        s.push_back({kS, smb2({.cmd = 8, .mid = mid, .resp = true, .tree = 5}, read_resp(piece))});
        ++mid;
    }
    s.push_back({kC, smb2({.cmd = 6, .mid = mid, .tree = 5}, close_req(kFileId))});
    s.push_back({kS, smb2({.cmd = 6, .mid = mid, .resp = true, .tree = 5}, close_resp())});
    return s;
}

// Feeds messages to a detector as the worker would: each message framed
// (NetBIOS) in its own packet, stream data first, then inspect().
class FlowFeeder {
public:
    FlowFeeder(SmbDetector& det, Flow& flow) : det_(det), flow_(flow) {}

    PacketRef& send(Direction dir, const Bytes& msg) { return send_raw(dir, nbss(msg)); }
    PacketRef& send_raw(Direction dir, const Bytes& bytes) {
        PacketRef& p = new_packet(dir, bytes.size());
        StreamContext ctx{flow_, &p};
        det_.on_stream_data(ctx, dir, offset_[index(dir)], std::span<const uint8_t>(bytes.data(), bytes.size()));
        offset_[index(dir)] += bytes.size();
        PacketRef* batch[1] = {&p};
        det_.inspect(std::span<PacketRef* const>(batch, 1));
        return p;
    }
    // A packet whose bytes the reassembler does not deliver again (a
    // retransmission) or an ACK without payload: only inspect() sees it.
    PacketRef& send_no_data(Direction dir, uint32_t payload_len, uint8_t tcp_flags = tcpflag::ack) {
        PacketRef& p = new_packet(dir, payload_len);
        p.pkt.tcp_flags = tcp_flags;
        PacketRef* batch[1] = {&p};
        det_.inspect(std::span<PacketRef* const>(batch, 1));
        return p;
    }
    void run(const std::vector<Msg>& msgs) {
        for (const auto& m : msgs) send(m.dir, m.msg);
    }
    // Index of the packet in the order sent.
    size_t number(const PacketRef* p) const {
        for (size_t i = 0; i < packets_.size(); ++i)
            if (&packets_[i] == p) return i;
        return SIZE_MAX;
    }
    std::deque<PacketRef>& packets() { return packets_; }

private:
    PacketRef& new_packet(Direction dir, size_t payload) {
        packets_.emplace_back();
        PacketRef& p = packets_.back();
        p.flow = &flow_;
        p.dir = dir;
        p.inspect = true;
        p.pkt.ip_proto = ipproto::tcp;
        p.pkt.payload_len = static_cast<uint32_t>(payload);
        p.pkt.tcp_flags = tcpflag::ack | tcpflag::psh;
        flow_.last_ns += 1000000;
        p.ts_ns = flow_.last_ns;
        ++flow_.pkts[index(dir)];
        p.flow_pkt_no = flow_.pkts[0] + flow_.pkts[1];
        return p;
    }

    SmbDetector& det_;
    Flow& flow_;
    uint64_t offset_[2] = {0, 0};
    std::deque<PacketRef> packets_;
};

// Polls until the detector has no file at the scanner (or the time is up).
inline bool drain(SmbDetector& det, std::chrono::milliseconds limit = std::chrono::seconds(20)) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
        det.poll();
        if (det.outstanding() == 0) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return false;
}

}  // namespace sluice::test
