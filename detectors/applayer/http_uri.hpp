// HTTP request-target and Host normalization, as the signature engine's
// http.uri and http.host buffers see them (Suricata/libhtp semantics where
// simple, differences listed in docs/applayer.md):
//  - http.uri: the path and query of the request target (an absolute-form
//    target loses its scheme and authority); in the path every valid %XX is
//    decoded, '\' becomes '/', empty segments ("//") and "." segments are
//    removed and ".." removes the segment before it, never going above "/";
//    query and fragment are left as sent.
//  - http.host: the host of an absolute-form target, else of the Host header,
//    without user info and port, lower-cased, without trailing dots;
//    IPv6 literals keep their brackets ("[::1]").
// Thread rules: pure functions; output goes to a caller-owned ScratchBuffer.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "detectors/applayer/applayer.hpp"

namespace sluice {

struct RequestTarget {
    std::string_view authority;  // "host:port" of an absolute-form target, else empty
    std::string_view path;       // path and query ("/a?b"); for "*" or authority-form, the whole target
    bool absolute = false;       // scheme://authority... form
};

RequestTarget split_request_target(std::string_view raw);

// Appends the normalized http.uri of `raw` (a request target) to `out`.
std::span<const uint8_t> normalize_http_uri(std::string_view raw, ScratchBuffer& out);

struct HostPort {
    std::span<const uint8_t> host;  // normalized, in `out`
    uint16_t port = 0;
    bool has_port = false;
};

// Normalizes a Host header value or URI authority into `out`.
HostPort normalize_http_host(std::string_view raw, ScratchBuffer& out);

}  // namespace sluice
