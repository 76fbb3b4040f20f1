// Fuzz target for ModbusDecoder: the input is cut into stream chunks of both
// directions at pseudo-random points (seeded from the input), with an
// occasional gap; every record is rendered to EVE and run through keyword
// matchers. The same bytes are also fed as a datagram and as a keyword value.
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "detectors/modbus/modbus_decoder.hpp"
#include "detectors/modbus/modbus_keywords.hpp"
#include "tests/support/stream_fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace sluice;
    (void)parse_modbus_keyword(std::string_view(reinterpret_cast<const char*>(data), size));
    if (size < 2) return 0;
    fuzz::ChunkRng rng(0x9e3779b9u, data[0], data[1]);
    ModbusContext ctx;
    ctx.config.max_pending_transactions = 1 + data[0] % ModbusConfig::kMaxPending;
    ModbusDecoder dec(ctx);
    fuzz::RecordSink<2048> sink;
    sink.keywords.push_back(std::move(parse_modbus_keyword("access write holding, address 2, value >10").value()));
    sink.keywords.push_back(std::move(parse_modbus_keyword("unit <20, function 8, subfunction 4").value()));
    sink.keywords.push_back(std::move(parse_modbus_keyword("access read coils, address 0<>100").value()));
    fuzz::feed_chunks(dec, std::span<const uint8_t>(data + 2, size - 2), rng, 64, 300, sink);
    dec.on_datagram(Direction::to_server, std::span<const uint8_t>(data, size), sink);
    return 0;
}
