// OtPolicy: the policy file format (assets, zones, rules), its one-line
// located errors, rule semantics (first match, deny rules, functions by name
// or code, access classes, units and address ranges with `none`, S7 area
// units), zones and candidate caching; decisions on records made by the real
// Modbus and S7comm decoders.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "detectors/modbus/modbus_decoder.hpp"
#include "detectors/ot_policy/ot_policy.hpp"
#include "detectors/s7comm/s7comm_decoder.hpp"

namespace sluice {
namespace {

IpAddr ip(const char* s) { return *IpAddr::parse(s); }

OtOperation op(std::string_view fn, uint32_t code, OtAccess access, int unit = -1, int64_t first = -1, int64_t last = -1) {
    OtOperation o;
    o.function = fn;
    o.function_code = code;
    o.access = access;
    o.is_request = true;
    if (unit >= 0) {
        o.has_unit = true;
        o.unit = static_cast<uint32_t>(unit);
    }
    if (first >= 0) {
        o.has_address = true;
        o.address_first = static_cast<uint32_t>(first);
        o.address_last = static_cast<uint32_t>(last >= 0 ? last : first);
    }
    return o;
}

const int kModbus = policy_proto_index(AppProto::modbus);
const int kS7 = policy_proto_index(AppProto::s7comm);

// The issue's example: the HMI reads holding registers 0-199 of unit 1, the
// engineering station may also write, nobody stops the S7 PLC or downloads.
constexpr std::string_view kExample = R"(version: 1
default-action: alert
assets:
  hmi: 198.18.5.10
  engineering: 198.18.5.11
  plcs: [198.18.5.20, 198.18.5.21]
  s7_plc: 198.18.5.30
zones:
  - name: cell_1
    addresses: [plcs, s7_plc]
    action: drop-flow
rules:
  - name: nobody-stops-or-programs-the-s7
    action: deny
    protocol: s7comm
    functions: [plc_stop, request_download, download_block]
  - name: hmi-reads
    clients: hmi
    servers: plcs
    protocol: modbus
    functions: [read_holding_registers]
    units: [1]
    addresses: [0-199]
  - name: engineering-reads-and-writes
    clients: engineering
    servers: $plcs
    protocol: modbus
    access: [read, write]
  - name: engineering-s7
    clients: engineering
    servers: s7_plc
    protocol: s7comm
)";

std::shared_ptr<const OtPolicy> example() {
    auto p = OtPolicy::parse(kExample, "example.yaml", {});
    EXPECT_TRUE(p) << p.message();
    return p ? *p : nullptr;
}

TEST(OtPolicy, ExampleFromTheIssue) {
    auto p = example();
    ASSERT_TRUE(p);
    EXPECT_EQ(p->rules().size(), 4u);
    EXPECT_EQ(p->zones().size(), 1u);
    EXPECT_EQ(p->default_action(), OtAction::alert);
    const IpAddr hmi = ip("198.18.5.10"), eng = ip("198.18.5.11"), plc = ip("198.18.5.20"), plc2 = ip("198.18.5.21"),
                 s7 = ip("198.18.5.30"), stranger = ip("198.18.5.99");
    const auto read = op("read_holding_registers", 3, OtAccess::read, 1, 0, 9);
    // The HMI reads inside its range of unit 1, from both PLCs.
    auto d = p->decide(hmi, plc, kModbus, read);
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.rule, 1);
    EXPECT_TRUE(p->decide(hmi, plc2, kModbus, op("read_holding_registers", 3, OtAccess::read, 1, 199)).allowed);
    // ... but not past 199, not unit 2, not coils, not a write.
    EXPECT_FALSE(p->decide(hmi, plc, kModbus, op("read_holding_registers", 3, OtAccess::read, 1, 150, 250)).allowed);
    EXPECT_FALSE(p->decide(hmi, plc, kModbus, op("read_holding_registers", 3, OtAccess::read, 2, 0, 9)).allowed);
    EXPECT_FALSE(p->decide(hmi, plc, kModbus, op("read_coils", 1, OtAccess::read, 1, 0, 9)).allowed);
    d = p->decide(hmi, plc, kModbus, op("write_single_register", 6, OtAccess::write, 1, 10));
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.rule, -1);  // no rule matched: the zone's action applies
    // The engineering station reads and writes anything, but no diagnostics.
    EXPECT_TRUE(p->decide(eng, plc, kModbus, op("write_multiple_registers", 16, OtAccess::write, 7, 500, 510)).allowed);
    EXPECT_TRUE(p->decide(eng, plc, kModbus, read).allowed);
    EXPECT_FALSE(p->decide(eng, plc, kModbus, op("diagnostics", 8, OtAccess::control, 1)).allowed);
    // A stranger gets nothing; the HMI's rule is for the PLCs only.
    EXPECT_FALSE(p->decide(stranger, plc, kModbus, read).allowed);
    EXPECT_FALSE(p->decide(hmi, s7, kModbus, read).allowed);
    // S7: the engineering station may do anything except stop and download.
    EXPECT_TRUE(p->decide(eng, s7, kS7, op("read_var", 4, OtAccess::read, 0x840001, 0, 3)).allowed);
    d = p->decide(eng, s7, kS7, op("plc_stop", 0x29, OtAccess::control));
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.rule, 0);
    EXPECT_EQ(p->rules()[0].name, "nobody-stops-or-programs-the-s7");
    EXPECT_EQ(p->rules()[0].where, "example.yaml:13:5");
    EXPECT_FALSE(p->decide(eng, s7, kS7, op("download_block", 0x1b, OtAccess::program)).allowed);
    EXPECT_TRUE(p->decide(eng, s7, kS7, op("plc_start", 0x28, OtAccess::control)).allowed);
}

