// Rule parser: every keyword, the header grammar (vars, lists, ranges,
// negation), and the error paths of hostile rule text.
#include <gtest/gtest.h>

#include <string>

#include "signatures/rule_parser.hpp"

namespace sluice {
namespace {

class RuleParserTest : public ::testing::Test {
protected:
    RuleParserTest() {
        classes.add_text(
            "config classification: trojan-activity,A Network Trojan was detected,1\n"
            "config classification: misc-activity,Misc activity,3\n"
            "config classification: bad-unknown,Potentially Bad Traffic, 2\n");
    }
    RuleParseOutcome parse(const std::string& text) {
        RuleParseContext ctx{&vars, &classes, "test.rules", 7};
        return parse_rule(text, ctx);
    }
    Rule ok(const std::string& text) {
        auto o = parse(text);
        EXPECT_TRUE(o.rule.has_value()) << text << "\n  -> " << counter_name(o.reason) << ": " << o.message;
        return o.rule ? std::move(*o.rule) : Rule{};
    }
    RuleError err(const std::string& text) {
        auto o = parse(text);
        EXPECT_FALSE(o.rule.has_value()) << text;
        return o.reason;
    }
    RuleVars vars;
    ClassificationTable classes;
};

IpAddr ip(const char* s) { return *IpAddr::parse(s); }

TEST_F(RuleParserTest, HeaderAndMeta) {
    Rule r = ok(R"(alert tcp $HOME_NET any -> $EXTERNAL_NET 80 (msg:"ET test \"quoted\"\; semi"; sid:2000001; rev:3; gid:1; classtype:trojan-activity; reference:url,example.com/x; reference:cve,2020-1; metadata:created_at 2020_01_01, deployment Perimeter; metadata:foo bar; target:dest_ip; tag:session,10,packets;))");
    EXPECT_EQ(r.action, RuleAction::alert);
    EXPECT_EQ(r.proto, RuleProto::tcp);
    EXPECT_EQ(r.msg, "ET test \"quoted\"; semi");
    EXPECT_EQ(r.sid, 2000001u);
    EXPECT_EQ(r.rev, 3u);
    EXPECT_EQ(r.classtype, "trojan-activity");
    EXPECT_EQ(r.classtype_index, 0);
    EXPECT_EQ(r.priority, 1);
    ASSERT_EQ(r.references.size(), 2u);
    EXPECT_EQ(r.references[0], "url,example.com/x");
    EXPECT_EQ(r.metadata, "created_at 2020_01_01, deployment Perimeter, foo bar");
    EXPECT_EQ(r.target, "dest_ip");
    EXPECT_EQ(r.notes.size(), 1u);
    EXPECT_EQ(r.line, 7u);
    EXPECT_TRUE(r.src.contains(ip("10.1.2.3")));
    EXPECT_FALSE(r.src.contains(ip("8.8.8.8")));
    EXPECT_TRUE(r.dst.contains(ip("8.8.8.8")));
    EXPECT_FALSE(r.dst.contains(ip("192.168.1.1")));
    EXPECT_TRUE(r.src_ports_any);
    EXPECT_TRUE(r.dst_ports.contains(80));
    EXPECT_FALSE(r.dst_ports.contains(81));
    EXPECT_EQ(r.point, InspectPoint::packet);
}

TEST_F(RuleParserTest, PriorityOverridesClasstype) {
    Rule r = ok(R"(alert ip any any -> any any (msg:"p"; priority:4; classtype:trojan-activity; sid:1;))");
    EXPECT_EQ(r.priority, 4);
    Rule r2 = ok(R"(alert ip any any -> any any (msg:"p"; classtype:bad-unknown; sid:1;))");
    EXPECT_EQ(r2.priority, 2);
}

TEST_F(RuleParserTest, Actions) {
    EXPECT_EQ(ok("drop tcp any any -> any any (sid:1;)").action, RuleAction::drop);
    EXPECT_EQ(ok("reject tcp any any -> any any (sid:1;)").action, RuleAction::reject);
    EXPECT_EQ(ok("rejectboth tcp any any -> any any (sid:1;)").action, RuleAction::reject);
    EXPECT_EQ(ok("pass tcp any any -> any any (sid:1;)").action, RuleAction::pass);
    EXPECT_EQ(err("log tcp any any -> any any (sid:1;)"), RuleError::unsupported_action);
    EXPECT_EQ(err("shout tcp any any -> any any (sid:1;)"), RuleError::syntax);
}

TEST_F(RuleParserTest, Protocols) {
    EXPECT_EQ(ok("alert udp any any -> any any (sid:1;)").proto, RuleProto::udp);
    EXPECT_EQ(ok("alert icmp any any -> any any (sid:1;)").proto, RuleProto::icmp);
    EXPECT_EQ(ok("alert ip any any -> any any (sid:1;)").proto, RuleProto::ip);
    Rule h = ok("alert http any any -> any any (sid:1;)");
    EXPECT_EQ(h.proto, RuleProto::app);
    EXPECT_EQ(h.app_proto, AppProto::http);
    EXPECT_EQ(h.point, InspectPoint::transaction);
    Rule m = ok("alert modbus any any -> any any (sid:1;)");
    EXPECT_EQ(m.point, InspectPoint::record);
    Rule tp = ok(R"(alert tcp-pkt any any -> any any (content:"x"; sid:1;))");
    EXPECT_EQ(tp.point, InspectPoint::packet);
    EXPECT_EQ(err("alert ftp-data any any -> any any (sid:1;)"), RuleError::unknown_protocol);
    EXPECT_EQ(err("alert gopher any any -> any any (sid:1;)"), RuleError::unknown_protocol);
}

TEST_F(RuleParserTest, AddressLists) {
    Rule r = ok("alert ip [10.0.0.0/8,!10.1.0.0/16,192.0.2.1] any <> ![$HOME_NET,2001:db8::/32] any (sid:1;)");
    EXPECT_TRUE(r.bidirectional);
    EXPECT_TRUE(r.src.contains(ip("10.2.0.1")));
    EXPECT_FALSE(r.src.contains(ip("10.1.5.5")));
    EXPECT_TRUE(r.src.contains(ip("192.0.2.1")));
    EXPECT_FALSE(r.src.contains(ip("192.0.2.2")));
    EXPECT_FALSE(r.dst.contains(ip("2001:db8::5")));
    EXPECT_FALSE(r.dst.contains(ip("172.16.0.1")));
    EXPECT_TRUE(r.dst.contains(ip("198.18.0.1")));
    Rule n = ok("alert ip [![10.0.0.0/8,!10.5.0.0/16]] any -> any any (sid:1;)");
    EXPECT_TRUE(n.src.contains(ip("10.5.1.1")));
    EXPECT_FALSE(n.src.contains(ip("10.6.1.1")));
    EXPECT_TRUE(n.src.contains(ip("8.8.8.8")));
    Rule range = ok("alert ip 198.18.0.10-198.18.0.20 any -> any any (sid:1;)");
    EXPECT_TRUE(range.src.contains(ip("198.18.0.15")));
    EXPECT_FALSE(range.src.contains(ip("198.18.0.21")));
    Rule spaced = ok("alert ip [198.18.0.1, 198.18.0.2] any -> any any (sid:1;)");
    EXPECT_TRUE(spaced.src.contains(ip("198.18.0.2")));
}

TEST_F(RuleParserTest, PortLists) {
    Rule r = ok("alert tcp any [1024:,!8080,$HTTP_PORTS] -> any [:100,443] (sid:1;)");
    EXPECT_TRUE(r.src_ports.contains(80));
    EXPECT_TRUE(r.src_ports.contains(5000));
    EXPECT_FALSE(r.src_ports.contains(8080));
    EXPECT_FALSE(r.src_ports.contains(1000));
    EXPECT_TRUE(r.dst_ports.contains(0));
    EXPECT_TRUE(r.dst_ports.contains(100));
    EXPECT_TRUE(r.dst_ports.contains(443));
    EXPECT_FALSE(r.dst_ports.contains(101));
    Rule n = ok("alert tcp any !$HTTP_PORTS -> any 1:3 (sid:1;)");
    EXPECT_FALSE(n.src_ports.contains(80));
    EXPECT_TRUE(n.src_ports.contains(81));
    EXPECT_TRUE(n.dst_ports.contains(2));
}

TEST_F(RuleParserTest, HeaderErrors) {
    EXPECT_EQ(err("alert tcp $NOPE any -> any any (sid:1;)"), RuleError::unknown_variable);
    EXPECT_EQ(err("alert tcp any $NOPE_PORTS -> any any (sid:1;)"), RuleError::unknown_variable);
    EXPECT_EQ(err("alert tcp 300.1.1.1 any -> any any (sid:1;)"), RuleError::bad_address);
    EXPECT_EQ(err("alert tcp 10.0.0.0/33 any -> any any (sid:1;)"), RuleError::bad_address);
    EXPECT_EQ(err("alert tcp [10.0.0.1 any -> any any (sid:1;)"), RuleError::syntax);
    EXPECT_EQ(err("alert tcp any 70000 -> any any (sid:1;)"), RuleError::bad_port);
    EXPECT_EQ(err("alert tcp any 90:80 -> any any (sid:1;)"), RuleError::bad_port);
    EXPECT_EQ(err("alert tcp any [!80,!$HTTP_PORTS,!0:65535] -> any any (sid:1;)"), RuleError::bad_port);
    EXPECT_EQ(err("alert tcp any any => any any (sid:1;)"), RuleError::syntax);
    EXPECT_EQ(err("alert tcp any any -> any (sid:1;)"), RuleError::syntax);
    EXPECT_EQ(err("alert tcp any any -> any any sid:1;"), RuleError::syntax);
    EXPECT_EQ(err("alert tcp any any -> any any (sid:1;"), RuleError::syntax);
}

TEST_F(RuleParserTest, VariableRecursionIsCaught) {
    vars.set_address("LOOP_A", "[$LOOP_B,10.0.0.1]");
    vars.set_address("LOOP_B", "$LOOP_A");
    EXPECT_EQ(err("alert ip $LOOP_A any -> any any (sid:1;)"), RuleError::bad_address);
    vars.set_port("PLOOP", "[$PLOOP]");
    EXPECT_EQ(err("alert tcp any $PLOOP -> any any (sid:1;)"), RuleError::bad_port);
    vars.set_address("DEEP", "[[[[10.0.0.1]]]]");
    EXPECT_TRUE(ok("alert ip $DEEP any -> any any (sid:1;)").src.contains(ip("10.0.0.1")));
}

TEST_F(RuleParserTest, ContentAndModifiers) {
    Rule r = ok(R"(alert tcp any any -> any any (content:"GET |20 2F|a\;b\"c\\"; nocase; offset:2; depth:20; content:!"evil"; distance:-1; within:10; content:"x|00|"; fast_pattern; startswith; content:"end"; endswith; rawbytes; sid:1;))");
    ASSERT_EQ(r.buffers.size(), 1u);
    const auto& el = r.buffers[0].elems;
    ASSERT_EQ(el.size(), 4u);
    EXPECT_EQ(el[0].bytes, std::string("GET  /a;b\"c\\"));
    EXPECT_TRUE(el[0].nocase);
    EXPECT_EQ(el[0].lower, "get  /a;b\"c\\");
    EXPECT_EQ(el[0].offset, 2);
    EXPECT_EQ(el[0].depth, 20);
    EXPECT_TRUE(el[1].negated);
    EXPECT_TRUE(el[1].relative);
    EXPECT_EQ(el[1].distance, -1);
    EXPECT_EQ(el[1].within, 10);
    EXPECT_EQ(el[2].bytes, std::string("x\0", 2));
    EXPECT_TRUE(el[2].fast_pattern);
    EXPECT_TRUE(el[2].startswith);
    EXPECT_TRUE(el[3].endswith);
    EXPECT_TRUE(r.buffers[0].needs_backtrack);
    EXPECT_EQ(r.point, InspectPoint::stream);
}

