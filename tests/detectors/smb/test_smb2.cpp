// SMB2/3 decoding with handcrafted messages: sessions, trees, CREATE/WRITE/READ/
// CLOSE, compounds, async responses, NetBIOS framing at every split, lying and
// truncated messages, caps, encryption, signing, the hold hook, EVE output.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "detectors/smb/smb_decoder.hpp"
#include "detectors/smb/smb_eve.hpp"
#include "tests/detectors/smb/smb_pdu_builder.hpp"
#include "tests/detectors/smb/smb_test_sink.hpp"

namespace sluice {
namespace {

using namespace test;
constexpr Direction C = Direction::to_server;
constexpr Direction S = Direction::to_client;

struct Step {
    Direction dir;
    Bytes msg;  // one SMB message, framed by nbss() when fed
};

class Smb2Test : public ::testing::Test {
protected:
    void make() {
        if (cfg.files.spill_dir == "/var/tmp") cfg.files.spill_dir = ::testing::TempDir();
        ctx = std::make_unique<SmbWorkerContext>(cfg);
        dec = std::make_unique<SmbDecoder>(*ctx, sink);
    }
    const SmbFeedResult& send(Direction d, const Bytes& msg) { return dec->feed(d, nbss(msg)); }
    void run(const std::vector<Step>& steps) {
        for (const auto& s : steps) send(s.dir, s.msg);
    }
    uint64_t anomalies(SmbAnomaly a) const { return ctx->anomalies().get(a); }
    uint64_t counter(SmbCounter c) const { return ctx->counters().get(c); }

