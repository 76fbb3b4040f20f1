// FileAssembler / FileStore: in-order, reverse and overlapping writes (first
// data wins), holes, spilling to disk with the same SHA-256 as in memory, the
// per-file, global, spill and size caps, range caps, libmagic, ownership of the
// content handed to the caller, reuse of recycled buffers (the buffer pool),
// deferred hashing (same state and hash as hashing on the way, in every case).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "detectors/smb/file_assembler.hpp"
#include "tests/detectors/smb/smb_pdu_builder.hpp"
#include "tests/detectors/smb/smb_test_sink.hpp"

namespace sluice {
namespace {

namespace fs = std::filesystem;
using test::Bytes;
using test::pattern;
using test::sha256_hex_of;

std::string hex(const AssembledFile& f) { return sha256_hex_of(f); }

std::vector<uint8_t> content_of(const AssembledFile& f) {
    std::vector<uint8_t> out;
    EXPECT_TRUE(f.content.read_all(&out));
    return out;
}

class FileAssemblerTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::path(::testing::TempDir()) / ("sluice-fa-" + std::to_string(::getpid()) + "-" +
                                                 ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::create_directories(dir_);
        cfg.spill_dir = dir_.string();
    }
    void TearDown() override { fs::remove_all(dir_); }
    size_t files_in_spill_dir() const {
        return static_cast<size_t>(std::distance(fs::directory_iterator(dir_), fs::directory_iterator{}));
    }
    void write_chunks(FileAssembler& a, const Bytes& data, size_t chunk, const std::vector<size_t>& order) {
        for (size_t i : order) {
            const size_t off = i * chunk;
            const size_t n = std::min(chunk, data.size() - off);
            a.write(off, std::span<const uint8_t>(data.data() + off, n));
        }
    }