TEST_F(RuleParserTest, FastPatternForms) {
    Rule r = ok(R"(alert tcp any any -> any any (content:"abcdef"; fast_pattern:only; content:"longer-one"; fast_pattern:2,3; sid:1;))");
    EXPECT_TRUE(r.buffers[0].elems[0].fast_pattern_only);
    EXPECT_TRUE(r.buffers[0].elems[1].has_fp_chop);
    EXPECT_EQ(r.buffers[0].elems[1].fp_offset, 2u);
    EXPECT_EQ(r.buffers[0].elems[1].fp_length, 3u);
    EXPECT_EQ(err(R"(alert tcp any any -> any any (content:"abc"; fast_pattern:2,5; sid:1;))"), RuleError::bad_value);
}

TEST_F(RuleParserTest, ContentErrors) {
    EXPECT_EQ(err(R"(alert tcp any any -> any any (content:"abc; sid:1;))"), RuleError::bad_content);
    EXPECT_EQ(err(R"(alert tcp any any -> any any (content:abc; sid:1;))"), RuleError::bad_content);
    EXPECT_EQ(err(R"(alert tcp any any -> any any (content:"|4G|"; sid:1;))"), RuleError::bad_content);
    EXPECT_EQ(err(R"(alert tcp any any -> any any (content:"|414|"; sid:1;))"), RuleError::bad_content);
    EXPECT_EQ(err(R"(alert tcp any any -> any any (content:"|41 42"; sid:1;))"), RuleError::bad_content);
    EXPECT_EQ(err(R"(alert tcp any any -> any any (content:"a\qb"; sid:1;))"), RuleError::bad_content);
    EXPECT_EQ(err(R"(alert tcp any any -> any any (content:""; sid:1;))"), RuleError::bad_content);
    EXPECT_EQ(err("alert tcp any any -> any any (content:\"" + std::string(5000, 'A') + "\"; sid:1;)"), RuleError::content_too_long);
    EXPECT_EQ(err(R"(alert tcp any any -> any any (nocase; content:"a"; sid:1;))"), RuleError::bad_value);
    EXPECT_EQ(err(R"(alert tcp any any -> any any (content:"abcd"; depth:2; sid:1;))"), RuleError::bad_value);
    EXPECT_EQ(err(R"(alert tcp any any -> any any (content:"a"; content:"abcd"; within:2; sid:1;))"), RuleError::bad_value);
    EXPECT_EQ(err(R"(alert tcp any any -> any any (content:"a"; depth:5; distance:1; sid:1;))"), RuleError::bad_value);
    EXPECT_EQ(err(R"(alert tcp any any -> any any (content:"a"; depth:99999999999999999999999; sid:1;))"), RuleError::bad_value);
    EXPECT_EQ(err(R"(alert tcp any any -> any any (content:"a"; offset:-1; sid:1;))"), RuleError::bad_value);
    EXPECT_EQ(err(R"(alert tcp any any -> any any (content:"a"; depth:4; depth:5; sid:1;))"), RuleError::bad_value);
}

