// OtPolicyDetector as the worker runs it, with records from the real Modbus
// and S7comm decoders: denials become EVE alerts naming the zone and rule
// (gid/sid, signature text, the protocol's EVE object), the zone's action is
// raised (ids and ips), drop-packet on TCP acts as drop-flow, responses are
// not judged, a reload changes decisions on open flows, mid-stream flows are
// turned round; the asset inventory (MACs, roles, first/last seen, merged over
// workers, JSON and metrics); learn mode through the detector and the finish
// hook; bounded denial counters; per-flow state freed at flow end; alerts are
// deferred EVE events, the same past the 64 kinds whose policy members are
// rendered once.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "app/config.hpp"
#include "dataplane/event_ring.hpp"
#include "detectors/modbus/modbus_decoder.hpp"
#include "detectors/ot_policy/ot_policy_detector.hpp"
#include "detectors/s7comm/s7comm_decoder.hpp"
#include "detectors/snapshot.hpp"

namespace sluice {
namespace {

using nlohmann::json;
using Bytes = std::vector<uint8_t>;

IpAddr ip(const char* s) { return *IpAddr::parse(s); }

class TestServices : public WorkerServices {
public:
    struct Raised {
        Verdict v;
        DropReason why;
    };
    explicit TestServices(bool ips) : ips_(ips) {}
    unsigned worker_id() const override { return 0; }
    bool ips() const override { return ips_; }
    bool offline() const override { return true; }
    EveEmitter& eve() override { return eve_; }
    void raise(PacketRef& p, Verdict v, DropReason why) override {
        (void)p;
        raised.push_back({v, why});
    }
    void raise(StreamContext& ctx, Verdict v, DropReason why) override {
        (void)ctx;
        raised.push_back({v, why});
    }
    void stop_inspection(Flow& f) override { (void)f; }
    void publish(StreamContext& ctx, const AppTransaction& tx) override { (void)ctx, (void)tx; }
    void publish(StreamContext& ctx, const AppRecord& r) override { (void)ctx, (void)r; }
    bool hold(PacketRef& p, uint64_t token, uint64_t deadline_ns, Verdict on_timeout) override {
        (void)p, (void)token, (void)deadline_ns, (void)on_timeout;
        return false;
    }
    void release(uint64_t token, Verdict v, DropReason why) override { (void)token, (void)v, (void)why; }
    uint64_t steady_ns() const override { return 0; }

    std::vector<json> events() {
        std::vector<json> out;
        // Through the EVE writer's reader: the policy's alerts are deferred events.
        for (std::string_view e = reader_.front(ring_); !e.empty(); e = reader_.front(ring_)) {
            out.push_back(json::parse(e));
            ring_.pop();
        }
        return out;
    }
    std::vector<Raised> raised;

private:
    bool ips_;
    EventRing ring_{4u << 20};
    EveReader reader_;
    std::vector<std::string> types_{"alert"};
    EveEmitter eve_{ring_, eve_type_mask(types_), true, ""};
};

constexpr std::string_view kPolicy = R"(default-action: alert
assets:
  hmi: 198.18.5.10
  engineering: 198.18.5.11
  plc: 198.18.5.20
  s7_plc: 198.18.5.30
  lab: 198.18.7.0/24
zones:
  - name: cell_1
    addresses: [plc, s7_plc]
    action: drop-flow
  - name: udp_cell
    addresses: 198.18.6.0/24
    action: drop-packet
  - name: lab
    addresses: lab
    action: allow
rules:
  - name: no-plc-stop
    action: deny
    protocol: s7comm
    functions: [plc_stop]
  - name: hmi-reads
    clients: hmi
    servers: [plc, 198.18.6.0/24]
    protocol: modbus
    access: read
    units: 1
    addresses: 0-199
  - name: engineering
    clients: engineering
    protocol: [modbus, s7comm]
)";

std::shared_ptr<DetectionSnapshot> snapshot_with(std::string_view policy) {
    auto snap = std::make_shared<DetectionSnapshot>();
    if (!policy.empty()) {
        auto p = OtPolicy::parse(policy, "policy.yaml", {});
        EXPECT_TRUE(p) << p.message();
        if (p) snap->ot_policy = *p;
    }
    return snap;
}

Flow make_flow(const char* client, uint16_t cport, const char* server, uint16_t sport, uint8_t proto = ipproto::tcp) {
    Flow f;
    f.key.addr[0] = ip(client);
    f.key.addr[1] = ip(server);
    f.key.port[0] = cport;
    f.key.port[1] = sport;
    f.key.ip_proto = proto;
    f.client_side = 0;
    f.flow_id = 4242;
    f.first_ns = 1'700'000'000'000'000'000ull;
    f.last_ns = f.first_ns;
    return f;
}

Bytes mbap(uint16_t tid, uint8_t unit, Bytes pdu) {
    Bytes f = {static_cast<uint8_t>(tid >> 8), static_cast<uint8_t>(tid), 0, 0,
               static_cast<uint8_t>((pdu.size() + 1) >> 8), static_cast<uint8_t>(pdu.size() + 1), unit};
    for (uint8_t b : pdu) f.push_back(b);
    return f;
}

// One worker: the detector, its services and a Modbus decoder per flow.
struct Rig {
    Config config;
    std::shared_ptr<DetectionSnapshot> snap;
    TestServices services;
    std::unique_ptr<OtPolicyDetector> det;
    ModbusContext mctx;
    S7commContext sctx;

