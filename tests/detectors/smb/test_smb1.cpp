// SMB1 decoding and NetBIOS session service framing with handcrafted messages:
// NEGOTIATE, SESSION_SETUP_ANDX + TREE_CONNECT_ANDX chains, NT_CREATE_ANDX,
// OPEN_ANDX, WRITE_ANDX (high offsets, large writes), WRITE, READ_ANDX matched by
// MID, CLOSE, TRANS2 end-of-file, AndX loops, lying counts, signing, pipes, and
// NetBIOS session request/response/keepalive/garbage on port 139.
#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "detectors/smb/smb_decoder.hpp"
#include "tests/detectors/smb/smb_pdu_builder.hpp"
#include "tests/detectors/smb/smb_test_sink.hpp"

namespace sluice {
namespace {

using namespace test;
constexpr Direction C = Direction::to_server;
constexpr Direction S = Direction::to_client;
constexpr uint16_t kTid = 0x800;
constexpr uint16_t kFid = 0x4000;

// ------------------------------------------------------------ message makers

Bytes negotiate_req() {
    Bytes m = smb1_header({.cmd = 0x72, .tid = 0, .uid = 0, .mid = 1});
    Bytes bytes;
    bytes.u8(2).str("PC NETWORK PROGRAM 1.0").u8(0).u8(2).str("NT LM 0.12").u8(0);
    smb1_block(m, {}, bytes);
    return m;
}
Bytes negotiate_resp() {
    Bytes m = smb1_header({.cmd = 0x72, .resp = true, .tid = 0, .uid = 0, .mid = 1});
    Bytes w;
    w.le16(1).u8(3).le16(50).le16(1).le32(16644).le32(65536).le32(0).le32(0x8000e3fd).le64(0).le16(0).u8(0);
    smb1_block(m, w, Bytes(16, 0));
    return m;
}
// SESSION_SETUP_ANDX chained with TREE_CONNECT_ANDX to `path` (unicode).
Bytes session_tree_req(const std::string& path, uint16_t mid = 2) {
    Bytes m = smb1_header({.cmd = 0x73, .tid = 0, .uid = 0, .mid = mid});
    Bytes w1 = andx(0x75, 0);
    w1.le16(16644).le16(50).le16(0).le32(0).le16(4).le32(0).le32(0x800000d4);
    smb1_block(m, w1, Bytes{1, 2, 3, 4});
    const size_t tc_at = m.size();
    m.put16(32 + 1 + 2, static_cast<uint16_t>(tc_at));  // AndXOffset of the first block
    Bytes w2 = andx();
    w2.le16(0).le16(1);  // flags, password length 1
    Bytes b2;
    b2.u8(0);  // password
    if ((tc_at + 1 + 8 + 2 + 1) % 2) b2.u8(0);  // align the UTF-16 path
    b2.utf16(path).le16(0).str("?????").u8(0);
    smb1_block(m, w2, b2);
    return m;
}
Bytes session_tree_resp(const char* service = "A:", uint16_t mid = 2) {
    Bytes m = smb1_header({.cmd = 0x73, .resp = true, .tid = kTid, .mid = mid});
    Bytes w1 = andx(0x75, 0);
    w1.le16(0).le16(0);
    smb1_block(m, w1, {});
    m.put16(32 + 1 + 2, static_cast<uint16_t>(m.size()));
    Bytes w2 = andx();
    w2.le16(1);
    Bytes b2;
    b2.str(service).u8(0).utf16("NTFS").le16(0);
    smb1_block(m, w2, b2);
    return m;
}
Bytes nt_create_req(const std::string& name, uint16_t mid, uint16_t tid = kTid) {
    Bytes m = smb1_header({.cmd = 0xa2, .tid = tid, .mid = mid});
    Bytes w = andx();
    w.u8(0).le16(static_cast<uint16_t>(name.size() * 2)).le32(0x16).le32(0).le32(0x30196).le64(0).le32(0x80);
    w.le32(7).le32(5).le32(0x44).le32(2).u8(3);
    Bytes b;
    b.u8(0);  // pad: the name starts at an even offset (83 + 1)
    b.utf16(name).le16(0);
    smb1_block(m, w, b);
    return m;
}
Bytes nt_create_resp(uint16_t fid, uint64_t eof, uint16_t mid, uint16_t file_type = 0, uint16_t tid = kTid) {
    Bytes m = smb1_header({.cmd = 0xa2, .resp = true, .tid = tid, .mid = mid});
    Bytes w = andx();
    w.u8(0).le16(fid).le32(eof ? 1 : 2).le64(1).le64(2).le64(3).le64(4).le32(0x80).le64((eof + 4095) & ~4095ull);
    w.le64(eof).le16(file_type).le16(7).u8(0);
    smb1_block(m, w, {});
    return m;
}
Bytes write_andx_req(uint16_t fid, uint64_t offset, const Bytes& data, uint16_t mid, bool wct14 = true,
                     uint16_t tid = kTid) {
    Bytes m = smb1_header({.cmd = 0x2f, .tid = tid, .mid = mid});
    const uint16_t data_off = static_cast<uint16_t>(32 + 1 + (wct14 ? 28 : 24) + 2 + 1);
    Bytes w = andx();
    w.le16(fid).le32(static_cast<uint32_t>(offset)).le32(0).le16(0).le16(0);
    w.le16(static_cast<uint16_t>(data.size() >> 16)).le16(static_cast<uint16_t>(data.size())).le16(data_off);
    if (wct14) w.le32(static_cast<uint32_t>(offset >> 32));
    Bytes b;
    b.u8(0xee).raw(data);  // one pad byte before the data
    m.u8(static_cast<uint8_t>(w.size() / 2)).raw(w).le16(static_cast<uint16_t>(b.size())).raw(b);
    return m;
}
Bytes read_andx_req(uint16_t fid, uint64_t offset, uint16_t count, uint16_t mid) {
    Bytes m = smb1_header({.cmd = 0x2e, .tid = kTid, .mid = mid});
    Bytes w = andx();
    w.le16(fid).le32(static_cast<uint32_t>(offset)).le16(count).le16(count).le32(0).le16(0).le32(static_cast<uint32_t>(offset >> 32));
    smb1_block(m, w, {});
    return m;
}
Bytes read_andx_resp(const Bytes& data, uint16_t mid) {
    Bytes m = smb1_header({.cmd = 0x2e, .resp = true, .tid = kTid, .mid = mid});
    Bytes w = andx();
    w.le16(0xffff).le16(0).le16(0).le16(static_cast<uint16_t>(data.size())).le16(60).le16(static_cast<uint16_t>(data.size() >> 16)).le64(0);
    Bytes b;
    b.u8(0).raw(data);
    m.u8(12).raw(w).le16(static_cast<uint16_t>(b.size())).raw(b);
    return m;
}
Bytes close_req(uint16_t fid, uint16_t mid) {
    Bytes m = smb1_header({.cmd = 0x04, .tid = kTid, .mid = mid});
    Bytes w;
    w.le16(fid).le32(0xffffffff);
    smb1_block(m, w, {});
    return m;
}
Bytes close_resp(uint16_t mid) {
    Bytes m = smb1_header({.cmd = 0x04, .resp = true, .tid = kTid, .mid = mid});
    smb1_block(m, {}, {});
    return m;
}

class Smb1Test : public ::testing::Test {
protected:
    void make() {
        cfg.files.spill_dir = ::testing::TempDir();
        ctx = std::make_unique<SmbWorkerContext>(cfg);
        dec = std::make_unique<SmbDecoder>(*ctx, sink);
    }
    const SmbFeedResult& send(Direction d, const Bytes& msg) { return dec->feed(d, nbss(msg)); }
    uint64_t anomalies(SmbAnomaly a) const { return ctx->anomalies().get(a); }
    uint64_t counter(SmbCounter c) const { return ctx->counters().get(c); }
    void open(const std::string& name, uint64_t eof, const char* service = "A:", uint16_t file_type = 0) {
        send(C, negotiate_req());
        send(S, negotiate_resp());
        send(C, session_tree_req("\\\\SRV\\DATA"));
        send(S, session_tree_resp(service));
        send(C, nt_create_req(name, 3));
        send(S, nt_create_resp(kFid, eof, 3, file_type));
    }

