// EnipDecoder and the enip_command / cip_service keywords: handcrafted
// encapsulations and CIP messages (Multiple Service Packet, Unconnected Send,
// symbolic paths), chunking, lying lengths and offsets, gaps, I/O datagrams,
// and real captures whose commands and CIP services are counted as tshark
// 4.0 counts them, with Suricata's expected keyword alert counts.
#include <gtest/gtest.h>

#include <array>
#include <deque>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "dataplane/byte_reader.hpp"
#include "dataplane/json_writer.hpp"
#include "detectors/enip/enip_decoder.hpp"
#include "detectors/enip/enip_keywords.hpp"
#include "tests/support/pcap_streams.hpp"

namespace sluice {
namespace {

using Bytes = std::vector<uint8_t>;

struct Seen {
    Direction dir;
    OtOperation op;
    EnipRecord rec;
    std::string eve;
    std::vector<bool> matches;
};

class Collect : public AppRecordSink {
public:
    std::deque<Seen> seen;  // records are large: no reallocation copies
    std::vector<const AppKeywordMatcher*> keywords;
    void on_record(const AppRecord& r) override {
        EXPECT_EQ(r.proto, AppProto::enip);
        Seen& s = seen.emplace_back(Seen{r.dir, r.op, *static_cast<const EnipRecord*>(r.data), {}, {}});
        static char buf[16384];
        JsonWriter w(buf, sizeof buf);
        w.begin_object();
        r.write_eve(w, r.data);
        w.end_object();
        EXPECT_FALSE(w.overflowed());
        s.eve = std::string(w.view());
        for (const auto* k : keywords) s.matches.push_back(k->match(r));
        // Spans borrow the decoder's memory.
        s.rec.product_name = s.rec.service_name = {};
        for (auto& svc : s.rec.services) svc.symbol = svc.attribute_list = svc.data = {};
    }
    // One key per PDU as tshark shows enip.command and cip.sc: "0x0070/0x0a,0x03".
    std::map<std::string, int> per_pdu() const {
        std::map<std::string, int> out;
        for (const auto& s : seen) {
            if (!s.rec.first_of_pdu) continue;
            char b[16];
            std::snprintf(b, sizeof b, "0x%04x", s.rec.command);
            std::string k = b;
            for (size_t i = 0; i < s.rec.num_services; ++i) {
                std::snprintf(b, sizeof b, "0x%02x", s.rec.services[i].code());
                k.append(i == 0 ? "/" : ",").append(b);
            }
            ++out[k];
        }
        return out;
    }
};

void put(Bytes& out, const Bytes& b) {
    for (uint8_t x : b) out.push_back(x);
}
void le16(Bytes& out, uint16_t v) { put(out, {static_cast<uint8_t>(v), static_cast<uint8_t>(v >> 8)}); }
void le32(Bytes& out, uint32_t v) {
    le16(out, static_cast<uint16_t>(v));
    le16(out, static_cast<uint16_t>(v >> 16));
}

Bytes encap(uint16_t command, const Bytes& data, uint32_t session = 0x12345678, uint32_t status = 0) {
    Bytes f;
    le16(f, command);
    le16(f, static_cast<uint16_t>(data.size()));
    le32(f, session);
    le32(f, status);
    put(f, {1, 2, 3, 4, 5, 6, 7, 8});
    le32(f, 0);
    put(f, data);
    return f;
}

// SendRRData with a null address and an unconnected data item.
Bytes rr(const Bytes& cip) {
    Bytes d;
    le32(d, 0);
    le16(d, 10);
    le16(d, 2);
    le16(d, 0x0000);
    le16(d, 0);
    le16(d, 0x00b2);
    le16(d, static_cast<uint16_t>(cip.size()));
    put(d, cip);
    return encap(enip_command::send_rr_data, d);
}

// SendUnitData with a connected address and connected data.
Bytes unit(const Bytes& cip, uint16_t seq) {
    Bytes d;
    le32(d, 0);
    le16(d, 0);
    le16(d, 2);
    le16(d, 0x00a1);
    le16(d, 4);
    le32(d, 0xff954022);
    le16(d, 0x00b1);
    le16(d, static_cast<uint16_t>(cip.size() + 2));
    le16(d, seq);
    put(d, cip);
    return encap(enip_command::send_unit_data, d);
}

// CIP request with a logical path (class, instance[, attribute]).
Bytes cip_req(uint8_t service, uint8_t cls, uint8_t inst, int attr = -1, const Bytes& data = {}) {
    Bytes c = {service, static_cast<uint8_t>(attr >= 0 ? 3 : 2), 0x20, cls, 0x24, inst};
    if (attr >= 0) put(c, {0x30, static_cast<uint8_t>(attr)});
    put(c, data);
    return c;
}
Bytes cip_resp(uint8_t service, uint8_t status, const Bytes& data = {}) {
    Bytes c = {static_cast<uint8_t>(service | 0x80), 0x00, status, 0x00};
    put(c, data);
    return c;
}

Bytes msp(const std::vector<Bytes>& parts, bool response = false) {
    Bytes body;
    le16(body, static_cast<uint16_t>(parts.size()));
    uint16_t off = static_cast<uint16_t>(2 + 2 * parts.size());
    for (const auto& p : parts) {
        le16(body, off);
        off = static_cast<uint16_t>(off + p.size());
    }
    for (const auto& p : parts) put(body, p);
    if (response) return cip_resp(0x0a, 0x00, body);
    return cip_req(0x0a, 0x02, 0x01, -1, body);
}

nlohmann::json eve_of(const Seen& s) { return nlohmann::json::parse(s.eve); }

std::string dump(const EnipContext& ctx) {
    std::string out;
    for (size_t i = 0; i < CounterSet<EnipCounter>::size; ++i)
        if (ctx.counters.get(i) != 0)
            out += std::string(CounterSet<EnipCounter>::name(i)) + "=" + std::to_string(ctx.counters.get(i)) + " ";
    return out;
}

Bytes register_session() {
    Bytes d;
    le16(d, 1);
    le16(d, 0);
    return encap(enip_command::register_session, d, 0);
}

TEST(EnipDecoder, MemoryBudget) {
    EXPECT_LE(sizeof(EnipDecoder), 4352u);
    std::printf("sizeof(EnipDecoder) = %zu\n", sizeof(EnipDecoder));
}

TEST(EnipDecoder, SessionAndExplicitMessages) {
    EnipContext ctx;
    EnipDecoder d(ctx);
    Collect sink;
    d.on_data(Direction::to_server, register_session(), sink);
    d.on_data(Direction::to_client, register_session(), sink);
    d.on_data(Direction::to_server, rr(cip_req(0x0e, 0x01, 0x01, 7)), sink);
    d.on_data(Direction::to_client, rr(cip_resp(0x0e, 0x00, {0x0b, 'P', 'L', 'C'})), sink);
    d.on_data(Direction::to_server, unit(cip_req(0x07, 0x8e, 0x01), 6), sink);
    d.on_data(Direction::to_client, unit(cip_resp(0x07, 0x0c), 6), sink);
    ASSERT_EQ(sink.seen.size(), 6u) << dump(ctx);
    EXPECT_EQ(sink.seen[0].op.function, "register_session");
    EXPECT_TRUE(sink.seen[0].op.is_request);
    EXPECT_FALSE(sink.seen[1].op.is_request);
    auto j = eve_of(sink.seen[0]);
    EXPECT_EQ(j["enip"]["request"]["command"], "register_session");
    EXPECT_EQ(j["enip"]["request"]["register_session"]["protocol_version"], 1);

    const Seen& get = sink.seen[2];
    EXPECT_EQ(get.op.function, "get_attribute_single");
    EXPECT_EQ(get.op.access, OtAccess::read);
    EXPECT_TRUE(get.op.has_unit);
    EXPECT_EQ(get.op.unit, 1u);  // class
    EXPECT_EQ(get.op.address_first, 1u);  // instance
    EXPECT_EQ(get.rec.services[0].attribute, 7u);
    j = eve_of(get);
    EXPECT_EQ(j["enip"]["request"]["command"], "send_rr_data");
    EXPECT_EQ(j["enip"]["request"]["status"], "success");
    EXPECT_EQ(j["enip"]["request"]["cip"]["service"], "Get Attribute Single");
    EXPECT_EQ(j["enip"]["request"]["cip"]["class_name"], "Identity");
    EXPECT_EQ(j["enip"]["request"]["cip"]["path"][2]["segment_type"], "attribute");
    EXPECT_EQ(j["enip"]["request"]["cip"]["path"][2]["value"], 7);

    const Seen& resp = sink.seen[3];
    EXPECT_FALSE(resp.op.is_request);
    EXPECT_FALSE(resp.op.is_exception);
    EXPECT_EQ(eve_of(resp)["enip"]["response"]["cip"]["status"], "Success");

    const Seen& stop = sink.seen[4];
    EXPECT_EQ(stop.op.function, "stop");
    EXPECT_EQ(stop.op.access, OtAccess::control);
    EXPECT_EQ(stop.rec.connection_id, 0xff954022u);
    EXPECT_EQ(stop.rec.sequence, 6u);
    EXPECT_TRUE(sink.seen[5].op.is_exception);  // object state conflict
    EXPECT_EQ(eve_of(sink.seen[5])["enip"]["response"]["cip"]["general_status"], 0x0c);
    EXPECT_EQ(dump(ctx), "pdus=6 cip_requests=2 cip_responses=2 ");
}

TEST(EnipDecoder, MultipleServicePacketGivesOneRecordPerService) {
    EnipContext ctx;
    EnipDecoder d(ctx);
    Collect sink;
    d.on_data(Direction::to_server, register_session(), sink);
    d.on_data(Direction::to_server,
              unit(msp({cip_req(0x0e, 0x01, 0x01, 1), cip_req(0x10, 0xf5, 0x01, 3, {0x02, 0x00, 0x00, 0x00}),
                        cip_req(0x05, 0x01, 0x01)}),
                   1),
              sink);
    d.on_data(Direction::to_client, unit(msp({cip_resp(0x0e, 0, {0x01, 0x00}), cip_resp(0x10, 0), cip_resp(0x05, 0x08)}, true), 1),
              sink);
    ASSERT_EQ(sink.seen.size(), 7u) << dump(ctx);
    EXPECT_EQ(sink.seen[1].op.function, "get_attribute_single");
    EXPECT_EQ(sink.seen[2].op.function, "set_attribute_single");
    EXPECT_EQ(sink.seen[2].op.access, OtAccess::write);
    EXPECT_EQ(sink.seen[2].op.unit, 0xf5u);
    EXPECT_EQ(sink.seen[3].op.function, "reset");
    EXPECT_EQ(sink.seen[3].op.access, OtAccess::control);
    EXPECT_TRUE(sink.seen[1].rec.first_of_pdu);
    EXPECT_FALSE(sink.seen[2].rec.first_of_pdu);
    EXPECT_EQ(sink.seen[2].rec.service_index, 2);
    auto j = eve_of(sink.seen[1]);
    EXPECT_EQ(j["enip"]["request"]["cip"]["service"], "Multiple Service Packet");
    EXPECT_EQ(j["enip"]["request"]["cip"]["class_name"], "Message Router");
    EXPECT_EQ(j["enip"]["request"]["cip"]["multiple"].size(), 3u);
    EXPECT_EQ(j["enip"]["request"]["cip"]["multiple"][1]["class_name"], "TCP/IP Interface");
    EXPECT_TRUE(sink.seen[6].op.is_exception);  // the reset was refused
    EXPECT_EQ(eve_of(sink.seen[6])["enip"]["response"]["cip"]["multiple"][2]["status"], "Service not supported");
    EXPECT_EQ(ctx.counters.get(EnipCounter::bad_multiple_service), 0u);
}

TEST(EnipDecoder, UnconnectedSendIsUnwrapped) {
    // Read Tag "Motor_Speed" (symbolic path) routed through backplane port 1, slot 2.
    const std::string tag = "Motor_Speed";
    Bytes inner = {0x4c, static_cast<uint8_t>((2 + tag.size() + 1) / 2), 0x91, static_cast<uint8_t>(tag.size())};
    put(inner, Bytes(tag.begin(), tag.end()));
    if (tag.size() % 2) inner.push_back(0);
    le16(inner, 1);
    Bytes data = {0x0a, 0xf0};
    le16(data, static_cast<uint16_t>(inner.size()));
    put(data, inner);
    if (inner.size() % 2) data.push_back(0);
    put(data, {0x01, 0x00, 0x01, 0x02});
    EnipContext ctx;
    EnipDecoder d(ctx);
    Collect sink;
    d.on_data(Direction::to_server, rr(cip_req(0x52, 0x06, 0x01, -1, data)), sink);
    ASSERT_EQ(sink.seen.size(), 1u) << dump(ctx);
    const Seen& s = sink.seen[0];
    EXPECT_EQ(s.op.function, "read_tag");
    EXPECT_EQ(s.op.access, OtAccess::read);
    EXPECT_FALSE(s.op.has_unit);
    ASSERT_EQ(s.rec.num_services, 2u);
    EXPECT_TRUE(s.rec.services[1].routed);
    EXPECT_EQ(s.rec.services[1].route_port, 1u);
    EXPECT_EQ(s.rec.services[1].route_link, 2u);
    const auto j = eve_of(s);
    EXPECT_EQ(j["enip"]["request"]["cip"]["service"], "Unconnected Send");
    EXPECT_EQ(j["enip"]["request"]["cip"]["class_name"], "Connection Manager");
    EXPECT_EQ(j["enip"]["request"]["cip"]["embedded"]["service"], "Read Tag");
    EXPECT_EQ(j["enip"]["request"]["cip"]["embedded"]["tag"], "Motor_Speed");
    EXPECT_EQ(j["enip"]["request"]["cip"]["embedded"]["route"]["link"], 2);
}

Bytes identity_reply() {
    Bytes item;
    le16(item, 1);
    put(item, {0x00, 0x02, 0xaf, 0x12, 192, 168, 1, 10, 0, 0, 0, 0, 0, 0, 0, 0});
    le16(item, 1);   // Rockwell
    le16(item, 12);  // communications adapter
    le16(item, 58);
    put(item, {4, 3});
    le16(item, 0x0030);
    le32(item, 0x00524d8e);
    const std::string name = "1756-ENBT/A";
    item.push_back(static_cast<uint8_t>(name.size()));
    put(item, Bytes(name.begin(), name.end()));
    item.push_back(3);
    Bytes d;
    le16(d, 1);
    le16(d, 0x0c);
    le16(d, static_cast<uint16_t>(item.size()));
    put(d, item);
    return encap(enip_command::list_identity, d, 0);
}

TEST(EnipDecoder, ListIdentityOverUdp) {
    EnipContext ctx;
    EnipDecoder d(ctx);
    Collect sink;
    d.on_datagram(Direction::to_server, encap(enip_command::list_identity, {}, 0), sink);
    d.on_datagram(Direction::to_client, identity_reply(), sink);
    ASSERT_EQ(sink.seen.size(), 2u) << dump(ctx);
    EXPECT_EQ(sink.seen[0].op.function, "list_identity");
    EXPECT_EQ(sink.seen[0].op.access, OtAccess::diagnostic);
    const auto j = eve_of(sink.seen[1]);
    EXPECT_EQ(j["enip"]["response"]["command"], "list_identity");
    EXPECT_EQ(j["enip"]["response"]["identity"]["revision"], "4.3");
    EXPECT_EQ(j["enip"]["response"]["identity"]["product_name"], "1756-ENBT/A");
    EXPECT_EQ(j["enip"]["response"]["identity"]["vendor_id"], "Rockwell Automation/Allen-Bradley");
    EXPECT_EQ(j["enip"]["response"]["identity"]["serial"], 0x524d8e);
    EXPECT_EQ(j["enip"]["response"]["identity"]["state"], 3);
    d.on_datagram(Direction::to_client, std::span<const uint8_t>(identity_reply()).first(20), sink);
    EXPECT_EQ(ctx.counters.get(EnipCounter::truncated_datagram), 1u);
    // Class 1 I/O on UDP 2222: checked and counted only.
    Bytes io;
    le16(io, 2);
    le16(io, 0x8002);
    le16(io, 8);
    le32(io, 0x1234);
    le32(io, 7);
    le16(io, 0x00b1);
    le16(io, 4);
    put(io, {1, 2, 3, 4});
    d.on_io_datagram(Direction::to_server, io);
    io.push_back(0);
    d.on_io_datagram(Direction::to_server, io);
    EXPECT_EQ(ctx.counters.get(EnipCounter::io_datagrams), 1u);
    EXPECT_EQ(ctx.counters.get(EnipCounter::bad_cpf), 1u);
}

TEST(EnipDecoder, SplitAtEveryByte) {
    Bytes stream = register_session();
    put(stream, unit(msp({cip_req(0x0e, 0x01, 0x01, 1), cip_req(0x03, 0x01, 0x01, -1, {0x01, 0x00, 0x05, 0x00})}), 1));
    put(stream, rr(cip_req(0x0e, 0x01, 0x01, 7)));
    Collect whole;
    {
        EnipContext ctx;
        EnipDecoder d(ctx);
        d.on_data(Direction::to_server, stream, whole);
    }
    ASSERT_EQ(whole.seen.size(), 4u);
    for (size_t cut = 1; cut < stream.size(); ++cut) {
        EnipContext ctx;
        EnipDecoder d(ctx);
        Collect split;
        const std::span<const uint8_t> s(stream);
        d.on_data(Direction::to_server, s.first(cut), split);
        d.on_data(Direction::to_server, s.subspan(cut), split);
        ASSERT_EQ(split.seen.size(), whole.seen.size()) << cut;
        for (size_t i = 0; i < whole.seen.size(); ++i) ASSERT_EQ(split.seen[i].eve, whole.seen[i].eve) << cut;
    }
}

TEST(EnipDecoder, MalformedInputIsCountedByReason) {
    struct Case {
        Bytes bad;
        EnipCounter reason;
        size_t records;
    };
    Bytes cpf_lie;  // item length beyond the PDU
    le32(cpf_lie, 0);
    le16(cpf_lie, 0);
    le16(cpf_lie, 1);
    le16(cpf_lie, 0x00b2);
    le16(cpf_lie, 40);
    put(cpf_lie, {0x0e, 0x01});
    Bytes msp_lie = msp({cip_req(0x0e, 0x01, 0x01, 1)});
    msp_lie[8] = 0x40;  // the first offset points past the packet
    Bytes path_lie = {0x0e, 0x09, 0x20, 0x01};
    const std::vector<Case> cases = {
        {encap(0x0099, {}), EnipCounter::bad_header, 0},
        {encap(enip_command::send_rr_data, cpf_lie), EnipCounter::bad_cpf, 1},
        {rr(msp_lie), EnipCounter::bad_multiple_service, 1},
        {rr(path_lie), EnipCounter::bad_cip, 1},
        {rr({0x0e}), EnipCounter::bad_cip, 1},
        {encap(enip_command::register_session, {0x01}), EnipCounter::bad_command_data, 1},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(std::string(counter_name(c.reason)));
        EnipContext ctx;
        EnipDecoder d(ctx);
        Collect sink;
        Bytes stream = register_session();
        put(stream, c.bad);
        put(stream, register_session());
        d.on_data(Direction::to_server, stream, sink);
        EXPECT_EQ(sink.seen.size(), 2 + c.records) << dump(ctx);
        EXPECT_EQ(ctx.counters.get(c.reason), 1u) << dump(ctx);
    }
}

TEST(EnipDecoder, OversizeAndGaps) {
    EnipContext ctx;
    EnipDecoder d(ctx);
    Collect sink;
    d.on_data(Direction::to_server, register_session(), sink);
    // A 5000-byte Write Tag: decoded from its first 2048 bytes.
    Bytes big = cip_req(0x4d, 0x6b, 0x05, -1, Bytes(5000, 0xab));
    d.on_data(Direction::to_server, rr(big), sink);
    d.on_data(Direction::to_server, register_session(), sink);
    ASSERT_EQ(sink.seen.size(), 3u) << dump(ctx);
    EXPECT_EQ(sink.seen[1].op.function, "write_tag");
    EXPECT_EQ(sink.seen[1].op.access, OtAccess::write);
    EXPECT_TRUE(sink.seen[1].rec.truncated);
    EXPECT_EQ(ctx.counters.get(EnipCounter::oversize_pdu), 1u);
    // A gap inside a PDU of known length keeps step; in a header it resyncs.
    const Bytes m = rr(cip_req(0x0e, 0x01, 0x01, 7));
    const std::span<const uint8_t> ms(m);
    d.on_data(Direction::to_server, ms.first(30), sink);
    d.on_gap(Direction::to_server, 4);
    d.on_data(Direction::to_server, ms.subspan(34), sink);
    d.on_data(Direction::to_server, m, sink);
    EXPECT_EQ(sink.seen.size(), 4u);
    EXPECT_EQ(ctx.counters.get(EnipCounter::resync_bytes), 0u);
    d.on_data(Direction::to_server, ms.first(10), sink);
    d.on_gap(Direction::to_server, 4);
    d.on_data(Direction::to_server, ms.subspan(14), sink);
    d.on_data(Direction::to_server, m, sink);
    EXPECT_EQ(sink.seen.size(), 5u) << dump(ctx);
    EXPECT_EQ(ctx.counters.get(EnipCounter::gap_dropped_pdu), 2u);
    // A flow that starts with something else is given up.
    EnipDecoder other(ctx);
    const std::string http = "GET / HTTP/1.1\r\nHost: plc\r\n\r\n";
    other.on_data(Direction::to_server, as_bytes(std::string_view(http)), sink);
    EXPECT_TRUE(other.rejected());
}

// ---- keywords ----

std::unique_ptr<AppKeywordMatcher> must(Result<std::unique_ptr<AppKeywordMatcher>> r) {
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.message());
    return r.ok() ? std::move(r.value()) : nullptr;
}

TEST(EnipKeyword, ParseMatchAndErrors) {
    std::vector<std::unique_ptr<AppKeywordMatcher>> ks;
    ks.push_back(must(parse_enip_command_keyword("111")));
    ks.push_back(must(parse_enip_command_keyword("send_unit_data")));
    ks.push_back(must(parse_enip_command_keyword("0x65")));
    ks.push_back(must(parse_cip_service_keyword("10")));
    ks.push_back(must(parse_cip_service_keyword("14,1")));
    ks.push_back(must(parse_cip_service_keyword("14,1,7")));
    ks.push_back(must(parse_cip_service_keyword("3,1,5")));
    ks.push_back(must(parse_cip_service_keyword("16, 245, 3")));
    EnipContext ctx;
    EnipDecoder d(ctx);
    Collect sink;
    for (const auto& k : ks) sink.keywords.push_back(k.get());
    d.on_data(Direction::to_server, register_session(), sink);
    d.on_data(Direction::to_server, rr(cip_req(0x0e, 0x01, 0x01, 7)), sink);
    d.on_data(Direction::to_server,
              unit(msp({cip_req(0x03, 0x01, 0x01, -1, {0x02, 0x00, 0x01, 0x00, 0x05, 0x00}),
                        cip_req(0x10, 0xf5, 0x01, 3, {0x02, 0x00, 0x00, 0x00})}),
                   2),
              sink);
    d.on_data(Direction::to_client, unit(msp({cip_resp(0x03, 0), cip_resp(0x10, 0)}, true), 2), sink);
    ASSERT_EQ(sink.seen.size(), 6u);
    auto row = [&](size_t i) {
        std::string s;
        for (bool b : sink.seen[i].matches) s += b ? '1' : '0';
        return s;
    };
    EXPECT_EQ(row(0), "00100000");
    EXPECT_EQ(row(1), "10001100");
    EXPECT_EQ(row(2), "01010011");  // the PDU's first record carries the matches
    EXPECT_EQ(row(3), "00000000");
    EXPECT_EQ(row(4), "01010000");  // responses: service codes only
    EXPECT_EQ(row(5), "00000000");

    for (auto v : {"", "x", "70000", "-1", "list", "0x", "1,2"}) EXPECT_FALSE(parse_enip_command_keyword(v).ok()) << v;
    for (auto v : {"", "128", "a", "1,", "1,b", "1,2,c", "1,2,3,4", ",", "1,99999999999"})
        EXPECT_FALSE(parse_cip_service_keyword(v).ok()) << v;
}

// ---- captures ----

#define NEED_CORPUS()                                              \
    const std::string corpus = test::corpus_dir();                 \
    if (corpus.empty()) GTEST_SKIP() << "SLUICE_CORPUS not set or missing: capture test skipped"

struct CaptureRun {
    EnipContext ctx;
    Collect sink;
};

void run_capture(const std::string& path, CaptureRun& run) {
    std::map<size_t, std::unique_ptr<EnipDecoder>> flows;
    std::map<std::string, std::unique_ptr<EnipDecoder>> udp;
    test::CaptureStreams h;
    h.on_tcp = [&](size_t conn, const test::Endpoints& ep, Direction dir, std::span<const uint8_t> data) {
        if (ep.server_port != 44818 && ep.client_port != 44818) return;
        auto& dec = flows[conn];
        if (!dec)
            dec = std::make_unique<EnipDecoder>(run.ctx, ep.server_port == 44818 ? Direction::to_server : Direction::to_client);
        dec->on_data(dir, data, run.sink);
    };
    h.on_udp = [&](const test::Endpoints& ep, Direction dir, std::span<const uint8_t> data) {
        auto& dec = udp[std::to_string(ep.client_port) + "/" + std::to_string(ep.server_port)];
        if (!dec) dec = std::make_unique<EnipDecoder>(run.ctx);
        if (ep.server_port == 2222 || ep.client_port == 2222) dec->on_io_datagram(dir, data);
        else if (ep.server_port == 44818 || ep.client_port == 44818) dec->on_datagram(dir, data, run.sink);
    };
    std::string err;
    ASSERT_TRUE(test::read_capture(path, h, &err)) << err;
}

std::map<std::string, int> parse_counts(const std::string& s) {
    std::map<std::string, int> out;
    size_t p = 0;
    while (p < s.size()) {
        const size_t e = s.find(' ', p);
        const std::string kv = s.substr(p, e == std::string::npos ? std::string::npos : e - p);
        const size_t eq = kv.rfind('=');
        if (eq != std::string::npos) out[kv.substr(0, eq)] = std::stoi(kv.substr(eq + 1));
        if (e == std::string::npos) break;
        p = e + 1;
    }
    return out;
}

TEST(EnipCapture, CommandsAndServicesMatchTshark) {
    NEED_CORPUS();
    // tshark -Y 'enip && !tcp.analysis.retransmission' -T fields -e enip.command -e cip.sc
    const std::vector<std::pair<std::string, std::string>> expect = {
        {"suricata-verify/tests/enip-keywords/enip_cip_example.pcap",
         "0x0063=2 0x0070/0x03=184 0x0070/0x04=2 0x0070/0x0a,0x03,0x03,0x03,0x03,0x03,0x03,0x03,0x03,0x03,0x03,0x03=81"},
        {"quickdraw/Quickdraw-Suricata/CL5000EIP-Lock_PLC_Attempt.pcap",
         "0x0070/0x03=102 0x0070/0x0a,0x03,0x03,0x03,0x03,0x03,0x03,0x03,0x03,0x03=174 0x0070/0x4b=12 0x0070/0x4c=6"},
        {"quickdraw/Quickdraw-Suricata/CL5000EIP-Remote_Mode_Change_Attempt.pcap",
         "0x0070/0x03=104 0x0070/0x07=2 "
         "0x0070/0x0a,0x03,0x03,0x03,0x03,0x03,0x03,0x03,0x4c,0x4c,0x4c,0x4c,0x4c,0x4c,0x4c,0x4c,0x03,0x03=189 "
         "0x0070/0x4b=4 0x0070/0x4c=2"},
        {"quickdraw/Quickdraw-Suricata/CL5000EIP-Reboot_or_Restart.pcap",
         "0x006f/0x01=12 0x006f/0x03=9 0x006f/0x4e=8 0x006f/0x52,0x01=12 0x006f/0x52,0x03=9 0x006f/0x54=10 "
         "0x0070/0x01=6 0x0070/0x03=494 0x0070/0x04=60 0x0070/0x05=2 0x0070/0x06=2 0x0070/0x07=2 0x0070/0x08=14 "
         "0x0070/0x0a,0x03,0x03,0x03,0x03,0x03,0x03,0x03,0x03,0x03,0x4c,0x4c,0x4c,0x4c,0x4c,0x4c,0x4c,0x4c=72 "
         "0x0070/0x0a,0x03,0x03,0x03,0x03,0x03=24 0x0070/0x0a,0x04,0x04,0x04,0x04,0x04,0x04,0x04,0x04,0x04,0x04=2 "
         "0x0070/0x0a,0x04,0x04,0x04,0x04,0x04,0x04,0x04,0x04,0x04=2 0x0070/0x0a,0x04,0x04,0x04,0x04,0x04,0x04,0x04=2 "
         "0x0070/0x0a,0x08,0x08,0x08,0x08,0x08,0x08,0x08,0x08,0x08,0x08=2 "
         "0x0070/0x0a,0x08,0x08,0x08,0x08,0x08,0x08,0x08,0x08,0x08=4 0x0070/0x0a,0x08,0x08,0x08,0x08,0x08,0x08,0x08,0x08=2 "
         "0x0070/0x0a,0x0d,0x0d,0x0d=2 0x0070/0x0a,0x4c,0x4c,0x4c,0x4c,0x4c,0x4c,0x4c,0x4c,0x03,0x03,0x03,0x03,0x03,0x03,0x03,0x03,0x03=2 "
         "0x0070/0x0a,0x4c,0x4c,0x4c,0x4c,0x4c,0x4c,0x4c,0x4c,0x03,0x03,0x03,0x03,0x03,0x03,0x03=2 0x0070/0x4b=20 "
         "0x0070/0x4c=12 0x0070/0x4f=10 0x0070/0x50=16"},
        {"iti-ics/pcaps/EthernetIP/cip-multiple-1.pcap",
         "0x0070/0x0a,0x03,0x03,0x03,0x03,0x03,0x03,0x03,0x03,0x03,0x03,0x03=1"},
        {"iti-ics/pcaps/EthernetIP/cip-multiple-2.pcap",
         "0x0070/0x0a,0x03,0x03,0x03,0x03,0x03,0x03,0x03,0x03,0x03,0x03,0x03=1"},
        {"iti-ics/pcaps/EthernetIP/cip_stop_plc.pcap", "0x0070/0x07=1"},
        {"iti-ics/pcaps/EthernetIP/cip_start_plc.pcap", "0x0070/0x06=1"},
        {"iti-ics/pcaps/EthernetIP/cip_unlock_cpu.pcap", "0x0070/0x4c=1"},
        {"iti-ics/pcaps/EthernetIP/cip-eth-set-2.pcap", "0x006f/0x10=1"},
    };
    for (const auto& [file, counts] : expect) {
        SCOPED_TRACE(file);
        CaptureRun run;
        run_capture(corpus + "/" + file, run);
        EXPECT_EQ(run.sink.per_pdu(), parse_counts(counts)) << dump(run.ctx);
        EXPECT_EQ(run.ctx.counters.get(EnipCounter::bad_cpf) + run.ctx.counters.get(EnipCounter::bad_cip) +
                      run.ctx.counters.get(EnipCounter::bad_multiple_service),
                  0u)
            << dump(run.ctx);
    }
}

TEST(EnipCapture, SuricataVerifyKeywordCountsAndValues) {
    NEED_CORPUS();
    // suricata-verify enip-keywords (Suricata 8): cip_service:10 81 alerts,
    // enip_command:112 267, enip_command:99 2; enip-keywords-suricata8:
    // class 1 instance 1 attribute 5 in 41 requests (cip_service:3,1,5).
    std::vector<std::unique_ptr<AppKeywordMatcher>> ks;
    ks.push_back(must(parse_cip_service_keyword("10")));
    ks.push_back(must(parse_enip_command_keyword("112")));
    ks.push_back(must(parse_enip_command_keyword("99")));
    ks.push_back(must(parse_cip_service_keyword("3,1,5")));
    CaptureRun run;
    for (const auto& k : ks) run.sink.keywords.push_back(k.get());
    run_capture(corpus + "/suricata-verify/tests/enip-keywords/enip_cip_example.pcap", run);
    std::array<int, 4> hits{};
    int msp_requests = 0;
    for (const auto& s : run.sink.seen) {
        for (size_t k = 0; k < 4; ++k) hits[k] += s.matches[k] ? 1 : 0;
        if (s.rec.first_of_pdu && s.op.is_request && s.rec.num_services > 0 && s.rec.services[0].code() == 0x0a) {
            ++msp_requests;  // enip-frames: path class 2 instance 1, "Message Router"
            const auto j = nlohmann::json::parse(s.eve)["enip"]["request"]["cip"];
            EXPECT_EQ(j["path"][0]["segment_type"], "class");
            EXPECT_EQ(j["path"][0]["value"], 2);
            EXPECT_EQ(j["path"][1]["segment_type"], "instance");
            EXPECT_EQ(j["path"][1]["value"], 1);
            EXPECT_EQ(j["class_name"], "Message Router");
        }
    }
    EXPECT_EQ(hits, (std::array<int, 4>{81, 267, 2, 41}));
    EXPECT_EQ(msp_requests, 41);
    EXPECT_EQ(run.ctx.counters.get(EnipCounter::io_datagrams), 398u);

    // enip-log-identity: the ListIdentity answer of a 1756-ENBT/A.
    CaptureRun id;
    run_capture(corpus + "/suricata-verify/tests/enip-alert/enip_test1.pcap", id);
    bool found = false;
    for (const auto& s : id.sink.seen) {
        const auto j = nlohmann::json::parse(s.eve)["enip"];
        if (!j.contains("response") || !j["response"].contains("identity")) continue;
        found = true;
        EXPECT_EQ(j["response"]["command"], "list_identity");
        EXPECT_EQ(j["response"]["status"], "success");
        EXPECT_EQ(j["response"]["identity"]["revision"], "4.3");
        EXPECT_EQ(j["response"]["identity"]["product_name"], "1756-ENBT/A");
        EXPECT_EQ(j["response"]["identity"]["vendor_id"], "Rockwell Automation/Allen-Bradley");
    }
    EXPECT_TRUE(found) << dump(id.ctx);
}

TEST(EnipCapture, LargeMultipleServicePacketsAreKeptWhole) {
    NEED_CORPUS();
    // nDPI's capture: Multiple Service Packets of up to 30 Read Tags, and
    // frames holding up to seven encapsulations (75 in all, by tshark).
    CaptureRun run;
    run_capture(corpus + "/ndpi-4.2/pcap/ethernetIP.pcap", run);
    EXPECT_EQ(run.ctx.counters.get(EnipCounter::pdus), 75u) << dump(run.ctx);
    EXPECT_EQ(run.ctx.counters.get(EnipCounter::services_truncated), 0u);
    size_t largest = 0;
    for (const auto& s : run.sink.seen) largest = std::max<size_t>(largest, s.rec.num_services);
    EXPECT_EQ(largest, 31u);
}

TEST(EnipCapture, PlcStopStartAndResetAreControl) {
    NEED_CORPUS();
    CaptureRun run;
    run_capture(corpus + "/quickdraw/Quickdraw-Suricata/CL5000EIP-Reboot_or_Restart.pcap", run);
    std::map<std::string, int> control;
    for (const auto& s : run.sink.seen)
        if (s.op.is_request && s.op.access == OtAccess::control) ++control[std::string(s.op.function)];
    // tshark: one request each of Reset (0x05), Start (0x06) and Stop (0x07).
    EXPECT_EQ(control, (std::map<std::string, int>{{"reset", 1}, {"start", 1}, {"stop", 1}}));
}

}  // namespace
}  // namespace sluice