    SmbConfig cfg;
    RecordingSink sink;
    std::unique_ptr<SmbWorkerContext> ctx;
    std::unique_ptr<SmbDecoder> dec;
};

constexpr Fid kFid{0x1111, 0x2222};

// Negotiate 3.1.1, session, tree connect to \\srv\share (tree 5), CREATE of
// `name` answered with file id kFid and `eof`.
std::vector<Step> open_steps(const std::string& name, uint64_t eof, const std::string& share = "\\\\srv\\share",
                             uint8_t share_type = 1) {
    std::vector<Step> s;
    s.push_back({C, smb2({.cmd = 0, .mid = 0, .tree = 0, .session = 0}, Bytes{36, 0, 1, 0})});
    s.push_back({S, smb2({.cmd = 0, .mid = 0, .resp = true, .tree = 0, .session = 0}, negotiate_resp(0x0311))});
    s.push_back({C, smb2({.cmd = 1, .mid = 1, .tree = 0}, Bytes{25, 0, 0, 0})});
    s.push_back({S, smb2({.cmd = 1, .mid = 1, .resp = true, .tree = 0}, session_setup_resp(0))});
    s.push_back({C, smb2({.cmd = 3, .mid = 2, .tree = 0}, tree_connect_req(share))});
    s.push_back({S, smb2({.cmd = 3, .mid = 2, .resp = true, .tree = 5}, tree_connect_resp(share_type))});
    s.push_back({C, smb2({.cmd = 5, .mid = 3, .tree = 5}, create_req(name, 5))});
    s.push_back({S, smb2({.cmd = 5, .mid = 3, .resp = true, .tree = 5}, create_resp(kFid, eof, eof ? 1 : 2))});
    return s;
}

// An upload of `content` in writes of `chunk` bytes, in the order given by
// `order` (indices of chunks), then CLOSE.
std::vector<Step> upload_steps(const Bytes& content, size_t chunk, std::vector<size_t> order = {}) {
    auto s = open_steps("dir\\file.bin", 0);
    const size_t n = (content.size() + chunk - 1) / chunk;
    if (order.empty())
        for (size_t i = 0; i < n; ++i) order.push_back(i);
    uint64_t mid = 10;
    for (size_t i : order) {
        const size_t off = i * chunk;
        const Bytes piece(content.begin() + static_cast<long>(off),
                          content.begin() + static_cast<long>(std::min(content.size(), off + chunk)));
        s.push_back({C, smb2({.cmd = 9, .mid = mid, .tree = 5}, write_req(kFid, off, piece))});
        s.push_back({S, smb2({.cmd = 9, .mid = mid, .resp = true, .tree = 5}, write_resp(static_cast<uint32_t>(piece.size())))});
        ++mid;
    }
    s.push_back({C, smb2({.cmd = 6, .mid = mid, .tree = 5}, close_req(kFid))});
    s.push_back({S, smb2({.cmd = 6, .mid = mid, .resp = true, .tree = 5}, close_resp())});
    return s;
}

TEST_F(Smb2Test, UploadInOrderIsCompleteWithShareNameAndHash) {
    make();
    const Bytes content = pattern(10000, 1);
    run(upload_steps(content, 3000));
    ASSERT_EQ(sink.files.size(), 1u);
    const auto& f = sink.files[0];
    EXPECT_EQ(f.state, FileState::complete);
    EXPECT_EQ(f.direction, FileDirection::upload);
    EXPECT_EQ(f.filename, "dir\\file.bin");
    EXPECT_EQ(f.share, "\\\\srv\\share");
    EXPECT_EQ(f.size, content.size());
    EXPECT_EQ(f.content, content);
    EXPECT_EQ(f.sha256, sha256_hex_of(content));
    EXPECT_EQ(f.file_id.persistent, kFid.persistent);
    EXPECT_EQ(f.file_id.volatile_id, kFid.volatile_id);
    EXPECT_EQ(f.file_id.tree_id, 5u);
    ASSERT_EQ(sink.opened.size(), 1u);
    EXPECT_EQ(sink.opened[0].uid, f.uid);
    EXPECT_EQ(counter(SmbCounter::files_complete), 1u);
    EXPECT_EQ(dec->open_files(), 0u);
    EXPECT_EQ(ctx->files().memory_used(), 0u);
}

TEST_F(Smb2Test, WritesOutOfOrderAndOverlappingFirstDataWins) {
    make();
    const Bytes content = pattern(9000, 2);
    auto steps = open_steps("f", 0);
    auto write = [&](uint64_t mid, uint64_t off, const Bytes& data) {
        steps.push_back({C, smb2({.cmd = 9, .mid = mid, .tree = 5}, write_req(kFid, off, data))});
    };
    auto slice = [&](size_t a, size_t b) { return Bytes(content.begin() + static_cast<long>(a), content.begin() + static_cast<long>(b)); };
    write(10, 6000, slice(6000, 9000));
    write(11, 0, slice(0, 3000));
    Bytes forged = pattern(4000, 99);  // overlaps [2000, 6000): only [3000, 6000) is new
    std::copy(content.begin() + 3000, content.begin() + 6000, forged.begin() + 1000);
    write(12, 2000, forged);
    write(13, 2500, pattern(1000, 98));  // entirely old bytes: ignored
    steps.push_back({C, smb2({.cmd = 6, .mid = 14, .tree = 5}, close_req(kFid))});
    run(steps);
    ASSERT_EQ(sink.files.size(), 1u);
    EXPECT_EQ(sink.files[0].state, FileState::complete);
    EXPECT_EQ(sink.files[0].content, content);
    EXPECT_EQ(sink.files[0].sha256, sha256_hex_of(content));
}

TEST_F(Smb2Test, WriteWithHoleIsTruncatedAtClose) {
    make();
    auto steps = open_steps("f", 0);
    steps.push_back({C, smb2({.cmd = 9, .mid = 10, .tree = 5}, write_req(kFid, 0, pattern(100, 1)))});
    steps.push_back({C, smb2({.cmd = 9, .mid = 11, .tree = 5}, write_req(kFid, 200, pattern(100, 2)))});
    steps.push_back({C, smb2({.cmd = 6, .mid = 12, .tree = 5}, close_req(kFid))});
    run(steps);
    ASSERT_EQ(sink.files.size(), 1u);
    EXPECT_EQ(sink.files[0].state, FileState::truncated);
    EXPECT_TRUE(sink.files[0].gaps);
    EXPECT_EQ(sink.files[0].size, 300u);
    EXPECT_EQ(sink.files[0].sha256_bytes, 100u);
}

TEST_F(Smb2Test, DownloadCompletesWhenAllBytesOfKnownSizeArriveAndHoldsThatChunk) {
    make();
    const Bytes content = pattern(5000, 3);
    run(open_steps("report.pdf", content.size()));
    // Two reads outstanding, answered out of order.
    send(C, smb2({.cmd = 8, .mid = 10, .tree = 5}, read_req(kFid, 0, 4096)));
    send(C, smb2({.cmd = 8, .mid = 11, .tree = 5}, read_req(kFid, 4096, 4096)));
    const Bytes tail(content.begin() + 4096, content.end());
    const Bytes head(content.begin(), content.begin() + 4096);
    const auto& r1 = send(S, smb2({.cmd = 8, .mid = 11, .resp = true, .tree = 5}, read_resp(tail)));
    EXPECT_FALSE(r1.hold());
    EXPECT_TRUE(sink.files.empty());
    const auto& r2 = send(S, smb2({.cmd = 8, .mid = 10, .resp = true, .tree = 5}, read_resp(head)));
    ASSERT_EQ(sink.files.size(), 1u) << "complete before CLOSE: all bytes of the CREATE's end of file";
    EXPECT_TRUE(r2.hold());
    EXPECT_EQ(r2.files_finished, 1u);
    ASSERT_EQ(r2.uids_listed, 1u);
    EXPECT_EQ(r2.file_uids[0], sink.files[0].uid);
    const auto& f = sink.files[0];
    EXPECT_EQ(f.state, FileState::complete);
    EXPECT_EQ(f.direction, FileDirection::download);
    EXPECT_EQ(f.content, content);
    ASSERT_EQ(sink.opened.size(), 1u);
    EXPECT_EQ(sink.opened[0].known_size, content.size());
    // A re-read of the same bytes and the CLOSE do not make a second file.
    send(C, smb2({.cmd = 8, .mid = 12, .tree = 5}, read_req(kFid, 0, 4096)));
    send(S, smb2({.cmd = 8, .mid = 12, .resp = true, .tree = 5}, read_resp(head)));
    const auto& r3 = send(C, smb2({.cmd = 6, .mid = 13, .tree = 5}, close_req(kFid)));
    EXPECT_FALSE(r3.hold());
    EXPECT_EQ(sink.files.size(), 1u);
    EXPECT_EQ(anomalies(SmbAnomaly::data_after_finish), 0u);
}

TEST_F(Smb2Test, PartialDownloadIsTruncatedWithPrefixHash) {
    make();
    const Bytes content = pattern(10000, 4);
    run(open_steps("big.txt", content.size()));
    send(C, smb2({.cmd = 8, .mid = 10, .tree = 5}, read_req(kFid, 0, 4096)));
    send(S, smb2({.cmd = 8, .mid = 10, .resp = true, .tree = 5}, read_resp(Bytes(content.begin(), content.begin() + 4096))));
    const auto& r = send(C, smb2({.cmd = 6, .mid = 11, .tree = 5}, close_req(kFid)));
    EXPECT_TRUE(r.hold()) << "a CLOSE that finishes a file with content is held too";
    ASSERT_EQ(sink.files.size(), 1u);
    const auto& f = sink.files[0];
    EXPECT_EQ(f.state, FileState::truncated);
    EXPECT_EQ(f.size, content.size());
    EXPECT_TRUE(f.gaps);
    EXPECT_EQ(f.content.size(), 4096u);
    EXPECT_EQ(f.sha256_bytes, 4096u);
    EXPECT_EQ(f.sha256, sha256_hex_of(Bytes(content.begin(), content.begin() + 4096)));
}

TEST_F(Smb2Test, UploadWithEndOfFileSetHoldsTheLastWrite) {
    make();
    const Bytes content = pattern(6000, 5);
    run(open_steps("x.exe", 0));
    send(C, smb2({.cmd = 0x11, .mid = 9, .tree = 5}, set_info_eof(kFid, content.size())));
    const auto& r1 = send(C, smb2({.cmd = 9, .mid = 10, .tree = 5}, write_req(kFid, 3000, Bytes(content.begin() + 3000, content.end()))));
    EXPECT_FALSE(r1.hold());
    const auto& r2 = send(C, smb2({.cmd = 9, .mid = 11, .tree = 5}, write_req(kFid, 0, Bytes(content.begin(), content.begin() + 3000))));
    EXPECT_TRUE(r2.hold());
    ASSERT_EQ(sink.files.size(), 1u);
    EXPECT_EQ(sink.files[0].state, FileState::complete);
    EXPECT_EQ(sink.files[0].content, content);
    const auto& r3 = send(C, smb2({.cmd = 6, .mid = 12, .tree = 5}, close_req(kFid)));
    EXPECT_FALSE(r3.hold());
    EXPECT_EQ(sink.files.size(), 1u);
}

TEST_F(Smb2Test, UploadWithoutKnownSizeHoldsTheClose) {
    make();
    const Bytes content = pattern(3000, 6);
    run(open_steps("x.exe", 0));
    const auto& r1 = send(C, smb2({.cmd = 9, .mid = 10, .tree = 5}, write_req(kFid, 0, content)));
    EXPECT_FALSE(r1.hold());
    const auto& r2 = send(C, smb2({.cmd = 6, .mid = 11, .tree = 5}, close_req(kFid)));
    EXPECT_TRUE(r2.hold());
    ASSERT_EQ(sink.files.size(), 1u);
    EXPECT_EQ(r2.file_uids[0], sink.files[0].uid);
}

TEST_F(Smb2Test, CompoundCreateWriteCloseUsesTheRelatedFileId) {
    make();
    auto steps = open_steps("unused", 0);
    steps.resize(6);  // up to the tree connect
    run(steps);
    const Bytes content = pattern(700, 7);
    const Bytes req = compound({smb2({.cmd = 5, .mid = 20, .tree = 5}, create_req("c.txt", 2)),
                                smb2({.cmd = 9, .mid = 21, .flags = 0x4, .tree = 5}, write_req(kRelated, 0, content)),
                                smb2({.cmd = 6, .mid = 22, .flags = 0x4, .tree = 5}, close_req(kRelated))});
    const auto& r = send(C, req);
    EXPECT_TRUE(r.hold());
    ASSERT_EQ(sink.files.size(), 1u);
    EXPECT_EQ(sink.files[0].filename, "c.txt");
    EXPECT_EQ(sink.files[0].state, FileState::complete);
    EXPECT_EQ(sink.files[0].content, content);
    const Bytes resp = compound({smb2({.cmd = 5, .mid = 20, .resp = true, .tree = 5}, create_resp(kFid, 0, 2)),
                                 smb2({.cmd = 9, .mid = 21, .resp = true, .flags = 0x4, .tree = 5}, write_resp(700)),
                                 smb2({.cmd = 6, .mid = 22, .resp = true, .flags = 0x4, .tree = 5}, close_resp())});
    send(S, resp);
    EXPECT_EQ(counter(SmbCounter::commands_smb2), 6u + 6u);
    EXPECT_EQ(anomalies(SmbAnomaly::response_without_request), 0u);
    EXPECT_EQ(dec->open_files(), 0u);
}

TEST_F(Smb2Test, CompoundCreateReadCloseFinishesAfterTheReadResponse) {
    make();
    auto steps = open_steps("unused", 0);
    steps.resize(6);
    run(steps);
    const Bytes content = pattern(1500, 8);
    send(C, compound({smb2({.cmd = 5, .mid = 20, .tree = 5}, create_req("small.ini")),
                      smb2({.cmd = 8, .mid = 21, .flags = 0x4, .tree = 5}, read_req(kRelated, 0, 65536)),
                      smb2({.cmd = 6, .mid = 22, .flags = 0x4, .tree = 5}, close_req(kRelated))}));
    EXPECT_TRUE(sink.files.empty());
    const auto& r = send(S, compound({smb2({.cmd = 5, .mid = 20, .resp = true, .tree = 5}, create_resp(kFid, 1500)),
                                      smb2({.cmd = 8, .mid = 21, .resp = true, .flags = 0x4, .tree = 5}, read_resp(content)),
                                      smb2({.cmd = 6, .mid = 22, .resp = true, .flags = 0x4, .tree = 5}, close_resp())}));
    EXPECT_TRUE(r.hold());
    ASSERT_EQ(sink.files.size(), 1u);
    EXPECT_EQ(sink.files[0].filename, "small.ini");
    EXPECT_EQ(sink.files[0].state, FileState::complete);
    EXPECT_EQ(sink.files[0].content, content);
    EXPECT_EQ(dec->open_files(), 0u);
}

TEST_F(Smb2Test, AsyncInterimResponseKeepsTheRequest) {
    make();
    const Bytes content = pattern(2000, 9);
    run(open_steps("slow.bin", content.size()));
    send(C, smb2({.cmd = 8, .mid = 10, .tree = 5}, read_req(kFid, 0, 4096)));
    send(S, smb2({.cmd = 8, .mid = 10, .resp = true, .status = 0x103, .flags = 0x2, .async_id = 77}, error_resp()));
    EXPECT_TRUE(sink.files.empty());
    send(S, smb2({.cmd = 8, .mid = 10, .resp = true, .flags = 0x2, .async_id = 77}, read_resp(content)));
    ASSERT_EQ(sink.files.size(), 1u);
    EXPECT_EQ(sink.files[0].state, FileState::complete);
    EXPECT_EQ(sink.files[0].content, content);
    EXPECT_EQ(counter(SmbCounter::async_interim), 1u);
    EXPECT_EQ(anomalies(SmbAnomaly::response_without_request), 0u);
}

// The same conversation fed whole, one byte at a time, and at random splits
// that cross message boundaries gives the same files and transactions.
TEST_F(Smb2Test, NetbiosFramingSplitAtEveryByteGivesTheSameResult) {
    const Bytes content = pattern(20000, 10);
    const auto steps = upload_steps(content, 7000, {2, 0, 1});
    auto download = open_steps("down.bin", content.size());
    download.push_back({C, smb2({.cmd = 8, .mid = 40, .tree = 5}, read_req(kFid, 0, 65536))});
    download.push_back({S, smb2({.cmd = 8, .mid = 40, .resp = true, .tree = 5}, read_resp(content))});
    for (const std::vector<Step>* conv : std::vector<const std::vector<Step>*>{&steps, &download}) {
        std::vector<std::string> results;
        for (int mode = 0; mode < 3; ++mode) {
            RecordingSink s;
            SmbWorkerContext c(cfg);
            SmbDecoder d(c, s);
            std::mt19937 rng(42);
            // Merge consecutive messages of one direction into one byte run.
            std::vector<std::pair<Direction, Bytes>> runs;
            for (const auto& st : *conv) {
                if (runs.empty() || runs.back().first != st.dir) runs.emplace_back(st.dir, Bytes{});
                runs.back().second.raw(nbss(st.msg));
            }
            for (const auto& [dir, bytes] : runs) {
                size_t at = 0;
                while (at < bytes.size()) {
                    size_t n = bytes.size() - at;
                    if (mode == 1) n = 1;
                    if (mode == 2) n = std::min(n, static_cast<size_t>(1 + rng() % 300));
                    d.on_data(dir, at, std::span<const uint8_t>(bytes.data() + at, n));
                    at += n;
                }
            }
            d.on_end();
            std::string r = std::to_string(s.transactions) + ":";
            for (const auto& f : s.files) r += f.filename + "/" + f.sha256 + "/" + std::string(to_string(f.state)) + ";";
            results.push_back(r);
            ASSERT_EQ(s.files.size(), 1u);
            EXPECT_EQ(s.files[0].content, content);
            EXPECT_EQ(c.anomalies().total(), 0u);
            if (mode == 1) {
                EXPECT_GT(c.counters().get(SmbCounter::pdus_streamed), 0u) << "file data streamed, not buffered";
            }
        }
        EXPECT_EQ(results[0], results[1]);
        EXPECT_EQ(results[0], results[2]);
    }
}

TEST_F(Smb2Test, LargeWriteStreamsPastTheMessageBuffer) {
    cfg.pdu_buffer_size = 4096;
    cfg.files.memory_per_file = 8 << 20;
    make();
    const Bytes content = pattern(3 << 20, 11);  // one 3 MiB WRITE
    run(open_steps("big.iso", 0));
    const Bytes msg = nbss(smb2({.cmd = 9, .mid = 10, .tree = 5}, write_req(kFid, 0, content)));
    for (size_t at = 0; at < msg.size(); at += 1448)
        dec->on_data(C, at, std::span<const uint8_t>(msg.data() + at, std::min<size_t>(1448, msg.size() - at)));
    send(C, smb2({.cmd = 6, .mid = 11, .tree = 5}, close_req(kFid)));
    ASSERT_EQ(sink.files.size(), 1u);
    EXPECT_EQ(sink.files[0].state, FileState::complete);
    EXPECT_EQ(sink.files[0].sha256, sha256_hex_of(content));
    EXPECT_EQ(anomalies(SmbAnomaly::pdu_buffer_full), 0u);
    EXPECT_LE(dec->state_bytes(), 64u * 1024);
}

TEST_F(Smb2Test, MessageOverTheBufferCapIsSkippedAndTheNextOneParsed) {
    cfg.pdu_buffer_size = 2048;
    make();
    run(open_steps("a", 0));
    // A CREATE whose name (3000 UTF-16 bytes) does not fit the buffer, arriving
    // in pieces (a message whole in one chunk is parsed in place, unbuffered).
    const Bytes big = nbss(smb2({.cmd = 5, .mid = 20, .tree = 5}, create_req(std::string(1500, 'n'))));
    for (size_t at = 0; at < big.size(); at += 1000)
        dec->on_data(C, at, std::span<const uint8_t>(big.data() + at, std::min<size_t>(1000, big.size() - at)));
    EXPECT_EQ(anomalies(SmbAnomaly::pdu_buffer_full), 1u);
    EXPECT_EQ(counter(SmbCounter::pdus_skipped), 1u);
    // Skipped by its length: framing holds, the next message is decoded.
    send(C, smb2({.cmd = 9, .mid = 21, .tree = 5}, write_req(kFid, 0, pattern(100, 1))));
    send(C, smb2({.cmd = 6, .mid = 22, .tree = 5}, close_req(kFid)));
    ASSERT_EQ(sink.files.size(), 1u);
    EXPECT_EQ(sink.files[0].state, FileState::complete);
}

TEST_F(Smb2Test, MessageOverMaxPduSizeIsSkippedUnread) {
    cfg.max_pdu_size = 1000;
    make();
    run(open_steps("a", 0));
    const auto& r = send(C, smb2({.cmd = 9, .mid = 20, .tree = 5}, write_req(kFid, 0, pattern(5000, 1))));
    EXPECT_FALSE(r.hold());
    EXPECT_EQ(anomalies(SmbAnomaly::pdu_too_large), 1u);
    send(C, smb2({.cmd = 9, .mid = 21, .tree = 5}, write_req(kFid, 0, pattern(100, 2))));
    send(C, smb2({.cmd = 6, .mid = 22, .tree = 5}, close_req(kFid)));
    ASSERT_EQ(sink.files.size(), 1u);
    EXPECT_EQ(sink.files[0].size, 100u);
}

TEST_F(Smb2Test, LyingLengthsAndOffsetsAreCountedNeverRead) {
    make();
    run(open_steps("a", 0));
    // WRITE data offset past the message.
    Bytes w = write_req(kFid, 0, pattern(64, 1), 400);
    send(C, smb2({.cmd = 9, .mid = 20, .tree = 5}, w));
    // WRITE claiming more data than the message holds.
    Bytes w2 = write_req(kFid, 0, pattern(64, 1));
    w2.put32(4, 100000);
    send(C, smb2({.cmd = 9, .mid = 21, .tree = 5}, w2));
    // WRITE data offset inside the header.
    send(C, smb2({.cmd = 9, .mid = 22, .tree = 5}, write_req(kFid, 0, pattern(64, 1), 10)));
    EXPECT_EQ(anomalies(SmbAnomaly::bad_data_offset), 3u);
    // CREATE name outside the message.
    Bytes c = create_req("abc");
    c.put16(44, 5000);
    send(C, smb2({.cmd = 5, .mid = 23, .tree = 5}, c));
    EXPECT_EQ(anomalies(SmbAnomaly::bad_name), 1u);
    // Tree connect path length past the end.
    Bytes t = tree_connect_req("\\\\x\\y");
    t.put16(6, 9999);
    send(C, smb2({.cmd = 3, .mid = 24, .tree = 0}, t));
    EXPECT_EQ(anomalies(SmbAnomaly::bad_name), 2u);
    // READ response data offset/length lying.
    send(C, smb2({.cmd = 8, .mid = 25, .tree = 5}, read_req(kFid, 0, 100)));
    Bytes rr = read_resp(pattern(50, 1));
    rr.put32(4, 5000);
    send(S, smb2({.cmd = 8, .mid = 25, .resp = true, .tree = 5}, rr));
    EXPECT_EQ(anomalies(SmbAnomaly::bad_data_offset), 4u);
    // NextCommand past the end, and one smaller than a header.
    Bytes m = smb2({.cmd = 13, .mid = 26}, Bytes{4, 0, 0, 0});
    m.put32(20, 4000);
    send(C, m);
    m.put32(20, 8);
    send(C, m);
    EXPECT_EQ(anomalies(SmbAnomaly::smb2_bad_next_command), 2u);
    // No file was made of any of it.
    send(C, smb2({.cmd = 6, .mid = 27, .tree = 5}, close_req(kFid)));
    EXPECT_TRUE(sink.files.empty());
}

TEST_F(Smb2Test, TruncatedMessagesAreCounted) {
    make();
    Bytes hdr = smb2({.cmd = 9, .mid = 1}, {});
    send(C, Bytes(hdr.begin(), hdr.begin() + 20));  // header cut short
    EXPECT_EQ(anomalies(SmbAnomaly::truncated_header), 1u);
    send(C, smb2({.cmd = 9, .mid = 2}, Bytes{49, 0, 112}));  // WRITE body cut short
    EXPECT_EQ(anomalies(SmbAnomaly::truncated_header), 2u);
    send(C, Bytes{0xfe, 'S', 'M'});
    send(C, Bytes{0x00, 'S', 'M', 'B', 1, 2, 3});
    EXPECT_EQ(anomalies(SmbAnomaly::bad_protocol_id), 1u);
    EXPECT_EQ(anomalies(SmbAnomaly::truncated_header), 3u);
    // A message announced longer than what ever arrives: on_end, no crash, no file.
    const Bytes w = nbss(smb2({.cmd = 9, .mid = 3}, write_req(kFid, 0, pattern(1000, 1))));
    dec->on_data(C, 0, std::span<const uint8_t>(w.data(), 300));
    dec->on_end();
    EXPECT_EQ(ctx->files().memory_used(), 0u);
}

TEST_F(Smb2Test, EncryptedTransformIsReportedOncePerSessionAndDecodingGoesOn) {
    cfg.encrypted_policy = EncryptedPolicy::block;
    make();
    run(open_steps("a", 0));
    const auto& r = send(C, transform(0xabc, 200));
    EXPECT_TRUE(r.encrypted);
    send(S, transform(0xabc, 5000));
    send(C, transform(0xdef, 100));
    ASSERT_EQ(sink.sessions.size(), 2u);
    EXPECT_EQ(sink.sessions[0].kind, SmbSessionKind::encrypted);
    EXPECT_EQ(sink.sessions[0].session_id, 0xabcu);
    EXPECT_EQ(sink.sessions[0].policy, EncryptedPolicy::block);
    EXPECT_EQ(sink.sessions[0].dialect, 0x0311);
    EXPECT_EQ(sink.sessions[1].session_id, 0xdefu);
    EXPECT_EQ(counter(SmbCounter::pdus_encrypted), 3u);
    EXPECT_EQ(counter(SmbCounter::encrypted_sessions), 2u);
    // A transform header cut short is an anomaly, not a crash.
    Bytes cut = transform(1, 0);
    cut.resize(30);
    send(C, cut);
    EXPECT_EQ(anomalies(SmbAnomaly::bad_transform), 1u);
    // Plain messages after encrypted ones still decode.
    send(C, smb2({.cmd = 9, .mid = 30, .tree = 5}, write_req(kFid, 0, pattern(10, 1))));
    send(C, smb2({.cmd = 6, .mid = 31, .tree = 5}, close_req(kFid)));
    EXPECT_EQ(sink.files.size(), 1u);
}

TEST_F(Smb2Test, CompressionTransformIsCounted) {
    make();
    send(C, compression_transform(100));
    send(C, compression_transform(9000));  // large: skipped past the header unbuffered
    EXPECT_EQ(counter(SmbCounter::pdus_compressed), 2u);
    EXPECT_EQ(anomalies(SmbAnomaly::pdu_buffer_full), 0u);
}

TEST_F(Smb2Test, SignedSessionIsReportedOnce) {
    make();
    send(C, smb2({.cmd = 13, .mid = 1, .flags = 0x8, .session = 0x55}, Bytes{4, 0, 0, 0}));
    send(S, smb2({.cmd = 13, .mid = 1, .resp = true, .flags = 0x8, .session = 0x55}, Bytes{4, 0, 0, 0}));
    ASSERT_EQ(sink.sessions.size(), 1u);
    EXPECT_EQ(sink.sessions[0].kind, SmbSessionKind::signed_only);
    EXPECT_EQ(sink.sessions[0].session_id, 0x55u);
    EXPECT_EQ(counter(SmbCounter::signed_sessions), 1u);
}

TEST_F(Smb2Test, NamedPipeTrafficIsNotCarved) {
    make();
    auto steps = open_steps("srvsvc", 0, "\\\\srv\\IPC$", 2);
    steps.push_back({C, smb2({.cmd = 9, .mid = 10, .tree = 5}, write_req(kFid, 0, pattern(116, 1)))});
    steps.push_back({C, smb2({.cmd = 8, .mid = 11, .tree = 5}, read_req(kFid, 0, 1024))});
    steps.push_back({S, smb2({.cmd = 8, .mid = 11, .resp = true, .tree = 5}, read_resp(pattern(92, 2)))});
    steps.push_back({C, smb2({.cmd = 6, .mid = 12, .tree = 5}, close_req(kFid))});
    run(steps);
    EXPECT_TRUE(sink.files.empty());
    EXPECT_EQ(counter(SmbCounter::pipe_data_bytes), 116u + 92u);
    ASSERT_FALSE(sink.pipe_names.empty());
    EXPECT_EQ(sink.pipe_names[0], "srvsvc");
}

TEST_F(Smb2Test, WriteToUnknownFileIdIsCarvedWithoutName) {
    make();
    const Bytes content = pattern(500, 12);
    send(C, smb2({.cmd = 9, .mid = 10, .tree = 5}, write_req(kFid, 0, content)));
    send(C, smb2({.cmd = 6, .mid = 11, .tree = 5}, close_req(kFid)));
    ASSERT_EQ(sink.files.size(), 1u);
    EXPECT_EQ(sink.files[0].filename, "");
    EXPECT_EQ(sink.files[0].content, content);
    EXPECT_EQ(anomalies(SmbAnomaly::unknown_file_id), 1u);
}

TEST_F(Smb2Test, OpenFileTableIsBoundedLeastRecentlyUsedIsFinished) {
    cfg.max_open_files = 4;
    make();
    run(open_steps("x", 0));
    send(C, smb2({.cmd = 9, .mid = 9, .tree = 5}, write_req(kFid, 0, pattern(10, 9))));
    for (uint64_t i = 0; i < 6; ++i) {
        const Fid fid{100 + i, 200 + i};
        char name[16];  // (not "f" + std::to_string(i): GCC 12 -Wrestrict false positive at -O3)
        std::snprintf(name, sizeof name, "f%u", static_cast<unsigned>(i));
        send(C, smb2({.cmd = 5, .mid = 50 + 2 * i, .tree = 5}, create_req(name)));
        send(S, smb2({.cmd = 5, .mid = 50 + 2 * i, .resp = true, .tree = 5}, create_resp(fid, 0, 2)));
        send(C, smb2({.cmd = 9, .mid = 51 + 2 * i, .tree = 5}, write_req(fid, 0, pattern(10, static_cast<uint32_t>(i)))));
    }
    EXPECT_LE(dec->open_files(), 4u);
    EXPECT_GE(anomalies(SmbAnomaly::file_table_full), 1u);
    ASSERT_GE(sink.files.size(), 2u);
    EXPECT_EQ(sink.files[0].filename, "x") << "least recently used first";
    EXPECT_EQ(sink.files[0].state, FileState::truncated) << "evicted before CLOSE";
}

TEST_F(Smb2Test, PendingRequestTableIsBounded) {
    cfg.max_pending = 8;
    make();
    for (uint64_t i = 0; i < 100; ++i) send(C, smb2({.cmd = 13, .mid = i}, Bytes{4, 0, 0, 0}));
    EXPECT_EQ(anomalies(SmbAnomaly::pending_table_full), 92u);
    send(S, smb2({.cmd = 13, .mid = 99, .resp = true}, Bytes{4, 0, 0, 0}));
    send(S, smb2({.cmd = 13, .mid = 0, .resp = true}, Bytes{4, 0, 0, 0}));
    EXPECT_EQ(anomalies(SmbAnomaly::response_without_request), 1u);
}

TEST_F(Smb2Test, GapInsideStreamedDataLeavesAHoleAndFramingHolds) {
    make();
    run(open_steps("g.bin", 0));
    const Bytes content = pattern(10000, 13);
    const Bytes msg = nbss(smb2({.cmd = 9, .mid = 10, .tree = 5}, write_req(kFid, 0, content)));
    const size_t data_at = 4 + 112;
    dec->on_data(C, 0, std::span<const uint8_t>(msg.data(), data_at + 3000));
    dec->on_gap(C, data_at + 3000, 2000);
    dec->on_data(C, data_at + 5000, std::span<const uint8_t>(msg.data() + data_at + 5000, msg.size() - data_at - 5000));
    send(C, smb2({.cmd = 6, .mid = 11, .tree = 5}, close_req(kFid)));
    ASSERT_EQ(sink.files.size(), 1u);
    const auto& f = sink.files[0];
    EXPECT_EQ(f.state, FileState::truncated);
    EXPECT_TRUE(f.gaps);
    EXPECT_EQ(f.size, 10000u);
    EXPECT_EQ(f.sha256_bytes, 3000u);
    EXPECT_TRUE(std::equal(content.begin() + 5000, content.end(), f.content.begin() + 5000));
    EXPECT_EQ(anomalies(SmbAnomaly::pdu_lost_in_gap), 0u);
}

TEST_F(Smb2Test, GapInHeadersResynchronisesOnTheNextMessage) {
    make();
    run(open_steps("r.bin", 0));
    const Bytes a = nbss(smb2({.cmd = 9, .mid = 10, .tree = 5}, write_req(kFid, 0, pattern(300, 1))));
    dec->on_data(C, 0, std::span<const uint8_t>(a.data(), 50));
    dec->on_gap(C, 50, 10);  // inside the WRITE header: message lost
    dec->on_data(C, 60, std::span<const uint8_t>(a.data() + 60, a.size() - 60));
    EXPECT_EQ(anomalies(SmbAnomaly::pdu_lost_in_gap), 1u);
    // A gap that swallows a message boundary: the decoder searches for the next header.
    dec->on_gap(C, 0, 7);
    Bytes junk = pattern(37, 5);
    junk[0] = 1;
    dec->on_data(C, 0, junk);
    const Bytes content = pattern(400, 2);
    send(C, smb2({.cmd = 9, .mid = 11, .tree = 5}, write_req(kFid, 0, content)));
    send(C, smb2({.cmd = 6, .mid = 12, .tree = 5}, close_req(kFid)));
    EXPECT_GE(counter(SmbCounter::resyncs), 1u);
    ASSERT_EQ(sink.files.size(), 1u);
    EXPECT_EQ(sink.files[0].content, content);
}

TEST_F(Smb2Test, EndOfFlowFinishesOpenFilesTruncated) {
    make();
    run(open_steps("u.bin", 0));
    send(C, smb2({.cmd = 9, .mid = 10, .tree = 5}, write_req(kFid, 0, pattern(100, 1))));
    dec->on_end();
    ASSERT_EQ(sink.files.size(), 1u);
    EXPECT_EQ(sink.files[0].state, FileState::truncated) << "no CLOSE, no known size: not known to be whole";
    EXPECT_EQ(sink.files[0].content.size(), 100u);
    EXPECT_TRUE(dec->last_result().hold());
}

TEST_F(Smb2Test, TransactionsAndFileinfoRenderAsSuricataEve) {
    make();
    sink.keep_tx_json = true;
    run(upload_steps(pattern(100, 1), 100));
    ASSERT_FALSE(sink.tx_json.empty());
    const auto neg = nlohmann::json::parse(sink.tx_json[0]);
    EXPECT_EQ(neg["smb"]["command"], "SMB2_COMMAND_NEGOTIATE_PROTOCOL");
    EXPECT_EQ(neg["smb"]["dialect"], "3.11");
    EXPECT_EQ(neg["smb"]["status"], "STATUS_SUCCESS");
    bool saw_tree = false, saw_create = false;
    for (const auto& text : sink.tx_json) {
        const auto j = nlohmann::json::parse(text)["smb"];
        if (j["command"] == "SMB2_COMMAND_TREE_CONNECT") {
            saw_tree = true;
            EXPECT_EQ(j["share"], "\\\\srv\\share");
        }
        if (j["command"] == "SMB2_COMMAND_CREATE") {
            saw_create = true;
            EXPECT_EQ(j["filename"], "dir\\file.bin");
            EXPECT_EQ(j["disposition"], "FILE_OVERWRITE_IF");
            EXPECT_EQ(j["fuid"], "00001111-0000-0000-2222-000000000000");
            EXPECT_EQ(j["tree_id"], 5);
        }
    }
    EXPECT_TRUE(saw_tree);
    EXPECT_TRUE(saw_create);
    ASSERT_EQ(sink.fileinfo_json.size(), 1u);
    const auto fi = nlohmann::json::parse(sink.fileinfo_json[0])["fileinfo"];
    EXPECT_EQ(fi["filename"], "dir\\file.bin");
    EXPECT_EQ(fi["state"], "COMPLETE");
    EXPECT_EQ(fi["gaps"], false);
    EXPECT_EQ(fi["size"], 100);
    EXPECT_EQ(fi["sha256"], sink.files[0].sha256);
    EXPECT_EQ(fi["stored"], false);
    EXPECT_TRUE(fi["sid"].is_array());
    EXPECT_EQ(fi["share"], "\\\\srv\\share");
    EXPECT_EQ(fi["direction"], "upload");
    EXPECT_EQ(fi["tx_id"], 0);
}

TEST_F(Smb2Test, HostileNamesBecomeValidUtf8AndAreCapped) {
    cfg.max_name_bytes = 16;
    make();
    Bytes c = create_req("abcdefghijklmnopqrstuvwxyz");
    send(C, smb2({.cmd = 5, .mid = 1, .tree = 5}, c));
    Bytes c2 = create_req("ab");
    c2.resize(c2.size() - 4);
    c2.le16(0xd800).le16(0x0041);  // lone high surrogate
    c2.put16(46, 4);
    send(C, smb2({.cmd = 5, .mid = 2, .tree = 5}, c2));
    send(S, smb2({.cmd = 5, .mid = 1, .resp = true, .tree = 5}, create_resp({1, 1}, 0)));
    send(S, smb2({.cmd = 5, .mid = 2, .resp = true, .tree = 5}, create_resp({2, 2}, 0)));
    send(C, smb2({.cmd = 9, .mid = 3, .tree = 5}, write_req({1, 1}, 0, pattern(5, 1))));
    send(C, smb2({.cmd = 9, .mid = 4, .tree = 5}, write_req({2, 2}, 0, pattern(5, 1))));
    dec->on_end();
    ASSERT_EQ(sink.files.size(), 2u);
    EXPECT_LE(sink.files[0].filename.size(), 16u);
    EXPECT_EQ(anomalies(SmbAnomaly::name_too_long), 1u);
    EXPECT_EQ(sink.files[1].filename, "\xef\xbf\xbd" "A");
    for (const auto& j : sink.fileinfo_json) EXPECT_TRUE(nlohmann::json::accept(j));
}

}  // namespace
}  // namespace sluice