    explicit Rig(std::string_view policy, bool ips = false, Config c = {}) : config(std::move(c)), services(ips) {
        snap = snapshot_with(policy);
        det = std::make_unique<OtPolicyDetector>(config, *snap, services, 3);
    }

    struct Forward : AppRecordSink {
        OtPolicyDetector& d;
        StreamContext& ctx;
        Forward(OtPolicyDetector& det_, StreamContext& c) : d(det_), ctx(c) {}
        void on_record(const AppRecord& r) override { d.on_record(ctx, r); }
    };

    // Feeds Modbus bytes of one direction, delivered by a packet whose
    // Ethernet source is `mac_last` (xx:..:mac_last).
    void modbus(Flow& f, ModbusDecoder& dec, Direction dir, const Bytes& data, uint8_t mac_last = 0, uint64_t ts = 0) {
        std::array<uint8_t, 64> frame{};
        for (int i = 0; i < 6; ++i) frame[6 + static_cast<size_t>(i)] = static_cast<uint8_t>(0x02 + (i == 5 ? mac_last : 0));
        PacketRef p;
        p.data = frame.data();
        p.len = 60;
        p.pkt.l3_offset = 14;
        p.dir = dir;
        p.ts_ns = ts ? ts : f.first_ns;
        StreamContext ctx{f, &p};
        Forward fw(*det, ctx);
        dec.on_data(dir, data, fw);
    }
    void modbus_udp(Flow& f, ModbusDecoder& dec, Direction dir, const Bytes& data) {
        StreamContext ctx{f, nullptr};
        Forward fw(*det, ctx);
        dec.on_datagram(dir, data, fw);
    }
    void s7(Flow& f, S7commDecoder& dec, Direction dir, const Bytes& data) {
        StreamContext ctx{f, nullptr};
        Forward fw(*det, ctx);
        dec.on_data(dir, data, fw);
    }
    uint64_t count(OtPolicyCounter c) const { return det->counters().get(c); }
};

const Bytes kReadReq = mbap(1, 1, {0x03, 0x00, 0x00, 0x00, 0x0a});
const Bytes kReadResp = mbap(1, 1, {0x03, 0x14, 0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8, 0, 9, 0, 10});
const Bytes kWriteReq = mbap(2, 1, {0x06, 0x00, 0x0a, 0x12, 0x34});
const Bytes kWriteExc = mbap(2, 1, {0x86, 0x02});

TEST(OtPolicyDetector, DeniedWriteIsAnAlertNamingZoneAndRule) {
    Rig rig(kPolicy);
    Flow f = make_flow("198.18.5.10", 40000, "198.18.5.20", 502);
    ModbusDecoder dec(rig.mctx);
    rig.modbus(f, dec, Direction::to_server, kReadReq);
    rig.modbus(f, dec, Direction::to_client, kReadResp);
    EXPECT_TRUE(rig.services.events().empty());
    EXPECT_TRUE(rig.services.raised.empty());
    rig.modbus(f, dec, Direction::to_server, kWriteReq);
    auto ev = rig.services.events();
    ASSERT_EQ(ev.size(), 1u);
    const json& e = ev[0];
    EXPECT_EQ(e["event_type"], "alert");
    EXPECT_EQ(e["src_ip"], "198.18.5.10");
    EXPECT_EQ(e["dest_ip"], "198.18.5.20");
    EXPECT_EQ(e["dest_port"], 502);
    EXPECT_EQ(e["app_proto"], "modbus");
    EXPECT_EQ(e["flow_id"], 4242);
    EXPECT_EQ(e["direction"], "to_server");
    EXPECT_EQ(e["alert"]["signature"],
              "OT policy: modbus write_single_register from 198.18.5.10 to 198.18.5.20 unit 1 address 10 not allowed");
    EXPECT_EQ(e["alert"]["gid"], kOtPolicyGid);
    EXPECT_EQ(e["alert"]["signature_id"], kOtPolicySidNotAllowed);
    EXPECT_EQ(e["alert"]["category"], "OT policy violation");
    EXPECT_EQ(e["alert"]["action"], "allowed");  // ids: logged only
    EXPECT_EQ(e["ot_policy"]["zone"], "cell_1");
    EXPECT_EQ(e["ot_policy"]["action"], "drop_flow");
    EXPECT_EQ(e["ot_policy"]["policy"], "policy.yaml");
    EXPECT_EQ(e["ot_policy"]["function"], "write_single_register");
    EXPECT_EQ(e["ot_policy"]["function_code"], 6);
    EXPECT_EQ(e["ot_policy"]["access"], "write");
    EXPECT_EQ(e["ot_policy"]["unit"], 1);
    EXPECT_EQ(e["ot_policy"]["address_first"], 10);
    EXPECT_FALSE(e["ot_policy"].contains("rule"));
    EXPECT_EQ(e["modbus"]["request"]["function_code"], "WrSingleReg");
    // The zone's verdict is raised (the worker logs it as would-drop in ids mode).
    ASSERT_EQ(rig.services.raised.size(), 1u);
    EXPECT_EQ(rig.services.raised[0].v, Verdict::drop_flow);
    EXPECT_EQ(rig.services.raised[0].why, DropReason::policy);
    EXPECT_TRUE(f.flags & flowflag::alerted);
    EXPECT_EQ(rig.count(OtPolicyCounter::requests), 2u);
    EXPECT_EQ(rig.count(OtPolicyCounter::allowed), 1u);
    EXPECT_EQ(rig.count(OtPolicyCounter::denied), 1u);
    EXPECT_EQ(rig.count(OtPolicyCounter::responses), 1u);
    rig.det->on_flow_end(f);
}

// The policy's members of an alert are rendered once per (zone, rule, action,
// protocol) and reused; past 64 such kinds they are rendered per alert. Both
// come out the same, deferred to the EVE writer like every policy alert.
TEST(OtPolicyDetector, AlertsPastTheRenderedKindsAreTheSame) {
    std::string policy = "default-action: alert\nrules:\n";
    for (int u = 1; u <= 80; ++u)
        policy += "  - name: deny-unit-" + std::to_string(u) + "\n    action: deny\n    protocol: modbus\n    units: " +
                  std::to_string(u) + "\n";
    Rig rig(policy);
    Flow f = make_flow("198.18.5.10", 40000, "198.18.5.20", 502);
    ModbusDecoder dec(rig.mctx);
    for (int u = 1; u <= 80; ++u)
        rig.modbus(f, dec, Direction::to_server, mbap(static_cast<uint16_t>(u), static_cast<uint8_t>(u), {0x06, 0x00, 0x0a, 0x12, 0x34}));
    auto ev = rig.services.events();
    ASSERT_EQ(ev.size(), 80u);
    for (int u = 1; u <= 80; ++u) {
        const json& e = ev[static_cast<size_t>(u - 1)];
        SCOPED_TRACE(u);
        const std::string rule = "deny-unit-" + std::to_string(u);
        EXPECT_EQ(e["alert"]["signature_id"], kOtPolicySidDenyRule);
        EXPECT_EQ(e["alert"]["signature"], "OT policy: modbus write_single_register from 198.18.5.10 to 198.18.5.20 unit " +
                                               std::to_string(u) + " address 10 denied by rule " + rule);
        EXPECT_EQ(e["ot_policy"]["policy"], "policy.yaml");
        EXPECT_EQ(e["ot_policy"]["zone"], "default");
        EXPECT_EQ(e["ot_policy"]["rule"], rule);
        EXPECT_EQ(e["ot_policy"]["rule_where"], "policy.yaml:" + std::to_string(3 + 4 * (u - 1)) + ":5");
        EXPECT_EQ(e["ot_policy"]["protocol"], "modbus");
        EXPECT_EQ(e["ot_policy"]["unit"], u);
        EXPECT_EQ(e["modbus"]["request"]["unit_id"], u);
        // The same members as the first alert (the first kind).
        std::vector<std::string> keys, first;
        for (auto it = e["ot_policy"].begin(); it != e["ot_policy"].end(); ++it) keys.push_back(it.key());
        for (auto it = ev[0]["ot_policy"].begin(); it != ev[0]["ot_policy"].end(); ++it) first.push_back(it.key());
        EXPECT_EQ(keys, first);
    }
    EXPECT_EQ(rig.count(OtPolicyCounter::alerts_lost), 0u);
    rig.det->on_flow_end(f);
}

TEST(OtPolicyDetector, IpsModeSaysBlocked) {
    Rig rig(kPolicy, true);
    Flow f = make_flow("198.18.5.99", 40000, "198.18.5.20", 502);
    ModbusDecoder dec(rig.mctx);
    rig.modbus(f, dec, Direction::to_server, kReadReq);  // a stranger: even reads
    auto ev = rig.services.events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0]["alert"]["action"], "blocked");
    EXPECT_EQ(ev[0]["alert"]["signature"],
              "OT policy: modbus read_holding_registers from 198.18.5.99 to 198.18.5.20 unit 1 address 0-9 not allowed");
    ASSERT_EQ(rig.services.raised.size(), 1u);
    EXPECT_EQ(rig.services.raised[0].v, Verdict::drop_flow);
    rig.det->on_flow_end(f);
}

