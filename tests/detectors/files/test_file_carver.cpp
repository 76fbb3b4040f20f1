// FileCarver: file writes handed from the worker to the carving thread by
// mbuf reference (a reference taken, dropped by the thread after the copy) or
// copied into the arena (not inside the packet's mbuf, reference cap reached),
// mbufs handed back to the worker, which drops the reference (reclaim),
// carved there by a real FileAssembler: same state, size and SHA-256 as
// carving on the worker, for in-order, out-of-order, overlapping, holed and
// spilled files; content kept only when asked; aborts, slot exhaustion (the
// worker carves locally), and a worker-side FileAssembler with the carver as
// its sink. Copy mode (smb.file.offload-copy): every write inside the packet
// copied into the arena with non-temporal stores (every size and source
// alignment, the arena wrapping many times), no reference held at any time.
// An idle carving thread backs off and costs almost no CPU; it runs on the
// CPU it is given. Live, a write with no room is lost, counted, and its file
// ends TRUNCATED.
// The mbufs are real rte_mbuf structs over test memory (no EAL):
// the test holds one reference, so the thread's free only drops its own.
#include <gtest/gtest.h>
#include <rte_mbuf.h>
#include <sched.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "detectors/files/file_carver.hpp"
#include "tests/detectors/smb/smb_pdu_builder.hpp"
#include "tests/detectors/smb/smb_test_sink.hpp"

namespace sluice {
namespace {

namespace fs = std::filesystem;
using test::Bytes;
using test::pattern;
using test::sha256_hex_of;

std::string hex(const AssembledFile& f) { return sha256_hex_of(f); }

// A one-segment mbuf over a test buffer holding `payload` at its data offset
// (rte_mbuf has zero-size marker arrays: made in raw aligned memory).
struct TestMbuf {
    explicit TestMbuf(std::span<const uint8_t> payload) : buf(RTE_PKTMBUF_HEADROOM + payload.size() + 64) {
        const size_t size = (sizeof(rte_mbuf) + RTE_CACHE_LINE_SIZE - 1) / RTE_CACHE_LINE_SIZE * RTE_CACHE_LINE_SIZE;
        m = static_cast<rte_mbuf*>(std::aligned_alloc(RTE_CACHE_LINE_SIZE, size));
        std::memset(static_cast<void*>(m), 0, size);
        m->buf_addr = buf.data();
        m->data_off = RTE_PKTMBUF_HEADROOM;
        m->data_len = static_cast<uint16_t>(payload.size());
        m->pkt_len = static_cast<uint32_t>(payload.size());
        m->nb_segs = 1;
        m->next = nullptr;
        rte_mbuf_refcnt_set(m, 1);
        std::copy(payload.begin(), payload.end(), buf.begin() + RTE_PKTMBUF_HEADROOM);
    }
    ~TestMbuf() { std::free(m); }
    TestMbuf(const TestMbuf&) = delete;
    TestMbuf& operator=(const TestMbuf&) = delete;
    std::span<const uint8_t> data(size_t from, size_t n) const { return {rte_pktmbuf_mtod(m, const uint8_t*) + from, n}; }
    rte_mbuf* m = nullptr;
    std::vector<uint8_t> buf;
};

class FileCarverTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::path(::testing::TempDir()) / ("sluice-carver-" + std::to_string(::getpid()) + "-" +
                                                 ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::create_directories(dir_);
        settings.files.spill_dir = dir_.string();
    }
    void TearDown() override { fs::remove_all(dir_); }