TEST_F(RuleParserTest, Pcre) {
    Rule r = ok(R"(alert tcp any any -> any any (content:"a"; pcre:"/^b[0-9]+c/Rsmi"; pcre:!"/x\"y/"; sid:1;))");
    const auto& el = r.buffers[0].elems;
    ASSERT_EQ(el.size(), 3u);
    EXPECT_EQ(el[1].kind, ElemKind::pcre);
    EXPECT_TRUE(el[1].relative);
    EXPECT_TRUE(el[1].pcre->caseless);
    EXPECT_TRUE(el[1].pcre->dotall);
    EXPECT_TRUE(el[1].pcre->multiline);
    EXPECT_EQ(el[1].pcre->pattern, "^b[0-9]+c");
    EXPECT_TRUE(el[2].negated);
    EXPECT_EQ(el[2].pcre->pattern, "x\"y");
    Rule u = ok(R"(alert http any any -> any any (pcre:"/\/admin\.php/Ui"; sid:1;))");
    ASSERT_EQ(u.buffers.size(), 1u);
    EXPECT_EQ(u.buffers[0].buffer, static_cast<int16_t>(AppBuffer::http_uri));
    EXPECT_EQ(u.point, InspectPoint::transaction);
    EXPECT_EQ(err(R"(alert tcp any any -> any any (pcre:"/(unclosed/"; sid:1;))"), RuleError::bad_pcre);
    EXPECT_EQ(err(R"(alert tcp any any -> any any (pcre:"/a/q"; sid:1;))"), RuleError::bad_pcre);
    EXPECT_EQ(err(R"(alert tcp any any -> any any (pcre:"abc"; sid:1;))"), RuleError::bad_pcre);
    EXPECT_EQ(err(R"(alert tcp any any -> any any (pcre:"/abc"; sid:1;))"), RuleError::bad_pcre);
    EXPECT_EQ(err(R"(alert tcp any any -> any any (pcre:/abc/; sid:1;))"), RuleError::bad_pcre);
}

