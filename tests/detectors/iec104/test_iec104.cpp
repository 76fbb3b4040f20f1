// Iec104Decoder: handcrafted APDUs of every format, ASDUs with SQ=0/1 and
// commands, chunking, lying lengths and control fields, gaps, and real
// captures cross-checked with tshark 4.0.
#include <gtest/gtest.h>

#include <array>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "dataplane/byte_reader.hpp"
#include "dataplane/json_writer.hpp"
#include "detectors/iec104/iec104_decoder.hpp"
#include "tests/support/pcap_streams.hpp"

namespace sluice {
namespace {

using Bytes = std::vector<uint8_t>;

struct Seen {
    Direction dir;
    OtOperation op;
    Iec104Record rec;
    std::string eve;
};

class Collect : public AppRecordSink {
public:
    std::vector<Seen> seen;
    void on_record(const AppRecord& r) override {
        EXPECT_EQ(r.proto, AppProto::iec104);
        Seen s{r.dir, r.op, *static_cast<const Iec104Record*>(r.data), {}};
        std::array<char, 4096> buf{};
        JsonWriter w(buf.data(), buf.size());
        w.begin_object();
        r.write_eve(w, r.data);
        w.end_object();
        EXPECT_FALSE(w.overflowed());
        s.eve = std::string(w.view());
        s.rec.asdu = {};
        seen.push_back(std::move(s));
    }
    // "c:45/6/1" (client, type 45, cause 6, 1 object) or "U4" per record.
    std::string summary() const {
        std::string out;
        for (const auto& s : seen) {
            if (!out.empty()) out += ' ';
            if (s.rec.format == 'U') out += "U" + std::to_string(s.rec.u_function);
            else
                out += std::string(s.dir == Direction::to_server ? "c:" : "s:") + std::to_string(s.rec.type_id) + "/" +
                       std::to_string(s.rec.cause) + "/" + std::to_string(s.rec.num_objects);
        }
        return out;
    }
};

void put(Bytes& out, const Bytes& b) {
    for (uint8_t x : b) out.push_back(x);
}

Bytes u_frame(uint8_t function) { return {0x68, 0x04, static_cast<uint8_t>(function | 0x03), 0x00, 0x00, 0x00}; }
Bytes s_frame(uint16_t nr) { return {0x68, 0x04, 0x01, 0x00, static_cast<uint8_t>(nr << 1), static_cast<uint8_t>(nr >> 7)}; }

Bytes i_frame(uint16_t ns, uint16_t nr, const Bytes& asdu) {
    Bytes f = {0x68, static_cast<uint8_t>(asdu.size() + 4), static_cast<uint8_t>(ns << 1), static_cast<uint8_t>(ns >> 7),
               static_cast<uint8_t>(nr << 1), static_cast<uint8_t>(nr >> 7)};
    put(f, asdu);
    return f;
}

// ASDU header: type, VSQ, COT, originator, common address (LE).
Bytes asdu(uint8_t type, uint8_t vsq, uint8_t cot, uint16_t ca, const Bytes& objects) {
    Bytes a = {type, vsq, cot, 0x00, static_cast<uint8_t>(ca), static_cast<uint8_t>(ca >> 8)};
    put(a, objects);
    return a;
}

Bytes ioa(uint32_t a) { return {static_cast<uint8_t>(a), static_cast<uint8_t>(a >> 8), static_cast<uint8_t>(a >> 16)}; }

nlohmann::json eve_of(const Seen& s) { return nlohmann::json::parse(s.eve); }

std::string dump(const Iec104Context& ctx) {
    std::string out;
    for (size_t i = 0; i < CounterSet<Iec104Counter>::size; ++i)
        if (ctx.counters.get(i) != 0)
            out += std::string(CounterSet<Iec104Counter>::name(i)) + "=" + std::to_string(ctx.counters.get(i)) + " ";
    return out;
}

// A session: STARTDT, interrogation, a single command and a setpoint, with
// the server's answers (SQ=1 monitoring data among them).
struct Session {
    Bytes to_server, to_client;
};

Session session() {
    Session s;
    put(s.to_server, u_frame(iec104_u::startdt_act));
    put(s.to_client, u_frame(iec104_u::startdt_con));
    put(s.to_server, i_frame(0, 0, asdu(100, 0x01, 6, 7, [] { Bytes o = ioa(0); o.push_back(20); return o; }())));
    put(s.to_client, i_frame(0, 1, asdu(100, 0x01, 7, 7, [] { Bytes o = ioa(0); o.push_back(20); return o; }())));
    Bytes sq = ioa(1000);  // M_SP_NA_1, SQ=1, 5 elements from IOA 1000
    put(sq, {0x01, 0x00, 0x01, 0x00, 0x01});
    put(s.to_client, i_frame(1, 1, asdu(1, 0x85, 20, 7, sq)));
    Bytes me;  // M_ME_NC_1, SQ=0, 2 objects
    put(me, ioa(2001));
    put(me, {0x00, 0x00, 0x80, 0x3f, 0x00});
    put(me, ioa(2005));
    put(me, {0x00, 0x00, 0x00, 0x40, 0x00});
    put(s.to_client, i_frame(2, 1, asdu(13, 0x02, 3, 7, me)));
    put(s.to_server, s_frame(3));
    put(s.to_server, i_frame(1, 3, asdu(45, 0x01, 6, 7, [] { Bytes o = ioa(15000); o.push_back(0x81); return o; }())));
    put(s.to_server, i_frame(2, 3, asdu(50, 0x01, 6, 7, [] {
                                 Bytes o = ioa(16000);
                                 put(o, {0x00, 0x00, 0x48, 0x42, 0x00});
                                 return o;
                             }())));
    put(s.to_client, i_frame(3, 3, asdu(45, 0x01, 0x47, 7, [] { Bytes o = ioa(15000); o.push_back(0x81); return o; }())));
    put(s.to_server, u_frame(iec104_u::testfr_act));
    return s;
}

TEST(Iec104Decoder, MemoryBudget) {
    EXPECT_LE(sizeof(Iec104Decoder), 640u);
    std::printf("sizeof(Iec104Decoder) = %zu\n", sizeof(Iec104Decoder));
}

TEST(Iec104Decoder, SessionDecodes) {
    const Session s = session();
    Iec104Context ctx;
    Iec104Decoder d(ctx);
    Collect sink;
    d.on_data(Direction::to_server, s.to_server, sink);
    d.on_data(Direction::to_client, s.to_client, sink);
    EXPECT_EQ(sink.summary(), "U4 c:100/6/1 c:45/6/1 c:50/6/1 U64 U8 s:100/7/1 s:1/20/5 s:13/3/2 s:45/7/1");
    EXPECT_EQ(dump(ctx), "i_frames=7 s_frames=1 u_frames=3 ");
    const Seen& start = sink.seen[0];
    EXPECT_EQ(start.op.function, "startdt_act");
    EXPECT_EQ(start.op.access, OtAccess::other);
    EXPECT_FALSE(start.op.has_unit);
    const Seen& gi = sink.seen[1];
    EXPECT_EQ(gi.op.function, "c_ic_na_1");
    EXPECT_EQ(gi.op.access, OtAccess::read);
    EXPECT_TRUE(gi.op.is_request);
    EXPECT_EQ(gi.op.unit, 7u);
    const Seen& sc = sink.seen[2];
    EXPECT_EQ(sc.op.function, "c_sc_na_1");
    EXPECT_EQ(sc.op.access, OtAccess::control);
    ASSERT_TRUE(sc.op.has_address);
    EXPECT_EQ(sc.op.address_first, 15000u);
    EXPECT_EQ(sink.seen[3].op.access, OtAccess::write);  // C_SE_NC_1 setpoint
    EXPECT_EQ(sink.seen[3].rec.send_seq, 2u);
    EXPECT_EQ(sink.seen[4].op.access, OtAccess::diagnostic);  // TESTFR
    const Seen& sq = sink.seen[7];
    EXPECT_TRUE(sq.rec.sq);
    EXPECT_TRUE(sq.rec.objects_ok);
    EXPECT_EQ(sq.op.address_first, 1000u);
    EXPECT_EQ(sq.op.address_last, 1004u);
    EXPECT_EQ(sq.op.access, OtAccess::read);
    EXPECT_FALSE(sq.op.is_request);
    const auto j = eve_of(sink.seen[8]);
    EXPECT_EQ(j["iec104"]["apci"]["format"], "I");
    EXPECT_EQ(j["iec104"]["apci"]["send_seq"], 2);
    EXPECT_EQ(j["iec104"]["asdu"]["type"], "M_ME_NC_1");
    EXPECT_EQ(j["iec104"]["asdu"]["cause_name"], "spont");
    EXPECT_EQ(j["iec104"]["asdu"]["common_address"], 7);
    EXPECT_EQ(j["iec104"]["asdu"]["ioa"], nlohmann::json::parse("[2001, 2005]"));
    EXPECT_EQ(j["iec104"]["asdu"]["complete"], true);
    const Seen& neg = sink.seen[9];  // actcon with P/N set: the command was refused
    EXPECT_TRUE(neg.op.is_exception);
    EXPECT_TRUE(neg.rec.negative);
    EXPECT_EQ(eve_of(neg)["iec104"]["asdu"]["negative"], true);
    EXPECT_EQ(eve_of(sink.seen[4])["iec104"]["apci"]["function"], "testfr_act");
}

TEST(Iec104Decoder, SplitAtEveryByte) {
    const Session s = session();
    Collect whole;
    {
        Iec104Context ctx;
        Iec104Decoder d(ctx);
        d.on_data(Direction::to_server, s.to_server, whole);
        d.on_data(Direction::to_client, s.to_client, whole);
    }
    for (size_t cut = 1; cut < s.to_client.size(); ++cut) {
        Iec104Context ctx;
        Iec104Decoder d(ctx);
        Collect split;
        const std::span<const uint8_t> a(s.to_server), b(s.to_client);
        const size_t acut = std::min(cut, a.size());
        d.on_data(Direction::to_server, a.first(acut), split);
        d.on_data(Direction::to_server, a.subspan(acut), split);
        d.on_data(Direction::to_client, b.first(cut), split);
        d.on_data(Direction::to_client, b.subspan(cut), split);
        ASSERT_EQ(split.summary(), whole.summary()) << cut;
        for (size_t i = 0; i < whole.seen.size(); ++i) ASSERT_EQ(split.seen[i].eve, whole.seen[i].eve);
    }
    Iec104Context ctx;
    Iec104Decoder d(ctx);
    Collect bytewise;
    for (uint8_t x : s.to_server) d.on_data(Direction::to_server, std::span<const uint8_t>(&x, 1), bytewise);
    for (uint8_t x : s.to_client) d.on_data(Direction::to_client, std::span<const uint8_t>(&x, 1), bytewise);
    EXPECT_EQ(bytewise.summary(), whole.summary());
}

TEST(Iec104Decoder, MalformedApdusAreCountedByReason) {
    const Bytes ok = u_frame(iec104_u::testfr_act);
    struct Case {
        Bytes bad;
        Iec104Counter reason;
        size_t records;  // from `bad` itself
    };
    Bytes unknown = i_frame(0, 0, asdu(200, 0x01, 3, 1, ioa(5)));
    Bytes short_asdu = i_frame(0, 0, {0x01, 0x01, 0x03});
    Bytes lying_vsq = i_frame(0, 0, asdu(1, 0x05, 3, 1, [] { Bytes o = ioa(1); o.push_back(0); return o; }()));
    Bytes extra = i_frame(0, 0, asdu(100, 0x01, 6, 1, [] { Bytes o = ioa(0); put(o, {20, 0xee, 0xee}); return o; }()));
    Bytes zero = i_frame(0, 0, asdu(100, 0x00, 6, 1, {}));
    const std::vector<Case> cases = {
        {{0x68, 0x02, 0x43, 0x00}, Iec104Counter::bad_length, 0},
        {{0x68, 0xfe, 0x43, 0x00, 0x00, 0x00}, Iec104Counter::bad_length, 0},
        {{0x67, 0x04, 0x43, 0x00, 0x00, 0x00}, Iec104Counter::bad_start, 0},
        {{0x68, 0x05, 0x01, 0x00, 0x00, 0x00, 0x00}, Iec104Counter::bad_control, 0},
        {{0x68, 0x04, 0x0f, 0x00, 0x00, 0x00}, Iec104Counter::bad_control, 1},
        {unknown, Iec104Counter::unknown_type_id, 1},
        {short_asdu, Iec104Counter::asdu_too_short, 1},
        {lying_vsq, Iec104Counter::asdu_length_mismatch, 1},
        {extra, Iec104Counter::asdu_length_mismatch, 1},
        {zero, Iec104Counter::zero_objects, 1},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(std::string(counter_name(c.reason)));
        Iec104Context ctx;
        Iec104Decoder d(ctx);
        Collect sink;
        Bytes stream = ok;  // the flow opens cleanly
        put(stream, c.bad);
        put(stream, ok);
        d.on_data(Direction::to_server, stream, sink);
        EXPECT_EQ(sink.seen.size(), 2 + c.records) << dump(ctx);
        EXPECT_EQ(ctx.counters.get(c.reason), 1u) << dump(ctx);
        if (c.records == 1) {
            EXPECT_NO_THROW((void)eve_of(sink.seen[1]));
        }
    }
}

TEST(Iec104Decoder, SequenceErrorsAndGaps) {
    Iec104Context ctx;
    Iec104Decoder d(ctx);
    Collect sink;
    const Bytes gi = asdu(100, 0x01, 6, 1, [] { Bytes o = ioa(0); o.push_back(20); return o; }());
    d.on_data(Direction::to_server, i_frame(0, 0, gi), sink);
    d.on_data(Direction::to_server, i_frame(1, 0, gi), sink);
    d.on_data(Direction::to_server, i_frame(5, 0, gi), sink);  // 2..4 missing
    EXPECT_EQ(ctx.counters.get(Iec104Counter::sequence_error), 1u);
    // A gap inside an APDU whose length is known: stay in step.
    const Bytes f = i_frame(6, 0, gi);
    const std::span<const uint8_t> fs(f);
    d.on_data(Direction::to_server, fs.first(8), sink);
    d.on_gap(Direction::to_server, 3);
    d.on_data(Direction::to_server, fs.subspan(11), sink);
    d.on_data(Direction::to_server, i_frame(9, 0, gi), sink);  // numbering restarts after a gap
    EXPECT_EQ(sink.seen.size(), 4u);
    EXPECT_EQ(ctx.counters.get(Iec104Counter::sequence_error), 1u);
    EXPECT_EQ(ctx.counters.get(Iec104Counter::gap_dropped_apdu), 1u);
    EXPECT_EQ(ctx.counters.get(Iec104Counter::resync_bytes), 0u);
    // A gap inside the header: hunt for the next clean APCI.
    d.on_data(Direction::to_server, fs.first(3), sink);
    d.on_gap(Direction::to_server, 2);
    d.on_data(Direction::to_server, fs.subspan(5), sink);
    d.on_data(Direction::to_server, u_frame(iec104_u::testfr_act), sink);
    EXPECT_EQ(sink.seen.size(), 5u);
    EXPECT_EQ(sink.seen.back().rec.format, 'U');
}

TEST(Iec104Decoder, FlowThatIsNotIec104IsGivenUp) {
    Iec104Context ctx;
    Iec104Decoder d(ctx);
    Collect sink;
    const std::string junk = "GET / HTTP/1.1\r\n\r\n";
    d.on_data(Direction::to_server, as_bytes(std::string_view(junk)), sink);
    d.on_data(Direction::to_server, u_frame(iec104_u::startdt_act), sink);
    EXPECT_TRUE(d.rejected());
    EXPECT_TRUE(sink.seen.empty());
    EXPECT_EQ(ctx.counters.get(Iec104Counter::not_iec104_flows), 1u);
}

#define NEED_CORPUS()                                              \
    const std::string corpus = test::corpus_dir();                 \
    if (corpus.empty()) GTEST_SKIP() << "SLUICE_CORPUS not set or missing: capture test skipped"

struct CaptureRun {
    Iec104Context ctx;
    std::map<size_t, Collect> by_conn;
    std::map<size_t, uint16_t> client_port;
};

void run_capture(const std::string& path, CaptureRun& run) {
    std::map<size_t, std::unique_ptr<Iec104Decoder>> flows;
    test::CaptureStreams h;
    h.on_tcp = [&](size_t conn, const test::Endpoints& ep, Direction dir, std::span<const uint8_t> data) {
        auto& dec = flows[conn];
        if (!dec) dec = std::make_unique<Iec104Decoder>(run.ctx);
        run.client_port[conn] = ep.client_port;
        dec->on_data(dir, data, run.by_conn[conn]);
    };
    std::string err;
    ASSERT_TRUE(test::read_capture(path, h, &err)) << err;
}

TEST(Iec104Capture, WiresharkTestCaptureMatchesTshark) {
    NEED_CORPUS();
    CaptureRun run;
    run_capture(corpus + "/iti-ics/pcaps/IEC60870-5-104/TestDissectIec104.pcap", run);
    // The clean session (client port 1578), as tshark decodes it
    // (iec60870_104.type/utype, iec60870_asdu.typeid/causetx/numix).
    size_t clean = SIZE_MAX;
    for (const auto& [conn, port] : run.client_port)
        if (port == 1578) clean = conn;
    ASSERT_NE(clean, SIZE_MAX);
    EXPECT_EQ(run.by_conn[clean].summary(),
              "U4 U8 s:70/4/1 c:100/6/1 s:100/7/1 s:1/20/9 s:3/20/3 s:100/10/1 c:46/6/1 s:46/7/1 s:70/4/1 "
              "c:45/6/1 s:45/7/1 c:45/6/1 s:45/7/1 s:30/3/1 c:45/6/1 s:45/7/1 c:45/6/1 c:103/6/1 s:103/7/1");
    const auto& recs = run.by_conn[clean].seen;
    EXPECT_EQ(recs[2].rec.common_address, 37133u);
    EXPECT_EQ(recs[5].op.address_first, 10010u);  // M_SP_NA_1 IOAs 10010..10018
    EXPECT_EQ(recs[5].op.address_last, 10018u);
    EXPECT_EQ(recs[6].op.address_first, 20010u);
    EXPECT_EQ(recs[8].op.address_first, 15000u);  // C_DC_NA_1 to IOA 15000
    EXPECT_EQ(recs[8].op.access, OtAccess::control);
    for (const auto& s : recs)
        if (s.rec.format == 'I') {
            EXPECT_TRUE(s.rec.objects_ok) << s.eve;
        }
    // The other sessions are the dissector's torture tests: lengths of 1, 2,
    // 3, 5 and 6, ASDUs of unknown types. They are counted, never fatal.
    // Junk before the start byte is skipped until a clean APCI: only the
    // sessions' STARTDT and TESTFR exchanges survive (tshark frames 4/5,
    // 13/14, 20/21, ... decode them the same); the short I frames that tshark
    // dissects after junk (lengths 6 and 8, "type ids" 24 and 26) are skipped.
    std::string others;
    for (const auto& [conn, port] : run.client_port)
        if (port != 1578) others += std::to_string(port) + ": " + run.by_conn[conn].summary() + "; ";
    EXPECT_EQ(others, "1568: U4 U8 U64 U128 U64 U128; 1570: U4 U8 U64 U128; 1571: U4 U8 U64 U128; "
                      "1572: U4 U8 U64 U128 U64 U128 U64 U128; 1577: U4 U8; ");
    EXPECT_EQ(run.ctx.counters.get(Iec104Counter::bad_start), 9u) << dump(run.ctx);
}

TEST(Iec104Capture, NdpiCaptureMatchesTshark) {
    NEED_CORPUS();
    CaptureRun run;
    run_capture(corpus + "/ndpi-4.2/pcap/IEC104.pcap", run);
    std::vector<const Seen*> i_frames;
    for (auto& [conn, sink] : run.by_conn)
        for (const auto& s : sink.seen)
            if (s.rec.format == 'I') i_frames.push_back(&s);
    // tshark: six M_ME_TF_1 spontaneous ASDUs, common addresses and object counts below.
    ASSERT_EQ(i_frames.size(), 6u) << dump(run.ctx);
    const std::vector<std::pair<uint16_t, uint8_t>> expect = {{10516, 1}, {10772, 11}, {10516, 16},
                                                              {10516, 5}, {10772, 1}, {10516, 1}};
    for (size_t i = 0; i < 6; ++i) {
        EXPECT_EQ(i_frames[i]->rec.type_id, 36u);
        EXPECT_EQ(i_frames[i]->rec.cause, 3u);
        EXPECT_EQ(i_frames[i]->rec.common_address, expect[i].first);
        EXPECT_EQ(i_frames[i]->rec.num_objects, expect[i].second);
        EXPECT_TRUE(i_frames[i]->rec.objects_ok);
    }
    EXPECT_EQ(i_frames[0]->rec.ioas[0], 176843u);
    EXPECT_EQ(i_frames[1]->rec.ioas[0], 1641999u);
    EXPECT_EQ(i_frames[1]->rec.ioas[10], 3215119u);
    EXPECT_EQ(run.ctx.counters.get(Iec104Counter::s_frames), 2u);
}

}  // namespace
}  // namespace sluice
