// AppIdDetector: nDPI classification through the worker's calls (MiniWorker):
// verdicts and labels, flow.app_proto precedence, give-up by packet count and
// at flow end, the bounded pool of nDPI flow states, byte and flow counters,
// EVE flow fields, metrics and stats, and hostile payloads.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <random>

#include "dataplane/json_writer.hpp"
#include "detectors/appid/appid_detector.hpp"
#include "detectors/appid/appid_map.hpp"
#include "tests/detectors/appid/conversation.hpp"

namespace sluice::test {
namespace {

// A Modbus/TCP read holding registers request and its response.
const std::string kModbusRequest = bytes({0x00, 0x01, 0x00, 0x00, 0x00, 0x06, 0x01, 0x03, 0x00, 0x00, 0x00, 0x02});
const std::string kModbusResponse = bytes({0x00, 0x01, 0x00, 0x00, 0x00, 0x07, 0x01, 0x03, 0x04, 0x00, 0x0a, 0x00, 0x0b});

// A DNS query for www.example.org (A).
std::string dns_query() {
    std::string q = bytes({0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00});
    for (const char* label : {"www", "example", "org"}) {
        q.push_back(static_cast<char>(std::strlen(label)));
        q += label;
    }
    q += bytes({0x00, 0x00, 0x01, 0x00, 0x01});
    return q;
}

std::vector<nlohmann::json> flow_events(const MiniWorker& w) {
    std::vector<nlohmann::json> out;
    for (const auto& line : w.events) {
        auto j = nlohmann::json::parse(line);
        if (j["event_type"] == "flow") out.push_back(std::move(j));
    }
    return out;
}

// Sets flow.app_proto on the first packet, as an app-layer parser that named
// the flow before nDPI would.
class NamingDetector final : public Detector {
public:
    NamingDetector(AppProto p, WorkerServices&, unsigned) : proto_(p) {}
    void classify(std::span<PacketRef* const> packets) override {
        for (PacketRef* r : packets)
            if (r->flow && r->flow->app_proto == AppProto::unknown) r->flow->app_proto = proto_;
    }

private:
    AppProto proto_;
};

TEST(AppIdMap, NdpiIdsToAppProto) {
    EXPECT_EQ(app_proto_of_ndpi(0, 7), AppProto::http);
    EXPECT_EQ(app_proto_of_ndpi(91, 126), AppProto::tls);       // TLS.Google
    EXPECT_EQ(app_proto_of_ndpi(10, 16), AppProto::smb);        // NetBIOS.SMBv1: the app is more specific
    EXPECT_EQ(app_proto_of_ndpi(0, 44), AppProto::modbus);
    EXPECT_EQ(app_proto_of_ndpi(0, 244), AppProto::dnp3);
    EXPECT_EQ(app_proto_of_ndpi(0, 245), AppProto::iec104);
    EXPECT_EQ(app_proto_of_ndpi(0, 249), AppProto::s7comm);
    EXPECT_EQ(app_proto_of_ndpi(0, 278), AppProto::enip);
    EXPECT_EQ(app_proto_of_ndpi(0, 37), AppProto::other);       // BitTorrent: known, not Sluice's
    EXPECT_EQ(app_proto_of_ndpi(0, 0), AppProto::unknown);
}

TEST(AppIdModule, SizesAndNames) {
    auto m = NdpiModule::create("");
    ASSERT_TRUE(m.ok()) << m.message();
    const NdpiModule& mod = **m;
    EXPECT_EQ(mod.name(0), "Unknown");
    EXPECT_EQ(mod.name(44), "Modbus");
    EXPECT_EQ(mod.name(NdpiModule::kMaxProtocols - 1), "Unknown");  // unused id
    char buf[64];
    EXPECT_EQ(mod.label({91, 126, 0, 4}, buf), "TLS.Google");
    EXPECT_EQ(mod.label({0, 91, 0, 4}, buf), "TLS");
    EXPECT_EQ(mod.label({91, 0, 0, 1}, buf), "TLS");
    EXPECT_EQ(mod.label({}, buf), "Unknown");
    char tiny[4];
    EXPECT_EQ(mod.label({91, 126, 0, 4}, tiny), "TLS.");  // cut to the buffer, never past it
    // The memory per flow the documentation states.
    EXPECT_EQ(NdpiModule::flow_struct_size(), 688u);
    NdpiFlowPool pool(4);
    EXPECT_EQ(pool.block_size(), 704u);
    EXPECT_LE(sizeof(AppIdFlow), 64u);
    EXPECT_EQ(NdpiModule::confidence_name(4), "DPI");
    EXPECT_EQ(NdpiModule::confidence_name(1), "Match by port");
    EXPECT_EQ(NdpiModule::confidence_name(200), "Unknown");
}

TEST(AppIdModule, MissingProtocolsFileIsAnError) {
    auto m = NdpiModule::create("/nonexistent/protos.txt");
    EXPECT_FALSE(m.ok());
}

TEST(AppIdPool, CapAndReuse) {
    NdpiFlowPool pool(3);
    ndpi_flow_struct* a = pool.acquire();
    ndpi_flow_struct* b = pool.acquire();
    ndpi_flow_struct* c = pool.acquire();
    ASSERT_TRUE(a && b && c);
    EXPECT_EQ(pool.acquire(), nullptr);
    EXPECT_EQ(pool.in_use(), 3u);
    pool.release(b);
    EXPECT_EQ(pool.in_use(), 2u);
    EXPECT_EQ(pool.acquire(), b);  // reused, not allocated
    EXPECT_EQ(pool.allocated(), 3u);
    pool.release(a);
    pool.release(b);
    pool.release(c);
    EXPECT_EQ(pool.in_use(), 0u);
}

TEST(AppId, ModbusClassifiedOnFirstRequest) {
    MiniWorker w;
    auto& appid = w.add<AppIdDetector>(AppIdConfig{});
    ASSERT_FALSE(appid.failed());
    Conversation c(w, "198.18.0.10", 40001, "198.18.0.20", 502);
    c.handshake();
    c.client(kModbusRequest);
    w.flush();
    // Detection is over: the nDPI state went back to the pool at once.
    EXPECT_EQ(appid.pool().in_use(), 0u);
    EXPECT_EQ(appid.counters().get(AppIdCounter::classified), 1u);
    EXPECT_EQ(appid.counters().get(AppIdCounter::app_proto_set), 1u);
    c.server(kModbusResponse);
    c.close();
    w.finish();
    EXPECT_EQ(appid.counters().get(AppIdCounter::flows), 1u);
    // SYN and request: the rest of the handshake has no payload and is not fed.
    EXPECT_EQ(appid.counters().get(AppIdCounter::packets), 2u);
    const auto ev = flow_events(w);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0]["app_proto"], "modbus");
    EXPECT_EQ(ev[0]["app_proto_ndpi"], "Modbus");
    EXPECT_EQ(ev[0]["ndpi"]["confidence"], "DPI");
    EXPECT_EQ(ev[0]["ndpi"]["category"], "IoT-Scada");
    EXPECT_EQ(ev[0]["ndpi"]["packets"], 2);
    EXPECT_EQ(appid.flows_of(44), 1u);
    // Every byte of the flow is counted under Modbus: 8 frames.
    uint64_t frame_bytes = 0;
    for (uint64_t n : {54, 54, 54, 54 + 12, 54 + 13, 54, 54, 54}) frame_bytes += n;
    EXPECT_EQ(appid.bytes_of(44), frame_bytes);
}