TEST_F(RuleParserTest, StickyBuffersAndLegacyModifiers) {
    Rule r = ok(R"(alert http any any -> any any (flow:established,to_server; http.method; content:"POST"; http.uri; content:"/a"; bsize:>2; http.header; content:"X-Y|3a|"; http.host; content:"example"; http.user_agent; content:"curl"; http.request_body; content:"k=v"; sid:1;))");
    EXPECT_EQ(r.point, InspectPoint::transaction);
    EXPECT_EQ(r.app_proto, AppProto::http);
    ASSERT_EQ(r.buffers.size(), 6u);
    EXPECT_TRUE(r.buffers[1].bsize.has_value() || r.buffers[0].bsize.has_value() || r.buffers[2].bsize.has_value());
    Rule l = ok(R"(alert tcp any any -> any 80 (content:"GET"; http_method; content:"/x.php"; http_uri; nocase; content:"foo"; http_client_body; content:"Host|3a|"; http_header; sid:1;))");
    EXPECT_EQ(l.point, InspectPoint::transaction);
    ASSERT_EQ(l.buffers.size(), 4u);
    for (const auto& b : l.buffers) EXPECT_NE(b.buffer, kPayloadBuffer);
    Rule d = ok(R"(alert dns any any -> any any (dns.query; dotprefix; content:".evil.com"; endswith; sid:1;))");
    EXPECT_TRUE(d.buffers[0].dotprefix);
    Rule t = ok(R"(alert tls any any -> any any (tls.sni; content:"x.example"; tls_cert_subject; content:"CN="; sid:1;))");
    EXPECT_EQ(t.app_proto, AppProto::tls);
    Rule f = ok(R"(alert http any any -> any any (flow:to_client; file_data; content:"MZ"; within:2; pkt_data; sid:1;))");
    EXPECT_EQ(f.buffers[0].buffer, static_cast<int16_t>(AppBuffer::file_data));
    Rule urilen = ok(R"(alert http any any -> any any (urilen:>100; sid:1;))");
    ASSERT_EQ(urilen.buffers.size(), 1u);
    EXPECT_TRUE(urilen.buffers[0].urilen.has_value());
    EXPECT_EQ(err(R"(alert http any any -> any any (tls.certs; content:"x"; sid:1;))"), RuleError::unsupported_buffer);
    EXPECT_EQ(err(R"(alert http any any -> any any (content:"x"; http.uri; content:"y"; sid:1;))"), RuleError::unsupported_combination);
    EXPECT_EQ(err(R"(alert dns any any -> any any (http.uri; content:"y"; sid:1;))"), RuleError::unsupported_combination);
    EXPECT_EQ(err(R"(alert tcp any any -> any any (http_uri; sid:1;))"), RuleError::bad_value);
}

