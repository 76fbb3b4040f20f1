// Rule compiler: fast pattern choice, group selection, the always list, the
// IP-only index, pcre placement, the database cache (round trip, corrupt and
// stale files) and check_rules.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "signatures/rule_set.hpp"

namespace sluice {
namespace {

namespace fs = std::filesystem;

Rule parse_one(const std::string& text) {
    RuleVars vars;
    RuleParseContext ctx{&vars, nullptr, "t", 1};
    auto o = parse_rule(text, ctx);
    EXPECT_TRUE(o.rule.has_value()) << o.message;
    return o.rule ? std::move(*o.rule) : Rule{};
}

LoadedRules load(const std::string& text, const RuleVars* custom = nullptr) {
    static RuleVars defaults;
    const RuleVars& vars = custom ? *custom : defaults;
    RuleLoadOptions lo;
    lo.vars = &vars;
    LoadedRules lr = load_rules_text(text, "t.rules", lo);
    for (const auto& m : lr.report.messages) ADD_FAILURE() << m;
    return lr;
}

std::shared_ptr<const RuleSet> compile(const std::string& text, RuleSetOptions opts = {}, const RuleVars* vars = nullptr) {
    ClassificationTable ct;
    auto rs = RuleSet::compile(load(text, vars), ct, opts);
    EXPECT_TRUE(rs.ok()) << (rs.ok() ? "" : rs.message());
    return rs.ok() ? *rs : nullptr;
}

TEST(FastPattern, LongestMostVariedWins) {
    auto fp = choose_fast_pattern(parse_one(R"(alert tcp any any -> any any (content:"ab"; content:"|00 00 00 00 00|"; content:"evil.exe"; sid:1;))"));
    ASSERT_TRUE(fp);
    EXPECT_EQ(fp->literal, "evil.exe");
    // same length: more distinct bytes wins over a run of one byte
    auto fp2 = choose_fast_pattern(parse_one(R"(alert tcp any any -> any any (content:"AAAAAAAA"; content:"ABCDEFG"; sid:1;))"));
    EXPECT_EQ(fp2->literal, "ABCDEFG");
}

TEST(FastPattern, ExplicitOverrideChopAndNegation) {
    auto fp = choose_fast_pattern(parse_one(R"(alert tcp any any -> any any (content:"a-long-literal"; content:"xy"; fast_pattern; sid:1;))"));
    EXPECT_EQ(fp->literal, "xy");
    auto chop = choose_fast_pattern(parse_one(R"(alert tcp any any -> any any (content:"0123456789"; fast_pattern:3,4; sid:1;))"));
    EXPECT_EQ(chop->literal, "3456");
    auto only = choose_fast_pattern(parse_one(R"(alert tcp any any -> any any (content:"abc"; fast_pattern:only; content:"abcdefgh"; sid:1;))"));
    EXPECT_EQ(only->literal, "abc");
    auto neg = choose_fast_pattern(parse_one(R"(alert tcp any any -> any any (content:!"a-long-negated"; content:"pos"; nocase; sid:1;))"));
    EXPECT_EQ(neg->literal, "pos");
    EXPECT_TRUE(neg->caseless);
    EXPECT_FALSE(choose_fast_pattern(parse_one(R"(alert tcp any any -> any any (content:!"x"; pcre:"/y/"; sid:1;))")));
}

TEST(FastPattern, CommonBuffersArePassedOver) {
    auto fp = choose_fast_pattern(parse_one(R"(alert http any any -> any any (http.method; content:"POST-LONGER"; http.uri; content:"/a.php"; sid:1;))"));
    ASSERT_TRUE(fp);
    EXPECT_EQ(fp->literal, "/a.php");
}

TEST(Groups, RulesLandWhereTheyAreInspected) {
    auto rs = compile(R"(
alert tcp any any -> any any (msg:"stream ts"; flow:to_server; content:"aaaa"; sid:1;)
alert tcp any any -> any any (msg:"stream both"; content:"bbbb"; sid:2;)
alert udp any any -> any any (msg:"udp"; content:"cccc"; sid:3;)
alert ip any any -> any any (msg:"ip payload"; content:"dddd"; sid:4;)
alert tcp any any -> any any (msg:"tcp header only"; flags:S; sid:5;)
alert http any any -> any any (msg:"uri"; flow:to_server; http.uri; content:"/x"; http.method; content:"GET"; sid:6;)
alert dns any any -> any any (msg:"dns"; dns.query; dotprefix; content:".example"; sid:7;)
alert http any any -> any any (msg:"all http"; sid:8;)
alert modbus any any -> any any (msg:"modbus"; sid:9;)
alert ip [192.0.2.0/24] any -> any any (msg:"ip only"; sid:10;)
alert tcp any any -> any any (msg:"pcre only"; pcre:"/zz+/"; sid:11;)
)");
    ASSERT_TRUE(rs);
    EXPECT_EQ(rs->stream_group(Direction::to_server).rule_count, 3u);  // 1, 2, 11
    EXPECT_EQ(rs->stream_group(Direction::to_client).rule_count, 2u);  // 2, 11
    EXPECT_EQ(rs->stream_group(Direction::to_server).always.size(), 1u);
    EXPECT_EQ(rs->packet_group(PacketClass::udp, Direction::to_server).rule_count, 2u);  // 3, 4
    EXPECT_EQ(rs->packet_group(PacketClass::icmp, Direction::to_client).rule_count, 1u);  // 4
    EXPECT_EQ(rs->packet_group(PacketClass::tcp, Direction::to_server).rule_count, 2u);  // 4, 5
    EXPECT_EQ(rs->packet_group(PacketClass::tcp, Direction::to_server).always.size(), 1u);  // 5
    const size_t uri_key = static_cast<size_t>(AppBuffer::http_uri) * 2;
    EXPECT_EQ(rs->tx_group(uri_key, Direction::to_server).rule_count, 1u);
    EXPECT_EQ(rs->tx_group(uri_key, Direction::to_client).rule_count, 0u);
    EXPECT_EQ(rs->tx_group(static_cast<size_t>(AppBuffer::http_method) * 2, Direction::to_server).rule_count, 0u);
    EXPECT_EQ(rs->tx_group(static_cast<size_t>(AppBuffer::dns_query) * 2 + 1, Direction::to_server).rule_count, 1u);
    EXPECT_EQ(rs->tx_unbuffered(Direction::to_client).size(), 1u);
    EXPECT_EQ(rs->record_rules(AppProto::modbus).size(), 1u);
    EXPECT_EQ(rs->stats().ip_only_rules, 1u);
    EXPECT_EQ(rs->ip_only_by_src().lookup(*IpAddr::parse("192.0.2.77")).size(), 1u);
    EXPECT_EQ(rs->ip_only_by_src().lookup(*IpAddr::parse("192.0.3.1")).size(), 0u);
    EXPECT_GT(rs->stats().databases, 4u);
    EXPECT_GT(rs->stats().stream_state_bytes, 0u);
}

TEST(Groups, SharedLiteralsAreOnePattern) {
    auto rs = compile(R"(
alert tcp any any -> any any (flow:to_server; content:"User-Agent|3a| x"; sid:1;)
alert tcp any any -> any any (flow:to_server; content:"User-Agent|3a| x"; content:"y"; sid:2;)
alert tcp any any -> any any (flow:to_server; content:"user-agent: X"; nocase; sid:3;)
alert tcp any any -> any any (flow:to_server; content:"USER-AGENT: X"; nocase; sid:4;)
)");
    const auto& g = rs->stream_group(Direction::to_server);
    EXPECT_EQ(g.rule_count, 4u);
    EXPECT_EQ(g.literal_count, 2u);
}

TEST(Groups, ActionOrderAndFlowbitSettersFirst) {
    auto rs = compile(R"(
alert tcp any any -> any any (content:"a"; flowbits:isset,x; sid:1;)
alert tcp any any -> any any (content:"b"; flowbits:set,x; sid:2;)
drop tcp any any -> any any (content:"c"; sid:3;)
pass tcp any any -> any any (content:"d"; sid:4;)
reject tcp any any -> any any (content:"e"; sid:5;)
)");
    std::vector<uint32_t> sids;
    for (const auto& r : rs->rules()) sids.push_back(r.sid);
    EXPECT_EQ(sids, (std::vector<uint32_t>{4, 3, 5, 2, 1}));
    ASSERT_EQ(rs->flowbit_names().size(), 1u);
}

TEST(Pcre, HyperscanWhereTheEndIsNotNeeded) {
    auto rs = compile(R"(
alert tcp any any -> any any (content:"a"; pcre:"/b+c/i"; sid:1;)
alert tcp any any -> any any (content:"a"; pcre:"/(x)\1/"; sid:2;)
alert tcp any any -> any any (content:"a"; pcre:"/(?<=q)r/"; sid:3;)
alert tcp any any -> any any (content:"a"; pcre:"/st/"; content:"u"; distance:0; sid:4;)
alert tcp any any -> any any (content:"a"; pcre:"/^v/A"; sid:5;)
)");
    EXPECT_EQ(rs->stats().pcre_hyperscan, 1u);
    EXPECT_EQ(rs->stats().pcre_pcre2, 4u);
    RuleSetOptions no_hs;
    no_hs.pcre_hyperscan = false;
    auto rs2 = compile(R"(alert tcp any any -> any any (content:"a"; pcre:"/b+c/i"; sid:1;))", no_hs);
    EXPECT_EQ(rs2->stats().pcre_hyperscan, 0u);
}

class CacheTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir = fs::temp_directory_path() / ("sluice-cache-" + std::to_string(::getpid()) + "-" +
                                           ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir);
        opts.cache_dir = dir.string();
    }
    void TearDown() override { fs::remove_all(dir); }
    fs::path dir;
    RuleSetOptions opts;
    const std::string text = R"(
alert tcp any any -> any any (flow:to_server; content:"cache-me"; pcre:"/cache-m[e]/"; sid:1;)
alert udp any any -> any any (content:"udp-lit"; sid:2;)
alert http any any -> any any (http.uri; content:"/uri"; sid:3;)
)";
};

