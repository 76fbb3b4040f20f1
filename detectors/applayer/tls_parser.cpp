#include "detectors/applayer/tls_parser.hpp"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <memory>

#include "dataplane/byte_reader.hpp"
#include "dataplane/json_writer.hpp"

namespace sluice {

namespace {

using Bytes = std::span<const uint8_t>;

constexpr uint8_t kChangeCipherSpec = 20;
constexpr uint8_t kAlert = 21;
constexpr uint8_t kHandshake = 22;
constexpr uint8_t kApplicationData = 23;
constexpr uint8_t kHeartbeat = 24;

constexpr uint8_t kClientHello = 1;
constexpr uint8_t kServerHello = 2;
constexpr uint8_t kCertificate = 11;
constexpr uint8_t kServerHelloDone = 14;

bool is_grease(uint16_t v) { return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff); }

void append_u16(std::string& s, uint16_t v) {
    char tmp[8];
    const int n = std::snprintf(tmp, sizeof tmp, "%u", static_cast<unsigned>(v));
    s.append(tmp, static_cast<size_t>(n));
}

// Appends "a-b-c" of the 16-bit values in `list`, GREASE left out.
void append_u16_list(std::string& s, Bytes list) {
    bool first = true;
    for (size_t i = 0; i + 1 < list.size(); i += 2) {
        const uint16_t v = static_cast<uint16_t>((list[i] << 8) | list[i + 1]);
        if (is_grease(v)) continue;
        if (!first) s += '-';
        append_u16(s, v);
        first = false;
    }
}

struct BioDeleter {
    void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Deleter {
    void operator()(X509* x) const { X509_free(x); }
};

std::string name_text(const X509_NAME* name) {
    std::unique_ptr<BIO, BioDeleter> bio(BIO_new(BIO_s_mem()));
    if (!bio || !name) return {};
    const unsigned long flags = XN_FLAG_SEP_CPLUS_SPC | XN_FLAG_FN_SN | ASN1_STRFLGS_UTF8_CONVERT | ASN1_STRFLGS_ESC_CTRL;
    if (X509_NAME_print_ex(bio.get(), name, 0, flags) < 0) return {};
    char* data = nullptr;
    const long len = BIO_get_mem_data(bio.get(), &data);
    if (len <= 0 || !data) return {};
    return std::string(data, std::min<size_t>(static_cast<size_t>(len), kTlsMaxName));
}

std::string time_text(const ASN1_TIME* t) {
    std::tm tm{};
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return {};
    char buf[32];
    const size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    return std::string(buf, n);
}

std::string hex_colon(Bytes b, bool upper) {
    const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    std::string s;
    s.reserve(b.size() * 3);
    for (size_t i = 0; i < b.size(); ++i) {
        if (i) s += ':';
        s += digits[b[i] >> 4];
        s += digits[b[i] & 0xf];
    }
    return s;
}

}  // namespace

std::string_view tls_version_name(uint16_t v) {
    switch (v) {
        case 0x0300: return "SSLv3";
        case 0x0301: return "TLS 1.0";
        case 0x0302: return "TLS 1.1";
        case 0x0303: return "TLS 1.2";
        case 0x0304: return "TLS 1.3";
        default: return "UNDETERMINED";
    }
}

std::string tls_md5_hex(std::string_view text) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(text.data(), text.size(), md, &len, EVP_md5(), nullptr) != 1 || len != 16) return {};
    static constexpr char hex[] = "0123456789abcdef";
    std::string out(32, '0');
    for (unsigned i = 0; i < 16; ++i) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 0xf];
    }
    return out;
}

bool tls_ja3_of_client_hello(Bytes body, std::string* ja3, std::string* sni) {
    ByteReader r(body);
    const uint16_t version = r.be16();
    r.skip(32);                        // random
    r.skip(r.u8());                    // session id
    const Bytes ciphers = r.bytes(r.be16());
    r.skip(r.u8());                    // compression methods
    if (r.failed() || (ciphers.size() & 1)) return false;
    std::string exts, groups, formats, name;
    if (r.remaining() >= 2) {
        ByteReader e(r.bytes(r.be16()));
        if (r.failed()) return false;
        bool first = true;
        while (e.remaining() > 0) {
            const uint16_t type = e.be16();
            const Bytes data = e.bytes(e.be16());
            if (e.failed()) return false;
            if (!is_grease(type)) {
                if (!first) exts += '-';
                append_u16(exts, type);
                first = false;
            }
            if (type == 0 && name.empty()) {  // server_name: the first host_name
                ByteReader s(data);
                ByteReader list(s.bytes(s.be16()));
                while (!list.failed() && list.remaining() > 0) {
                    const uint8_t kind = list.u8();
                    const Bytes host = list.bytes(list.be16());
                    if (list.failed()) break;
                    if (kind == 0) {
                        name.assign(as_chars(host));
                        break;
                    }
                }
            } else if (type == 10) {  // supported_groups
                ByteReader g(data);
                append_u16_list(groups, g.bytes(g.be16()));
            } else if (type == 11) {  // ec_point_formats
                ByteReader f(data);
                const Bytes list = f.bytes(f.u8());
                for (size_t i = 0; i < list.size(); ++i) {
                    if (i) formats += '-';
                    append_u16(formats, list[i]);
                }
            }
        }
    }
    ja3->clear();
    append_u16(*ja3, version);
    *ja3 += ',';
    append_u16_list(*ja3, ciphers);
    *ja3 += ',';
    *ja3 += exts;
    *ja3 += ',';
    *ja3 += groups;
    *ja3 += ',';
    *ja3 += formats;
    *sni = std::move(name);
    return true;
}

