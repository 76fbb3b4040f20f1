// Fuzz target for ModbusDecoder: the input is cut into stream chunks of both
// directions at pseudo-random points (seeded from the input), with an
// occasional gap; every record is rendered to EVE and run through keyword
// matchers. The same bytes are also fed as a datagram and as a keyword value.
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "dataplane/json_writer.hpp"
#include "detectors/modbus/modbus_decoder.hpp"
#include "detectors/modbus/modbus_keywords.hpp"

namespace {

class FuzzSink : public sluice::AppRecordSink {
public:
    std::array<std::unique_ptr<sluice::AppKeywordMatcher>, 3> keywords;
    size_t matches = 0;
    void on_record(const sluice::AppRecord& r) override {
        std::array<char, 2048> buf{};
        sluice::JsonWriter w(buf.data(), buf.size());
        w.begin_object();
        r.write_eve(w, r.data);
        w.end_object();
        for (const auto& k : keywords)
            if (k && k->match(r)) ++matches;
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace sluice;
    (void)parse_modbus_keyword(std::string_view(reinterpret_cast<const char*>(data), size));
    if (size < 2) return 0;
    uint32_t state = 0x9e3779b9u ^ (uint32_t{data[0]} << 8) ^ data[1];
    auto next = [&state]() {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        return state;
    };
    ModbusContext ctx;
    ctx.config.max_pending_transactions = 1 + data[0] % ModbusConfig::kMaxPending;
    ModbusDecoder dec(ctx);
    FuzzSink sink;
    sink.keywords[0] = std::move(parse_modbus_keyword("access write holding, address 2, value >10").value());
    sink.keywords[1] = std::move(parse_modbus_keyword("unit <20, function 8, subfunction 4").value());
    sink.keywords[2] = std::move(parse_modbus_keyword("access read coils, address 0<>100").value());
    size_t pos = 2;
    while (pos < size) {
        const size_t len = 1 + next() % 64;
        const size_t n = len < size - pos ? len : size - pos;
        const Direction dir = (next() & 1) ? Direction::to_client : Direction::to_server;
        if (next() % 61 == 0) dec.on_gap(dir, next() % 300);
        dec.on_data(dir, std::span<const uint8_t>(data + pos, n), sink);
        pos += n;
    }
    dec.on_datagram(Direction::to_server, std::span<const uint8_t>(data, size), sink);
    return 0;
}