TEST_F(CacheTest, RoundTripLoadsInsteadOfCompiling) {
    auto a = compile(text, opts);
    EXPECT_FALSE(a->stats().cache_hit);
    EXPECT_TRUE(a->stats().cache_written) << a->stats().cache_note;
    ASSERT_TRUE(fs::exists(a->stats().cache_file));
    auto b = compile(text, opts);
    EXPECT_TRUE(b->stats().cache_hit) << b->stats().cache_note;
    EXPECT_EQ(a->key(), b->key());
    EXPECT_EQ(b->stats().databases, a->stats().databases);
    // different variables: a different key
    RuleVars other;
    other.set_address("HOME_NET", "198.18.0.0/15");
    auto v = compile(text, opts, &other);
    EXPECT_FALSE(v->stats().cache_hit);
    EXPECT_NE(v->key(), a->key());
    // different rules: a different key and file
    auto c = compile(text + "alert udp any any -> any any (content:\"more\"; sid:4;)\n", opts);
    EXPECT_FALSE(c->stats().cache_hit);
    EXPECT_NE(c->key(), a->key());
}

TEST_F(CacheTest, CorruptOrTruncatedFileIsIgnoredAndReplaced) {
    auto a = compile(text, opts);
    const std::string file = a->stats().cache_file;
    std::string bytes;
    {
        std::ifstream f(file, std::ios::binary);
        std::stringstream ss;
        ss << f.rdbuf();
        bytes = ss.str();
    }
    ASSERT_GT(bytes.size(), 100u);
    bytes[bytes.size() / 2] ^= 0x5a;
    std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
    auto b = compile(text, opts);
    EXPECT_FALSE(b->stats().cache_hit);
    EXPECT_EQ(b->stats().cache_note, "cache file checksum mismatch");
    EXPECT_TRUE(b->stats().cache_written);
    auto c = compile(text, opts);
    EXPECT_TRUE(c->stats().cache_hit);
    std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes.substr(0, 40);
    auto d = compile(text, opts);
    EXPECT_FALSE(d->stats().cache_hit);
    std::ofstream(file, std::ios::binary | std::ios::trunc) << "";
    auto e = compile(text, opts);
    EXPECT_FALSE(e->stats().cache_hit);
    EXPECT_TRUE(compile(text, opts)->stats().cache_hit);
}