TEST(OtPolicyDetector, DenyRuleIsNamed) {
    Rig rig(kPolicy, true);
    Flow f = make_flow("198.18.5.11", 40001, "198.18.5.30", 102);
    S7commDecoder dec(rig.sctx);
    const Bytes cr = {0x03, 0x00, 0x00, 0x16, 0x11, 0xe0, 0x00, 0x00, 0x00, 0x01, 0x00,
                      0xc1, 0x02, 0x01, 0x00, 0xc2, 0x02, 0x01, 0x02, 0xc0, 0x01, 0x0a};
    const Bytes stop = {0x03, 0x00, 0x00, 0x21, 0x02, 0xf0, 0x80, 0x32, 0x01, 0x00, 0x00, 0x00, 0x01,
                        0x00, 0x10, 0x00, 0x00, 0x29, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, 0x50, 0x5f,
                        0x50, 0x52, 0x4f, 0x47, 0x52, 0x41, 0x4d};
    rig.s7(f, dec, Direction::to_server, cr);
    rig.s7(f, dec, Direction::to_server, stop);
    auto ev = rig.services.events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0]["alert"]["signature_id"], kOtPolicySidDenyRule);
    EXPECT_EQ(ev[0]["alert"]["signature"], "OT policy: s7comm plc_stop from 198.18.5.11 to 198.18.5.30 denied by rule no-plc-stop");
    EXPECT_EQ(ev[0]["ot_policy"]["rule"], "no-plc-stop");
    EXPECT_EQ(ev[0]["ot_policy"]["rule_where"], "policy.yaml:19:5");
    EXPECT_EQ(ev[0]["ot_policy"]["access"], "control");
    EXPECT_EQ(ev[0]["s7comm"]["function"], "plc_stop");
    EXPECT_EQ(rig.count(OtPolicyCounter::denied_by_rule), 1u);
    rig.det->on_flow_end(f);
}

