// Protocol detection hints for the app-layer parsers: given the first bytes of
// one direction of a flow, says whether they look like HTTP/1.x, TLS or DNS, so
// the worker can start the right parser on any port (alongside nDPI's verdict,
// which wins when the two disagree). Cheap, allocation-free checks of the
// start of each protocol's first message; never reads past `first`.
// Thread rules: pure functions.
#pragma once

#include <cstdint>
#include <span>

#include "dataplane/stream.hpp"
#include "detectors/app_proto.hpp"

namespace sluice {

enum class ProbeVerdict : uint8_t {
    no,         // not this protocol
    need_more,  // a valid prefix so far; decide with more bytes
    yes,
};

// HTTP: to_server, a known method and a space ("GET ", "POST ", WebDAV...);
// to_client, "HTTP/1.".
ProbeVerdict looks_like_http(std::span<const uint8_t> first, Direction dir);
// TLS: a handshake record (SSLv3 .. TLS 1.3 record version, plausible length)
// holding a ClientHello (to_server) or ServerHello (to_client).
ProbeVerdict looks_like_tls(std::span<const uint8_t> first, Direction dir);
// DNS: a plausible header and a first question that decodes; over TCP after
// the 2-byte length prefix.
ProbeVerdict looks_like_dns(std::span<const uint8_t> first, bool over_tcp);

struct AppProbe {
    AppProto proto = AppProto::unknown;  // http, tls or dns when one said yes
    bool need_more = false;              // undecided: call again with more bytes
};

// Tries TLS, HTTP and DNS over TCP (ip_proto 6) or DNS over UDP (17).
AppProbe probe_app_proto(std::span<const uint8_t> first, uint8_t ip_proto, Direction dir);

}  // namespace sluice
