// SignatureMatcher: packet, stream (splits at every position, one byte per
// chunk, gaps), transaction and record inspection, flowbits, thresholds,
// action precedence and hot reload, on rule sets compiled from rule text.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "dataplane/byte_reader.hpp"
#include "detectors/signature/signature_matcher.hpp"

namespace sluice {
namespace {

std::shared_ptr<const RuleSet> build(const std::string& text, const RuleSet* previous = nullptr, RuleSetOptions opts = {}) {
    RuleVars vars;
    vars.set_address("HOME_NET", "198.18.0.0/16");
    ClassificationTable classes;
    classes.add_text("config classification: trojan-activity,A Network Trojan was detected,1\n");
    RuleLoadOptions lo;
    lo.vars = &vars;
    lo.classes = &classes;
    LoadedRules lr = load_rules_text(text, "test.rules", lo);
    for (const auto& m : lr.report.messages) ADD_FAILURE() << m;
    auto rs = RuleSet::compile(std::move(lr), classes, opts, previous);
    EXPECT_TRUE(rs.ok()) << (rs.ok() ? "" : rs.message());
    return rs.ok() ? *rs : nullptr;
}

struct Sink : AlertSink {
    struct Hit {
        uint32_t sid;
        RuleAction action;
        InspectPoint point;
        std::string matched;
        uint64_t stream_offset;
    };
    std::vector<Hit> hits;
    void on_alert(const AlertEvent& e) override {
        std::string m;
        if (e.match_end > e.match_start)
            m.assign(reinterpret_cast<const char*>(e.buffer.data()) + e.match_start, e.match_end - e.match_start);
        hits.push_back({e.rule->sid, e.action, e.point, m, e.buffer_stream_offset + e.match_start});
    }
    size_t count(uint32_t sid) const {
        size_t n = 0;
        for (const auto& h : hits) n += h.sid == sid;
        return n;
    }
    void clear() { hits.clear(); }
};

std::unique_ptr<SignatureMatcher> matcher(std::shared_ptr<const RuleSet> rs, MatcherConfig cfg = {}) {
    auto m = SignatureMatcher::create(std::move(rs), cfg);
    EXPECT_TRUE(m.ok());
    return m.ok() ? std::move(m.value()) : nullptr;
}

IpAddr ip(const char* s) { return *IpAddr::parse(s); }

std::span<const uint8_t> bytes(const std::string& s) { return as_bytes(std::string_view(s)); }

PacketFacts udp_packet(const std::string& payload, uint16_t dport = 53) {
    PacketFacts p;
    p.src = ip("198.18.0.10");
    p.dst = ip("203.0.113.5");
    p.src_port = 40000;
    p.dst_port = dport;
    p.ip_proto = 17;
    p.flow_known = true;
    p.payload = bytes(payload);
    p.ttl = 64;
    return p;
}

FlowFacts tcp_flow(AppProto app = AppProto::unknown) {
    FlowFacts f;
    f.client = ip("198.18.0.10");
    f.server = ip("203.0.113.5");
    f.client_port = 40000;
    f.server_port = 80;
    f.ip_proto = 6;
    f.established = true;
    f.app_proto = app;
    return f;
}

// ---------------------------------------------------------------------------
// packets

TEST(PacketInspection, ContentPortsAndDsize) {
    auto rs = build(R"(
alert udp $HOME_NET any -> any 53 (msg:"udp content"; content:"evil"; nocase; sid:1;)
alert udp any any -> any 53 (msg:"dsize"; dsize:>100; sid:2;)
alert udp any any -> any 5353 (msg:"other port"; content:"evil"; sid:3;)
alert udp any any -> any any (msg:"negated"; content:"evil"; nocase; content:!"good"; sid:4;)
)");
    auto m = matcher(rs);
    Sink sink;
    std::string payload = "xxEViLxx";
    auto p = udp_packet(payload);
    EXPECT_EQ(m->inspect_packet(p, nullptr, sink), SigVerdict::alert);
    EXPECT_EQ(sink.count(1), 1u);
    EXPECT_EQ(sink.count(2), 0u);
    EXPECT_EQ(sink.count(3), 0u);
    EXPECT_EQ(sink.count(4), 1u);
    ASSERT_FALSE(sink.hits.empty());
    EXPECT_EQ(sink.hits[0].matched, "EViL");
    sink.clear();
    std::string good = "evil but good";
    auto p2 = udp_packet(good);
    m->inspect_packet(p2, nullptr, sink);
    EXPECT_EQ(sink.count(4), 0u);
    EXPECT_EQ(sink.count(1), 1u);
    sink.clear();
    std::string big(150, 'a');
    auto p3 = udp_packet(big);
    m->inspect_packet(p3, nullptr, sink);
    EXPECT_EQ(sink.count(2), 1u);
    EXPECT_EQ(sink.count(1), 0u);
    // source outside $HOME_NET
    sink.clear();
    auto p4 = udp_packet(payload);
    p4.src = ip("192.0.2.1");
    m->inspect_packet(p4, nullptr, sink);
    EXPECT_EQ(sink.count(1), 0u);
    EXPECT_EQ(sink.count(4), 1u);
}

TEST(PacketInspection, TcpHeaderIcmpAndBidirectional) {
    auto rs = build(R"(
alert tcp any any -> any 80 (msg:"syn"; flags:S,12; sid:10;)
alert icmp any any -> any any (msg:"echo"; itype:8; icode:0; sid:11;)
alert tcp 203.0.113.5 80 <> 198.18.0.10 any (msg:"bidir"; ttl:<10; sid:12;)
alert ip any any -> any any (msg:"proto"; ip_proto:47; sid:13;)
alert tcp any any -> any any (msg:"window"; window:512; flow:stateless; sid:14;)
)");
    auto m = matcher(rs);
    Sink sink;
    PacketFacts syn;
    syn.src = ip("198.18.0.10");
    syn.dst = ip("203.0.113.5");
    syn.src_port = 40000;
    syn.dst_port = 80;
    syn.ip_proto = 6;
    syn.tcp_flags = 0x02 | 0x40;  // SYN+ECE (ECE ignored by the mask)
    syn.ttl = 5;
    syn.window = 512;
    m->inspect_packet(syn, nullptr, sink);
    EXPECT_EQ(sink.count(10), 1u);
    EXPECT_EQ(sink.count(12), 1u);  // matched in the reverse orientation
    EXPECT_EQ(sink.count(14), 1u);
    sink.clear();
    syn.tcp_flags = 0x12;
    m->inspect_packet(syn, nullptr, sink);
    EXPECT_EQ(sink.count(10), 0u);
    PacketFacts echo;
    echo.ip_proto = 1;
    echo.icmp_type = 8;
    m->inspect_packet(echo, nullptr, sink);
    EXPECT_EQ(sink.count(11), 1u);
    echo.icmp_type = 0;
    sink.clear();
    m->inspect_packet(echo, nullptr, sink);
    EXPECT_EQ(sink.count(11), 0u);
    PacketFacts gre;
    gre.ip_proto = 47;
    m->inspect_packet(gre, nullptr, sink);
    EXPECT_EQ(sink.count(13), 1u);
}

TEST(PacketInspection, IpOnlyRulesRunOncePerDirectionOfAFlow) {
    auto rs = build(R"(
alert ip [203.0.113.0/24,192.0.2.7] any -> $HOME_NET any (msg:"listed source"; sid:20;)
alert ip $HOME_NET any -> [203.0.113.5] any (msg:"listed destination"; sid:21;)
)");
    EXPECT_EQ(rs->stats().ip_only_rules, 2u);
    auto m = matcher(rs);
    Sink sink;
    SigFlowState st;
    std::string pl = "hello";
    auto out = udp_packet(pl);
    m->inspect_packet(out, &st, sink);
    m->inspect_packet(out, &st, sink);
    EXPECT_EQ(sink.count(21), 1u);
    EXPECT_EQ(sink.count(20), 0u);
    PacketFacts back = out;
    std::swap(back.src, back.dst);
    back.dir = Direction::to_client;
    m->inspect_packet(back, &st, sink);
    m->inspect_packet(back, &st, sink);
    EXPECT_EQ(sink.count(20), 1u);
    // without flow state, every packet is inspected
    m->inspect_packet(out, nullptr, sink);
    m->inspect_packet(out, nullptr, sink);
    EXPECT_EQ(sink.count(21), 3u);
    PacketFacts other = out;
    other.dst = ip("203.0.113.6");
    sink.clear();
    m->inspect_packet(other, nullptr, sink);
    EXPECT_EQ(sink.count(21), 0u);
}

TEST(PacketInspection, ByteKeywordsAndPcre) {
    auto rs = build(R"(
alert udp any any -> any any (msg:"byte_test"; content:"|ff|"; byte_test:2,>,0x1000,0,relative; sid:30;)
alert udp any any -> any any (msg:"byte_jump"; content:"L"; byte_jump:1,0,relative; content:"END"; within:3; sid:31;)
alert udp any any -> any any (msg:"byte_extract"; byte_extract:1,0,n; content:"Z"; offset:n; depth:1; sid:32;)
alert udp any any -> any any (msg:"pcre hs"; content:"user="; pcre:"/user=[a-z]{3,}\d/"; sid:33;)
alert udp any any -> any any (msg:"pcre backref"; content:"tag"; pcre:"/<(tag)>.*<\/\1>/"; sid:34;)
alert udp any any -> any any (msg:"pcre relative"; content:"key:"; pcre:"/^\s*\d+/R"; sid:35;)
alert udp any any -> any any (msg:"string"; content:"len="; byte_test:3,=,123,0,relative,string,dec; sid:36;)
alert udp any any -> any any (msg:"isdataat"; content:"tail"; isdataat:!1,relative; sid:37;)
)");
    EXPECT_GE(rs->stats().pcre_hyperscan, 1u);
    EXPECT_GE(rs->stats().pcre_pcre2, 1u);
    auto m = matcher(rs);
    Sink sink;
    auto run = [&](const std::string& payload) {
        sink.clear();
        auto p = udp_packet(payload);
        m->inspect_packet(p, nullptr, sink);
    };
    run(std::string("\xff\x20\x00", 3));
    EXPECT_EQ(sink.count(30), 1u);
    run(std::string("\xff\x0f\xff", 3));
    EXPECT_EQ(sink.count(30), 0u);
    run(std::string("L\x03xyzEND", 8));
    EXPECT_EQ(sink.count(31), 1u);
    run(std::string("L\x02xyzEND", 8));
    EXPECT_EQ(sink.count(31), 0u);
    run(std::string("\x03..Z", 4));
    EXPECT_EQ(sink.count(32), 1u);
    run(std::string("\x02..Z", 4));
    EXPECT_EQ(sink.count(32), 0u);
    run("a user=abcd7 b");
    EXPECT_EQ(sink.count(33), 1u);
    run("a user=ab7 b");
    EXPECT_EQ(sink.count(33), 0u);
    run("<tag>x</tag>");
    EXPECT_EQ(sink.count(34), 1u);
    run("<tag>x</tog>");
    EXPECT_EQ(sink.count(34), 0u);
    run("key:  42");
    EXPECT_EQ(sink.count(35), 1u);
    run("key: x42");
    EXPECT_EQ(sink.count(35), 0u);
    run("len=123");
    EXPECT_EQ(sink.count(36), 1u);
    run("len=124");
    EXPECT_EQ(sink.count(36), 0u);
    run("the tail");
    EXPECT_EQ(sink.count(37), 1u);
    run("the tail!");
    EXPECT_EQ(sink.count(37), 0u);
    EXPECT_GT(m->counters().get(SigCounter::pcre_hyperscan), 0u);
    EXPECT_GT(m->counters().get(SigCounter::pcre_fallbacks), 0u);
}

TEST(PacketInspection, BacktracksToALaterOccurrence) {
    auto rs = build(R"(alert udp any any -> any any (content:"A"; content:"B"; distance:0; within:1; sid:40;))");
    auto m = matcher(rs);
    Sink sink;
    std::string pl = "A.A.AB";  // only the third A is followed by B
    auto p = udp_packet(pl);
    m->inspect_packet(p, nullptr, sink);
    EXPECT_EQ(sink.count(40), 1u);
}

// ---------------------------------------------------------------------------
// streams

constexpr const char* kStreamRules = R"(
alert tcp any any -> any 80 (msg:"split"; flow:established,to_server; content:"EVILPATTERN"; sid:100;)
alert tcp any any -> any 80 (msg:"two parts"; flow:to_server; content:"GET /"; content:"cmd.exe"; distance:0; within:50; sid:101;)
alert tcp any any -> any 80 (msg:"stream start"; flow:to_server; content:"HELLO"; depth:5; sid:102;)
alert tcp any any -> any any (msg:"server reply"; flow:to_client; content:"EVILPATTERN"; sid:103;)
)";

TEST(StreamInspection, PatternSplitAtEveryPositionMatchesOnce) {
    auto rs = build(kStreamRules);
    auto m = matcher(rs);
    const std::string pattern = "EVILPATTERN";
    const std::string full = "xxxxxxxx" + pattern + "yyyyyyyy";
    for (size_t cut = 1; cut < full.size(); ++cut) {
        Sink sink;
        SigFlowState st;
        auto f = tcp_flow();
        m->inspect_stream(f, st, Direction::to_server, 0, bytes(full.substr(0, cut)), 0, sink);
        m->inspect_stream(f, st, Direction::to_server, cut, bytes(full.substr(cut)), 0, sink);
        EXPECT_EQ(sink.count(100), 1u) << "cut at " << cut;
        EXPECT_EQ(sink.count(103), 0u);
        m->end_flow(st);
    }
}

TEST(StreamInspection, OneBytePerChunk) {
    auto rs = build(kStreamRules);
    auto m = matcher(rs);
    Sink sink;
    SigFlowState st;
    auto f = tcp_flow();
    const std::string data = "HELLO GET /scripts/..%c0%af../winnt/system32/cmd.exe?/c+dir EVILPATTERN and EVILPATTERN";
    for (size_t i = 0; i < data.size(); ++i) m->inspect_stream(f, st, Direction::to_server, i, bytes(data.substr(i, 1)), 0, sink);
    EXPECT_EQ(sink.count(100), 2u);  // two occurrences, each once
    EXPECT_EQ(sink.count(101), 1u);
    EXPECT_EQ(sink.count(102), 1u);
    // offsets are stream offsets
    std::vector<uint64_t> offs;
    for (const auto& h : sink.hits)
        if (h.sid == 100) offs.push_back(h.stream_offset);
    ASSERT_EQ(offs.size(), 2u);
    EXPECT_EQ(offs[0], data.find("EVILPATTERN"));
    EXPECT_EQ(offs[1], data.rfind("EVILPATTERN"));
}

// Random streams cut at random places: a rule alerts in exactly the chunks in
// which at least one of its matches ends (self-overlapping literal, and a pcre).
TEST(StreamInspection, RandomChunkingMatchesAReferenceSearch) {
    auto rs = build(R"(
alert tcp any any -> any any (msg:"overlapping literal"; flow:to_server; content:"abcab"; sid:150;)
alert tcp any any -> any any (msg:"pcre"; flow:to_server; content:"x"; pcre:"/x[0-9]{2,3}y/"; sid:151;)
)");
    auto m = matcher(rs);
    const char* seed_env = std::getenv("SLUICE_TEST_SEED");
    std::mt19937 rng(seed_env ? static_cast<unsigned>(std::strtoul(seed_env, nullptr, 10)) : 1234u);
    const std::string alphabet = "abcxy0123456789";
    for (int round = 0; round < 200; ++round) {
        std::string data(50 + rng() % 400, ' ');
        for (auto& ch : data) {
            const size_t range = rng() % 2 ? 3 : alphabet.size();
            ch = alphabet[rng() % range];
        }
        std::vector<size_t> cuts{0};
        while (cuts.back() < data.size()) cuts.push_back(std::min(data.size(), cuts.back() + 1 + rng() % 12));
        auto chunk_of = [&](size_t byte) {
            return static_cast<size_t>(std::upper_bound(cuts.begin(), cuts.end(), byte) - cuts.begin() - 1);
        };
        std::set<size_t> want_lit, want_re;
        for (size_t p = 0; p + 5 <= data.size(); ++p)
            if (data.compare(p, 5, "abcab") == 0) want_lit.insert(chunk_of(p + 4));
        for (size_t i = 0; i < data.size(); ++i) {
            if (data[i] != 'y') continue;
            size_t d = 0;
            while (d < i && d < 4 && std::isdigit(static_cast<unsigned char>(data[i - 1 - d]))) ++d;
            for (size_t k = 2; k <= 3; ++k)
                if (d >= k && i >= k + 1 && data[i - 1 - k] == 'x') want_re.insert(chunk_of(i));
        }
        Sink sink;
        SigFlowState st;
        auto f = tcp_flow();
        std::set<size_t> got_lit, got_re;
        for (size_t c = 0; c + 1 < cuts.size(); ++c) {
            sink.clear();
            m->inspect_stream(f, st, Direction::to_server, cuts[c], bytes(data.substr(cuts[c], cuts[c + 1] - cuts[c])), 0, sink);
            ASSERT_LE(sink.count(150), 1u);
            ASSERT_LE(sink.count(151), 1u);
            if (sink.count(150)) got_lit.insert(c);
            if (sink.count(151)) got_re.insert(c);
            for (const auto& h : sink.hits)
                if (h.sid == 151 && std::getenv("SLUICE_TEST_VERBOSE"))
                    std::fprintf(stderr, "chunk %zu [%zu,%zu) hit '%s' at %llu\n", c, cuts[c], cuts[c + 1], h.matched.c_str(),
                                 static_cast<unsigned long long>(h.stream_offset));
        }
        ASSERT_EQ(got_lit, want_lit) << "round " << round << " data " << data;
        std::string cut_text;
        for (size_t c : cuts) cut_text += std::to_string(c) + " ";
        ASSERT_EQ(got_re, want_re) << "round " << round << " data " << data << " cuts " << cut_text;
    }
}

TEST(FlowState, MovesKeepStreamProgress) {
    auto rs = build(kStreamRules);
    auto m = matcher(rs);
    Sink sink;
    SigFlowState a;
    auto f = tcp_flow();
    std::string one = "xxEVILPAT", two = "TERNxx";
    m->inspect_stream(f, a, Direction::to_server, 0, bytes(one), 0, sink);
    SigFlowState b(std::move(a));
    std::vector<SigFlowState> table;
    table.push_back(std::move(b));
    table.emplace_back();
    table.reserve(64);  // reallocation moves the states
    m->inspect_stream(f, table[0], Direction::to_server, one.size(), bytes(two), 0, sink);
    EXPECT_EQ(sink.count(100), 1u);
    EXPECT_EQ(a.memory_bytes(), sizeof(SigFlowState));
}

TEST(StreamInspection, AtMostOncePerChunkAndDirectionMatters) {
    auto rs = build(kStreamRules);
    auto m = matcher(rs);
    Sink sink;
    SigFlowState st;
    auto f = tcp_flow();
    std::string twice = "EVILPATTERN EVILPATTERN";
    m->inspect_stream(f, st, Direction::to_server, 0, bytes(twice), 0, sink);
    EXPECT_EQ(sink.count(100), 1u);
    m->inspect_stream(f, st, Direction::to_client, 0, bytes(twice), 0, sink);
    EXPECT_EQ(sink.count(103), 1u);
    EXPECT_EQ(sink.count(100), 1u);
    // nothing new in the next chunk: no repeat from the retained window
    std::string filler = "zzzz";
    m->inspect_stream(f, st, Direction::to_server, twice.size(), bytes(filler), 0, sink);
    EXPECT_EQ(sink.count(100), 1u);
}

TEST(StreamInspection, DepthCountsFromStreamStart) {
    auto rs = build(kStreamRules);
    auto m = matcher(rs);
    Sink sink;
    SigFlowState st;
    auto f = tcp_flow();
    std::string a = "xxHELLO";
    m->inspect_stream(f, st, Direction::to_server, 0, bytes(a), 0, sink);
    EXPECT_EQ(sink.count(102), 0u);
    SigFlowState st2;
    std::string b1 = "HEL", b2 = "LO world";
    m->inspect_stream(f, st2, Direction::to_server, 0, bytes(b1), 0, sink);
    m->inspect_stream(f, st2, Direction::to_server, 3, bytes(b2), 0, sink);
    EXPECT_EQ(sink.count(102), 1u);
}

TEST(StreamInspection, GapsBreakMatches) {
    auto rs = build(kStreamRules);
    auto m = matcher(rs);
    Sink sink;
    SigFlowState st;
    auto f = tcp_flow();
    std::string a = "xxEVILPAT", b = "TERNxx";
    m->inspect_stream(f, st, Direction::to_server, 0, bytes(a), 0, sink);
    m->stream_gap(st, Direction::to_server, a.size(), 1);
    m->inspect_stream(f, st, Direction::to_server, a.size() + 1, bytes(b), 0, sink);
    EXPECT_EQ(sink.count(100), 0u);
    EXPECT_EQ(m->counters().get(SigCounter::stream_gaps), 1u);
    // an offset jump without on_gap is treated as a gap too
    SigFlowState st2;
    m->inspect_stream(f, st2, Direction::to_server, 0, bytes(a), 0, sink);
    m->inspect_stream(f, st2, Direction::to_server, a.size() + 5, bytes(b), 0, sink);
    EXPECT_EQ(sink.count(100), 0u);
    // and a later full pattern still matches
    std::string c = "EVILPATTERN";
    m->inspect_stream(f, st2, Direction::to_server, a.size() + 5 + b.size(), bytes(c), 0, sink);
    EXPECT_EQ(sink.count(100), 1u);
}

TEST(StreamInspection, RetransmittedBytesAreNotReinspected) {
    auto rs = build(kStreamRules);
    auto m = matcher(rs);
    Sink sink;
    SigFlowState st;
    auto f = tcp_flow();
    std::string a = "..EVILPATTERN..";
    m->inspect_stream(f, st, Direction::to_server, 0, bytes(a), 0, sink);
    m->inspect_stream(f, st, Direction::to_server, 0, bytes(a), 0, sink);
    EXPECT_EQ(sink.count(100), 1u);
}

TEST(StreamInspection, AppProtocolRulesAndPcreAcrossChunks) {
    auto rs = build(R"(
alert http any any -> any any (msg:"http stream"; flow:to_server; content:"X-Evil|3a|"; pcre:"/X-Evil:\s*[0-9]{4}/"; sid:110;)
)");
    auto m = matcher(rs);
    Sink sink;
    SigFlowState st;
    std::string data = "GET / HTTP/1.1\r\nX-Evil: 1234\r\n\r\n";
    auto plain = tcp_flow(AppProto::unknown);
    m->inspect_stream(plain, st, Direction::to_server, 0, bytes(data), 0, sink);
    EXPECT_EQ(sink.count(110), 0u);  // not (yet) http
    auto http = tcp_flow(AppProto::http);
    SigFlowState st2;
    for (size_t cut = 1; cut < data.size(); ++cut) {
        SigFlowState s;
        m->inspect_stream(http, s, Direction::to_server, 0, bytes(data.substr(0, cut)), 0, sink);
        m->inspect_stream(http, s, Direction::to_server, cut, bytes(data.substr(cut)), 0, sink);
    }
    EXPECT_EQ(sink.count(110), data.size() - 1);
}

TEST(FlowState, FixedPartStaysAtTheDocumentedSize) {
    // docs/rules.md documents 432 bytes; growing it must update the docs.
    EXPECT_LE(kSigFlowStateBytes, 432u);
}

TEST(StreamInspection, SmallWindowStillSplitsAndBoundsState) {
    MatcherConfig cfg;
    cfg.stream_window_bytes = 16;
    cfg.stream_step_bytes = 7;  // chunks longer than a step are inspected in steps
    auto rs = build(kStreamRules);
    auto m = matcher(rs, cfg);
    Sink sink;
    SigFlowState st;
    auto f = tcp_flow();
    std::string data = std::string(100, '.') + "EVILPATTERN" + std::string(50, '.') + "EVILPATTERN";
    m->inspect_stream(f, st, Direction::to_server, 0, bytes(data), 0, sink);
    EXPECT_EQ(sink.count(100), 1u);  // at most once per inspected chunk
    SigFlowState st2;
    for (size_t i = 0; i < data.size(); i += 3) m->inspect_stream(f, st2, Direction::to_server, i, bytes(data.substr(i, 3)), 0, sink);
    EXPECT_EQ(sink.count(100), 3u);
    EXPECT_LE(st2.memory_bytes(), m->max_flow_state_bytes());
    EXPECT_GE(st2.memory_bytes(), sizeof(SigFlowState) + 32);
    m->end_flow(st2);
    EXPECT_EQ(st2.memory_bytes(), sizeof(SigFlowState));
}

// ---------------------------------------------------------------------------
// transactions and records

TEST(TransactionInspection, StickyBuffersOfOneTransaction) {
    auto rs = build(R"(
alert http any any -> any any (msg:"post admin"; flow:to_server; http.method; content:"POST"; http.uri; content:"/admin"; startswith; sid:200;)
alert http any any -> any any (msg:"ua"; http.user_agent; content:"sqlmap"; nocase; sid:201;)
alert dns any any -> any any (msg:"dns"; dns.query; dotprefix; content:".evil.example"; endswith; sid:202;)
alert tcp any any -> any any (msg:"legacy"; content:"/x.php"; http_uri; content:"GET"; http_method; sid:203;)
alert http any any -> any any (msg:"body"; flow:to_client; file.data; content:"EICAR"; sid:204;)
alert http any any -> any any (msg:"urilen"; urilen:>20; sid:205;)
alert tls any any -> any any (msg:"sni"; tls.sni; content:"bad.example"; bsize:11; sid:206;)
alert http any any -> any any (msg:"every http request"; flow:to_server; sid:207;)
)");
    auto m = matcher(rs);
    Sink sink;
    SigFlowState st;
    auto f = tcp_flow(AppProto::http);
    AppTransaction tx;
    tx.proto = AppProto::http;
    tx.set(AppBuffer::http_method, std::string_view("POST"));
    tx.set(AppBuffer::http_uri, std::string_view("/admin/login"));
    tx.set(AppBuffer::http_user_agent, std::string_view("SQLMap/1.0"));
    m->inspect_transaction(f, st, tx, 0, sink);
    EXPECT_EQ(sink.count(200), 1u);
    EXPECT_EQ(sink.count(201), 1u);
    EXPECT_EQ(sink.count(207), 1u);
    EXPECT_EQ(sink.count(205), 0u);
    sink.clear();
    AppTransaction get;
    get.proto = AppProto::http;
    get.set(AppBuffer::http_method, std::string_view("GET"));
    get.set(AppBuffer::http_uri, std::string_view("/admin/x.php?aaaaaaaaaaaaaaa"));
    m->inspect_transaction(f, st, get, 0, sink);
    EXPECT_EQ(sink.count(200), 0u);  // method and uri must come from the same transaction
    EXPECT_EQ(sink.count(203), 1u);
    EXPECT_EQ(sink.count(205), 1u);
    sink.clear();
    AppTransaction resp;
    resp.proto = AppProto::http;
    resp.dir = Direction::to_client;
    resp.set(AppBuffer::file_data, std::string_view("X5O!P%@AP EICAR-STANDARD"));
    m->inspect_transaction(f, st, resp, 0, sink);
    EXPECT_EQ(sink.count(204), 1u);
    EXPECT_EQ(sink.count(207), 0u);
    sink.clear();
    auto dnsf = tcp_flow(AppProto::dns);
    for (const char* q : {"a.evil.example", "evil.example", "notevil.example", "evil.example.org"}) {
        AppTransaction d;
        d.proto = AppProto::dns;
        d.set(AppBuffer::dns_query, std::string_view(q));
        m->inspect_transaction(dnsf, st, d, 0, sink);
    }
    EXPECT_EQ(sink.count(202), 2u);
    sink.clear();
    for (const char* sni : {"bad.example", "bad.example.com"}) {
        AppTransaction t;
        t.proto = AppProto::tls;
        t.set(AppBuffer::tls_sni, std::string_view(sni));
        m->inspect_transaction(f, st, t, 0, sink);
    }
    EXPECT_EQ(sink.count(206), 1u);
}

TEST(RecordInspection, ProtocolRulesSeeOnlyTheirRecords) {
    auto rs = build(R"(
alert modbus any any -> any 502 (msg:"any modbus to the server"; flow:to_server; sid:300;)
alert dnp3 any any -> any any (msg:"any dnp3"; sid:301;)
)");
    auto m = matcher(rs);
    Sink sink;
    SigFlowState st;
    auto f = tcp_flow(AppProto::modbus);
    f.server_port = 502;
    AppRecord rec;
    rec.proto = AppProto::modbus;
    rec.op.function = "write_single_register";
    m->inspect_record(f, st, rec, 0, sink);
    EXPECT_EQ(sink.count(300), 1u);
    EXPECT_EQ(sink.count(301), 0u);
    rec.dir = Direction::to_client;
    m->inspect_record(f, st, rec, 0, sink);
    EXPECT_EQ(sink.count(300), 1u);
    AppRecord d;
    d.proto = AppProto::dnp3;
    m->inspect_record(f, st, d, 0, sink);
    EXPECT_EQ(sink.count(301), 1u);
}

// ---------------------------------------------------------------------------
// flowbits, thresholds, actions

TEST(Flowbits, SetThenIssetAcrossInspectionPoints) {
    auto rs = build(R"(
alert tcp any any -> any any (msg:"login seen"; flow:to_server; content:"LOGIN"; flowbits:set,logged_in; flowbits:noalert; sid:400;)
alert tcp any any -> any any (msg:"cmd after login"; flow:to_server; content:"DELETE"; flowbits:isset,logged_in; sid:401;)
alert tcp any any -> any any (msg:"cmd without login"; flow:to_server; content:"DELETE"; flowbits:isnotset,logged_in; sid:402;)
alert tcp any any -> any any (msg:"logout"; flow:to_server; content:"LOGOUT"; flowbits:unset,logged_in; flowbits:noalert; sid:403;)
)");
    auto m = matcher(rs);
    Sink sink;
    SigFlowState st;
    auto f = tcp_flow();
    uint64_t off = 0;
    auto send = [&](const std::string& s) {
        m->inspect_stream(f, st, Direction::to_server, off, bytes(s), 0, sink);
        off += s.size();
    };
    send("DELETE a;");
    EXPECT_EQ(sink.count(402), 1u);
    send("LOGIN bob;");
    EXPECT_EQ(sink.count(400), 0u);  // noalert
    send("DELETE b;");
    EXPECT_EQ(sink.count(401), 1u);
    EXPECT_EQ(sink.count(402), 1u);
    send("LOGOUT;");
    send("DELETE c;");
    EXPECT_EQ(sink.count(401), 1u);
    EXPECT_EQ(sink.count(402), 2u);
    EXPECT_EQ(m->counters().get(SigCounter::suppressed), 2u);
}

TEST(Thresholds, LimitThresholdBothAndDetectionFilter) {
    auto rs = build(R"(
alert udp any any -> any any (msg:"limit"; content:"L"; threshold:type limit, track by_src, count 2, seconds 60; sid:500;)
alert udp any any -> any any (msg:"threshold"; content:"T"; threshold:type threshold, track by_dst, count 3, seconds 60; sid:501;)
alert udp any any -> any any (msg:"both"; content:"B"; threshold:type both, track by_rule, count 2, seconds 60; sid:502;)
alert udp any any -> any any (msg:"df"; content:"D"; detection_filter:track by_src, count 2, seconds 60; sid:503;)
)");
    auto m = matcher(rs);
    Sink sink;
    std::string pl = "LTBD";
    for (int i = 0; i < 7; ++i) {
        auto p = udp_packet(pl);
        p.ts_ns = uint64_t(i) * 1000000000ull;
        m->inspect_packet(p, nullptr, sink);
    }
    EXPECT_EQ(sink.count(500), 2u);  // first two
    EXPECT_EQ(sink.count(501), 2u);  // 3rd and 6th
    EXPECT_EQ(sink.count(502), 1u);  // once when the count is reached
    EXPECT_EQ(sink.count(503), 5u);  // from the 3rd on
    // another source has its own limit
    auto other = udp_packet(pl);
    other.src = ip("198.18.9.9");
    other.ts_ns = 8000000000ull;
    m->inspect_packet(other, nullptr, sink);
    EXPECT_EQ(sink.count(500), 3u);
    // a new time window resets the limit
    auto later = udp_packet(pl);
    later.ts_ns = 120000000000ull;
    m->inspect_packet(later, nullptr, sink);
    EXPECT_EQ(sink.count(500), 4u);
}

TEST(Thresholds, SmallTableEvictsAndCounts) {
    auto rs = build(R"(alert udp any any -> any any (content:"L"; threshold:type limit, track by_src, count 1, seconds 60; sid:510;))");
    MatcherConfig cfg;
    cfg.threshold_table_entries = 8;
    auto m = matcher(rs, cfg);
    Sink sink;
    std::string pl = "L";
    for (uint32_t i = 0; i < 64; ++i) {
        auto p = udp_packet(pl);
        p.src = IpAddr::v4(0xC6120000u + i);
        m->inspect_packet(p, nullptr, sink);
    }
    EXPECT_EQ(sink.count(510), 64u);
    EXPECT_GT(m->counters().get(SigCounter::threshold_evictions), 0u);
}

TEST(Actions, PassWinsAndStopsTheFlow) {
    auto rs = build(R"(
alert tcp any any -> any any (msg:"alert"; content:"X"; sid:600;)
drop tcp any any -> any any (msg:"drop"; content:"X"; sid:601;)
pass tcp any any -> any any (msg:"pass"; content:"TRUSTED"; sid:602;)
reject tcp any any -> any any (msg:"reject"; content:"X"; sid:603;)
)");
    auto m = matcher(rs);
    Sink sink;
    SigFlowState st;
    auto f = tcp_flow();
    std::string a = "X";
    EXPECT_EQ(m->inspect_stream(f, st, Direction::to_server, 0, bytes(a), 0, sink), SigVerdict::drop);
    ASSERT_EQ(sink.hits.size(), 3u);
    EXPECT_EQ(sink.hits[0].action, RuleAction::drop);  // action order
    EXPECT_EQ(sink.hits[1].action, RuleAction::reject);
    EXPECT_EQ(sink.hits[2].action, RuleAction::alert);
    EXPECT_EQ(m->alerts_by_action().get(RuleAction::drop), 1u);
    sink.clear();
    std::string b = "X TRUSTED X";
    EXPECT_EQ(m->inspect_stream(f, st, Direction::to_server, 1, bytes(b), 0, sink), SigVerdict::pass);
    EXPECT_TRUE(sink.hits.empty());
    EXPECT_TRUE(st.passed());
    std::string c = "X";
    EXPECT_EQ(m->inspect_stream(f, st, Direction::to_server, 1 + b.size(), bytes(c), 0, sink), SigVerdict::pass);
    auto pkt = udp_packet(c);
    EXPECT_EQ(m->inspect_packet(pkt, &st, sink), SigVerdict::pass);
    EXPECT_TRUE(sink.hits.empty());
    EXPECT_EQ(m->counters().get(SigCounter::passed_flows), 1u);
}

TEST(Counters, ClasstypeAndPerRuleHits) {
    auto rs = build(R"(
alert udp any any -> any any (msg:"a"; content:"A"; classtype:trojan-activity; sid:700;)
alert udp any any -> any any (msg:"b"; content:"B"; sid:701;)
)");
    auto m = matcher(rs);
    Sink sink;
    std::string pl = "AB";
    auto p = udp_packet(pl);
    m->inspect_packet(p, nullptr, sink);
    m->inspect_packet(p, nullptr, sink);
    ASSERT_EQ(m->alerts_by_classtype().size(), 2u);
    EXPECT_EQ(m->alerts_by_classtype()[0].get(), 2u);
    EXPECT_EQ(m->alerts_by_classtype()[1].get(), 2u);  // no classtype
    uint64_t total = 0;
    for (size_t i = 0; i < m->rule_hits().size(); ++i) {
        total += m->rule_hits()[i].get();
        EXPECT_EQ(m->rule_hits()[i].get(), 2u) << rs->rule(static_cast<uint32_t>(i)).sid;
    }
    EXPECT_EQ(total, 4u);
    EXPECT_EQ(m->counters().get(SigCounter::alerts), 4u);
    // the management thread's view survives a reload (it holds the old block)
    auto before = m->rule_counters();
    ASSERT_TRUE(before);
    EXPECT_EQ(before->rules, rs);
    ASSERT_TRUE(m->use_rules(build(R"(alert udp any any -> any any (content:"C"; sid:702;))")).ok());
    EXPECT_EQ(before->rule_hits()[0].get(), 2u);
    EXPECT_EQ(before->alerts_by_classtype()[0].get(), 2u);
    auto after = m->rule_counters();
    EXPECT_NE(after->rules, rs);
    EXPECT_EQ(after->rule_count, 1u);
    EXPECT_EQ(after->rule_hits()[0].get(), 0u);
    EXPECT_GT(m->counters().get(SigCounter::scans), 0u);
    EXPECT_GE(m->counters().get(SigCounter::candidates), m->counters().get(SigCounter::confirmed));
}

// ---------------------------------------------------------------------------
// hot reload

TEST(Reload, FlowbitsAndSplitPatternsSurviveARuleSwap) {
    const std::string text = R"(
alert tcp any any -> any any (msg:"set"; flow:to_server; content:"LOGIN"; flowbits:set,auth; flowbits:noalert; sid:800;)
alert tcp any any -> any any (msg:"check"; flow:to_server; content:"SECRET"; flowbits:isset,auth; sid:801;)
alert tcp any any -> any any (msg:"split"; flow:to_server; content:"EVILPATTERN"; sid:802;)
)";
    auto a = build(text);
    auto b = build(text + R"(alert tcp any any -> any any (msg:"new"; content:"NEWRULE"; sid:803;))", a.get());
    EXPECT_EQ(b->flowbit_epoch(), a->flowbit_epoch());
    EXPECT_NE(b->generation(), a->generation());
    auto m = matcher(a);
    Sink sink;
    SigFlowState st;
    auto f = tcp_flow();
    std::string one = "LOGIN ... EVILPAT";
    m->inspect_stream(f, st, Direction::to_server, 0, bytes(one), 0, sink);
    ASSERT_TRUE(m->use_rules(b).ok());
    std::string two = "TERN SECRET NEWRULE";
    m->inspect_stream(f, st, Direction::to_server, one.size(), bytes(two), 0, sink);
    EXPECT_EQ(sink.count(801), 1u);
    EXPECT_EQ(sink.count(802), 1u);
    EXPECT_EQ(sink.count(803), 1u);
    EXPECT_EQ(m->counters().get(SigCounter::state_resets), 1u);
    // a set with different flowbit names restarts the numbering: bits are reset
    auto c = build(R"(alert tcp any any -> any any (content:"SECRET"; flowbits:isset,other; sid:900;))");
    EXPECT_NE(c->flowbit_epoch(), b->flowbit_epoch());
}

}  // namespace
}  // namespace sluice