TEST(AppId, ClassifiedFlowBytesAreCountedEvery64PacketsAndAtTheEnd) {
    MiniWorker w;
    auto& appid = w.add<AppIdDetector>(AppIdConfig{});
    Conversation c(w, "198.18.0.10", 40031, "198.18.0.20", 502);
    c.handshake();         // packets 1-3: 54 bytes each
    c.client(kModbusRequest);  // 4: classified, 3 * 54 + 66 bytes counted
    w.flush();
    const uint64_t at4 = 3 * 54 + 66;
    EXPECT_EQ(appid.bytes_of(44), at4);
    for (int i = 5; i <= 70; ++i) {
        c.client(kModbusRequest);
        w.flush();
        const uint64_t expect = i < 64 ? at4 : at4 + 60 * 66;  // packet 64 counts 5-64
        ASSERT_EQ(appid.bytes_of(44), expect) << "after packet " << i;
    }
    w.finish();
    EXPECT_EQ(appid.bytes_of(44), at4 + 66 * 66);  // the last six at the flow's end
}

TEST(AppId, DnsOverUdp) {
    MiniWorker w;
    auto& appid = w.add<AppIdDetector>(AppIdConfig{});
    Conversation c(w, "198.18.0.10", 53000, "198.18.0.53", 53, 17);
    c.client(dns_query());
    w.finish();
    const auto ev = flow_events(w);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0]["app_proto"], "dns");
    EXPECT_EQ(ev[0]["app_proto_ndpi"], "DNS");
    EXPECT_EQ(appid.counters().get(AppIdCounter::classified), 1u);
}

