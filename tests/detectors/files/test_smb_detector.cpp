// The files detector with real SMB decoding and a real ClamAV service (a
// database made by sigtool in the test): EVE smb/fileinfo/alert events, the
// inline hold of the packet that completes a file and its release on the
// verdict (clean: forward; malicious: reject and drop the flow), timeouts and
// a full queue under fail-open and fail-closed, encrypted SMB3 sessions under
// each policy, capture input that waits instead of losing files, hostile
// input on port 445, and flows that end while their files are being scanned.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <set>

#include "app/config.hpp"
#include "detectors/files/file_carver.hpp"
#include "detectors/files/smb_detector.hpp"
#include "detectors/malware/scan_service.hpp"
#include "detectors/smb/smb_eve.hpp"
#include "tests/detectors/files/files_harness.hpp"
#include "tests/detectors/malware/malware_fixtures.hpp"
#include "tests/detectors/smb/smb_test_sink.hpp"

namespace sluice {
namespace {

using namespace test;
using nlohmann::json;

std::string hex_sha(const Bytes& b) { return sha256_hex_of(std::vector<uint8_t>(b.begin(), b.end())); }

Bytes eicar_bytes() {
    const auto e = eicar();
    return Bytes(e.begin(), e.end());
}

class SmbDetectorTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (!have_sigtool()) {
            GTEST_SKIP() << "sigtool not found: install Debian package clamav";
        }
        write_file(tmp / "eicar.com", eicar());
        auto sig = sigtool_hash_sig("md5", tmp / "eicar.com", "Sluice.Test.EICAR");
        ASSERT_TRUE(sig) << "sigtool --md5 failed";
        fs::create_directories(tmp / "db");
        write_text(tmp / "db" / "test.hdb", *sig);
        fs::create_directories(tmp / "spill");
        settings.smb.files.spill_dir = (tmp / "spill").string();
        settings.malware.scan = small_config((tmp / "db").string());
        settings.malware.scan.quarantine.dir = (tmp / "quarantine").string();
    }

    // Makes the service (started unless told otherwise) and the detector.
    void make(bool ips, bool start = true, bool offline = false, bool with_scanner = true) {
        services = std::make_unique<RecordingServices>(ips, offline);
        if (with_scanner) {
            auto s = ScanService::create(settings.malware.scan, 1);
            ASSERT_TRUE(s.ok()) << s.message();
            scanner = std::shared_ptr<ScanService>(std::move(s.value()));
            if (start) {
                ASSERT_TRUE(scanner->start().ok());
            }
        }
        det = std::make_unique<SmbDetector>(settings, scanner, *services, 0);
        feeder = std::make_unique<FlowFeeder>(*det, flow);
    }
    void TearDown() override {
        if (det) {
            det->on_flow_end(flow);
            EXPECT_EQ(flow.detector_state[0], nullptr);
        }
    }

    TempDir tmp;
    SmbDetectorSettings settings;
    std::unique_ptr<RecordingServices> services;
    std::shared_ptr<ScanService> scanner;
    std::unique_ptr<SmbDetector> det;
    Flow flow = make_smb_flow();
    std::unique_ptr<FlowFeeder> feeder;
};

// The packet that carried the CLOSE request of an upload (the message that finished the file).
PacketRef* close_packet(FlowFeeder& f) {
    PacketRef* last = nullptr;
    for (auto& p : f.packets())
        if (p.dir == kC) last = &p;  // the CLOSE request is the last client message
    return last;
}

// The carving threads together hold at most a quarter of the packet pool,
// whatever smb.file.offload-mbufs says, and never fewer than 64 references.
TEST(SmbDetectorSettingsTest, CarvingReferencesAreCappedByThePacketPool) {
    Config c;
    c.capture.mbufs = 16384;
    c.smb.offload_mbufs = 4096;
    c.workers = 1;
    EXPECT_EQ(smb_detector_settings(c).smb.offload_mbufs, 4096u);
    c.workers = 4;
    EXPECT_EQ(smb_detector_settings(c).smb.offload_mbufs, 1024u);
    c.smb.offload_mbufs = 100;
    EXPECT_EQ(smb_detector_settings(c).smb.offload_mbufs, 100u);
    c.smb.offload_mbufs = 4096;
    c.capture.mbufs = 1000;
    c.workers = 8;
    EXPECT_EQ(smb_detector_settings(c).smb.offload_mbufs, 64u);
    c.capture.mbufs = 1u << 20;
    c.workers = 2;
    EXPECT_EQ(smb_detector_settings(c).smb.offload_mbufs, 4096u);
}