    // Polls until `n` files came back (at most `limit`).
    std::vector<CarvedFile> collect(FileCarver& c, size_t n, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
        std::vector<CarvedFile> out;
        const auto until = std::chrono::steady_clock::now() + limit;
        while (out.size() < n && std::chrono::steady_clock::now() < until) {
            c.poll([&](CarvedFile& f) { out.push_back(std::move(f)); });
            if (out.size() < n) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        return out;
    }

    FileCarverSettings settings;
    fs::path dir_;
};

TEST_F(FileCarverTest, WritesInsideThePacketGoByReferenceAndTheThreadDropsIt) {
    auto carver = FileCarver::create(settings);
    const Bytes content = pattern(3000, 1);
    // Two packets, each carrying half of the file after a 100-byte "header".
    Bytes p1(100, 0xee), p2(100, 0xdd);
    p1.insert(p1.end(), content.begin(), content.begin() + 1500);
    p2.insert(p2.end(), content.begin() + 1500, content.end());
    TestMbuf m1(p1), m2(p2);
    const uint32_t h = carver->open(content.size());
    ASSERT_NE(h, ContentSink::kNoHandle);
    carver->set_backing(m1.m);
    carver->write(h, 0, m1.data(100, 1500));
    carver->set_backing(m2.m);
    carver->write(h, 1500, m2.data(100, 1500));
    carver->set_backing(nullptr);
    carver->finish(h, content.size());
    auto files = collect(*carver, 1);
    ASSERT_EQ(files.size(), 1u);
    EXPECT_EQ(files[0].handle, h);
    const AssembledFile& f = files[0].file;
    EXPECT_EQ(f.state, FileState::complete);
    EXPECT_EQ(f.size, content.size());
    ASSERT_TRUE(f.has_sha256);
    EXPECT_EQ(hex(f), sha256_hex_of(content));
    EXPECT_EQ(f.content.kind(), FileContent::Kind::none);  // not kept: nobody asked
    EXPECT_EQ(carver->counters().get(CarverCounter::chunks_by_reference), 2u);
    EXPECT_EQ(carver->counters().get(CarverCounter::bytes_by_reference), 3000u);
    EXPECT_EQ(carver->counters().get(CarverCounter::copied_bytes), 0u);
    // The thread handed back exactly the references the worker took, and the
    // worker dropped them (poll() reclaims).
    carver->drain();
    carver->reclaim();
    EXPECT_EQ(rte_mbuf_refcnt_read(m1.m), 1);
    EXPECT_EQ(rte_mbuf_refcnt_read(m2.m), 1);
    EXPECT_EQ(carver->mbufs_held(), 0u);
    EXPECT_EQ(carver->in_flight(), 0u);
    EXPECT_EQ(carver->carving_counters().get(FileCounter::bytes_kept), 3000u);
}

TEST_F(FileCarverTest, WritesOutsideThePacketOrPastTheReferenceCapAreCopied) {
    settings.max_mbufs = 0;  // no reference may be held: everything is copied
    auto carver = FileCarver::create(settings);
    const Bytes content = pattern(5000, 2);
    TestMbuf m(content);
    const uint32_t h = carver->open(0);
    carver->set_backing(m.m);
    carver->write(h, 0, m.data(0, 2000));  // inside the mbuf, but the cap is 0
    const Bytes elsewhere(content.begin() + 2000, content.end());
    carver->write(h, 2000, elsewhere);  // not inside the mbuf
    carver->set_backing(nullptr);
    carver->finish(h, 0);
    auto files = collect(*carver, 1);
    ASSERT_EQ(files.size(), 1u);
    EXPECT_EQ(files[0].file.state, FileState::complete);
    EXPECT_EQ(hex(files[0].file), sha256_hex_of(content));
    EXPECT_EQ(carver->counters().get(CarverCounter::copied_mbuf_limit), 1u);
    EXPECT_EQ(carver->counters().get(CarverCounter::copied_not_in_mbuf), 1u);
    EXPECT_EQ(carver->counters().get(CarverCounter::copied_bytes), 5000u);
    EXPECT_EQ(carver->counters().get(CarverCounter::chunks_by_reference), 0u);
    EXPECT_EQ(rte_mbuf_refcnt_read(m.m), 1);
}

TEST_F(FileCarverTest, OutOfOrderOverlappingAndHoledFilesEndAsOnTheWorker) {
    auto carver = FileCarver::create(settings);
    const Bytes content = pattern(40000, 3);
    auto piece = [&](size_t off, size_t n) { return std::span<const uint8_t>(content.data() + off, n); };
    // Reverse order with overlaps: same bytes, first data wins.
    const uint32_t a = carver->open(0);
    for (size_t off = 36000;; off -= 4000) {
        carver->write(a, off, piece(off, std::min<size_t>(5000, content.size() - off)));
        if (off == 0) break;
    }
    carver->finish(a, content.size());
    // A hole: bytes [10000, 11000) never come; the file is TRUNCATED with gaps.
    const uint32_t b = carver->open(0);
    carver->write(b, 0, piece(0, 10000));
    carver->write(b, 11000, piece(11000, 29000));
    carver->finish(b, content.size());
    auto files = collect(*carver, 2);
    ASSERT_EQ(files.size(), 2u);
    EXPECT_EQ(files[0].handle, a);
    EXPECT_EQ(files[0].file.state, FileState::complete);
    EXPECT_EQ(hex(files[0].file), sha256_hex_of(content));
    EXPECT_EQ(files[1].handle, b);
    EXPECT_EQ(files[1].file.state, FileState::truncated);
    EXPECT_TRUE(files[1].file.gaps);
    EXPECT_EQ(files[1].file.size, content.size());
    EXPECT_EQ(files[1].file.sha256_bytes, 10000u);  // the hash covers the contiguous prefix
}

TEST_F(FileCarverTest, KeptContentComesBackInMemoryOrSpilledWithTheSameHash) {
    settings.files.memory_per_file = 8192;  // the second file spills on the carving thread
    auto carver = FileCarver::create(settings);
    carver->set_keep_content(true);
    const Bytes small = pattern(6000, 4), large = pattern(50000, 5);
    const uint32_t a = carver->open(0);
    carver->write(a, 0, small);
    carver->finish(a, small.size());
    const uint32_t b = carver->open(0);
    for (size_t off = 0; off < large.size(); off += 7000)
        carver->write(b, off, std::span<const uint8_t>(large.data() + off, std::min<size_t>(7000, large.size() - off)));
    carver->finish(b, large.size());
    auto files = collect(*carver, 2);
    ASSERT_EQ(files.size(), 2u);
    std::vector<uint8_t> got;
    ASSERT_EQ(files[0].file.content.kind(), FileContent::Kind::memory);
    ASSERT_TRUE(files[0].file.content.read_all(&got));
    EXPECT_EQ(got, std::vector<uint8_t>(small.begin(), small.end()));
    ASSERT_EQ(files[1].file.content.kind(), FileContent::Kind::spill);
    ASSERT_TRUE(files[1].file.content.read_all(&got));
    EXPECT_EQ(got, std::vector<uint8_t>(large.begin(), large.end()));
    EXPECT_EQ(hex(files[1].file), sha256_hex_of(large));
    EXPECT_EQ(files[1].file.state, FileState::complete);
    EXPECT_EQ(carver->carving_counters().get(FileCounter::spilled_files), 1u);
}

TEST_F(FileCarverTest, AbortedFilesComeNotBackAndFreeTheirSlot) {
    settings.max_files = 1;
    auto carver = FileCarver::create(settings);
    const uint32_t a = carver->open(0);
    ASSERT_NE(a, ContentSink::kNoHandle);
    EXPECT_EQ(carver->open(0), ContentSink::kNoHandle);  // one slot only
    EXPECT_EQ(carver->counters().get(CarverCounter::no_slot), 1u);
    carver->write(a, 0, pattern(100, 6));
    carver->abort(a);
    EXPECT_EQ(carver->in_flight(), 0u);
    const uint32_t b = carver->open(0);  // the slot is free again at once
    ASSERT_EQ(b, a);
    const Bytes content = pattern(300, 7);
    carver->write(b, 0, content);
    carver->finish(b, content.size());
    auto files = collect(*carver, 1);
    ASSERT_EQ(files.size(), 1u);
    EXPECT_EQ(hex(files[0].file), sha256_hex_of(content));  // nothing of the aborted file in it
    carver->drain();
    EXPECT_EQ(collect(*carver, 1, std::chrono::milliseconds(50)).size(), 0u);
}

TEST_F(FileCarverTest, DestroyingTheCarverDropsTheReferencesStillQueued) {
    const Bytes content = pattern(1400, 8);
    TestMbuf m(content);
    {
        auto carver = FileCarver::create(settings);
        const uint32_t h = carver->open(0);
        carver->set_backing(m.m);
        for (int i = 0; i < 50; ++i) carver->write(h, static_cast<uint64_t>(i) * 1400, m.data(0, 1400));
        carver->set_backing(nullptr);
    }
    EXPECT_EQ(rte_mbuf_refcnt_read(m.m), 1);
}

// CPU time of this process's threads named `name` (nanoseconds, schedstat).
uint64_t thread_cpu_ns(const std::string& name) {
    uint64_t total = 0;
    for (const auto& t : std::filesystem::directory_iterator("/proc/self/task")) {
        std::FILE* f = std::fopen((t.path() / "comm").c_str(), "r");
        if (!f) continue;
        char comm[32] = {};
        const bool named = std::fgets(comm, sizeof comm, f) && std::string(comm).rfind(name, 0) == 0;
        std::fclose(f);
        if (!named || !(f = std::fopen((t.path() / "schedstat").c_str(), "r"))) continue;
        unsigned long long ns = 0;
        if (std::fscanf(f, "%llu", &ns) == 1) total += ns;
        std::fclose(f);
    }
    return total;
}

// An idle carving thread backs off (50 us up to 1 ms between looks): over
// half a second with nothing to do it takes a few ms of CPU, not the ~10 %
// of a core that a fixed 50 us sleep cost. (A loaded machine only delays the
// wake-ups further, so this cannot fail for want of CPU.) It still answers at
// once when work comes.
TEST_F(FileCarverTest, AnIdleCarvingThreadBacksOff) {
    auto carver = FileCarver::create(settings);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // reaches the longest sleep
    const uint64_t before = thread_cpu_ns("sluice-carver");
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    const uint64_t used = thread_cpu_ns("sluice-carver") - before;
    EXPECT_LT(used, 25'000'000u) << "the idle carving thread used " << used / 1000 << " us of CPU in 500 ms";
    const Bytes content = pattern(3000, 9);
    const uint32_t h = carver->open(content.size());
    carver->write(h, 0, content);
    carver->finish(h, content.size());
    auto files = collect(*carver, 1);
    ASSERT_EQ(files.size(), 1u);
    EXPECT_EQ(files[0].file.state, FileState::complete);
    EXPECT_EQ(hex(files[0].file), sha256_hex_of(content));
}

// The line `key:\t...` of the status file of this process's first thread named
// `name` ("" when none).
std::string thread_status(const std::string& name, const std::string& key) {
    for (const auto& t : std::filesystem::directory_iterator("/proc/self/task")) {
        std::ifstream comm(t.path() / "comm");
        std::string c;
        if (!std::getline(comm, c) || c != name) continue;
        std::ifstream status(t.path() / "status");
        for (std::string line; std::getline(status, line);)
            if (line.rfind(key + ":", 0) == 0) return line.substr(key.size() + 2);
    }
    return "";
}

// smb.file.offload-cpus: the carving thread runs on the CPU it is given (here
// the last one this test may use); without one it keeps the inherited set.
TEST_F(FileCarverTest, TheCarvingThreadRunsOnItsCpu) {
    cpu_set_t mine;
    ASSERT_EQ(sched_getaffinity(0, sizeof mine, &mine), 0);
    int last = -1;
    for (int c = 0; c < CPU_SETSIZE; ++c)
        if (CPU_ISSET(c, &mine)) last = c;
    ASSERT_GE(last, 0);
    {
        auto carver = FileCarver::create(settings);
        EXPECT_NE(thread_status("sluice-carver", "Cpus_allowed_list"), "");
        if (CPU_COUNT(&mine) > 1) {
            EXPECT_NE(thread_status("sluice-carver", "Cpus_allowed_list"), std::to_string(last));
        }
    }
    settings.cpu = last;
    auto carver = FileCarver::create(settings);
    EXPECT_EQ(thread_status("sluice-carver", "Cpus_allowed_list"), std::to_string(last));
}

// The worker side: a FileAssembler whose store has the carver as its sink
// keeps the ranges (covers, contiguous) and no content; finish() says the
// result comes from the carver.
TEST_F(FileCarverTest, AssemblerWithTheCarverAsSinkKeepsOnlyRanges) {
    auto carver = FileCarver::create(settings);
    FileStore worker_store(settings.files);
    worker_store.set_content_sink(carver.get());
    const Bytes content = pattern(20000, 9);
    AssembledFile out;
    uint32_t handle = ContentSink::kNoHandle;
    {
        FileAssembler a(worker_store, content.size());
        ASSERT_TRUE(a.carved_elsewhere());
        a.write(10000, std::span<const uint8_t>(content.data() + 10000, 10000));
        EXPECT_EQ(a.contiguous(), 0u);
        EXPECT_FALSE(a.covers(content.size()));
        a.write(0, std::span<const uint8_t>(content.data(), 10000));
        EXPECT_TRUE(a.covers(content.size()));
        EXPECT_EQ(a.memory_held(), 0u);
        out = a.finish(content.size());
        handle = out.sink_handle;
    }
    EXPECT_TRUE(out.carved_elsewhere);
    EXPECT_EQ(out.state, FileState::complete);
    EXPECT_FALSE(out.has_sha256);
    EXPECT_EQ(out.content.kind(), FileContent::Kind::none);
    EXPECT_EQ(worker_store.memory_used(), 0u);
    EXPECT_EQ(worker_store.counters().get(FileCounter::bytes_kept), 0u);  // kept there, not here
    auto files = collect(*carver, 1);
    ASSERT_EQ(files.size(), 1u);
    EXPECT_EQ(files[0].handle, handle);
    EXPECT_EQ(files[0].file.state, FileState::complete);
    EXPECT_EQ(hex(files[0].file), sha256_hex_of(content));
    // An assembler dropped unfinished aborts its file at the carver.
    { FileAssembler dropped(worker_store, 0); dropped.write(0, content); }
    carver->drain();
    EXPECT_EQ(carver->in_flight(), 0u);
    EXPECT_EQ(collect(*carver, 1, std::chrono::milliseconds(50)).size(), 0u);
}

// The non-temporal copy of every instruction set the CPU has: the n bytes
// land as given from every source alignment, the rest of the last line is
// zeros (written whole: a partly written line costs the memory a merge), and
// nothing past that line is touched.
TEST(StreamCopy, EveryInstructionSetWritesWholeLinesZeroPadded) {
    const Bytes src = pattern(4096 + 64, 3);
    std::vector<size_t> lengths;
    for (size_t n = 1; n <= 200; ++n) lengths.push_back(n);
    for (size_t n : {255, 256, 257, 1447, 1448, 4095, 4096}) lengths.push_back(n);
    int tried = 0;
    for (const auto isa : {StreamCopyIsa::sse2, StreamCopyIsa::avx2, StreamCopyIsa::avx512}) {
        SCOPED_TRACE(static_cast<int>(isa));
        for (size_t n : lengths) {
            const size_t from = (n * 13) % 64;
            alignas(64) static uint8_t dst[4096 + 128];
            std::memset(dst, 0xAA, sizeof dst);
            if (!stream_copy_with(isa, dst, src.data() + from, n)) break;
            ++tried;
            const size_t lines = (n + 63) / 64 * 64;
            ASSERT_EQ(std::memcmp(dst, src.data() + from, n), 0) << n;
            for (size_t i = n; i < lines; ++i) ASSERT_EQ(dst[i], 0) << n << " at " << i;
            for (size_t i = lines; i < sizeof dst; ++i) ASSERT_EQ(dst[i], 0xAA) << n << " at " << i;
        }
    }
    EXPECT_GT(tried, 0);  // sse2 is always there on x86-64
}

// Copy mode: writes inside the packet are copied into the arena (non-temporal
// stores, 64-byte aligned pieces), the mbuf is never referenced, and the
// carved file is the same byte for byte: every length from 1 to 200 and
// around the 16/32/64-byte store widths, from every source alignment.
TEST_F(FileCarverTest, CopyModeCopiesEveryWriteAndHoldsNoPacket) {
    settings.copy = true;
    auto carver = FileCarver::create(settings);
    carver->set_keep_content(true);
    const Bytes payload = pattern(4096 + 256, 10);
    TestMbuf m(payload);
    Bytes content;
    const uint32_t h = carver->open(0);
    carver->set_backing(m.m);
    uint64_t off = 0, writes = 0;
    std::vector<size_t> lengths;
    for (size_t n = 1; n <= 200; ++n) lengths.push_back(n);
    for (size_t n : {255, 256, 257, 1023, 1024, 1025, 1447, 1448, 4095, 4096}) lengths.push_back(n);
    for (size_t n : lengths) {
        const size_t from = (n * 7) % 64;  // every source alignment
        carver->write(h, off, m.data(from, n));
        content.insert(content.end(), payload.begin() + static_cast<std::ptrdiff_t>(from),
                       payload.begin() + static_cast<std::ptrdiff_t>(from + n));
        off += n;
        ++writes;
        EXPECT_EQ(rte_mbuf_refcnt_read(m.m), 1);  // no reference, not even for a moment
    }
    carver->set_backing(nullptr);
    carver->finish(h, content.size());
    auto files = collect(*carver, 1);
    ASSERT_EQ(files.size(), 1u);
    const AssembledFile& f = files[0].file;
    EXPECT_EQ(f.state, FileState::complete);
    EXPECT_EQ(f.size, content.size());
    std::vector<uint8_t> got;
    ASSERT_TRUE(f.content.read_all(&got));
    EXPECT_EQ(got, std::vector<uint8_t>(content.begin(), content.end()));
    EXPECT_EQ(hex(f), sha256_hex_of(content));
    EXPECT_EQ(carver->counters().get(CarverCounter::copied_in_mbuf), writes);
    EXPECT_EQ(carver->counters().get(CarverCounter::copied_bytes), content.size());
    EXPECT_EQ(carver->counters().get(CarverCounter::chunks_by_reference), 0u);
    EXPECT_EQ(carver->mbufs_held(), 0u);
}

// Copy mode with the smallest arena (128 KiB), reading a capture: 8 MB in
// packet-sized writes to three files at once wrap the arena about 60 times;
// the worker waits or passes by reference when it is full, never loses a
// byte, and every file has its right hash. Live (not offline), a full arena
// sends the write by reference: nothing is lost either while references are
// allowed.
TEST_F(FileCarverTest, CopyModeArenaWrapsAndAFullArenaFallsBackToReference) {
    for (const bool offline : {true, false}) {
        SCOPED_TRACE(offline ? "offline" : "live");
        settings.copy = true;
        settings.offline = offline;
        settings.arena_bytes = 128 * 1024;
        auto carver = FileCarver::create(settings);
        const size_t per_file = 8'000'000 / 3, piece = 1448;
        std::vector<Bytes> contents;
        for (int i = 0; i < 3; ++i) contents.push_back(pattern(per_file, static_cast<uint8_t>(20 + i)));
        // One packet per write, as the worker sees them; the test's mbufs are
        // reused only after the carver is done with every reference to them.
        std::vector<uint32_t> handles;
        for (int i = 0; i < 3; ++i) handles.push_back(carver->open(per_file));
        uint64_t writes = 0;
        for (size_t off = 0; off < per_file; off += piece) {
            const size_t n = std::min(piece, per_file - off);
            for (int i = 0; i < 3; ++i) {
                TestMbuf m(std::span<const uint8_t>(contents[static_cast<size_t>(i)].data() + off, n));
                carver->set_backing(m.m);
                carver->write(handles[static_cast<size_t>(i)], off, m.data(0, n));
                carver->set_backing(nullptr);
                ++writes;
                if (rte_mbuf_refcnt_read(m.m) != 1) {  // went by reference: wait until handed back
                    carver->drain();
                    carver->reclaim();
                    ASSERT_EQ(rte_mbuf_refcnt_read(m.m), 1);
                }
            }
        }
        for (int i = 0; i < 3; ++i) carver->finish(handles[static_cast<size_t>(i)], per_file);
        auto files = collect(*carver, 3);
        ASSERT_EQ(files.size(), 3u);
        for (int i = 0; i < 3; ++i) {
            EXPECT_EQ(files[static_cast<size_t>(i)].file.state, FileState::complete);
            EXPECT_EQ(hex(files[static_cast<size_t>(i)].file), sha256_hex_of(contents[static_cast<size_t>(i)]));
        }
        const auto& c = carver->counters();
        EXPECT_EQ(c.get(CarverCounter::copied_in_mbuf) + c.get(CarverCounter::chunks_by_reference), writes);
        EXPECT_EQ(c.get(CarverCounter::by_reference_arena_full), c.get(CarverCounter::chunks_by_reference));
        EXPECT_EQ(c.get(CarverCounter::lost_writes), 0u);
        EXPECT_EQ(c.get(CarverCounter::copied_bytes) + c.get(CarverCounter::bytes_by_reference), 3 * per_file);
    }
}

// Live, a write that finds neither ring nor arena room is lost, counted, and
// its file ends TRUNCATED with a gap; the carver stays consistent and carves
// the next file whole. The worker's copies (memcpy speed) outrun the carving thread's
// SHA-256 by several times, so a burst of writes into the smallest arena
// loses some: the burst goes on until it has (at most 512 MB).
TEST_F(FileCarverTest, LiveWritesWithoutRoomAreLostAndTheFileEndsTruncated) {
    settings.offline = false;
    settings.arena_bytes = 128 * 1024;
    auto carver = FileCarver::create(settings);
    const auto& c = carver->counters();
    const Bytes piece = pattern(1448, 7);
    const uint32_t h = carver->open(0);
    uint64_t written = 0;
    while (c.get(CarverCounter::lost_writes) == 0 && written < (512u << 20)) {
        for (int k = 0; k < 1024; ++k, written += piece.size())  // not inside a packet: copied
            carver->write(h, written, piece);
    }
    ASSERT_GT(c.get(CarverCounter::lost_writes), 0u) << "the carving thread kept pace with " << written << " bytes";
    EXPECT_EQ(c.get(CarverCounter::copied_bytes) + c.get(CarverCounter::lost_bytes), written);
    EXPECT_EQ(c.get(CarverCounter::waits), 0u);
    carver->finish(h, written);
    auto files = collect(*carver, 1);
    ASSERT_EQ(files.size(), 1u);
    EXPECT_EQ(files[0].file.state, FileState::truncated);
    EXPECT_TRUE(files[0].file.gaps);
    EXPECT_EQ(files[0].file.size, written);
    // The hash covers the bytes before the first hole only.
    EXPECT_LT(files[0].file.sha256_bytes, written);

    // Written at the carving thread's pace, the next file comes back whole.
    const Bytes content = pattern(300'000, 9);
    const uint32_t h2 = carver->open(content.size());
    for (size_t off = 0; off < content.size(); off += 1448) {
        carver->write(h2, off, std::span<const uint8_t>(content.data() + off, std::min<size_t>(1448, content.size() - off)));
        carver->drain();
    }
    const uint64_t lost = c.get(CarverCounter::lost_writes);
    carver->finish(h2, content.size());
    files = collect(*carver, 1);
    ASSERT_EQ(files.size(), 1u);
    EXPECT_EQ(files[0].file.state, FileState::complete);
    EXPECT_EQ(hex(files[0].file), sha256_hex_of(content));
    EXPECT_EQ(c.get(CarverCounter::lost_writes), lost);
}

}  // namespace
}  // namespace sluice