namespace sluice {
namespace {

// An exception inside the decoder (allocation failure; here a sink that throws)
// never reaches the worker: it is counted and the flow's SMB state is dropped.
TEST(SmbDecoderGuard, ExceptionsAreContainedAndCounted) {
    struct ThrowingSink : test::RecordingSink {
        void on_file_finished(FileInfo&) override { throw std::bad_alloc(); }
    } sink;
    SmbWorkerContext ctx;
    SmbDecoder dec(ctx, sink);
    for (const auto& s : open_steps("t.bin", 0)) dec.on_data(s.dir, 0, nbss(s.msg));
    dec.on_data(C, 0, nbss(smb2({.cmd = 9, .mid = 10, .tree = 5}, write_req(kFid, 0, pattern(100, 1)))));
    EXPECT_NO_THROW(dec.on_data(C, 0, nbss(smb2({.cmd = 6, .mid = 11, .tree = 5}, close_req(kFid)))));
    EXPECT_EQ(ctx.anomalies().get(SmbAnomaly::internal_error), 1u);
    EXPECT_EQ(dec.open_files(), 0u);
    EXPECT_FALSE(dec.last_result().hold());
    EXPECT_NO_THROW(dec.on_data(C, 0, nbss(smb2({.cmd = 9, .mid = 12, .tree = 5}, write_req(kFid, 0, pattern(100, 1))))));
    EXPECT_NO_THROW(dec.on_end());
    EXPECT_EQ(ctx.files().memory_used(), 0u);
}

}  // namespace
}  // namespace sluice