TEST_F(SmbDetectorTest, IdsCleanUploadIsLoggedWithItsHashAndCleanVerdict) {
    make(false);
    const Bytes content = pattern(100000, 3);
    feeder->run(upload("docs\\report.bin", content));
    ASSERT_TRUE(drain(*det));
    const auto fi = services->events_of("fileinfo");
    ASSERT_EQ(fi.size(), 1u);
    const json& f = fi[0]["fileinfo"];
    EXPECT_EQ(f["filename"], "docs\\report.bin");
    EXPECT_EQ(f["share"], "\\\\198.18.0.20\\plant");
    EXPECT_EQ(f["direction"], "upload");
    EXPECT_EQ(f["state"], "COMPLETE");
    EXPECT_EQ(f["gaps"], false);
    EXPECT_EQ(f["size"], content.size());
    EXPECT_EQ(f["sha256"], hex_sha(content));
    EXPECT_EQ(f["quarantined"], false);
    EXPECT_EQ(f["clamav"]["result"], "clean");
    EXPECT_EQ(fi[0]["app_proto"], "smb");
    EXPECT_EQ(fi[0]["flow_id"], flow.flow_id);
    EXPECT_EQ(fi[0]["src_ip"], "198.18.0.10");
    EXPECT_EQ(fi[0]["dest_port"], 445);
    EXPECT_TRUE(services->events_of("alert").empty());
    EXPECT_EQ(services->hold_calls, 0u);
    EXPECT_TRUE(services->raised.empty());
    EXPECT_EQ(flow.app_proto, AppProto::smb);
    EXPECT_EQ(det->counters().get(FilesCounter::clean), 1u);
    // Every command became an smb event (negotiate .. close response).
    const auto smb = services->events_of("smb");
    std::set<std::string> commands;
    for (const auto& e : smb) commands.insert(e["smb"]["command"].get<std::string>());
    EXPECT_TRUE(commands.count("SMB2_COMMAND_CREATE"));
    EXPECT_TRUE(commands.count("SMB2_COMMAND_WRITE"));
    EXPECT_TRUE(commands.count("SMB2_COMMAND_CLOSE"));
}

TEST_F(SmbDetectorTest, IdsEicarUploadIsAlertedAndQuarantinedNotBlocked) {
    make(false);
    const Bytes content = eicar_bytes();
    feeder->run(upload("drop\\eicar.com", content));
    ASSERT_TRUE(drain(*det));
    const auto alerts = services->events_of("alert");
    ASSERT_EQ(alerts.size(), 1u);
    const json& a = alerts[0]["alert"];
    EXPECT_EQ(a["signature_id"], 9500001);
    EXPECT_EQ(a["category"], "malware");
    EXPECT_EQ(a["action"], "allowed");
    EXPECT_EQ(a["signature"], "ClamAV: Sluice.Test.EICAR.UNOFFICIAL");
    EXPECT_EQ(alerts[0]["files"][0]["filename"], "drop\\eicar.com");
    EXPECT_EQ(alerts[0]["files"][0]["sha256"], hex_sha(content));
    const auto fi = services->events_of("fileinfo");
    ASSERT_EQ(fi.size(), 1u);
    EXPECT_EQ(fi[0]["fileinfo"]["clamav"]["result"], "malicious");
    EXPECT_EQ(fi[0]["fileinfo"]["clamav"]["name"], "Sluice.Test.EICAR.UNOFFICIAL");
    EXPECT_EQ(fi[0]["fileinfo"]["quarantined"], true);
    const fs::path q = tmp / "quarantine" / hex_sha(content);
    EXPECT_EQ(read_file(q), eicar());
    const auto sidecar = read_file(q.string() + ".json");
    const json line = json::parse(std::string(sidecar.begin(), sidecar.end()));
    EXPECT_EQ(line["fileinfo"]["filename"], "drop\\eicar.com");
    EXPECT_EQ(line["flow_id"], flow.flow_id);
    // ids mode only logs: no verdict, the flow goes on.
    EXPECT_TRUE(services->raised.empty());
    EXPECT_FALSE(flow.flags & flowflag::drop);
    EXPECT_TRUE(flow.flags & flowflag::alerted);
}

TEST_F(SmbDetectorTest, IpsHoldsThePacketThatCompletesAFileUntilTheCleanVerdict) {
    make(true);
    feeder->run(upload("a.bin", pattern(40000, 4)));
    PacketRef* held = close_packet(*feeder);
    ASSERT_TRUE(held->held) << "the CLOSE that finished the file is held";
    EXPECT_EQ(held->hold_timeout, Verdict::forward);  // fail-open by default
    EXPECT_EQ(services->held_count(), 1u);  // the close response is not held (other direction)
    ASSERT_TRUE(drain(*det));
    ASSERT_EQ(services->settled.size(), 1u);
    EXPECT_EQ(services->settled[0].packet, held);
    EXPECT_EQ(services->settled[0].verdict, Verdict::forward);
    EXPECT_EQ(det->counters().get(FilesCounter::released_clean), 1u);
    EXPECT_EQ(det->gates().in_use(), 0u);
    EXPECT_FALSE(flow.flags & flowflag::drop);
}

