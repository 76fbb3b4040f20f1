// HttpParser: buffers as the signature engine sees them, emission stages,
// chunk-boundary independence, pipelining, bodies (length, chunked, close,
// compressed), limits and hostile input.
#include <zlib.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "detectors/applayer/http_parser.hpp"
#include "tests/detectors/applayer/applayer_test_support.hpp"

namespace sluice {
namespace {

using test::bytes_of;
using test::RecordingSink;
using test::TxCopy;
constexpr auto S = Direction::to_server;
constexpr auto C = Direction::to_client;

struct Segment {
    Direction dir;
    std::string data;
};

struct HttpRun {
    explicit HttpRun(AppLayerConfig c = {}) : cfg(c), ctx(cfg), parser(ctx, sink) {}
    void feed(Direction d, std::string_view s, size_t chunk = 0) {
        if (chunk == 0) chunk = s.size() ? s.size() : 1;
        for (size_t i = 0; i < s.size(); i += chunk) {
            const auto part = s.substr(i, chunk);
            parser.on_data(d, offset[index(d)], bytes_of(part));
            offset[index(d)] += part.size();
        }
    }
    void feed_all(const std::vector<Segment>& segs, size_t chunk = 0) {
        for (const auto& s : segs) feed(s.dir, s.data, chunk);
    }
    uint64_t count(HttpCounter c) const { return ctx.counters.http.get(c); }
    AppLayerConfig cfg;
    AppLayerContext ctx;
    RecordingSink sink;
    HttpParser parser;
    uint64_t offset[2] = {0, 0};
};

// "prefix" + std::to_string(i) trips GCC 12's -Wrestrict false positive.
std::string num(const char* prefix, int i) {
    std::string s(prefix);
    s += std::to_string(i);
    return s;
}

std::string compress(std::string_view in, int window_bits) {
    z_stream zs{};
    EXPECT_EQ(deflateInit2(&zs, 9, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY), Z_OK);
    std::string out(deflateBound(&zs, in.size()) + 64, '\0');
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs.avail_in = static_cast<uInt>(in.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    return out;
}

std::string chunked(std::string_view body, size_t piece) {
    std::string out;
    char hex[32];
    for (size_t i = 0; i < body.size(); i += piece) {
        const auto p = body.substr(i, piece);
        std::snprintf(hex, sizeof hex, "%zx", p.size());
        out += std::string(hex) + "\r\n" + std::string(p) + "\r\n";
    }
    return out + "0\r\n\r\n";
}

const std::string kRequest =
    "GET /a/./b/../c%2Fd%41?q=%41 HTTP/1.1\r\n"
    "Host: WWW.Example.COM:8080\r\n"
    "User-Agent: curl/8.0\r\n"
    "Cookie: session=1\r\n"
    "Accept: */*\r\n"
    "Referer: http://ref.example/\r\n"
    "Connection: keep-alive\r\n"
    "\r\n";
const std::string kResponse =
    "HTTP/1.1 302 Found\r\n"
    "Server: nginx\r\n"
    "Location: /elsewhere\r\n"
    "Set-Cookie: id=2\r\n"
    "Content-Type: text/html\r\n"
    "Content-Length: 11\r\n"
    "\r\n"
    "hello world";

TEST(HttpParser, RequestAndResponseBuffersAsSuricataSeesThem) {
    HttpRun r;
    r.feed(S, kRequest);
    r.feed(C, kResponse);
    ASSERT_EQ(r.sink.txs.size(), 4u);
    const TxCopy& q = r.sink.txs[0];
    EXPECT_EQ(q.stage, AppTxStage::headers);
    EXPECT_EQ(q.dir, S);
    EXPECT_EQ(q.tx_id, 0u);
    EXPECT_EQ(q.get(AppBuffer::http_method), "GET");
    EXPECT_EQ(q.get(AppBuffer::http_raw_uri), "/a/./b/../c%2Fd%41?q=%41");
    EXPECT_EQ(q.get(AppBuffer::http_uri), "/a/c/dA?q=%41");
    EXPECT_EQ(q.get(AppBuffer::http_protocol), "HTTP/1.1");
    EXPECT_EQ(q.get(AppBuffer::http_request_line), "GET /a/./b/../c%2Fd%41?q=%41 HTTP/1.1");
    EXPECT_EQ(q.get(AppBuffer::http_host), "www.example.com");
    EXPECT_EQ(q.get(AppBuffer::http_raw_host), "WWW.Example.COM:8080");
    EXPECT_EQ(q.get(AppBuffer::http_user_agent), "curl/8.0");
    EXPECT_EQ(q.get(AppBuffer::http_cookie), "session=1");
    EXPECT_EQ(q.get(AppBuffer::http_accept), "*/*");
    EXPECT_EQ(q.get(AppBuffer::http_referer), "http://ref.example/");
    EXPECT_EQ(q.get(AppBuffer::http_connection), "keep-alive");
    EXPECT_EQ(q.get(AppBuffer::http_header),
              "Host: WWW.Example.COM:8080\r\nUser-Agent: curl/8.0\r\nAccept: */*\r\n"
              "Referer: http://ref.example/\r\nConnection: keep-alive\r\n");
    EXPECT_EQ(q.get(AppBuffer::http_raw_header), kRequest.substr(kRequest.find("\r\n") + 2));
    EXPECT_EQ(q.get(AppBuffer::http_header_names),
              "\r\nHost\r\nUser-Agent\r\nCookie\r\nAccept\r\nReferer\r\nConnection\r\n\r\n");
    EXPECT_FALSE(q.has(AppBuffer::http_request_body));
    EXPECT_FALSE(q.has(AppBuffer::file_data));
    EXPECT_FALSE(q.has(AppBuffer::http_stat_code));

    const TxCopy& qb = r.sink.txs[1];
    EXPECT_EQ(qb.stage, AppTxStage::body);
    EXPECT_EQ(qb.tx_id, 0u);
    EXPECT_FALSE(qb.has(AppBuffer::http_request_body));  // no body at all
    EXPECT_EQ(qb.get(AppBuffer::http_uri), q.get(AppBuffer::http_uri));

    const TxCopy& a = r.sink.txs[2];
    EXPECT_EQ(a.stage, AppTxStage::headers);
    EXPECT_EQ(a.dir, C);
    EXPECT_EQ(a.tx_id, 0u);
    EXPECT_EQ(a.get(AppBuffer::http_stat_code), "302");
    EXPECT_EQ(a.get(AppBuffer::http_stat_msg), "Found");
    EXPECT_EQ(a.get(AppBuffer::http_response_line), "HTTP/1.1 302 Found");
    EXPECT_EQ(a.get(AppBuffer::http_protocol), "HTTP/1.1");
    EXPECT_EQ(a.get(AppBuffer::http_server), "nginx");
    EXPECT_EQ(a.get(AppBuffer::http_location), "/elsewhere");
    EXPECT_EQ(a.get(AppBuffer::http_cookie), "id=2");
    EXPECT_EQ(a.get(AppBuffer::http_content_type), "text/html");
    EXPECT_EQ(a.get(AppBuffer::http_content_len), "11");
    EXPECT_EQ(a.get(AppBuffer::http_header),
              "Server: nginx\r\nLocation: /elsewhere\r\nContent-Type: text/html\r\nContent-Length: 11\r\n");
    // The request's fields ride along with its response.
    EXPECT_EQ(a.get(AppBuffer::http_method), "GET");
    EXPECT_EQ(a.get(AppBuffer::http_uri), "/a/c/dA?q=%41");
    EXPECT_EQ(a.get(AppBuffer::http_host), "www.example.com");
    EXPECT_EQ(a.get(AppBuffer::http_user_agent), "curl/8.0");
    EXPECT_FALSE(a.has(AppBuffer::http_response_body));

    const TxCopy& ab = r.sink.txs[3];
    EXPECT_EQ(ab.stage, AppTxStage::body);
    EXPECT_EQ(ab.get(AppBuffer::http_response_body), "hello world");
    EXPECT_EQ(ab.get(AppBuffer::file_data), "hello world");

    const auto eve = nlohmann::json::parse(ab.eve)["http"];
    EXPECT_EQ(eve["hostname"], "www.example.com");
    EXPECT_EQ(eve["http_port"], 8080);
    EXPECT_EQ(eve["url"], "/a/./b/../c%2Fd%41?q=%41");
    EXPECT_EQ(eve["http_user_agent"], "curl/8.0");
    EXPECT_EQ(eve["http_content_type"], "text/html");
    EXPECT_EQ(eve["http_refer"], "http://ref.example/");
    EXPECT_EQ(eve["http_method"], "GET");
    EXPECT_EQ(eve["protocol"], "HTTP/1.1");
    EXPECT_EQ(eve["status"], 302);
    EXPECT_EQ(eve["redirect"], "/elsewhere");
    EXPECT_EQ(eve["length"], 11);
    EXPECT_EQ(r.count(HttpCounter::requests), 1u);
    EXPECT_EQ(r.count(HttpCounter::responses), 1u);
    EXPECT_EQ(r.parser.state(), ParserState::active);
}

// A conversation with pipelining, chunked, gzip, keep-alive and an until-close
// body: every split of every segment must give the same transactions.
std::vector<Segment> rich_conversation() {
    const std::string body(300, 'z');
    const std::string gz = compress("compressed body " + body, 31);
    return {
        {S, "\r\nPOST /upload HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: chunked\r\n\r\n" +
                chunked("request-body-" + body, 37) +
                "GET /two HTTP/1.1\r\nHost: b.example\r\nX-Folded: one\r\n two\r\nX-Dup: 1\r\nX-Dup: 2\r\n\r\n"},
        {C, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: " +
                std::to_string(gz.size()) + "\r\n\r\n" + gz},
        {C, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(body, 7)},
        {S, "GET /three HTTP/1.0\r\nHost: c.example\r\n\r\n"},
        {C, "HTTP/1.0 200 OK\r\n\r\nuntil close"},
    };
}

std::vector<TxCopy> run_conversation(const std::vector<Segment>& segs, size_t split_seg, size_t split_at,
                                     size_t chunk = 0) {
    HttpRun r;
    for (size_t i = 0; i < segs.size(); ++i) {
        const std::string& d = segs[i].data;
        if (i == split_seg && split_at <= d.size()) {
            r.feed(segs[i].dir, std::string_view(d).substr(0, split_at));
            r.feed(segs[i].dir, std::string_view(d).substr(split_at));
        } else {
            r.feed(segs[i].dir, d, chunk);
        }
    }
    r.parser.on_end();
    EXPECT_EQ(r.ctx.counters.http.get(HttpCounter::flows_failed), 0u);
    return r.sink.txs;
}

TEST(HttpParser, EverySplitPointGivesIdenticalTransactions) {
    const auto segs = rich_conversation();
    const auto whole = run_conversation(segs, SIZE_MAX, 0);
    // 3 requests and 3 final responses, two stages each.
    ASSERT_EQ(whole.size(), 12u);
    for (size_t s = 0; s < segs.size(); ++s) {
        for (size_t k = 0; k <= segs[s].data.size(); ++k) {
            const auto split = run_conversation(segs, s, k);
            ASSERT_EQ(split, whole) << "segment " << s << " split at " << k;
        }
    }
    ASSERT_EQ(run_conversation(segs, SIZE_MAX, 0, 1), whole) << "one byte at a time";
}

TEST(HttpParser, RichConversationContent) {
    const auto txs = run_conversation(rich_conversation(), SIZE_MAX, 0);
    ASSERT_EQ(txs.size(), 12u);
    // Requests arrive first (pipelined): POST headers, POST body, GET /two headers+body.
    EXPECT_EQ(txs[0].get(AppBuffer::http_method), "POST");
    EXPECT_EQ(txs[1].stage, AppTxStage::body);
    EXPECT_EQ(txs[1].get(AppBuffer::http_request_body), "request-body-" + std::string(300, 'z'));
    EXPECT_EQ(txs[1].get(AppBuffer::file_data), txs[1].get(AppBuffer::http_request_body));
    EXPECT_EQ(txs[2].tx_id, 1u);
    EXPECT_EQ(txs[2].get(AppBuffer::http_uri), "/two");
    EXPECT_EQ(txs[2].get(AppBuffer::http_header),
              "Host: b.example\r\nX-Folded: one two\r\nX-Dup: 1, 2\r\n");
    EXPECT_EQ(txs[2].get(AppBuffer::http_header_names), "\r\nHost\r\nX-Folded\r\nX-Dup\r\n\r\n");
    // Response 0 (after the 100 Continue) is matched with the POST and inflated.
    EXPECT_EQ(txs[4].dir, C);
    EXPECT_EQ(txs[4].tx_id, 0u);
    EXPECT_EQ(txs[4].get(AppBuffer::http_method), "POST");
    EXPECT_EQ(txs[4].get(AppBuffer::http_stat_code), "200");
    EXPECT_EQ(txs[5].get(AppBuffer::http_response_body), "compressed body " + std::string(300, 'z'));
    // Response 1 goes with GET /two, dechunked.
    EXPECT_EQ(txs[6].tx_id, 1u);
    EXPECT_EQ(txs[6].get(AppBuffer::http_uri), "/two");
    EXPECT_EQ(txs[7].get(AppBuffer::file_data), std::string(300, 'z'));
    // The HTTP/1.0 response without length ends with the connection.
    EXPECT_EQ(txs[8].get(AppBuffer::http_uri), "/three");
    EXPECT_EQ(txs[10].tx_id, 2u);
    EXPECT_EQ(txs[11].get(AppBuffer::http_response_body), "until close");
    EXPECT_EQ(nlohmann::json::parse(txs[11].eve)["http"]["length"], 11);
}

TEST(HttpParser, PipelinedRequestsPairWithTheirResponsesInOrder) {
    HttpRun r;
    std::string reqs, resps;
    for (int i = 0; i < 5; ++i) {
        reqs += num("GET /r", i) + num(" HTTP/1.1\r\nHost: h", i) + "\r\n\r\n";
        resps += num("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nr", i);
    }
    r.feed(S, reqs);
    r.feed(C, resps);
    const auto answers = r.sink.only(C, AppTxStage::body);
    ASSERT_EQ(answers.size(), 5u);
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(answers[i].tx_id, static_cast<uint64_t>(i));
        EXPECT_EQ(answers[i].get(AppBuffer::http_uri), num("/r", i));
        EXPECT_EQ(answers[i].get(AppBuffer::http_host), num("h", i));
        EXPECT_EQ(answers[i].get(AppBuffer::http_response_body), num("r", i));
    }
}

TEST(HttpParser, PendingRequestOverflowIsCountedAndResponsesStillParse) {
    AppLayerConfig cfg;
    cfg.http_max_pending_requests = 2;
    HttpRun r(cfg);
    std::string reqs, resps;
    for (int i = 0; i < 4; ++i) {
        reqs += num("GET /r", i) + " HTTP/1.1\r\n\r\n";
        resps += "HTTP/1.1 204 No Content\r\n\r\n";
    }
    r.feed(S, reqs);
    r.feed(C, resps);
    EXPECT_EQ(r.count(HttpCounter::pending_requests_overflow), 2u);
    const auto answers = r.sink.only(C, AppTxStage::headers);
    ASSERT_EQ(answers.size(), 4u);
    EXPECT_EQ(answers[1].get(AppBuffer::http_uri), "/r1");
    EXPECT_FALSE(answers[2].has(AppBuffer::http_uri));  // its request record was not kept
    EXPECT_EQ(answers[3].tx_id, 3u);
}

TEST(HttpParser, HeadersStageDoesNotWaitForALargeBody) {
    HttpRun r;
    r.feed(S, "POST /big HTTP/1.1\r\nContent-Length: 1000000\r\n\r\n" + std::string(1000, 'x'));
    ASSERT_EQ(r.sink.txs.size(), 1u);
    EXPECT_EQ(r.sink.txs[0].stage, AppTxStage::headers);
    EXPECT_EQ(r.sink.txs[0].get(AppBuffer::http_uri), "/big");
}

TEST(HttpParser, BodyStageAtTheInspectionLimitThenParsingGoesOn) {
    AppLayerConfig cfg;
    cfg.http_request_body_limit = 100;
    HttpRun r(cfg);
    r.feed(S, "POST /a HTTP/1.1\r\nContent-Length: 250\r\n\r\n" + std::string(250, 'b') +
                  "GET /next HTTP/1.1\r\n\r\n");
    const auto bodies = r.sink.only(S, AppTxStage::body);
    ASSERT_EQ(bodies.size(), 2u);
    EXPECT_EQ(bodies[0].get(AppBuffer::http_request_body), std::string(100, 'b'));
    EXPECT_EQ(bodies[1].get(AppBuffer::http_uri), "/next");
    EXPECT_EQ(r.count(HttpCounter::request_body_limited), 1u);
}

TEST(HttpParser, ChunkedBodyWithLyingSizes) {
    {  // larger than what follows: the body is incomplete at the end of the flow
        HttpRun r;
        r.feed(S, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n100\r\nshort\r\n0\r\n\r\n");
        r.parser.on_end();
        EXPECT_EQ(r.count(HttpCounter::body_incomplete_at_end), 1u);
        const auto b = r.sink.only(S, AppTxStage::body);
        ASSERT_EQ(b.size(), 1u);
        EXPECT_EQ(b[0].get(AppBuffer::http_request_body), "short\r\n0\r\n\r\n");
    }
    {  // smaller than the data: the bytes after it are not CRLF
        HttpRun r;
        r.feed(S, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nlonger\r\n0\r\n\r\n");
        EXPECT_EQ(r.count(HttpCounter::chunk_framing_invalid), 1u);
        EXPECT_EQ(r.parser.state(), ParserState::failed);
    }
    for (const char* bad : {"zz\r\n", "-5\r\n", "ffffffffffffffffff\r\n", "5 x\r\n", "\r\n"}) {
        HttpRun r;
        r.feed(S, std::string("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n") + bad + "hello\r\n0\r\n\r\n");
        EXPECT_EQ(r.count(HttpCounter::chunk_size_invalid), 1u) << bad;
        EXPECT_EQ(r.parser.state(), ParserState::failed) << bad;
        EXPECT_EQ(r.count(HttpCounter::flows_failed), 1u);
    }
    {  // extensions and trailers are fine
        HttpRun r;
        r.feed(S, "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5;name=val\r\nhello\r\n0\r\nX-T: 1\r\n\r\n"
                  "GET /after HTTP/1.1\r\n\r\n");
        const auto b = r.sink.only(S, AppTxStage::body);
        ASSERT_EQ(b.size(), 2u);
        EXPECT_EQ(b[0].get(AppBuffer::http_request_body), "hello");
        EXPECT_EQ(b[1].get(AppBuffer::http_uri), "/after");
    }
}

TEST(HttpParser, LyingContentLength) {
    for (const char* v : {"abc", "-1", "1 2", "99999999999999999999", ""}) {
        HttpRun r;
        r.feed(S, std::string("POST / HTTP/1.1\r\nContent-Length: ") + v + "\r\n\r\nbody");
        EXPECT_EQ(r.count(HttpCounter::content_length_invalid), 1u) << v;
        EXPECT_EQ(r.parser.state(), ParserState::failed);
        EXPECT_TRUE(r.sink.txs.empty());
    }
    {
        HttpRun r;
        r.feed(S, "POST / HTTP/1.1\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nbody");
        EXPECT_EQ(r.count(HttpCounter::content_length_conflict), 1u);
    }
    {  // equal duplicates are accepted
        HttpRun r;
        r.feed(S, "POST / HTTP/1.1\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\nbody");
        EXPECT_EQ(r.sink.only(S, AppTxStage::body).at(0).get(AppBuffer::http_request_body), "body");
    }
    {  // shorter than the body: the rest is taken as the next request, which is garbage
        HttpRun r;
        r.feed(S, "POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nbo\x01\x02\x03");
        EXPECT_EQ(r.count(HttpCounter::request_line_invalid), 1u);
        EXPECT_EQ(r.parser.state(), ParserState::failed);
    }
}

TEST(HttpParser, HeaderCaps) {
    AppLayerConfig cfg;
    cfg.http_max_header_line = 300;
    cfg.http_max_header_bytes = 2048;
    cfg.http_max_headers = 10;
    {
        HttpRun r(cfg);
        r.feed(S, "GET / HTTP/1.1\r\nX: " + std::string(400, 'a') + "\r\n\r\n", 7);
        EXPECT_EQ(r.count(HttpCounter::header_line_too_long), 1u);
        EXPECT_EQ(r.parser.state(), ParserState::failed);
    }
    {  // a line without any newline at all hits the same cap
        HttpRun r(cfg);
        r.feed(S, "GET /" + std::string(5000, 'a'));
        EXPECT_EQ(r.count(HttpCounter::header_line_too_long), 1u);
    }
    {
        HttpRun r(cfg);
        std::string h = "GET / HTTP/1.1\r\n";
        for (int i = 0; i < 11; ++i) h += num("X", i) + ": v\r\n";
        r.feed(S, h + "\r\n");
        EXPECT_EQ(r.count(HttpCounter::too_many_headers), 1u);
    }
    {
        HttpRun r(cfg);
        std::string h = "GET / HTTP/1.1\r\n";
        for (int i = 0; i < 9; ++i) h += num("X", i) + ": " + std::string(250, 'v') + "\r\n";
        r.feed(S, h + "\r\n");
        EXPECT_EQ(r.count(HttpCounter::header_block_too_long), 1u);
        EXPECT_TRUE(r.sink.txs.empty());
    }
    {  // exactly at the caps is fine
        HttpRun r(cfg);
        std::string h = "GET / HTTP/1.1\r\n";
        for (int i = 0; i < 10; ++i) h += num("X", i) + ": v\r\n";
        r.feed(S, h + "\r\n");
        EXPECT_EQ(r.parser.state(), ParserState::active);
        EXPECT_EQ(r.sink.txs.size(), 2u);
    }
}

TEST(HttpParser, MalformedHeaderLinesAreSkippedAndCounted) {
    HttpRun r;
    r.feed(S, "GET / HTTP/1.1\r\nno colon here\r\nBad Name: x\r\n: empty\r\nGood: yes\r\n\r\n");
    EXPECT_EQ(r.count(HttpCounter::header_invalid), 3u);
    ASSERT_EQ(r.sink.txs.size(), 2u);
    EXPECT_EQ(r.sink.txs[0].get(AppBuffer::http_header), "Good: yes\r\n");
}

TEST(HttpParser, BinaryGarbageFailsTheFlowAtOnce) {
    HttpRun r;
    r.feed(S, std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11));
    EXPECT_EQ(r.parser.state(), ParserState::failed);
    EXPECT_EQ(r.count(HttpCounter::request_line_invalid), 1u);
    r.feed(S, "GET / HTTP/1.1\r\n\r\n");  // ignored after failing
    EXPECT_TRUE(r.sink.txs.empty());
    HttpRun c;
    c.feed(C, "SSH-2.0-OpenSSH\r\n");
    EXPECT_EQ(c.count(HttpCounter::response_line_invalid), 1u);
}

TEST(HttpParser, CompressedBodiesAreInflatedWithinTheLimit) {
    const std::string text = "The quick brown fox jumps over the lazy dog. ";
    std::string plain;
    for (int i = 0; i < 50; ++i) plain += text;
    for (int bits : {31, 15, -15}) {  // gzip, zlib-wrapped deflate, raw deflate
        const std::string z = compress(plain, bits);
        const char* coding = bits == 31 ? "gzip" : "deflate";
        for (size_t chunk : {size_t{0}, size_t{1}, size_t{13}}) {
            HttpRun r;
            r.feed(S, "GET / HTTP/1.1\r\n\r\n");
            r.feed(C, std::string("HTTP/1.1 200 OK\r\nContent-Encoding: ") + coding + "\r\nContent-Length: " +
                          std::to_string(z.size()) + "\r\n\r\n" + z, chunk);
            const auto b = r.sink.only(C, AppTxStage::body);
            ASSERT_EQ(b.size(), 1u);
            EXPECT_EQ(b[0].get(AppBuffer::http_response_body), plain) << bits << " chunk " << chunk;
            EXPECT_EQ(nlohmann::json::parse(b[0].eve)["http"]["length"], z.size());
        }
    }
}

TEST(HttpParser, DecompressionBombStopsAtTheLimit) {
    AppLayerConfig cfg;
    cfg.http_response_body_limit = 64 * 1024;
    HttpRun r(cfg);
    const std::string z = compress(std::string(20u << 20, '\0'), 31);  // 20 MiB of zeros, ~20 KiB
    r.feed(S, "GET / HTTP/1.1\r\n\r\n");
    r.feed(C, "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: " + std::to_string(z.size()) +
                  "\r\n\r\n" + z + "HTTP/1.1 204 No Content\r\n\r\n");
    const auto b = r.sink.only(C, AppTxStage::body);
    ASSERT_EQ(b.size(), 2u);
    EXPECT_EQ(b[0].get(AppBuffer::http_response_body).size(), 64u * 1024);
    EXPECT_EQ(r.count(HttpCounter::response_body_limited), 1u);
    EXPECT_LE(r.parser.memory_bytes(), 2u * 64 * 1024 + 4096 + 2 * 48 * 1024 + 64 * 1024);
}

TEST(HttpParser, CorruptCompressedBodyKeepsWhatInflatedAndCounts) {
    const std::string z = compress(std::string(5000, 'k'), 31);
    std::string bad = z.substr(0, z.size() / 2) + std::string(200, '\xff');
    HttpRun r;
    r.feed(S, "GET / HTTP/1.1\r\n\r\n");
    r.feed(C, "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: " + std::to_string(bad.size()) +
                  "\r\n\r\n" + bad + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    EXPECT_EQ(r.count(HttpCounter::decompress_error), 1u);
    const auto b = r.sink.only(C, AppTxStage::body);
    ASSERT_EQ(b.size(), 2u);
    EXPECT_LE(b[0].get(AppBuffer::http_response_body).size(), 5000u);
    EXPECT_EQ(b[1].get(AppBuffer::http_response_body), "ok");
    EXPECT_EQ(r.parser.state(), ParserState::active);
}

TEST(HttpParser, ResponsesWithoutBodies) {
    HttpRun r;
    r.feed(S, "HEAD /h HTTP/1.1\r\n\r\nGET /n HTTP/1.1\r\n\r\nGET /m HTTP/1.1\r\n\r\n");
    r.feed(C, "HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n"  // HEAD: no body despite the length
              "HTTP/1.1 304 Not Modified\r\n\r\n"
              "HTTP/1.1 204 No Content\r\n\r\n");
    const auto b = r.sink.only(C, AppTxStage::body);
    ASSERT_EQ(b.size(), 3u);
    EXPECT_EQ(b[0].get(AppBuffer::http_method), "HEAD");
    EXPECT_EQ(b[1].get(AppBuffer::http_stat_code), "304");
    EXPECT_EQ(b[2].get(AppBuffer::http_uri), "/m");
    for (const auto& t : b) EXPECT_FALSE(t.has(AppBuffer::http_response_body));
}

TEST(HttpParser, ConnectAndUpgradeStopParsing) {
    HttpRun r;
    r.feed(S, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
    r.feed(C, "HTTP/1.1 200 Connection established\r\n\r\n");
    r.feed(S, std::string("\x16\x03\x01\x00\x05hello", 10));
    EXPECT_EQ(r.parser.state(), ParserState::done);
    EXPECT_EQ(r.count(HttpCounter::tunnel), 1u);
    EXPECT_EQ(r.count(HttpCounter::flows_failed), 0u);
    EXPECT_EQ(r.sink.txs.front().get(AppBuffer::http_uri), "example.com:443");
    HttpRun u;
    u.feed(S, "GET /chat HTTP/1.1\r\nUpgrade: websocket\r\n\r\n");
    u.feed(C, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello");
    EXPECT_EQ(u.parser.state(), ParserState::done);
}

TEST(HttpParser, AbsoluteFormTargetGivesUriAndHost) {
    HttpRun r;
    r.feed(S, "GET http://User@Proxy.Example:3128/p/../q?x HTTP/1.1\r\nHost: ignored.example\r\n\r\n");
    ASSERT_FALSE(r.sink.txs.empty());
    EXPECT_EQ(r.sink.txs[0].get(AppBuffer::http_uri), "/q?x");
    EXPECT_EQ(r.sink.txs[0].get(AppBuffer::http_host), "proxy.example");
    EXPECT_EQ(r.sink.txs[0].get(AppBuffer::http_raw_host), "User@Proxy.Example:3128");
}

TEST(HttpParser, GapsInBodiesAreSkippedGapsInHeadersFail) {
    {
        HttpRun r;
        r.feed(S, "POST /g HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
        r.parser.on_gap(S, 100, 4);
        r.feed(S, "xyzGET /after HTTP/1.1\r\n\r\n");
        EXPECT_EQ(r.count(HttpCounter::gap_in_body), 1u);
        const auto b = r.sink.only(S, AppTxStage::body);
        ASSERT_EQ(b.size(), 2u);
        EXPECT_EQ(b[0].get(AppBuffer::http_request_body), "abc");  // inspection ends at the gap
        EXPECT_EQ(b[1].get(AppBuffer::http_uri), "/after");
    }
    {  // a gap larger than the rest of the body loses the framing
        HttpRun r;
        r.feed(S, "POST /g HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
        r.parser.on_gap(S, 100, 400);
        EXPECT_EQ(r.count(HttpCounter::gap_lost_framing), 1u);
        EXPECT_EQ(r.parser.state(), ParserState::failed);
    }
    {
        HttpRun r;
        r.feed(S, "GET / HTTP/1.1\r\nHo");
        r.parser.on_gap(S, 100, 4);
        EXPECT_EQ(r.count(HttpCounter::gap_in_headers), 1u);
        EXPECT_EQ(r.parser.state(), ParserState::failed);
    }
    {  // a gap in a response until close
        HttpRun r;
        r.feed(S, "GET / HTTP/1.0\r\n\r\n");
        r.feed(C, "HTTP/1.0 200 OK\r\n\r\nfirst");
        r.parser.on_gap(C, 100, 50);
        r.feed(C, "second");
        r.parser.on_end();
        const auto b = r.sink.only(C, AppTxStage::body);
        ASSERT_EQ(b.size(), 1u);
        EXPECT_EQ(b[0].get(AppBuffer::http_response_body), "first");
        EXPECT_EQ(nlohmann::json::parse(b[0].eve)["http"]["length"], 5u + 50u);
    }
}

TEST(HttpParser, NonNumericStatusAndMissingProtocol) {
    HttpRun r;
    r.feed(S, "GET /x\r\nUser-Agent: myscript\r\n\r\n");
    r.feed(C, "HTTP/1.1 2XX OK\r\nContent-Length: 0\r\n\r\n");
    ASSERT_EQ(r.sink.txs.size(), 4u);
    EXPECT_FALSE(r.sink.txs[0].has(AppBuffer::http_protocol));
    EXPECT_EQ(r.sink.txs[0].get(AppBuffer::http_user_agent), "myscript");
    const auto eve = nlohmann::json::parse(r.sink.txs[3].eve)["http"];
    EXPECT_EQ(eve["status_string"], "2XX");
    EXPECT_FALSE(eve.contains("status"));
}

TEST(HttpParser, Http09ResponseIsABodyUntilClose) {
    HttpRun r;
    r.feed(S, "GET /\r\nUser-Agent: old\r\n\r\n");
    r.feed(C, "<html>raw</html>");
    r.parser.on_end();
    EXPECT_EQ(r.count(HttpCounter::http09_responses), 1u);
    const auto b = r.sink.only(C, AppTxStage::body);
    ASSERT_EQ(b.size(), 1u);
    EXPECT_EQ(b[0].get(AppBuffer::http_response_body), "<html>raw</html>");
    EXPECT_FALSE(b[0].has(AppBuffer::http_stat_code));
    EXPECT_EQ(b[0].get(AppBuffer::http_user_agent), "old");
    // After an HTTP/1.1 request the same bytes are not a response.
    HttpRun v;
    v.feed(S, "GET / HTTP/1.1\r\n\r\n");
    v.feed(C, "<html>raw</html>");
    EXPECT_EQ(v.count(HttpCounter::response_line_invalid), 1u);
}

TEST(HttpParser, HeaderBlockCutByTheEndIsStillInspected) {
    HttpRun r;
    r.feed(S, "GET /index.html HTTP/1.0\r\nHost: example.org\r\nUser-Ag");
    EXPECT_TRUE(r.sink.txs.empty());
    r.parser.on_end();
    EXPECT_EQ(r.count(HttpCounter::headers_incomplete_at_end), 1u);
    ASSERT_EQ(r.sink.txs.size(), 2u);
    EXPECT_EQ(r.sink.txs[0].get(AppBuffer::http_request_line), "GET /index.html HTTP/1.0");
    EXPECT_EQ(r.sink.txs[0].get(AppBuffer::http_host), "example.org");
    EXPECT_FALSE(r.sink.txs[0].has(AppBuffer::http_user_agent));  // the cut line is left out
    EXPECT_EQ(r.parser.state(), ParserState::done);
    HttpRun none;  // not even a start line: nothing
    none.feed(S, "GET /ind");
    none.parser.on_end();
    EXPECT_TRUE(none.sink.txs.empty());
}

TEST(HttpParser, MemoryStaysBoundedOnALongKeepAliveFlow) {
    HttpRun r;
    const std::string req = "POST /p HTTP/1.1\r\nContent-Length: 5000\r\n\r\n" + std::string(5000, 'p');
    const std::string resp = "HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n" + std::string(3000, 'r');
    r.feed(S, req);
    r.feed(C, resp);
    const size_t after_one = r.parser.memory_bytes();
    for (int i = 0; i < 200; ++i) {
        r.feed(S, req);
        r.feed(C, resp);
    }
    EXPECT_EQ(r.parser.memory_bytes(), after_one);  // buffers are reused, not grown
    EXPECT_EQ(r.parser.requests(), 201u);
    EXPECT_EQ(r.parser.responses(), 201u);
    // Requests without responses: the pending records stop at their cap.
    for (int i = 0; i < 200; ++i) r.feed(S, req);
    EXPECT_LE(r.parser.memory_bytes(), after_one + 16 * 1100);
}

}  // namespace
}  // namespace sluice
