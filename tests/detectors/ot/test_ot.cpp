// OtDetector: which flows get which decoder (ports both ways, nDPI's verdict),
// stream and datagram feeding through the worker's calls (MiniWorker), records
// published to every detector, flow.app_proto, EVE events per transaction/PDU,
// rejected flows, gaps, hostile input, counters, metrics and stats, and real
// captures of each protocol from the shared corpus.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <random>
#include <vector>

#include "dataplane/json_writer.hpp"
#include "detectors/appid/appid_detector.hpp"
#include "detectors/ot/ot_detector.hpp"
#include "tests/detectors/appid/conversation.hpp"
#include "tests/support/pcap_streams.hpp"

namespace sluice::test {
namespace {

const std::string kReadRequest = bytes({0x00, 0x01, 0x00, 0x00, 0x00, 0x06, 0x01, 0x03, 0x00, 0x10, 0x00, 0x02});
const std::string kReadResponse = bytes({0x00, 0x01, 0x00, 0x00, 0x00, 0x07, 0x01, 0x03, 0x04, 0x00, 0x0a, 0x00, 0x0b});
const std::string kWriteRequest = bytes({0x00, 0x02, 0x00, 0x00, 0x00, 0x06, 0x01, 0x06, 0x00, 0x05, 0x12, 0x34});
const std::string kWriteResponse = bytes({0x00, 0x02, 0x00, 0x00, 0x00, 0x06, 0x01, 0x06, 0x00, 0x05, 0x12, 0x34});

std::vector<nlohmann::json> events_of(const MiniWorker& w, const std::string& type) {
    std::vector<nlohmann::json> out;
    for (const auto& line : w.events) {
        auto j = nlohmann::json::parse(line);
        if (j["event_type"] == type) out.push_back(std::move(j));
    }
    return out;
}

Flow make_flow(uint8_t ip_proto, uint16_t client_port, uint16_t server_port, AppProto app = AppProto::unknown) {
    Flow f;
    f.key.ip_proto = ip_proto;
    f.client_side = 0;
    f.key.port[0] = client_port;
    f.key.port[1] = server_port;
    f.app_proto = app;
    return f;
}

TEST(OtChoice, PortsBothWaysAndNdpiVerdict) {
    auto c = choose_ot_protocol(make_flow(6, 40000, 502));
    EXPECT_TRUE(c.found);
    EXPECT_EQ(c.proto, OtProto::modbus);
    EXPECT_FALSE(c.reversed);
    c = choose_ot_protocol(make_flow(6, 502, 40000));  // picked up mid-stream from the PLC's side
    EXPECT_TRUE(c.found);
    EXPECT_TRUE(c.reversed);
    EXPECT_EQ(choose_ot_protocol(make_flow(6, 40000, 102)).proto, OtProto::s7comm);
    EXPECT_EQ(choose_ot_protocol(make_flow(6, 40000, 20000)).proto, OtProto::dnp3);
    EXPECT_EQ(choose_ot_protocol(make_flow(17, 40000, 20000)).proto, OtProto::dnp3);
    EXPECT_EQ(choose_ot_protocol(make_flow(6, 40000, 2404)).proto, OtProto::iec104);
    EXPECT_EQ(choose_ot_protocol(make_flow(6, 40000, 44818)).proto, OtProto::enip);
    c = choose_ot_protocol(make_flow(17, 2222, 2222));
    EXPECT_TRUE(c.found && c.io && c.proto == OtProto::enip);
    EXPECT_FALSE(choose_ot_protocol(make_flow(17, 40000, 102)).found);   // S7comm is TCP only
    EXPECT_FALSE(choose_ot_protocol(make_flow(6, 40000, 2222)).found);   // I/O is UDP only
    EXPECT_FALSE(choose_ot_protocol(make_flow(6, 40000, 80)).found);
    EXPECT_FALSE(choose_ot_protocol(make_flow(6, 40000, 80, AppProto::http)).found);
    // nDPI's verdict on another port.
    c = choose_ot_protocol(make_flow(6, 40000, 5020, AppProto::modbus));
    EXPECT_TRUE(c.found && c.proto == OtProto::modbus && !c.reversed);
    EXPECT_EQ(choose_ot_protocol(make_flow(6, 40000, 1102, AppProto::s7comm)).proto, OtProto::s7comm);
    EXPECT_FALSE(choose_ot_protocol(make_flow(17, 40000, 1102, AppProto::s7comm)).found);
    EXPECT_FALSE(choose_ot_protocol(make_flow(1, 0, 0, AppProto::modbus)).found);  // ICMP
}

TEST(OtDetector, MemoryPerFlow) {
    // A flow holds its own protocol's decoder only, not room for the largest.
    // (Plus the header and the padding to 64-byte alignment.)
    EXPECT_LE(sizeof(OtFlowOf<ModbusDecoder>), sizeof(ModbusDecoder) + 32 + 63);
    EXPECT_LE(sizeof(OtFlowOf<ModbusDecoder>), 2600u);
    EXPECT_LE(sizeof(OtFlowOf<Dnp3Decoder>), 4800u);
    EXPECT_LE(sizeof(OtFlowOf<Iec104Decoder>), sizeof(Iec104Decoder) + 32 + 63);
    EXPECT_EQ(alignof(OtFlowOf<ModbusDecoder>), 64u);
}

TEST(OtDetector, ModbusTransactionsPublishedAndLogged) {
    MiniWorker w;
    auto& ot = w.add<OtDetector>(OtConfig{});
    Conversation c(w, "198.18.5.10", 40001, "198.18.5.20", 502);
    c.handshake();
    c.client(kReadRequest);
    c.server(kReadResponse);
    c.client(kWriteRequest);
    c.server(kWriteResponse);
    c.client(kReadRequest);  // never answered
    c.close();
    w.finish();
    ASSERT_EQ(w.records.size(), 5u);
    EXPECT_EQ(w.records[0].proto, AppProto::modbus);
    EXPECT_EQ(w.records[0].function, "read_holding_registers");
    EXPECT_TRUE(w.records[0].op.is_request);
    EXPECT_EQ(w.records[0].op.address_first, 16u);
    EXPECT_EQ(w.records[0].op.address_last, 17u);
    EXPECT_EQ(w.records[2].function, "write_single_register");
    EXPECT_EQ(w.records[2].op.access, OtAccess::write);
    EXPECT_FALSE(w.records[3].op.is_request);
    const auto& fc = ot.counters(OtProto::modbus);
    EXPECT_EQ(fc.get(OtFlowCounter::flows), 1u);
    EXPECT_EQ(fc.get(OtFlowCounter::decoded), 1u);
    EXPECT_EQ(fc.get(OtFlowCounter::records), 5u);
    EXPECT_EQ(fc.get(OtFlowCounter::requests), 3u);
    EXPECT_EQ(ot.records(OtProto::modbus, OtAccess::read), 3u);
    EXPECT_EQ(ot.records(OtProto::modbus, OtAccess::write), 2u);
    // One event per answered transaction, with both halves; the request never
    // answered is logged alone when the flow ends (as Suricata does).
    const auto ev = events_of(w, "modbus");
    ASSERT_EQ(ev.size(), 3u);
    EXPECT_EQ(fc.get(OtFlowCounter::eve_events), 3u);
    EXPECT_EQ(fc.get(OtFlowCounter::records), 5u);  // the end-of-flow event is not another record
    EXPECT_EQ(ev[2]["modbus"]["id"], 3);
    EXPECT_EQ(ev[2]["modbus"]["request"]["read"]["address"], 16);
    EXPECT_FALSE(ev[2]["modbus"].contains("response"));
    EXPECT_EQ(ev[0]["app_proto"], "modbus");
    EXPECT_EQ(ev[0]["src_ip"], "198.18.5.10");
    EXPECT_EQ(ev[0]["dest_port"], 502);
    EXPECT_EQ(ev[0]["modbus"]["request"]["function_code"], "RdHoldRegs");
    EXPECT_EQ(ev[0]["modbus"]["request"]["read"]["address"], 16);
    EXPECT_EQ(ev[0]["modbus"]["response"]["function_raw"], 3);
    EXPECT_EQ(ev[1]["modbus"]["request"]["write"]["address"], 5);
    const auto flows = events_of(w, "flow");
    ASSERT_EQ(flows.size(), 1u);
    EXPECT_EQ(flows[0]["app_proto"], "modbus");
}

TEST(OtDetector, ReversedConnectionDecodesRequestsToTheClient) {
    MiniWorker w;
    w.add<OtDetector>(OtConfig{});
    // The flow's first packet comes from port 502 (capture started mid-connection).
    Conversation c(w, "198.18.5.20", 502, "198.18.5.10", 40001);
    c.client(kReadResponse);  // the PLC's answer, seen first
    c.server(kWriteRequest);  // the HMI's next request
    c.client(kWriteResponse);
    w.finish();
    ASSERT_EQ(w.records.size(), 3u);
    EXPECT_FALSE(w.records[0].op.is_request);
    EXPECT_TRUE(w.records[1].op.is_request);
    EXPECT_EQ(w.records[1].dir, Direction::to_client);
    EXPECT_EQ(w.records[1].op.access, OtAccess::write);
}

TEST(OtDetector, NdpiVerdictOnlyWhereNdpiLooks) {
    // nDPI 4.2's Modbus dissector looks at port 502 only: Modbus on another
    // port is neither named by nDPI nor decoded (routing by nDPI's verdict
    // works for DNP3 on another port: OtCaptures.NdpiRoutesDnp3OnPort20001).
    MiniWorker w;
    w.add<AppIdDetector>(AppIdConfig{});
    auto& ot = w.add<OtDetector>(OtConfig{});
    Conversation c(w, "198.18.5.10", 40001, "198.18.5.20", 5020);
    c.handshake();
    c.client(kReadRequest);
    c.server(kReadResponse);
    w.finish();
    EXPECT_EQ(ot.counters(OtProto::modbus).get(OtFlowCounter::flows), 0u);
    EXPECT_TRUE(w.records.empty());
    const auto flows = events_of(w, "flow");
    ASSERT_EQ(flows.size(), 1u);
    EXPECT_EQ(flows[0]["app_proto_ndpi"], "Unknown");
}

// A closed connection stays in the flow table until its timeout; its decoder
// goes back to the free list as soon as both FINs are in and every byte before
// them was delivered, unless it holds requests still to be logged at the end.
TEST(OtDetector, DecoderIsFreedWhenTheStreamEnds) {
    MiniWorker w;
    auto& ot = w.add<OtDetector>(OtConfig{});
    const auto& fc = ot.counters(OtProto::modbus);
    Conversation a(w, "198.18.5.10", 40001, "198.18.5.20", 502);
    a.handshake();
    a.client(kReadRequest);
    a.server(kReadResponse);
    w.flush();
    EXPECT_EQ(fc.get(OtFlowCounter::finished_early), 0u);
    a.close();
    w.flush();
    EXPECT_EQ(fc.get(OtFlowCounter::finished_early), 1u);

    Conversation b(w, "198.18.5.10", 40002, "198.18.5.20", 502);
    b.handshake();
    b.client(kReadRequest);
    b.server(kReadResponse);
    b.client(kWriteRequest);  // never answered: logged when the flow ends
    b.close();
    w.flush();
    EXPECT_EQ(fc.get(OtFlowCounter::finished_early), 1u);
    w.finish();
    EXPECT_EQ(fc.get(OtFlowCounter::flows), 2u);
    EXPECT_EQ(fc.get(OtFlowCounter::records), 5u);
    const auto ev = events_of(w, "modbus");
    ASSERT_EQ(ev.size(), 3u);
    EXPECT_EQ(ev[2]["src_port"], 40002);
    EXPECT_EQ(ev[2]["modbus"]["request"]["function_code"], "WrSingleReg");
    EXPECT_FALSE(ev[2]["modbus"].contains("response"));
}

// More decoders freed at once than the free list keeps (256): the rest are
// deleted, and the counters still see every one (under ASan: no use after free).
TEST(OtDetector, ManyStreamsEndingTogetherOverflowTheFreeList) {
    MiniWorker w;
    auto& ot = w.add<OtDetector>(OtConfig{});
    std::vector<std::unique_ptr<Conversation>> cs;
    for (uint16_t i = 0; i < 300; ++i) {
        cs.push_back(std::make_unique<Conversation>(w, "198.18.5.10", static_cast<uint16_t>(41000 + i), "198.18.5.20", 502));
        cs.back()->handshake();
        cs.back()->client(kReadRequest);
        cs.back()->server(kReadResponse);
    }
    for (auto& c : cs) c->close();
    w.flush();
    EXPECT_EQ(ot.counters(OtProto::modbus).get(OtFlowCounter::finished_early), 300u);
    w.finish();
    EXPECT_EQ(ot.counters(OtProto::modbus).get(OtFlowCounter::records), 600u);
}

TEST(OtDetector, ForeignProtocolOnAnOtPortIsLetGo) {
    MiniWorker w;
    auto& ot = w.add<OtDetector>(OtConfig{});
    const Flow* flow = nullptr;
    const OtFlow* at_end = reinterpret_cast<const OtFlow*>(1);
    w.on_flow_ended = [&](const Flow& f) {
        flow = &f;
        at_end = ot.flow_decoder(f);
    };
    Conversation c(w, "198.18.5.10", 40001, "198.18.5.20", 502);
    c.handshake();
    c.client("GET / HTTP/1.1\r\nHost: plc\r\n\r\n");
    c.server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    c.client(kReadRequest);  // too late: the flow is not Modbus
    w.finish();
    EXPECT_TRUE(w.records.empty());
    EXPECT_EQ(ot.counters(OtProto::modbus).get(OtFlowCounter::rejected), 1u);
    EXPECT_EQ(ot.modbus().counters.get(ModbusCounter::not_modbus_flows), 1u);
    ASSERT_NE(flow, nullptr);
    EXPECT_EQ(at_end, nullptr);
    EXPECT_TRUE(events_of(w, "modbus").empty());
    EXPECT_FALSE(events_of(w, "flow")[0].contains("app_proto"));
}

TEST(OtDetector, DatagramsAndIo) {
    MiniWorker w;
    auto& ot = w.add<OtDetector>(OtConfig{});
    // Modbus over UDP 502.
    Conversation m(w, "198.18.5.10", 40002, "198.18.5.20", 502, 17);
    m.client(kReadRequest);
    m.server(kReadResponse);
    // EtherNet/IP class 1 I/O on UDP 2222: counted, no record.
    Conversation io(w, "198.18.5.30", 2222, "198.18.5.20", 2222, 17);
    io.client(bytes({0x02, 0x00, 0x02, 0x80, 0x08, 0x00, 0x01, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0xb1, 0x00,
                     0x04, 0x00, 0x05, 0x00, 0x11, 0x22}));
    w.finish();
    EXPECT_EQ(ot.modbus().counters.get(ModbusCounter::datagrams), 2u);
    EXPECT_EQ(ot.counters(OtProto::modbus).get(OtFlowCounter::records), 2u);
    EXPECT_EQ(events_of(w, "modbus").size(), 1u);
    EXPECT_EQ(ot.counters(OtProto::enip).get(OtFlowCounter::flows), 1u);
    EXPECT_EQ(ot.enip().counters.get(EnipCounter::io_datagrams), 1u);
    EXPECT_EQ(ot.counters(OtProto::enip).get(OtFlowCounter::records), 0u);
}

TEST(OtDetector, GapsReachTheDecoder) {
    // A lost segment in the middle of a request: the decoder drops the partial
    // PDU, counts it and decodes the next one.
    MiniWorker w;
    auto& ot = w.add<OtDetector>(OtConfig{});
    PacketSpec s;
    s.src = "198.18.5.10";
    s.dst = "198.18.5.20";
    s.sport = 40003;
    s.dport = 502;
    uint64_t ts = 1700000000ull * 1000000000ull;
    auto send = [&](uint32_t seq, uint8_t flags, const std::string& payload) {
        s.seq = seq;
        s.tcp_flags = flags;
        s.payload = payload;
        const auto f = build_frame(s);
        ts += 1000000;
        w.frame(f.data(), static_cast<uint32_t>(f.size()), ts);
    };
    send(100, tcpflag::syn, "");
    send(101, tcpflag::ack | tcpflag::psh, kReadRequest);
    send(113, tcpflag::ack | tcpflag::psh, kWriteRequest.substr(0, 8));
    // bytes 8..11 of the write request are lost
    send(113 + 12, tcpflag::ack | tcpflag::psh, kReadRequest);
    w.finish();
    EXPECT_EQ(ot.modbus().counters.get(ModbusCounter::gap_dropped_pdu), 1u);
    ASSERT_EQ(w.records.size(), 2u);
    EXPECT_EQ(w.records[0].function, "read_holding_registers");
    EXPECT_EQ(w.records[1].function, "read_holding_registers");
}

TEST(OtDetector, HostileStreamsAreCountedNeverFatal) {
    MiniWorker w;
    auto& ot = w.add<OtDetector>(OtConfig{});
    std::mt19937 rng(99);
    const uint16_t ports[] = {502, 102, 20000, 2404, 44818};
    for (int i = 0; i < 200; ++i) {
        const uint16_t port = ports[i % 5];
        Conversation c(w, "198.18.6." + std::to_string(i % 200 + 1), static_cast<uint16_t>(20000 + i), "198.18.5.20",
                       port);
        c.handshake();
        for (int k = 0; k < 6; ++k) {
            // Plausible headers with lying lengths, then noise.
            std::string chunk;
            switch (port) {
                case 502: chunk = bytes({0, 1, 0, 0, 0, static_cast<int>(rng() % 256), 1, static_cast<int>(rng() % 256)}); break;
                case 102: chunk = bytes({3, 0, static_cast<int>(rng() % 256), static_cast<int>(rng() % 256), 2, 0xf0, 0x80, 0x32}); break;
                case 20000: chunk = bytes({0x05, 0x64, static_cast<int>(rng() % 256), 0xc4, 1, 0, 2, 0, 0, 0}); break;
                case 2404: chunk = bytes({0x68, static_cast<int>(rng() % 256), 0, 0, 0, 0}); break;
                default: chunk = bytes({0x6f, 0, static_cast<int>(rng() % 256), static_cast<int>(rng() % 256), 0, 0, 0, 0}); break;
            }
            std::string junk(rng() % 200, '\0');
            for (auto& ch : junk) ch = static_cast<char>(rng());
            if (k % 2) c.server(chunk + junk);
            else c.client(chunk + junk);
        }
    }
    w.finish();
    uint64_t flows = 0;
    for (size_t p = 0; p < kOtProtos; ++p) flows += ot.counters(static_cast<OtProto>(p)).get(OtFlowCounter::flows);
    EXPECT_EQ(flows, 200u);
    const uint64_t anomalies = ot.modbus().counters.total() + ot.s7comm().counters.total() + ot.dnp3().counters.total() +
                               ot.iec104().counters.total() + ot.enip().counters.total();
    EXPECT_GT(anomalies, 0u);
    for (const auto& line : w.events) EXPECT_TRUE(nlohmann::json::accept(line)) << line;
}

TEST(OtDetector, MetricsAndStats) {
    MiniWorker w;
    auto& ot = w.add<OtDetector>(OtConfig{});
    Conversation c(w, "198.18.5.10", 40001, "198.18.5.20", 502);
    c.handshake();
    c.client(kReadRequest);
    c.server(kReadResponse);
    c.client(bytes({0x00, 0x03, 0x00, 0x01, 0x00, 0x06, 0x01, 0x03, 0x00, 0x10, 0x00, 0x02}));  // protocol id 1
    w.finish();
    const Detector* inst[] = {&ot};
    MetricSamples samples;
    OtDetector::metrics(inst, samples);
    std::map<std::string, double> by;
    for (const auto& s : samples) {
        std::string key = s.family;
        for (const auto& [k, v] : s.labels)
            if (k != "worker") key += "," + k + "=" + v;
        by[key] = s.value;
    }
    EXPECT_EQ(by["sluice_ot_pdus_total,proto=modbus,kind=requests"], 1);
    EXPECT_EQ(by["sluice_ot_pdus_total,proto=modbus,kind=responses"], 1);
    EXPECT_EQ(by["sluice_ot_malformed_total,proto=modbus,reason=bad_protocol_id"], 1);
    EXPECT_EQ(by["sluice_ot_flows_total,proto=modbus,result=decoded"], 1);
    EXPECT_EQ(by["sluice_ot_records_total,proto=modbus,access=read"], 2);
    EXPECT_EQ(by.count("sluice_ot_pdus_total,proto=dnp3,kind=link_frames"), 1u);  // every series, zero or not
    char buf[8192];
    JsonWriter jw(std::span<char>(buf, sizeof buf));
    jw.begin_object();
    OtDetector::write_stats(inst, jw);
    jw.end_object();
    const auto j = nlohmann::json::parse(jw.view());
    EXPECT_EQ(j["ot"]["modbus"]["records"], 2);
    EXPECT_EQ(j["ot"]["modbus"]["decoder"]["bad_protocol_id"], 1);
    EXPECT_EQ(j["ot"]["dnp3"]["flows"], 0);
}

// ---- real captures ---------------------------------------------------------

struct CaptureRun {
    std::map<AppProto, size_t> records;
    std::map<std::string, size_t> events;  // by event_type
    uint64_t rejected = 0;
    uint64_t decoded = 0;
};

CaptureRun run(const std::string& rel) {
    CaptureRun out;
    const std::string corpus = corpus_dir();
    MiniWorker w;
    w.add<AppIdDetector>(AppIdConfig{});
    auto& ot = w.add<OtDetector>(OtConfig{});
    std::string error;
    EXPECT_TRUE(w.run_capture(corpus + "/" + rel, &error)) << rel << ": " << error;
    for (const auto& r : w.records) ++out.records[r.proto];
    for (const auto& line : w.events) ++out.events[nlohmann::json::parse(line)["event_type"].get<std::string>()];
    for (size_t p = 0; p < kOtProtos; ++p) {
        out.rejected += ot.counters(static_cast<OtProto>(p)).get(OtFlowCounter::rejected);
        out.decoded += ot.counters(static_cast<OtProto>(p)).get(OtFlowCounter::decoded);
    }
    return out;
}

TEST(OtCaptures, EachProtocolThroughTheWorkerPath) {
    if (corpus_dir().empty()) GTEST_SKIP() << "SLUICE_CORPUS not set: OT captures unavailable";
    {
        // 51 read requests with their responses; 4 more requests never
        // answered (logged alone at the end of the flow).
        const auto r = run("ndpi-4.2/pcap/modbus.pcap");
        EXPECT_EQ(r.records.at(AppProto::modbus), 102u);
        EXPECT_EQ(r.events.at("modbus"), 55u);
        EXPECT_EQ(r.rejected, 0u);
    }
    {
        const auto r = run("iti-ics/pcaps/IEC60870-5-104/TestDissectIec104.pcap");
        EXPECT_GT(r.records.at(AppProto::iec104), 0u);
        EXPECT_EQ(r.events.at("iec104"), r.records.at(AppProto::iec104));  // one per APDU
        EXPECT_EQ(r.rejected, 0u);
    }
    {
        const auto r = run("iti-ics/pcaps/dnp3/read_and_response.pcap");
        EXPECT_EQ(r.records.at(AppProto::dnp3), 2u);
        EXPECT_EQ(r.events.at("dnp3"), 2u);
    }
    {
        // One PDU with several CIP services: several records, one event.
        const auto r = run("iti-ics/pcaps/EthernetIP/cip-multiple-1.pcap");
        EXPECT_GT(r.records.at(AppProto::enip), 1u);
        EXPECT_EQ(r.events.at("enip"), 1u);
    }
    {
        const auto r = run("iti-ics/pcaps/s7/s7comm_downloading_block_db1.pcap");
        EXPECT_GT(r.records.at(AppProto::s7comm), 0u);
        EXPECT_GT(r.events.at("s7comm"), 0u);
        EXPECT_LE(r.events.at("s7comm"), r.records.at(AppProto::s7comm));
        EXPECT_EQ(r.rejected, 0u);
    }
}

TEST(OtCaptures, NdpiRoutesDnp3OnPort20001) {
    if (corpus_dir().empty()) GTEST_SKIP() << "SLUICE_CORPUS not set: OT captures unavailable";
    // Zeek's DNP3 trace on port 20001: no port rule applies, nDPI names the
    // flow DNP3 and the decoder takes it.
    const auto r = run("iti-ics/pcaps/bro/dnp3/dnp3_read_p20001.pcap");
    EXPECT_EQ(r.decoded, 1u);
    EXPECT_EQ(r.records.at(AppProto::dnp3), 2u);
    EXPECT_EQ(r.events.at("dnp3"), 2u);
}

}  // namespace
}  // namespace sluice::test