AppIdDetector& with_tcp_limit(MiniWorker& w, uint32_t max_tcp_packets) {
    AppIdConfig cfg;
    cfg.max_tcp_packets = max_tcp_packets;
    return w.add<AppIdDetector>(cfg);
}

TEST(AppId, GivesUpAfterThePacketLimit) {
    MiniWorker w;
    auto& appid = with_tcp_limit(w, 10);
    Conversation c(w, "198.18.0.10", 40002, "198.18.0.20", 41234);
    c.handshake();
    std::mt19937 rng(7);
    for (int i = 0; i < 8; ++i) {
        std::string junk(40, '\0');
        for (auto& ch : junk) ch = static_cast<char>(rng());
        c.client(junk);
        w.flush();
        if (3 + i + 1 <= 10) {
            EXPECT_EQ(appid.pool().in_use(), 1u) << "packet " << 3 + i + 1;
        }
    }
    // Packet 11 > 10: nDPI gave up and the state is free again.
    EXPECT_EQ(appid.pool().in_use(), 0u);
    EXPECT_EQ(appid.counters().get(AppIdCounter::gave_up_packets), 1u);
    const AppIdFlow* s = nullptr;
    w.on_flow_ended = [&](const Flow& f) { s = appid.flow_state(f); };
    w.finish();
    EXPECT_EQ(s, nullptr);  // the record is gone at flow end
    const auto ev = flow_events(w);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_FALSE(ev[0].contains("app_proto"));
    EXPECT_EQ(ev[0]["app_proto_ndpi"], "Unknown");
    EXPECT_EQ(ev[0]["ndpi"]["packets"], 9);  // the SYN and the 8 segments with payload
}

TEST(AppId, GivesUpAtThePacketLimitOnASegmentWithoutPayload) {
    // Segments without payload are not fed to nDPI, but they count towards
    // the limit: the one past it ends detection like any other packet.
    MiniWorker w;
    auto& appid = with_tcp_limit(w, 3);
    Conversation c(w, "198.18.0.10", 40012, "198.18.0.20", 41234);
    c.handshake();
    w.flush();
    EXPECT_EQ(appid.pool().in_use(), 1u);
    EXPECT_EQ(appid.counters().get(AppIdCounter::packets), 1u);  // the SYN
    c.close();  // FIN-ACK: packet 4 > 3, no payload
    w.flush();
    EXPECT_EQ(appid.pool().in_use(), 0u);
    EXPECT_EQ(appid.counters().get(AppIdCounter::gave_up_packets), 1u);
    EXPECT_EQ(appid.counters().get(AppIdCounter::packets), 1u);
    w.finish();
    const auto ev = flow_events(w);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0]["ndpi"]["packets"], 1);
}

