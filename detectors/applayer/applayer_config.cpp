#include "detectors/applayer/applayer_config.hpp"

#include <array>
#include <string>

namespace sluice {

namespace {

struct KeyBinding {
    AppLayerConfigKey key;
    uint32_t AppLayerConfig::*u32 = nullptr;
    bool AppLayerConfig::*flag = nullptr;
};

constexpr AppLayerConfig kDefaults{};

constexpr KeyBinding u32_key(std::string_view name, uint32_t AppLayerConfig::*m, uint64_t min, uint64_t max,
                             std::string_view help) {
    return KeyBinding{{name, ConfigValueType::unsigned_int, kDefaults.*m, min, max, help}, m, nullptr};
}
constexpr KeyBinding bool_key(std::string_view name, bool AppLayerConfig::*m, std::string_view help) {
    return KeyBinding{{name, ConfigValueType::boolean, kDefaults.*m ? 1u : 0u, 0, 1, help}, nullptr, m};
}

constexpr std::array kBindings = {
    u32_key("http.request_body_limit", &AppLayerConfig::http_request_body_limit, 0, 16u << 20,
            "bytes of each HTTP request body kept for http.request_body and file.data"),
    u32_key("http.response_body_limit", &AppLayerConfig::http_response_body_limit, 0, 16u << 20,
            "bytes of each HTTP response body (after dechunking and decompression) kept for "
            "http.response_body and file.data"),
    u32_key("http.max_header_line", &AppLayerConfig::http_max_header_line, 256, 1u << 20,
            "longest HTTP start line or header line; a longer one fails the flow"),
    u32_key("http.max_header_bytes", &AppLayerConfig::http_max_header_bytes, 1024, 1u << 20,
            "largest HTTP header block (start line, headers, blank line); a larger one fails the flow"),
    u32_key("http.max_headers", &AppLayerConfig::http_max_headers, 8, 4096,
            "most header lines in one HTTP message; more fail the flow"),
    u32_key("http.max_pending_requests", &AppLayerConfig::http_max_pending_requests, 1, 1024,
            "pipelined HTTP requests remembered until their response (request fields of the response's "
            "transaction and EVE record)"),
    bool_key("http.decompress", &AppLayerConfig::http_decompress,
             "decompress gzip and deflate bodies (Content-Encoding) before inspection; output is bounded "
             "by the body limits"),
    u32_key("dns.max_tcp_message", &AppLayerConfig::dns_max_tcp_message, 512, 65535,
            "largest DNS message over TCP; a larger length prefix fails the flow"),
    u32_key("dns.max_records", &AppLayerConfig::dns_max_records, 1, 64,
            "answer and authority records decoded per DNS message for EVE (the rest are counted only)"),
    u32_key("tls.max_handshake_bytes", &AppLayerConfig::tls_max_handshake_bytes, 4096, 1u << 20,
            "bytes of one TLS handshake message buffered for parsing (ClientHello, ServerHello, "
            "first certificate)"),
};

constexpr std::array<AppLayerConfigKey, kBindings.size()> make_keys() {
    std::array<AppLayerConfigKey, kBindings.size()> out{};
    for (size_t i = 0; i < kBindings.size(); ++i) out[i] = kBindings[i].key;
    return out;
}
constexpr auto kKeys = make_keys();

const KeyBinding* find_binding(std::string_view name) {
    for (const auto& b : kBindings)
        if (b.key.name == name) return &b;
    return nullptr;
}

}  // namespace

std::span<const AppLayerConfigKey> applayer_config_keys() { return kKeys; }

Status set_applayer_config_value(AppLayerConfig& config, std::string_view key, uint64_t value) {
    const KeyBinding* b = find_binding(key);
    if (!b) return make_error("applayer: unknown key '" + std::string(key) + "'");
    if (value < b->key.min || value > b->key.max)
        return make_error("applayer: " + std::string(key) + " = " + std::to_string(value) + " is outside [" +
                          std::to_string(b->key.min) + ", " + std::to_string(b->key.max) + "]");
    if (b->u32) config.*(b->u32) = static_cast<uint32_t>(value);
    else config.*(b->flag) = value != 0;
    return {};
}

bool get_applayer_config_value(const AppLayerConfig& config, std::string_view key, uint64_t* value) {
    const KeyBinding* b = find_binding(key);
    if (!b) return false;
    *value = b->u32 ? uint64_t{config.*(b->u32)} : uint64_t{config.*(b->flag) ? 1u : 0u};
    return true;
}

}  // namespace sluice
