// Shared by the OT decoders' fuzz targets (test-only): a record sink that
// renders every record to EVE (into a buffer of BufSize bytes, so a small one
// exercises the writer's truncation) and runs it through keyword matchers, and
// feed_chunks(), which cuts an input into stream chunks of both directions at
// pseudo-random points seeded from the input, with an occasional gap.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "dataplane/json_writer.hpp"
#include "dataplane/stream.hpp"
#include "detectors/app_record.hpp"

namespace sluice::fuzz {

template <size_t BufSize>
class RecordSink : public AppRecordSink {
public:
    std::vector<std::unique_ptr<AppKeywordMatcher>> keywords;
    size_t matches = 0;
    void on_record(const AppRecord& r) override {
        std::array<char, BufSize> buf{};
        JsonWriter w(buf.data(), buf.size());
        w.begin_object();
        r.write_eve(w, r.data);
        w.end_object();
        for (const auto& k : keywords)
            if (k && k->match(r)) ++matches;
    }
};

// xorshift32 seeded from the first two bytes of the input.
class ChunkRng {
public:
    ChunkRng(uint32_t salt, uint8_t a, uint8_t b) : state_(salt ^ (uint32_t{a} << 8) ^ b) {}
    uint32_t next() {
        state_ ^= state_ << 13;
        state_ ^= state_ >> 17;
        state_ ^= state_ << 5;
        return state_;
    }

private:
    uint32_t state_;
};

// Feeds `in` to a stream decoder (on_data / on_gap) in chunks of 1..max_chunk
// bytes of either direction; about one chunk in 61 is preceded by a gap of
// 0..max_gap-1 bytes.
template <class Decoder>
void feed_chunks(Decoder& dec, std::span<const uint8_t> in, ChunkRng& rng, size_t max_chunk, uint32_t max_gap,
                 AppRecordSink& sink) {
    size_t pos = 0;
    while (pos < in.size()) {
        const size_t len = 1 + rng.next() % max_chunk;
        const size_t n = len < in.size() - pos ? len : in.size() - pos;
        const Direction dir = (rng.next() & 1) ? Direction::to_client : Direction::to_server;
        if (rng.next() % 61 == 0) dec.on_gap(dir, rng.next() % max_gap);
        dec.on_data(dir, in.subspan(pos, n), sink);
        pos += n;
    }
}

}  // namespace sluice::fuzz