TEST_F(SmbDetectorTest, IpsMaliciousUploadIsRejectedAndTheFlowDropped) {
    make(true);
    feeder->run(upload("eicar.com", eicar_bytes()));
    PacketRef* held = close_packet(*feeder);
    ASSERT_TRUE(held->held);
    ASSERT_TRUE(drain(*det));
    ASSERT_EQ(services->settled.size(), 1u);
    EXPECT_EQ(services->settled[0].packet, held);
    EXPECT_EQ(services->settled[0].verdict, Verdict::reject);
    EXPECT_EQ(services->settled[0].reason, DropReason::malware);
    EXPECT_TRUE(flow.flags & flowflag::drop);
    const auto alerts = services->events_of("alert");
    ASSERT_EQ(alerts.size(), 1u);
    EXPECT_EQ(alerts[0]["alert"]["action"], "blocked");
    EXPECT_EQ(det->counters().get(FilesCounter::blocked_malicious), 1u);
}

TEST_F(SmbDetectorTest, DownloadIsHeldOnTheReadResponseThatCompletesIt) {
    make(true);
    const Bytes content = pattern(50000, 5);
    auto msgs = download("b.bin", content, 20000);
    // Up to the last READ response.
    msgs.resize(msgs.size() - 2);
    feeder->run(msgs);
    PacketRef& last = feeder->packets().back();
    EXPECT_EQ(last.dir, kS);
    ASSERT_TRUE(last.held) << "the READ response that completed the download waits";
    // The client's next request passes; a retransmission of the held response waits too.
    PacketRef& req = feeder->send(kC, smb2({.cmd = 6, .mid = 30, .tree = 5}, close_req(kFileId)));
    EXPECT_FALSE(req.held);
    PacketRef& retrans = feeder->send_no_data(kS, 1400);
    EXPECT_TRUE(retrans.held);
    EXPECT_EQ(retrans.hold_token, last.hold_token);
    PacketRef& ack = feeder->send_no_data(kS, 0);
    EXPECT_FALSE(ack.held) << "bare ACKs carry no file data";
    ASSERT_TRUE(drain(*det));
    EXPECT_EQ(services->settled.size(), 2u);
    for (const auto& s : services->settled) EXPECT_EQ(s.verdict, Verdict::forward);
    const auto fi = services->events_of("fileinfo");
    ASSERT_EQ(fi.size(), 1u);
    EXPECT_EQ(fi[0]["fileinfo"]["direction"], "download");
    EXPECT_EQ(fi[0]["fileinfo"]["sha256"], hex_sha(content));
}

TEST_F(SmbDetectorTest, TimeoutFailOpenForwardsAndLogsTheLateResult) {
    settings.malware.hold_timeout_ms = 30;
    make(true, /*start=*/false);
    feeder->run(upload("slow.bin", pattern(2000, 6)));
    PacketRef* held = close_packet(*feeder);
    ASSERT_TRUE(held->held);
    std::this_thread::sleep_for(std::chrono::milliseconds(40));
    det->poll();
    ASSERT_EQ(services->settled.size(), 1u);
    EXPECT_EQ(services->settled[0].verdict, Verdict::forward);
    EXPECT_EQ(det->counters().get(FilesCounter::timeout_fail_open), 1u);
    EXPECT_TRUE(services->events_of("alert").empty());
    // The scanner starts late: the job's deadline passed, it comes back as timeout.
    ASSERT_TRUE(scanner->start().ok());
    ASSERT_TRUE(drain(*det));
    const auto fi = services->events_of("fileinfo");
    ASSERT_EQ(fi.size(), 1u);
    EXPECT_EQ(fi[0]["fileinfo"]["clamav"]["result"], "timeout");
    EXPECT_EQ(fi[0]["fileinfo"]["clamav"]["reason"], "deadline_passed");
    EXPECT_EQ(det->gates().in_use(), 0u);
}

TEST_F(SmbDetectorTest, TimeoutFailClosedRejectsAlertsAndDropsTheFlow) {
    settings.malware.hold_timeout_ms = 30;
    settings.malware.timeout_policy = FailPolicy::fail_closed;
    make(true, false);
    feeder->run(upload("slow.bin", pattern(2000, 7)));
    PacketRef* held = close_packet(*feeder);
    ASSERT_TRUE(held->held);
    EXPECT_EQ(held->hold_timeout, Verdict::reject) << "the worker applies the same policy at the deadline";
    std::this_thread::sleep_for(std::chrono::milliseconds(40));
    det->poll();
    ASSERT_EQ(services->settled.size(), 1u);
    EXPECT_EQ(services->settled[0].verdict, Verdict::reject);
    EXPECT_TRUE(flow.flags & flowflag::drop);
    const auto alerts = services->events_of("alert");
    ASSERT_EQ(alerts.size(), 1u);
    EXPECT_EQ(alerts[0]["alert"]["signature_id"], 9500002);
    EXPECT_EQ(alerts[0]["alert"]["action"], "blocked");
    EXPECT_EQ(alerts[0]["files"][0]["filename"], "slow.bin");
    ASSERT_TRUE(scanner->start().ok());
    ASSERT_TRUE(drain(*det));
    EXPECT_EQ(services->events_of("fileinfo").size(), 1u);
}