namespace sluice {
namespace {

TEST_F(Smb2Test, AsyncCreateResponseKeepsTheRequestsTree) {
    make();
    auto steps = open_steps("a", 0);
    steps.resize(6);
    run(steps);
    send(C, smb2({.cmd = 5, .mid = 20, .tree = 5}, create_req("slow-open.bin", 2)));
    send(S, smb2({.cmd = 5, .mid = 20, .resp = true, .status = 0x103, .flags = 0x2, .async_id = 4}, error_resp()));
    send(S, smb2({.cmd = 5, .mid = 20, .resp = true, .flags = 0x2, .async_id = 4}, create_resp(kFid, 0, 2)));
    send(C, smb2({.cmd = 9, .mid = 21, .tree = 5}, write_req(kFid, 0, pattern(50, 1))));
    send(C, smb2({.cmd = 6, .mid = 22, .tree = 5}, close_req(kFid)));
    ASSERT_EQ(sink.files.size(), 1u);
    EXPECT_EQ(sink.files[0].filename, "slow-open.bin");
    EXPECT_EQ(sink.files[0].share, "\\\\srv\\share");
    EXPECT_EQ(sink.files[0].file_id.tree_id, 5u);
    EXPECT_EQ(anomalies(SmbAnomaly::unknown_file_id), 0u);
}

TEST_F(Smb2Test, TreeDisconnectForgetsTheShare) {
    make();
    run(open_steps("a", 0));
    send(C, smb2({.cmd = 4, .mid = 30, .tree = 5}, Bytes{4, 0, 0, 0}));
    send(S, smb2({.cmd = 4, .mid = 30, .resp = true, .tree = 5}, Bytes{4, 0, 0, 0}));
    // A later open on the same (now unknown) tree id has no share.
    send(C, smb2({.cmd = 5, .mid = 31, .tree = 5}, create_req("b")));
    send(S, smb2({.cmd = 5, .mid = 31, .resp = true, .tree = 5}, create_resp({9, 9}, 0, 2)));
    send(C, smb2({.cmd = 9, .mid = 32, .tree = 5}, write_req({9, 9}, 0, pattern(5, 1))));
    send(C, smb2({.cmd = 6, .mid = 33, .tree = 5}, close_req({9, 9})));
    ASSERT_EQ(sink.files.size(), 1u);
    EXPECT_EQ(sink.files[0].share, "");
}

}  // namespace
}  // namespace sluice

