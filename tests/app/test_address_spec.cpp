#include "dataplane/address_spec.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <string>

namespace sluice {
namespace {

IpAddr ip(const char* s) { return *IpAddr::parse(s); }

IpRangeSet addr(std::string_view text, const VarMap& vars = {}) {
    auto r = parse_address_spec(text, vars);
    EXPECT_TRUE(r.ok()) << text << ": " << (r.ok() ? "" : r.message());
    return r.ok() ? *r : IpRangeSet{};
}

std::string addr_error(std::string_view text, const VarMap& vars = {}) {
    auto r = parse_address_spec(text, vars);
    EXPECT_FALSE(r.ok()) << text << " was accepted";
    return r.ok() ? std::string{} : r.message();
}

PortSet ports(std::string_view text, const VarMap& vars = {}) {
    auto r = parse_port_spec(text, vars);
    EXPECT_TRUE(r.ok()) << text << ": " << (r.ok() ? "" : r.message());
    return r.ok() ? *r : PortSet{};
}

std::string port_error(std::string_view text, const VarMap& vars = {}) {
    auto r = parse_port_spec(text, vars);
    EXPECT_FALSE(r.ok()) << text << " was accepted";
    return r.ok() ? std::string{} : r.message();
}

// ---- addresses --------------------------------------------------------------------

TEST(AddressSpec, SingleAddressesCidrsAndAny) {
    auto a = addr("198.18.0.1");
    EXPECT_TRUE(a.contains(ip("198.18.0.1")));
    EXPECT_FALSE(a.contains(ip("198.18.0.2")));
    auto c = addr("198.18.0.0/15");
    EXPECT_TRUE(c.contains(ip("198.19.255.255")));
    EXPECT_FALSE(c.contains(ip("198.20.0.0")));
    auto v6 = addr("2001:db8::/32");
    EXPECT_TRUE(v6.contains(ip("2001:db8:1::5")));
    EXPECT_FALSE(v6.contains(ip("2001:db9::")));
    EXPECT_FALSE(v6.contains(ip("198.18.0.1")));
    auto any = addr("any");
    EXPECT_TRUE(any.is_any());
    EXPECT_TRUE(any.contains(ip("2001:db8::1")));
    EXPECT_TRUE(addr("  198.18.0.1  ").contains(ip("198.18.0.1")));
}

TEST(AddressSpec, RangesAndNetmasks) {
    auto r = addr("198.18.0.10-198.18.0.20");
    EXPECT_TRUE(r.contains(ip("198.18.0.10")));
    EXPECT_TRUE(r.contains(ip("198.18.0.20")));
    EXPECT_FALSE(r.contains(ip("198.18.0.21")));
    EXPECT_FALSE(r.contains(ip("198.18.0.9")));
    auto m = addr("198.18.5.9/255.255.255.0");
    EXPECT_TRUE(m.contains(ip("198.18.5.0")));
    EXPECT_TRUE(m.contains(ip("198.18.5.255")));
    EXPECT_FALSE(m.contains(ip("198.18.6.0")));
    EXPECT_NE(addr_error("198.18.0.20-198.18.0.10").find("backwards"), std::string::npos);
    EXPECT_NE(addr_error("198.18.0.1-2001:db8::1").find("mixes"), std::string::npos);
    EXPECT_NE(addr_error("198.18.0.0/255.0.255.0").find("not contiguous"), std::string::npos);
    EXPECT_NE(addr_error("198.18.0.1-").find("bad address range"), std::string::npos);
}

TEST(AddressSpec, ListsNegationAndNesting) {
    auto l = addr("[198.18.0.0/24, 2001:db8::1, !198.18.0.7]");
    EXPECT_TRUE(l.contains(ip("198.18.0.6")));
    EXPECT_FALSE(l.contains(ip("198.18.0.7")));
    EXPECT_TRUE(l.contains(ip("2001:db8::1")));
    EXPECT_FALSE(l.contains(ip("2001:db8::2")));
    EXPECT_FALSE(l.contains(ip("198.18.1.0")));

    // A list of negations only: everything except them.
    auto n = addr("[!198.18.0.7, !198.18.0.8]");
    EXPECT_FALSE(n.contains(ip("198.18.0.7")));
    EXPECT_FALSE(n.contains(ip("198.18.0.8")));
    EXPECT_TRUE(n.contains(ip("198.18.0.9")));
    EXPECT_TRUE(n.contains(ip("2001:db8::1")));

    // Negation of a whole element, and of a nested list with its own negation.
    auto neg = addr("!198.18.0.0/15");
    EXPECT_FALSE(neg.contains(ip("198.18.3.3")));
    EXPECT_TRUE(neg.contains(ip("10.0.0.1")));
    EXPECT_TRUE(neg.contains(ip("2001:db8::1")));
    auto nested = addr("[198.18.0.0/16, ![198.18.1.0/24, !198.18.1.128/25]]");
    EXPECT_TRUE(nested.contains(ip("198.18.0.1")));
    EXPECT_FALSE(nested.contains(ip("198.18.1.1")));
    EXPECT_TRUE(nested.contains(ip("198.18.1.200")));
    EXPECT_TRUE(addr("!!198.18.0.1").contains(ip("198.18.0.1")));
    EXPECT_FALSE(addr("!!198.18.0.1").contains(ip("198.18.0.2")));
    EXPECT_TRUE(addr("[[[198.18.0.1]]]").contains(ip("198.18.0.1")));
}

TEST(AddressSpec, VariablesResolveToTheirSets) {
    VarMap vars = {
        {"HOME_NET", "[198.18.0.0/16, 2001:db8::/32]"},
        {"EXTERNAL_NET", "!$HOME_NET"},
        {"PLANT", "[198.18.10.0/24]"},
        {"OFFICE", "[$HOME_NET, !$PLANT]"},
        {"EXTRA", "[$EXTERNAL_NET, 198.18.0.1]"},
    };
    auto home = addr("$HOME_NET", vars);
    EXPECT_TRUE(home.contains(ip("198.18.200.1")));
    auto ext = addr("$EXTERNAL_NET", vars);
    EXPECT_FALSE(ext.contains(ip("198.18.200.1")));
    EXPECT_TRUE(ext.contains(ip("203.0.113.1")));
    auto office = addr("$OFFICE", vars);
    EXPECT_TRUE(office.contains(ip("198.18.9.1")));
    EXPECT_FALSE(office.contains(ip("198.18.10.1")));
    // A variable is its resolved set: EXTERNAL_NET plus one home address.
    auto extra = addr("$EXTRA", vars);
    EXPECT_TRUE(extra.contains(ip("203.0.113.1")));
    EXPECT_TRUE(extra.contains(ip("198.18.0.1")));
    EXPECT_FALSE(extra.contains(ip("198.18.0.2")));
    auto notplant = addr("!$PLANT", vars);
    EXPECT_FALSE(notplant.contains(ip("198.18.10.5")));
    EXPECT_TRUE(notplant.contains(ip("198.18.11.5")));
}

TEST(AddressSpec, VariableErrors) {
    VarMap vars = {
        {"A", "[$B, 198.18.0.1]"}, {"B", "$C"}, {"C", "$A"}, {"SELF", "$SELF"},
        {"BADCIDR", "198.18.0.0/33"},     {"OUTER", "[$BADCIDR]"},
    };
    std::string loop = addr_error("$A", vars);
    EXPECT_NE(loop.find("variable loop: $A -> $B -> $C -> $A"), std::string::npos) << loop;
    EXPECT_NE(addr_error("$SELF", vars).find("variable loop: $SELF -> $SELF"), std::string::npos);
    EXPECT_NE(addr_error("$NOPE", vars).find("unknown address variable $NOPE"), std::string::npos);
    std::string inner = addr_error("$OUTER", vars);
    EXPECT_NE(inner.find("in $OUTER: in $BADCIDR: bad prefix length"), std::string::npos) << inner;
    EXPECT_NE(addr_error("$", vars).find("without a variable name"), std::string::npos);
    EXPECT_NE(addr_error("$A-B", vars).find("bad character in variable name"), std::string::npos);
}

TEST(AddressSpec, SyntaxErrors) {
    EXPECT_NE(addr_error("").find("empty"), std::string::npos);
    EXPECT_NE(addr_error("   ").find("empty"), std::string::npos);
    EXPECT_NE(addr_error("[]").find("empty list"), std::string::npos);
    EXPECT_NE(addr_error("[ ]").find("empty list"), std::string::npos);
    EXPECT_NE(addr_error("[198.18.0.1").find("unbalanced '['"), std::string::npos);
    EXPECT_NE(addr_error("[198.18.0.1,").find("unbalanced '['"), std::string::npos);
    EXPECT_NE(addr_error("198.18.0.1]").find("unbalanced ']'"), std::string::npos);
    EXPECT_NE(addr_error("[198.18.0.1,]").find("ends with ','"), std::string::npos);
    EXPECT_NE(addr_error("[,198.18.0.1]").find("unexpected ','"), std::string::npos);
    EXPECT_NE(addr_error("[198.18.0.1 198.18.0.2]").find("expected ',' or ']'"), std::string::npos);
    EXPECT_NE(addr_error("198.18.0.1, 198.18.0.2").find("lists need brackets"), std::string::npos);
    EXPECT_NE(addr_error("198.18.0.0/33").find("bad prefix length"), std::string::npos);
    EXPECT_NE(addr_error("2001:db8::/129").find("bad prefix length"), std::string::npos);
    EXPECT_NE(addr_error("198.18.0.256").find("not an IP address"), std::string::npos);
    EXPECT_NE(addr_error("plc.example").find("not an IP address"), std::string::npos);
    EXPECT_NE(addr_error("!").find("unexpected end"), std::string::npos);
    EXPECT_NE(addr_error("!any").find("matches no address"), std::string::npos);
    EXPECT_NE(addr_error("[198.18.0.1, !198.18.0.1]").find("matches no address"), std::string::npos);
    EXPECT_NE(addr_error("[198.18.0.0/24, !198.18.0.0/16]").find("matches no address"), std::string::npos);
}

TEST(AddressSpec, HostileInput) {
    // Nesting beyond the limit is an error, not a stack overflow.
    std::string deep(100000, '[');
    deep += "198.18.0.1";
    deep += std::string(100000, ']');
    EXPECT_NE(addr_error(deep).find("nested deeper than"), std::string::npos);
    std::string bangs(100000, '!');
    EXPECT_NE(addr_error(bangs + "198.18.0.1").find("nested deeper than"), std::string::npos);
    // Exactly at the limit still works.
    std::string ok(kMaxSpecNesting, '[');
    ok += "198.18.0.1";
    ok.append(kMaxSpecNesting, ']');
    EXPECT_TRUE(addr(ok).contains(ip("198.18.0.1")));

    // A chain of variables deeper than the limit.
    VarMap chain;
    for (int i = 0; i < 100; ++i) chain[fmt::format("V{}", i)] = fmt::format("$V{}", i + 1);
    chain["V100"] = "198.18.0.1";
    EXPECT_NE(addr_error("$V0", chain).find("nested deeper than"), std::string::npos);

    // Exponential references stay linear: each variable is resolved once.
    VarMap fan;
    fan["F0"] = "198.18.0.1";
    for (int i = 1; i <= 30; ++i) fan[fmt::format("F{}", i)] = fmt::format("[$F{0},$F{0}]", i - 1);
    EXPECT_TRUE(addr("$F30", fan).contains(ip("198.18.0.1")));

    // 10k elements.
    std::string big = "[";
    for (int i = 0; i < 10000; ++i) {
        if (i) big += ",";
        big += fmt::format("198.18.{}.{}", i / 256, i % 256);
    }
    big += ", !198.18.0.5]";
    auto set = addr(big);
    EXPECT_TRUE(set.contains(ip("198.18.39.15")));  // element 9999
    EXPECT_FALSE(set.contains(ip("198.18.0.5")));
    EXPECT_FALSE(set.contains(ip("198.18.39.16")));
    EXPECT_EQ(set.range_count(), 2u);  // merged around the hole

    // Garbage, including NUL and high bytes.
    const std::string garbage[] = {std::string("198.18.0.1\0", 11), "\xff\xfe", "[[[", "]]]", "$$$", "!!!", ",,,", "[!]", "[$]"};
    for (const auto& g : garbage) EXPECT_FALSE(parse_address_spec(g, {}).ok()) << g;
    // Errors stay short even for huge input.
    EXPECT_LT(addr_error(std::string(100000, 'x')).size(), 200u);
}

TEST(SpecResolver, SharesVariablesAcrossCallsAndRecoversFromErrors) {
    VarMap addr_vars = {{"HOME_NET", "[198.18.0.0/16]"}, {"EXTERNAL_NET", "!$HOME_NET"}, {"LOOP", "$LOOP"}};
    VarMap port_vars = {{"HTTP_PORTS", "[80,8080]"}, {"BAD", "70000"}};
    SpecResolver r(addr_vars, port_vars);
    for (int round = 0; round < 3; ++round) {
        auto home = r.address("$HOME_NET");
        ASSERT_TRUE(home.ok());
        EXPECT_TRUE(home->contains(ip("198.18.1.1")));
        auto ext = r.address("[$EXTERNAL_NET, 198.18.0.1]");
        ASSERT_TRUE(ext.ok());
        EXPECT_TRUE(ext->contains(ip("198.18.0.1")));
        EXPECT_FALSE(ext->contains(ip("198.18.0.2")));
        // An error leaves the resolver usable and is reported every time.
        auto loop = r.address("[198.18.0.1, $LOOP]");
        ASSERT_FALSE(loop.ok());
        EXPECT_EQ(loop.message(), "variable loop: $LOOP -> $LOOP");
        auto bad = r.port("$BAD");
        ASSERT_FALSE(bad.ok());
        EXPECT_EQ(bad.message(), "in $BAD: not a port (0-65535): '70000'");
        auto http = r.port("!$HTTP_PORTS");
        ASSERT_TRUE(http.ok());
        EXPECT_FALSE(http->contains(8080));
        EXPECT_TRUE(http->contains(8081));
        // The same results as the one-shot functions.
        EXPECT_EQ(r.address("$EXTERNAL_NET")->range_count(), parse_address_spec("$EXTERNAL_NET", addr_vars)->range_count());
    }
}

// ---- ports ----------------------------------------------------------------------------

TEST(PortSpec, NumbersRangesAndAny) {
    auto any = ports("any");
    EXPECT_TRUE(any.any());
    EXPECT_TRUE(any.contains(0));
    EXPECT_TRUE(any.contains(65535));
    auto one = ports("502");
    EXPECT_FALSE(one.any());
    EXPECT_TRUE(one.contains(502));
    EXPECT_FALSE(one.contains(503));
    auto r = ports("80:90");
    EXPECT_TRUE(r.contains(80));
    EXPECT_TRUE(r.contains(90));
    EXPECT_FALSE(r.contains(91));
    auto high = ports("1024:");
    EXPECT_TRUE(high.contains(1024));
    EXPECT_TRUE(high.contains(65535));
    EXPECT_FALSE(high.contains(1023));
    auto low = ports(":1023");
    EXPECT_TRUE(low.contains(0));
    EXPECT_TRUE(low.contains(1023));
    EXPECT_FALSE(low.contains(1024));
    EXPECT_TRUE(ports("0:65535").any());
    EXPECT_TRUE(ports("[0:100, 101:]").any());
    EXPECT_TRUE(ports("0").contains(0));
    EXPECT_TRUE(ports("65535").contains(65535));
}

TEST(PortSpec, ListsAndNegation) {
    auto l = ports("[80, 443, 8000:8080]");
    EXPECT_TRUE(l.contains(443));
    EXPECT_TRUE(l.contains(8040));
    EXPECT_FALSE(l.contains(81));
    EXPECT_EQ(l.ranges().size(), 3u);
    auto not22 = ports("!22");
    EXPECT_FALSE(not22.contains(22));
    EXPECT_TRUE(not22.contains(21));
    EXPECT_TRUE(not22.contains(23));
    EXPECT_FALSE(not22.contains(22));  // stored as the complement: 0-21, 23-65535
    EXPECT_EQ(not22.ranges().size(), 2u);
    auto hole = ports("[1024:, !8080]");
    EXPECT_TRUE(hole.contains(8079));
    EXPECT_FALSE(hole.contains(8080));
    EXPECT_FALSE(hole.contains(80));
    auto nested = ports("[1:1000, ![100:200, !150]]");
    EXPECT_TRUE(nested.contains(99));
    EXPECT_FALSE(nested.contains(100));
    EXPECT_TRUE(nested.contains(150));
    EXPECT_TRUE(nested.contains(201));
    EXPECT_FALSE(nested.contains(1001));
}

TEST(PortSpec, SuricataDefaultVariables) {
    VarMap vars = {{"HTTP_PORTS", "80"}, {"SHELLCODE_PORTS", "!80"}, {"FILE_DATA_PORTS", "[$HTTP_PORTS,110,143]"}};
    auto fd = ports("$FILE_DATA_PORTS", vars);
    EXPECT_TRUE(fd.contains(80));
    EXPECT_TRUE(fd.contains(110));
    EXPECT_TRUE(fd.contains(143));
    EXPECT_FALSE(fd.contains(111));
    auto sc = ports("$SHELLCODE_PORTS", vars);
    EXPECT_FALSE(sc.contains(80));
    EXPECT_TRUE(sc.contains(81));
    auto both = ports("[$SHELLCODE_PORTS, 80]", vars);
    EXPECT_TRUE(both.any());
}

TEST(PortSpec, Errors) {
    EXPECT_NE(port_error("65536").find("not a port"), std::string::npos);
    EXPECT_NE(port_error("99999999999999999999").find("not a port"), std::string::npos);
    EXPECT_NE(port_error("-1").find("not a port"), std::string::npos);
    EXPECT_NE(port_error("80:70000").find("bad port range"), std::string::npos);
    EXPECT_NE(port_error("90:80").find("backwards"), std::string::npos);
    EXPECT_NE(port_error(":").find("empty port range"), std::string::npos);
    EXPECT_NE(port_error("80:90:100").find("bad port range"), std::string::npos);
    EXPECT_NE(port_error("http").find("not a port"), std::string::npos);
    EXPECT_NE(port_error("[]").find("empty list"), std::string::npos);
    EXPECT_NE(port_error("[80").find("unbalanced"), std::string::npos);
    EXPECT_NE(port_error("80]").find("unbalanced"), std::string::npos);
    EXPECT_NE(port_error("!any").find("matches no port"), std::string::npos);
    EXPECT_NE(port_error("[80, !80]").find("matches no port"), std::string::npos);
    EXPECT_NE(port_error("$NOPE").find("unknown port variable $NOPE"), std::string::npos);
    VarMap loop = {{"P", "[$Q, 1]"}, {"Q", "[$P]"}};
    EXPECT_NE(port_error("$P", loop).find("variable loop: $P -> $Q -> $P"), std::string::npos);
}

TEST(PortSpec, HostileInput) {
    std::string deep(5000, '[');
    deep += "80";
    deep.append(5000, ']');
    EXPECT_NE(port_error(deep).find("nested deeper than"), std::string::npos);
    std::string big = "[";
    for (int i = 0; i < 10000; ++i) {
        if (i) big += ",";
        big += std::to_string(i * 2);
    }
    big += "]";
    auto p = ports(big);
    EXPECT_TRUE(p.contains(19998));
    EXPECT_FALSE(p.contains(19997));
    EXPECT_TRUE(p.contains(0));
    EXPECT_FALSE(p.contains(20000));
    EXPECT_EQ(p.ranges().size(), 10000u);
}

}  // namespace
}  // namespace sluice
