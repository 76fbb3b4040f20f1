// DNS decoding and DnsParser: names with compression, loops and bounds, rdata,
// EVE records, query/response pairing, TCP framing at every split, caps.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "detectors/applayer/dns_parser.hpp"
#include "tests/detectors/applayer/applayer_test_support.hpp"

namespace sluice {
namespace {

using test::RecordingSink;
using test::TxCopy;
using Msg = std::vector<uint8_t>;

void put16(Msg& m, uint16_t v) {
    m.push_back(static_cast<uint8_t>(v >> 8));
    m.push_back(static_cast<uint8_t>(v));
}
void put32(Msg& m, uint32_t v) {
    put16(m, static_cast<uint16_t>(v >> 16));
    put16(m, static_cast<uint16_t>(v));
}
void put_name(Msg& m, std::string_view dotted) {
    size_t start = 0;
    while (start < dotted.size()) {
        size_t dot = dotted.find('.', start);
        if (dot == std::string_view::npos) dot = dotted.size();
        m.push_back(static_cast<uint8_t>(dot - start));
        m.insert(m.end(), dotted.begin() + static_cast<long>(start), dotted.begin() + static_cast<long>(dot));
        start = dot + 1;
    }
    m.push_back(0);
}
void put_header(Msg& m, uint16_t id, uint16_t flags, uint16_t qd, uint16_t an, uint16_t ns = 0, uint16_t ar = 0) {
    put16(m, id);
    put16(m, flags);
    put16(m, qd);
    put16(m, an);
    put16(m, ns);
    put16(m, ar);
}

Msg query(uint16_t id, std::string_view name, uint16_t type = 1) {
    Msg m;
    put_header(m, id, 0x0100, 1, 0);
    put_name(m, name);
    put16(m, type);
    put16(m, 1);
    return m;
}

// www.example.com CNAME web.example.com (compressed), A 192.0.2.7, AAAA
// 2001:db8::68; authority example.com NS ns1.example.com.
Msg response(uint16_t id) {
    Msg m;
    put_header(m, id, 0x8180, 1, 3, 1);
    put_name(m, "www.example.com");  // at 12; "example.com" at 16
    put16(m, 1);
    put16(m, 1);
    // answer 1: name -> 12, CNAME rdata "web" + pointer 16
    put16(m, 0xc00c);
    put16(m, 5);
    put16(m, 1);
    put32(m, 300);
    put16(m, 6);
    m.insert(m.end(), {3, 'w', 'e', 'b', 0xc0, 16});
    const uint16_t web = static_cast<uint16_t>(m.size() - 6);
    // answer 2: web.example.com A
    put16(m, static_cast<uint16_t>(0xc000 | web));
    put16(m, 1);
    put16(m, 1);
    put32(m, 60);
    put16(m, 4);
    m.insert(m.end(), {192, 0, 2, 7});
    // answer 3: AAAA
    put16(m, static_cast<uint16_t>(0xc000 | web));
    put16(m, 28);
    put16(m, 1);
    put32(m, 60);
    put16(m, 16);
    m.insert(m.end(), {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x68});
    // authority: example.com NS ns1.example.com
    put16(m, 0xc010);
    put16(m, 2);
    put16(m, 1);
    put32(m, 3600);
    put16(m, 6);
    m.insert(m.end(), {3, 'n', 's', '1', 0xc0, 16});
    return m;
}

struct DnsRun {
    explicit DnsRun(AppLayerConfig c = {}) : cfg(c), ctx(cfg), parser(ctx, sink) {}
    uint64_t count(DnsCounter c) const { return ctx.counters.dns.get(c); }
    AppLayerConfig cfg;
    AppLayerContext ctx;
    RecordingSink sink;
    DnsParser parser;
};

std::string str(std::span<const uint8_t> b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

TEST(DnsDecode, QueryAndCompressedResponse) {
    ScratchBuffer s(4096);
    DnsMessage m;
    const Msg q = query(0x1234, "www.example.com");
    ASSERT_EQ(decode_dns_message(q, m, s, 32), DnsError::none);
    EXPECT_FALSE(m.is_response());
    ASSERT_EQ(m.question_count, 1u);
    EXPECT_EQ(str(m.questions[0].name), "www.example.com");
    EXPECT_EQ(m.questions[0].type, 1);

    const Msg r = response(0x1234);
    ASSERT_EQ(decode_dns_message(r, m, s, 32), DnsError::none);
    EXPECT_TRUE(m.is_response());
    ASSERT_EQ(m.record_count, 4u);
    EXPECT_EQ(str(m.records[0].name), "www.example.com");
    EXPECT_EQ(str(m.records[0].rdata), "web.example.com");
    EXPECT_EQ(str(m.records[1].name), "web.example.com");
    EXPECT_EQ(str(m.records[1].rdata), "192.0.2.7");
    EXPECT_EQ(str(m.records[2].rdata), "2001:0db8:0000:0000:0000:0000:0000:0068");
    EXPECT_EQ(m.records[3].section, DnsSection::authority);
    EXPECT_EQ(str(m.records[3].name), "example.com");
    EXPECT_EQ(str(m.records[3].rdata), "ns1.example.com");
}

TEST(DnsDecode, CompressionLoopsAndBadPointersAreStopped) {
    ScratchBuffer s(4096);
    DnsMessage m;
    {  // the question name points at itself
        Msg q;
        put_header(q, 1, 0, 1, 0);
        put16(q, 0xc00c);
        put16(q, 1);
        put16(q, 1);
        EXPECT_EQ(decode_dns_message(q, m, s, 32), DnsError::pointer_loop);
    }
    {  // two pointers pointing at each other, after a label
        Msg q;
        put_header(q, 1, 0, 1, 0);
        q.insert(q.end(), {1, 'a', 0xc0, 16, 0xc0, 14});  // 12:"a" 14:->16 16:->14
        put16(q, 1);
        put16(q, 1);
        EXPECT_EQ(decode_dns_message(q, m, s, 32), DnsError::pointer_loop);
        EXPECT_LE(s.used(), 2 * kDnsMaxPointerJumps + 64);  // bounded output before giving up
    }
    {  // pointer past the end
        Msg q;
        put_header(q, 1, 0, 1, 0);
        put16(q, 0xc0ff);
        put16(q, 1);
        put16(q, 1);
        EXPECT_EQ(decode_dns_message(q, m, s, 32), DnsError::pointer_out_of_bounds);
    }
    {  // a forward chain of pointers within the jump limit is fine
        Msg q;
        put_header(q, 1, 0, 1, 0);
        q.insert(q.end(), {0xc0, 18, 0, 1, 0, 1});  // 12: ->18 ; type/class at 14
        q.insert(q.end(), {0xc0, 20, 0xc0, 22, 3, 'e', 'n', 'd', 0});
        EXPECT_EQ(decode_dns_message(q, m, s, 32), DnsError::none);
        EXPECT_EQ(str(m.questions[0].name), "end");
    }
    {  // reserved label type
        Msg q;
        put_header(q, 1, 0, 1, 0);
        q.insert(q.end(), {0x41, 'x', 0, 0, 1, 0, 1});
        EXPECT_EQ(decode_dns_message(q, m, s, 32), DnsError::label_invalid);
    }
    {  // a name over 255 bytes, built from pointers to a long label run
        Msg q;
        put_header(q, 1, 0, 1, 0);
        for (int i = 0; i < 5; ++i) {
            q.push_back(63);
            q.insert(q.end(), 63, 'x');
        }
        q.push_back(0);
        put16(q, 1);
        put16(q, 1);
        EXPECT_EQ(decode_dns_message(q, m, s, 32), DnsError::name_too_long);
    }
    {
        Msg q;
        put_header(q, 1, 0, 100, 0);
        EXPECT_EQ(decode_dns_message(q, m, s, 32), DnsError::too_many_questions);
    }
}

TEST(DnsDecode, EveryTruncationIsRejectedWithoutOverread) {
    const Msg r = response(7);
    ScratchBuffer s(8192);
    DnsMessage m;
    for (size_t k = 0; k < r.size(); ++k) {
        s.reset();
        // A copy of exactly k bytes, so a sanitizer sees any read past it.
        const std::vector<uint8_t> cut(r.begin(), r.begin() + static_cast<long>(k));
        EXPECT_NE(decode_dns_message(cut, m, s, 32), DnsError::none) << k;
    }
}

TEST(DnsDecode, BadRdataKeepsTheRecordWithoutText) {
    Msg r;
    put_header(r, 9, 0x8180, 1, 1);
    put_name(r, "a.example");
    put16(r, 1);
    put16(r, 1);
    put16(r, 0xc00c);
    put16(r, 1);
    put16(r, 1);
    put32(r, 5);
    put16(r, 3);  // an A record of 3 bytes
    r.insert(r.end(), {1, 2, 3});
    ScratchBuffer s(4096);
    DnsMessage m;
    AppLayerConfig cfg;
    AppLayerContext ctx(cfg);
    ASSERT_EQ(decode_dns_message(r, m, s, 32, &ctx.counters.dns), DnsError::none);
    ASSERT_EQ(m.record_count, 1u);
    EXPECT_FALSE(m.records[0].has_rdata);
    EXPECT_EQ(ctx.counters.dns.get(DnsCounter::rdata_invalid), 1u);
}

TEST(DnsParser, UdpQueryAndResponseShareATransaction) {
    DnsRun r;
    const Msg q = query(0xbeef, "www.example.com", 28);
    const Msg a = response(0xbeef);
    r.parser.on_datagram(Direction::to_server, query(1, "other.example"));
    r.parser.on_datagram(Direction::to_server, q);
    r.parser.on_datagram(Direction::to_client, a);
    ASSERT_EQ(r.sink.txs.size(), 3u);
    const TxCopy& tq = r.sink.txs[1];
    const TxCopy& ta = r.sink.txs[2];
    EXPECT_EQ(tq.proto, AppProto::dns);
    EXPECT_EQ(tq.stage, AppTxStage::whole);
    EXPECT_EQ(tq.get(AppBuffer::dns_query), "www.example.com");
    EXPECT_FALSE(ta.has(AppBuffer::dns_query));  // dns.query is the request's (as in Suricata)
    EXPECT_EQ(tq.tx_id, 1u);
    EXPECT_EQ(ta.tx_id, 1u);
    const auto qe = nlohmann::json::parse(tq.eve)["dns"];
    EXPECT_EQ(qe["type"], "query");
    EXPECT_EQ(qe["id"], 0xbeef);
    EXPECT_EQ(qe["rrname"], "www.example.com");
    EXPECT_EQ(qe["rrtype"], "AAAA");
    EXPECT_EQ(qe["tx_id"], 1);
    const auto ae = nlohmann::json::parse(ta.eve)["dns"];
    EXPECT_EQ(ae["type"], "answer");
    EXPECT_EQ(ae["version"], 2);
    EXPECT_EQ(ae["flags"], "8180");
    EXPECT_EQ(ae["qr"], true);
    EXPECT_EQ(ae["rd"], true);
    EXPECT_EQ(ae["ra"], true);
    EXPECT_EQ(ae["rcode"], "NOERROR");
    ASSERT_EQ(ae["answers"].size(), 3u);
    EXPECT_EQ(ae["answers"][0]["rrtype"], "CNAME");
    EXPECT_EQ(ae["answers"][0]["rdata"], "web.example.com");
    EXPECT_EQ(ae["answers"][1]["rdata"], "192.0.2.7");
    EXPECT_EQ(ae["answers"][1]["ttl"], 60);
    EXPECT_EQ(ae["authorities"][0]["rdata"], "ns1.example.com");
    EXPECT_EQ(r.count(DnsCounter::queries), 2u);
    EXPECT_EQ(r.count(DnsCounter::responses), 1u);
    // An unsolicited answer gets a transaction of its own.
    r.parser.on_datagram(Direction::to_client, response(0x5555));
    EXPECT_EQ(r.sink.txs.back().tx_id, 2u);
}

TEST(DnsParser, MalformedDatagramsAreCountedNotEmitted) {
    DnsRun r;
    r.parser.on_datagram(Direction::to_server, Msg{1, 2, 3});
    Msg loop;
    put_header(loop, 1, 0, 1, 0);
    put16(loop, 0xc00c);
    put16(loop, 1);
    put16(loop, 1);
    r.parser.on_datagram(Direction::to_server, loop);
    EXPECT_TRUE(r.sink.txs.empty());
    EXPECT_EQ(r.count(DnsCounter::message_truncated), 1u);
    EXPECT_EQ(r.count(DnsCounter::pointer_loop), 1u);
    EXPECT_EQ(r.parser.state(), ParserState::active);  // UDP: the next datagram may be fine
    r.parser.on_datagram(Direction::to_server, query(2, "ok.example"));
    EXPECT_EQ(r.sink.txs.size(), 1u);
}

TEST(DnsParser, RecordCapCountsTheRest) {
    AppLayerConfig cfg;
    cfg.dns_max_records = 4;
    DnsRun r(cfg);
    Msg m;
    put_header(m, 3, 0x8180, 1, 10);
    put_name(m, "many.example");
    put16(m, 1);
    put16(m, 1);
    for (int i = 0; i < 10; ++i) {
        put16(m, 0xc00c);
        put16(m, 1);
        put16(m, 1);
        put32(m, 1);
        put16(m, 4);
        m.insert(m.end(), {10, 0, 0, static_cast<uint8_t>(i)});
    }
    r.parser.on_datagram(Direction::to_client, m);
    ASSERT_EQ(r.sink.txs.size(), 1u);
    EXPECT_EQ(nlohmann::json::parse(r.sink.txs[0].eve)["dns"]["answers"].size(), 4u);
    EXPECT_EQ(r.count(DnsCounter::records_not_decoded), 6u);
}

std::vector<uint8_t> framed(const std::vector<Msg>& msgs) {
    std::vector<uint8_t> out;
    for (const auto& m : msgs) {
        put16(out, static_cast<uint16_t>(m.size()));
        out.insert(out.end(), m.begin(), m.end());
    }
    return out;
}

TEST(DnsParser, TcpFramingAtEverySplitPoint) {
    const auto stream = framed({query(1, "a.example"), query(2, "b.example"), query(3, "c.example")});
    DnsRun whole;
    whole.parser.on_data(Direction::to_server, 0, stream);
    ASSERT_EQ(whole.sink.txs.size(), 3u);
    EXPECT_EQ(whole.sink.txs[2].get(AppBuffer::dns_query), "c.example");
    for (size_t k = 0; k <= stream.size(); ++k) {
        DnsRun r;
        r.parser.on_data(Direction::to_server, 0, std::span(stream).first(k));
        r.parser.on_data(Direction::to_server, k, std::span(stream).subspan(k));
        ASSERT_EQ(r.sink.txs, whole.sink.txs) << "split at " << k;
    }
    DnsRun bytewise;
    for (size_t i = 0; i < stream.size(); ++i) bytewise.parser.on_data(Direction::to_server, i, std::span(stream).subspan(i, 1));
    EXPECT_EQ(bytewise.sink.txs, whole.sink.txs);
}

TEST(DnsParser, TcpLyingLengthsAndGapsFailTheFlow) {
    for (uint16_t len : {uint16_t{0}, uint16_t{5}}) {
        DnsRun r;
        std::vector<uint8_t> s;
        put16(s, len);
        s.insert(s.end(), 20, 0);
        r.parser.on_data(Direction::to_server, 0, s);
        EXPECT_EQ(r.count(DnsCounter::tcp_length_invalid), 1u) << len;
        EXPECT_EQ(r.parser.state(), ParserState::failed);
    }
    {
        AppLayerConfig cfg;
        cfg.dns_max_tcp_message = 512;
        DnsRun r(cfg);
        std::vector<uint8_t> s;
        put16(s, 4000);
        r.parser.on_data(Direction::to_server, 0, s);
        EXPECT_EQ(r.count(DnsCounter::tcp_length_invalid), 1u);
    }
    {  // a length longer than what follows: nothing until the end, no overread
        DnsRun r;
        auto s = framed({query(1, "x.example")});
        s[1] = static_cast<uint8_t>(s[1] + 10);
        r.parser.on_data(Direction::to_server, 0, s);
        r.parser.on_end();
        EXPECT_TRUE(r.sink.txs.empty());
        EXPECT_LE(r.parser.memory_bytes(), 64u * 1024);
    }
    {
        DnsRun r;
        r.parser.on_gap(Direction::to_server, 0, 10);
        EXPECT_EQ(r.count(DnsCounter::tcp_gap), 1u);
        EXPECT_EQ(r.parser.state(), ParserState::failed);
    }
}

TEST(DnsNames, RrtypeAndRcodeNames) {
    EXPECT_EQ(dns_rrtype_name(1), "A");
    EXPECT_EQ(dns_rrtype_name(28), "AAAA");
    EXPECT_EQ(dns_rrtype_name(65), "HTTPS");
    EXPECT_EQ(dns_rrtype_name(9999), "");
    EXPECT_EQ(dns_rcode_name(3), "NXDOMAIN");
    EXPECT_EQ(dns_rcode_name(15), "");
    DnsRun r;
    r.parser.on_datagram(Direction::to_server, query(1, "x.example", 9999));
    EXPECT_EQ(nlohmann::json::parse(r.sink.txs.at(0).eve)["dns"]["rrtype"], "9999");
}

}  // namespace
}  // namespace sluice
