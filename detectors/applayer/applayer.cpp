#include "detectors/applayer/applayer.hpp"

#include <algorithm>
#include <cstring>

namespace sluice {

void ScratchBuffer::put(std::span<const uint8_t> s) {
    const size_t room = buf_.size() - used_;
    const size_t n = std::min(room, s.size());
    if (n) std::memcpy(buf_.data() + used_, s.data(), n);
    used_ += n;
    if (n < s.size()) overflowed_ = true;
}

void AppLayerContext::set_config(const AppLayerConfig& config) {
    config_ = &config;
    // HTTP builds its normalized buffers (http.header, http.header_names, merged
    // and unfolded values, the normalized URI and host, and the request fields of
    // a response) from one header block: four times the block bounds them all.
    const size_t http = 4 * size_t{config.http_max_header_bytes} + 8 * size_t{config.http_max_headers} + 8192;
    // DNS writes decoded names (at most 255 bytes each) and rdata text.
    const size_t dns = (8 + 2 * size_t{config.dns_max_records}) * 320;
    scratch_.reserve(std::max(http, dns));
    header_fields_.reserve(size_t{config.http_max_headers} + 1);
}

}  // namespace sluice
