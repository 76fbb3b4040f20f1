// AppLayerConfig: the limits of the HTTP, DNS and TLS field extractors
// (detectors/applayer/), with its schema as data (habit 6): one table gives each
// key's type, default, range and help text; app/ maps the YAML section
// `applayer:` onto it with set_applayer_config_value() and fails start-up (or a
// reload) on the Status it returns.
// Ownership: built on the management thread, then immutable; workers read it
// through their AppLayerContext (applayer.hpp).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "dataplane/result.hpp"

namespace sluice {

struct AppLayerConfig {
    // HTTP/1.x (defaults follow Suricata's libhtp section where it has one).
    uint32_t http_request_body_limit = 100 * 1024;   // bytes of request body inspected (http.request_body)
    uint32_t http_response_body_limit = 100 * 1024;  // bytes of (decompressed) response body inspected
    uint32_t http_max_header_line = 8 * 1024;        // longest start line or header line
    uint32_t http_max_header_bytes = 32 * 1024;      // start line + headers + blank line of one message
    uint32_t http_max_headers = 128;                 // header lines of one message
    uint32_t http_max_pending_requests = 16;         // pipelined requests remembered for their responses
    bool http_decompress = true;                     // gunzip/inflate bodies for http.response_body/file.data
    // DNS over UDP and TCP.
    uint32_t dns_max_tcp_message = 65535;            // a larger length prefix fails the flow
    uint32_t dns_max_records = 32;                   // answer/authority records decoded per message (EVE)
    // TLS.
    uint32_t tls_max_handshake_bytes = 32 * 1024;    // buffered bytes of one handshake message
};

enum class ConfigValueType : uint8_t { unsigned_int, boolean };

struct AppLayerConfigKey {
    std::string_view name;     // key under `applayer:`, e.g. "http.request_body_limit"
    ConfigValueType type;
    uint64_t default_value;    // booleans: 0 or 1
    uint64_t min;
    uint64_t max;
    std::string_view help;
};

// Every key, in documentation order.
std::span<const AppLayerConfigKey> applayer_config_keys();

// Sets one key; an unknown key or a value outside its range is an error.
Status set_applayer_config_value(AppLayerConfig& config, std::string_view key, uint64_t value);

// Reads one key back (for --help, docs and tests); false when the key is unknown.
bool get_applayer_config_value(const AppLayerConfig& config, std::string_view key, uint64_t* value);

}  // namespace sluice