TEST_F(RuleParserTest, FlowAndStreamSelection) {
    Rule r = ok(R"(alert tcp any any -> any any (flow:established,from_client,only_stream; content:"x"; sid:1;))");
    EXPECT_EQ(r.flow, flow_flag::established | flow_flag::to_server | flow_flag::only_stream);
    EXPECT_EQ(r.point, InspectPoint::stream);
    EXPECT_EQ(ok(R"(alert tcp any any -> any any (flow:no_stream,to_client; content:"x"; sid:1;))").point, InspectPoint::packet);
    EXPECT_EQ(ok(R"(alert tcp any any -> any any (dsize:>10; content:"x"; sid:1;))").point, InspectPoint::packet);
    EXPECT_EQ(ok(R"(alert udp any any -> any any (content:"x"; sid:1;))").point, InspectPoint::packet);
    EXPECT_EQ(ok(R"(alert tcp any any -> any any (flow:stateless; flags:S; content:"x"; sid:1;))").point, InspectPoint::packet);
    EXPECT_EQ(err(R"(alert tcp any any -> any any (flow:to_server,to_client; sid:1;))"), RuleError::bad_value);
    EXPECT_EQ(err(R"(alert tcp any any -> any any (flow:only_stream,no_stream; sid:1;))"), RuleError::bad_value);
    EXPECT_EQ(err(R"(alert tcp any any -> any any (flow:sideways; sid:1;))"), RuleError::bad_value);
    EXPECT_EQ(err(R"(alert tcp any any -> any any (flow:no_frag; sid:1;))"), RuleError::unsupported_keyword);
}

