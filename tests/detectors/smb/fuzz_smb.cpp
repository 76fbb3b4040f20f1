// Fuzz target for the SMB decoder and file assembler: the input is a script of
// stream events for one connection, so that mutations reach both directions,
// gaps and arbitrary chunk boundaries:
//   record := ctl:u8 len:u16le payload[len]
//   ctl bit 0: direction (0 to_server, 1 to_client)
//   ctl bit 1: a gap of `len` bytes (no payload follows)
//   ctl bits 2-7: feed the payload in pieces of (bits * 7) bytes (0: whole)
// A record running past the input feeds what is there. Caps are small so that
// they are reached; after on_end every byte of file memory and spill budget must
// be back with the worker.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "detectors/smb/smb_decoder.hpp"

namespace {

class NullSink : public sluice::SmbEventSink {
public:
    void on_file_finished(sluice::FileInfo& info) override {
        // Touch what a real sink reads.
        volatile size_t n = info.filename.size() + info.share.size() + info.file.content.size();
        (void)n;
    }
};

sluice::SmbWorkerContext& context() {
    static sluice::SmbWorkerContext ctx([] {
        sluice::SmbConfig c;
        c.pdu_buffer_size = 2048;
        c.max_open_files = 8;
        c.max_trees = 4;
        c.max_pending = 16;
        c.max_sessions = 4;
        c.max_chain = 8;
        c.max_name_bytes = 64;
        c.files.memory_total = 256 * 1024;
        c.files.memory_per_file = 8192;
        c.files.max_file_size = 1 << 20;
        c.files.spill_total = 1 << 20;
        c.files.max_ranges = 32;
        c.files.magic = false;  // libmagic is not under test; it is slow to load per input
        const char* tmp = std::getenv("TMPDIR");
        c.files.spill_dir = tmp ? tmp : "/tmp";
        return c;
    }());
    return ctx;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    NullSink sink;
    auto& ctx = context();
    {
        sluice::SmbDecoder dec(ctx, sink);
        size_t at = 0;
        uint64_t offset[2] = {0, 0};
        while (at + 3 <= size) {
            const uint8_t ctl = data[at];
            const size_t len = static_cast<size_t>(data[at + 1]) | (static_cast<size_t>(data[at + 2]) << 8);
            at += 3;
            const auto dir = (ctl & 1) ? sluice::Direction::to_client : sluice::Direction::to_server;
            auto& off = offset[sluice::index(dir)];
            if (ctl & 2) {
                dec.on_gap(dir, off, len);
                off += len;
                continue;
            }
            const size_t n = len < size - at ? len : size - at;
            const size_t piece = (ctl >> 2) ? (ctl >> 2) * 7u : n;
            for (size_t p = 0; p < n; p += piece) {
                const size_t k = piece < n - p ? piece : n - p;
                dec.on_data(dir, off, std::span<const uint8_t>(data + at + p, k));
                off += k;
                (void)dec.last_result();
            }
            at += n;
        }
        dec.on_end();
    }
    if (ctx.files().memory_used() != 0 || ctx.files().spill_used() != 0) std::abort();
    return 0;
}
