// Fuzz target: the packet path without DPDK. The input is a sequence of
// frames ([u16 length][bytes]...), each decoded, defragmented, looked up in a
// small flow table (so eviction and expiry run), and fed to TCP reassembly
// with tiny limits. Nothing may read out of bounds, leak or crash; the
// consumer checks that every stream byte position is delivered once.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "dataplane/decode.hpp"
#include "dataplane/defrag.hpp"
#include "dataplane/flow_table.hpp"
#include "dataplane/tcp_reassembly.hpp"

namespace {

using namespace sluice;

struct Checker final : StreamConsumer, FlowEndHandler {
    explicit Checker(TcpReassembler& r) : reasm(r) {}
    TcpReassembler& reasm;
    uint64_t next[2] = {0, 0};
    void on_data(Direction d, uint64_t off, std::span<const uint8_t> data) override {
        if (off != next[index(d)]) std::abort();
        volatile uint8_t sink = 0;
        for (uint8_t b : data) sink = static_cast<uint8_t>(sink ^ b);  // touch every byte (ASan)
        next[index(d)] = off + data.size();
    }
    void on_gap(Direction d, uint64_t off, uint64_t len) override {
        if (off != next[index(d)]) std::abort();
        next[index(d)] = off + len;
    }
    void on_end() override {}
    void on_flow_end(Flow& f, FlowEndReason) override {
        if (f.key.ip_proto == ipproto::tcp) {
            next[0] = f.stream.dir[0].offset;
            next[1] = f.stream.dir[1].offset;
            reasm.finish(f.stream, *this);
        }
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    FlowTimeouts t;
    t.seconds[0][0] = 1;
    FlowTable flows(8, t);
    StreamLimits lim;
    lim.max_ooo_bytes = 4096;
    TcpReassembler reasm(lim, 8);
    Defragmenter defrag(4, 1000000000ull);
    Checker check(reasm);
    uint64_t now = 1;
    size_t pos = 0;
    while (pos + 2 <= size) {
        const size_t len = std::min<size_t>((size_t{data[pos]} << 8 | data[pos + 1]), size - pos - 2);
        pos += 2;
        // An exact-size copy, so any overrun is caught by the sanitizer.
        std::vector<uint8_t> frame(data + pos, data + pos + len);
        pos += len;
        now += 300000000ull;
        DecodedPacket p;
        decode_ethernet(frame.data(), static_cast<uint32_t>(frame.size()), p);
        std::vector<uint8_t> whole;
        if (p.status == DecodeStatus::fragment) {
            auto dg = defrag.add(frame.data(), p, now);
            if (dg.empty()) continue;
            whole.assign(dg.begin(), dg.end());
            DecodedPacket q;
            decode_ip(whole.data(), static_cast<uint32_t>(whole.size()), 0, q);
            p = q;
            frame.swap(whole);
        }
        if (p.status != DecodeStatus::ok) continue;
        flows.next_epoch();
        PacketFlowInfo info = flows.lookup(p, now, check);
        if (info.blocked) {
            flows.next_epoch();
            info = flows.lookup(p, now, check);
        }
        if (!info.flow) continue;
        flows.update(*info.flow, info.dir, p, now);
        if (p.ip_proto == ipproto::tcp) {
            Flow& f = *info.flow;
            check.next[0] = f.stream.dir[0].offset;
            check.next[1] = f.stream.dir[1].offset;
            reasm.on_segment(f.stream, info.dir, p.tcp_seq, p.tcp_ack, p.tcp_flags,
                             {frame.data() + p.payload_offset, p.payload_len}, check);
        }
        if ((now / 300000000ull) % 7 == 0) flows.expire(now, 4, check);
    }
    flows.end_all(check, FlowEndReason::shutdown);
    if (reasm.pool().in_use() != 0) std::abort();  // every segment came back
    return 0;
}