TEST(OtPolicy, ZonesByServerThenClient) {
    auto p = example();
    ASSERT_TRUE(p);
    EXPECT_EQ(p->zone_of(ip("198.18.5.10"), ip("198.18.5.20")), 0);
    EXPECT_EQ(p->zone_of(ip("198.18.5.30"), ip("198.18.9.9")), 0);  // a PLC as the client
    EXPECT_EQ(p->zone_of(ip("198.18.9.1"), ip("198.18.9.2")), -1);
    EXPECT_EQ(p->action_of(0), OtAction::drop_flow);
    EXPECT_EQ(p->action_of(-1), OtAction::alert);
    EXPECT_EQ(p->zone_name(0), "cell_1");
    EXPECT_EQ(p->zone_name(-1), "default");
}

TEST(OtPolicy, CandidatesGiveTheSameDecisionsAsTheFullScan) {
    auto p = example();
    ASSERT_TRUE(p);
    const std::vector<const char*> hosts = {"198.18.5.10", "198.18.5.11", "198.18.5.20", "198.18.5.30", "198.18.5.99"};
    const std::vector<std::pair<int, OtOperation>> ops = {
        {kModbus, op("read_holding_registers", 3, OtAccess::read, 1, 0, 9)},
        {kModbus, op("read_holding_registers", 3, OtAccess::read, 1, 190, 200)},
        {kModbus, op("write_single_register", 6, OtAccess::write, 1, 5)},
        {kS7, op("plc_stop", 0x29, OtAccess::control)},
        {kS7, op("read_var", 4, OtAccess::read, 0x830000, 16, 19)},
    };
    for (const char* c : hosts)
        for (const char* s : hosts)
            for (const auto& [proto, o] : ops) {
                uint32_t cand[8];
                const size_t n = p->candidates(ip(c), ip(s), proto, cand);
                ASSERT_LE(n, 8u);
                const OtDecision a = p->decide(std::span<const uint32_t>(cand, n), o);
                const OtDecision b = p->decide(ip(c), ip(s), proto, o);
                EXPECT_EQ(a.allowed, b.allowed) << c << " -> " << s << " " << o.function;
                EXPECT_EQ(a.rule, b.rule) << c << " -> " << s << " " << o.function;
            }
    // The count is reported even when the buffer is too small.
    uint32_t one[1];
    EXPECT_EQ(p->candidates(ip("198.18.5.11"), ip("198.18.5.30"), kS7, one), 2u);
    EXPECT_EQ(one[0], 0u);
}

