// AppTransaction: the fields an application-layer parser (HTTP, DNS, TLS, SMB
// files) extracts from one request or response, handed to the signature engine
// as the sticky buffers of Suricata's rule language (http.uri, dns.query, ...).
// All buffers of one transaction are inspected together, so a rule with
// http.method and http.uri matches only when both belong to the same request.
// Thread rules: built and consumed on the worker that owns the flow; the spans
// borrow the parser's memory and are valid only during the call that passes them.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "dataplane/stream.hpp"
#include "detectors/app_proto.hpp"

namespace sluice {

class JsonWriter;

#define SLUICE_APP_BUFFERS(X)                       \
    X(http_uri, "http.uri")                         \
    X(http_raw_uri, "http.uri.raw")                 \
    X(http_method, "http.method")                   \
    X(http_protocol, "http.protocol")               \
    X(http_request_line, "http.request_line")       \
    X(http_header, "http.header")                   \
    X(http_raw_header, "http.header.raw")           \
    X(http_header_names, "http.header_names")       \
    X(http_host, "http.host")                       \
    X(http_raw_host, "http.host.raw")               \
    X(http_user_agent, "http.user_agent")           \
    X(http_cookie, "http.cookie")                   \
    X(http_content_type, "http.content_type")       \
    X(http_content_len, "http.content_len")         \
    X(http_referer, "http.referer")                 \
    X(http_accept, "http.accept")                   \
    X(http_connection, "http.connection")           \
    X(http_request_body, "http.request_body")       \
    X(http_stat_code, "http.stat_code")             \
    X(http_stat_msg, "http.stat_msg")               \
    X(http_response_line, "http.response_line")     \
    X(http_server, "http.server")                   \
    X(http_location, "http.location")               \
    X(http_response_body, "http.response_body")     \
    X(dns_query, "dns.query")                       \
    X(tls_sni, "tls.sni")                           \
    X(tls_cert_subject, "tls.cert_subject")         \
    X(tls_cert_issuer, "tls.cert_issuer")           \
    X(tls_version, "tls.version")                   \
    X(ja3_string, "ja3.string")                     \
    X(ja3_hash, "ja3.hash")                         \
    X(file_data, "file.data")

enum class AppBuffer : uint8_t {
#define SLUICE_X(id, name) id,
    SLUICE_APP_BUFFERS(SLUICE_X)
#undef SLUICE_X
        count
};

inline constexpr size_t kAppBufferCount = static_cast<size_t>(AppBuffer::count);

inline constexpr std::array<std::string_view, kAppBufferCount> kAppBufferNames = {
#define SLUICE_X(id, name) name,
    SLUICE_APP_BUFFERS(SLUICE_X)
#undef SLUICE_X
};

constexpr std::string_view to_string(AppBuffer b) { return kAppBufferNames[static_cast<size_t>(b)]; }

constexpr std::optional<AppBuffer> app_buffer_from_name(std::string_view name) {
    for (size_t i = 0; i < kAppBufferNames.size(); ++i)
        if (kAppBufferNames[i] == name) return static_cast<AppBuffer>(i);
    return std::nullopt;
}

// When in a message's life a transaction is handed over: HTTP messages come
// twice, at `headers` (no body buffers yet) and at `body`; DNS and TLS once,
// `whole`. Rules without body buffers run at headers/whole, rules with body
// buffers at body/whole, so each rule runs once per message.
enum class AppTxStage : uint8_t { headers, body, whole };

constexpr std::string_view to_string(AppTxStage s) {
    return s == AppTxStage::headers ? "headers" : s == AppTxStage::body ? "body" : "whole";
}

// The side of an exchange a sticky buffer belongs to: 0 both, 1 request
// (to_server), 2 response (to_client). A response transaction may carry its
// request's fields for logging; rules only see a buffer in its own direction.
constexpr int buffer_side(AppBuffer b) {
    switch (b) {
        case AppBuffer::http_uri:
        case AppBuffer::http_raw_uri:
        case AppBuffer::http_method:
        case AppBuffer::http_request_line:
        case AppBuffer::http_host:
        case AppBuffer::http_raw_host:
        case AppBuffer::http_user_agent:
        case AppBuffer::http_cookie:
        case AppBuffer::http_referer:
        case AppBuffer::http_accept:
        case AppBuffer::http_request_body:
        case AppBuffer::dns_query:
        case AppBuffer::tls_sni:
        case AppBuffer::ja3_string:
        case AppBuffer::ja3_hash:
            return 1;
        case AppBuffer::http_stat_code:
        case AppBuffer::http_stat_msg:
        case AppBuffer::http_response_line:
        case AppBuffer::http_server:
        case AppBuffer::http_location:
        case AppBuffer::http_response_body:
        case AppBuffer::tls_cert_subject:
        case AppBuffer::tls_cert_issuer:
            return 2;
        default:
            return 0;
    }
}

constexpr bool is_body_buffer(AppBuffer b) {
    return b == AppBuffer::http_request_body || b == AppBuffer::http_response_body || b == AppBuffer::file_data;
}

// Whether a rule that does (or does not) read a body buffer runs at `stage`.
constexpr bool evaluate_rule_at(AppTxStage stage, bool rule_uses_body_buffer) {
    return stage == AppTxStage::whole || (stage == AppTxStage::body) == rule_uses_body_buffer;
}

struct AppTransaction {
    AppProto proto = AppProto::unknown;
    AppTxStage stage = AppTxStage::whole;
    Direction dir = Direction::to_server;
    uint64_t tx_id = 0;  // per flow, counts from 0
    std::array<std::span<const uint8_t>, kAppBufferCount> buffers{};
    std::array<bool, kAppBufferCount> present{};
    // Writes this transaction's EVE object (e.g. "http": {...}) into an event
    // under construction; may be null.
    void (*write_eve)(JsonWriter&, const void* ctx) = nullptr;
    const void* eve_ctx = nullptr;

    void set(AppBuffer b, std::span<const uint8_t> v) {
        buffers[static_cast<size_t>(b)] = v;
        present[static_cast<size_t>(b)] = true;
    }
    void set(AppBuffer b, std::string_view v) {
        set(b, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(v.data()), v.size()));
    }
    bool has(AppBuffer b) const { return present[static_cast<size_t>(b)]; }
    std::span<const uint8_t> get(AppBuffer b) const { return buffers[static_cast<size_t>(b)]; }
};

}  // namespace sluice