TEST_F(RuleParserTest, NumericKeywords) {
    Rule r = ok(R"(alert tcp any any -> any any (dsize:10<>20; ttl:<5; flags:SA+,CE; ack:0; seq:100; window:!1024; id:7; ip_proto:tcp; sid:1;))");
    ASSERT_TRUE(r.dsize);
    EXPECT_TRUE(r.dsize->match(11));
    EXPECT_FALSE(r.dsize->match(10));
    EXPECT_FALSE(r.dsize->match(20));
    EXPECT_TRUE(r.ttl->match(4));
    EXPECT_FALSE(r.ttl->match(5));
    ASSERT_TRUE(r.tcp_flags);
    EXPECT_TRUE(r.tcp_flags->match(0x12));
    EXPECT_TRUE(r.tcp_flags->match(0x12 | 0x08));
    EXPECT_TRUE(r.tcp_flags->match(0x12 | 0x80));  // C ignored
    EXPECT_FALSE(r.tcp_flags->match(0x02));
    EXPECT_TRUE(r.window->match(1));
    EXPECT_FALSE(r.window->match(1024));
    EXPECT_TRUE(r.ip_proto->match(6));
    Rule i = ok(R"(alert icmp any any -> any any (itype:8; icode:0; icmp_id:5; icmp_seq:>1; sid:1;))");
    EXPECT_TRUE(i.itype->match(8));
    EXPECT_TRUE(i.icmp_seq->match(2));
    Rule f = ok(R"(alert tcp any any -> any any (flags:!R; sid:1;))");
    EXPECT_TRUE(f.tcp_flags->match(0x02));
    EXPECT_FALSE(f.tcp_flags->match(0x04));
    Rule s = ok(R"(alert tcp any any -> any any (flags:*SF; sid:1;))");
    EXPECT_TRUE(s.tcp_flags->match(0x01));
    EXPECT_FALSE(s.tcp_flags->match(0x10));
    Rule z = ok(R"(alert tcp any any -> any any (flags:0; sid:1;))");
    EXPECT_TRUE(z.tcp_flags->match(0));
    EXPECT_EQ(err(R"(alert tcp any any -> any any (dsize:99999999; sid:1;))"), RuleError::bad_value);
    EXPECT_EQ(err(R"(alert tcp any any -> any any (dsize:20<>10; sid:1;))"), RuleError::bad_value);
    EXPECT_EQ(err(R"(alert tcp any any -> any any (flags:SQ; sid:1;))"), RuleError::bad_value);
    EXPECT_EQ(err(R"(alert tcp any any -> any any (ttl:abc; sid:1;))"), RuleError::bad_value);
    EXPECT_EQ(err(R"(alert tcp any any -> any any (itype:8; sid:1;))"), RuleError::unsupported_combination);
    EXPECT_EQ(err(R"(alert tcp any any -> any any (ip_proto:nonsense; sid:1;))"), RuleError::bad_value);
}