TEST_F(SmbDetectorTest, FullQueueFailOpenLogsTheFileUnscanned) {
    settings.malware.scan.queue_capacity = 1;
    make(true, false);
    const Bytes second = pattern(3000, 9);
    feeder->run(upload("one.bin", pattern(3000, 8)));
    feeder->run(upload("two.bin", second, 16384, 100, false, Fid{0x3333, 0x4444}));
    EXPECT_EQ(det->counters().get(FilesCounter::rejected_queue_full), 1u);
    EXPECT_EQ(det->counters().get(FilesCounter::overload_fail_open), 1u);
    auto fi = services->events_of("fileinfo");
    ASSERT_EQ(fi.size(), 1u);
    EXPECT_EQ(fi[0]["fileinfo"]["filename"], "two.bin");
    EXPECT_EQ(fi[0]["fileinfo"]["clamav"]["result"], "skipped");
    EXPECT_EQ(fi[0]["fileinfo"]["clamav"]["reason"], "queue_full");
    EXPECT_EQ(fi[0]["fileinfo"]["sha256"], hex_sha(second));
    EXPECT_TRUE(services->raised.empty());
    ASSERT_TRUE(scanner->start().ok());
    ASSERT_TRUE(drain(*det));
    EXPECT_EQ(services->events_of("fileinfo").size(), 2u);
}

// ids: the scanner thread hashes files carved in memory; a file the queue
// cannot take is hashed on the worker instead, so both fileinfo events carry it.
TEST_F(SmbDetectorTest, IdsHashIsLeftToTheScannerOrMadeHereWhenTheQueueIsFull) {
    settings.malware.scan.queue_capacity = 1;
    settings.smb.offload = false;  // carving on the worker (with a carver, its thread hashes)
    make(false, false);
    EXPECT_TRUE(det->smb_context().files().defer_hash());
    const Bytes first = pattern(70000, 8);
    const Bytes second = pattern(3000, 9);
    feeder->run(upload("one.bin", first));
    feeder->run(upload("two.bin", second, 16384, 100, false, Fid{0x3333, 0x4444}));
    EXPECT_EQ(det->counters().get(FilesCounter::rejected_queue_full), 1u);
    auto fi = services->events_of("fileinfo");
    ASSERT_EQ(fi.size(), 1u);
    EXPECT_EQ(fi[0]["fileinfo"]["filename"], "two.bin");
    EXPECT_EQ(fi[0]["fileinfo"]["sha256"], hex_sha(second));
    EXPECT_EQ(fi[0]["fileinfo"]["state"], "COMPLETE");
    ASSERT_TRUE(scanner->start().ok());
    ASSERT_TRUE(drain(*det));
    fi = services->events_of("fileinfo");
    ASSERT_EQ(fi.size(), 2u);
    EXPECT_EQ(fi[1]["fileinfo"]["filename"], "one.bin");
    EXPECT_EQ(fi[1]["fileinfo"]["sha256"], hex_sha(first));
    EXPECT_EQ(fi[1]["fileinfo"]["size"], first.size());
    EXPECT_EQ(fi[1]["fileinfo"]["state"], "COMPLETE");
    EXPECT_EQ(fi[1]["fileinfo"]["clamav"]["result"], "clean");
}

TEST_F(SmbDetectorTest, IpsKeepsHashingOnTheWorker) {
    make(true);
    EXPECT_FALSE(det->smb_context().files().defer_hash());
}

TEST_F(SmbDetectorTest, FullQueueFailClosedBlocksThePacketAndAlerts) {
    settings.malware.scan.queue_capacity = 1;
    settings.malware.overload_policy = FailPolicy::fail_closed;
    make(true, false);
    feeder->run(upload("one.bin", pattern(3000, 8)));
    PacketRef* first_close = close_packet(*feeder);
    ASSERT_TRUE(first_close->held);
    feeder->run(upload("two.bin", pattern(3000, 9), 16384, 100, false, Fid{0x3333, 0x4444}));
    PacketRef* second_close = close_packet(*feeder);
    EXPECT_EQ(second_close->verdict, Verdict::reject);
    EXPECT_EQ(second_close->reason, DropReason::malware);
    // The first file's held packet goes with the session, and so do the
    // client's packets held behind it (the second upload's CREATE and WRITE).
    ASSERT_GE(services->settled.size(), 2u);
    EXPECT_EQ(services->settled[0].packet, first_close);
    for (const auto& s : services->settled) EXPECT_EQ(s.verdict, Verdict::reject);
    const auto alerts = services->events_of("alert");
    ASSERT_EQ(alerts.size(), 1u);
    EXPECT_EQ(alerts[0]["alert"]["signature_id"], 9500003);
    EXPECT_EQ(alerts[0]["alert"]["action"], "blocked");
    ASSERT_TRUE(scanner->start().ok());
    ASSERT_TRUE(drain(*det));
}