TEST(OtPolicyDetector, AlertZonesOnlyAlertAndAllowZonesAreNotJudged) {
    Rig rig(kPolicy, true);
    Flow a = make_flow("198.18.5.10", 40000, "198.18.9.1", 502);  // no zone: default-action alert
    ModbusDecoder da(rig.mctx);
    rig.modbus(a, da, Direction::to_server, kWriteReq);
    auto ev = rig.services.events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0]["alert"]["action"], "allowed");
    EXPECT_EQ(ev[0]["ot_policy"]["zone"], "default");
    EXPECT_EQ(ev[0]["ot_policy"]["action"], "alert");
    EXPECT_TRUE(rig.services.raised.empty());
    Flow b = make_flow("198.18.5.10", 40001, "198.18.7.5", 502);  // lab: allow
    ModbusDecoder db(rig.mctx);
    rig.modbus(b, db, Direction::to_server, kWriteReq);
    EXPECT_TRUE(rig.services.events().empty());
    EXPECT_EQ(rig.count(OtPolicyCounter::not_judged), 1u);
    rig.det->on_flow_end(a);
    rig.det->on_flow_end(b);
}

TEST(OtPolicyDetector, DropPacketDropsTheFlowOnTcpAndThePacketOnUdp) {
    Rig rig(kPolicy, true);
    Flow t = make_flow("198.18.5.99", 40000, "198.18.6.1", 502);
    ModbusDecoder dt(rig.mctx);
    rig.modbus(t, dt, Direction::to_server, kWriteReq);
    ASSERT_EQ(rig.services.raised.size(), 1u);
    EXPECT_EQ(rig.services.raised[0].v, Verdict::drop_flow);
    EXPECT_EQ(rig.count(OtPolicyCounter::drop_packet_as_flow), 1u);
    Flow u = make_flow("198.18.5.99", 40000, "198.18.6.1", 502, ipproto::udp);
    ModbusDecoder du(rig.mctx);
    rig.modbus_udp(u, du, Direction::to_server, kWriteReq);
    ASSERT_EQ(rig.services.raised.size(), 2u);
    EXPECT_EQ(rig.services.raised[1].v, Verdict::drop_packet);
    // The HMI reads the UDP cell: allowed.
    Flow r = make_flow("198.18.5.10", 40000, "198.18.6.1", 502, ipproto::udp);
    rig.modbus_udp(r, du, Direction::to_server, kReadReq);
    EXPECT_EQ(rig.services.raised.size(), 2u);
    auto ev = rig.services.events();
    ASSERT_EQ(ev.size(), 2u);
    EXPECT_EQ(ev[0]["ot_policy"]["zone_action"], "drop_packet");
    EXPECT_EQ(ev[0]["ot_policy"]["action"], "drop_flow");
    EXPECT_EQ(ev[1]["ot_policy"]["action"], "drop_packet");
    for (Flow* f : {&t, &u, &r}) rig.det->on_flow_end(*f);
}