    SmbConfig cfg;
    RecordingSink sink;
    std::unique_ptr<SmbWorkerContext> ctx;
    std::unique_ptr<SmbDecoder> dec;
};

TEST_F(Smb1Test, UploadThroughAndxChainsAndWriteAndx) {
    sink.keep_tx_json = true;
    make();
    open("\\docs\\a.bin", 0);
    const Bytes content = pattern(9000, 1);
    send(C, write_andx_req(kFid, 6000, Bytes(content.begin() + 6000, content.end()), 10));
    send(C, write_andx_req(kFid, 0, Bytes(content.begin(), content.begin() + 3000), 11, false));
    send(C, write_andx_req(kFid, 3000, Bytes(content.begin() + 3000, content.begin() + 6000), 12));
    const auto& r = send(C, close_req(kFid, 13));
    EXPECT_TRUE(r.hold());
    send(S, close_resp(13));
    ASSERT_EQ(sink.files.size(), 1u);
    const auto& f = sink.files[0];
    EXPECT_EQ(f.state, FileState::complete);
    EXPECT_EQ(f.direction, FileDirection::upload);
    EXPECT_EQ(f.filename, "\\docs\\a.bin");
    EXPECT_EQ(f.share, "\\\\SRV\\DATA");
    EXPECT_EQ(f.file_id.version, 1);
    EXPECT_EQ(f.file_id.volatile_id, kFid);
    EXPECT_EQ(f.content, content);
    EXPECT_EQ(anomalies(SmbAnomaly::response_without_request), 0u);
    EXPECT_EQ(ctx->anomalies().total(), 0u);
    // The chained TREE_CONNECT_ANDX was decoded (2 commands in each direction).
    EXPECT_GE(counter(SmbCounter::commands_smb1), 4u + 4u);
    bool saw_dialect = false;
    for (const auto& j : sink.tx_json)
        if (j.find("\"dialect\":\"NT LM 0.12\"") != std::string::npos) saw_dialect = true;
    EXPECT_TRUE(saw_dialect);
    EXPECT_EQ(dec->open_files(), 0u);
}

TEST_F(Smb1Test, ReadAndxResponsesMatchTheirRequestsByMid) {
    make();
    const Bytes content = pattern(7000, 2);
    open("\\r.doc", content.size());
    send(C, read_andx_req(kFid, 0, 4096, 20));
    send(C, read_andx_req(kFid, 4096, 4096, 21));
    const auto& r1 = send(S, read_andx_resp(Bytes(content.begin() + 4096, content.end()), 21));
    EXPECT_FALSE(r1.hold());
    const auto& r2 = send(S, read_andx_resp(Bytes(content.begin(), content.begin() + 4096), 20));
    EXPECT_TRUE(r2.hold());
    ASSERT_EQ(sink.files.size(), 1u);
    EXPECT_EQ(sink.files[0].direction, FileDirection::download);
    EXPECT_EQ(sink.files[0].state, FileState::complete);
    EXPECT_EQ(sink.files[0].content, content);
    // A response whose MID matches nothing carries no file data.
    send(S, read_andx_resp(pattern(10, 1), 99));
    EXPECT_EQ(anomalies(SmbAnomaly::response_without_request), 1u);
}

TEST_F(Smb1Test, WriteAndxHighOffsetIsHonoured) {
    make();
    open("\\sparse", 0);
    const uint64_t high = (1ull << 32) + 100;
    send(C, write_andx_req(kFid, high, pattern(50, 3), 10));
    send(C, close_req(kFid, 11));
    ASSERT_EQ(sink.files.size(), 1u);
    const auto& f = sink.files[0];
    EXPECT_EQ(f.size, high + 50);
    EXPECT_EQ(f.state, FileState::truncated);
    EXPECT_TRUE(f.content_truncated) << "past smb.file.max_size: not kept";
    EXPECT_TRUE(f.content.empty());
}

TEST_F(Smb1Test, LargeWriteAndxStreamsPastTheBuffer) {
    cfg.pdu_buffer_size = 1024;
    make();
    open("\\big", 0);
    const Bytes content = pattern(200000, 4);  // needs DataLengthHigh
    const Bytes msg = nbss(write_andx_req(kFid, 0, content, 10));
    for (size_t at = 0; at < msg.size(); at += 1460)
        dec->on_data(C, at, std::span<const uint8_t>(msg.data() + at, std::min<size_t>(1460, msg.size() - at)));
    send(C, close_req(kFid, 11));
    ASSERT_EQ(sink.files.size(), 1u);
    EXPECT_EQ(sink.files[0].state, FileState::complete);
    EXPECT_EQ(sink.files[0].sha256, sha256_hex_of(content));
    EXPECT_EQ(counter(SmbCounter::pdus_streamed), 1u);
    EXPECT_EQ(anomalies(SmbAnomaly::pdu_buffer_full), 0u);
}

TEST_F(Smb1Test, CoreWriteAndOpenAndx) {
    make();
    send(C, session_tree_req("\\\\SRV\\OLD"));
    send(S, session_tree_resp());
    // OPEN_ANDX (ASCII name: no unicode flag)
    Bytes o = smb1_header({.cmd = 0x2d, .flags2 = 0x4001, .tid = kTid, .mid = 5});
    Bytes w = andx();
    w.le16(0).le16(0x42).le16(0x16).le16(0).le32(0).le16(0x12).le32(0).le32(0).le32(0);
    Bytes b;
    b.str("\\PLC\\LADDER.BIN").u8(0);
    smb1_block(o, w, b);
    send(C, o);
    Bytes orsp = smb1_header({.cmd = 0x2d, .resp = true, .flags2 = 0x4001, .tid = kTid, .mid = 5});
    Bytes rw = andx();
    rw.le16(0x77).le16(0x20).le32(0).le32(0).le16(2).le16(0).le16(0).le16(2).le32(0).le16(0);
    smb1_block(orsp, rw, {});
    send(S, orsp);
    // Core WRITE: buffer format 1, length, data.
    const Bytes content = pattern(300, 5);
    Bytes cw = smb1_header({.cmd = 0x0b, .tid = kTid, .mid = 6});
    Bytes cww;
    cww.le16(0x77).le16(300).le32(0).le16(0);
    Bytes cwb;
    cwb.u8(1).le16(300).raw(content);
    smb1_block(cw, cww, cwb);
    send(C, cw);
    send(C, close_req(0x77, 7));
    ASSERT_EQ(sink.files.size(), 1u);
    EXPECT_EQ(sink.files[0].filename, "\\PLC\\LADDER.BIN");
    EXPECT_EQ(sink.files[0].share, "\\\\SRV\\OLD");
    EXPECT_EQ(sink.files[0].content, content);
    EXPECT_EQ(sink.files[0].state, FileState::complete);
}

TEST_F(Smb1Test, Trans2EndOfFileMakesTheLastWriteComplete) {
    make();
    open("\\x.exe", 0);
    const Bytes content = pattern(5000, 6);
    // TRANS2 SET_FILE_INFORMATION, SMB_SET_FILE_END_OF_FILE_INFO.
    Bytes t = smb1_header({.cmd = 0x32, .tid = kTid, .mid = 9});
    const uint16_t param_off = 32 + 1 + 30 + 2 + 1;  // 66
    const uint16_t data_off = param_off + 6 + 2;     // 74
    Bytes w;
    w.le16(6).le16(8).le16(2).le16(0).u8(0).u8(0).le16(0).le32(0).le16(0);
    w.le16(6).le16(param_off).le16(8).le16(data_off).u8(1).u8(0).le16(0x0008);
    Bytes b;
    b.u8(0).le16(kFid).le16(0x0104).le16(0).le16(0).le64(content.size());
    smb1_block(t, w, b);
    send(C, t);
    EXPECT_EQ(counter(SmbCounter::trans2_file_data), 1u);
    const auto& r1 = send(C, write_andx_req(kFid, 0, Bytes(content.begin(), content.begin() + 2500), 10));
    EXPECT_FALSE(r1.hold());
    const auto& r2 = send(C, write_andx_req(kFid, 2500, Bytes(content.begin() + 2500, content.end()), 11));
    EXPECT_TRUE(r2.hold());
    ASSERT_EQ(sink.files.size(), 1u);
    EXPECT_EQ(sink.files[0].state, FileState::complete);
}

TEST_F(Smb1Test, AndxOffsetsThatLoopOrLeaveTheMessageStopTheChain) {
    make();
    // LOGOFF_ANDX whose AndX offset points back at itself.
    Bytes m = smb1_header({.cmd = 0x74, .mid = 1});
    smb1_block(m, andx(0x74, 32), {});
    send(C, m);
    EXPECT_EQ(anomalies(SmbAnomaly::andx_loop), 1u);
    // Pointing backwards into the header.
    Bytes m2 = smb1_header({.cmd = 0x74, .mid = 2});
    smb1_block(m2, andx(0x74, 5), {});
    smb1_block(m2, andx(), {});
    send(C, m2);
    EXPECT_EQ(anomalies(SmbAnomaly::andx_loop), 2u);
    // Past the end of the message.
    Bytes m3 = smb1_header({.cmd = 0x74, .mid = 3});
    smb1_block(m3, andx(0x74, 900), {});
    send(C, m3);
    EXPECT_EQ(anomalies(SmbAnomaly::andx_bad_offset), 1u);
    EXPECT_EQ(counter(SmbCounter::commands_smb1), 3u);  // the first command of each chain, nothing after
}

TEST_F(Smb1Test, LyingCountsAndOffsetsAreCountedNeverRead) {
    make();
    open("\\l", 0);
    // WRITE_ANDX data offset past the message.
    Bytes w = write_andx_req(kFid, 0, pattern(100, 1), 10);
    w.put16(32 + 1 + 22, 5000);
    send(C, w);
    // ... and into the parameter words.
    Bytes w2 = write_andx_req(kFid, 0, pattern(100, 1), 11);
    w2.put16(32 + 1 + 22, 40);
    send(C, w2);
    EXPECT_EQ(anomalies(SmbAnomaly::bad_data_offset), 2u);
    // NT_CREATE_ANDX with a wrong word count.
    Bytes c = smb1_header({.cmd = 0xa2, .tid = kTid, .mid = 12});
    smb1_block(c, Bytes(20, 0), {});
    send(C, c);
    EXPECT_EQ(anomalies(SmbAnomaly::smb1_bad_word_count), 1u);
    // Word count running past the message.
    Bytes c2 = smb1_header({.cmd = 0xa2, .tid = kTid, .mid = 13});
    c2.u8(200).zeros(10);
    send(C, c2);
    EXPECT_EQ(anomalies(SmbAnomaly::smb1_bad_word_count), 2u);
    // Byte count past the message.
    Bytes e = smb1_header({.cmd = 0x2b, .tid = kTid, .mid = 14});
    e.u8(1).le16(1).le16(500).zeros(4);
    send(C, e);
    EXPECT_EQ(anomalies(SmbAnomaly::smb1_bad_byte_count), 1u);
    // Truncated header.
    Bytes h = smb1_header({.cmd = 0x2b});
    h.resize(20);
    send(C, h);
    EXPECT_EQ(anomalies(SmbAnomaly::truncated_header), 1u);
    send(C, close_req(kFid, 15));
    EXPECT_TRUE(sink.files.empty());
}

TEST_F(Smb1Test, SignedSessionIsReportedOncePerUid) {
    make();
    for (uint16_t mid = 1; mid < 4; ++mid) {
        Bytes m = smb1_header({.cmd = 0x2b, .flags2 = 0xc807, .uid = 0x70, .mid = mid, .signature = 0x1122334455667788});
        smb1_block(m, Bytes{1, 0}, Bytes{0});
        send(C, m);
    }
    Bytes unsigned_msg = smb1_header({.cmd = 0x2b, .flags2 = 0xc803, .uid = 0x71, .mid = 9});
    smb1_block(unsigned_msg, Bytes{1, 0}, Bytes{0});
    send(C, unsigned_msg);
    ASSERT_EQ(sink.sessions.size(), 1u);
    EXPECT_EQ(sink.sessions[0].kind, SmbSessionKind::signed_only);
    EXPECT_EQ(sink.sessions[0].session_id, 0x70u);
}

TEST_F(Smb1Test, IpcTreeAndPipeFileTypesAreNotCarved) {
    make();
    open("\\srvsvc", 0, "IPC");
    send(C, write_andx_req(kFid, 0, pattern(72, 1), 10));
    send(C, close_req(kFid, 11));
    // A pipe the tree connect did not reveal: NT_CREATE_ANDX says message-mode pipe.
    send(C, nt_create_req("\\lsarpc", 12, 0x900));
    send(S, nt_create_resp(0x4001, 0, 12, 2, 0x900));
    send(C, write_andx_req(0x4001, 0, pattern(72, 2), 13, true, 0x900));
    dec->on_end();
    EXPECT_TRUE(sink.files.empty());
    EXPECT_EQ(counter(SmbCounter::pipe_data_bytes), 144u);
}

// NetBIOS session service (port 139): session request, positive response and
// keepalives around the SMB messages; garbage framing is resynchronised.
TEST_F(Smb1Test, NetbiosSessionServiceFraming) {
    make();
    Bytes req;
    req.zeros(68);  // two encoded NetBIOS names
    dec->feed(C, nbss(req, 0x81));
    dec->feed(S, nbss({}, 0x82));
    dec->feed(C, nbss({}, 0x85));
    EXPECT_EQ(counter(SmbCounter::nbss_session_control), 2u);
    EXPECT_EQ(counter(SmbCounter::nbss_keepalives), 1u);
    // A session packet with flag bits other than the length extension: the
    // decoder searches for the next message header.
    dec->feed(C, Bytes{0x85, 0x02, 0x00, 0x00});
    EXPECT_EQ(anomalies(SmbAnomaly::nbss_bad_length), 1u);
    open("\\over139.txt", 0);
    // Garbage: an unknown packet type.
    dec->feed(C, Bytes{0x42, 0x00, 0x00, 0x10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16});
    EXPECT_EQ(anomalies(SmbAnomaly::nbss_bad_type), 1u);
    const Bytes content = pattern(1000, 7);
    send(C, write_andx_req(kFid, 0, content, 10));
    send(C, close_req(kFid, 11));
    ASSERT_EQ(sink.files.size(), 1u);
    EXPECT_EQ(sink.files[0].content, content);
    EXPECT_EQ(counter(SmbCounter::resyncs), 2u);
}

TEST_F(Smb1Test, ConversationSplitAtEveryByteGivesTheSameResult) {
    const Bytes up = pattern(5000, 8);
    const Bytes down = pattern(3000, 9);
    std::vector<std::pair<Direction, Bytes>> conv = {
        {C, negotiate_req()},
        {S, negotiate_resp()},
        {C, session_tree_req("\\\\SRV\\DATA")},
        {S, session_tree_resp()},
        {C, nt_create_req("\\u.bin", 3)},
        {S, nt_create_resp(kFid, 0, 3)},
        {C, write_andx_req(kFid, 2500, Bytes(up.begin() + 2500, up.end()), 4)},
        {C, write_andx_req(kFid, 0, Bytes(up.begin(), up.begin() + 2500), 5)},
        {C, close_req(kFid, 6)},
        {C, nt_create_req("\\d.bin", 7)},
        {S, nt_create_resp(kFid + 1, down.size(), 7)},
        {C, read_andx_req(kFid + 1, 0, 4096, 8)},
        {S, read_andx_resp(down, 8)},
    };
    std::vector<std::string> results;
    for (int mode = 0; mode < 3; ++mode) {
        RecordingSink s;
        SmbWorkerContext c;
        SmbDecoder d(c, s);
        std::mt19937 rng(7);
        for (const auto& [dir, msg] : conv) {
            const Bytes framed = nbss(msg);
            size_t at = 0;
            while (at < framed.size()) {
                size_t n = framed.size() - at;
                if (mode == 1) n = 1;
                if (mode == 2) n = std::min(n, static_cast<size_t>(1 + rng() % 97));
                d.on_data(dir, at, std::span<const uint8_t>(framed.data() + at, n));
                at += n;
            }
        }
        d.on_end();
        std::string r;
        for (const auto& f : s.files) r += f.filename + "/" + f.sha256 + "/" + std::string(to_string(f.state)) + ";";
        results.push_back(r + std::to_string(s.transactions));
        ASSERT_EQ(s.files.size(), 2u);
        EXPECT_EQ(s.files[0].content, up);
        EXPECT_EQ(s.files[1].content, down);
        EXPECT_EQ(s.files[1].state, FileState::complete);
        EXPECT_EQ(c.anomalies().total(), 0u);
    }
    EXPECT_EQ(results[0], results[1]);
    EXPECT_EQ(results[0], results[2]);
}

}  // namespace
}  // namespace sluice