TEST_F(SmbDetectorTest, HoldTableFullFollowsTheOverloadPolicy) {
    settings.malware.overload_policy = FailPolicy::fail_closed;
    services = std::make_unique<RecordingServices>(true, false, /*hold_capacity=*/0);
    auto s = ScanService::create(settings.malware.scan, 1);
    ASSERT_TRUE(s.ok());
    scanner = std::shared_ptr<ScanService>(std::move(s.value()));
    ASSERT_TRUE(scanner->start().ok());
    det = std::make_unique<SmbDetector>(settings, scanner, *services, 0);
    feeder = std::make_unique<FlowFeeder>(*det, flow);
    feeder->run(upload("a.bin", pattern(1000, 10)));
    PacketRef* close = close_packet(*feeder);
    EXPECT_FALSE(close->held);
    EXPECT_EQ(close->verdict, Verdict::reject);
    EXPECT_EQ(det->counters().get(FilesCounter::hold_refused), 1u);
    ASSERT_TRUE(drain(*det));
}

TEST_F(SmbDetectorTest, GateWaitsForEveryFileOfTheChunkAndTheFirstMalwareRejects) {
    make(true, false);
    // Two files finished by one chunk: a compound-like packet carrying both CLOSE requests.
    auto a = upload("clean.bin", pattern(1000, 11));
    auto b = upload("eicar.com", eicar_bytes(), 16384, 100, false, Fid{0x5555, 0x6666});
    a.resize(a.size() - 2);  // without CLOSE request and response
    b.resize(b.size() - 2);
    feeder->run(a);
    feeder->run(b);
    Bytes both = nbss(smb2({.cmd = 6, .mid = 50, .tree = 5}, close_req(kFileId)));
    both.raw(nbss(smb2({.cmd = 6, .mid = 51, .tree = 5}, close_req(Fid{0x5555, 0x6666}))));
    PacketRef& p = feeder->send_raw(kC, both);
    ASSERT_TRUE(p.held);
    EXPECT_EQ(det->gates().in_use(), 1u);
    ASSERT_TRUE(scanner->start().ok());
    ASSERT_TRUE(drain(*det));
    ASSERT_EQ(services->settled.size(), 1u);
    EXPECT_EQ(services->settled[0].verdict, Verdict::reject);
    EXPECT_EQ(services->events_of("fileinfo").size(), 2u);
    const auto alerts = services->events_of("alert");
    ASSERT_EQ(alerts.size(), 1u);
    EXPECT_EQ(alerts[0]["alert"]["action"], "blocked");
}

TEST_F(SmbDetectorTest, FlowEndingWhileFilesAreScannedLeavesNothingBehind) {
    make(true, false);
    feeder->run(upload("a.bin", pattern(5000, 12)));
    ASSERT_TRUE(close_packet(*feeder)->held);
    det->on_flow_end(flow);
    EXPECT_EQ(flow.detector_state[0], nullptr);
    ASSERT_TRUE(scanner->start().ok());
    ASSERT_TRUE(drain(*det));
    EXPECT_EQ(services->settled.size(), 1u);  // the held packet still goes
    EXPECT_EQ(det->gates().in_use(), 0u);
    EXPECT_EQ(services->events_of("fileinfo").size(), 1u);
}

TEST_F(SmbDetectorTest, EndOfStreamFinishesOpenFilesTruncated) {
    make(false);
    auto msgs = upload("cut.bin", pattern(30000, 13), 10000);
    msgs.resize(msgs.size() - 2);  // no CLOSE
    feeder->run(msgs);
    det->on_stream_end(flow);
    ASSERT_TRUE(drain(*det));
    const auto fi = services->events_of("fileinfo");
    ASSERT_EQ(fi.size(), 1u);
    EXPECT_EQ(fi[0]["fileinfo"]["state"], "TRUNCATED");
    EXPECT_EQ(fi[0]["fileinfo"]["clamav"]["result"], "clean");
}

TEST_F(SmbDetectorTest, TruncatedFilesAreNotScannedWhenConfigured) {
    settings.malware.scan_truncated = false;
    make(false);
    auto msgs = upload("cut.bin", pattern(30000, 13), 10000);
    msgs.resize(msgs.size() - 2);
    feeder->run(msgs);
    det->on_stream_end(flow);
    ASSERT_TRUE(drain(*det));  // back from the carving thread
    EXPECT_EQ(det->counters().get(FilesCounter::submitted), 0u);
    const auto fi = services->events_of("fileinfo");
    ASSERT_EQ(fi.size(), 1u);
    EXPECT_EQ(fi[0]["fileinfo"]["clamav"]["reason"], "truncated");
}

TEST_F(SmbDetectorTest, WithoutScannerFilesAreLoggedAsTheyFinish) {
    make(true, true, false, /*with_scanner=*/false);
    const Bytes content = eicar_bytes();
    feeder->run(upload("e.com", content));
    const auto fi = services->events_of("fileinfo");
    ASSERT_EQ(fi.size(), 1u);
    EXPECT_EQ(fi[0]["fileinfo"]["sha256"], hex_sha(content));
    EXPECT_FALSE(fi[0]["fileinfo"].contains("clamav"));
    EXPECT_EQ(services->hold_calls, 0u);
    EXPECT_FALSE(det->pending());
}

