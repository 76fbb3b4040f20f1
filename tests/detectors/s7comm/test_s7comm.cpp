// S7commDecoder: handcrafted TPKT/COTP/S7 PDUs for every decoded function,
// COTP connection and segmentation, chunking, lying lengths, gaps, and real
// captures whose PDU functions are counted as tshark 4.0 counts them.
#include <gtest/gtest.h>
#include <pcap/pcap.h>

#include <array>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "dataplane/byte_reader.hpp"
#include "dataplane/json_writer.hpp"
#include "detectors/s7comm/s7comm_decoder.hpp"
#include "tests/support/pcap_streams.hpp"

namespace sluice {
namespace {

using Bytes = std::vector<uint8_t>;

struct Seen {
    Direction dir;
    OtOperation op;
    S7commRecord rec;
    std::string eve;
};

class Collect : public AppRecordSink {
public:
    std::vector<Seen> seen;
    void on_record(const AppRecord& r) override {
        EXPECT_EQ(r.proto, AppProto::s7comm);
        Seen s{r.dir, r.op, *static_cast<const S7commRecord*>(r.data), {}};
        std::array<char, 8192> buf{};
        JsonWriter w(buf.data(), buf.size());
        w.begin_object();
        r.write_eve(w, r.data);
        w.end_object();
        EXPECT_FALSE(w.overflowed());
        s.eve = std::string(w.view());
        s.rec.filename = s.rec.pi_service = s.rec.pi_parameter = {};
        seen.push_back(std::move(s));
    }
    // One key per PDU, as tshark's s7comm.header.rosctr / param.func /
    // userdata.funcgroup / subfunc: "1:0x04", "2", "7:4/1".
    std::map<std::string, int> per_pdu() const {
        std::map<std::string, int> out;
        for (const auto& s : seen) {
            if (s.rec.item_index > 0 || s.rec.plus) continue;
            std::string k = std::to_string(s.rec.rosctr);
            if (s.rec.has_userdata) {
                k.append(":").append(std::to_string(s.rec.ud_group)).append("/");
                if (s.rec.ud_group != 0) k.append(std::to_string(s.rec.ud_subfunction));
            } else if (s.rec.has_function) {
                char b[8];
                std::snprintf(b, sizeof b, ":0x%02x", s.rec.function);
                k += b;
            }
            ++out[k];
        }
        return out;
    }
};

void put(Bytes& out, const Bytes& b) {
    for (uint8_t x : b) out.push_back(x);
}

Bytes tpkt(const Bytes& cotp_and_payload) {
    const size_t len = cotp_and_payload.size() + 4;
    Bytes f = {0x03, 0x00, static_cast<uint8_t>(len >> 8), static_cast<uint8_t>(len)};
    put(f, cotp_and_payload);
    return f;
}

Bytes dt(const Bytes& payload, bool eot = true) {
    Bytes c = {0x02, 0xf0, static_cast<uint8_t>(eot ? 0x80 : 0x00)};
    put(c, payload);
    return tpkt(c);
}

// S7 PDU: header (+ error for ack/ack_data), parameter, data.
Bytes s7(uint8_t rosctr, uint16_t ref, const Bytes& param, const Bytes& data = {}) {
    Bytes p = {0x32, rosctr, 0x00, 0x00, static_cast<uint8_t>(ref >> 8), static_cast<uint8_t>(ref),
               static_cast<uint8_t>(param.size() >> 8), static_cast<uint8_t>(param.size()),
               static_cast<uint8_t>(data.size() >> 8), static_cast<uint8_t>(data.size())};
    if (rosctr == 2 || rosctr == 3) put(p, {0x00, 0x00});
    put(p, param);
    put(p, data);
    return p;
}

Bytes s7_item(uint8_t ts, uint16_t len, uint16_t db, uint8_t area, uint32_t byte, uint8_t bit = 0) {
    const uint32_t addr = (byte << 3) | bit;
    return {0x12, 0x0a, 0x10, ts, static_cast<uint8_t>(len >> 8), static_cast<uint8_t>(len), static_cast<uint8_t>(db >> 8),
            static_cast<uint8_t>(db), area, static_cast<uint8_t>(addr >> 16), static_cast<uint8_t>(addr >> 8),
            static_cast<uint8_t>(addr)};
}

const Bytes kConnect = tpkt({0x11, 0xe0, 0x00, 0x00, 0x00, 0x01, 0x00, 0xc0, 0x01, 0x0a, 0xc1, 0x02, 0x01, 0x00,
                             0xc2, 0x02, 0x01, 0x02});
const Bytes kSetup = dt(s7(1, 1, {0xf0, 0x00, 0x00, 0x01, 0x00, 0x01, 0x01, 0xe0}));
const Bytes kSetupAck = dt(s7(3, 1, {0xf0, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0xf0}));

Bytes read_two_items() {
    Bytes param = {0x04, 0x02};
    put(param, s7_item(0x04, 1, 1, s7_area::db, 0));         // DB1.DBW0
    put(param, s7_item(0x02, 4, 0, s7_area::flags, 16));     // MB16..MB19
    return dt(s7(1, 2, param));
}

nlohmann::json eve_of(const Seen& s) { return nlohmann::json::parse(s.eve); }

std::string dump(const S7commContext& ctx) {
    std::string out;
    for (size_t i = 0; i < CounterSet<S7commCounter>::size; ++i)
        if (ctx.counters.get(i) != 0)
            out += std::string(CounterSet<S7commCounter>::name(i)) + "=" + std::to_string(ctx.counters.get(i)) + " ";
    return out;
}

TEST(S7commDecoder, MemoryBudget) {
    EXPECT_LE(sizeof(S7commDecoder), 4608u);
    std::printf("sizeof(S7commDecoder) = %zu\n", sizeof(S7commDecoder));
}

TEST(S7commDecoder, ConnectSetupAndReadVarPerItem) {
    S7commContext ctx;
    S7commDecoder d(ctx);
    Collect sink;
    Bytes c2s = kConnect;
    put(c2s, kSetup);
    put(c2s, read_two_items());
    d.on_data(Direction::to_server, c2s, sink);
    Bytes resp_data = {0xff, 0x04, 0x00, 0x10, 0x12, 0x34, 0x0a, 0x00, 0x00, 0x00};  // DBW0 ok, MB16 object missing
    d.on_data(Direction::to_client, kSetupAck, sink);
    d.on_data(Direction::to_client, dt(s7(3, 2, {0x04, 0x02}, resp_data)), sink);
    ASSERT_EQ(sink.seen.size(), 5u) << dump(ctx);
    EXPECT_EQ(dump(ctx), "pdus=4 cotp_connects=1 ");

    const Seen& setup = sink.seen[0];
    EXPECT_EQ(setup.op.function, "setup_communication");
    EXPECT_EQ(setup.op.access, OtAccess::other);
    auto j = eve_of(setup);
    EXPECT_EQ(j["s7comm"]["rosctr"], "job");
    EXPECT_EQ(j["s7comm"]["setup"]["pdu_length"], 480);
    EXPECT_EQ(j["s7comm"]["tsap"]["dst"], 0x0102);

    const Seen& a = sink.seen[1];
    const Seen& b = sink.seen[2];
    EXPECT_EQ(a.op.function, "read_var");
    EXPECT_EQ(a.op.access, OtAccess::read);
    EXPECT_TRUE(a.op.is_request);
    EXPECT_EQ(a.rec.item_index, 0);
    EXPECT_EQ(b.rec.item_index, 1);
    EXPECT_EQ(a.op.unit, (uint32_t{s7_area::db} << 16) | 1u);
    EXPECT_EQ(a.op.address_first, 0u);
    EXPECT_EQ(a.op.address_last, 1u);  // one WORD
    EXPECT_EQ(b.op.unit, uint32_t{s7_area::flags} << 16);
    EXPECT_EQ(b.op.address_first, 16u);
    EXPECT_EQ(b.op.address_last, 19u);
    j = eve_of(a);
    EXPECT_EQ(j["s7comm"]["items"][0]["area"], "DB");
    EXPECT_EQ(j["s7comm"]["items"][0]["db"], 1);
    EXPECT_EQ(j["s7comm"]["items"][1]["area"], "M");
    EXPECT_EQ(j["s7comm"]["items"][1]["address"], 16);
    EXPECT_EQ(j["s7comm"]["item_index"], 0);

    const Seen& resp = sink.seen[4];
    EXPECT_FALSE(resp.op.is_request);
    EXPECT_TRUE(resp.op.is_exception);  // item 2 returned 0x0a
    EXPECT_EQ(resp.rec.num_items, 2u);
    EXPECT_EQ(resp.rec.items[0].return_code, 0xffu);
    EXPECT_EQ(resp.rec.items[1].return_code, 0x0au);
}

TEST(S7commDecoder, WriteVarChecksItsData) {
    Bytes param = {0x05, 0x02};
    put(param, s7_item(0x02, 3, 5, s7_area::db, 10));
    put(param, s7_item(0x01, 1, 0, s7_area::outputs, 2, 3));  // Q2.3
    Bytes data = {0x00, 0x04, 0x00, 0x18, 0x01, 0x02, 0x03, 0x00,  // 24 bits + fill byte
                  0x00, 0x03, 0x00, 0x01, 0x01};
    S7commContext ctx;
    S7commDecoder d(ctx);
    Collect sink;
    d.on_data(Direction::to_server, kSetup, sink);
    d.on_data(Direction::to_server, dt(s7(1, 3, param, data)), sink);
    ASSERT_EQ(sink.seen.size(), 3u);
    EXPECT_EQ(sink.seen[1].op.access, OtAccess::write);
    EXPECT_EQ(sink.seen[2].op.unit, uint32_t{s7_area::outputs} << 16);
    EXPECT_EQ(sink.seen[2].op.address_first, 2u);
    EXPECT_EQ(eve_of(sink.seen[2])["s7comm"]["items"][1]["bit"], 3);
    EXPECT_EQ(ctx.counters.get(S7commCounter::item_mismatch), 0u);
    // The same job whose second data item claims more bytes than it holds.
    Bytes lying = data;
    lying[11] = 0x40;
    d.on_data(Direction::to_server, dt(s7(1, 4, param, lying)), sink);
    EXPECT_EQ(ctx.counters.get(S7commCounter::item_mismatch), 1u);
    // Write var ack_data: one return code per item.
    d.on_data(Direction::to_client, dt(s7(3, 3, {0x05, 0x02}, {0xff, 0xff})), sink);
    EXPECT_FALSE(sink.seen.back().op.is_exception);
    EXPECT_EQ(ctx.counters.get(S7commCounter::item_mismatch), 1u);
}

TEST(S7commDecoder, BlockTransferAndPlcControl) {
    const std::string name = "_0A00001P";
    Bytes req = {0x1a, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09};
    put(req, Bytes(name.begin(), name.end()));
    put(req, {0x0d, '1', '0', '0', '0', '5', '0', '0', '0', '0', '4', '0', '0'});
    Bytes block = {0x1b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09};
    put(block, Bytes(name.begin(), name.end()));
    Bytes insert = {0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xfd, 0x00, 0x0a, 0x01, 0x00};
    put(insert, Bytes(name.begin() + 1, name.end()));
    put(insert, {0x05, '_', 'I', 'N', 'S', 'E'});
    Bytes start = {0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xfd, 0x00, 0x02, 'C', ' ', 0x09};
    const std::string prog = "P_PROGRAM";
    put(start, Bytes(prog.begin(), prog.end()));
    Bytes stop = {0x29, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09};
    put(stop, Bytes(prog.begin(), prog.end()));
    Bytes upload = {0x1d, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09};
    const std::string ob = "_0800001A";
    put(upload, Bytes(ob.begin(), ob.end()));
    S7commContext ctx;
    S7commDecoder d(ctx);
    Collect sink;
    d.on_data(Direction::to_server, kSetup, sink);
    for (const Bytes* p : {&req, &block, &insert, &start, &stop, &upload})
        d.on_data(Direction::to_server, dt(s7(1, 9, *p)), sink);
    d.on_data(Direction::to_client, dt(s7(3, 9, {0x1d, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x07, 0x07, '0', '0', '0', '0', '2', '1', '6'})), sink);
    d.on_data(Direction::to_server, dt(s7(1, 10, {0x1e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07})), sink);
    d.on_data(Direction::to_server, dt(s7(1, 11, {0x1f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07})), sink);
    ASSERT_EQ(sink.seen.size(), 10u) << dump(ctx);
    EXPECT_EQ(ctx.counters.get(S7commCounter::truncated_parameter), 0u) << dump(ctx);
    const auto& rd = sink.seen[1];
    EXPECT_EQ(rd.op.function, "request_download");
    EXPECT_EQ(rd.op.access, OtAccess::program);
    EXPECT_TRUE(rd.rec.has_block);
    EXPECT_STREQ(rd.rec.block_type, "DB");
    EXPECT_EQ(rd.rec.block_number, 1u);
    EXPECT_EQ(rd.rec.filesystem, 'P');
    auto j = eve_of(rd);
    EXPECT_EQ(j["s7comm"]["block"]["filename"], "_0A00001P");
    EXPECT_EQ(j["s7comm"]["block"]["type"], "DB");
    EXPECT_EQ(sink.seen[2].op.function, "download_block");
    EXPECT_EQ(sink.seen[3].op.function, "plc_control");
    EXPECT_EQ(sink.seen[3].op.access, OtAccess::program);
    EXPECT_EQ(eve_of(sink.seen[3])["s7comm"]["pi_service"], "_INSE");
    EXPECT_EQ(sink.seen[4].op.function, "plc_start");
    EXPECT_EQ(sink.seen[4].op.access, OtAccess::control);
    EXPECT_EQ(eve_of(sink.seen[4])["s7comm"]["restart"], "cold");
    EXPECT_EQ(sink.seen[5].op.function, "plc_stop");
    EXPECT_EQ(sink.seen[5].op.access, OtAccess::control);
    EXPECT_EQ(eve_of(sink.seen[5])["s7comm"]["pi_service"], "P_PROGRAM");
    EXPECT_EQ(sink.seen[6].op.function, "start_upload");
    EXPECT_STREQ(sink.seen[6].rec.block_type, "OB");
    EXPECT_EQ(sink.seen[7].rec.upload_id, 7u);  // start upload ack_data
    EXPECT_EQ(sink.seen[8].op.function, "upload");
    EXPECT_EQ(sink.seen[8].rec.upload_id, 7u);
    EXPECT_EQ(sink.seen[9].op.function, "end_upload");
}

TEST(S7commDecoder, UserdataAndS7commPlus) {
    S7commContext ctx;
    S7commDecoder d(ctx);
    Collect sink;
    d.on_data(Direction::to_server, kSetup, sink);
    // Read SZL request: group 4, subfunction 1.
    d.on_data(Direction::to_server,
              dt(s7(7, 5, {0x00, 0x01, 0x12, 0x04, 0x11, 0x44, 0x01, 0x00}, {0xff, 0x09, 0x00, 0x04, 0x00, 0x11, 0x00, 0x00})),
              sink);
    // Set clock response with an error code.
    d.on_data(Direction::to_client,
              dt(s7(7, 6, {0x00, 0x01, 0x12, 0x08, 0x12, 0x87, 0x02, 0x01, 0x00, 0x00, 0x80, 0x01}, {0x0a, 0x00, 0x00, 0x00})),
              sink);
    d.on_data(Direction::to_server, dt({0x72, 0x01, 0x00, 0x10, 0x31, 0x00, 0x00, 0x04, 0xf2, 0x00, 0x00}), sink);
    ASSERT_EQ(sink.seen.size(), 4u) << dump(ctx);
    EXPECT_EQ(sink.seen[1].op.function, "read_szl");
    EXPECT_EQ(sink.seen[1].op.access, OtAccess::diagnostic);
    EXPECT_TRUE(sink.seen[1].op.is_request);
    EXPECT_EQ(sink.seen[1].op.function_code, 0x10401u);
    auto j = eve_of(sink.seen[1]);
    EXPECT_EQ(j["s7comm"]["userdata"]["group_name"], "cpu_functions");
    EXPECT_EQ(j["s7comm"]["userdata"]["type"], "request");
    EXPECT_EQ(sink.seen[2].op.function, "set_clock");
    EXPECT_EQ(sink.seen[2].op.access, OtAccess::write);
    EXPECT_TRUE(sink.seen[2].op.is_exception);
    EXPECT_FALSE(sink.seen[2].op.is_request);
    EXPECT_EQ(sink.seen[3].op.function, "s7comm_plus");
    EXPECT_EQ(sink.seen[3].op.function_code, 0x04f2u);
    EXPECT_TRUE(sink.seen[3].op.is_request);
    EXPECT_EQ(ctx.counters.get(S7commCounter::s7comm_plus_pdus), 1u);
}

TEST(S7commDecoder, CotpSegmentsAreReassembled) {
    const Bytes pdu = s7(1, 2, [] {
        Bytes param = {0x04, 0x02};
        put(param, s7_item(0x04, 1, 1, s7_area::db, 0));
        put(param, s7_item(0x02, 4, 0, s7_area::flags, 16));
        return param;
    }());
    const std::span<const uint8_t> p(pdu);
    Bytes stream = kSetup;
    put(stream, dt({}, false));  // the empty DT some clients send first
    put(stream, dt(Bytes(p.begin(), p.begin() + 7), false));
    put(stream, dt(Bytes(p.begin() + 7, p.begin() + 20), false));
    put(stream, dt(Bytes(p.begin() + 20, p.end()), true));
    S7commContext ctx;
    S7commDecoder d(ctx);
    Collect sink;
    d.on_data(Direction::to_server, stream, sink);
    ASSERT_EQ(sink.seen.size(), 3u) << dump(ctx);
    EXPECT_EQ(sink.seen[2].op.address_first, 16u);
    EXPECT_TRUE(sink.seen[2].rec.lengths_ok);
    // Segments beyond the configured maximum are dropped whole.
    S7commContext small;
    small.config.max_pdu_size = 240;
    S7commDecoder d2(small);
    Collect s2;
    Bytes big = kSetup;
    for (int i = 0; i < 3; ++i) put(big, dt(Bytes(100, 0x32), false));
    put(big, dt(Bytes(10, 0x00), true));
    put(big, kSetup);
    d2.on_data(Direction::to_server, big, s2);
    EXPECT_EQ(s2.seen.size(), 2u);
    EXPECT_EQ(small.counters.get(S7commCounter::pdu_too_long), 1u);
}

TEST(S7commDecoder, SplitAtEveryByte) {
    Bytes c2s = kConnect;
    put(c2s, kSetup);
    put(c2s, read_two_items());
    put(c2s, dt({}, false));
    put(c2s, dt(s7(1, 9, {0x29, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, 'P', '_', 'P', 'R', 'O', 'G', 'R', 'A', 'M'})));
    Collect whole;
    {
        S7commContext ctx;
        S7commDecoder d(ctx);
        d.on_data(Direction::to_server, c2s, whole);
    }
    ASSERT_EQ(whole.seen.size(), 4u);
    for (size_t cut = 1; cut < c2s.size(); ++cut) {
        S7commContext ctx;
        S7commDecoder d(ctx);
        Collect split;
        const std::span<const uint8_t> s(c2s);
        d.on_data(Direction::to_server, s.first(cut), split);
        d.on_data(Direction::to_server, s.subspan(cut), split);
        ASSERT_EQ(split.seen.size(), whole.seen.size()) << cut;
        for (size_t i = 0; i < whole.seen.size(); ++i) ASSERT_EQ(split.seen[i].eve, whole.seen[i].eve) << cut;
    }
}

TEST(S7commDecoder, MalformedInputIsCountedByReason) {
    struct Case {
        Bytes bad;
        S7commCounter reason;
        size_t records;
    };
    Bytes lying_lengths = s7(1, 1, {0xf0, 0x00, 0x00, 0x01, 0x00, 0x01, 0x01, 0xe0});
    lying_lengths[7] = 0x20;  // parameter length 32 for 8 bytes
    Bytes short_header = {0x32, 0x01, 0x00};
    Bytes items_lie = {0x04, 0x03};  // three items announced, one given
    put(items_lie, s7_item(0x02, 1, 1, s7_area::db, 0));
    Bytes truncated_pi = {0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xfd, 0x00, 0x40};
    const std::vector<Case> cases = {
        {{0x03, 0x00, 0x00, 0x05, 0x02, 0xf0}, S7commCounter::bad_tpkt, 0},
        {{0x04, 0x00, 0x00, 0x07, 0x02, 0xf0, 0x80}, S7commCounter::bad_tpkt, 0},
        {tpkt({0x05, 0xf0, 0x80}), S7commCounter::bad_cotp, 0},
        {dt({0x33, 0x01, 0x00, 0x00}), S7commCounter::bad_protocol_id, 0},
        {dt(s7(9, 1, {})), S7commCounter::bad_rosctr, 0},
        {dt(lying_lengths), S7commCounter::length_mismatch, 1},
        {dt(short_header), S7commCounter::length_mismatch, 0},
        {dt(s7(1, 1, items_lie)), S7commCounter::item_mismatch, 1},
        {dt(s7(1, 1, truncated_pi)), S7commCounter::truncated_parameter, 1},
        {tpkt({0x02, 0x80, 0x00, 0x01, 0x00, 0x02}), S7commCounter::cotp_other, 0},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(std::string(counter_name(c.reason)));
        S7commContext ctx;
        S7commDecoder d(ctx);
        Collect sink;
        Bytes stream = kSetup;
        put(stream, c.bad);
        put(stream, kSetup);
        d.on_data(Direction::to_server, stream, sink);
        EXPECT_EQ(sink.seen.size(), 2 + c.records) << dump(ctx);
        EXPECT_EQ(ctx.counters.get(c.reason), 1u) << dump(ctx);
    }
}

TEST(S7commDecoder, OversizeFramesKeepTheirPrefix) {
    S7commContext ctx;
    S7commDecoder d(ctx);
    Collect sink;
    Bytes plus = {0x72, 0x02, 0x07, 0xd0, 0x31, 0x00, 0x00, 0x05, 0x86};
    plus.resize(2000, 0x00);
    d.on_data(Direction::to_server, kSetup, sink);
    d.on_data(Direction::to_server, dt(plus), sink);
    d.on_data(Direction::to_server, kSetup, sink);
    ASSERT_EQ(sink.seen.size(), 3u);
    EXPECT_EQ(sink.seen[1].op.function, "s7comm_plus");
    EXPECT_EQ(ctx.counters.get(S7commCounter::oversize_frame), 1u);
}

TEST(S7commDecoder, GapsAndForeignIsoTraffic) {
    S7commContext ctx;
    S7commDecoder d(ctx);
    Collect sink;
    const Bytes job = read_two_items();
    d.on_data(Direction::to_server, kSetup, sink);
    const std::span<const uint8_t> j(job);
    d.on_data(Direction::to_server, j.first(10), sink);
    d.on_gap(Direction::to_server, 5);
    d.on_data(Direction::to_server, j.subspan(15), sink);
    d.on_data(Direction::to_server, kSetup, sink);
    EXPECT_EQ(sink.seen.size(), 2u);
    EXPECT_EQ(ctx.counters.get(S7commCounter::resync_bytes), 0u);
    d.on_data(Direction::to_server, j.first(2), sink);
    d.on_gap(Direction::to_server, 5);
    d.on_data(Direction::to_server, j.subspan(7), sink);
    d.on_data(Direction::to_server, kSetup, sink);
    EXPECT_EQ(sink.seen.size(), 3u);
    EXPECT_EQ(ctx.counters.get(S7commCounter::gap_dropped_frame), 2u);
    // ISO-on-TCP carrying MMS (IEC 61850), not S7: the flow is given up.
    S7commDecoder mms(ctx);
    mms.on_data(Direction::to_server, kConnect, sink);
    mms.on_data(Direction::to_server, dt({0x01, 0x00, 0x01, 0x00, 0x61, 0x2e}), sink);
    mms.on_data(Direction::to_server, kSetup, sink);
    EXPECT_TRUE(mms.rejected());
    EXPECT_EQ(sink.seen.size(), 3u);
    EXPECT_EQ(ctx.counters.get(S7commCounter::not_s7comm_flows), 1u);
}

#define NEED_CORPUS()                                              \
    const std::string corpus = test::corpus_dir();                 \
    if (corpus.empty()) GTEST_SKIP() << "SLUICE_CORPUS not set or missing: capture test skipped"

struct CaptureRun {
    S7commContext ctx;
    Collect sink;
};

void run_capture(const std::string& path, CaptureRun& run) {
    std::map<size_t, std::unique_ptr<S7commDecoder>> flows;
    test::CaptureStreams h;
    h.on_tcp = [&](size_t conn, const test::Endpoints& ep, Direction dir, std::span<const uint8_t> data) {
        if (ep.server_port != 102 && ep.client_port != 102) return;
        auto& dec = flows[conn];
        if (!dec) dec = std::make_unique<S7commDecoder>(run.ctx);
        dec->on_data(dir, data, run.sink);
    };
    std::string err;
    ASSERT_TRUE(test::read_capture(path, h, &err)) << err;
}

// Many of the S7 captures were filtered down to the S7 packets, so TCP
// segments are missing between them. pcap_streams waits for the missing bytes
// forever; this reader hands the decoder each direction in capture order and
// announces every hole as a gap, which is what reassembly does on a live
// link. Ethernet (optionally one VLAN tag), IPv4, TCP only; retransmitted
// bytes are dropped.
void run_capture_with_gaps(const std::string& path, CaptureRun& run, uint64_t* gaps) {
    char err[PCAP_ERRBUF_SIZE];
    pcap_t* pc = pcap_open_offline(path.c_str(), err);
    ASSERT_NE(pc, nullptr) << err;
    ASSERT_EQ(pcap_datalink(pc), DLT_EN10MB);
    struct Flow {
        std::unique_ptr<S7commDecoder> dec;
        uint32_t next[2] = {0, 0};
        bool started[2] = {false, false};
    };
    std::map<std::string, Flow> flows;
    pcap_pkthdr* h = nullptr;
    const u_char* pkt = nullptr;
    while (pcap_next_ex(pc, &h, &pkt) == 1) {
        ByteReader r(pkt, h->caplen);
        r.skip(12);
        uint16_t type = r.be16();
        if (type == 0x8100) {
            r.skip(2);
            type = r.be16();
        }
        if (type != 0x0800) continue;
        const size_t ip = r.pos();
        const uint8_t ihl = static_cast<uint8_t>((r.u8() & 0x0f) * 4);
        r.skip(1);
        const uint16_t total = r.be16();
        r.skip(5);
        const uint8_t proto = r.u8();
        r.skip(2);
        const uint32_t src = r.be32(), dst = r.be32();
        if (r.failed() || proto != 6) continue;
        r.seek(ip + ihl);
        const uint16_t sport = r.be16(), dport = r.be16();
        const uint32_t seq = r.be32();
        r.skip(4);
        const uint8_t off = static_cast<uint8_t>((r.u8() >> 4) * 4);
        const size_t payload_at = ip + ihl + off;
        if (r.failed() || payload_at > ip + total || ip + total > h->caplen) continue;
        const size_t len = ip + total - payload_at;
        if (len == 0 || (sport != 102 && dport != 102)) continue;
        const bool to_server = dport == 102;
        const uint32_t cli = to_server ? src : dst, srv = to_server ? dst : src;
        const uint16_t cport = to_server ? sport : dport;
        Flow& f = flows[std::to_string(cli) + ":" + std::to_string(cport) + ">" + std::to_string(srv)];
        if (!f.dec) f.dec = std::make_unique<S7commDecoder>(run.ctx);
        const Direction dir = to_server ? Direction::to_server : Direction::to_client;
        const unsigned d = index(dir);
        std::span<const uint8_t> data(pkt + payload_at, len);
        uint32_t s = seq;
        if (!f.started[d]) {
            f.started[d] = true;
            f.next[d] = s;
        }
        const int32_t delta = static_cast<int32_t>(s - f.next[d]);
        if (delta < 0) {  // retransmission, maybe with new bytes at the end
            if (static_cast<size_t>(-static_cast<int64_t>(delta)) >= data.size()) continue;
            data = data.subspan(static_cast<size_t>(-static_cast<int64_t>(delta)));
            s = f.next[d];
        } else if (delta > 0) {
            f.dec->on_gap(dir, static_cast<uint64_t>(delta));
            ++*gaps;
        }
        f.dec->on_data(dir, data, run.sink);
        f.next[d] = s + static_cast<uint32_t>(data.size());
    }
    pcap_close(pc);
}

std::map<std::string, int> parse_counts(const std::string& s) {
    std::map<std::string, int> out;
    size_t p = 0;
    while (p < s.size()) {
        const size_t e = s.find(' ', p);
        const std::string kv = s.substr(p, e == std::string::npos ? std::string::npos : e - p);
        const size_t eq = kv.find('=');
        if (eq != std::string::npos) out[kv.substr(0, eq)] = std::stoi(kv.substr(eq + 1));
        if (e == std::string::npos) break;
        p = e + 1;
    }
    return out;
}

TEST(S7commCapture, PduFunctionsMatchTshark) {
    NEED_CORPUS();
    // tshark -Y s7comm -T fields -e s7comm.header.rosctr -e s7comm.param.func
    //   -e s7comm.param.userdata.funcgroup -e s7comm.param.userdata.subfunc
    const std::vector<std::pair<std::string, std::string>> expect = {
        {"snap7_s300_everything.pcapng",
         "1:0x04=2 1:0x05=2 1:0x1d=5 1:0x1e=4 1:0x1f=4 1:0x28=3 1:0x29=1 1:0xf0=1 2=1 3:0x04=2 3:0x05=2 3:0x1d=4 "
         "3:0x1e=4 3:0x1f=4 3:0x28=3 3:0x29=1 3:0xf0=1 7:3/1=2 7:3/3=2 7:4/1=12 7:7/1=2 7:7/2=2"},
        {"s7comm_downloading_block_db1.pcap",
         "1:0x1a=1 1:0x1b=3 1:0x1c=1 1:0x28=1 1:0xf0=3 3:0x1a=1 3:0x1b=3 3:0x1c=1 3:0x28=1 3:0xf0=3 7:3/1=10 "
         "7:3/2=4 7:3/3=2 7:4/1=14"},
        {"s7comm_reading_plc_status.pcap", "1:0xf0=1 3:0xf0=1 7:4/1=136 7:4/2=4 7:7/1=2"},
        {"s7comm_varservice_libnodavedemo.pcap", "1:0x04=3 1:0x05=4 1:0xf0=1 3:0x04=3 3:0x05=4 3:0xf0=1"},
        {"step7_s300_stop.pcapng", "1:0x29=1 3:0x29=1 7:0/=1 7:4/3=1"},
        {"step7_s300_readVarTab.pcapng", "7:1/13=12 7:1/14=210 7:1/15=2 7:1/2=107"},
        {"step7_s300_readDiagData.pcapng", "7:1/14=260 7:1/15=2 7:1/16=2 7:1/19=132 7:3/3=4 7:4/1=4 7:4/2=6"},
    };
    for (const auto& [file, counts] : expect) {
        SCOPED_TRACE(file);
        CaptureRun run;
        run_capture(corpus + "/iti-ics/pcaps/s7/" + file, run);
        EXPECT_EQ(run.sink.per_pdu(), parse_counts(counts)) << dump(run.ctx);
        EXPECT_EQ(run.ctx.counters.get(S7commCounter::length_mismatch), 0u) << dump(run.ctx);
    }
}

TEST(S7commCapture, CapturesWithHolesResynchroniseOnGaps) {
    NEED_CORPUS();
    // These captures lack many TCP segments ("previous segment not
    // captured"); every PDU after a hole must still be decoded, as tshark does.
    const std::vector<std::pair<std::string, std::string>> expect = {
        {"step7_s300_download.pcapng",
         "1:0x1a=1 1:0x1b=1 1:0x1c=1 1:0x28=1 1:0xf0=1 3:0x1a=1 3:0x1b=1 3:0x1c=1 3:0x28=1 3:0xf0=1 7:1/16=2 "
         "7:3/2=32 7:3/3=48 7:4/2=4"},
        {"wincc_s400_production.pcapng",
         "1:0x04=84 1:0x05=27 1:0xf0=1 3:0x04=84 3:0x05=27 3:0xf0=1 7:2/4=106 7:2/5=124 7:2/7=1008 7:4/19=4 "
         "7:4/1=174 7:4/2=4 7:4/5=2 7:4/6=12"},
        {"tia_s300_goOnline.pcapng", "1:0xf0=1 3:0xf0=1 7:1/16=14 7:3/1=14 7:3/2=28 7:3/3=8 7:4/1=372 7:4/2=10"},
        {"wincc_s300_setup-alarm-read-write.pcapng",
         "1:0x04=38 1:0x05=36 1:0xf0=1 3:0x04=38 3:0x05=36 3:0xf0=1 7:4/19=4 7:4/1=2 7:4/2=8"},
        {"tia_s300_downloadOb1.pcapng",
         "1:0x1a=1 1:0x1b=2 1:0x1c=1 1:0x28=1 3:0x1a=1 3:0x1b=2 3:0x1c=1 3:0x28=1 7:1/16=10 7:3/2=56 7:3/3=30"},
        {"tia_s300_downloadHwConfig.pcapng",
         "1:0x1a=7 1:0x1b=13 1:0x1c=7 1:0x28=12 1:0x29=1 1:0xf0=6 3:0x1a=7 3:0x1b=13 3:0x1c=7 3:0x28=12 3:0x29=1 "
         "3:0xf0=6 7:0/=2 7:1/16=2 7:3/2=28 7:3/3=2 7:4/2=28"},
        {"wincc_s300_setup-alarm-read_2.pcapng",
         "1:0x04=228 1:0x05=8 1:0xf0=1 3:0x04=228 3:0x05=8 3:0xf0=1 7:4/19=4 7:4/2=8"},
    };
    for (const auto& [file, counts] : expect) {
        SCOPED_TRACE(file);
        CaptureRun run;
        uint64_t gaps = 0;
        run_capture_with_gaps(corpus + "/iti-ics/pcaps/s7/" + file, run, &gaps);
        EXPECT_GT(gaps, 0u);
        EXPECT_EQ(run.sink.per_pdu(), parse_counts(counts)) << dump(run.ctx);
        EXPECT_EQ(run.ctx.counters.get(S7commCounter::length_mismatch), 0u) << dump(run.ctx);
    }
}

TEST(S7commCapture, DecodedValuesMatchTshark) {
    NEED_CORPUS();
    CaptureRun run;
    run_capture(corpus + "/iti-ics/pcaps/s7/snap7_s300_everything.pcapng", run);
    // tshark: the read var jobs address M (0x83) byte 16, then M, I, Q, T, C
    // at address 0; frames 57-63: stop (P_PROGRAM), _MODU, _GARB, then the
    // PI service P_PROGRAM that starts the PLC again.
    std::vector<std::string> reads, services;
    for (const auto& s : run.sink.seen) {
        if (s.op.is_request && s.op.function == "read_var")
            reads.push_back(std::string(s7_area_name(s.rec.items[s.rec.item_index].area)) + std::to_string(s.op.address_first));
        if (s.op.is_request && (s.rec.function == 0x28 || s.rec.function == 0x29))
            services.push_back(std::string(s.op.function) + ":" + nlohmann::json::parse(s.eve)["s7comm"]["pi_service"].get<std::string>());
    }
    EXPECT_EQ(reads, (std::vector<std::string>{"M16", "M0", "I0", "Q0", "T0", "C0"}));
    EXPECT_EQ(services, (std::vector<std::string>{"plc_stop:P_PROGRAM", "plc_control:_MODU", "plc_control:_GARB",
                                                  "plc_start:P_PROGRAM"}));
    CaptureRun dl;
    run_capture(corpus + "/iti-ics/pcaps/s7/s7comm_downloading_block_db1.pcap", dl);
    int download_jobs = 0;
    for (const auto& s : dl.sink.seen) {
        if (s.op.is_request && s.rec.has_block) {
            EXPECT_STREQ(s.rec.block_type, "DB");
            EXPECT_EQ(s.rec.block_number, 1u);
            EXPECT_EQ(s.op.access, OtAccess::program);
            ++download_jobs;
        }
    }
    EXPECT_EQ(download_jobs, 5);  // request download, 3 download block (sent by the PLC), download ended
}

TEST(S7commCapture, S7commPlusIsRecognisedNotDecoded) {
    NEED_CORPUS();
    CaptureRun run;
    run_capture(corpus + "/iti-ics/pcaps/s7/S7-1511_db2_var1_HMI.pcap", run);
    EXPECT_GT(run.ctx.counters.get(S7commCounter::s7comm_plus_pdus), 0u) << dump(run.ctx);
    EXPECT_EQ(run.ctx.counters.get(S7commCounter::pdus), 0u);
    for (const auto& s : run.sink.seen) EXPECT_EQ(s.op.function, "s7comm_plus");
}

}  // namespace
}  // namespace sluice