void write_tls_eve(JsonWriter& w, const void* ctx) {
    const auto& p = *static_cast<const TlsParser*>(ctx);
    w.begin_object("tls");
    if (!p.subject().empty()) w.kv("subject", p.subject());
    if (!p.issuer().empty()) w.kv("issuerdn", p.issuer());
    if (!p.serial().empty()) w.kv("serial", p.serial());
    if (!p.fingerprint().empty()) w.kv("fingerprint", p.fingerprint());
    if (!p.sni().empty()) w.kv("sni", p.sni());
    if (p.server_hello_seen()) w.kv("version", tls_version_name(p.version()));
    if (!p.not_before().empty()) w.kv("notbefore", p.not_before());
    if (!p.not_after().empty()) w.kv("notafter", p.not_after());
    if (!p.ja3_hash().empty()) {
        w.begin_object("ja3").kv("hash", p.ja3_hash()).kv("string", p.ja3_string()).end_object();
    }
    if (!p.ja3s_hash().empty()) {
        w.begin_object("ja3s").kv("hash", p.ja3s_hash()).kv("string", p.ja3s_string()).end_object();
    }
    w.end_object();
}

TlsParser::TlsParser(AppLayerContext& ctx, AppTransactionSink& sink) : ctx_(ctx), sink_(sink) {}

size_t TlsParser::memory_bytes() const {
    size_t n = half_[0].hs.capacity() + half_[1].hs.capacity();
    for (const std::string* s : {&sni_, &ja3_, &ja3_hash_, &ja3s_, &ja3s_hash_, &subject_, &issuer_, &serial_,
                                 &fingerprint_, &not_before_, &not_after_})
        n += s->capacity() > 15 ? s->capacity() : 0;  // beyond the small-string buffer
    return n;
}

void TlsParser::fail(TlsCounter reason) {
    if (state_ != ParserState::active) return;
    ctx_.counters.tls.inc(reason);
    ctx_.counters.tls.inc(TlsCounter::flows_failed);
    state_ = ParserState::failed;
}

void TlsParser::finish(Direction dir) {
    Half& h = half_[index(dir)];
    h.done = true;
    std::vector<uint8_t>().swap(h.hs);  // give the buffer back
    if (half_[0].done && half_[1].done && state_ == ParserState::active) state_ = ParserState::done;
}

void TlsParser::on_data(Direction dir, uint64_t, Bytes data) {
    Half& h = half_[index(dir)];
    while (!data.empty() && state_ == ParserState::active && !h.done) {
        if (h.rec_remaining == 0 && h.hdr_have < 5) {
            const size_t n = std::min<size_t>(5 - h.hdr_have, data.size());
            std::copy_n(data.begin(), n, h.hdr.begin() + h.hdr_have);
            h.hdr_have = static_cast<uint8_t>(h.hdr_have + n);
            data = data.subspan(n);
            if (h.first_record && h.hdr_have >= 3 && (h.hdr[0] & 0x80) && h.hdr[2] == 1) {
                // SSLv2-framed ClientHello: counted, not parsed.
                ctx_.counters.tls.inc(TlsCounter::sslv2_unsupported);
                state_ = ParserState::done;
                return;
            }
            if (h.hdr_have < 5) break;
            const uint8_t type = h.hdr[0];
            const uint16_t version = static_cast<uint16_t>((h.hdr[1] << 8) | h.hdr[2]);
            const uint32_t len = (uint32_t{h.hdr[3]} << 8) | h.hdr[4];
            const bool type_ok = type >= kChangeCipherSpec && type <= kHeartbeat &&
                                 (!h.first_record || type == kHandshake || type == kAlert);
            if (!type_ok || (version >> 8) != 3 || (version & 0xff) > 4 || len > kTlsMaxRecordPayload ||
                (type == kHandshake && len == 0)) {
                fail(TlsCounter::record_invalid);
                return;
            }
            h.first_record = false;
            h.hdr_have = 0;
            h.rec_type = type;
            h.rec_remaining = len;
            if (type == kChangeCipherSpec) h.ccs_seen = true;
            if (type == kApplicationData || (type == kChangeCipherSpec && dir == Direction::to_client)) {
                // The server's cleartext handshake is over.
                if (dir == Direction::to_client) {
                    if (!server_emitted_ && server_hello_seen_) emit_server();
                    finish(dir);
                    return;
                }
            }
            continue;
        }
        const size_t n = std::min<size_t>(h.rec_remaining, data.size());
        if (h.rec_type == kHandshake && !h.ccs_seen) feed_handshake(dir, data.first(n));
        h.rec_remaining -= static_cast<uint32_t>(n);
        data = data.subspan(n);
    }
}