// ids carves on the carving thread: the worker's store keeps nothing, the
// fileinfo event comes from poll() with the thread's hash; without a scanner
// too. ips and smb.file.offload=false carve on the worker.
TEST_F(SmbDetectorTest, IdsCarvesOnTheCarvingThreadAndLogsFromPoll) {
    make(false, true, false, /*with_scanner=*/false);
    ASSERT_EQ(det->carvers().size(), 1u);
    const Bytes content = pattern(200000, 31);
    feeder->run(upload("big.bin", content));
    EXPECT_EQ(det->smb_context().files().counters().get(FileCounter::bytes_kept), 0u);
    EXPECT_EQ(det->smb_context().files().memory_used(), 0u);
    ASSERT_TRUE(drain(*det));
    const auto fi = services->events_of("fileinfo");
    ASSERT_EQ(fi.size(), 1u);
    EXPECT_EQ(fi[0]["fileinfo"]["sha256"], hex_sha(content));
    EXPECT_EQ(fi[0]["fileinfo"]["state"], "COMPLETE");
    EXPECT_EQ(fi[0]["fileinfo"]["size"], content.size());
    EXPECT_EQ(fi[0]["fileinfo"]["filename"], "big.bin");
    EXPECT_EQ(fi[0]["flow_id"], flow.flow_id);
    EXPECT_EQ(det->carvers()[0]->carving_counters().get(FileCounter::bytes_kept), content.size());
    // The harness's packets have no mbuf: the worker copied into the arena.
    EXPECT_EQ(det->carvers()[0]->counters().get(CarverCounter::copied_bytes), content.size());
    EXPECT_EQ(det->carvers()[0]->in_flight(), 0u);
    EXPECT_FALSE(det->pending());
}

// smb.file.offload-threads: files go to the carving threads in turn, every
// write of a file to its own thread; hashes, sizes and names are as with one.
TEST_F(SmbDetectorTest, SeveralCarvingThreadsShareTheFiles) {
    settings.smb.offload_threads = 3;
    settings.smb.offload_mbufs = 300;
    make(false, true, false, /*with_scanner=*/false);
    ASSERT_EQ(det->carvers().size(), 3u);
    std::vector<Bytes> contents;
    auto name_of = [](unsigned i) {
        char name[16];
        std::snprintf(name, sizeof name, "f%u.bin", i);
        return std::string(name);
    };
    for (uint16_t i = 0; i < 7; ++i) {
        contents.push_back(pattern(20000 + 7000 * i, static_cast<uint8_t>(40 + i)));
        feeder->run(upload(name_of(i), contents.back(), 4096, 1000u * i, i == 0,
                           Fid{static_cast<uint64_t>(0x1000 + i), static_cast<uint64_t>(0x2000 + i)}));
    }
    ASSERT_TRUE(drain(*det));
    const auto fi = services->events_of("fileinfo");
    ASSERT_EQ(fi.size(), contents.size());
    std::map<std::string, std::string> sha_by_name;
    for (const auto& e : fi) {
        EXPECT_EQ(e["fileinfo"]["state"], "COMPLETE");
        sha_by_name[e["fileinfo"]["filename"]] = e["fileinfo"]["sha256"];
    }
    for (size_t i = 0; i < contents.size(); ++i)
        EXPECT_EQ(sha_by_name[name_of(static_cast<unsigned>(i))], hex_sha(contents[i])) << i;
    uint64_t bytes = 0;
    for (const auto& c : det->carvers()) {
        EXPECT_GE(c->counters().get(CarverCounter::files), 2u);  // 7 files over 3 threads, in turn
        EXPECT_EQ(c->in_flight(), 0u);
        EXPECT_EQ(c->counters().get(CarverCounter::no_slot), 0u);
        bytes += c->carving_counters().get(FileCounter::bytes_kept);
    }
    uint64_t total = 0;
    for (const auto& b : contents) total += b.size();
    EXPECT_EQ(bytes, total);
    EXPECT_FALSE(det->pending());
}

TEST_F(SmbDetectorTest, IpsAndOffloadOffCarveOnTheWorker) {
    make(true, true, false, false);
    EXPECT_TRUE(det->carvers().empty());
    settings.smb.offload = false;
    det->on_flow_end(flow);
    make(false, true, false, false);
    EXPECT_TRUE(det->carvers().empty());
    const Bytes content = pattern(5000, 32);
    feeder->run(upload("w.bin", content));
    EXPECT_EQ(services->events_of("fileinfo").size(), 1u);  // logged as it finishes
    EXPECT_EQ(det->smb_context().files().counters().get(FileCounter::bytes_kept), content.size());
}

