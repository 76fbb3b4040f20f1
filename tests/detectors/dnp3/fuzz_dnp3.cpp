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

#include "dataplane/json_writer.hpp"
#include "detectors/dnp3/dnp3_decoder.hpp"
#include "detectors/dnp3/dnp3_keywords.hpp"

namespace {

class FuzzSink : public sluice::AppRecordSink {
public:
    std::vector<std::unique_ptr<sluice::AppKeywordMatcher>> keywords;
    size_t matches = 0;
    void on_record(const sluice::AppRecord& r) override {
        std::array<char, 8192> buf{};
        sluice::JsonWriter w(buf.data(), buf.size());
        w.begin_object();
        r.write_eve(w, r.data);
        w.end_object();
        for (const auto& k : keywords)
            if (k->match(r)) ++matches;
    }
};

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
    uint32_t state = 0x85ebca6bu ^ (uint32_t{data[0]} << 8) ^ data[1];
    auto next = [&state]() {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        return state;
    };
    Dnp3Context ctx;
    ctx.config.max_fragment_size = 249 + data[0] * 8u;
    Dnp3Decoder dec(ctx);
    FuzzSink sink;
    sink.keywords.push_back(std::move(parse_dnp3_func_keyword("direct_operate").value()));
    sink.keywords.push_back(std::move(parse_dnp3_ind_keyword("device_restart,need_time").value()));
    sink.keywords.push_back(std::move(parse_dnp3_obj_keyword("12,1").value()));
    size_t pos = 0;
    while (pos < in.size()) {
        const size_t len = 1 + next() % 300;
        const size_t n = len < in.size() - pos ? len : in.size() - pos;
        const Direction dir = (next() & 1) ? Direction::to_client : Direction::to_server;
        if (next() % 61 == 0) dec.on_gap(dir, next() % 400);
        dec.on_data(dir, std::span<const uint8_t>(in.data() + pos, n), sink);
        pos += n;
    }
    Dnp3Decoder dgram(ctx);
    dgram.on_datagram(Direction::to_server, in, sink);
    return 0;
}