TEST(OtPolicyDetector, ResponsesAreNotJudgedExceptionsAreCounted) {
    Rig rig(kPolicy);
    Flow f = make_flow("198.18.5.11", 40000, "198.18.5.20", 502);
    ModbusDecoder dec(rig.mctx);
    rig.modbus(f, dec, Direction::to_server, kWriteReq);  // engineering: allowed
    rig.modbus(f, dec, Direction::to_client, kWriteExc);  // the PLC refuses
    EXPECT_TRUE(rig.services.events().empty());
    EXPECT_EQ(rig.count(OtPolicyCounter::exception_responses), 1u);
    EXPECT_EQ(rig.det->exceptions(static_cast<size_t>(policy_proto_index(AppProto::modbus))), 1u);
    rig.det->on_flow_end(f);
}

TEST(OtPolicyDetector, ReloadChangesDecisionsOnOpenFlows) {
    Rig rig(kPolicy);
    Flow f = make_flow("198.18.5.10", 40000, "198.18.5.20", 502);
    ModbusDecoder dec(rig.mctx);
    rig.modbus(f, dec, Direction::to_server, kWriteReq);
    EXPECT_EQ(rig.services.events().size(), 1u);
    auto next = snapshot_with("rules:\n  - clients: 198.18.5.10\n    protocol: modbus\n");
    rig.det->on_snapshot(*next);
    EXPECT_EQ(rig.det->rules_loaded(), 1u);
    rig.modbus(f, dec, Direction::to_server, mbap(3, 1, {0x06, 0x00, 0x0b, 0x00, 0x01}));
    EXPECT_TRUE(rig.services.events().empty());
    // No policy at all: nothing is judged.
    DetectionSnapshot none;
    rig.det->on_snapshot(none);
    EXPECT_EQ(rig.det->rules_loaded(), 0u);
    Flow g = make_flow("198.18.5.99", 40000, "198.18.5.20", 502);
    ModbusDecoder dg(rig.mctx);
    rig.modbus(g, dg, Direction::to_server, kWriteReq);
    EXPECT_TRUE(rig.services.events().empty());
    rig.det->on_flow_end(f);
    rig.det->on_flow_end(g);
}