void TlsParser::feed_handshake(Direction dir, Bytes data) {
    Half& h = half_[index(dir)];
    const size_t limit = ctx_.config().tls_max_handshake_bytes;
    while (!data.empty() && state_ == ParserState::active && !h.done) {
        if (h.hs_skip) {
            const size_t n = std::min<size_t>(h.hs_skip, data.size());
            h.hs_skip -= static_cast<uint32_t>(n);
            data = data.subspan(n);
            continue;
        }
        if (h.hs.size() < 4) {
            const size_t n = std::min<size_t>(4 - h.hs.size(), data.size());
            h.hs.insert(h.hs.end(), data.begin(), data.begin() + static_cast<std::ptrdiff_t>(n));
            data = data.subspan(n);
            if (h.hs.size() < 4) return;
        }
        const size_t total = 4 + ((size_t{h.hs[1]} << 16) | (size_t{h.hs[2]} << 8) | h.hs[3]);
        const size_t want = std::min(total, limit);
        const size_t n = std::min(want - h.hs.size(), data.size());
        h.hs.insert(h.hs.end(), data.begin(), data.begin() + static_cast<std::ptrdiff_t>(n));
        data = data.subspan(n);
        if (h.hs.size() < want) return;
        const bool complete = total <= limit;
        if (!complete) {
            ctx_.counters.tls.inc(TlsCounter::handshake_too_long);
            h.hs_skip = static_cast<uint32_t>(total - want);
        }
        const uint8_t type = h.hs[0];
        handle_handshake(dir, type, Bytes(h.hs).subspan(4), complete);
        if (!h.done) h.hs.clear();
    }
}

void TlsParser::handle_handshake(Direction dir, uint8_t type, Bytes body, bool complete) {
    if (dir == Direction::to_server) {
        if (type != kClientHello) return;
        if (!complete) {
            ctx_.counters.tls.inc(TlsCounter::client_hello_invalid);
            finish(dir);
            return;
        }
        std::string ja3, sni;
        if (!tls_ja3_of_client_hello(body, &ja3, &sni)) {
            ctx_.counters.tls.inc(TlsCounter::client_hello_invalid);
            finish(dir);
            return;
        }
        ctx_.counters.tls.inc(TlsCounter::client_hellos);
        client_hello_seen_ = true;
        if (sni.size() > kTlsMaxSni) {
            ctx_.counters.tls.inc(TlsCounter::field_truncated);
            sni.resize(kTlsMaxSni);
        }
        sni_ = std::move(sni);
        if (ja3.size() > kTlsMaxJa3String) {
            ctx_.counters.tls.inc(TlsCounter::field_truncated);
        } else {
            ja3_hash_ = tls_md5_hex(ja3);
            ja3_ = std::move(ja3);
        }
        emit_client();
        finish(dir);  // nothing after the ClientHello is needed
        return;
    }
    switch (type) {
        case kServerHello:
            if (!complete) {
                ctx_.counters.tls.inc(TlsCounter::server_hello_invalid);
                return;
            }
            parse_server_hello(body);
            if (server_hello_seen_ && version_ == 0x0304) {  // the rest is encrypted
                emit_server();
                finish(dir);
            }
            return;
        case kCertificate:
            parse_certificate(body);
            emit_server();
            finish(dir);
            return;
        case kServerHelloDone:
            emit_server();
            finish(dir);
            return;
        default:
            return;
    }
}