namespace sluice {
namespace {

// The bundled default rule set loads cleanly and fires on what it is meant for.
TEST(BundledRules, LoadCleanlyAndFire) {
    const char* root = std::getenv("SLUICE_SOURCE_ROOT");
    if (!root) GTEST_SKIP() << "SLUICE_SOURCE_ROOT not set";
    const std::string dir = std::string(root) + "/signatures/rules";
    ClassificationTable classes;
    ASSERT_TRUE(classes.load_file(dir + "/classification.config").ok());
    RuleVars vars;
    RuleLoadOptions lo;
    lo.vars = &vars;
    lo.classes = &classes;
    LoadedRules lr = load_rules(std::vector<std::string>{dir + "/sluice-default.rules"}, lo);
    for (const auto& m : lr.report.messages) ADD_FAILURE() << m;
    EXPECT_GE(lr.report.loaded, 10u);
    for (const auto& r : lr.rules) {
        EXPECT_GE(r.sid, 9000000u);
        EXPECT_LE(r.sid, 9099999u);
        EXPECT_GE(r.classtype_index, 0);
    }
    auto rs = RuleSet::compile(std::move(lr), classes, {});
    ASSERT_TRUE(rs.ok());
    auto m = SignatureMatcher::create(*rs);
    ASSERT_TRUE(m.ok());
    Sink sink;
    // EICAR split across two stream chunks
    const std::string eicar = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
    SigFlowState st;
    auto f = tcp_flow();
    (*m)->inspect_stream(f, st, Direction::to_client, 0, bytes(eicar.substr(0, 30)), 0, sink);
    (*m)->inspect_stream(f, st, Direction::to_client, 30, bytes(eicar.substr(30)), 0, sink);
    EXPECT_EQ(sink.count(9000010), 1u);
    // Modbus write single register (function 6), and a read (function 3) that must not alert
    auto mb = tcp_flow();
    mb.server_port = 502;
    SigFlowState mst;
    const std::string write_req("\x00\x01\x00\x00\x00\x06\x01\x06\x00\x10\x00\x2a", 12);
    const std::string read_req("\x00\x02\x00\x00\x00\x06\x01\x03\x00\x10\x00\x01", 12);
    (*m)->inspect_stream(mb, mst, Direction::to_server, 0, bytes(write_req), 0, sink);
    EXPECT_EQ(sink.count(9000020), 1u);
    (*m)->inspect_stream(mb, mst, Direction::to_server, 12, bytes(read_req), 0, sink);
    EXPECT_EQ(sink.count(9000020), 1u);
    // HTTP request with the test user agent
    AppTransaction tx;
    tx.proto = AppProto::http;
    tx.set(AppBuffer::http_user_agent, std::string_view("Mozilla/5.0 Sluice-Test/1"));
    auto hf = tcp_flow(AppProto::http);
    SigFlowState hst;
    (*m)->inspect_transaction(hf, hst, tx, 0, sink);
    EXPECT_EQ(sink.count(9000001), 1u);
    // S7 PLC stop: TPKT + COTP + S7 job header + function 0x29
    auto s7 = tcp_flow();
    s7.server_port = 102;
    SigFlowState sst;
    const std::string stop("\x03\x00\x00\x21\x02\xf0\x80\x32\x01\x00\x00\x00\x05\x00\x10\x00\x00\x29\x00\x00\x00\x00\x00\x09\x50\x5f\x50\x52\x4f\x47\x52\x41\x4d", 33);
    (*m)->inspect_stream(s7, sst, Direction::to_server, 0, bytes(stop), 0, sink);
    EXPECT_EQ(sink.count(9000030), 1u);
}

}  // namespace
}  // namespace sluice
