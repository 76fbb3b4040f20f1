// TlsParser: JA3/JA3S, SNI, ClientHello across records and chunks, server
// flight with a certificate made here with OpenSSL, TLS 1.3, hostile input.
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

#include "detectors/applayer/tls_parser.hpp"
#include "tests/detectors/applayer/applayer_test_support.hpp"

namespace sluice {
namespace {

using test::RecordingSink;
using Bytes = std::vector<uint8_t>;
constexpr auto S = Direction::to_server;
constexpr auto C = Direction::to_client;

Bytes from_hex(std::string_view hex) {
    Bytes out;
    for (size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<uint8_t>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
    return out;
}

// A ClientHello handshake message (GREASE cipher, extension and group; SNI
// sni.example.com). tshark 4.0 on a capture of it (scapy) reports
//   ja3_full "771,49195-49199-156-4865,0-10-11-35-43,29-23,0"
//   ja3      f7434a2f2a2201cd0075ee872a8b986c
const Bytes kClientHello = from_hex(
    "0100008e03031111111111111111111111111111111111111111111111111111111111111111202222222222222222222222222222"
    "222222222222222222222222222222222222000a0a0ac02bc02f009c13010100003b1a1a000000000014001200000f736e692e6578"
    "616d706c652e636f6d000a000800062a2a001d0017000b0002010000230000002b00050403040303");
constexpr const char* kJa3 = "771,49195-49199-156-4865,0-10-11-35-43,29-23,0";
constexpr const char* kJa3Hash = "f7434a2f2a2201cd0075ee872a8b986c";

void put16(Bytes& b, size_t v) {
    b.push_back(static_cast<uint8_t>(v >> 8));
    b.push_back(static_cast<uint8_t>(v));
}
void put24(Bytes& b, size_t v) {
    b.push_back(static_cast<uint8_t>(v >> 16));
    put16(b, v & 0xffff);
}

Bytes handshake(uint8_t type, const Bytes& body) {
    Bytes m{type};
    put24(m, body.size());
    m.insert(m.end(), body.begin(), body.end());
    return m;
}

// Wraps handshake bytes into records of at most `fragment` bytes.
Bytes records(const Bytes& payload, size_t fragment = 16384, uint8_t type = 22, uint16_t version = 0x0303) {
    Bytes out;
    for (size_t i = 0; i < payload.size(); i += fragment) {
        const size_t n = std::min(fragment, payload.size() - i);
        out.push_back(type);
        put16(out, version);
        put16(out, n);
        out.insert(out.end(), payload.begin() + static_cast<long>(i), payload.begin() + static_cast<long>(i + n));
    }
    return out;
}

Bytes server_hello(uint16_t cipher, const Bytes& extensions) {
    Bytes b;
    put16(b, 0x0303);
    b.insert(b.end(), 32, 0x33);
    b.push_back(32);
    b.insert(b.end(), 32, 0x44);
    put16(b, cipher);
    b.push_back(0);
    put16(b, extensions.size());
    b.insert(b.end(), extensions.begin(), extensions.end());
    return handshake(2, b);
}

// renegotiation_info, ec_point_formats, extended_master_secret -> JA3S
// "771,49199,65281-11-23", MD5 76c691f46143bf86e2d1bb73c6187767 (Python hashlib).
const Bytes kTls12Extensions = from_hex("ff01000100" "000b00020100" "00170000");

struct X509Free {
    void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

// A certificate made with OpenSSL for the test.
Bytes make_certificate() {
    std::unique_ptr<EVP_PKEY, PkeyFree> key(EVP_EC_gen("P-256"));
    std::unique_ptr<X509, X509Free> x(X509_new());
    X509_set_version(x.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x.get()), 0x0102ab);
    ASN1_TIME_set_string(X509_getm_notBefore(x.get()), "20240102030405Z");
    ASN1_TIME_set_string(X509_getm_notAfter(x.get()), "20340102030405Z");
    X509_NAME* subject = X509_get_subject_name(x.get());
    X509_NAME_add_entry_by_txt(subject, "C", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("DE"), -1, -1, 0);
    X509_NAME_add_entry_by_txt(subject, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("Sluice Test, Inc."), -1, -1, 0);
    X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("test.example"), -1, -1, 0);
    X509_NAME* issuer = X509_get_issuer_name(x.get());
    X509_NAME_add_entry_by_txt(issuer, "C", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("DE"), -1, -1, 0);
    X509_NAME_add_entry_by_txt(issuer, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("Sluice Root"), -1, -1, 0);
    X509_set_pubkey(x.get(), key.get());
    EXPECT_GT(X509_sign(x.get(), key.get(), EVP_sha256()), 0);
    unsigned char* der = nullptr;
    const int len = i2d_X509(x.get(), &der);
    Bytes out(der, der + len);
    OPENSSL_free(der);
    return out;
}

Bytes certificate_message(const std::vector<Bytes>& certs) {
    Bytes list;
    for (const auto& c : certs) {
        put24(list, c.size());
        list.insert(list.end(), c.begin(), c.end());
    }
    Bytes body;
    put24(body, list.size());
    body.insert(body.end(), list.begin(), list.end());
    return handshake(11, body);
}

Bytes concat(std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

struct TlsRun {
    explicit TlsRun(AppLayerConfig c = {}) : cfg(c), ctx(cfg), parser(ctx, sink) {}
    void feed(Direction d, const Bytes& b, size_t chunk = 0) {
        if (!chunk) chunk = b.empty() ? 1 : b.size();
        for (size_t i = 0; i < b.size(); i += chunk) {
            const size_t n = std::min(chunk, b.size() - i);
            parser.on_data(d, off[index(d)], std::span(b).subspan(i, n));
            off[index(d)] += n;
        }
    }
    uint64_t count(TlsCounter c) const { return ctx.counters.tls.get(c); }
    AppLayerConfig cfg;
    AppLayerContext ctx;
    RecordingSink sink;
    TlsParser parser;
    uint64_t off[2] = {0, 0};
};

TEST(TlsParser, Ja3AndSniOfAClientHelloMatchTshark) {
    TlsRun r;
    r.feed(S, records(kClientHello, 16384, 22, 0x0301));
    ASSERT_EQ(r.sink.txs.size(), 1u);
    const auto& tx = r.sink.txs[0];
    EXPECT_EQ(tx.proto, AppProto::tls);
    EXPECT_EQ(tx.dir, S);
    EXPECT_EQ(tx.stage, AppTxStage::whole);
    EXPECT_EQ(tx.get(AppBuffer::tls_sni), "sni.example.com");
    EXPECT_EQ(tx.get(AppBuffer::ja3_string), kJa3);
    EXPECT_EQ(tx.get(AppBuffer::ja3_hash), kJa3Hash);
    const auto eve = nlohmann::json::parse(tx.eve)["tls"];
    EXPECT_EQ(eve["sni"], "sni.example.com");
    EXPECT_EQ(eve["ja3"]["hash"], kJa3Hash);
    EXPECT_EQ(eve["ja3"]["string"], kJa3);
    EXPECT_EQ(r.count(TlsCounter::client_hellos), 1u);
}

TEST(TlsParser, ClientHelloAcrossRecordsAndChunksAtEveryBoundary) {
    // Fragments of 7 bytes put even the 4-byte handshake header across records.
    const Bytes stream = records(kClientHello, 7);
    TlsRun whole;
    whole.feed(S, stream);
    ASSERT_EQ(whole.sink.txs.size(), 1u);
    EXPECT_EQ(whole.sink.txs[0].get(AppBuffer::ja3_hash), kJa3Hash);
    for (size_t k = 0; k <= stream.size(); ++k) {
        TlsRun r;
        r.parser.on_data(S, 0, std::span(stream).first(k));
        r.parser.on_data(S, k, std::span(stream).subspan(k));
        ASSERT_EQ(r.sink.txs, whole.sink.txs) << "split at " << k;
    }
    TlsRun bytewise;
    bytewise.feed(S, stream, 1);
    EXPECT_EQ(bytewise.sink.txs, whole.sink.txs);
}

TEST(TlsParser, ServerFlightWithCertificate) {
    const Bytes cert = make_certificate();
    const Bytes flight = records(concat({server_hello(0xc02f, kTls12Extensions), certificate_message({cert, cert}),
                                         handshake(14, {})}));
    for (size_t chunk : {size_t{0}, size_t{1}, size_t{100}}) {
        TlsRun r;
        r.feed(S, records(kClientHello));
        r.feed(C, flight, chunk);
        ASSERT_EQ(r.sink.txs.size(), 2u) << chunk;
        const auto& tx = r.sink.txs[1];
        EXPECT_EQ(tx.dir, C);
        EXPECT_EQ(tx.tx_id, 0u);
        EXPECT_EQ(tx.get(AppBuffer::tls_version), "TLS 1.2");
        EXPECT_EQ(tx.get(AppBuffer::tls_cert_subject), "C=DE, O=Sluice Test, Inc., CN=test.example");
        EXPECT_EQ(tx.get(AppBuffer::tls_cert_issuer), "C=DE, CN=Sluice Root");
        const auto eve = nlohmann::json::parse(tx.eve)["tls"];
        EXPECT_EQ(eve["subject"], "C=DE, O=Sluice Test, Inc., CN=test.example");
        EXPECT_EQ(eve["issuerdn"], "C=DE, CN=Sluice Root");
        EXPECT_EQ(eve["serial"], "01:02:AB");
        EXPECT_EQ(eve["notbefore"], "2024-01-02T03:04:05");
        EXPECT_EQ(eve["notafter"], "2034-01-02T03:04:05");
        EXPECT_EQ(eve["version"], "TLS 1.2");
        EXPECT_EQ(eve["sni"], "sni.example.com");
        EXPECT_EQ(eve["ja3s"]["string"], "771,49199,65281-11-23");
        EXPECT_EQ(eve["ja3s"]["hash"], "76c691f46143bf86e2d1bb73c6187767");
        // SHA-1 of the DER, computed another way.
        const unsigned char* p = cert.data();
        std::unique_ptr<X509, X509Free> x(d2i_X509(nullptr, &p, static_cast<long>(cert.size())));
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int n = 0;
        ASSERT_EQ(X509_digest(x.get(), EVP_sha1(), md, &n), 1);
        char hex[4];
        std::string fp;
        for (unsigned i = 0; i < n; ++i) {
            std::snprintf(hex, sizeof hex, i ? ":%02x" : "%02x", md[i]);
            fp += hex;
        }
        EXPECT_EQ(eve["fingerprint"], fp);
        EXPECT_EQ(r.parser.state(), ParserState::done);
        EXPECT_EQ(r.parser.memory_bytes() < 4096, true);  // handshake buffers given back
    }
}

TEST(TlsParser, CertificateLargerThanTheBufferStillGivesTheFirstCertificate) {
    AppLayerConfig cfg;
    cfg.tls_max_handshake_bytes = 4096;
    TlsRun r(cfg);
    const Bytes cert = make_certificate();
    const Bytes big(9000, 0x55);  // a second "certificate" that does not fit
    r.feed(S, records(kClientHello));
    r.feed(C, records(concat({server_hello(0xc02f, kTls12Extensions), certificate_message({cert, big}),
                              handshake(14, {})})));
    EXPECT_EQ(r.count(TlsCounter::handshake_too_long), 1u);
    EXPECT_EQ(r.parser.subject(), "C=DE, O=Sluice Test, Inc., CN=test.example");
}

TEST(TlsParser, Tls13ServerHelloEndsTheCleartext) {
    // supported_versions selecting TLS 1.3, key_share (empty body here)
    const Bytes ext = from_hex("002b00020304" "00330000");
    TlsRun r;
    r.feed(S, records(kClientHello));
    r.feed(C, concat({records(server_hello(0x1301, ext)), records(Bytes{1}, 16384, 20),
                      records(Bytes(40, 0x99), 16384, 23)}));
    ASSERT_EQ(r.sink.txs.size(), 2u);
    EXPECT_EQ(r.sink.txs[1].get(AppBuffer::tls_version), "TLS 1.3");
    EXPECT_FALSE(r.sink.txs[1].has(AppBuffer::tls_cert_subject));
    EXPECT_EQ(nlohmann::json::parse(r.sink.txs[1].eve)["tls"]["ja3s"]["string"], "771,4865,43-51");
    EXPECT_EQ(nlohmann::json::parse(r.sink.txs[1].eve)["tls"]["ja3s"]["hash"], "f4febc55ea12b31ae17cfb7e614afda8");
    EXPECT_EQ(r.parser.state(), ParserState::done);
}

TEST(TlsParser, ResumedSessionEmitsAtChangeCipherSpec) {
    TlsRun r;
    r.feed(S, records(kClientHello));
    r.feed(C, concat({records(server_hello(0xc02f, kTls12Extensions)), records(Bytes{1}, 16384, 20)}));
    ASSERT_EQ(r.sink.txs.size(), 2u);
    EXPECT_EQ(r.sink.txs[1].get(AppBuffer::tls_version), "TLS 1.2");
}

TEST(TlsParser, NotTlsFailsTheFlow) {
    {
        TlsRun r;
        const std::string http = "GET / HTTP/1.1\r\n\r\n";
        r.feed(S, Bytes(http.begin(), http.end()));
        EXPECT_EQ(r.count(TlsCounter::record_invalid), 1u);
        EXPECT_EQ(r.parser.state(), ParserState::failed);
        EXPECT_EQ(r.count(TlsCounter::flows_failed), 1u);
    }
    {  // a record longer than TLS allows
        TlsRun r;
        r.feed(S, from_hex("1603034801"));
        EXPECT_EQ(r.count(TlsCounter::record_invalid), 1u);
    }
    {  // application data as the first record
        TlsRun r;
        r.feed(S, from_hex("170303000500000000"));
        EXPECT_EQ(r.count(TlsCounter::record_invalid), 1u);
    }
    {  // SSLv2-framed ClientHello
        TlsRun r;
        r.feed(S, from_hex("802e0100020015000000100700c0"));
        EXPECT_EQ(r.count(TlsCounter::sslv2_unsupported), 1u);
        EXPECT_EQ(r.parser.state(), ParserState::done);
    }
}

TEST(TlsParser, MalformedHelloBodiesAreCounted) {
    Bytes lying = kClientHello;
    lying[4 + 2 + 32 + 1 + 32] = 0xff;  // cipher_suites length far past the end
    Bytes odd = kClientHello;
    odd[4 + 2 + 32 + 1 + 32 + 1] = 0x09;  // odd cipher_suites length
    for (const Bytes& hello : {lying, odd}) {
        TlsRun r;
        r.feed(S, records(hello));
        EXPECT_EQ(r.count(TlsCounter::client_hello_invalid), 1u);
        EXPECT_TRUE(r.sink.txs.empty());
    }
    // Every truncation of the body, with the message length fixed to match: no overread.
    for (size_t k = 0; k + 4 < kClientHello.size(); ++k) {
        Bytes body(kClientHello.begin() + 4, kClientHello.begin() + 4 + static_cast<long>(k));
        std::string ja3, sni;
        // Only the cuts right after the compression methods (no extensions, or a
        // lone stray byte) still read as a ClientHello.
        const bool ok = tls_ja3_of_client_hello(body, &ja3, &sni);
        EXPECT_EQ(ok, k == 81 || k == 82) << k;
    }
    {  // garbage certificate: counted, the server side is still reported
        TlsRun r;
        r.feed(S, records(kClientHello));
        r.feed(C, records(concat({server_hello(0xc02f, kTls12Extensions), certificate_message({Bytes(300, 0x30)}),
                                  handshake(14, {})})));
        EXPECT_EQ(r.count(TlsCounter::certificate_invalid), 1u);
        ASSERT_EQ(r.sink.txs.size(), 2u);
        EXPECT_FALSE(r.sink.txs[1].has(AppBuffer::tls_cert_subject));
    }
}

TEST(TlsParser, OversizedClientHelloIsSkipped) {
    AppLayerConfig cfg;
    cfg.tls_max_handshake_bytes = 4096;
    TlsRun r(cfg);
    Bytes big = kClientHello;
    Bytes pad(6000, 0);  // an extension of 6000 bytes makes the hello too big to buffer
    Bytes body(big.begin() + 4, big.end());
    Bytes ext;
    put16(ext, 0x0015);
    put16(ext, pad.size());
    ext.insert(ext.end(), pad.begin(), pad.end());
    const size_t ext_len_at = 2 + 32 + 1 + 32 + 2 + 10 + 2;
    const size_t old_len = (size_t{body[ext_len_at]} << 8) | body[ext_len_at + 1];
    body[ext_len_at] = static_cast<uint8_t>((old_len + ext.size()) >> 8);
    body[ext_len_at + 1] = static_cast<uint8_t>(old_len + ext.size());
    body.insert(body.end(), ext.begin(), ext.end());
    r.feed(S, records(handshake(1, body)));
    EXPECT_EQ(r.count(TlsCounter::handshake_too_long), 1u);
    EXPECT_EQ(r.count(TlsCounter::client_hello_invalid), 1u);
    EXPECT_TRUE(r.sink.txs.empty());
    EXPECT_LE(r.parser.memory_bytes(), 4096u + 64);
    // With the default buffer it parses, and carries the padding extension in JA3.
    TlsRun ok;
    ok.feed(S, records(handshake(1, body)));
    ASSERT_EQ(ok.sink.txs.size(), 1u);
    EXPECT_EQ(ok.sink.txs[0].get(AppBuffer::ja3_string), "771,49195-49199-156-4865,0-10-11-35-43-21,29-23,0");
}

TEST(TlsParser, GapsInTheHandshakeFailAfterwardsTheyDoNotMatter) {
    TlsRun r;
    const Bytes hello = records(kClientHello);
    r.feed(S, Bytes(hello.begin(), hello.begin() + 20));
    r.parser.on_gap(S, 20, 10);
    EXPECT_EQ(r.count(TlsCounter::gap), 1u);
    EXPECT_EQ(r.parser.state(), ParserState::failed);
    TlsRun done;
    done.feed(S, records(kClientHello));
    done.parser.on_gap(S, 1000, 10);  // the client side is done after its hello
    EXPECT_EQ(done.count(TlsCounter::gap), 0u);
    EXPECT_EQ(done.parser.state(), ParserState::active);
}

TEST(TlsParser, EndWithoutCertificateStillReportsTheServerHello) {
    TlsRun r;
    r.feed(S, records(kClientHello));
    r.feed(C, records(server_hello(0xc02f, kTls12Extensions)));
    EXPECT_EQ(r.sink.txs.size(), 1u);
    r.parser.on_end();
    ASSERT_EQ(r.sink.txs.size(), 2u);
    EXPECT_EQ(r.sink.txs[1].get(AppBuffer::tls_version), "TLS 1.2");
}

TEST(TlsParser, VersionNames) {
    EXPECT_EQ(tls_version_name(0x0300), "SSLv3");
    EXPECT_EQ(tls_version_name(0x0301), "TLS 1.0");
    EXPECT_EQ(tls_version_name(0x0304), "TLS 1.3");
    EXPECT_EQ(tls_version_name(0x7f1c), "UNDETERMINED");
    EXPECT_EQ(tls_md5_hex(""), "d41d8cd98f00b204e9800998ecf8427e");
}

}  // namespace
}  // namespace sluice
