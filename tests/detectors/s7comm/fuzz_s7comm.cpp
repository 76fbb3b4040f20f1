// Fuzz target for S7commDecoder: the input is cut into stream chunks of both
// directions at pseudo-random points, with an occasional gap; every record is
// rendered to EVE.
#include <array>
#include <cstddef>
#include <cstdint>

#include "detectors/s7comm/s7comm_decoder.hpp"
#include "tests/support/stream_fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace sluice;
    if (size < 2) return 0;
    fuzz::ChunkRng rng(0x27d4eb2fu, data[0], data[1]);
    S7commContext ctx;
    ctx.config.max_pdu_size = 240 + data[0] * 4u;
    S7commDecoder dec(ctx);
    fuzz::RecordSink<8192> sink;
    fuzz::feed_chunks(dec, std::span<const uint8_t>(data + 2, size - 2), rng, 200, 500, sink);
    return 0;
}
