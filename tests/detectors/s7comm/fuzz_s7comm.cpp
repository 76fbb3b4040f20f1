// Fuzz target for S7commDecoder: the input is cut into stream chunks of both
// directions at pseudo-random points, with an occasional gap; every record is
// rendered to EVE.
#include <array>
#include <cstddef>
#include <cstdint>

#include "dataplane/json_writer.hpp"
#include "detectors/s7comm/s7comm_decoder.hpp"

namespace {

class FuzzSink : public sluice::AppRecordSink {
public:
    void on_record(const sluice::AppRecord& r) override {
        std::array<char, 8192> buf{};
        sluice::JsonWriter w(buf.data(), buf.size());
        w.begin_object();
        r.write_eve(w, r.data);
        w.end_object();
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace sluice;
    if (size < 2) return 0;
    uint32_t state = 0x27d4eb2fu ^ (uint32_t{data[0]} << 8) ^ data[1];
    auto next = [&state]() {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        return state;
    };
    S7commContext ctx;
    ctx.config.max_pdu_size = 240 + data[0] * 4u;
    S7commDecoder dec(ctx);
    FuzzSink sink;
    size_t pos = 2;
    while (pos < size) {
        const size_t len = 1 + next() % 200;
        const size_t n = len < size - pos ? len : size - pos;
        const Direction dir = (next() & 1) ? Direction::to_client : Direction::to_server;
        if (next() % 61 == 0) dec.on_gap(dir, next() % 500);
        dec.on_data(dir, std::span<const uint8_t>(data + pos, n), sink);
        pos += n;
    }
    return 0;
}