namespace sluice {
namespace {

TEST_F(Smb2Test, ForgedResponseFromTheClientNeverFeedsAFile) {
    make();
    const Bytes real = pattern(3000, 21);
    run(open_steps("evil.exe", real.size()));
    send(C, smb2({.cmd = 8, .mid = 10, .tree = 5}, read_req(kFid, 0, 4096)));
    // The client "answers" its own read with harmless bytes, split so that the
    // data would stream through the hole: ignored, counted.
    const Bytes forged = nbss(smb2({.cmd = 8, .mid = 10, .resp = true, .tree = 5}, read_resp(pattern(3000, 22))));
    for (size_t at = 0; at < forged.size(); at += 500)
        dec->on_data(C, at, std::span<const uint8_t>(forged.data() + at, std::min<size_t>(500, forged.size() - at)));
    EXPECT_EQ(anomalies(SmbAnomaly::wrong_direction), 1u);
    EXPECT_TRUE(sink.files.empty());
    send(S, smb2({.cmd = 8, .mid = 10, .resp = true, .tree = 5}, read_resp(real)));
    ASSERT_EQ(sink.files.size(), 1u);
    EXPECT_EQ(sink.files[0].content, real);
    EXPECT_EQ(sink.files[0].state, FileState::complete);
}

// The dataplane could not tell who initiated the connection (picked up
// midstream) and labelled the server's side to_server.
TEST_F(Smb2Test, MidstreamFlowTakesItsOrientationFromTheFirstMessage) {
    const Bytes content = pattern(4000, 23);
    auto steps = open_steps("m.bin", content.size());
    steps.push_back({C, smb2({.cmd = 8, .mid = 10, .tree = 5}, read_req(kFid, 0, 8192))});
    steps.push_back({S, smb2({.cmd = 8, .mid = 10, .resp = true, .tree = 5}, read_resp(content))});
    steps.erase(steps.begin());  // the first message seen is the server's negotiate response
    {
        make();
        for (const auto& s : steps) send(opposite(s.dir), s.msg);
        EXPECT_TRUE(sink.files.empty()) << "directions trusted: every message is in the wrong one";
        EXPECT_GT(anomalies(SmbAnomaly::wrong_direction), 5u);
    }
    RecordingSink midstream_sink;
    SmbWorkerContext c(cfg);
    SmbDecoder d(c, midstream_sink, /*directions_known=*/false);
    for (const auto& s : steps) d.on_data(opposite(s.dir), 0, nbss(s.msg));
    ASSERT_EQ(midstream_sink.files.size(), 1u);
    EXPECT_EQ(midstream_sink.files[0].direction, FileDirection::download);
    EXPECT_EQ(midstream_sink.files[0].content, content);
    EXPECT_EQ(c.anomalies().get(SmbAnomaly::wrong_direction), 0u);
    // Once oriented, a "response" on the client's side is refused.
    d.on_data(Direction::to_client, 0, nbss(smb2({.cmd = 13, .mid = 99, .resp = true}, Bytes{4, 0, 0, 0})));
    EXPECT_EQ(c.anomalies().get(SmbAnomaly::wrong_direction), 1u);
}

}  // namespace
}  // namespace sluice