TEST(OtPolicy, FunctionsByNameOrCodeAndAccessClasses) {
    auto p = OtPolicy::parse(R"(rules:
  - protocol: modbus
    functions: [3, write_single_coil, 0x41]
  - protocol: [dnp3, iec104]
    access: [read, diagnostic]
)", "f.yaml", {});
    ASSERT_TRUE(p) << p.message();
    const IpAddr a = ip("198.18.0.1"), b = ip("198.18.0.2");
    EXPECT_TRUE((*p)->decide(a, b, kModbus, op("read_holding_registers", 3, OtAccess::read, 1, 0)).allowed);
    EXPECT_TRUE((*p)->decide(a, b, kModbus, op("write_single_coil", 5, OtAccess::write, 1, 0)).allowed);
    EXPECT_TRUE((*p)->decide(a, b, kModbus, op("user_defined_function", 65, OtAccess::other, 1)).allowed);
    EXPECT_FALSE((*p)->decide(a, b, kModbus, op("user_defined_function", 66, OtAccess::other, 1)).allowed);
    EXPECT_FALSE((*p)->decide(a, b, kModbus, op("read_coils", 1, OtAccess::read, 1, 0)).allowed);
    const int dnp3 = policy_proto_index(AppProto::dnp3), iec = policy_proto_index(AppProto::iec104);
    EXPECT_TRUE((*p)->decide(a, b, dnp3, op("read", 1, OtAccess::read, 10)).allowed);
    EXPECT_TRUE((*p)->decide(a, b, iec, op("testfr_act", 0x40, OtAccess::diagnostic)).allowed);
    EXPECT_FALSE((*p)->decide(a, b, dnp3, op("direct_operate", 5, OtAccess::control, 10)).allowed);
    EXPECT_FALSE((*p)->decide(a, b, policy_proto_index(AppProto::enip), op("get_attribute_single", 14, OtAccess::read)).allowed);
}

TEST(OtPolicy, UnitsAndAddressesWithNone) {
    auto p = OtPolicy::parse(R"(rules:
  - name: with-none
    protocol: enip
    units: [none, 1, 0x64-0x66]
    addresses: [none, 1-3]
  - name: ranges
    protocol: modbus
    units: 1
    addresses: [0-9, 10-19, 100]
)", "u.yaml", {});
    ASSERT_TRUE(p) << p.message();
    const IpAddr a = ip("198.18.0.1"), b = ip("198.18.0.2");
    const int enip = policy_proto_index(AppProto::enip);
    EXPECT_TRUE((*p)->decide(a, b, enip, op("list_identity", 0x63, OtAccess::diagnostic)).allowed);
    EXPECT_TRUE((*p)->decide(a, b, enip, op("get_attribute_single", 14, OtAccess::read, 0x65, 2)).allowed);
    EXPECT_FALSE((*p)->decide(a, b, enip, op("get_attribute_single", 14, OtAccess::read, 0x67, 2)).allowed);
    EXPECT_FALSE((*p)->decide(a, b, enip, op("get_attribute_single", 14, OtAccess::read, 1, 4)).allowed);
    // Adjacent ranges merge: 5-15 lies inside 0-19.
    EXPECT_TRUE((*p)->decide(a, b, kModbus, op("read_coils", 1, OtAccess::read, 1, 5, 15)).allowed);
    EXPECT_TRUE((*p)->decide(a, b, kModbus, op("read_coils", 1, OtAccess::read, 1, 100)).allowed);
    EXPECT_FALSE((*p)->decide(a, b, kModbus, op("read_coils", 1, OtAccess::read, 1, 19, 20)).allowed);
    EXPECT_FALSE((*p)->decide(a, b, kModbus, op("read_coils", 1, OtAccess::read, 1, 99, 100)).allowed);
    // A rule with addresses does not match an operation that carries none
    // unless it lists `none`.
    EXPECT_FALSE((*p)->decide(a, b, kModbus, op("read_exception_status", 7, OtAccess::diagnostic, 1)).allowed);
    EXPECT_FALSE((*p)->decide(a, b, kModbus, op("read_coils", 1, OtAccess::read, -1, 0)).allowed);
}

