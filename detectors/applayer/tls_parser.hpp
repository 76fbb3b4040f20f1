// TlsParser: the cleartext start of a TLS (SSLv3 - TLS 1.3) connection, fed
// the reassembled streams of both directions (StreamConsumer). It reassembles
// records and handshake messages across records and chunks (bounded by
// tls.max_handshake_bytes) and extracts:
//  - to_server, from the ClientHello: SNI (tls.sni), JA3 string and MD5
//    (ja3.string, ja3.hash; GREASE values left out);
//  - to_client: the negotiated version (tls.version, "TLS 1.2"), JA3S, and for
//    TLS 1.2 and below the first certificate's subject and issuer
//    (tls.cert_subject, tls.cert_issuer; OpenSSL, "C=US, O=..., CN=..." in
//    certificate order as Suricata writes them), serial, SHA-1 fingerprint and
//    validity.
// It emits one AppTransaction per direction (AppTxStage::whole, tx_id 0):
// to_server when the ClientHello is parsed; to_client when the certificate is
// parsed, or at ServerHelloDone / ChangeCipherSpec / application data / a TLS
// 1.3 ServerHello / the end of the flow when no certificate is visible. Then
// the parser is done with that direction and ignores its bytes.
// Input that is not TLS (bad record type, version or length), SSLv2, or a gap
// in the handshake is counted by reason (TlsCounter): failed or done.
// Ownership and memory: one per flow; sizeof about 500 bytes, plus per
// direction a handshake buffer grown up to tls.max_handshake_bytes (freed when
// that direction is done) and the extracted strings (SNI <= 255 bytes, JA3
// strings <= 8 KiB, names <= 2 KiB each).
// Thread rules: used only by the worker that owns the flow.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/stream.hpp"
#include "detectors/applayer/applayer.hpp"

namespace sluice {

class JsonWriter;

inline constexpr size_t kTlsMaxSni = 255;
inline constexpr size_t kTlsMaxJa3String = 8192;
inline constexpr size_t kTlsMaxName = 2048;
inline constexpr size_t kTlsMaxRecordPayload = 16384 + 2048;

// "SSLv3", "TLS 1.0" ... "TLS 1.3"; "UNDETERMINED" for anything else.
std::string_view tls_version_name(uint16_t version);

// The JA3 string of a ClientHello body (after the 4-byte handshake header);
// empty and false when the message is malformed.
bool tls_ja3_of_client_hello(std::span<const uint8_t> body, std::string* ja3, std::string* sni);

// Lower-case hex MD5 of `text` (32 characters).
std::string tls_md5_hex(std::string_view text);

// Writes `"tls": {...}` for a TlsParser (AppTransaction::write_eve).
void write_tls_eve(JsonWriter& w, const void* tls_parser);

class TlsParser final : public StreamConsumer {
public:
    TlsParser(AppLayerContext& ctx, AppTransactionSink& sink);
    TlsParser(const TlsParser&) = delete;
    TlsParser& operator=(const TlsParser&) = delete;

    void on_data(Direction dir, uint64_t offset, std::span<const uint8_t> data) override;
    void on_gap(Direction dir, uint64_t offset, uint64_t len) override;
    void on_end() override;

    ParserState state() const { return state_; }
    size_t memory_bytes() const;

    // What has been extracted so far (empty when not seen).
    std::string_view sni() const { return sni_; }
    std::string_view ja3_string() const { return ja3_; }
    std::string_view ja3_hash() const { return ja3_hash_; }
    std::string_view ja3s_string() const { return ja3s_; }
    std::string_view ja3s_hash() const { return ja3s_hash_; }
    uint16_t version() const { return version_; }  // negotiated (ServerHello), 0 before
    std::string_view subject() const { return subject_; }
    std::string_view issuer() const { return issuer_; }
    std::string_view serial() const { return serial_; }
    std::string_view fingerprint() const { return fingerprint_; }
    std::string_view not_before() const { return not_before_; }
    std::string_view not_after() const { return not_after_; }
    bool client_hello_seen() const { return client_hello_seen_; }
    bool server_hello_seen() const { return server_hello_seen_; }

private:
    struct Half {
        std::array<uint8_t, 5> hdr{};
        uint8_t hdr_have = 0;
        uint8_t rec_type = 0;
        uint32_t rec_remaining = 0;
        bool first_record = true;
        bool ccs_seen = false;         // later handshake bytes are encrypted
        bool done = false;             // nothing more to extract in this direction
        uint32_t hs_skip = 0;          // bytes of an over-long handshake message to skip
        std::vector<uint8_t> hs;       // the handshake message being assembled
    };

    void fail(TlsCounter reason);
    void feed_handshake(Direction dir, std::span<const uint8_t> data);
    void handle_handshake(Direction dir, uint8_t type, std::span<const uint8_t> body, bool complete);
    void parse_server_hello(std::span<const uint8_t> body);
    void parse_certificate(std::span<const uint8_t> body);
    void emit_client();
    void emit_server();
    void finish(Direction dir);

    AppLayerContext& ctx_;
    AppTransactionSink& sink_;
    std::array<Half, 2> half_;
    std::string sni_, ja3_, ja3_hash_, ja3s_, ja3s_hash_;
    std::string subject_, issuer_, serial_, fingerprint_, not_before_, not_after_;
    uint16_t version_ = 0;
    bool client_hello_seen_ = false;
    bool server_hello_seen_ = false;
    bool server_emitted_ = false;
    ParserState state_ = ParserState::active;
};

}  // namespace sluice