    FileStoreConfig cfg;
    fs::path dir_;
};

TEST_F(FileAssemblerTest, InOrderIsCompleteWithTheRightHash) {
    FileStore store(cfg);
    const Bytes data = pattern(100000, 1);
    FileAssembler a(store);
    write_chunks(a, data, 1460, [] { std::vector<size_t> v(69); for (size_t i = 0; i < v.size(); ++i) v[i] = i; return v; }());
    EXPECT_EQ(a.contiguous(), data.size());
    EXPECT_EQ(a.ranges(), 1u);
    AssembledFile f = a.finish(0);
    EXPECT_EQ(f.state, FileState::complete);
    EXPECT_FALSE(f.gaps);
    EXPECT_EQ(f.size, data.size());
    EXPECT_EQ(f.sha256_bytes, data.size());
    EXPECT_EQ(hex(f), sha256_hex_of(data));
    EXPECT_EQ(f.content.kind(), FileContent::Kind::memory);
    EXPECT_EQ(content_of(f), data);
    EXPECT_EQ(store.memory_used(), 0u) << "the buffer belongs to the caller now";
    EXPECT_NE(f.file_uid, 0u);
}

TEST_F(FileAssemblerTest, ReverseOrderGivesTheSameFileAndHash) {
    FileStore store(cfg);
    const Bytes data = pattern(50000, 2);
    FileAssembler a(store);
    std::vector<size_t> order;
    for (size_t i = 35; i-- > 0;) order.push_back(i);
    write_chunks(a, data, 1460, order);
    EXPECT_EQ(a.ranges(), 1u);
    AssembledFile f = a.finish(0);
    EXPECT_EQ(f.state, FileState::complete);
    EXPECT_EQ(hex(f), sha256_hex_of(data));
    EXPECT_EQ(content_of(f), data);
}

TEST_F(FileAssemblerTest, RandomOrderWithDuplicatesGivesTheSameFile) {
    FileStore store(cfg);
    const Bytes data = pattern(64000, 3);
    std::mt19937 rng(5);
    FileAssembler a(store);
    for (int i = 0; i < 400; ++i) {
        const size_t off = rng() % data.size();
        const size_t n = std::min<size_t>(1 + rng() % 3000, data.size() - off);
        a.write(off, std::span<const uint8_t>(data.data() + off, n));
    }
    a.write(0, data);  // fills whatever is missing
    AssembledFile f = a.finish(0);
    EXPECT_EQ(f.state, FileState::complete);
    EXPECT_EQ(hex(f), sha256_hex_of(data));
    EXPECT_EQ(content_of(f), data);
}

TEST_F(FileAssemblerTest, OverlapsKeepTheFirstData) {
    FileStore store(cfg);
    FileAssembler a(store);
    const Bytes first = {'A', 'A', 'A', 'A'};
    const Bytes second = {'B', 'B', 'B', 'B', 'B', 'B'};
    const Bytes third = {'C', 'C', 'C', 'C', 'C', 'C', 'C', 'C', 'C', 'C'};
    a.write(2, first);   // [2,6)
    a.write(4, second);  // [4,10): only [6,10) is new
    a.write(0, third);   // [0,10): only [0,2) is new
    AssembledFile f = a.finish(0);
    const Bytes want = {'C', 'C', 'A', 'A', 'A', 'A', 'B', 'B', 'B', 'B'};
    EXPECT_EQ(content_of(f), want);
    EXPECT_EQ(hex(f), sha256_hex_of(want));
    EXPECT_EQ(store.counters().get(FileCounter::bytes_overlap), 2u + 8u);
}

TEST_F(FileAssemblerTest, HolesMakeItTruncatedWithPrefixHash) {
    FileStore store(cfg);
    const Bytes data = pattern(3000, 4);
    FileAssembler a(store);
    a.write(0, std::span<const uint8_t>(data.data(), 1000));
    a.write(2000, std::span<const uint8_t>(data.data() + 2000, 1000));
    EXPECT_EQ(a.ranges(), 2u);
    AssembledFile f = a.finish(0);
    EXPECT_EQ(f.state, FileState::truncated);
    EXPECT_TRUE(f.gaps);
    EXPECT_EQ(f.size, 3000u);
    EXPECT_EQ(f.sha256_bytes, 1000u);
    EXPECT_EQ(hex(f), sha256_hex_of(Bytes(data.begin(), data.begin() + 1000)));
    const auto kept = content_of(f);
    ASSERT_EQ(kept.size(), 3000u);
    EXPECT_TRUE(std::all_of(kept.begin() + 1000, kept.begin() + 2000, [](uint8_t c) { return c == 0; }));
    EXPECT_TRUE(std::equal(data.begin() + 2000, data.end(), kept.begin() + 2000));
}

TEST_F(FileAssemblerTest, MissingTailOfAKnownSizeIsTruncated) {
    FileStore store(cfg);
    FileAssembler a(store, 5000);
    a.write(0, pattern(4000, 5));
    EXPECT_FALSE(a.covers(5000));
    AssembledFile f = a.finish(5000);
    EXPECT_EQ(f.state, FileState::truncated);
    EXPECT_TRUE(f.gaps);
    EXPECT_EQ(f.size, 5000u);
}

TEST_F(FileAssemblerTest, SpillsPastThePerFileCapWithTheSameHashAsInMemory) {
    const Bytes data = pattern(300000, 6);
    std::vector<size_t> order;
    for (size_t i = 0; i < 206; ++i) order.push_back((i * 37) % 206);  // out of order
    std::string mem_hash;
    {
        FileStore store(cfg);
        FileAssembler a(store);
        write_chunks(a, data, 1460, order);
        AssembledFile f = a.finish(0);
        EXPECT_EQ(f.content.kind(), FileContent::Kind::memory);
        mem_hash = hex(f);
    }
    cfg.memory_per_file = 64 * 1024;
    FileStore store(cfg);
    FileAssembler a(store);
    write_chunks(a, data, 1460, order);
    EXPECT_TRUE(a.spilled());
    EXPECT_EQ(a.memory_held(), 0u);
    EXPECT_EQ(store.counters().get(FileCounter::spilled_files), 1u);
    EXPECT_EQ(store.counters().get(FileCounter::spill_per_file_cap), 1u);
    AssembledFile f = a.finish(0);
    EXPECT_EQ(f.state, FileState::complete);
    EXPECT_EQ(hex(f), mem_hash);
    EXPECT_EQ(mem_hash, sha256_hex_of(data));
    ASSERT_EQ(f.content.kind(), FileContent::Kind::spill);
    EXPECT_EQ(fs::path(f.content.path()).parent_path(), dir_);
    EXPECT_EQ(f.content.size(), data.size());
    EXPECT_EQ(content_of(f), data);
    EXPECT_EQ(store.spill_used(), 0u) << "the spill file belongs to the caller now";
    // The content owns the file: destroying it removes it, releasing keeps it.
    const std::string path = f.content.path();
    {
        FileContent moved = std::move(f.content);
        EXPECT_TRUE(fs::exists(path));
    }
    EXPECT_FALSE(fs::exists(path));
}

TEST_F(FileAssemblerTest, ReleasedSpillPathIsTheCallersToDelete) {
    cfg.memory_per_file = 4096;
    FileStore store(cfg);
    FileAssembler a(store);
    a.write(0, pattern(10000, 7));
    AssembledFile f = a.finish(0);
    ASSERT_EQ(f.content.kind(), FileContent::Kind::spill);
    const std::string path = f.content.release_path();
    EXPECT_EQ(f.content.kind(), FileContent::Kind::none);
    { AssembledFile gone = std::move(f); }
    EXPECT_TRUE(fs::exists(path));
    fs::remove(path);
}

TEST_F(FileAssemblerTest, GlobalMemoryCapSpillsTheFileThatGrows) {
    cfg.memory_total = 100000;
    cfg.memory_per_file = 80000;
    FileStore store(cfg);
    FileAssembler a(store);
    FileAssembler b(store);
    const Bytes da = pattern(70000, 8);
    const Bytes db = pattern(70000, 9);
    a.write(0, da);
    EXPECT_FALSE(a.spilled());
    b.write(0, db);
    EXPECT_TRUE(b.spilled()) << "worker budget exhausted";
    EXPECT_LE(store.memory_used(), cfg.memory_total);
    EXPECT_EQ(store.counters().get(FileCounter::spill_global_cap), 1u);
    AssembledFile fa = a.finish(0);
    AssembledFile fb = b.finish(0);
    EXPECT_EQ(content_of(fa), da);
    EXPECT_EQ(content_of(fb), db);
    EXPECT_EQ(hex(fb), sha256_hex_of(db));
    EXPECT_EQ(store.memory_used(), 0u);
}

TEST_F(FileAssemblerTest, SpillFailureDropsContentButNeverClaimsComplete) {
    cfg.memory_per_file = 4096;
    cfg.spill_dir = (dir_ / "does-not-exist").string();
    FileStore store(cfg);
    FileAssembler a(store);
    const Bytes data = pattern(20000, 10);
    for (size_t off = 0; off < data.size(); off += 1000) a.write(off, std::span<const uint8_t>(data.data() + off, 1000));
    AssembledFile f = a.finish(0);
    EXPECT_EQ(f.state, FileState::truncated);
    EXPECT_TRUE(f.content_truncated);
    EXPECT_EQ(f.content.kind(), FileContent::Kind::none);
    EXPECT_EQ(f.size, data.size());
    // In-order data is still hashed from the stream itself.
    EXPECT_EQ(f.sha256_bytes, data.size());
    EXPECT_EQ(hex(f), sha256_hex_of(data));
    EXPECT_EQ(store.counters().get(FileCounter::spill_failures), 1u);
    EXPECT_EQ(store.memory_used(), 0u);
}

TEST_F(FileAssemblerTest, SpillingDisabledKeepsNothingPastTheMemoryCap) {
    cfg.memory_per_file = 4096;
    cfg.spill_dir = "";
    FileStore store(cfg);
    FileAssembler a(store);
    a.write(0, pattern(8192, 11));
    AssembledFile f = a.finish(0);
    EXPECT_EQ(f.state, FileState::truncated);
    EXPECT_EQ(files_in_spill_dir(), 0u);
}

TEST_F(FileAssemblerTest, SpillBudgetIsPerWorker) {
    cfg.memory_per_file = 1024;
    cfg.spill_total = 50000;
    FileStore store(cfg);
    FileAssembler a(store);
    FileAssembler b(store);
    a.write(0, pattern(40000, 12));
    b.write(0, pattern(40000, 13));
    EXPECT_LE(store.spill_used(), cfg.spill_total);
    EXPECT_EQ(store.counters().get(FileCounter::spill_cap_reached), 1u);
    AssembledFile fa = a.finish(0);
    AssembledFile fb = b.finish(0);
    EXPECT_EQ(fa.state, FileState::complete);
    EXPECT_EQ(fb.state, FileState::truncated);
    EXPECT_EQ(fb.content.kind(), FileContent::Kind::none);
}

TEST_F(FileAssemblerTest, MaxFileSizeKeepsSizeAndHashOfInOrderFile) {
    cfg.max_file_size = 10000;
    FileStore store(cfg);
    FileAssembler a(store);
    const Bytes data = pattern(25000, 14);
    for (size_t off = 0; off < data.size(); off += 5000) a.write(off, std::span<const uint8_t>(data.data() + off, 5000));
    AssembledFile f = a.finish(0);
    EXPECT_EQ(f.state, FileState::truncated) << "content past the cap is not kept: not scannable whole";
    EXPECT_TRUE(f.content_truncated);
    EXPECT_FALSE(f.gaps);
    EXPECT_EQ(f.size, data.size());
    EXPECT_EQ(f.content.size(), 10000u);
    EXPECT_EQ(hex(f), sha256_hex_of(data));
    EXPECT_EQ(f.sha256_bytes, data.size());
    EXPECT_EQ(store.counters().get(FileCounter::max_size_reached), 1u);
}

TEST_F(FileAssemblerTest, TooManyRangesDropDataAndTruncate) {
    cfg.max_ranges = 16;
    FileStore store(cfg);
    FileAssembler a(store);
    for (uint64_t i = 0; i < 100; ++i) a.write(i * 100 + 50, pattern(10, static_cast<uint32_t>(i)));
    EXPECT_LE(a.ranges(), 16u);
    EXPECT_GT(store.counters().get(FileCounter::range_overflow), 0u);
    a.write(0, pattern(10000, 1));
    AssembledFile f = a.finish(0);
    EXPECT_EQ(f.state, FileState::truncated);
    EXPECT_TRUE(f.content_truncated);
}

TEST_F(FileAssemblerTest, OffsetOverflowIsCountedNotWrapped) {
    FileStore store(cfg);
    FileAssembler a(store);
    a.write(std::numeric_limits<uint64_t>::max() - 3, pattern(10, 1));
    a.write(0, pattern(10, 2));
    EXPECT_EQ(store.counters().get(FileCounter::offset_overflow), 1u);
    AssembledFile f = a.finish(0);
    EXPECT_EQ(f.state, FileState::truncated);
    EXPECT_EQ(f.size, 10u);
}

TEST_F(FileAssemblerTest, WritesAfterFinishAreIgnored) {
    FileStore store(cfg);
    FileAssembler a(store);
    a.write(0, pattern(10, 1));
    AssembledFile f = a.finish(0);
    a.write(10, pattern(10, 2));
    EXPECT_TRUE(a.finished());
    EXPECT_EQ(f.size, 10u);
    EXPECT_EQ(store.memory_used(), 0u);
}

TEST_F(FileAssemblerTest, MagicIsOffOnTheWorkerByDefault) {
    FileStore store(cfg);
    EXPECT_FALSE(store.magic_available());
    FileAssembler a(store);
    a.write(0, pattern(100, 1));
    EXPECT_EQ(a.finish(0).magic, "");
}

TEST_F(FileAssemblerTest, MagicNamesTheType) {
    cfg.magic = true;
    FileStore store(cfg);
    if (!store.magic_available()) GTEST_SKIP() << "libmagic database not loadable here";
    FileAssembler a(store);
    const std::string pdf = "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n";
    a.write(0, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(pdf.data()), pdf.size()));
    AssembledFile f = a.finish(0);
    EXPECT_NE(f.magic.find("PDF"), std::string::npos) << f.magic;
    // The same from a spill file.
    cfg.memory_per_file = 16;
    FileStore spill_store(cfg);
    FileAssembler b(spill_store);
    b.write(0, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(pdf.data()), pdf.size()));
    EXPECT_TRUE(b.spilled());
    AssembledFile g = b.finish(0);
    EXPECT_EQ(g.magic, f.magic);
    // Off the worker: FileMagic on the handed-over content, memory or spill file.
    FileMagic magic;
    ASSERT_TRUE(magic.available());
    EXPECT_EQ(magic.describe(f.content), f.magic);
    ASSERT_EQ(g.content.kind(), FileContent::Kind::spill);
    EXPECT_EQ(magic.describe(g.content), f.magic);
    EXPECT_EQ(magic.describe(FileContent{}), "");
}