TEST(OtPolicy, S7AreaUnits) {
    uint32_t u = 0;
    EXPECT_TRUE(parse_s7_unit("DB1", u));
    EXPECT_EQ(u, 0x840001u);
    EXPECT_TRUE(parse_s7_unit("DI300", u));
    EXPECT_EQ(u, 0x85012Cu);
    EXPECT_TRUE(parse_s7_unit("M", u));
    EXPECT_EQ(u, 0x830000u);
    EXPECT_TRUE(parse_s7_unit("Q", u));
    EXPECT_EQ(u, 0x820000u);
    EXPECT_FALSE(parse_s7_unit("DB", u));
    EXPECT_FALSE(parse_s7_unit("DB70000", u));
    EXPECT_FALSE(parse_s7_unit("M1", u));
    EXPECT_FALSE(parse_s7_unit("XYZ", u));
    for (uint32_t v : {0x840001u, 0x85012Cu, 0x830000u, 0x810000u, 0x1c0000u, 0x1d0000u}) {
        const std::string s = format_s7_unit(v);
        ASSERT_FALSE(s.empty()) << std::hex << v;
        ASSERT_TRUE(parse_s7_unit(s, u)) << s;
        EXPECT_EQ(u, v) << s;
    }
    EXPECT_EQ(format_s7_unit(0x990000), "");
    auto p = OtPolicy::parse("rules:\n  - protocol: s7comm\n    units: [DB1-DB3, M]\n", "s7.yaml", {});
    ASSERT_TRUE(p) << p.message();
    const IpAddr a = ip("198.18.0.1"), b = ip("198.18.0.2");
    EXPECT_TRUE((*p)->decide(a, b, kS7, op("read_var", 4, OtAccess::read, 0x840002, 0, 3)).allowed);
    EXPECT_TRUE((*p)->decide(a, b, kS7, op("write_var", 5, OtAccess::write, 0x830000, 0, 3)).allowed);
    EXPECT_FALSE((*p)->decide(a, b, kS7, op("read_var", 4, OtAccess::read, 0x840004, 0, 3)).allowed);
    // Area names only where the rule is for S7.
    auto bad = OtPolicy::parse("rules:\n  - protocol: modbus\n    units: [DB1]\n", "m.yaml", {});
    EXPECT_FALSE(bad);
}

TEST(OtPolicy, AddressSpecsUseAssetsAndConfigVariables) {
    VarMap vars;
    vars["PLANT"] = "198.18.5.0/24";
    auto p = OtPolicy::parse(R"(assets:
  office: "[198.18.0.0/24, !198.18.0.66]"
  both: [office, $PLANT]
rules:
  - clients: both
    servers: "!198.18.5.20"
  - clients: [office, 2001:db8::1]
)", "v.yaml", vars);
    ASSERT_TRUE(p) << p.message();
    const auto rd = op("read_coils", 1, OtAccess::read, 1, 0);
    EXPECT_TRUE((*p)->decide(ip("198.18.0.5"), ip("198.18.5.21"), kModbus, rd).allowed);
    EXPECT_TRUE((*p)->decide(ip("198.18.5.7"), ip("198.18.5.21"), kModbus, rd).allowed);
    EXPECT_FALSE((*p)->decide(ip("198.18.0.66"), ip("198.18.5.21"), kModbus, rd).allowed);
    EXPECT_TRUE((*p)->decide(ip("198.18.0.5"), ip("198.18.5.20"), kModbus, rd).allowed);  // rule 2
    EXPECT_EQ((*p)->decide(ip("198.18.0.5"), ip("198.18.5.20"), kModbus, rd).rule, 1);
    EXPECT_TRUE((*p)->decide(ip("2001:db8::1"), ip("198.18.5.20"), kModbus, rd).allowed);
    EXPECT_FALSE((*p)->decide(ip("198.18.1.1"), ip("198.18.5.21"), kModbus, rd).allowed);
}

TEST(OtPolicy, EmptyRulesDenyEverythingAndAllowZonesAreNotJudged) {
    auto p = OtPolicy::parse("default-action: drop-flow\nzones:\n  - name: lab\n    addresses: 198.18.9.0/24\n    action: allow\n",
                             "e.yaml", {});
    ASSERT_TRUE(p) << p.message();
    EXPECT_FALSE((*p)->decide(ip("198.18.0.1"), ip("198.18.0.2"), kModbus, op("read_coils", 1, OtAccess::read, 1, 0)).allowed);
    EXPECT_EQ((*p)->action_of((*p)->zone_of(ip("198.18.0.1"), ip("198.18.9.2"))), OtAction::allow);
    EXPECT_EQ((*p)->action_of((*p)->zone_of(ip("198.18.0.1"), ip("198.18.0.2"))), OtAction::drop_flow);
}

TEST(OtPolicy, ActionsParseBothSpellings) {
    for (auto [text, a] : std::vector<std::pair<std::string_view, OtAction>>{
             {"allow", OtAction::allow}, {"alert", OtAction::alert}, {"drop-packet", OtAction::drop_packet},
             {"drop_flow", OtAction::drop_flow}, {"reject", OtAction::reject}}) {
        auto r = parse_ot_action(text);
        ASSERT_TRUE(r) << text;
        EXPECT_EQ(*r, a);
    }
    EXPECT_FALSE(parse_ot_action("drop"));
    EXPECT_EQ(to_string(OtAction::drop_flow), "drop-flow");
    EXPECT_EQ(eve_name(OtAction::drop_flow), "drop_flow");
}

