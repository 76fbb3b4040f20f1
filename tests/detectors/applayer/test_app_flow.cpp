// probe_app_proto, AppLayerFlow dispatch and the app-layer config schema.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "detectors/applayer/app_detect.hpp"
#include "detectors/applayer/app_flow.hpp"
#include "tests/detectors/applayer/applayer_test_support.hpp"

namespace sluice {
namespace {

using test::bytes_of;
using test::RecordingSink;
constexpr auto S = Direction::to_server;
constexpr auto C = Direction::to_client;

std::vector<uint8_t> hex(std::string_view h) {
    std::vector<uint8_t> out;
    for (size_t i = 0; i + 1 < h.size(); i += 2) out.push_back(static_cast<uint8_t>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16)));
    return out;
}

// A DNS query for example.com A.
const std::vector<uint8_t> kDnsQuery = hex("abcd01000001000000000000076578616d706c6503636f6d0000010001");

TEST(AppDetect, Http) {
    EXPECT_EQ(looks_like_http(bytes_of("GET / HTTP/1.1\r\n"), S), ProbeVerdict::yes);
    EXPECT_EQ(looks_like_http(bytes_of("PROPFIND /x"), S), ProbeVerdict::yes);
    EXPECT_EQ(looks_like_http(bytes_of("PO"), S), ProbeVerdict::need_more);
    EXPECT_EQ(looks_like_http(bytes_of("POSTX"), S), ProbeVerdict::no);
    EXPECT_EQ(looks_like_http(bytes_of("get / "), S), ProbeVerdict::no);
    EXPECT_EQ(looks_like_http(bytes_of("HTTP/1.1 200 OK"), C), ProbeVerdict::yes);
    EXPECT_EQ(looks_like_http(bytes_of("HTTP/"), C), ProbeVerdict::need_more);
    EXPECT_EQ(looks_like_http(bytes_of("SSH-2.0"), C), ProbeVerdict::no);
}

TEST(AppDetect, Tls) {
    EXPECT_EQ(looks_like_tls(hex("160301020001"), S), ProbeVerdict::yes);
    EXPECT_EQ(looks_like_tls(hex("160303005a02"), C), ProbeVerdict::yes);
    EXPECT_EQ(looks_like_tls(hex("160301020002"), S), ProbeVerdict::no);  // a ServerHello from the client
    EXPECT_EQ(looks_like_tls(hex("1603"), S), ProbeVerdict::need_more);
    EXPECT_EQ(looks_like_tls(hex("160305"), S), ProbeVerdict::no);
    EXPECT_EQ(looks_like_tls(hex("1603015000"), S), ProbeVerdict::no);  // 20480 bytes: too long
    EXPECT_EQ(looks_like_tls(bytes_of("GET /"), S), ProbeVerdict::no);
}

