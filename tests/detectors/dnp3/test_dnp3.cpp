// Dnp3Decoder and the dnp3_func / dnp3_ind / dnp3_obj keywords: handcrafted
// link frames and fragments, chunking, CRC failures, transport errors, object
// headers of every qualifier form, gaps, datagrams, and real captures checked
// against Suricata's expected EVE (suricata-verify dnp3-eve) and Zeek's output.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <array>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "dataplane/byte_reader.hpp"
#include "dataplane/json_writer.hpp"
#include "detectors/dnp3/dnp3_decoder.hpp"
#include "detectors/dnp3/dnp3_keywords.hpp"
#include "tests/support/pcap_streams.hpp"

namespace sluice {
namespace {

using Bytes = std::vector<uint8_t>;

struct Seen {
    Direction dir;
    OtOperation op;
    Dnp3Record rec;
    Bytes fragment;
    std::string eve;
    std::vector<bool> matches;
};

class Collect : public AppRecordSink {
public:
    std::vector<Seen> seen;
    std::vector<const AppKeywordMatcher*> keywords;
    void on_record(const AppRecord& r) override {
        EXPECT_EQ(r.proto, AppProto::dnp3);
        const auto& rec = *static_cast<const Dnp3Record*>(r.data);
        Seen s{r.dir, r.op, rec, Bytes(rec.fragment.begin(), rec.fragment.end()), {}, {}};
        std::array<char, 8192> buf{};
        JsonWriter w(buf.data(), buf.size());
        w.begin_object();
        r.write_eve(w, r.data);
        w.end_object();
        EXPECT_FALSE(w.overflowed());
        s.eve = std::string(w.view());
        for (const auto* k : keywords) s.matches.push_back(k->match(r));
        s.rec.fragment = {};
        seen.push_back(std::move(s));
    }
};

void put(Bytes& out, const Bytes& b) {
    for (uint8_t x : b) out.push_back(x);
}

// One link frame with its header and block CRCs.
Bytes link_frame(uint8_t ctrl, uint16_t dst, uint16_t src, const Bytes& ud) {
    Bytes f = {0x05, 0x64, static_cast<uint8_t>(ud.size() + 5), ctrl, static_cast<uint8_t>(dst), static_cast<uint8_t>(dst >> 8),
               static_cast<uint8_t>(src), static_cast<uint8_t>(src >> 8)};
    uint16_t crc = dnp3_crc(f);
    f.push_back(static_cast<uint8_t>(crc));
    f.push_back(static_cast<uint8_t>(crc >> 8));
    for (size_t i = 0; i < ud.size(); i += 16) {
        const size_t n = std::min<size_t>(16, ud.size() - i);
        Bytes block(ud.begin() + static_cast<long>(i), ud.begin() + static_cast<long>(i + n));
        put(f, block);
        crc = dnp3_crc(block);
        f.push_back(static_cast<uint8_t>(crc));
        f.push_back(static_cast<uint8_t>(crc >> 8));
    }
    return f;
}

constexpr uint8_t kReqCtrl = 0xc4;   // DIR, PRM, unconfirmed user data
constexpr uint8_t kRespCtrl = 0x44;  // PRM, unconfirmed user data

// An application fragment cut into transport segments and link frames.
Bytes fragment_frames(const Bytes& app, uint8_t ctrl, uint16_t dst, uint16_t src, uint8_t seq = 0, size_t seg = 249) {
    Bytes out;
    for (size_t i = 0; i < app.size() || i == 0; i += seg) {
        const size_t n = std::min(seg, app.size() - i);
        uint8_t th = static_cast<uint8_t>(seq++ & 0x3f);
        if (i == 0) th |= 0x40;
        if (i + n >= app.size()) th |= 0x80;
        Bytes ud = {th};
        ud.insert(ud.end(), app.begin() + static_cast<long>(i), app.begin() + static_cast<long>(i + n));
        put(out, link_frame(ctrl, dst, src, ud));
        if (app.empty()) break;
    }
    return out;
}

const Bytes kClassPoll = {0xc0, 0x01, 0x3c, 0x02, 0x06, 0x3c, 0x03, 0x06, 0x3c, 0x04, 0x06, 0x3c, 0x01, 0x06};

nlohmann::json eve_of(const Seen& s) { return nlohmann::json::parse(s.eve); }

std::string dump(const Dnp3Context& ctx) {
    std::string out;
    for (size_t i = 0; i < CounterSet<Dnp3Counter>::size; ++i)
        if (ctx.counters.get(i) != 0)
            out += std::string(CounterSet<Dnp3Counter>::name(i)) + "=" + std::to_string(ctx.counters.get(i)) + " ";
    return out;
}

TEST(Dnp3Decoder, CrcAndMemoryBudget) {
    const std::string check = "123456789";
    EXPECT_EQ(dnp3_crc(as_bytes(check)), 0xea82);  // CRC-16/DNP check value
    EXPECT_LE(sizeof(Dnp3Decoder), 5120u);
    std::printf("sizeof(Dnp3Decoder) = %zu\n", sizeof(Dnp3Decoder));
}

TEST(Dnp3Decoder, ClassPollRequest) {
    Dnp3Context ctx;
    Dnp3Decoder d(ctx);
    Collect sink;
    d.on_data(Direction::to_server, fragment_frames(kClassPoll, kReqCtrl, 10, 1), sink);
    ASSERT_EQ(sink.seen.size(), 1u) << dump(ctx);
    const Seen& s = sink.seen[0];
    EXPECT_EQ(s.op.function, "read");
    EXPECT_EQ(s.op.access, OtAccess::read);
    EXPECT_TRUE(s.op.is_request);
    EXPECT_EQ(s.op.unit, 10u);
    EXPECT_FALSE(s.op.has_address);
    ASSERT_EQ(s.rec.num_objects, 4u);
    EXPECT_TRUE(s.rec.complete);
    const auto j = eve_of(s);
    EXPECT_EQ(j["dnp3"]["type"], "request");
    EXPECT_EQ(j["dnp3"]["src"], 1);
    EXPECT_EQ(j["dnp3"]["dst"], 10);
    EXPECT_EQ(j["dnp3"]["control"]["dir"], true);
    EXPECT_EQ(j["dnp3"]["control"]["function_code"], 4);
    EXPECT_EQ(j["dnp3"]["application"]["function_code"], 1);
    EXPECT_EQ(j["dnp3"]["application"]["control"]["fir"], true);
    EXPECT_EQ(j["dnp3"]["application"]["objects"][0]["group"], 60);
    EXPECT_EQ(j["dnp3"]["application"]["objects"][0]["variation"], 2);
    EXPECT_EQ(j["dnp3"]["application"]["objects"][0]["qualifier"], 6);
    EXPECT_EQ(j["dnp3"]["application"]["objects"][3]["variation"], 1);
    EXPECT_EQ(ctx.counters.get(Dnp3Counter::requests), 1u);
    EXPECT_EQ(ctx.counters.get(Dnp3Counter::link_frames), 1u);
}

// A response with ranges, counts, index prefixes, packed bits and a size prefix.
Bytes rich_response() {
    Bytes app = {0xc0, 0x81, 0x90, 0x00};      // response, IIN1: device_restart | need_time
    put(app, {0x01, 0x01, 0x00, 0x00, 0x09});  // g1v1 packed, range 0..9: 2 bytes
    put(app, {0x55, 0x01});
    put(app, {0x1e, 0x01, 0x01, 0x05, 0x00, 0x06, 0x00});  // g30v1 range 5..6 (2-byte): 2 x 5 bytes
    put(app, {0x01, 0x10, 0x00, 0x00, 0x00, 0x01, 0x20, 0x00, 0x00, 0x00});
    put(app, {0x02, 0x02, 0x17, 0x02});  // g2v2 count 2, 1-byte index: 2 x (1+7)
    put(app, {0x03, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x04, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07});
    put(app, {0x32, 0x01, 0x07, 0x01, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06});  // g50v1 count 1
    put(app, {0x46, 0x05, 0x5b, 0x01, 0x04, 0x00, 0xaa, 0xbb, 0xcc, 0xdd});  // g70v5 size-prefixed
    return app;
}

TEST(Dnp3Decoder, ResponseObjectsOfEveryForm) {
    Dnp3Context ctx;
    Dnp3Decoder d(ctx);
    Collect sink;
    d.on_data(Direction::to_client, fragment_frames(rich_response(), kRespCtrl, 1, 10), sink);
    ASSERT_EQ(sink.seen.size(), 1u) << dump(ctx);
    const Seen& s = sink.seen[0];
    EXPECT_FALSE(s.op.is_request);
    EXPECT_EQ(s.op.function, "response");
    EXPECT_EQ(s.op.unit, 10u);  // the outstation: source of a response
    EXPECT_TRUE(s.rec.complete) << dump(ctx);
    ASSERT_EQ(s.rec.num_objects, 5u);
    EXPECT_EQ(s.rec.objects[0].count, 10u);
    EXPECT_EQ(s.rec.objects[1].start, 5u);
    EXPECT_EQ(s.rec.objects[1].stop, 6u);
    EXPECT_EQ(s.rec.objects[2].count, 2u);
    EXPECT_TRUE(s.rec.objects[2].has_index);
    EXPECT_EQ(s.rec.objects[2].index_first, 3u);
    EXPECT_EQ(s.rec.objects[2].index_last, 4u);
    EXPECT_EQ(s.rec.objects[4].group, 70u);
    EXPECT_EQ(s.rec.iin, dnp3_iin::device_restart | dnp3_iin::need_time);
    ASSERT_TRUE(s.op.has_address);
    EXPECT_EQ(s.op.address_first, 0u);
    EXPECT_EQ(s.op.address_last, 9u);
    const auto j = eve_of(s);
    EXPECT_EQ(j["dnp3"]["type"], "response");
    EXPECT_EQ(j["dnp3"]["iin"]["indicators"][0], "device_restart");
    EXPECT_EQ(j["dnp3"]["iin"]["indicators"][1], "need_time");
    EXPECT_EQ(ctx.counters.get(Dnp3Counter::responses), 1u);
}

TEST(Dnp3Decoder, DirectOperateCrobAddressesItsIndex) {
    Dnp3Context ctx;
    Dnp3Decoder d(ctx);
    Collect sink;
    const Bytes app = {0xc1, 0x05, 0x0c, 0x01, 0x28, 0x01, 0x00, 0x07, 0x00,
                       0x03, 0x01, 0x64, 0x00, 0x00, 0x00, 0x64, 0x00, 0x00, 0x00, 0x00};
    d.on_data(Direction::to_server, fragment_frames(app, kReqCtrl, 4, 3), sink);
    ASSERT_EQ(sink.seen.size(), 1u) << dump(ctx);
    EXPECT_EQ(sink.seen[0].op.function, "direct_operate");
    EXPECT_EQ(sink.seen[0].op.access, OtAccess::control);
    ASSERT_TRUE(sink.seen[0].op.has_address);
    EXPECT_EQ(sink.seen[0].op.address_first, 7u);
    EXPECT_EQ(sink.seen[0].op.address_last, 7u);
    EXPECT_TRUE(sink.seen[0].rec.complete);
}

TEST(Dnp3Decoder, MultiSegmentFragmentSplitAnywhere) {
    // A 600-byte response needs three transport segments, each in its own
    // link frame; any chunking of the stream gives the same single record.
    Bytes app = {0xc0, 0x81, 0x00, 0x00, 0x1e, 0x02, 0x01, 0x00, 0x00, 0x2a, 0x01};  // g30v2 0..298: 299 x 3 bytes
    for (int i = 0; i < 299 * 3; ++i) app.push_back(static_cast<uint8_t>(i));
    const Bytes stream = fragment_frames(app, kRespCtrl, 1, 10, 5);
    Collect whole;
    {
        Dnp3Context ctx;
        Dnp3Decoder d(ctx);
        d.on_data(Direction::to_client, stream, whole);
        ASSERT_EQ(whole.seen.size(), 1u) << dump(ctx);
        EXPECT_EQ(ctx.counters.get(Dnp3Counter::link_frames), 4u);
    }
    EXPECT_TRUE(whole.seen[0].rec.complete);
    EXPECT_EQ(whole.seen[0].fragment, app);
    for (size_t cut = 1; cut < stream.size(); cut += 7) {
        Dnp3Context ctx;
        Dnp3Decoder d(ctx);
        Collect split;
        const std::span<const uint8_t> s(stream);
        d.on_data(Direction::to_client, s.first(cut), split);
        d.on_data(Direction::to_client, s.subspan(cut), split);
        ASSERT_EQ(split.seen.size(), 1u) << cut;
        EXPECT_EQ(split.seen[0].eve, whole.seen[0].eve);
        EXPECT_EQ(split.seen[0].fragment, app);
    }
    Dnp3Context ctx;
    Dnp3Decoder d(ctx);
    Collect bytewise;
    for (uint8_t b : stream) d.on_data(Direction::to_client, std::span<const uint8_t>(&b, 1), bytewise);
    ASSERT_EQ(bytewise.seen.size(), 1u);
    EXPECT_EQ(bytewise.seen[0].eve, whole.seen[0].eve);
}

TEST(Dnp3Decoder, ManyFragmentsInOneChunk) {
    Bytes stream;
    for (uint8_t seq = 0; seq < 20; ++seq) {
        Bytes app = kClassPoll;
        app[0] = static_cast<uint8_t>(0xc0 | (seq & 0x0f));
        put(stream, fragment_frames(app, kReqCtrl, 10, 1, seq));
    }
    Dnp3Context ctx;
    Dnp3Decoder d(ctx);
    Collect sink;
    d.on_data(Direction::to_server, stream, sink);
    EXPECT_EQ(sink.seen.size(), 20u);
    EXPECT_EQ(dump(ctx), "link_frames=20 requests=20 ");
}

TEST(Dnp3Decoder, BadCrcsAreCountedAndDropped) {
    const Bytes good = fragment_frames(kClassPoll, kReqCtrl, 10, 1);
    Bytes bad_header = good;
    bad_header.at(8) ^= 0xff;  // header CRC
    Bytes bad_data = good;
    bad_data.at(12) ^= 0x01;  // a byte in the first data block
    {
        Dnp3Context ctx;
        Dnp3Decoder d(ctx);
        Collect sink;
        Bytes s = good;  // the flow opens with a good frame
        put(s, bad_data);
        put(s, good);
        d.on_data(Direction::to_server, s, sink);
        EXPECT_EQ(sink.seen.size(), 2u);
        EXPECT_EQ(ctx.counters.get(Dnp3Counter::bad_data_crc), 1u);
        EXPECT_EQ(ctx.counters.get(Dnp3Counter::resync_bytes), 0u);  // the length was trusted
    }
    {
        Dnp3Context ctx;
        Dnp3Decoder d(ctx);
        Collect sink;
        Bytes s = good;
        put(s, bad_header);
        put(s, good);
        for (size_t cut = 0; cut <= s.size(); cut += 3) {
            Dnp3Context c2;
            Dnp3Decoder d2(c2);
            Collect k2;
            const std::span<const uint8_t> sp(s);
            d2.on_data(Direction::to_server, sp.first(cut), k2);
            d2.on_data(Direction::to_server, sp.subspan(cut), k2);
            ASSERT_EQ(k2.seen.size(), 2u) << cut << " " << dump(c2);
            EXPECT_EQ(c2.counters.get(Dnp3Counter::bad_header_crc), 1u);
            EXPECT_EQ(c2.counters.get(Dnp3Counter::resync_bytes), bad_header.size());
        }
    }
}

TEST(Dnp3Decoder, LinkLengthLiesAndGarbageResync) {
    const Bytes good = fragment_frames(kClassPoll, kReqCtrl, 10, 1);
    // Length 3 (below 5) with a correct header CRC, then junk holding 0x05 bytes.
    Bytes lie = {0x05, 0x64, 0x03, 0xc4, 0x0a, 0x00, 0x01, 0x00};
    const uint16_t crc = dnp3_crc(lie);
    lie.push_back(static_cast<uint8_t>(crc));
    lie.push_back(static_cast<uint8_t>(crc >> 8));
    Bytes s = good;
    put(s, lie);
    put(s, {0x05, 0x05, 0x00, 0x05, 0x64, 0x01});
    put(s, good);
    Dnp3Context ctx;
    Dnp3Decoder d(ctx);
    Collect sink;
    d.on_data(Direction::to_server, s, sink);
    EXPECT_EQ(sink.seen.size(), 2u);
    EXPECT_EQ(ctx.counters.get(Dnp3Counter::bad_length), 1u);
    EXPECT_EQ(ctx.counters.get(Dnp3Counter::resync_bytes), lie.size() + 6);
}

TEST(Dnp3Decoder, TransportErrors) {
    Bytes app(400, 0);
    app[0] = 0xc0;
    app[1] = 0x02;  // write; the body is junk but the fragment is what is tested
    const Bytes frames = fragment_frames(app, kReqCtrl, 10, 1, 0, 200);  // two segments
    // The link frames of each segment.
    const size_t first_len = Dnp3Decoder::kHeaderLen + 201 + 2 * 13;
    const std::span<const uint8_t> all(frames);
    const auto seg1 = all.first(first_len);
    const auto seg2 = all.subspan(first_len);
    {
        Dnp3Context ctx;  // second segment alone: no FIR before it
        Dnp3Decoder d(ctx);
        Collect sink;
        d.on_data(Direction::to_server, seg2, sink);
        EXPECT_EQ(ctx.counters.get(Dnp3Counter::transport_no_first), 1u);
        EXPECT_TRUE(sink.seen.empty());
    }
    {
        Dnp3Context ctx;  // a wrong sequence number between the two
        Dnp3Decoder d(ctx);
        Collect sink;
        const Bytes other = fragment_frames(app, kReqCtrl, 10, 1, 9, 200);
        d.on_data(Direction::to_server, seg1, sink);
        d.on_data(Direction::to_server, std::span<const uint8_t>(other).subspan(first_len), sink);
        EXPECT_EQ(ctx.counters.get(Dnp3Counter::transport_sequence), 1u);
        EXPECT_TRUE(sink.seen.empty());
    }
    {
        Dnp3Context ctx;  // a new FIR while a fragment is open
        Dnp3Decoder d(ctx);
        Collect sink;
        d.on_data(Direction::to_server, seg1, sink);
        d.on_data(Direction::to_server, fragment_frames(kClassPoll, kReqCtrl, 10, 1), sink);
        EXPECT_EQ(ctx.counters.get(Dnp3Counter::fragment_abandoned), 1u);
        EXPECT_EQ(sink.seen.size(), 1u);
    }
    {
        Dnp3Context ctx;  // longer than the configured maximum
        ctx.config.max_fragment_size = 300;
        Dnp3Decoder d(ctx);
        Collect sink;
        d.on_data(Direction::to_server, frames, sink);
        EXPECT_EQ(ctx.counters.get(Dnp3Counter::fragment_too_long), 1u);
        EXPECT_TRUE(sink.seen.empty());
    }
    {
        Dnp3Context ctx;  // fragment of one byte: no function code
        Dnp3Decoder d(ctx);
        Collect sink;
        d.on_data(Direction::to_server, fragment_frames({0xc0}, kReqCtrl, 10, 1), sink);
        EXPECT_EQ(ctx.counters.get(Dnp3Counter::app_too_short), 1u);
        EXPECT_TRUE(sink.seen.empty());
    }
}

TEST(Dnp3Decoder, ObjectHeaderProblemsStopParsingCleanly) {
    struct Case {
        Bytes app;
        Dnp3Counter reason;
        size_t objects;
    };
    const std::vector<Case> cases = {
        {{0xc0, 0x81, 0x00, 0x00, 0x1e, 0x01, 0x00, 0x05, 0x02}, Dnp3Counter::bad_range, 0},
        {{0xc0, 0x81, 0x00, 0x00, 0x1e, 0x01, 0x00, 0x00, 0x63, 0x01, 0x02}, Dnp3Counter::object_data_truncated, 1},
        {{0xc0, 0x81, 0x00, 0x00, 0x00, 0xf0, 0x00, 0x00, 0x00, 0x01}, Dnp3Counter::unknown_object_size, 1},
        {{0xc0, 0x81, 0x00, 0x00, 0x1e, 0x01}, Dnp3Counter::bad_object_header, 0},
        {{0xc0, 0x81, 0x00, 0x00, 0x1e, 0x01, 0x0c}, Dnp3Counter::bad_object_header, 0},
        {{0xc0, 0x81, 0x00, 0x00, 0x1e, 0x01, 0x01, 0x05}, Dnp3Counter::bad_object_header, 0},
        {{0xc0, 0x02, 0x46, 0x05, 0x5b, 0x01, 0xff, 0x00, 0x01}, Dnp3Counter::object_data_truncated, 1},
        {{0xc0, 0x81, 0x00, 0x00, 0x02, 0x02, 0x39, 0xff, 0xff, 0xff, 0xff, 0x00}, Dnp3Counter::object_data_truncated, 1},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(std::string(counter_name(c.reason)));
        Dnp3Context ctx;
        Dnp3Decoder d(ctx);
        Collect sink;
        d.on_data(Direction::to_client, fragment_frames(c.app, kRespCtrl, 1, 10), sink);
        ASSERT_EQ(sink.seen.size(), 1u);
        EXPECT_FALSE(sink.seen[0].rec.complete);
        EXPECT_EQ(sink.seen[0].rec.num_objects, c.objects);
        EXPECT_EQ(ctx.counters.get(c.reason), 1u) << dump(ctx);
        EXPECT_EQ(eve_of(sink.seen[0])["dnp3"]["application"]["complete"], false);
    }
}

TEST(Dnp3Decoder, ManyObjectHeadersAreBounded) {
    Bytes app = {0xc0, 0x01};
    for (int i = 0; i < 100; ++i) put(app, {0x3c, 0x02, 0x06});
    Dnp3Context ctx;
    Dnp3Decoder d(ctx);
    Collect sink;
    d.on_data(Direction::to_server, fragment_frames(app, kReqCtrl, 10, 1), sink);
    ASSERT_EQ(sink.seen.size(), 1u);
    EXPECT_EQ(sink.seen[0].rec.num_objects, Dnp3Record::kMaxObjects);
    EXPECT_EQ(sink.seen[0].rec.total_objects, 100u);
    EXPECT_EQ(ctx.counters.get(Dnp3Counter::objects_truncated), 1u);
}

TEST(Dnp3Decoder, LinkOnlyFramesAndDatagrams) {
    Dnp3Context ctx;
    Dnp3Decoder d(ctx);
    Collect sink;
    Bytes dg = link_frame(0xc9, 10, 1, {});  // request link status
    put(dg, fragment_frames(kClassPoll, kReqCtrl, 10, 1));
    d.on_datagram(Direction::to_server, dg, sink);
    EXPECT_EQ(sink.seen.size(), 1u);
    EXPECT_EQ(ctx.counters.get(Dnp3Counter::link_only_frames), 1u);
    d.on_datagram(Direction::to_server, std::span<const uint8_t>(dg).first(dg.size() - 3), sink);
    EXPECT_EQ(ctx.counters.get(Dnp3Counter::truncated_datagram), 1u);
    EXPECT_EQ(ctx.counters.get(Dnp3Counter::datagrams), 2u);
}

TEST(Dnp3Decoder, GapsKeepStepOrResynchronise) {
    const Bytes poll = fragment_frames(kClassPoll, kReqCtrl, 10, 1);
    Dnp3Context ctx;
    Dnp3Decoder d(ctx);
    Collect sink;
    d.on_data(Direction::to_server, poll, sink);
    const std::span<const uint8_t> p(poll);
    d.on_data(Direction::to_server, p.first(14), sink);  // inside the frame: its length is known
    d.on_gap(Direction::to_server, 4);
    d.on_data(Direction::to_server, p.subspan(18), sink);
    d.on_data(Direction::to_server, poll, sink);
    EXPECT_EQ(sink.seen.size(), 2u);
    EXPECT_EQ(ctx.counters.get(Dnp3Counter::resync_bytes), 0u);
    d.on_data(Direction::to_server, p.first(4), sink);  // inside the header: hunt for 0x0564
    d.on_gap(Direction::to_server, 3);
    d.on_data(Direction::to_server, p.subspan(7), sink);
    d.on_data(Direction::to_server, poll, sink);
    EXPECT_EQ(sink.seen.size(), 3u);
    EXPECT_EQ(ctx.counters.get(Dnp3Counter::gap_dropped_frame), 2u);
    EXPECT_GT(ctx.counters.get(Dnp3Counter::resync_bytes), 0u);
}

TEST(Dnp3Decoder, FlowThatIsNotDnp3IsGivenUp) {
    Dnp3Context ctx;
    Dnp3Decoder d(ctx);
    Collect sink;
    const std::string junk = "SSH-2.0-OpenSSH_9.2\r\n";
    d.on_data(Direction::to_server, as_bytes(junk), sink);
    d.on_data(Direction::to_server, fragment_frames(kClassPoll, kReqCtrl, 10, 1), sink);
    EXPECT_TRUE(d.rejected());
    EXPECT_TRUE(sink.seen.empty());
    EXPECT_EQ(ctx.counters.get(Dnp3Counter::not_dnp3_flows), 1u);
}

// ---- keywords ----

std::unique_ptr<AppKeywordMatcher> must(Result<std::unique_ptr<AppKeywordMatcher>> r) {
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.message());
    return r.ok() ? std::move(r.value()) : nullptr;
}

TEST(Dnp3Keyword, ParseAndMatch) {
    std::vector<std::unique_ptr<AppKeywordMatcher>> ks;
    ks.push_back(must(parse_dnp3_func_keyword("1")));
    ks.push_back(must(parse_dnp3_func_keyword("read")));
    ks.push_back(must(parse_dnp3_func_keyword("response")));
    ks.push_back(must(parse_dnp3_func_keyword("direct_operate")));
    ks.push_back(must(parse_dnp3_ind_keyword("device_restart")));
    ks.push_back(must(parse_dnp3_ind_keyword("class_1_events, need_time")));
    ks.push_back(must(parse_dnp3_ind_keyword("local_control")));
    ks.push_back(must(parse_dnp3_obj_keyword("60,2")));
    ks.push_back(must(parse_dnp3_obj_keyword("12, 1")));
    ks.push_back(must(parse_dnp3_obj_keyword("70,05")));
    Dnp3Context ctx;
    Dnp3Decoder d(ctx);
    Collect sink;
    for (const auto& k : ks) sink.keywords.push_back(k.get());
    d.on_data(Direction::to_server, fragment_frames(kClassPoll, kReqCtrl, 10, 1), sink);
    d.on_data(Direction::to_client, fragment_frames(rich_response(), kRespCtrl, 1, 10), sink);
    d.on_data(Direction::to_server,
              fragment_frames({0xc1, 0x05, 0x0c, 0x01, 0x28, 0x01, 0x00, 0x07, 0x00, 0x03, 0x01, 0x64, 0x00, 0x00, 0x00,
                               0x64, 0x00, 0x00, 0x00, 0x00},
                              kReqCtrl, 10, 1),
              sink);
    ASSERT_EQ(sink.seen.size(), 3u);
    auto row = [&](size_t i) {
        std::string s;
        for (bool b : sink.seen[i].matches) s += b ? '1' : '0';
        return s;
    };
    EXPECT_EQ(row(0), "1100000100");
    EXPECT_EQ(row(1), "0010110001");
    EXPECT_EQ(row(2), "0001000010");
}

TEST(Dnp3Keyword, HostileValuesAreErrors) {
    for (auto v : {"", "256", "-1", "0x100", "bogus", "read,write", "99999999999999999999"})
        EXPECT_FALSE(parse_dnp3_func_keyword(v).ok()) << v;
    for (auto v : {"", ",", "device_restart,", "nope", "device_restart,nope", "0", "0x10000"})
        EXPECT_FALSE(parse_dnp3_ind_keyword(v).ok()) << v;
    for (auto v : {"", "1", "1,", ",1", "256,1", "1,256", "a,b", "1,2,3"})
        EXPECT_FALSE(parse_dnp3_obj_keyword(v).ok()) << v;
    EXPECT_FALSE(parse_dnp3_func_keyword(std::string(5000, 'x')).ok());
}

// ---- captures ----

#define NEED_CORPUS()                                              \
    const std::string corpus = test::corpus_dir();                 \
    if (corpus.empty()) GTEST_SKIP() << "SLUICE_CORPUS not set or missing: capture test skipped"

struct CaptureRun {
    Dnp3Context ctx;
    Collect sink;
};

void run_capture(const std::string& path, CaptureRun& run) {
    std::map<size_t, std::unique_ptr<Dnp3Decoder>> flows;
    std::map<std::string, std::unique_ptr<Dnp3Decoder>> udp_flows;
    test::CaptureStreams h;
    h.on_tcp = [&](size_t conn, const test::Endpoints&, Direction dir, std::span<const uint8_t> data) {
        auto& dec = flows[conn];
        if (!dec) dec = std::make_unique<Dnp3Decoder>(run.ctx);
        dec->on_data(dir, data, run.sink);
    };
    h.on_udp = [&](const test::Endpoints& ep, Direction dir, std::span<const uint8_t> data) {
        auto& dec = udp_flows[std::to_string(ep.client_port) + "/" + std::to_string(ep.server_port)];
        if (!dec) dec = std::make_unique<Dnp3Decoder>(run.ctx);
        dec->on_datagram(dir, data, run.sink);
    };
    std::string err;
    ASSERT_TRUE(test::read_capture(path, h, &err)) << err;
}

TEST(Dnp3Capture, SuricataVerifyDnp3EveMatchesEveryExpectedEvent) {
    NEED_CORPUS();
    const std::string dir = corpus + "/suricata-verify/tests/dnp3/dnp3-eve";
    CaptureRun run;
    run_capture(dir + "/input.pcap", run);
    // test.yaml lists each of the 55 dnp3 events with its fields, by packet.
    const YAML::Node doc = YAML::LoadFile(dir + "/test.yaml");
    std::map<int, YAML::Node> expected;
    for (const auto& check : doc["checks"]) {
        const YAML::Node m = check["filter"]["match"];
        if (m && m["event_type"] && m["event_type"].as<std::string>() == "dnp3" && m["pcap_cnt"])
            expected[m["pcap_cnt"].as<int>()] = m;
    }
    ASSERT_EQ(expected.size(), 55u);
    ASSERT_EQ(run.sink.seen.size(), expected.size()) << dump(run.ctx);
    size_t i = 0;
    for (const auto& [pcap_cnt, m] : expected) {
        SCOPED_TRACE("pcap_cnt " + std::to_string(pcap_cnt));
        const auto j = eve_of(run.sink.seen[i++])["dnp3"];
        size_t fields = 0;
        for (const auto& kv : m) {
            std::string key = kv.first.as<std::string>();
            if (key.rfind("dnp3.", 0) != 0 || key.find("points") != std::string::npos) continue;
            // "dnp3.application.objects[0].group" -> JSON pointer
            std::string ptr = "/";
            for (size_t p = 5; p < key.size(); ++p) {
                if (key[p] == '.' || key[p] == '[') ptr.push_back('/');
                else if (key[p] != ']') ptr.push_back(key[p]);
            }
            const nlohmann::json::json_pointer jp(ptr);
            ASSERT_TRUE(j.contains(jp)) << key;
            const auto& got = j.at(jp);
            if (got.is_boolean()) EXPECT_EQ(got.get<bool>(), kv.second.as<bool>()) << key;
            else if (got.is_number()) EXPECT_EQ(got.get<int64_t>(), kv.second.as<int64_t>()) << key;
            else EXPECT_EQ(got.get<std::string>(), kv.second.as<std::string>()) << key;
            ++fields;
        }
        EXPECT_GT(fields, 10u);
    }
}

TEST(Dnp3Capture, SuricataVerifyKeywordCounts) {
    NEED_CORPUS();
    // dnp3-dnp3_func-alert, dnp3-dnp3_obj-alert and dnp3-ind-keyword use this
    // capture: dnp3_func:21 once (to server), dnp3_obj:22,01 4 times, 29,01
    // never, device_restart in 2 responses.
    std::vector<std::unique_ptr<AppKeywordMatcher>> ks;
    ks.push_back(must(parse_dnp3_func_keyword("21")));
    ks.push_back(must(parse_dnp3_obj_keyword("22,01")));
    ks.push_back(must(parse_dnp3_obj_keyword("29,01")));
    ks.push_back(must(parse_dnp3_ind_keyword("device_restart")));
    CaptureRun run;
    for (const auto& k : ks) run.sink.keywords.push_back(k.get());
    run_capture(corpus + "/suricata-verify/tests/dnp3/dnp3-eve/input.pcap", run);
    std::array<int, 4> hits{};
    int func21_to_client = 0;
    for (const auto& s : run.sink.seen) {
        for (size_t k = 0; k < 4; ++k) hits[k] += s.matches[k] ? 1 : 0;
        if (s.matches[0] && s.dir == Direction::to_client) ++func21_to_client;
    }
    EXPECT_EQ(hits, (std::array<int, 4>{1, 4, 0, 2}));
    EXPECT_EQ(func21_to_client, 0);
}

// Zeek's btest output lists every application header and object header.
struct ZeekApp {
    bool is_orig;
    int function;
    int iin;
    std::vector<std::array<int, 3>> objects;  // obj_type (group << 8 | variation), qualifier, number
    bool operator==(const ZeekApp&) const = default;
};

std::vector<ZeekApp> zeek_output(const std::string& path) {
    std::ifstream in(path);
    std::vector<ZeekApp> out;
    std::string line;
    auto fields = [](const std::string& l) {
        std::vector<std::string> f;
        std::stringstream ss(l);
        std::string x;
        while (std::getline(ss, x, ',')) f.push_back(x.substr(x.find_first_not_of(' ')));
        return f;
    };
    while (std::getline(in, line)) {
        const auto f = fields(line);
        if (f.empty()) continue;
        if (f[0] == "dnp3_application_request_header") out.push_back({f[1] == "T", std::stoi(f[3]), -1, {}});
        else if (f[0] == "dnp3_application_response_header")
            out.push_back({f[1] == "T", std::stoi(f[3]), std::stoi(f[4]), {}});
        else if (f[0] == "dnp3_object_header" && !out.empty())
            out.back().objects.push_back({std::stoi(f[2]), std::stoi(f[3]), std::stoi(f[4])});
    }
    return out;
}

std::vector<ZeekApp> ours(const Collect& sink) {
    std::vector<ZeekApp> out;
    for (const auto& s : sink.seen) {
        ZeekApp a{s.dir == Direction::to_server, s.rec.function, s.rec.has_iin ? s.rec.iin : -1, {}};
        for (size_t i = 0; i < s.rec.num_objects; ++i) {
            const auto& o = s.rec.objects[i];
            a.objects.push_back({o.group << 8 | o.variation, o.qualifier, static_cast<int>(o.count)});
        }
        out.push_back(a);
    }
    return out;
}

TEST(Dnp3Capture, ZeekTracesGiveZeeksHeadersAndObjects) {
    NEED_CORPUS();
    for (const std::string name : {"dnp3_read", "dnp3_write", "dnp3_select_operate", "dnp3_file_read", "dnp3_file_write",
                                   "dnp3_file_del", "dnp3_del_measure", "dnp3_en_spon", "dnp3_rec_time",
                                   "dnp3_udp_read", "dnp3_udp_write", "dnp3_udp_select_operate", "dnp3_udp_en_spon",
                                   "dnp3_link_only"}) {
        SCOPED_TRACE(name);
        CaptureRun run;
        run_capture(corpus + "/zeek/traces/dnp3/" + name + ".pcap", run);
        auto expect = zeek_output(corpus + "/zeek/baseline/scripts.base.protocols.dnp3." + name + "/output");
        // Confirms (function 0) yield no record here, as in Suricata.
        std::erase_if(expect, [](const ZeekApp& a) { return a.function == 0; });
        const auto got = ours(run.sink);
        ASSERT_EQ(got.size(), expect.size()) << dump(run.ctx);
        for (size_t i = 0; i < got.size(); ++i) {
            EXPECT_EQ(got[i].function, expect[i].function) << i;
            EXPECT_EQ(got[i].iin, expect[i].iin) << i;
            EXPECT_EQ(got[i].objects, expect[i].objects) << i;
        }
        EXPECT_EQ(run.ctx.counters.get(Dnp3Counter::bad_header_crc) + run.ctx.counters.get(Dnp3Counter::bad_data_crc), 0u);
    }
}

TEST(Dnp3Capture, IndustrialCapturesGiveTsharksFragmentCounts) {
    NEED_CORPUS();
    // tshark -Y 'dnp3.al.func && dnp3.al.func != 0': application fragments
    // other than confirms, after tshark's own transport reassembly.
    const std::vector<std::pair<std::string, size_t>> expect = {
        {"assign_class", 2}, {"auth_change_session_keys", 4}, {"auth_control_challenge_response", 4},
        {"cold_restart_and_response", 2}, {"dataset_exchange", 6}, {"direct_operate_analog_output", 1},
        {"direct_operate_crob_malform_but_good_crc", 1}, {"direct_operate_no_ack_crob", 1},
        {"directoperate_and_response", 2}, {"disable_unsolcited_and_response", 2}, {"dnp3_test_data_part1", 80},
        {"dnp3_test_data_part2", 22}, {"enable_unsolicited_and_response", 2}, {"file_delete", 2},
        {"file_list_directory", 8}, {"file_read", 6}, {"file_write", 6}, {"full_exchange", 9},
        {"immediate_freeze", 2}, {"lan_time_sync", 4}, {"operate_aggressive_mode", 2}, {"read_and_response", 2},
        {"select_operate_and_responses", 4}, {"serial_time_sync", 4}, {"unsolcited_response_and_confirm", 1},
        {"warm_restart_and_response", 2}, {"write_binary_output", 1}, {"write_iin_and_response", 2},
        {"write_vto_empty_string", 1}};
    for (const auto& [name, n] : expect) {
        CaptureRun run;
        run_capture(corpus + "/iti-ics/pcaps/dnp3/" + name + ".pcap", run);
        EXPECT_EQ(run.sink.seen.size(), n) << name << ": " << dump(run.ctx);
    }
}

}  // namespace
}  // namespace sluice