TEST(AppId, PortGuessLabelsButDoesNotNameTheFlow) {
    MiniWorker w;
    auto& appid = w.add<AppIdDetector>(AppIdConfig{});
    Conversation c(w, "198.18.0.10", 40003, "198.18.0.20", 443);
    c.handshake();  // no payload: nDPI can only guess at the end
    w.finish();
    EXPECT_EQ(appid.counters().get(AppIdCounter::gave_up_flow_end), 1u);
    EXPECT_EQ(appid.counters().get(AppIdCounter::guessed), 1u);
    const auto ev = flow_events(w);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0]["app_proto_ndpi"], "TLS");
    EXPECT_EQ(ev[0]["ndpi"]["confidence"], "Match by port");
    EXPECT_FALSE(ev[0].contains("app_proto"));  // a port is no proof
}

TEST(AppId, ParserNamedFirstIsKept) {
    MiniWorker w;
    w.add<NamingDetector>(AppProto::smb);
    auto& appid = w.add<AppIdDetector>(AppIdConfig{});
    Conversation c(w, "198.18.0.10", 40004, "198.18.0.20", 502);
    c.handshake();
    c.client(kModbusRequest);
    w.finish();
    EXPECT_EQ(appid.counters().get(AppIdCounter::app_proto_kept), 1u);
    EXPECT_EQ(appid.counters().get(AppIdCounter::app_proto_set), 0u);
    const auto ev = flow_events(w);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0]["app_proto"], "smb");           // the first identification
    EXPECT_EQ(ev[0]["app_proto_ndpi"], "Modbus");   // nDPI's own word stays visible
}

TEST(AppId, FullPoolGivesUpTheOldestFlow) {
    MiniWorker w;
    AppIdConfig cfg;
    cfg.max_flows_in_detection = 2;
    auto& appid = w.add<AppIdDetector>(cfg);
    Conversation a(w, "198.18.0.10", 40010, "198.18.0.20", 41000);
    Conversation b(w, "198.18.0.10", 40011, "198.18.0.20", 41000);
    a.handshake();
    b.handshake();
    w.flush();
    EXPECT_EQ(appid.pool().in_use(), 2u);
    Conversation m(w, "198.18.0.11", 40012, "198.18.0.20", 502);
    m.handshake();
    m.client(kModbusRequest);
    w.flush();
    // The Modbus flow took the block of the oldest flow, and was classified.
    EXPECT_EQ(appid.counters().get(AppIdCounter::evicted), 1u);
    EXPECT_EQ(appid.pool().in_use(), 1u);
    EXPECT_EQ(appid.pool().allocated(), 2u);
    EXPECT_EQ(appid.counters().get(AppIdCounter::classified), 1u);
    w.finish();
    EXPECT_EQ(appid.counters().get(AppIdCounter::flows), 3u);
    EXPECT_EQ(appid.counters().get(AppIdCounter::classified) + appid.counters().get(AppIdCounter::guessed) +
                  appid.counters().get(AppIdCounter::unknown),
              3u);
    EXPECT_EQ(appid.pool().in_use(), 0u);
}

TEST(AppId, CustomProtocolsFile) {
    const std::string path = ::testing::TempDir() + "sluice_appid_protos.txt";
    {
        std::ofstream f(path);
        f << "# test\ntcp:4444@PlantHistorian\n";
    }
    MiniWorker w;
    AppIdConfig cfg;
    cfg.protocols_file = path;
    auto& appid = w.add<AppIdDetector>(cfg);
    Conversation c(w, "198.18.0.10", 40020, "198.18.0.20", 4444);
    c.handshake();
    c.client("HELLO HISTORIAN\r\n");
    w.finish();
    std::remove(path.c_str());
    const auto ev = flow_events(w);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0]["app_proto_ndpi"], "PlantHistorian");
    EXPECT_GE(appid.module().protocol_count(), 283u);
}

