// Fuzz target for Dnp3Decoder: the input is cut into stream chunks of both
// directions at pseudo-random points, with an occasional gap; every record is
// rendered to EVE and run through the keyword matchers. The same bytes are
// also fed as a datagram and as keyword values. Inputs whose second byte is
// odd get their link CRCs fixed up first, so the fuzzer reaches the transport
// and application layers instead of stopping at the CRC checks.
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "detectors/dnp3/dnp3_decoder.hpp"
#include "detectors/dnp3/dnp3_keywords.hpp"
#include "tests/support/stream_fuzz.hpp"

namespace {

// Rewrites the header and block CRCs of every well-started link frame.
void fix_crcs(std::vector<uint8_t>& b) {
    size_t i = 0;
    while (i + 10 <= b.size()) {
        if (b[i] != 0x05 || b[i + 1] != 0x64 || b[i + 2] < 5) {
            ++i;
            continue;
        }
        uint16_t crc = sluice::dnp3_crc(std::span<const uint8_t>(&b[i], 8));
        b[i + 8] = static_cast<uint8_t>(crc);
        b[i + 9] = static_cast<uint8_t>(crc >> 8);
        size_t ud = b[i + 2] - 5u;
        size_t p = i + 10;
        while (ud > 0 && p < b.size()) {
            const size_t n = ud < 16 ? ud : 16;
            if (p + n + 2 > b.size()) break;
            crc = sluice::dnp3_crc(std::span<const uint8_t>(&b[p], n));
            b[p + n] = static_cast<uint8_t>(crc);
            b[p + n + 1] = static_cast<uint8_t>(crc >> 8);
            p += n + 2;
            ud -= n;
        }
        i = p;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace sluice;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    (void)parse_dnp3_func_keyword(text);
    (void)parse_dnp3_ind_keyword(text);
    (void)parse_dnp3_obj_keyword(text);
    if (size < 2) return 0;
    std::vector<uint8_t> in(data + 2, data + size);
    if (data[1] & 1) fix_crcs(in);
    fuzz::ChunkRng rng(0x85ebca6bu, data[0], data[1]);
    Dnp3Context ctx;
    ctx.config.max_fragment_size = 249 + data[0] * 8u;
    Dnp3Decoder dec(ctx);
    fuzz::RecordSink<8192> sink;
    sink.keywords.push_back(std::move(parse_dnp3_func_keyword("direct_operate").value()));
    sink.keywords.push_back(std::move(parse_dnp3_ind_keyword("device_restart,need_time").value()));
    sink.keywords.push_back(std::move(parse_dnp3_obj_keyword("12,1").value()));
    fuzz::feed_chunks(dec, in, rng, 300, 400, sink);
    Dnp3Decoder dgram(ctx);
    dgram.on_datagram(Direction::to_server, in, sink);
    return 0;
}
