#include "detectors/applayer/http_body.hpp"

#include <zlib.h>

#include <algorithm>

namespace sluice {

struct BodyInflater::Stream {
    z_stream zs{};
    bool initialized = false;
    ~Stream() {
        if (initialized) inflateEnd(&zs);
    }
};

BodyInflater::BodyInflater() = default;
BodyInflater::~BodyInflater() = default;
BodyInflater::BodyInflater(BodyInflater&&) noexcept = default;
BodyInflater& BodyInflater::operator=(BodyInflater&&) noexcept = default;

bool BodyInflater::reinit(int window_bits) {
    if (!z_) z_ = std::make_unique<Stream>();
    if (z_->initialized) return inflateReset2(&z_->zs, window_bits) == Z_OK;
    z_->zs = z_stream{};
    if (inflateInit2(&z_->zs, window_bits) != Z_OK) return false;
    z_->initialized = true;
    return true;
}

void BodyInflater::start() {
    finished_ = false;
    failed_ = false;
    lead_len_ = 0;
    mode_chosen_ = false;
}

bool BodyInflater::choose_mode() {
    // The first two bytes tell the three forms apart: gzip magic, a valid zlib
    // header (CM 8, check bits), else raw deflate.
    int bits = -15;
    if (lead_[0] == 0x1f && lead_[1] == 0x8b) bits = 15 + 16;
    else if ((lead_[0] & 0x0f) == 8 && ((lead_[0] << 8) | lead_[1]) % 31 == 0) bits = 15;
    mode_chosen_ = true;
    return reinit(bits);
}

bool BodyInflater::feed(std::span<const uint8_t> in, std::vector<uint8_t>& out, size_t limit) {
    if (failed_) return false;
    if (!mode_chosen_) {
        while (lead_len_ < sizeof lead_ && !in.empty()) {
            lead_[lead_len_++] = in[0];
            in = in.subspan(1);
        }
        if (lead_len_ < sizeof lead_) return true;
        if (!choose_mode()) return !(failed_ = true);
        const uint8_t lead[2] = {lead_[0], lead_[1]};
        if (!inflate_some(std::span<const uint8_t>(lead, 2), out, limit)) return !(failed_ = true);
    }
    if (!inflate_some(in, out, limit)) return !(failed_ = true);
    return true;
}

bool BodyInflater::inflate_some(std::span<const uint8_t> in, std::vector<uint8_t>& out, size_t limit) {
    uint8_t tmp[4096];
    z_stream& zs = z_->zs;
    while (!in.empty() && !finished_ && out.size() < limit) {
        zs.next_in = const_cast<Bytef*>(in.data());  // zlib's API is not const-correct
        zs.avail_in = static_cast<uInt>(std::min<size_t>(in.size(), 1u << 20));
        const size_t want = std::min(sizeof tmp, limit - out.size());
        zs.next_out = tmp;
        zs.avail_out = static_cast<uInt>(want);
        const int rc = inflate(&zs, Z_NO_FLUSH);
        if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) return false;
        const size_t consumed = static_cast<size_t>(zs.next_in - in.data());
        const size_t produced = want - zs.avail_out;
        out.insert(out.end(), tmp, tmp + produced);
        in = in.subspan(consumed);
        if (rc == Z_STREAM_END) finished_ = true;
        if (consumed == 0 && produced == 0) break;  // needs more input
    }
    return true;
}

size_t BodyInflater::memory_bytes() const {
    // inflate state (~7 KiB) plus its 32 KiB window.
    return z_ && z_->initialized ? sizeof(Stream) + 7 * 1024 + 32 * 1024 : 0;
}

}  // namespace sluice