struct BadCase {
    const char* text;
    const char* expect;  // substring of the one-line error
};

TEST(OtPolicy, ErrorsAreOneLineWithFileAndLine) {
    const BadCase cases[] = {
        {"rules:\n  - protocol: modbus\n    colour: red\n", "bad.yaml:3:5: rules[0]: unknown key \"colour\""},
        {"default-action: explode\n", "bad.yaml:1:17: default-action: expected one of allow, alert"},
        {"zones:\n  - name: z\n    addresses: 198.18.0.0/33\n", "bad.yaml:3:16: zones[0].addresses:"},
        {"zones:\n  - name: z\n    action: alert\n", "bad.yaml:2:5: zones[0]: addresses is missing"},
        {"rules:\n  - clients: $NOPE\n", "bad.yaml:2:14: rules[0].clients:"},
        {"rules:\n  - addresses: [5-1]\n", "bad.yaml:2:17: rules[0].addresses: range \"5-1\" ends before it starts"},
        {"rules:\n  - units: [lots]\n", "bad.yaml:2:13: rules[0].units: expected a number"},
        {"rules:\n  - protocol: http\n", "bad.yaml:2:15: rules[0].protocol: \"http\" is not an OT protocol"},
        {"rules:\n  - name: a\n  - name: a\n", "bad.yaml:3:5: rules[1]: rule name \"a\" is given twice"},
        {"rules:\n  - functions: [Read Coils]\n", "bad.yaml:2:17: rules[0].functions: expected a function name"},
        {"rules:\n  - access: [look]\n", "bad.yaml:2:14: rules[0].access: expected read, write"},
        {"rules:\n  - action: maybe\n", "bad.yaml:2:13: rules[0].action: expected allow or deny"},
        {"rules:\n  - functions: []\n", "bad.yaml:2:16: rules[0].functions: the list is empty"},
        {"rules:\n  - clients: {a: b}\n", "bad.yaml:2:14: rules[0].clients: expected a value or a list"},
        {"assets:\n  a: $b\n  b: $a\n", "bad.yaml:2:6: assets.a:"},
        {"assets:\n  bad-name: 198.18.0.1\n", "bad.yaml:2:3: assets: \"bad-name\" is not a name"},
        {"version: 2\n", "bad.yaml:1:10: version: only version 1 exists"},
        {"rules: [\n", "bad.yaml:2:1:"},
        {"rules:\n  - name: x\n   bad: indentation\n", "bad.yaml:3:"},
        {"- just\n- a list\n", "bad.yaml:1:1: expected a map"},
        {"", "bad.yaml: the policy is empty"},
        {"zonez: []\n", "bad.yaml:1:1: unknown key \"zonez\""},
        {"rules: []\nrules: []\n", "bad.yaml:2:1: rules: given twice"},
    };
    for (const BadCase& c : cases) {
        auto p = OtPolicy::parse(c.text, "bad.yaml", {});
        ASSERT_FALSE(p) << c.text;
        EXPECT_NE(p.message().find(c.expect), std::string::npos) << "got: " << p.message() << "\nwant: " << c.expect;
        EXPECT_EQ(p.message().find('\n'), std::string::npos) << p.message();
    }
}

TEST(OtPolicy, LimitsBoundWhatAPolicyMayHold) {
    std::string text = "rules:\n";
    for (int i = 0; i < 20; ++i) text += "  - protocol: modbus\n";
    OtPolicyLimits lim;
    lim.max_items = 10;
    auto p = OtPolicy::parse(text, "big.yaml", {}, lim);
    ASSERT_FALSE(p);
    EXPECT_NE(p.message().find("more than 10 assets, zones and rules"), std::string::npos) << p.message();
    lim.max_file_bytes = 16;
    p = OtPolicy::parse(text, "big.yaml", {}, lim);
    ASSERT_FALSE(p);
    EXPECT_NE(p.message().find("larger than 16 bytes"), std::string::npos) << p.message();
    // Aliases repeating a large list are counted each time they are used.
    std::string bomb = "assets:\n  a: &a [";
    for (int i = 0; i < 1000; ++i) bomb += (i ? ", " : "") + std::string("198.18.0.1");
    bomb += "]\nrules:\n";
    for (int i = 0; i < 1500; ++i) bomb += "  - clients: *a\n";
    p = OtPolicy::parse(bomb, "bomb.yaml", {});
    ASSERT_FALSE(p);
    EXPECT_NE(p.message().find("once YAML aliases are expanded"), std::string::npos) << p.message();
}

