// Fuzz target for EnipDecoder: the input is cut into stream chunks of both
// directions at pseudo-random points, with an occasional gap; every record is
// rendered to EVE and run through the keyword matchers. The same bytes are
// also fed as a 44818 datagram, a 2222 I/O datagram and as keyword values.
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "detectors/enip/enip_decoder.hpp"
#include "detectors/enip/enip_keywords.hpp"
#include "tests/support/stream_fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace sluice;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    (void)parse_enip_command_keyword(text);
    (void)parse_cip_service_keyword(text);
    if (size < 2) return 0;
    fuzz::ChunkRng rng(0x165667b1u, data[0], data[1]);
    EnipContext ctx;
    EnipDecoder dec(ctx);
    fuzz::RecordSink<16384> sink;
    sink.keywords.push_back(std::move(parse_enip_command_keyword("send_unit_data").value()));
    sink.keywords.push_back(std::move(parse_cip_service_keyword("3,1,5").value()));
    sink.keywords.push_back(std::move(parse_cip_service_keyword("10").value()));
    fuzz::feed_chunks(dec, std::span<const uint8_t>(data + 2, size - 2), rng, 200, 500, sink);
    EnipDecoder dgram(ctx);
    dgram.on_datagram(Direction::to_client, std::span<const uint8_t>(data + 2, size - 2), sink);
    dgram.on_io_datagram(Direction::to_server, std::span<const uint8_t>(data + 2, size - 2));
    return 0;
}
