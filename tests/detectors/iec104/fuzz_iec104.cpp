// Fuzz target for Iec104Decoder: the input is cut into stream chunks of both
// directions at pseudo-random points, with an occasional gap; every record is
// rendered to EVE.
#include <array>
#include <cstddef>
#include <cstdint>

#include "detectors/iec104/iec104_decoder.hpp"
#include "tests/support/stream_fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace sluice;
    if (size < 2) return 0;
    fuzz::ChunkRng rng(0xc2b2ae35u, data[0], data[1]);
    Iec104Context ctx;
    Iec104Decoder dec(ctx);
    fuzz::RecordSink<4096> sink;
    fuzz::feed_chunks(dec, std::span<const uint8_t>(data + 2, size - 2), rng, 80, 300, sink);
    return 0;
}