TEST(AppDetect, Dns) {
    EXPECT_EQ(looks_like_dns(kDnsQuery, false), ProbeVerdict::yes);
    EXPECT_EQ(looks_like_dns(std::span(kDnsQuery).first(20), false), ProbeVerdict::need_more);
    std::vector<uint8_t> tcp{0, static_cast<uint8_t>(kDnsQuery.size())};
    tcp.insert(tcp.end(), kDnsQuery.begin(), kDnsQuery.end());
    EXPECT_EQ(looks_like_dns(tcp, true), ProbeVerdict::yes);
    auto bad = kDnsQuery;
    bad[2] = 0x18;  // opcode 3 (reserved)
    EXPECT_EQ(looks_like_dns(bad, false), ProbeVerdict::no);
    bad = kDnsQuery;
    bad[5] = 0;  // no question
    EXPECT_EQ(looks_like_dns(bad, false), ProbeVerdict::no);
    bad = kDnsQuery;
    bad[12] = 0xc0;  // a pointer as the first label
    EXPECT_EQ(looks_like_dns(bad, false), ProbeVerdict::no);
    EXPECT_EQ(looks_like_dns(bytes_of("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), false), ProbeVerdict::no);
}

TEST(AppDetect, ProbeChoosesOrWaits) {
    EXPECT_EQ(probe_app_proto(bytes_of("GET /"), 6, S).proto, AppProto::http);
    EXPECT_EQ(probe_app_proto(hex("160301020001"), 6, S).proto, AppProto::tls);
    EXPECT_EQ(probe_app_proto(kDnsQuery, 17, S).proto, AppProto::dns);
    const AppProbe wait = probe_app_proto(bytes_of("G"), 6, S);
    EXPECT_EQ(wait.proto, AppProto::unknown);
    EXPECT_TRUE(wait.need_more);
    const AppProbe none = probe_app_proto(bytes_of("SSH-2.0-OpenSSH_9"), 6, S);
    EXPECT_EQ(none.proto, AppProto::unknown);
    EXPECT_FALSE(none.need_more);
    EXPECT_EQ(probe_app_proto(bytes_of("GET /"), 1, S).proto, AppProto::unknown);
}

TEST(AppDetect, RandomBytesNeverCrashAndRarelyMatch) {
    uint64_t x = 0x9e3779b97f4a7c15ull;
    size_t yes = 0;
    std::vector<uint8_t> buf(64);
    for (int i = 0; i < 20000; ++i) {
        for (auto& b : buf) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b = static_cast<uint8_t>(x);
        }
        const size_t n = x % buf.size();
        for (uint8_t ip : {uint8_t{6}, uint8_t{17}})
            if (probe_app_proto(std::span(buf).first(n), ip, S).proto != AppProto::unknown) ++yes;
    }
    EXPECT_LT(yes, 40u);
}

struct FlowRun {
    explicit FlowRun(uint8_t ip_proto) : ctx(cfg), flow(ctx, sink, ip_proto) {}
    AppLayerConfig cfg;
    AppLayerContext ctx;
    RecordingSink sink;
    AppLayerFlow flow;
};

TEST(AppLayerFlow, ProbesHttpAcrossTinyFirstChunksAndReplaysThem) {
    FlowRun f(6);
    const std::string req = "GET /probe HTTP/1.1\r\nHost: p.example\r\n\r\n";
    f.flow.on_data(S, 0, bytes_of(std::string_view(req).substr(0, 1)));
    f.flow.on_data(S, 1, bytes_of(std::string_view(req).substr(1, 2)));
    EXPECT_EQ(f.flow.protocol(), AppProto::unknown);
    f.flow.on_data(S, 3, bytes_of(std::string_view(req).substr(3)));
    EXPECT_EQ(f.flow.protocol(), AppProto::http);
    ASSERT_FALSE(f.sink.txs.empty());
    EXPECT_EQ(f.sink.txs[0].get(AppBuffer::http_uri), "/probe");
    EXPECT_EQ(f.sink.txs[0].get(AppBuffer::http_host), "p.example");
}

TEST(AppLayerFlow, ServerSpeaksFirstThenTheClientDecides) {
    FlowRun f(6);
    f.flow.on_data(C, 0, bytes_of("HTT"));  // held
    f.flow.on_data(S, 0, bytes_of("GET / HTTP/1.0\r\n\r\n"));
    EXPECT_EQ(f.flow.protocol(), AppProto::http);
    f.flow.on_data(C, 3, bytes_of("P/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"));
    const auto b = f.sink.only(C, AppTxStage::body);
    ASSERT_EQ(b.size(), 1u);
    EXPECT_EQ(b[0].get(AppBuffer::http_response_body), "ok");
}

TEST(AppLayerFlow, StartFromTheWorkersVerdict) {
    FlowRun f(6);
    EXPECT_TRUE(f.flow.start(AppProto::tls));
    EXPECT_FALSE(f.flow.start(AppProto::http));  // one parser per flow
    EXPECT_EQ(f.flow.protocol(), AppProto::tls);
    FlowRun u(17);
    EXPECT_FALSE(u.flow.start(AppProto::http));  // no HTTP over UDP here
    EXPECT_FALSE(u.flow.start(AppProto::modbus));
    EXPECT_TRUE(u.flow.start(AppProto::dns));
    u.flow.on_datagram(S, kDnsQuery);
    ASSERT_EQ(u.sink.txs.size(), 1u);
    EXPECT_EQ(u.sink.txs[0].get(AppBuffer::dns_query), "example.com");
}

TEST(AppLayerFlow, UnknownProtocolsStayIdle) {
    FlowRun f(6);
    f.flow.on_data(S, 0, bytes_of("SSH-2.0-OpenSSH_9.2\r\n"));
    EXPECT_EQ(f.flow.protocol(), AppProto::failed);
    EXPECT_EQ(f.flow.state(), ParserState::failed);
    f.flow.on_data(S, 21, bytes_of("GET / HTTP/1.1\r\n\r\n"));
    f.flow.on_end();
    EXPECT_TRUE(f.sink.txs.empty());
    EXPECT_EQ(f.flow.memory_bytes(), 0u);
    FlowRun g(6);  // a gap before any decision
    g.flow.on_gap(S, 0, 100);
    EXPECT_EQ(g.flow.protocol(), AppProto::failed);
    FlowRun u(17);
    u.flow.on_datagram(S, bytes_of("not dns at all, not at all"));
    EXPECT_EQ(u.flow.protocol(), AppProto::failed);
}

TEST(AppTxStage, EachRuleRunsOncePerHttpMessage) {
    for (bool body_rule : {false, true}) {
        EXPECT_EQ(evaluate_rule_at(AppTxStage::headers, body_rule) + evaluate_rule_at(AppTxStage::body, body_rule), 1);
        EXPECT_TRUE(evaluate_rule_at(AppTxStage::whole, body_rule));
    }
    EXPECT_TRUE(evaluate_rule_at(AppTxStage::headers, false));
    EXPECT_TRUE(evaluate_rule_at(AppTxStage::body, true));
    EXPECT_TRUE(is_body_buffer(AppBuffer::file_data));
    EXPECT_FALSE(is_body_buffer(AppBuffer::http_uri));
}

TEST(AppLayerConfig, SchemaTableDrivesSetAndGet) {
    std::set<std::string_view> names;
    for (const auto& k : applayer_config_keys()) {
        EXPECT_TRUE(names.insert(k.name).second) << k.name;
        EXPECT_FALSE(k.help.empty()) << k.name;
        EXPECT_LE(k.min, k.default_value) << k.name;
        EXPECT_LE(k.default_value, k.max) << k.name;
        AppLayerConfig c;
        uint64_t v = 0;
        ASSERT_TRUE(get_applayer_config_value(c, k.name, &v)) << k.name;
        EXPECT_EQ(v, k.default_value) << k.name;
        EXPECT_TRUE(set_applayer_config_value(c, k.name, k.max).ok()) << k.name;
        ASSERT_TRUE(get_applayer_config_value(c, k.name, &v));
        EXPECT_EQ(v, k.max);
        EXPECT_FALSE(set_applayer_config_value(c, k.name, k.max + 1).ok()) << k.name;
        if (k.min > 0) {
            EXPECT_FALSE(set_applayer_config_value(c, k.name, k.min - 1).ok()) << k.name;
        }
    }
    EXPECT_EQ(names.size(), 10u);
    AppLayerConfig c;
    const Status bad = set_applayer_config_value(c, "http.no_such_key", 1);
    EXPECT_FALSE(bad.ok());
    EXPECT_NE(bad.message().find("http.no_such_key"), std::string::npos);
    EXPECT_TRUE(set_applayer_config_value(c, "http.decompress", 0).ok());
    EXPECT_FALSE(c.http_decompress);
    EXPECT_TRUE(set_applayer_config_value(c, "http.request_body_limit", 4096).ok());
    EXPECT_EQ(c.http_request_body_limit, 4096u);
}

TEST(AppLayerConfig, ContextScratchFollowsTheConfig) {
    AppLayerConfig small;
    small.http_max_header_bytes = 1024;
    AppLayerContext ctx(small);
    const size_t before = ctx.scratch().capacity();
    AppLayerConfig big;
    big.http_max_header_bytes = 256 * 1024;
    ctx.set_config(big);
    EXPECT_GT(ctx.scratch().capacity(), before);
    EXPECT_GE(ctx.scratch().capacity(), 4u * 256 * 1024);
    EXPECT_EQ(&ctx.config(), &big);
}

TEST(AppLayerConfig, DecompressionCanBeTurnedOff) {
    AppLayerConfig cfg;
    cfg.http_decompress = false;
    AppLayerContext ctx(cfg);
    RecordingSink sink;
    HttpParser p(ctx, sink);
    p.on_data(S, 0, bytes_of("GET / HTTP/1.1\r\n\r\n"));
    const std::string resp =
        std::string("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\n") + std::string("\x1f\x8b\x08\x00", 4);
    p.on_data(C, 0, bytes_of(resp));
    const auto b = sink.only(C, AppTxStage::body);
    ASSERT_EQ(b.size(), 1u);
    EXPECT_EQ(b[0].get(AppBuffer::http_response_body), std::string("\x1f\x8b\x08\x00", 4));
}

}  // namespace
}  // namespace sluice