TEST_F(RuleParserTest, ByteKeywords) {
    Rule r = ok(R"(alert tcp any any -> any any (content:"|00|"; byte_extract:2,0,len,relative,little; byte_test:4,>,len,0,relative,big; byte_test:2,!&,0x8000,2,string,hex; byte_jump:2,1,relative,multiplier 2,align,post_offset -1,little; byte_jump:4,0,from_beginning,bitmask 0x0ff0; isdataat:!10,relative; isdataat:len; sid:1;))");
    const auto& el = r.buffers[0].elems;
    ASSERT_EQ(el.size(), 8u);
    EXPECT_EQ(el[1].kind, ElemKind::byte_extract);
    EXPECT_EQ(el[1].byte.store_var, 0);
    EXPECT_TRUE(el[1].byte.little);
    EXPECT_EQ(el[2].byte.value_var, 0);
    EXPECT_EQ(el[2].byte.op, '>');
    EXPECT_TRUE(el[3].byte.op_negated);
    EXPECT_EQ(el[3].byte.op, '&');
    EXPECT_EQ(el[3].byte.base, 16);
    EXPECT_EQ(el[4].byte.multiplier, 2u);
    EXPECT_EQ(el[4].byte.post_offset, -1);
    EXPECT_TRUE(el[4].byte.align);
    EXPECT_EQ(el[5].byte.bitmask, 0x0ff0u);
    EXPECT_TRUE(el[6].negated);
    EXPECT_EQ(el[6].isdataat, 10u);
    EXPECT_EQ(el[7].byte.offset_var, 0);
    EXPECT_EQ(err(R"(alert tcp any any -> any any (byte_test:4,>,1; sid:1;))"), RuleError::bad_value);
    EXPECT_EQ(err(R"(alert tcp any any -> any any (byte_test:9,>,1,0; sid:1;))"), RuleError::bad_value);
    EXPECT_EQ(err(R"(alert tcp any any -> any any (byte_test:4,~,1,0; sid:1;))"), RuleError::bad_value);
    EXPECT_EQ(err(R"(alert tcp any any -> any any (byte_test:4,>,nosuchvar,0; sid:1;))"), RuleError::bad_value);
    EXPECT_EQ(err(R"(alert tcp any any -> any any (byte_jump:4,0,sideways; sid:1;))"), RuleError::bad_value);
    EXPECT_EQ(err(R"(alert tcp any any -> any any (byte_extract:2,0,1bad; sid:1;))"), RuleError::bad_value);
    EXPECT_EQ(err(R"(alert tcp any any -> any any (isdataat:x; sid:1;))"), RuleError::bad_value);
}

TEST_F(RuleParserTest, FlowbitsThresholdsAndMore) {
    Rule r = ok(R"(alert tcp any any -> any any (flowbits:set,a&b; flowbits:isset,c|d; flowbits:noalert; threshold:type both, track by_dst, count 5, seconds 60; detection_filter:track by_src, count 3, seconds 10; app-layer-protocol:!http; sid:1;))");
    ASSERT_EQ(r.flowbits.size(), 2u);
    EXPECT_EQ(r.flowbits[0].names.size(), 2u);
    EXPECT_TRUE(r.flowbits[1].any_of);
    EXPECT_TRUE(r.noalert);
    ASSERT_TRUE(r.threshold);
    EXPECT_EQ(r.threshold->type, ThresholdType::both);
    EXPECT_EQ(r.threshold->track, ThresholdTrack::by_dst);
    EXPECT_EQ(r.threshold->count, 5u);
    ASSERT_TRUE(r.detection_filter);
    EXPECT_EQ(r.detection_filter->seconds, 10u);
    EXPECT_TRUE(r.app_layer_protocol_negated);
    EXPECT_EQ(*r.app_layer_protocol, AppProto::http);
    EXPECT_EQ(err(R"(alert tcp any any -> any any (flowbits:set; sid:1;))"), RuleError::bad_value);
    EXPECT_EQ(err(R"(alert tcp any any -> any any (flowbits:juggle,a; sid:1;))"), RuleError::bad_value);
    EXPECT_EQ(err(R"(alert tcp any any -> any any (flowbits:set,a|b; sid:1;))"), RuleError::bad_value);
    EXPECT_EQ(err(R"(alert tcp any any -> any any (threshold:type limit, count 1, seconds 60; sid:1;))"), RuleError::bad_value);
    EXPECT_EQ(err(R"(alert tcp any any -> any any (threshold:type often, track by_src, count 1, seconds 60; sid:1;))"), RuleError::bad_value);
    EXPECT_EQ(err(R"(alert tcp any any -> any any (threshold:type limit, track by_src, count 0, seconds 60; sid:1;))"), RuleError::bad_value);
    EXPECT_EQ(err(R"(alert tcp any any -> any any (app-layer-protocol:gopher; sid:1;))"), RuleError::unknown_protocol);
}