TEST_F(FileAssemblerTest, UnfinishedAssemblerLeavesNothingBehind) {
    cfg.memory_per_file = 1024;
    FileStore store(cfg);
    {
        FileAssembler a(store);
        a.write(0, pattern(5000, 1));
        EXPECT_TRUE(a.spilled());
        EXPECT_EQ(files_in_spill_dir(), 1u);
    }
    EXPECT_EQ(files_in_spill_dir(), 0u);
    EXPECT_EQ(store.spill_used(), 0u);
    EXPECT_EQ(store.memory_used(), 0u);
}

TEST_F(FileAssemblerTest, EmptyFileIsCompleteWithTheEmptyHash) {
    FileStore store(cfg);
    FileAssembler a(store);
    AssembledFile f = a.finish(0);
    EXPECT_EQ(f.state, FileState::complete);
    EXPECT_EQ(f.size, 0u);
    EXPECT_EQ(hex(f), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

// A recycled buffer carves the next file: no fresh allocation, and nothing of the
// previous file's bytes shows through (holes still read as zero).
TEST_F(FileAssemblerTest, RecycledBufferIsReusedAndHolesStayZero) {
    FileStore store(cfg);
    const Bytes first = pattern(300000, 3);
    FileAssembler a(store);
    a.write(0, first);
    AssembledFile fa = a.finish(first.size());
    ASSERT_EQ(fa.content.kind(), FileContent::Kind::memory);
    FileBuffer buf = fa.content.take_memory();
    const uint8_t* p = buf.data();
    store.recycle(std::move(buf));
    EXPECT_EQ(store.pool_buffers(), 1u);
    EXPECT_GE(store.pool_bytes(), first.size());

    // An upload (no size hint) with a hole at its start: the pooled buffer is taken.
    const Bytes second = pattern(5000, 4);
    FileAssembler b(store);
    b.write(1000, second);
    EXPECT_EQ(store.pool_buffers(), 0u);
    EXPECT_EQ(store.memory_used(), b.memory_held()) << "the budget counts what the file reserved, not the pooled capacity";
    AssembledFile fb = b.finish(0);
    EXPECT_EQ(fb.state, FileState::truncated);
    std::vector<uint8_t> want(1000, 0);
    want.insert(want.end(), second.begin(), second.end());
    EXPECT_EQ(content_of(fb), want);
    EXPECT_EQ(fb.content.memory().data(), p) << "the pooled buffer was reused";
    EXPECT_EQ(store.memory_used(), 0u);

    // A download with a known size takes it too, and hashes right.
    store.recycle(fb.content.take_memory());
    FileAssembler c(store, 2000);
    const Bytes third = pattern(2000, 5);
    c.write(0, third);
    AssembledFile fc = c.finish(2000);
    EXPECT_EQ(fc.state, FileState::complete);
    EXPECT_EQ(hex(fc), sha256_hex_of(third));
    EXPECT_EQ(fc.content.memory().data(), p);
}

TEST_F(FileAssemblerTest, PoolIsBounded) {
    cfg.memory_per_file = 1 << 20;
    FileStore store(cfg);
    for (size_t i = 0; i < FileStore::kPoolBuffers + 3; ++i) {
        FileBuffer b;
        b.reserve(FileStore::kPoolMinBytes + i * 4096);
        store.recycle(std::move(b));
    }
    EXPECT_EQ(store.pool_buffers(), FileStore::kPoolBuffers);
    EXPECT_LE(store.pool_bytes(), FileStore::kPoolBuffers * cfg.memory_per_file);
    // Too small or larger than a file may hold: freed, not pooled.
    FileStore other(cfg);
    FileBuffer tiny;
    tiny.reserve(1024);
    other.recycle(std::move(tiny));
    FileBuffer huge;
    huge.reserve(cfg.memory_per_file * 2);
    other.recycle(std::move(huge));
    EXPECT_EQ(other.pool_buffers(), 0u);
    other.recycle(FileBuffer{});
    EXPECT_EQ(other.pool_buffers(), 0u);
    store.trim_pool();
    EXPECT_EQ(store.pool_bytes(), 0u);
}

// Deferred hashing ends with the same facts as hashing on the way: in memory and
// whole (deferred, then completed), with holes, out of order, spilled, past the
// size cap, with overlaps.
TEST_F(FileAssemblerTest, DeferredHashGivesTheSameFileInEveryCase) {
    struct Case {
        const char* name;
        uint64_t per_file;
        uint64_t max_size;
        std::vector<std::pair<uint64_t, uint64_t>> writes;  // offset, length
        uint64_t required_end;
        bool expect_deferred;
    };
    const std::vector<Case> cases = {
        {"in order", 4 << 20, 100 << 20, {{0, 60000}, {60000, 60000}, {120000, 7}}, 120007, true},
        {"reverse", 4 << 20, 100 << 20, {{60000, 60000}, {0, 60000}}, 120000, true},
        {"overlaps", 4 << 20, 100 << 20, {{0, 5000}, {2000, 9000}, {1000, 500}, {11000, 4000}}, 15000, true},
        {"hole", 4 << 20, 100 << 20, {{0, 5000}, {9000, 4000}}, 13000, false},
        {"short", 4 << 20, 100 << 20, {{0, 5000}}, 8000, true},
        {"spilled", 16384, 100 << 20, {{0, 10000}, {10000, 10000}, {20000, 10000}}, 30000, false},
        {"spilled out of order", 16384, 100 << 20, {{10000, 20000}, {0, 10000}}, 30000, false},
        {"past the size cap", 4 << 20, 20000, {{0, 15000}, {15000, 15000}, {30000, 100}}, 30100, false},
        {"past the cap out of order", 4 << 20, 20000, {{15000, 15000}, {0, 15000}}, 30000, false},
        {"empty", 4 << 20, 100 << 20, {}, 0, false},
    };
    const Bytes data = pattern(200000, 11);
    for (const Case& k : cases) {
        SCOPED_TRACE(k.name);
        AssembledFile got[2];
        for (int deferred = 0; deferred < 2; ++deferred) {
            FileStoreConfig c = cfg;
            c.memory_per_file = k.per_file;
            c.max_file_size = k.max_size;
            FileStore store(c);
            store.set_defer_hash(deferred == 1);
            FileAssembler a(store);
            for (const auto& [off, len] : k.writes) a.write(off, std::span<const uint8_t>(data.data() + off, len));
            got[deferred] = a.finish(k.required_end);
            if (deferred) {
                EXPECT_EQ(got[1].sha256_deferred, k.expect_deferred);
                if (k.expect_deferred) {
                    EXPECT_FALSE(got[1].has_sha256);
                    EXPECT_TRUE(store.complete_hash(got[1]));
                    EXPECT_FALSE(got[1].sha256_deferred);
                }
            } else {
                EXPECT_FALSE(got[0].sha256_deferred);
            }
        }
        EXPECT_EQ(got[1].state, got[0].state);
        EXPECT_EQ(got[1].size, got[0].size);
        EXPECT_EQ(got[1].gaps, got[0].gaps);
        EXPECT_EQ(got[1].has_sha256, got[0].has_sha256);
        EXPECT_EQ(got[1].sha256_bytes, got[0].sha256_bytes);
        EXPECT_EQ(hex(got[1]), hex(got[0]));
        EXPECT_EQ(content_of(got[1]), content_of(got[0]));
    }
}

// FileStore::keep_content off (a carving thread whose files nobody scans):
// in-order data is hashed and not kept; state, size, gaps and hash are those
// of keeping everything, in every order, with holes, spills, the size cap and
// libmagic's leading bytes.
TEST_F(FileAssemblerTest, HashOnlyGivesTheSameStateSizeAndHashInEveryCase) {
    struct Case {
        const char* name;
        uint64_t per_file;
        uint64_t max_size;
        std::vector<std::pair<uint64_t, uint64_t>> writes;  // offset, length
        uint64_t required_end;
    };
    const std::vector<Case> cases = {
        {"in order", 4 << 20, 100 << 20, {{0, 60000}, {60000, 60000}, {120000, 7}}, 120007},
        {"reverse", 4 << 20, 100 << 20, {{60000, 60000}, {0, 60000}}, 120000},
        {"ahead then in order", 4 << 20, 100 << 20, {{0, 1000}, {5000, 1000}, {1000, 4000}, {6000, 500}}, 6500},
        {"overlaps", 4 << 20, 100 << 20, {{0, 5000}, {2000, 9000}, {1000, 500}, {11000, 4000}}, 15000},
        {"hole", 4 << 20, 100 << 20, {{0, 5000}, {9000, 4000}}, 13000},
        {"short", 4 << 20, 100 << 20, {{0, 5000}}, 8000},
        {"spilled", 16384, 100 << 20, {{0, 10000}, {10000, 10000}, {20000, 10000}}, 30000},
        {"spilled out of order", 16384, 100 << 20, {{10000, 20000}, {0, 10000}}, 30000},
        {"past the size cap", 4 << 20, 20000, {{0, 15000}, {15000, 15000}, {30000, 100}}, 30100},
        {"past the cap out of order", 4 << 20, 20000, {{15000, 15000}, {0, 15000}}, 30000},
        {"empty", 4 << 20, 100 << 20, {}, 0},
    };
    const Bytes data = pattern(200000, 13);
    for (bool magic : {false, true}) {
        for (const Case& k : cases) {
            SCOPED_TRACE(std::string(k.name) + (magic ? " (magic)" : ""));
            AssembledFile got[2];
            for (int keep = 0; keep < 2; ++keep) {
                FileStoreConfig c = cfg;
                c.memory_per_file = k.per_file;
                c.max_file_size = k.max_size;
                c.magic = magic;
                c.magic_bytes = 4096;
                FileStore store(c);
                store.set_keep_content(keep == 1);
                FileAssembler a(store);
                for (const auto& [off, len] : k.writes) a.write(off, std::span<const uint8_t>(data.data() + off, len));
                got[keep] = a.finish(k.required_end);
            }
            EXPECT_EQ(got[0].state, got[1].state);
            EXPECT_EQ(got[0].size, got[1].size);
            EXPECT_EQ(got[0].gaps, got[1].gaps);
            EXPECT_EQ(got[0].has_sha256, got[1].has_sha256);
            EXPECT_EQ(got[0].sha256_bytes, got[1].sha256_bytes);
            EXPECT_EQ(hex(got[0]), hex(got[1]));
            EXPECT_EQ(got[0].magic, got[1].magic);
        }
    }
    // A plain in-order file keeps nothing at all.
    FileStore store(cfg);
    store.set_keep_content(false);
    FileAssembler a(store);
    a.write(0, std::span<const uint8_t>(data.data(), 100000));
    a.write(100000, std::span<const uint8_t>(data.data() + 100000, 100000));
    EXPECT_EQ(a.memory_held(), 0u);
    EXPECT_EQ(store.memory_used(), 0u);
    const AssembledFile f = a.finish(200000);
    EXPECT_EQ(f.state, FileState::complete);
    EXPECT_EQ(hex(f), sha256_hex_of(data));
}

// complete_hash() on a file that was not deferred changes nothing; a deferred
// file whose content is gone cannot be completed and says so.
TEST_F(FileAssemblerTest, CompleteHashNeedsTheContent) {
    FileStore store(cfg);
    store.set_defer_hash(true);
    const Bytes data = pattern(5000, 12);
    FileAssembler a(store);
    a.write(0, data);
    AssembledFile f = a.finish(data.size());
    ASSERT_TRUE(f.sha256_deferred);
    AssembledFile moved;
    moved.sha256_deferred = true;
    moved.sha256_bytes = f.sha256_bytes;
    EXPECT_FALSE(store.complete_hash(moved)) << "no content to hash";
    EXPECT_FALSE(moved.has_sha256);
    EXPECT_TRUE(store.complete_hash(f));
    EXPECT_EQ(hex(f), sha256_hex_of(data));
    const auto before = f.sha256;
    EXPECT_TRUE(store.complete_hash(f));
    EXPECT_EQ(f.sha256, before);
}

}  // namespace
}  // namespace sluice