TEST(OtPolicyDetector, MidStreamFlowsAreTurnedRound) {
    Rig rig(kPolicy);
    // Picked up from the PLC's side: the flow's "client" is the PLC on port 502.
    Flow f = make_flow("198.18.5.20", 502, "198.18.5.10", 40000);
    ModbusDecoder dec(rig.mctx, Direction::to_client);
    rig.modbus(f, dec, Direction::to_client, kReadReq, 0x10);  // the HMI's read: allowed
    EXPECT_TRUE(rig.services.events().empty());
    rig.modbus(f, dec, Direction::to_client, kWriteReq, 0x10);
    auto ev = rig.services.events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0]["src_ip"], "198.18.5.10");
    EXPECT_EQ(ev[0]["dest_ip"], "198.18.5.20");
    EXPECT_NE(ev[0]["alert"]["signature"].get<std::string>().find("from 198.18.5.10 to 198.18.5.20"), std::string::npos);
    std::vector<const Detector*> inst = {rig.det.get()};
    std::string reply;
    ASSERT_TRUE(OtPolicyDetector::control(inst, {"assets"}, reply));
    const json assets = json::parse(reply);
    ASSERT_EQ(assets.size(), 2u);
    EXPECT_EQ(assets[0]["address"], "198.18.5.10");
    EXPECT_EQ(assets[0]["roles"]["client"], json::array({"modbus"}));
    EXPECT_EQ(assets[0]["mac"], "02:02:02:02:02:12");
    EXPECT_EQ(assets[1]["roles"]["server"], json::array({"modbus"}));
    rig.det->on_flow_end(f);
}

