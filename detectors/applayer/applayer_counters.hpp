// Counters of the HTTP, DNS and TLS field extractors (habit 5): one enum per
// protocol, each value a label of the Prometheus metric
// sluice_applayer_<proto>_total{event="..."}. Messages parsed are counted next to
// the reasons a message or a flow was given up (malformed input is counted by
// reason, never logged).
// Thread rules: each worker owns one AppLayerCounters (inside its
// AppLayerContext); the management thread sums them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dataplane/counters.hpp"

namespace sluice {

#define SLUICE_HTTP_COUNTERS(X)                                                              \
    X(requests, "requests")                     /* request headers complete */              \
    X(responses, "responses")                   /* final response headers complete */       \
    X(interim_responses, "interim_responses")   /* 1xx other than 101 */                    \
    X(flows_failed, "flows_failed")             /* the parser gave up on a flow */          \
    X(request_line_invalid, "request_line_invalid")                                          \
    X(response_line_invalid, "response_line_invalid")                                        \
    X(header_line_too_long, "header_line_too_long")                                          \
    X(header_block_too_long, "header_block_too_long")                                        \
    X(too_many_headers, "too_many_headers")                                                  \
    X(header_invalid, "header_invalid")         /* line without ':' or bad name; skipped */ \
    X(content_length_invalid, "content_length_invalid")                                      \
    X(content_length_conflict, "content_length_conflict")                                    \
    X(chunked_and_content_length, "chunked_and_content_length") /* chunked wins */          \
    X(chunk_size_invalid, "chunk_size_invalid")                                              \
    X(chunk_framing_invalid, "chunk_framing_invalid")                                        \
    X(gap_in_headers, "gap_in_headers")                                                      \
    X(gap_in_body, "gap_in_body")                                                            \
    X(gap_lost_framing, "gap_lost_framing")                                                  \
    X(body_incomplete_at_end, "body_incomplete_at_end")                                      \
    X(headers_incomplete_at_end, "headers_incomplete_at_end") /* emitted as far as they went */ \
    X(http09_responses, "http09_responses")    /* body without status line after HTTP/0.9 */ \
    X(request_body_limited, "request_body_limited")                                          \
    X(response_body_limited, "response_body_limited")                                        \
    X(decompress_error, "decompress_error")                                                  \
    X(response_without_request, "response_without_request")                                  \
    X(pending_requests_overflow, "pending_requests_overflow")                                \
    X(tunnel, "tunnel")                         /* CONNECT or 101: parsing stops */

#define SLUICE_DNS_COUNTERS(X)                                           \
    X(queries, "queries")                                                 \
    X(responses, "responses")                                             \
    X(flows_failed, "flows_failed")                                       \
    X(message_truncated, "message_truncated")  /* ends inside a field */ \
    X(label_invalid, "label_invalid")          /* reserved label type */ \
    X(name_too_long, "name_too_long")                                     \
    X(pointer_loop, "pointer_loop")            /* too many jumps */      \
    X(pointer_out_of_bounds, "pointer_out_of_bounds")                     \
    X(too_many_questions, "too_many_questions")                           \
    X(records_not_decoded, "records_not_decoded")  /* over dns.max_records */ \
    X(rdata_invalid, "rdata_invalid")                                     \
    X(tcp_length_invalid, "tcp_length_invalid")                           \
    X(tcp_gap, "tcp_gap")

#define SLUICE_TLS_COUNTERS(X)                                                                     \
    X(client_hellos, "client_hellos")                                                               \
    X(server_hellos, "server_hellos")                                                               \
    X(certificates, "certificates")                                                                 \
    X(flows_failed, "flows_failed")                                                                 \
    X(record_invalid, "record_invalid")              /* bad content type, version or length */     \
    X(sslv2_unsupported, "sslv2_unsupported")                                                       \
    X(handshake_too_long, "handshake_too_long")      /* over tls.max_handshake_bytes; skipped */   \
    X(client_hello_invalid, "client_hello_invalid")                                                 \
    X(server_hello_invalid, "server_hello_invalid")                                                 \
    X(certificate_invalid, "certificate_invalid")    /* framing or X.509 parse failure */          \
    X(field_truncated, "field_truncated")            /* SNI or JA3 string over its cap */          \
    X(gap, "gap")

enum class HttpCounter : uint8_t {
#define SLUICE_X(id, name) id,
    SLUICE_HTTP_COUNTERS(SLUICE_X)
#undef SLUICE_X
        count
};
enum class DnsCounter : uint8_t {
#define SLUICE_X(id, name) id,
    SLUICE_DNS_COUNTERS(SLUICE_X)
#undef SLUICE_X
        count
};
enum class TlsCounter : uint8_t {
#define SLUICE_X(id, name) id,
    SLUICE_TLS_COUNTERS(SLUICE_X)
#undef SLUICE_X
        count
};

constexpr std::string_view counter_name(HttpCounter c) {
    constexpr std::array<std::string_view, static_cast<size_t>(HttpCounter::count)> names = {
#define SLUICE_X(id, name) name,
        SLUICE_HTTP_COUNTERS(SLUICE_X)
#undef SLUICE_X
    };
    return names[static_cast<size_t>(c)];
}
constexpr std::string_view counter_name(DnsCounter c) {
    constexpr std::array<std::string_view, static_cast<size_t>(DnsCounter::count)> names = {
#define SLUICE_X(id, name) name,
        SLUICE_DNS_COUNTERS(SLUICE_X)
#undef SLUICE_X
    };
    return names[static_cast<size_t>(c)];
}
constexpr std::string_view counter_name(TlsCounter c) {
    constexpr std::array<std::string_view, static_cast<size_t>(TlsCounter::count)> names = {
#define SLUICE_X(id, name) name,
        SLUICE_TLS_COUNTERS(SLUICE_X)
#undef SLUICE_X
    };
    return names[static_cast<size_t>(c)];
}

struct AppLayerCounters {
    CounterSet<HttpCounter> http;
    CounterSet<DnsCounter> dns;
    CounterSet<TlsCounter> tls;
};

}  // namespace sluice