TEST_F(RuleParserTest, OptionListErrors) {
    EXPECT_EQ(err(R"(alert tcp any any -> any any (msg:"no sid";))"), RuleError::missing_sid);
    EXPECT_EQ(err(R"(alert tcp any any -> any any (sid:0;))"), RuleError::bad_value);
    EXPECT_EQ(err(R"(alert tcp any any -> any any (sid:4294967296;))"), RuleError::bad_value);
    EXPECT_EQ(err(R"(alert tcp any any -> any any (sid:abc;))"), RuleError::bad_value);
    EXPECT_EQ(err(R"(alert tcp any any -> any any (frobnicate:1; sid:1;))"), RuleError::unknown_keyword);
    EXPECT_EQ(err(R"(alert tcp any any -> any any (xbits:set,a,track ip_src; sid:1;))"), RuleError::unsupported_keyword);
    EXPECT_EQ(err(R"(alert tcp any any -> any any (classtype:no-such-class; sid:1;))"), RuleError::unknown_classtype);
    EXPECT_EQ(err(R"(alert tcp any any -> any any (msg:"x"; sid:1))"), RuleError::syntax);
    EXPECT_EQ(err(R"(alert tcp any any -> any any (:1; sid:1;))"), RuleError::syntax);
    EXPECT_EQ(err(R"(alert tcp any any -> any any (m$g:1; sid:1;))"), RuleError::syntax);
    EXPECT_EQ(err(R"(alert tcp any any -> any any (reference:nocomma; sid:1;))"), RuleError::bad_value);
    EXPECT_EQ(err(R"(alert tcp any any -> any any (target:middle; sid:1;))"), RuleError::bad_value);
    auto o = parse(R"(alert tcp any any -> any any (frob; sid:42;))");
    EXPECT_EQ(o.sid, 42u);  // the sid is reported even when parsing fails earlier
    EXPECT_EQ(err(std::string("alert tcp any any -> any any (") + std::string(70000, ' ') + "sid:1;)"), RuleError::syntax);
}

TEST_F(RuleParserTest, IpOnlyClassification) {
    EXPECT_TRUE(ok("alert ip [198.18.0.1,198.18.0.2] any -> $HOME_NET any (msg:\"x\"; threshold:type limit, track by_src, count 1, seconds 60; sid:1;)").ip_only);
    EXPECT_FALSE(ok("alert tcp any any -> any 80 (sid:1;)").ip_only);
    EXPECT_FALSE(ok(R"(alert ip any any -> any any (content:"x"; sid:1;))").ip_only);
}

TEST(Classification, ParsesAndRejectsBadLines) {
    ClassificationTable t;
    std::vector<std::string> errors;
    EXPECT_EQ(t.add_text("# comment\n\nconfig classification: a,Alpha,1\nconfig classification: b,Beta with, comma,2\nbogus line\nconfig classification: c,Gamma,0\n", &errors), 2u);
    EXPECT_EQ(errors.size(), 2u);
    ASSERT_EQ(t.entries().size(), 2u);
    EXPECT_EQ(t.entries()[1].description, "Beta with, comma");
    EXPECT_EQ(t.find("b"), 1);
    EXPECT_EQ(t.find("zz"), -1);
}

}  // namespace
}  // namespace sluice