TEST(AppId, RecordsSpanSeveralRegions) {
    // More flows at once than one region of records holds (a huge page:
    // 37 449 records of 56 bytes): each keeps its own record, and the records
    // freed at the end are reused by the next flows.
    MiniWorkerOptions o;
    o.flow_capacity = 50000;
    MiniWorker w(o);
    auto& appid = w.add<AppIdDetector>(AppIdConfig{});
    constexpr int kFlows = 40000;
    const std::string query = dns_query();
    for (int round = 0; round < 2; ++round) {
        for (int i = 0; i < kFlows; ++i) {
            Conversation c(w, "198.18." + std::to_string(2 + i / 250) + "." + std::to_string(i % 250 + 1),
                           static_cast<uint16_t>(20000 + round), "198.18.0.53", 53, 17);
            c.client(query);
        }
        w.finish();
    }
    EXPECT_EQ(appid.counters().get(AppIdCounter::flows), 2u * kFlows);
    EXPECT_EQ(appid.counters().get(AppIdCounter::classified), 2u * kFlows);
    EXPECT_EQ(appid.flows_of(5), 2u * kFlows);  // nDPI's DNS
    const auto ev = flow_events(w);
    ASSERT_EQ(ev.size(), 2u * kFlows);
    for (size_t i = 0; i < ev.size(); i += 997) EXPECT_EQ(ev[i]["app_proto"], "dns") << i;
}

TEST(AppId, HostilePayloadsNeverBreakIt) {
    // Random payloads on the ports of many dissectors, truncated headers, lying
    // lengths: nDPI reads them all; each flow ends with a verdict and every
    // state returns to the pool.
    MiniWorker w;
    AppIdConfig cfg;
    cfg.max_flows_in_detection = 64;
    auto& appid = w.add<AppIdDetector>(cfg);
    std::mt19937 rng(42);
    const uint16_t ports[] = {53, 80, 443, 502, 102, 20000, 2404, 44818, 445, 139, 3389, 5060, 1883, 123, 161, 0};
    for (int i = 0; i < 400; ++i) {
        const bool udp = i % 3 == 0;
        Conversation c(w, "198.18.1." + std::to_string(i % 250 + 1), static_cast<uint16_t>(30000 + i), "198.18.0.20",
                       ports[i % std::size(ports)], udp ? 17 : 6);
        if (!udp) c.handshake();
        for (int k = 0; k < 1 + i % 5; ++k) {
            std::string junk(rng() % 300, '\0');
            for (auto& ch : junk) ch = static_cast<char>(rng());
            if (k % 2) c.server(junk);
            else c.client(junk);
        }
    }
    w.finish();
    EXPECT_EQ(appid.counters().get(AppIdCounter::flows), 400u);
    EXPECT_EQ(appid.counters().get(AppIdCounter::classified) + appid.counters().get(AppIdCounter::guessed) +
                  appid.counters().get(AppIdCounter::unknown),
              400u);
    EXPECT_EQ(appid.pool().in_use(), 0u);
    EXPECT_LE(appid.pool().allocated(), 64u);
}

TEST(AppId, MetricsAndStats) {
    MiniWorker w;
    auto& appid = w.add<AppIdDetector>(AppIdConfig{});
    Conversation c(w, "198.18.0.10", 40001, "198.18.0.20", 502);
    c.handshake();
    c.client(kModbusRequest);
    w.finish();
    const Detector* inst[] = {&appid};
    MetricSamples samples;
    AppIdDetector::metrics(inst, samples);
    bool flows = false, bytes = false;
    for (const auto& s : samples) {
        if (s.family == "sluice_appid_flows_total") {
            EXPECT_EQ(s.labels[1].second, "Modbus");
            EXPECT_EQ(s.value, 1);
            flows = true;
        }
        if (s.family == "sluice_appid_bytes_total") bytes = s.value > 0;
    }
    EXPECT_TRUE(flows);
    EXPECT_TRUE(bytes);
    char buf[4096];
    JsonWriter jw(std::span<char>(buf, sizeof buf));
    jw.begin_object();
    AppIdDetector::write_stats(inst, jw);
    jw.end_object();
    const auto j = nlohmann::json::parse(jw.view());
    EXPECT_EQ(j["appid"]["protocols"]["Modbus"]["flows"], 1);
    EXPECT_GT(j["appid"]["protocols"]["Modbus"]["bytes"], 0);
    EXPECT_EQ(j["appid"]["events"]["classified"], 1);
    EXPECT_EQ(j["appid"]["in_detection"], 0);
}

}  // namespace
}  // namespace sluice::test