TEST_F(CacheTest, UnwritableDirectoryIsNotAnError) {
    opts.cache_dir = "/proc/sluice-no-such-dir";
    auto a = compile(text, opts);
    ASSERT_TRUE(a);
    EXPECT_FALSE(a->stats().cache_written);
    EXPECT_FALSE(a->stats().cache_note.empty());
}

TEST(CheckRules, ExitStatusAndSummary) {
    auto dir = fs::temp_directory_path() / ("sluice-check-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    auto good = (dir / "good.rules").string();
    auto bad = (dir / "bad.rules").string();
    auto unsupported = (dir / "unsupported.rules").string();
    std::ofstream(good) << "alert tcp any any -> any any (msg:\"ok\"; content:\"x\"; sid:1;)\n";
    std::ofstream(bad) << "alert tcp any any -> any any (msg:\"ok\"; content:\"x\"; sid:2;)\nalert tcp any any -> any any (content:\"unterminated; sid:3;)\n";
    std::ofstream(unsupported) << "alert tcp any any -> any any (content:\"x\"; sid:4;)\nalert tcp any any -> any any (xbits:set,a,track ip_src; sid:5;)\n";
    RuleVars vars;
    auto run = [&](const std::string& f, std::string& out) {
        char* buf = nullptr;
        size_t len = 0;
        FILE* mem = open_memstream(&buf, &len);
        std::vector<std::string> files{f};
        int rc = check_rules(files, vars, "", mem);
        std::fclose(mem);
        out.assign(buf, len);
        std::free(buf);
        return rc;
    };
    std::string out;
    EXPECT_EQ(run(good, out), 0) << out;
    EXPECT_NE(out.find("rules: 1 loaded, 0 skipped"), std::string::npos) << out;
    EXPECT_EQ(run(bad, out), 1) << out;
    EXPECT_NE(out.find("bad_content: 1"), std::string::npos) << out;
    EXPECT_NE(out.find(bad + ":2: sid 3:"), std::string::npos) << out;
    EXPECT_EQ(run(unsupported, out), 0) << out;  // unsupported is not a syntax error
    EXPECT_NE(out.find("unsupported_keyword: 1"), std::string::npos) << out;
    EXPECT_EQ(run((dir / "none.rules").string(), out), 1) << out;
    fs::remove_all(dir);
}

}  // namespace
}  // namespace sluice
