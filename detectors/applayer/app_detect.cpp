#include "detectors/applayer/app_detect.hpp"

#include <algorithm>
#include <string_view>

namespace sluice {

namespace {

using Bytes = std::span<const uint8_t>;

// Compares a possibly short `data` with `pattern`: yes when it starts with the
// whole pattern, need_more when it is a prefix of it.
ProbeVerdict prefix_match(Bytes data, std::string_view pattern) {
    const size_t n = std::min(data.size(), pattern.size());
    for (size_t i = 0; i < n; ++i)
        if (data[i] != static_cast<uint8_t>(pattern[i])) return ProbeVerdict::no;
    return n == pattern.size() ? ProbeVerdict::yes : ProbeVerdict::need_more;
}

constexpr std::string_view kMethods[] = {
    "GET ",    "POST ",     "HEAD ",      "PUT ",    "DELETE ", "OPTIONS ", "CONNECT ", "TRACE ",  "PATCH ",
    "PROPFIND ", "PROPPATCH ", "MKCOL ", "COPY ",   "MOVE ",   "LOCK ",    "UNLOCK ",  "SEARCH ", "REPORT ",
};

// Walks the uncompressed first question name at `pos`; returns the offset
// after it, 0 when it is malformed, SIZE_MAX when more bytes are needed.
size_t skip_first_name(Bytes m, size_t pos) {
    size_t length = 0;
    while (true) {
        if (pos >= m.size()) return SIZE_MAX;
        const uint8_t len = m[pos];
        if (len == 0) return pos + 1;
        if (len & 0xc0) return 0;  // no pointers (nothing to point to yet), no reserved types
        length += size_t{len} + 1;
        if (length > 255) return 0;
        pos += size_t{len} + 1;
    }
}

}  // namespace

ProbeVerdict looks_like_http(Bytes first, Direction dir) {
    if (first.empty()) return ProbeVerdict::need_more;
    if (dir == Direction::to_client) return prefix_match(first, "HTTP/1.");
    ProbeVerdict best = ProbeVerdict::no;
    for (std::string_view m : kMethods) {
        const ProbeVerdict v = prefix_match(first, m);
        if (v == ProbeVerdict::yes) return v;
        if (v == ProbeVerdict::need_more) best = v;
    }
    return best;
}

ProbeVerdict looks_like_tls(Bytes first, Direction dir) {
    const uint8_t hello = dir == Direction::to_server ? 1 : 2;
    if (first.size() >= 1 && first[0] != 0x16) return ProbeVerdict::no;
    if (first.size() >= 2 && first[1] != 0x03) return ProbeVerdict::no;
    if (first.size() >= 3 && first[2] > 0x04) return ProbeVerdict::no;
    if (first.size() >= 5) {
        const unsigned len = (unsigned{first[3]} << 8) | first[4];
        if (len < 4 || len > 16384 + 2048) return ProbeVerdict::no;
    }
    if (first.size() >= 6) return first[5] == hello ? ProbeVerdict::yes : ProbeVerdict::no;
    return ProbeVerdict::need_more;
}

ProbeVerdict looks_like_dns(Bytes first, bool over_tcp) {
    Bytes m = first;
    if (over_tcp) {
        if (m.size() < 2) return ProbeVerdict::need_more;
        const size_t len = (size_t{m[0]} << 8) | m[1];
        if (len < 17) return ProbeVerdict::no;  // header and a minimal question
        m = m.subspan(2, std::min(len, m.size() - 2));
    }
    if (m.size() < 12) return ProbeVerdict::need_more;
    const unsigned flags = (unsigned{m[2]} << 8) | m[3];
    const unsigned opcode = (flags >> 11) & 0xf;
    const unsigned qd = (unsigned{m[4]} << 8) | m[5];
    const unsigned an = (unsigned{m[6]} << 8) | m[7];
    const unsigned ns = (unsigned{m[8]} << 8) | m[9];
    const unsigned ar = (unsigned{m[10]} << 8) | m[11];
    const bool response = flags & 0x8000;
    if (opcode == 3 || opcode > 5 || (flags & 0x0040)) return ProbeVerdict::no;  // reserved opcode, Z bit
    if (qd < 1 || qd > 8 || an + ns + ar > 512) return ProbeVerdict::no;
    if (!response && (flags & 0x000f)) return ProbeVerdict::no;  // a query carries no rcode
    const size_t after = skip_first_name(m, 12);
    if (after == 0) return ProbeVerdict::no;
    if (after == SIZE_MAX || after + 4 > m.size()) return ProbeVerdict::need_more;
    const unsigned rclass = ((unsigned{m[after + 2]} << 8) | m[after + 3]) & 0x7fff;  // mDNS unicast bit
    if (rclass != 1 && rclass != 3 && rclass != 4 && rclass != 255) return ProbeVerdict::no;
    return ProbeVerdict::yes;
}

AppProbe probe_app_proto(Bytes first, uint8_t ip_proto, Direction dir) {
    AppProbe p;
    if (ip_proto == 17) {
        const ProbeVerdict v = looks_like_dns(first, false);
        if (v == ProbeVerdict::yes) p.proto = AppProto::dns;
        p.need_more = v == ProbeVerdict::need_more;
        return p;
    }
    if (ip_proto != 6) return p;
    const struct {
        AppProto proto;
        ProbeVerdict verdict;
    } tries[] = {
        {AppProto::tls, looks_like_tls(first, dir)},
        {AppProto::http, looks_like_http(first, dir)},
        {AppProto::dns, looks_like_dns(first, true)},
    };
    for (const auto& t : tries) {
        if (t.verdict == ProbeVerdict::yes) {
            p.proto = t.proto;
            return p;
        }
        if (t.verdict == ProbeVerdict::need_more) p.need_more = true;
    }
    return p;
}

}  // namespace sluice