TEST(OtPolicy, LoadFileErrors) {
    auto p = OtPolicy::load_file("/nonexistent/policy.yaml", {});
    ASSERT_FALSE(p);
    EXPECT_NE(p.message().find("/nonexistent/policy.yaml: cannot open"), std::string::npos) << p.message();
}

TEST(OtPolicy, EachCompileHasItsOwnId) {
    auto a = example(), b = example();
    ASSERT_TRUE(a && b);
    EXPECT_NE(a->id(), b->id());
    EXPECT_NE(a->id(), 0u);
}

// ---- records from the real decoders ----------------------------------------------

class Collect : public AppRecordSink {
public:
    std::vector<OtOperation> ops;
    std::vector<std::string> names;
    void on_record(const AppRecord& r) override {
        ops.push_back(r.op);
        names.emplace_back(r.op.function);
    }
};

std::vector<uint8_t> mbap(uint16_t tid, uint8_t unit, std::vector<uint8_t> pdu) {
    std::vector<uint8_t> f = {static_cast<uint8_t>(tid >> 8), static_cast<uint8_t>(tid), 0, 0,
                              static_cast<uint8_t>((pdu.size() + 1) >> 8), static_cast<uint8_t>(pdu.size() + 1), unit};
    for (uint8_t b : pdu) f.push_back(b);
    return f;
}

TEST(OtPolicy, DecidesOnModbusDecoderRecords) {
    auto p = example();
    ASSERT_TRUE(p);
    ModbusContext ctx;
    ModbusDecoder dec(ctx);
    Collect c;
    std::vector<uint8_t> stream;
    for (const auto& f : {mbap(1, 1, {0x03, 0x00, 0x00, 0x00, 0x0a}),          // read 0-9
                          mbap(2, 1, {0x03, 0x00, 0xc0, 0x00, 0x10}),          // read 192-207: past 199
                          mbap(3, 1, {0x06, 0x00, 0x0a, 0x12, 0x34}),          // write register 10
                          mbap(4, 1, {0x10, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x01})})  // write multiple 0
        stream.insert(stream.end(), f.begin(), f.end());
    dec.on_data(Direction::to_server, stream, c);
    ASSERT_EQ(c.ops.size(), 4u);
    const IpAddr hmi = ip("198.18.5.10"), eng = ip("198.18.5.11"), plc = ip("198.18.5.20");
    const std::vector<bool> hmi_expect = {true, false, false, false};
    const std::vector<bool> eng_expect = {true, true, true, true};
    for (size_t i = 0; i < c.ops.size(); ++i) {
        EXPECT_EQ(p->decide(hmi, plc, kModbus, c.ops[i]).allowed, hmi_expect[i]) << c.names[i];
        EXPECT_EQ(p->decide(eng, plc, kModbus, c.ops[i]).allowed, eng_expect[i]) << c.names[i];
    }
}

TEST(OtPolicy, DecidesOnS7DecoderRecords) {
    auto p = example();
    ASSERT_TRUE(p);
    S7commContext ctx;
    S7commDecoder dec(ctx);
    Collect c;
    // COTP connection request, then a PLC STOP job (TPKT + COTP DT + S7 job).
    const std::vector<uint8_t> cr = {0x03, 0x00, 0x00, 0x16, 0x11, 0xe0, 0x00, 0x00, 0x00, 0x01, 0x00,
                                     0xc1, 0x02, 0x01, 0x00, 0xc2, 0x02, 0x01, 0x02, 0xc0, 0x01, 0x0a};
    const std::vector<uint8_t> stop = {0x03, 0x00, 0x00, 0x21, 0x02, 0xf0, 0x80, 0x32, 0x01, 0x00, 0x00, 0x00, 0x01,
                                       0x00, 0x10, 0x00, 0x00, 0x29, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, 0x50, 0x5f,
                                       0x50, 0x52, 0x4f, 0x47, 0x52, 0x41, 0x4d};
    dec.on_data(Direction::to_server, cr, c);
    dec.on_data(Direction::to_server, stop, c);
    ASSERT_FALSE(c.ops.empty());
    const OtOperation& last = c.ops.back();
    ASSERT_EQ(c.names.back(), "plc_stop");
    const OtDecision d = p->decide(ip("198.18.5.11"), ip("198.18.5.30"), kS7, last);
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.rule, 0);
}

}  // namespace
}  // namespace sluice