TEST(OtPolicyDetector, AssetInventoryMergesWorkers) {
    Rig w0(""), w1("");
    Flow a = make_flow("198.18.5.10", 40000, "198.18.5.20", 502);
    Flow b = make_flow("198.18.5.11", 40000, "198.18.5.20", 502);
    ModbusDecoder da(w0.mctx), db(w1.mctx);
    const uint64_t t0 = 1'700'000'000'000'000'000ull;
    w0.modbus(a, da, Direction::to_server, kReadReq, 0x10, t0);
    w0.modbus(a, da, Direction::to_client, kReadResp, 0x20, t0 + 1'000'000'000);
    w1.modbus(b, db, Direction::to_server, kReadReq, 0x11, t0 + 5'000'000'000);
    w1.modbus(b, db, Direction::to_client, kReadResp, 0x21, t0 + 6'000'000'000);
    std::vector<const Detector*> inst = {w0.det.get(), w1.det.get()};
    std::string reply;
    ASSERT_TRUE(OtPolicyDetector::control(inst, {"assets"}, reply));
    const json assets = json::parse(reply);
    ASSERT_EQ(assets.size(), 3u) << reply;
    const json& plc = assets[2];
    EXPECT_EQ(plc["address"], "198.18.5.20");
    EXPECT_EQ(plc["protocols"], json::array({"modbus"}));
    EXPECT_EQ(plc["roles"]["server"], json::array({"modbus"}));
    EXPECT_EQ(plc["roles"]["client"], json::array());
    EXPECT_EQ(plc["first_seen"], "2023-11-14T22:13:20.000000+0000");
    EXPECT_EQ(plc["last_seen"], "2023-11-14T22:13:26.000000+0000");
    EXPECT_EQ(plc["mac"], "02:02:02:02:02:23");  // the latest sighting's
    EXPECT_EQ(assets[0]["mac"], "02:02:02:02:02:12");
    MetricSamples samples;
    OtPolicyDetector::metrics(inst, samples);
    auto gauge = [&](const std::string& role, const std::string& proto) {
        for (const auto& s : samples)
            if (s.family == "sluice_ot_assets" && s.labels[0].second == role && s.labels[1].second == proto) return s.value;
        return -1.0;
    };
    EXPECT_EQ(gauge("client", "modbus"), 2);
    EXPECT_EQ(gauge("server", "modbus"), 1);
    EXPECT_EQ(gauge("server", "s7comm"), 0);
    std::string stats;
    ASSERT_TRUE(OtPolicyDetector::control(inst, {"ot-policy"}, stats));
    const json st = json::parse(stats);
    EXPECT_EQ(st["ot_policy"]["assets"], 3);
    EXPECT_EQ(st["ot_policy"]["requests"], 2);
    EXPECT_FALSE(OtPolicyDetector::control(inst, {"stats"}, stats));
    w0.det->on_flow_end(a);
    w1.det->on_flow_end(b);
}

// A flow writes its assets' last-seen time at most once a second while it
// lasts, and its latest record's time when it ends.
TEST(OtPolicyDetector, AssetLastSeenIsAtMostASecondOldAndExactAtFlowEnd) {
    Rig rig("");
    Flow a = make_flow("198.18.5.10", 40000, "198.18.5.20", 502);
    ModbusDecoder dec(rig.mctx);
    const uint64_t t0 = 1'700'000'000'000'000'000ull;
    std::vector<const Detector*> inst = {rig.det.get()};
    auto last_seen = [&] {
        std::string reply;
        EXPECT_TRUE(OtPolicyDetector::control(inst, {"assets"}, reply));
        const json assets = json::parse(reply);
        EXPECT_EQ(assets.size(), 2u) << reply;
        EXPECT_EQ(assets[0]["last_seen"], assets[1]["last_seen"]);
        return assets[0]["last_seen"].get<std::string>();
    };
    rig.modbus(a, dec, Direction::to_server, kReadReq, 0x10, t0);
    rig.modbus(a, dec, Direction::to_client, kReadResp, 0x20, t0 + 600'000'000);
    EXPECT_EQ(last_seen(), "2023-11-14T22:13:20.000000+0000");
    rig.modbus(a, dec, Direction::to_server, kReadReq, 0x10, t0 + 1'200'000'000);
    EXPECT_EQ(last_seen(), "2023-11-14T22:13:21.200000+0000");
    rig.modbus(a, dec, Direction::to_client, kReadResp, 0x20, t0 + 1'700'000'000);
    EXPECT_EQ(last_seen(), "2023-11-14T22:13:21.200000+0000");
    rig.det->on_flow_end(a);
    EXPECT_EQ(last_seen(), "2023-11-14T22:13:21.700000+0000");
}

TEST(OtPolicyDetector, AssetTableIsBounded) {
    Config c;
    c.ot_policy.max_assets = 2;
    Rig rig("", false, c);
    ModbusDecoder d1(rig.mctx), d2(rig.mctx);
    Flow a = make_flow("198.18.5.10", 40000, "198.18.5.20", 502);
    Flow b = make_flow("198.18.5.11", 40000, "198.18.5.21", 502);
    rig.modbus(a, d1, Direction::to_server, kReadReq);
    rig.modbus(b, d2, Direction::to_server, kReadReq);
    EXPECT_EQ(rig.det->assets().size(), 2u);
    EXPECT_EQ(rig.det->assets().dropped(), 2u);
    rig.det->on_flow_end(a);
    rig.det->on_flow_end(b);
}

TEST(OtPolicyDetector, DenialCountersAreBounded) {
    Config c;
    c.ot_policy.max_denial_kinds = 1;
    Rig rig("rules: []\n", false, c);
    ModbusDecoder dec(rig.mctx);
    Flow f = make_flow("198.18.5.99", 40000, "198.18.5.20", 502);
    rig.modbus(f, dec, Direction::to_server, kReadReq);
    rig.modbus(f, dec, Direction::to_server, kWriteReq);
    rig.modbus(f, dec, Direction::to_server, mbap(5, 1, {0x06, 0x00, 0x0b, 0x00, 0x01}));
    std::vector<const Detector*> inst = {rig.det.get()};
    MetricSamples samples;
    OtPolicyDetector::metrics(inst, samples);
    std::map<std::string, double> denials;
    for (const auto& s : samples)
        if (s.family == "sluice_ot_policy_denials_total") denials[s.labels[2].second] = s.value;
    EXPECT_EQ(denials.size(), 2u);
    EXPECT_EQ(denials["read_holding_registers"], 1);
    EXPECT_EQ(denials["other"], 2);
    rig.det->on_flow_end(f);
}

TEST(OtPolicyDetector, FlowEndFreesTheNote) {
    Rig rig(kPolicy);
    Flow f = make_flow("198.18.5.10", 40000, "198.18.5.20", 502);
    ModbusDecoder dec(rig.mctx);
    rig.modbus(f, dec, Direction::to_server, kReadReq);
    EXPECT_NE(f.detector_state[3], nullptr);
    rig.det->on_flow_end(f);
    EXPECT_EQ(f.detector_state[3], nullptr);
    rig.det->on_flow_end(f);  // twice: harmless
    Flow g = make_flow("198.18.5.10", 40001, "198.18.5.20", 502);
    ModbusDecoder dg(rig.mctx);
    rig.modbus(g, dg, Direction::to_server, kWriteReq);  // a reused note starts clean
    EXPECT_EQ(rig.services.events().size(), 1u);
    EXPECT_EQ(rig.count(OtPolicyCounter::flows), 2u);
    rig.det->on_flow_end(g);
}

std::string temp_dir() {
    char tmpl[] = "/tmp/sluice-otp-XXXXXX";
    const char* d = mkdtemp(tmpl);
    return d ? d : "/tmp";
}

TEST(OtPolicyDetector, LearnModeWritesAPolicyAtFinish) {
    const std::string dir = temp_dir();
    Config c;
    c.ot_policy.learn_file = dir + "/learned.yaml";
    c.capture.pcap = "test.pcap";
    ASSERT_TRUE(build_ot_policy(c));  // the folder is writable
    Rig w0("", false, c), w1("", false, c);
    Flow a = make_flow("198.18.5.10", 40000, "198.18.5.20", 502);
    Flow b = make_flow("198.18.5.11", 40000, "198.18.5.20", 502);
    ModbusDecoder da(w0.mctx), db(w1.mctx);
    w0.modbus(a, da, Direction::to_server, kReadReq);
    w1.modbus(b, db, Direction::to_server, kReadReq);
    w1.modbus(b, db, Direction::to_server, kWriteReq);
    EXPECT_EQ(w1.count(OtPolicyCounter::learned), 2u);
    std::vector<const Detector*> inst = {w0.det.get(), w1.det.get()};
    ASSERT_TRUE(OtPolicyDetector::finish(inst));
    std::ifstream in(c.ot_policy.learn_file);
    std::stringstream text;
    text << in.rdbuf();
    EXPECT_NE(text.str().find("# from test.pcap"), std::string::npos) << text.str();
    EXPECT_NE(text.str().find("# 3 requests, 3 operations, 2 rules."), std::string::npos) << text.str();
    // Enforcing it on the same traffic: nothing; a new host's write: an alert.
    Rig enforce(text.str());
    Flow a2 = make_flow("198.18.5.10", 40002, "198.18.5.20", 502);
    Flow b2 = make_flow("198.18.5.11", 40002, "198.18.5.20", 502);
    Flow n2 = make_flow("198.18.5.12", 40002, "198.18.5.20", 502);
    ModbusDecoder ea(enforce.mctx), eb(enforce.mctx), en(enforce.mctx);
    enforce.modbus(a2, ea, Direction::to_server, kReadReq);
    enforce.modbus(b2, eb, Direction::to_server, kReadReq);
    enforce.modbus(b2, eb, Direction::to_server, kWriteReq);
    EXPECT_TRUE(enforce.services.events().empty());
    enforce.modbus(n2, en, Direction::to_server, kWriteReq);
    EXPECT_EQ(enforce.services.events().size(), 1u);
    for (Flow* f : {&a2, &b2, &n2}) enforce.det->on_flow_end(*f);
    w0.det->on_flow_end(a);
    w1.det->on_flow_end(b);
    std::filesystem::remove_all(dir);
    // A folder that is gone by exit time: an error, and no half-written file.
    ASSERT_FALSE(OtPolicyDetector::finish(inst));
    EXPECT_FALSE(std::filesystem::exists(c.ot_policy.learn_file));
}

TEST(OtPolicyDetector, BuildOtPolicyErrors) {
    Config c;
    EXPECT_EQ(*build_ot_policy(c), nullptr);
    c.ot_policy.file = "/nonexistent/policy.yaml";
    auto r = build_ot_policy(c);
    ASSERT_FALSE(r);
    EXPECT_NE(r.message().find("OT policy: /nonexistent/policy.yaml: cannot open"), std::string::npos) << r.message();
    Config l;
    l.ot_policy.learn_file = "/nonexistent/dir/learned.yaml";
    r = build_ot_policy(l);
    ASSERT_FALSE(r);
    EXPECT_NE(r.message().find("ot-policy.learn-file /nonexistent/dir/learned.yaml: folder /nonexistent/dir is missing"),
              std::string::npos)
        << r.message();
    const std::string dir = temp_dir();
    Config p;
    p.ot_policy.file = dir + "/p.yaml";
    p.ot_policy.max_rules = 1;
    {
        std::ofstream out(p.ot_policy.file);
        out << "rules:\n  - name: a\n  - name: b\n";
    }
    r = build_ot_policy(p);
    ASSERT_FALSE(r);
    EXPECT_NE(r.message().find(dir + "/p.yaml:3:5: more than 1 assets, zones and rules"), std::string::npos) << r.message();
    std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sluice
