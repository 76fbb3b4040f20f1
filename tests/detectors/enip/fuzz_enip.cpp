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

#include "dataplane/json_writer.hpp"
#include "detectors/enip/enip_decoder.hpp"
#include "detectors/enip/enip_keywords.hpp"

namespace {

class FuzzSink : public sluice::AppRecordSink {
public:
    std::vector<std::unique_ptr<sluice::AppKeywordMatcher>> keywords;
    size_t matches = 0;
    void on_record(const sluice::AppRecord& r) override {
        std::array<char, 16384> buf{};
        sluice::JsonWriter w(buf.data(), buf.size());
        w.begin_object();
        r.write_eve(w, r.data);
        w.end_object();
        for (const auto& k : keywords)
            if (k->match(r)) ++matches;
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace sluice;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    (void)parse_enip_command_keyword(text);
    (void)parse_cip_service_keyword(text);
    if (size < 2) return 0;
    uint32_t state = 0x165667b1u ^ (uint32_t{data[0]} << 8) ^ data[1];
    auto next = [&state]() {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        return state;
    };
    EnipContext ctx;
    EnipDecoder dec(ctx);
    FuzzSink sink;
    sink.keywords.push_back(std::move(parse_enip_command_keyword("send_unit_data").value()));
    sink.keywords.push_back(std::move(parse_cip_service_keyword("3,1,5").value()));
    sink.keywords.push_back(std::move(parse_cip_service_keyword("10").value()));
    size_t pos = 2;
    while (pos < size) {
        const size_t len = 1 + next() % 200;
        const size_t n = len < size - pos ? len : size - pos;
        const Direction dir = (next() & 1) ? Direction::to_client : Direction::to_server;
        if (next() % 61 == 0) dec.on_gap(dir, next() % 500);
        dec.on_data(dir, std::span<const uint8_t>(data + pos, n), sink);
        pos += n;
    }
    EnipDecoder dgram(ctx);
    dgram.on_datagram(Direction::to_client, std::span<const uint8_t>(data + 2, size - 2), sink);
    dgram.on_io_datagram(Direction::to_server, std::span<const uint8_t>(data + 2, size - 2));
    return 0;
}
