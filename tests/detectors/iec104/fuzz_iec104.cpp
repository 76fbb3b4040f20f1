// Fuzz target for Iec104Decoder: the input is cut into stream chunks of both
// directions at pseudo-random points, with an occasional gap; every record is
// rendered to EVE.
#include <array>
#include <cstddef>
#include <cstdint>

#include "dataplane/json_writer.hpp"
#include "detectors/iec104/iec104_decoder.hpp"

namespace {

class FuzzSink : public sluice::AppRecordSink {
public:
    void on_record(const sluice::AppRecord& r) override {
        std::array<char, 4096> buf{};
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
    uint32_t state = 0xc2b2ae35u ^ (uint32_t{data[0]} << 8) ^ data[1];
    auto next = [&state]() {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        return state;
    };
    Iec104Context ctx;
    Iec104Decoder dec(ctx);
    FuzzSink sink;
    size_t pos = 2;
    while (pos < size) {
        const size_t len = 1 + next() % 80;
        const size_t n = len < size - pos ? len : size - pos;
        const Direction dir = (next() & 1) ? Direction::to_client : Direction::to_server;
        if (next() % 61 == 0) dec.on_gap(dir, next() % 300);
        dec.on_data(dir, std::span<const uint8_t>(data + pos, n), sink);
        pos += n;
    }
    return 0;
}