// Reading a capture, a flow's end waits for its files to come back from the
// carving thread, so their events come before the flow's.
TEST_F(SmbDetectorTest, CaptureInputFlowEndWaitsForCarvedFiles) {
    make(false, true, /*offline=*/true, /*with_scanner=*/false);
    auto msgs = upload("open.bin", pattern(300000, 33), 60000);
    msgs.resize(msgs.size() - 2);  // no CLOSE: finished TRUNCATED at the end of the stream
    feeder->run(msgs);
    feeder->run(upload("done.bin", pattern(1000, 34), 16384, 100, false, Fid{0x7777, 0x8888}));
    det->on_stream_end(flow);
    det->on_flow_end(flow);
    EXPECT_EQ(flow.detector_state[0], nullptr);
    const auto fi = services->events_of("fileinfo");
    ASSERT_EQ(fi.size(), 2u);
    std::set<std::string> states;
    for (const auto& e : fi) states.insert(e["fileinfo"]["filename"].get<std::string>() + ":" + e["fileinfo"]["state"].get<std::string>());
    EXPECT_TRUE(states.count("open.bin:TRUNCATED"));
    EXPECT_TRUE(states.count("done.bin:COMPLETE"));
    EXPECT_EQ(det->outstanding(), 0u);
    det.reset();  // TearDown: the flow already ended
}

TEST_F(SmbDetectorTest, CaptureInputWaitsForRoomInsteadOfLosingFiles) {
    settings.malware.scan.queue_capacity = 1;
    settings.malware.scan.results_per_worker = 2;
    make(false, true, /*offline=*/true);
    for (int i = 0; i < 6; ++i) {
        const Fid fid{0x100u + static_cast<uint64_t>(i), 0x200};
        std::string name(1, static_cast<char>('a' + i));  // (no string concatenation: GCC 12 -Wrestrict false positive)
        name.append(".bin");
        feeder->run(upload(name, pattern(20000, 20 + static_cast<uint32_t>(i)), 16384, static_cast<uint64_t>(100 * i), i == 0, fid));
    }
    EXPECT_TRUE(det->pending() || det->outstanding() == 0);
    ASSERT_TRUE(drain(*det));
    EXPECT_FALSE(det->pending());
    const auto fi = services->events_of("fileinfo");
    ASSERT_EQ(fi.size(), 6u);
    for (const auto& e : fi) EXPECT_EQ(e["fileinfo"]["clamav"]["result"], "clean") << e.dump();
    EXPECT_EQ(det->counters().get(FilesCounter::rejected_queue_full), 0u);
    EXPECT_EQ(det->counters().get(FilesCounter::rejected_backlog), 0u);
    EXPECT_GT(det->counters().get(FilesCounter::offline_waits), 0u);
}

// ---- encrypted SMB3 ---------------------------------------------------------------

class EncryptedPolicyTest : public SmbDetectorTest, public ::testing::WithParamInterface<EncryptedPolicy> {};

TEST_P(EncryptedPolicyTest, EncryptedSessionIsLoggedOnceAndThePolicyApplied) {
    settings.smb.encrypted_policy = GetParam();
    make(true);
    auto msgs = open_file("x", 0);
    msgs.resize(4);  // negotiate and session setup
    feeder->run(msgs);
    PacketRef& p = feeder->send(kC, transform(0x1000, 200));
    feeder->send(kC, transform(0x1000, 300));  // the same session: no second report
    const auto smb = services->events_of("smb");
    size_t encrypted = 0;
    for (const auto& e : smb)
        if (e["smb"].value("encrypted", false)) {
            ++encrypted;
            EXPECT_EQ(e["smb"]["policy"], std::string(to_string(GetParam())));
        }
    EXPECT_EQ(encrypted, 1u);
    const auto alerts = services->events_of("alert");
    EXPECT_EQ(det->counters().get(FilesCounter::encrypted_sessions), 1u);
    switch (GetParam()) {
        case EncryptedPolicy::allow:
            EXPECT_TRUE(alerts.empty());
            EXPECT_EQ(p.verdict, Verdict::forward);
            break;
        case EncryptedPolicy::alert:
            ASSERT_EQ(alerts.size(), 1u);
            EXPECT_EQ(alerts[0]["alert"]["signature_id"], 9500010);
            EXPECT_EQ(alerts[0]["alert"]["action"], "allowed");
            EXPECT_EQ(p.verdict, Verdict::forward);
            break;
        case EncryptedPolicy::block:
            ASSERT_EQ(alerts.size(), 1u);
            EXPECT_EQ(alerts[0]["alert"]["action"], "blocked");
            EXPECT_EQ(p.verdict, Verdict::reject);
            EXPECT_EQ(p.reason, DropReason::policy);
            EXPECT_TRUE(flow.flags & flowflag::drop);
            break;
    }
}

INSTANTIATE_TEST_SUITE_P(Policies, EncryptedPolicyTest,
                         ::testing::Values(EncryptedPolicy::allow, EncryptedPolicy::alert, EncryptedPolicy::block));

// ---- hostile input ------------------------------------------------------------------