void TlsParser::parse_server_hello(Bytes body) {
    ByteReader r(body);
    const uint16_t legacy = r.be16();
    r.skip(32);
    r.skip(r.u8());
    const uint16_t cipher = r.be16();
    r.skip(1);  // compression
    if (r.failed()) {
        ctx_.counters.tls.inc(TlsCounter::server_hello_invalid);
        return;
    }
    uint16_t selected = 0;
    std::string exts;
    if (r.remaining() >= 2) {
        ByteReader e(r.bytes(r.be16()));
        bool first = true;
        while (!e.failed() && e.remaining() > 0) {
            const uint16_t type = e.be16();
            ByteReader d(e.bytes(e.be16()));
            if (e.failed()) break;
            if (type == 43) selected = d.be16();  // supported_versions: the selected one
            if (is_grease(type)) continue;
            if (!first) exts += '-';
            append_u16(exts, type);
            first = false;
        }
        if (e.failed() || r.failed()) {
            ctx_.counters.tls.inc(TlsCounter::server_hello_invalid);
            return;
        }
    }
    ctx_.counters.tls.inc(TlsCounter::server_hellos);
    server_hello_seen_ = true;
    version_ = selected ? selected : legacy;
    ja3s_.clear();
    append_u16(ja3s_, legacy);
    ja3s_ += ',';
    append_u16(ja3s_, cipher);
    ja3s_ += ',';
    ja3s_ += exts;
    ja3s_hash_ = tls_md5_hex(ja3s_);
}

void TlsParser::parse_certificate(Bytes body) {
    // certificate_list<0..2^24-1> of ASN.1Cert<1..2^24-1>; only the first is read,
    // and it may be read from the first bytes of an over-long message.
    ByteReader r(body);
    r.be24();
    const uint32_t len = r.be24();
    const Bytes der = r.bytes(len);
    if (r.failed() || der.empty()) {
        ctx_.counters.tls.inc(TlsCounter::certificate_invalid);
        return;
    }
    const unsigned char* p = der.data();
    std::unique_ptr<X509, X509Deleter> x(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
    if (!x) {
        ctx_.counters.tls.inc(TlsCounter::certificate_invalid);
        return;
    }
    ctx_.counters.tls.inc(TlsCounter::certificates);
    subject_ = name_text(X509_get_subject_name(x.get()));
    issuer_ = name_text(X509_get_issuer_name(x.get()));
    if (const ASN1_INTEGER* serial = X509_get0_serialNumber(x.get())) {
        serial_ = hex_colon(Bytes(ASN1_STRING_get0_data(serial), static_cast<size_t>(ASN1_STRING_length(serial))), true);
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (EVP_Digest(der.data(), der.size(), md, &md_len, EVP_sha1(), nullptr) == 1)
        fingerprint_ = hex_colon(Bytes(md, md_len), false);
    not_before_ = time_text(X509_get0_notBefore(x.get()));
    not_after_ = time_text(X509_get0_notAfter(x.get()));
}

void TlsParser::emit_client() {
    AppTransaction tx;
    tx.proto = AppProto::tls;
    tx.dir = Direction::to_server;
    tx.tx_id = 0;
    if (!sni_.empty()) tx.set(AppBuffer::tls_sni, sni_);
    if (!ja3_hash_.empty()) {
        tx.set(AppBuffer::ja3_string, ja3_);
        tx.set(AppBuffer::ja3_hash, ja3_hash_);
    }
    tx.write_eve = &write_tls_eve;
    tx.eve_ctx = this;
    sink_.on_transaction(tx, AppTxStage::whole);
}

void TlsParser::emit_server() {
    if (server_emitted_) return;
    server_emitted_ = true;
    AppTransaction tx;
    tx.proto = AppProto::tls;
    tx.dir = Direction::to_client;
    tx.tx_id = 0;
    if (server_hello_seen_) tx.set(AppBuffer::tls_version, tls_version_name(version_));
    if (!subject_.empty()) tx.set(AppBuffer::tls_cert_subject, subject_);
    if (!issuer_.empty()) tx.set(AppBuffer::tls_cert_issuer, issuer_);
    tx.write_eve = &write_tls_eve;
    tx.eve_ctx = this;
    sink_.on_transaction(tx, AppTxStage::whole);
}

void TlsParser::on_gap(Direction dir, uint64_t, uint64_t len) {
    Half& h = half_[index(dir)];
    if (state_ != ParserState::active || h.done) return;
    if (h.rec_type != kHandshake && h.rec_remaining >= len && h.hdr_have == 0) {
        h.rec_remaining -= static_cast<uint32_t>(len);  // inside a record we do not read
        return;
    }
    fail(TlsCounter::gap);
}

void TlsParser::on_end() {
    if (state_ != ParserState::active) return;
    if (server_hello_seen_ && !server_emitted_) emit_server();
    state_ = ParserState::done;
}

}  // namespace sluice
