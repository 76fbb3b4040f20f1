// Shared by the app-layer fuzz targets: a sink that reads every byte of every
// buffer and renders the EVE object (so a sanitizer sees any dangling span or
// overread), and a script format that turns one fuzz input into a
// conversation: segments separated by the 3 bytes 00 FF 00 alternate
// directions (to_server first); a control byte picks the chunk size, small
// limits, and gaps.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "dataplane/json_writer.hpp"
#include "detectors/applayer/applayer.hpp"

namespace sluice::fuzz {

class TouchingSink final : public AppTransactionSink {
public:
    void on_transaction(const AppTransaction& tx, AppTxStage) override {
        for (size_t i = 0; i < kAppBufferCount; ++i) {
            if (!tx.present[i] && !tx.buffers[i].empty()) __builtin_trap();  // absent buffers are empty
            for (uint8_t b : tx.buffers[i]) sum_ += b;
        }
        if (tx.write_eve) {
            JsonWriter w(eve_.data(), eve_.size());
            w.begin_object();
            tx.write_eve(w, tx.eve_ctx);
            w.end_object();
        }
        ++count_;
    }
    uint64_t sum_ = 0;
    uint64_t count_ = 0;

private:
    std::vector<char> eve_ = std::vector<char>(1 << 16);
};

struct Segment {
    Direction dir;
    std::span<const uint8_t> bytes;
};

inline std::vector<Segment> split_script(std::span<const uint8_t> data) {
    std::vector<Segment> out;
    Direction d = Direction::to_server;
    size_t start = 0;
    for (size_t i = 0; i + 2 < data.size(); ++i) {
        if (data[i] == 0x00 && data[i + 1] == 0xff && data[i + 2] == 0x00) {
            out.push_back({d, data.subspan(start, i - start)});
            d = opposite(d);
            start = i + 3;
            i += 2;
        }
    }
    out.push_back({d, data.subspan(start)});
    return out;
}

// Feeds the segments to a StreamConsumer in chunks of `chunk` bytes (0: whole);
// when `gaps` is set, every 7th chunk is reported as a gap instead.
template <typename Consumer>
void feed_script(Consumer& c, const std::vector<Segment>& segs, size_t chunk, bool gaps) {
    uint64_t offset[2] = {0, 0};
    size_t n = 0;
    for (const auto& s : segs) {
        const size_t step = chunk ? chunk : (s.bytes.empty() ? 1 : s.bytes.size());
        for (size_t i = 0; i < s.bytes.size(); i += step) {
            const auto part = s.bytes.subspan(i, std::min(step, s.bytes.size() - i));
            if (gaps && ++n % 7 == 0) c.on_gap(s.dir, offset[index(s.dir)], part.size());
            else c.on_data(s.dir, offset[index(s.dir)], part);
            offset[index(s.dir)] += part.size();
        }
    }
    c.on_end();
}

}  // namespace sluice::fuzz