TEST_F(SmbDetectorTest, OnlySmbFlowsGetState) {
    make(false);
    Flow web = make_smb_flow(7002, 80);
    FlowFeeder f(*det, web);
    f.send(kC, smb2({.cmd = 0, .mid = 0, .tree = 0, .session = 0}, Bytes{36, 0, 1, 0}));
    EXPECT_FALSE(det->tracks(web));
    web.app_proto = AppProto::smb;  // nDPI found SMB on another port
    f.send(kC, smb2({.cmd = 0, .mid = 0, .tree = 0, .session = 0}, Bytes{36, 0, 1, 0}));
    EXPECT_TRUE(det->tracks(web));
    det->on_flow_end(web);
    EXPECT_FALSE(det->tracks(web));
    Flow udp = make_smb_flow(7003);
    udp.key.ip_proto = ipproto::udp;
    FlowFeeder u(*det, udp);
    u.send(kC, Bytes{1, 2, 3});
    EXPECT_FALSE(det->tracks(udp));
}

TEST_F(SmbDetectorTest, GarbageLyingLengthsAndGapsOn445AreCountedNeverFatal) {
    make(true);
    feeder->run(open_file("x.bin", 0));
    // A WRITE whose data offset and length point outside the message.
    Bytes lying = write_req(kFileId, 0, pattern(64, 1), 0xfff0);
    lying.put32(4, 0x7fffffff);
    feeder->send(kC, smb2({.cmd = 9, .mid = 20, .tree = 5}, lying));
    // A NetBIOS header announcing 16 MiB, then random bytes, then a gap.
    Bytes big{0x00, 0xff, 0xff, 0xff};
    big.raw(pattern(3000, 2));
    feeder->send_raw(kC, big);
    StreamContext ctx{flow, nullptr};
    det->on_stream_gap(ctx, kC, 1 << 20, 5000);
    std::mt19937 rng(5);
    for (int i = 0; i < 200; ++i) {
        Bytes junk = pattern(1 + rng() % 300, static_cast<uint32_t>(rng()));
        if (i % 3 == 0) junk[0] = 0xfe;  // looks like SMB2 sometimes
        feeder->send_raw(i % 2 ? kS : kC, junk);
    }
    det->on_stream_end(flow);
    ASSERT_TRUE(drain(*det));
    EXPECT_GT(det->smb_context().anomalies().total(), 0u);
    // Whatever was finished from it came back; nothing is left waiting.
    EXPECT_EQ(det->outstanding(), 0u);
    EXPECT_EQ(det->gates().unsettled(), 0u);
}

TEST_F(SmbDetectorTest, MetricsStatsAndControlReadEveryWorkersCounters) {
    make(false);
    feeder->run(upload("m.bin", pattern(4000, 30)));
    ASSERT_TRUE(drain(*det));
    const Detector* inst[1] = {det.get()};
    MetricSamples samples;
    SmbDetector::metrics(std::span<const Detector* const>(inst, 1), samples);
    auto find = [&](const std::string& family, const std::string& label, const std::string& value) -> const MetricSample* {
        for (const auto& s : samples)
            if (s.family == family)
                for (const auto& [k, v] : s.labels)
                    if (k == label && v == value) return &s;
        return nullptr;
    };
    ASSERT_TRUE(find("sluice_files_total", "event", "clean"));
    EXPECT_EQ(find("sluice_files_total", "event", "clean")->value, 1);
    ASSERT_TRUE(find("sluice_smb_total", "event", "files_complete"));
    EXPECT_EQ(find("sluice_smb_total", "event", "files_complete")->value, 1);
    ASSERT_TRUE(find("sluice_malware_scans_total", "event", "clean"));
    EXPECT_EQ(find("sluice_malware_scans_total", "event", "clean")->value, 1);
    // Every label value comes from a fixed table (bounded).
    std::set<std::string> families;
    for (const auto& s : samples) {
        families.insert(s.family);
        EXPECT_TRUE(s.family.rfind("sluice_smb_", 0) == 0 || s.family.rfind("sluice_files_", 0) == 0 ||
                    s.family.rfind("sluice_malware_", 0) == 0)
            << s.family;
    }
    std::string buf(1 << 16, '\0');
    JsonWriter w(buf.data(), buf.size());
    w.begin_object();
    SmbDetector::write_stats(std::span<const Detector* const>(inst, 1), w);
    w.end_object();
    const json stats = json::parse(w.view());
    EXPECT_EQ(stats["files"]["verdicts"]["clean"], 1);
    EXPECT_EQ(stats["smb"]["decoder"]["files_complete"], 1);
    EXPECT_EQ(stats["malware"]["engine"]["signatures"], 1);
    std::string reply;
    EXPECT_FALSE(SmbDetector::control(std::span<const Detector* const>(inst, 1), {"stats"}, reply));
    ASSERT_TRUE(SmbDetector::control(std::span<const Detector* const>(inst, 1), {"malware-stats"}, reply));
    const json r = json::parse(reply);
    EXPECT_EQ(r["enabled"], true);
    EXPECT_EQ(r["scans"]["clean"], 1);
}

}  // namespace
}  // namespace sluice
