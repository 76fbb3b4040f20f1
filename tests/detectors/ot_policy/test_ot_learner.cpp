// OtLearner and the learned policy: address ranges merged and capped, the
// bounded table, merging workers, grouping clients and servers with identical
// rights, generic function names written as codes, and learn-then-enforce on
// real captures of every OT protocol (iti-ics, Zeek's Modbus traces): the
// learned policy allows all the traffic it was learned from, and a new write
// from a new host (or a write from a host that only read) is denied.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "detectors/ot_policy/ot_learner.hpp"
#include "detectors/ot_policy/ot_policy.hpp"
#include "tests/detectors/ot_policy/ot_capture_records.hpp"

namespace sluice {
namespace {

IpAddr ip(const char* s) { return *IpAddr::parse(s); }

OtOperation op(std::string_view fn, uint32_t code, OtAccess access, int unit = -1, int64_t first = -1, int64_t last = -1) {
    OtOperation o;
    o.function = fn;
    o.function_code = code;
    o.access = access;
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

std::vector<LearnedOperation> learned(const OtLearner& l) {
    const OtLearner* one[] = {&l};
    return merge_learned(one, l.max_ranges());
}

std::shared_ptr<const OtPolicy> reparse(const std::string& text) {
    auto p = OtPolicy::parse(text, "learned.yaml", {});
    EXPECT_TRUE(p) << p.message() << "\n" << text;
    return p ? *p : nullptr;
}

TEST(OtLearner, RangesMergeAndAreCapped) {
    OtLearner l(16, 3);
    const IpAddr c = ip("198.18.5.10"), s = ip("198.18.5.20");
    for (auto [a, b] : std::vector<std::pair<int, int>>{{0, 9}, {10, 19}, {100, 109}, {5, 12}})
        l.observe(c, s, kModbus, op("read_holding_registers", 3, OtAccess::read, 1, a, b), 1);
    auto ops = learned(l);
    ASSERT_EQ(ops.size(), 1u);
    ASSERT_EQ(ops[0].ranges.size(), 2u);
    EXPECT_EQ(ops[0].ranges[0].first, 0u);
    EXPECT_EQ(ops[0].ranges[0].last, 19u);
    EXPECT_EQ(ops[0].ranges[1].first, 100u);
    EXPECT_EQ(ops[0].requests, 4u);
    // Two more far apart: 4 ranges > 3, the closest two join (100-109 and 150).
    l.observe(c, s, kModbus, op("read_holding_registers", 3, OtAccess::read, 1, 150), 2);
    l.observe(c, s, kModbus, op("read_holding_registers", 3, OtAccess::read, 1, 1000), 3);
    ops = learned(l);
    ASSERT_EQ(ops[0].ranges.size(), 3u);
    EXPECT_EQ(ops[0].ranges[1].first, 100u);
    EXPECT_EQ(ops[0].ranges[1].last, 150u);
    EXPECT_EQ(ops[0].ranges[2].first, 1000u);
    EXPECT_FALSE(ops[0].no_address);
    l.observe(c, s, kModbus, op("read_holding_registers", 3, OtAccess::read, 1), 4);
    EXPECT_TRUE(learned(l)[0].no_address);
    EXPECT_EQ(l.first_ns(), 1u);
    EXPECT_EQ(l.last_ns(), 4u);
}

TEST(OtLearner, TableIsBoundedAndThePolicySaysIncomplete) {
    OtLearner l(2, 8);
    const IpAddr c = ip("198.18.5.10"), s = ip("198.18.5.20");
    l.observe(c, s, kModbus, op("read_coils", 1, OtAccess::read, 1, 0), 1);
    l.observe(c, s, kModbus, op("read_holding_registers", 3, OtAccess::read, 1, 0), 1);
    l.observe(c, s, kModbus, op("write_single_coil", 5, OtAccess::write, 1, 0), 1);  // no room
    l.observe(c, s, kModbus, op("read_coils", 1, OtAccess::read, 1, 7), 1);          // known: fine
    EXPECT_EQ(l.entries(), 2u);
    EXPECT_EQ(l.dropped(), 1u);
    EXPECT_EQ(l.requests(), 4u);
    LearnSummary sum;
    sum.requests = l.requests();
    sum.dropped = l.dropped();
    sum.max_entries = 2;
    const std::string text = render_learned_policy(learned(l), sum);
    EXPECT_NE(text.find("INCOMPLETE: 1 requests"), std::string::npos) << text;
    auto p = reparse(text);
    ASSERT_TRUE(p);
    EXPECT_FALSE(p->decide(c, s, kModbus, op("write_single_coil", 5, OtAccess::write, 1, 0)).allowed);
}

TEST(OtLearner, WorkersMergeIntoTheSameOperations) {
    OtLearner a(16, 8), b(16, 8), both(16, 8);
    const IpAddr c = ip("198.18.5.10"), s = ip("198.18.5.20");
    const auto r1 = op("read_coils", 1, OtAccess::read, 1, 0, 9), r2 = op("read_coils", 1, OtAccess::read, 1, 10, 20),
               w = op("write_single_coil", 5, OtAccess::write, 1, 3);
    a.observe(c, s, kModbus, r1, 1);
    b.observe(c, s, kModbus, r2, 2);
    b.observe(c, s, kModbus, w, 3);
    for (const auto& o : {r1, r2, w}) both.observe(c, s, kModbus, o, 1);
    const OtLearner* two[] = {&a, &b};
    const std::string merged = render_learned_policy(merge_learned(two, 8), {});
    const std::string single = render_learned_policy(learned(both), {});
    EXPECT_EQ(merged, single);
    EXPECT_NE(merged.find("addresses: [0-20]"), std::string::npos) << merged;
}

TEST(OtLearner, GroupsClientsAndServersWithIdenticalRights) {
    OtLearner l(64, 8);
    const char* hmis[] = {"198.18.5.10", "198.18.5.11", "198.18.5.12"};
    const char* plcs[] = {"198.18.5.20", "198.18.5.21"};
    for (const char* h : hmis)
        for (const char* p : plcs) l.observe(ip(h), ip(p), kModbus, op("read_holding_registers", 3, OtAccess::read, 1, 0, 99), 1);
    // The engineering station also writes to one PLC.
    l.observe(ip("198.18.5.50"), ip("198.18.5.20"), kModbus, op("write_single_register", 6, OtAccess::write, 1, 40), 1);
    l.observe(ip("198.18.5.50"), ip("198.18.5.20"), kModbus, op("write_single_register", 6, OtAccess::write, 1, 41), 1);
    const std::string text = render_learned_policy(learned(l), {});
    // Three HMIs x two PLCs: one rule, both sides groups; the writer: another.
    EXPECT_NE(text.find("group_1: [198.18.5.10, 198.18.5.11, 198.18.5.12]"), std::string::npos) << text;
    EXPECT_NE(text.find("group_2: [198.18.5.20, 198.18.5.21]"), std::string::npos) << text;
    EXPECT_NE(text.find("clients: group_1\n    servers: group_2"), std::string::npos) << text;
    EXPECT_NE(text.find("clients: 198.18.5.50\n    servers: 198.18.5.20\n    protocol: modbus\n    functions: [write_single_register]"
                        "\n    access: [write]\n    units: [1]\n    addresses: [40-41]"),
              std::string::npos)
        << text;
    auto p = reparse(text);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->rules().size(), 2u);
    EXPECT_TRUE(p->decide(ip("198.18.5.11"), ip("198.18.5.21"), kModbus, op("read_holding_registers", 3, OtAccess::read, 1, 50, 60)).allowed);
    EXPECT_FALSE(p->decide(ip("198.18.5.11"), ip("198.18.5.21"), kModbus, op("read_holding_registers", 3, OtAccess::read, 1, 90, 100)).allowed);
    EXPECT_FALSE(p->decide(ip("198.18.5.11"), ip("198.18.5.20"), kModbus, op("write_single_register", 6, OtAccess::write, 1, 40)).allowed);
    EXPECT_FALSE(p->decide(ip("198.18.5.50"), ip("198.18.5.21"), kModbus, op("write_single_register", 6, OtAccess::write, 1, 40)).allowed);
    EXPECT_TRUE(p->decide(ip("198.18.5.50"), ip("198.18.5.20"), kModbus, op("write_single_register", 6, OtAccess::write, 1, 41)).allowed);
}

TEST(OtLearner, GenericFunctionNamesAreWrittenAsCodesAndUnitsAsS7Areas) {
    OtLearner l(64, 8);
    const IpAddr c = ip("198.18.5.10"), s = ip("198.18.5.20"), v6 = ip("2001:db8::7");
    l.observe(c, s, kModbus, op("user_defined_function", 65, OtAccess::other, 1), 1);
    const int s7 = policy_proto_index(AppProto::s7comm);
    l.observe(c, s, s7, op("read_var", 4, OtAccess::read, 0x840001, 0, 3), 1);
    l.observe(c, s, s7, op("read_var", 4, OtAccess::read, 0x830000, 16, 19), 1);
    l.observe(c, s, s7, op("cpu_functions", 0x10405, OtAccess::diagnostic), 1);
    l.observe(v6, s, s7, op("setup_communication", 0xf0, OtAccess::other), 1);
    const std::string text = render_learned_policy(learned(l), {});
    EXPECT_NE(text.find("functions: [65]"), std::string::npos) << text;
    EXPECT_NE(text.find("functions: [0x10405]"), std::string::npos) << text;
    EXPECT_NE(text.find("units: [DB1]"), std::string::npos) << text;
    EXPECT_NE(text.find("units: [M]"), std::string::npos) << text;
    EXPECT_NE(text.find("clients: \"2001:db8::7\""), std::string::npos) << text;
    auto p = reparse(text);
    ASSERT_TRUE(p);
    EXPECT_TRUE(p->decide(c, s, kModbus, op("user_defined_function", 65, OtAccess::other, 1)).allowed);
    EXPECT_FALSE(p->decide(c, s, kModbus, op("user_defined_function", 66, OtAccess::other, 1)).allowed);
    EXPECT_TRUE(p->decide(c, s, s7, op("cpu_functions", 0x10405, OtAccess::diagnostic)).allowed);
    EXPECT_FALSE(p->decide(c, s, s7, op("cpu_functions", 0x10406, OtAccess::diagnostic)).allowed);
    EXPECT_TRUE(p->decide(c, s, s7, op("read_var", 4, OtAccess::read, 0x840001, 2, 3)).allowed);
    EXPECT_FALSE(p->decide(c, s, s7, op("read_var", 4, OtAccess::read, 0x840002, 2, 3)).allowed);
    EXPECT_TRUE(p->decide(v6, s, s7, op("setup_communication", 0xf0, OtAccess::other)).allowed);
}

TEST(OtLearner, NothingLearnedIsAValidPolicyThatAllowsNothing) {
    OtLearner l(4, 4);
    const std::string text = render_learned_policy(learned(l), {});
    auto p = reparse(text);
    ASSERT_TRUE(p);
    EXPECT_TRUE(p->rules().empty());
    EXPECT_EQ(p->default_action(), OtAction::alert);
}

// ---- learn, then enforce, on real captures ------------------------------------------

struct CaptureCase {
    const char* path;  // under $SLUICE_CORPUS
    AppProto proto;
};

const CaptureCase kCaptures[] = {
    {"zeek/traces/modbus/modbusBig.pcap", AppProto::modbus},
    {"zeek/traces/modbus/modbusSmall.pcap", AppProto::modbus},
    {"zeek/traces/modbus/modbus-eit.pcap", AppProto::modbus},
    {"zeek/traces/modbus/4SICS-GeekLounge-151022-min.pcap", AppProto::modbus},
    {"iti-ics/pcaps/ModbusTCP/modbus_test_data_part1.pcap", AppProto::modbus},
    {"iti-ics/pcaps/ModbusTCP/modbus_test_data_part2.pcap", AppProto::modbus},
    {"iti-ics/pcaps/s7/s7comm_downloading_block_db1.pcap", AppProto::s7comm},
    {"iti-ics/pcaps/s7/s7comm_reading_plc_status.pcap", AppProto::s7comm},
    {"iti-ics/pcaps/s7/s7-1200-hmi.pcap", AppProto::s7comm},
    {"iti-ics/pcaps/dnp3/dnp3_test_data_part1.pcap", AppProto::dnp3},
    {"iti-ics/pcaps/dnp3/select_operate_and_responses.pcap", AppProto::dnp3},
    {"iti-ics/pcaps/IEC60870-5-104/TestDissectIec104.pcap", AppProto::iec104},
    {"iti-ics/pcaps/EthernetIP/enip_test.pcap", AppProto::enip},
    {"iti-ics/pcaps/EthernetIP/cip_stop_plc.pcap", AppProto::enip},
};

TEST(OtLearnThenEnforce, RealCapturesRaiseNothingAndNewWritesAreDenied) {
    const std::string corpus = test::corpus_dir();
    if (corpus.empty()) GTEST_SKIP() << "SLUICE_CORPUS is not set or missing: no real captures to learn from";
    size_t files = 0, total = 0;
    std::set<AppProto> protos_with_records;
    for (const CaptureCase& cc : kCaptures) {
        const std::string path = corpus + "/" + cc.path;
        if (!std::filesystem::exists(path)) continue;
        SCOPED_TRACE(cc.path);
        test::CaptureRecorder rec;
        std::string err;
        ASSERT_TRUE(rec.read(path, &err)) << err;
        auto& records = rec.fixed();
        ++files;
        // Learn with two "workers" (records spread by flow), as the appliance does.
        OtLearner w0(16384, 8), w1(16384, 8);
        size_t requests = 0;
        for (const auto& r : records) {
            if (!r.op.is_request) continue;
            ++requests;
            OtLearner& l = (r.client.b[15] ^ r.server.b[15]) & 1 ? w1 : w0;
            l.observe(r.client, r.server, r.proto_index, r.op, 1);
        }
        std::printf("%-60s %zu requests\n", cc.path, requests);
        if (requests == 0) continue;
        protos_with_records.insert(cc.proto);
        total += requests;
        const OtLearner* both[] = {&w0, &w1};
        LearnSummary sum;
        sum.source = cc.path;
        sum.requests = requests;
        const std::string text = render_learned_policy(merge_learned(both, 8), sum);
        auto p = reparse(text);
        ASSERT_TRUE(p);
        // The same traffic: every request allowed, through the per-flow candidates too.
        for (const auto& r : records) {
            if (!r.op.is_request) continue;
            uint32_t cand[64];
            const size_t n = p->candidates(r.client, r.server, r.proto_index, cand);
            const OtDecision d = n <= 64 ? p->decide(std::span<const uint32_t>(cand, n), r.op)
                                         : p->decide(r.client, r.server, r.proto_index, r.op);
            EXPECT_TRUE(d.allowed) << r.function << " from " << r.client.to_string() << " to " << r.server.to_string();
        }
        // A new host writing to a server it never talked to: denied.
        const auto& first = *std::find_if(records.begin(), records.end(), [](const auto& r) { return r.op.is_request; });
        OtOperation write = op("write_single_register", 6, OtAccess::write, 1, 10);
        if (cc.proto == AppProto::s7comm) write = op("write_var", 5, OtAccess::write, 0x840001, 0, 1);
        if (cc.proto == AppProto::dnp3) write = op("direct_operate", 5, OtAccess::control, 10, 0);
        if (cc.proto == AppProto::iec104) write = op("c_se_na_1", 48, OtAccess::write, 1, 100);
        if (cc.proto == AppProto::enip) write = op("set_attribute_single", 0x10, OtAccess::write, 1, 1);
        EXPECT_FALSE(p->decide(ip("198.18.99.99"), first.server, first.proto_index, write).allowed);
        // A known client writing where it only ever read: denied too.
        bool wrote = false;
        for (const auto& r : records)
            if (r.op.is_request && r.client == first.client && r.server == first.server && r.op.access == write.access &&
                r.op.function == write.function)
                wrote = true;
        if (!wrote) {
            EXPECT_FALSE(p->decide(first.client, first.server, first.proto_index, write).allowed);
        }
    }
    if (files == 0) GTEST_SKIP() << "none of the OT captures is in " << corpus;
    EXPECT_GE(protos_with_records.size(), 5u) << "expected records of all five OT protocols";
    EXPECT_GT(total, 500u);
}

}  // namespace
}  // namespace sluice
