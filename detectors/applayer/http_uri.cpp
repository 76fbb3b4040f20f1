#include "detectors/applayer/http_uri.hpp"

#include <cstddef>

namespace sluice {

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool is_scheme_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' || c == '-' ||
           c == '.';
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

RequestTarget split_request_target(std::string_view raw) {
    RequestTarget t;
    t.path = raw;
    // scheme "://" authority [path]
    size_t i = 0;
    while (i < raw.size() && is_scheme_char(raw[i])) ++i;
    const bool alpha_first = !raw.empty() && ((raw[0] >= 'a' && raw[0] <= 'z') || (raw[0] >= 'A' && raw[0] <= 'Z'));
    if (alpha_first && i > 0 && raw.substr(i, 3) == "://") {
        const size_t a = i + 3;
        size_t e = a;
        while (e < raw.size() && raw[e] != '/' && raw[e] != '?' && raw[e] != '#') ++e;
        t.absolute = true;
        t.authority = raw.substr(a, e - a);
        t.path = raw.substr(e);
    }
    return t;
}

std::span<const uint8_t> normalize_http_uri(std::string_view raw, ScratchBuffer& out) {
    const RequestTarget t = split_request_target(raw);
    const std::string_view target = t.path;
    if (t.absolute && (target.empty() || target[0] != '/')) {
        // "http://host" or "http://host?q": the path is "/".
        const size_t m = out.mark();
        out.put('/');
        out.put(target);
        return out.since(m);
    }
    size_t path_end = 0;
    while (path_end < target.size() && target[path_end] != '?' && target[path_end] != '#') ++path_end;
    const std::string_view path = target.substr(0, path_end);
    const std::string_view rest = target.substr(path_end);

    // Written in place in the scratch tail, then committed.
    const std::span<uint8_t> buf = out.tail();
    size_t o = 0;
    bool cut = false;
    auto emit = [&](uint8_t c) {
        if (o < buf.size()) buf[o++] = c;
        else cut = true;
    };
    // Decodes the byte at path[i], advancing i.
    auto next = [&](size_t& i) -> uint8_t {
        if (path[i] == '%' && i + 2 < path.size()) {
            const int hi = hex_value(path[i + 1]), lo = hex_value(path[i + 2]);
            if (hi >= 0 && lo >= 0) {
                i += 3;
                return static_cast<uint8_t>(hi * 16 + lo);
            }
        }
        return static_cast<uint8_t>(path[i++]);
    };
    const bool rooted = !path.empty() && (path[0] == '/' || path[0] == '\\');
    if (!rooted) {
        // "*", an authority-form CONNECT target or a relative path: decode only.
        for (size_t i = 0; i < path.size() && !cut;) emit(next(i));
    } else if (buf.size() >= 1) {
        // One pass: decode each byte, split on '/' and '\' (decoded or not), and
        // apply the segment rules as each segment ends. Output is "/seg/seg...".
        emit('/');
        size_t seg_start = o;  // just after the segment's '/'
        bool ends_as_dir = false;
        auto end_segment = [&] {
            const size_t len = o - seg_start;
            const bool dot = len == 1 && buf[seg_start] == '.';
            const bool dotdot = len == 2 && buf[seg_start] == '.' && buf[seg_start + 1] == '.';
            ends_as_dir = len == 0 || dot || dotdot;
            if (!ends_as_dir) return;
            o = seg_start - 1;  // drop the segment and its '/'
            if (dotdot) {
                while (o > 0 && buf[o - 1] != '/') --o;  // drop the previous segment ...
                if (o > 0) --o;                          // ... and its '/'
            }
        };
        for (size_t i = 1; i < path.size() && !cut;) {
            const uint8_t c = next(i);
            if (c == '/' || c == '\\') {
                end_segment();
                emit('/');
                seg_start = o;
            } else {
                emit(c);
            }
        }
        if (!cut) {
            end_segment();
            if (ends_as_dir || o == 0) emit('/');
        }
    } else {
        cut = true;
    }
    for (size_t i = 0; i < rest.size() && !cut; ++i) emit(static_cast<uint8_t>(rest[i]));
    const size_t m = out.mark();
    out.commit(o);
    if (cut) out.set_overflowed();
    return out.since(m);
}

HostPort normalize_http_host(std::string_view raw, ScratchBuffer& out) {
    HostPort hp;
    // Trim surrounding whitespace.
    while (!raw.empty() && (raw.front() == ' ' || raw.front() == '\t')) raw.remove_prefix(1);
    while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\t')) raw.remove_suffix(1);
    if (const size_t at = raw.rfind('@'); at != std::string_view::npos) raw.remove_prefix(at + 1);
    std::string_view host = raw;
    std::string_view port;
    if (!raw.empty() && raw[0] == '[') {
        const size_t close = raw.find(']');
        if (close != std::string_view::npos) {
            host = raw.substr(0, close + 1);
            const std::string_view after = raw.substr(close + 1);
            if (!after.empty() && after[0] == ':') port = after.substr(1);
        }
    } else if (const size_t colon = raw.rfind(':'); colon != std::string_view::npos) {
        host = raw.substr(0, colon);
        port = raw.substr(colon + 1);
    }
    if (!port.empty() && port.size() <= 5) {
        uint32_t v = 0;
        bool digits = true;
        for (char c : port) {
            if (c < '0' || c > '9') { digits = false; break; }
            v = v * 10 + static_cast<uint32_t>(c - '0');
        }
        if (digits && v <= 65535) {
            hp.port = static_cast<uint16_t>(v);
            hp.has_port = true;
        }
    }
    while (!host.empty() && host.back() == '.') host.remove_suffix(1);
    const size_t m = out.mark();
    for (char c : host) out.put(static_cast<uint8_t>(lower(c)));
    hp.host = out.since(m);
    return hp;
}

}  // namespace sluice
