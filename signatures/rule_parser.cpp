#include "signatures/rule_parser.hpp"
#include "dataplane/text.hpp"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <fstream>
#include <limits>
#include <sstream>

namespace sluice {

PcreProgram::~PcreProgram() {
    if (code) pcre2_code_free(reinterpret_cast<pcre2_code*>(code));
}

// ---------------------------------------------------------------------------
// classification.config

size_t ClassificationTable::add_text(std::string_view text, std::vector<std::string>* errors) {
    size_t bad = 0;
    size_t line_no = 0;
    while (!text.empty()) {
        auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        ++line_no;
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
        while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
        if (line.empty() || line.front() == '#') continue;
        constexpr std::string_view prefix = "config classification:";
        if (line.substr(0, prefix.size()) != prefix) {
            ++bad;
            if (errors) errors->push_back("line " + std::to_string(line_no) + ": not a classification line");
            continue;
        }
        line.remove_prefix(prefix.size());
        auto c1 = line.find(',');
        auto c2 = line.rfind(',');
        if (c1 == std::string_view::npos || c2 == c1) {
            ++bad;
            if (errors) errors->push_back("line " + std::to_string(line_no) + ": expected name,description,priority");
            continue;
        }
        auto strip = [](std::string_view s) {
            while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
            while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
            return s;
        };
        std::string_view name = strip(line.substr(0, c1));
        std::string_view desc = strip(line.substr(c1 + 1, c2 - c1 - 1));
        std::string_view prio = strip(line.substr(c2 + 1));
        unsigned p = 0;
        auto [ptr, ec] = std::from_chars(prio.data(), prio.data() + prio.size(), p);
        if (name.empty() || ec != std::errc() || ptr != prio.data() + prio.size() || p < 1 || p > 255) {
            ++bad;
            if (errors) errors->push_back("line " + std::to_string(line_no) + ": bad name or priority");
            continue;
        }
        Classtype c{std::string(name), std::string(desc), static_cast<uint8_t>(p)};
        int at = find(name);
        if (at >= 0) entries_[static_cast<size_t>(at)] = std::move(c);
        else entries_.push_back(std::move(c));
    }
    return bad;
}

Status ClassificationTable::load_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) return make_error("cannot read " + path);
    std::stringstream ss;
    ss << f.rdbuf();
    std::vector<std::string> errors;
    if (add_text(ss.str(), &errors) > 0) return make_error(path + ": " + errors.front());
    return {};
}

int ClassificationTable::find(std::string_view name) const {
    for (size_t i = 0; i < entries_.size(); ++i)
        if (entries_[i].name == name) return static_cast<int>(i);
    return -1;
}

// ---------------------------------------------------------------------------
// rule text

namespace {

struct Fail {
    RuleError reason;
    std::string message;
};

std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> out;
    size_t start = 0;
    for (size_t i = 0; i <= s.size(); ++i) {
        if (i == s.size() || s[i] == sep) {
            out.push_back(trim_space(s.substr(start, i - start)));
            start = i + 1;
        }
    }
    return out;
}

bool parse_u64(std::string_view s, uint64_t& out, uint64_t max = std::numeric_limits<uint64_t>::max()) {
    s = trim_space(s);
    int base = 10;
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s.remove_prefix(2);
    }
    if (s.empty()) return false;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out, base);
    return ec == std::errc() && ptr == s.data() + s.size() && out <= max;
}

bool parse_i64(std::string_view s, int64_t& out, int64_t lim = int64_t{1} << 32) {
    s = trim_space(s);
    bool neg = false;
    if (!s.empty() && (s.front() == '-' || s.front() == '+')) {
        neg = s.front() == '-';
        s.remove_prefix(1);
    }
    uint64_t v = 0;
    if (!parse_u64(s, v, static_cast<uint64_t>(lim))) return false;
    out = neg ? -static_cast<int64_t>(v) : static_cast<int64_t>(v);
    return true;
}

// A quoted option value ("...") with \" \\ \; \: unescaped; other text kept.
bool unquote(std::string_view v, std::string& out) {
    v = trim_space(v);
    if (v.size() < 2 || v.front() != '"' || v.back() != '"') return false;
    v = v.substr(1, v.size() - 2);
    out.clear();
    for (size_t i = 0; i < v.size(); ++i) {
        if (v[i] == '\\' && i + 1 < v.size()) {
            out.push_back(v[++i]);
            continue;
        }
        if (v[i] == '"') return false;
        out.push_back(v[i]);
    }
    return true;
}

// Message text: quotes optional (Snort allowed none).
std::string message_text(std::string_view v) {
    std::string out;
    if (unquote(v, out)) return out;
    return std::string(trim_space(v));
}

int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// content:"...|41 42|..." with escapes; '!' before the quote negates.
std::optional<Fail> parse_content_text(std::string_view v, std::string& out, bool& negated) {
    v = trim_space(v);
    negated = false;
    if (!v.empty() && v.front() == '!') {
        negated = true;
        v = trim_space(v.substr(1));
    }
    if (v.size() < 2 || v.front() != '"' || v.back() != '"')
        return Fail{RuleError::bad_content, "content must be a quoted string"};
    v = v.substr(1, v.size() - 2);
    out.clear();
    bool hex = false;
    int hi = -1;
    for (size_t i = 0; i < v.size(); ++i) {
        char c = v[i];
        if (c == '|') {
            if (hex && hi >= 0) return Fail{RuleError::bad_content, "odd number of hex digits in content"};
            hex = !hex;
            continue;
        }
        if (hex) {
            if (c == ' ' || c == '\t') {
                if (hi >= 0) return Fail{RuleError::bad_content, "hex byte split by a space in content"};
                continue;
            }
            int h = hexval(c);
            if (h < 0) return Fail{RuleError::bad_content, std::string("bad hex digit '") + c + "' in content"};
            if (hi < 0) hi = h;
            else {
                out.push_back(static_cast<char>(hi * 16 + h));
                hi = -1;
            }
        } else if (c == '\\') {
            if (i + 1 >= v.size()) return Fail{RuleError::bad_content, "content ends in a backslash"};
            char n = v[++i];
            if (n != '"' && n != ';' && n != ':' && n != '\\' && n != '|')
                return Fail{RuleError::bad_content, std::string("bad escape '\\") + n + "' in content"};
            out.push_back(n);
        } else if (c == '"') {
            return Fail{RuleError::bad_content, "unescaped quote inside content"};
        } else {
            out.push_back(c);
        }
        if (out.size() > kMaxContentBytes) return Fail{RuleError::content_too_long, "content longer than " + std::to_string(kMaxContentBytes) + " bytes"};
    }
    if (hex) return Fail{RuleError::bad_content, "unterminated |hex| in content"};
    if (out.empty()) return Fail{RuleError::bad_content, "empty content"};
    return std::nullopt;
}

std::optional<Fail> parse_num_range(std::string_view v, NumRange& out, uint64_t max) {
    v = trim_space(v);
    auto bad = [&] { return Fail{RuleError::bad_value, "bad number or range '" + std::string(v) + "'"}; };
    auto between = v.find("<>");
    if (between != std::string_view::npos) {
        uint64_t a, b;
        if (!parse_u64(v.substr(0, between), a, max) || !parse_u64(v.substr(between + 2), b, max) || b <= a) return bad();
        out = {NumRange::Op::between, a, b};
        return std::nullopt;
    }
    NumRange::Op op = NumRange::Op::eq;
    if (v.substr(0, 2) == "<=") { op = NumRange::Op::le; v.remove_prefix(2); }
    else if (v.substr(0, 2) == ">=") { op = NumRange::Op::ge; v.remove_prefix(2); }
    else if (v.substr(0, 2) == "!=") { op = NumRange::Op::ne; v.remove_prefix(2); }
    else if (!v.empty() && v[0] == '<') { op = NumRange::Op::lt; v.remove_prefix(1); }
    else if (!v.empty() && v[0] == '>') { op = NumRange::Op::gt; v.remove_prefix(1); }
    else if (!v.empty() && v[0] == '!') { op = NumRange::Op::ne; v.remove_prefix(1); }
    else if (!v.empty() && v[0] == '=') { v.remove_prefix(1); }
    uint64_t a;
    auto dash = v.find('-');
    if (op == NumRange::Op::eq && dash != std::string_view::npos && dash > 0) {  // "a-b": inclusive range
        uint64_t b;
        if (!parse_u64(v.substr(0, dash), a, max) || !parse_u64(v.substr(dash + 1), b, max) || b < a) return bad();
        out = {NumRange::Op::between, a == 0 ? 0 : a - 1, b + 1};
        if (a == 0) out = {NumRange::Op::le, b, 0};
        return std::nullopt;
    }
    if (!parse_u64(v, a, max)) return bad();
    out = {op, a, 0};
    return std::nullopt;
}

std::optional<AppBuffer> sticky_buffer(std::string_view name) {
    if (auto b = app_buffer_from_name(name)) {
        if (*b == AppBuffer::tls_version) return std::nullopt;  // a value keyword in Suricata, not a buffer
        return b;
    }
    struct Alias { std::string_view name; AppBuffer buf; };
    static constexpr Alias aliases[] = {
        {"file_data", AppBuffer::file_data},
        {"dns_query", AppBuffer::dns_query},
        {"tls_sni", AppBuffer::tls_sni},
        {"tls_cert_subject", AppBuffer::tls_cert_subject},
        {"tls_cert_issuer", AppBuffer::tls_cert_issuer},
        {"ja3_hash", AppBuffer::ja3_hash},
        {"ja3_string", AppBuffer::ja3_string},
        {"http_request_line", AppBuffer::http_request_line},
        {"http_response_line", AppBuffer::http_response_line},
        {"http.request_header", AppBuffer::http_header},
    };
    for (const auto& a : aliases)
        if (a.name == name) return a.buf;
    return std::nullopt;
}

// Content modifiers that move the previous content into an HTTP buffer (Snort 2 / Suricata 4 form).
std::optional<AppBuffer> legacy_modifier(std::string_view name) {
    struct Alias { std::string_view name; AppBuffer buf; };
    static constexpr Alias table[] = {
        {"http_uri", AppBuffer::http_uri},
        {"http_raw_uri", AppBuffer::http_raw_uri},
        {"http_method", AppBuffer::http_method},
        {"http_header", AppBuffer::http_header},
        {"http_raw_header", AppBuffer::http_raw_header},
        {"http_cookie", AppBuffer::http_cookie},
        {"http_user_agent", AppBuffer::http_user_agent},
        {"http_host", AppBuffer::http_host},
        {"http_raw_host", AppBuffer::http_raw_host},
        {"http_client_body", AppBuffer::http_request_body},
        {"http_server_body", AppBuffer::http_response_body},
        {"http_stat_code", AppBuffer::http_stat_code},
        {"http_stat_msg", AppBuffer::http_stat_msg},
        {"http_content_type", AppBuffer::http_content_type},
    };
    for (const auto& a : table)
        if (a.name == name) return a.buf;
    return std::nullopt;
}

// Real Suricata / Snort keywords Sluice does not implement (skipped as unsupported, not malformed).
bool known_unsupported(std::string_view name) {
    static constexpr std::string_view names[] = {
        "flowint", "xbits", "hostbits", "stream_size", "base64_decode", "base64_data", "app-layer-event",
        "asn1", "ssl_state", "ssl_version", "ssh_proto", "ssh.proto", "ssh_software", "ssh.software",
        "ssh.protoversion", "ssh.softwareversion", "fragbits", "fragoffset", "tos", "ipopts", "sameip",
        "iprep", "geoip", "filemagic", "filename", "fileext", "filestore", "filemd5", "filesha1",
        "filesha256", "filesize", "file.name", "file.magic", "lua", "luajit", "replace", "tls.store",
        "tls.fingerprint", "tls.subject", "tls.issuerdn", "tls_cert_notbefore", "tls_cert_notafter",
        "tls_cert_expired", "tls_cert_valid", "tls.version", "tls.cert_chain_len", "dns.opcode",
        "dce_iface", "dce_opnum", "dce_stub_data", "byte_math", "ftpbounce", "ftpdata_command", "rpc",
        "icmpv6.hdr", "ipv4.hdr", "ipv6.hdr", "tcp.hdr", "udp.hdr", "tcp.mss", "icmpv4.hdr",
        "to_lowercase", "to_uppercase", "compress_whitespace", "strip_whitespace",
        "url_decode", "to_md5", "to_sha1", "to_sha256", "pcrexform", "xor", "header_lowercase",
        "strip_pseudo_headers", "sip_method", "sip_stat_code", "sip_header", "sip_body", "ssl_state",
        "http_encode", "cvs", "sd_pattern", "protected_content", "hash", "file_type", "appid",
        "service", "so", "soid", "pkt_data_raw", "uricontent", "resp", "react", "activates",
        "activated_by", "count", "logto", "session", "http_param", "dnp3_data", "dnp3_func", "dnp3_ind",
        "dnp3_obj", "modbus", "enip_command", "cip_service", "krb5_msg_type", "krb5_err_code",
        "snmp.version", "snmp.community", "snmp.pdu_type", "template", "template2", "nfs_procedure",
        "tftp", "ike", "mqtt.type", "rfb.name", "rfb.sectype", "sip.method", "sip.uri", "smb.share",
        "smb.named_pipe", "smb.ntlmssp_user", "smb.ntlmssp_domain", "krb5.cname", "krb5.sname",
        "quic.version", "quic.sni", "quic.ua", "http2.frametype", "http2.errorcode", "http2.header",
        "transform", "frame", "config", "requires", "bypass", "prefilter", "decode-event",
        "stream-event", "ja4.hash", "ttl_exact",
    };
    for (auto n : names)
        if (n == name) return true;
    return false;
}

bool known_unsupported_buffer(std::string_view name) {
    static constexpr std::string_view names[] = {
        "tls.certs", "http.start", "http.accept_enc", "http.accept_lang", "ja3s.hash", "ja3s.string",
        "tls.cert_serial", "tls.cert_fingerprint", "http.request_header", "http.response_header",
        "dns.answer.name", "dns.queries.rrname", "dns.answers.rrname", "smtp.helo", "smtp.mail_from",
        "smtp.rcpt_to", "ssh.hassh", "ssh.hassh.string", "ssh.hassh.server", "ssh.hassh.server.string",
        "sip.stat_code", "sip.stat_msg", "sip.request_line", "sip.response_line", "sip.protocol",
        "krb5.cname", "http2.header_name", "ftp.command", "ftp.command_data", "tls.random",
        "tls.random_time", "tls.random_bytes", "file.name", "http.trailers",
    };
    for (auto n : names)
        if (n == name) return true;
    return false;
}

bool is_record_proto(AppProto p) {
    switch (p) {
        case AppProto::modbus:
        case AppProto::dnp3:
        case AppProto::enip:
        case AppProto::s7comm:
        case AppProto::iec104:
        case AppProto::bacnet:
        case AppProto::profinet:
            return true;
        default:
            return false;
    }
}

// The application protocol a sticky buffer belongs to (unknown: several).
AppProto buffer_proto(AppBuffer b) {
    auto name = to_string(b);
    if (name.substr(0, 5) == "http.") return AppProto::http;
    if (name.substr(0, 4) == "dns.") return AppProto::dns;
    if (name.substr(0, 4) == "tls." || name.substr(0, 4) == "ja3.") return AppProto::tls;
    return AppProto::unknown;
}

// Splits the option list "a:b; c; d:\"x\\;y\"" into (name, value) pairs. As in
// Suricata, an option ends at the first ';' not escaped by a backslash; quotes do
// not protect a ';' (content writes it as |3b| or \;).
bool split_options(std::string_view body, std::vector<std::pair<std::string_view, std::string_view>>& out, std::string& err) {
    size_t i = 0;
    while (i < body.size()) {
        while (i < body.size() && std::isspace(static_cast<unsigned char>(body[i]))) ++i;
        if (i >= body.size()) break;
        size_t start = i;
        while (i < body.size()) {
            char c = body[i];
            if (c == '\\' && i + 1 < body.size()) {
                i += 2;
                continue;
            }
            if (c == ';') break;
            ++i;
        }
        if (i >= body.size()) {
            err = "option '" + std::string(trim_space(body.substr(start))) + "' not terminated by ';'";
            return false;
        }
        std::string_view opt = trim_space(body.substr(start, i - start));
        ++i;  // ';'
        if (opt.empty()) continue;
        auto colon = opt.find(':');
        std::string_view name = trim_space(opt.substr(0, colon));
        std::string_view value = colon == std::string_view::npos ? std::string_view{} : trim_space(opt.substr(colon + 1));
        if (name.empty()) {
            err = "option without a name";
            return false;
        }
        for (char c : name)
            if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-')) {
                err = "bad option name '" + std::string(name) + "'";
                return false;
            }
        out.emplace_back(name, value);
    }
    return true;
}

// Header tokens, keeping bracketed lists with spaces together.
bool split_header(std::string_view h, std::vector<std::string_view>& out) {
    size_t i = 0;
    while (i < h.size()) {
        while (i < h.size() && std::isspace(static_cast<unsigned char>(h[i]))) ++i;
        if (i >= h.size()) break;
        size_t start = i;
        int level = 0;
        while (i < h.size() && (level > 0 || !std::isspace(static_cast<unsigned char>(h[i])))) {
            if (h[i] == '[') ++level;
            else if (h[i] == ']') --level;
            if (level < 0) return false;
            ++i;
        }
        if (level != 0) return false;
        out.push_back(h.substr(start, i - start));
    }
    return true;
}

class RuleBuilder {
public:
    RuleBuilder(Rule& r, const RuleParseContext& ctx) : r_(r), ctx_(ctx) {}

    std::optional<Fail> option(std::string_view name, std::string_view value);
    std::optional<Fail> finish();

private:
    BufferMatch& list(int16_t buffer) {
        for (auto& b : r_.buffers)
            if (b.buffer == buffer) return b;
        r_.buffers.push_back(BufferMatch{});
        r_.buffers.back().buffer = buffer;
        if (buffer >= 0 && is_body_buffer(static_cast<AppBuffer>(buffer))) r_.uses_body_buffer = true;
        return r_.buffers.back();
    }
    PayloadElem* last_content() {
        if (last_list_ < 0) return nullptr;
        for (auto& b : r_.buffers)
            if (b.buffer == last_list_buffer_ && static_cast<size_t>(last_elem_) < b.elems.size()) return &b.elems[static_cast<size_t>(last_elem_)];
        return nullptr;
    }
    std::optional<Fail> need_content(std::string_view kw) {
        if (!last_content()) return Fail{RuleError::bad_value, std::string(kw) + " without a preceding content"};
        return std::nullopt;
    }
    std::optional<Fail> number_or_var(std::string_view v, int64_t& num, uint8_t& var, std::string_view kw, bool allow_negative);
    std::optional<Fail> parse_pcre(std::string_view v);
    std::optional<Fail> parse_byte(ElemKind kind, std::string_view v);
    std::optional<Fail> parse_flow(std::string_view v);
    std::optional<Fail> parse_flowbits(std::string_view v);
    std::optional<Fail> parse_threshold(std::string_view v, bool detection_filter);
    std::optional<Fail> parse_flags(std::string_view v);
    std::optional<Fail> add_elem(PayloadElem e) {
        auto& l = list(cur_buffer_);
        l.elems.push_back(std::move(e));
        if (l.elems.back().kind == ElemKind::content) {
            last_list_ = 0;
            last_list_buffer_ = cur_buffer_;
            last_elem_ = static_cast<int>(l.elems.size() - 1);
        }
        return std::nullopt;
    }

    Rule& r_;
    const RuleParseContext& ctx_;
    int16_t cur_buffer_ = kPayloadBuffer;
    int last_list_ = -1;
    int16_t last_list_buffer_ = kPayloadBuffer;
    int last_elem_ = -1;
    std::vector<std::string> vars_;  // byte_extract names
    bool saw_sid_ = false;
};

std::optional<Fail> RuleBuilder::number_or_var(std::string_view v, int64_t& num, uint8_t& var, std::string_view kw, bool allow_negative) {
    v = trim_space(v);
    if (!v.empty() && (std::isalpha(static_cast<unsigned char>(v.front())) || v.front() == '_')) {
        for (size_t i = 0; i < vars_.size(); ++i)
            if (vars_[i] == v) {
                var = static_cast<uint8_t>(i);
                return std::nullopt;
            }
        return Fail{RuleError::bad_value, std::string(kw) + ": unknown byte_extract variable '" + std::string(v) + "'"};
    }
    if (!parse_i64(v, num, 1 << 30) || (!allow_negative && num < 0))
        return Fail{RuleError::bad_value, std::string(kw) + ": bad number '" + std::string(v) + "'"};
    return std::nullopt;
}

std::optional<Fail> RuleBuilder::parse_pcre(std::string_view v) {
    v = trim_space(v);
    PayloadElem e;
    e.kind = ElemKind::pcre;
    if (!v.empty() && v.front() == '!') {
        e.negated = true;
        v = trim_space(v.substr(1));
    }
    if (v.size() < 2 || v.front() != '"' || v.back() != '"') return Fail{RuleError::bad_pcre, "pcre must be a quoted /regex/flags"};
    std::string text;
    v = v.substr(1, v.size() - 2);
    for (size_t i = 0; i < v.size(); ++i) {  // only \" and \; are option-level escapes
        if (v[i] == '\\' && i + 1 < v.size() && (v[i + 1] == '"' || v[i + 1] == ';')) {
            text.push_back(v[++i]);
            continue;
        }
        text.push_back(v[i]);  // Suricata takes everything between the outer quotes
    }
    if (text.size() > kMaxPcreBytes) return Fail{RuleError::bad_pcre, "pcre longer than " + std::to_string(kMaxPcreBytes) + " bytes"};
    if (text.size() < 2 || text.front() != '/') return Fail{RuleError::bad_pcre, "pcre must start with '/'"};
    auto last = text.rfind('/');
    if (last == 0) return Fail{RuleError::bad_pcre, "pcre without closing '/'"};
    auto prog = std::make_shared<PcreProgram>();
    prog->pattern = text.substr(1, last - 1);
    std::optional<AppBuffer> moved;
    uint32_t opts = 0;
    for (char f : text.substr(last + 1)) {
        switch (f) {
            case 'i': prog->caseless = true; opts |= PCRE2_CASELESS; break;
            case 's': prog->dotall = true; opts |= PCRE2_DOTALL; break;
            case 'm': prog->multiline = true; opts |= PCRE2_MULTILINE; break;
            case 'x': prog->extended = true; opts |= PCRE2_EXTENDED; break;
            case 'A': prog->anchored = true; opts |= PCRE2_ANCHORED; break;
            case 'E': prog->dollar_endonly = true; opts |= PCRE2_DOLLAR_ENDONLY; break;
            case 'G': prog->ungreedy = true; opts |= PCRE2_UNGREEDY; break;
            case 'R': e.relative = true; break;
            case 'B': case 'O': break;  // rawbytes, match-limit override: no effect here
            case 'U': moved = AppBuffer::http_uri; break;
            case 'I': moved = AppBuffer::http_raw_uri; break;
            case 'P': moved = AppBuffer::http_request_body; break;
            case 'Q': moved = AppBuffer::file_data; break;
            case 'H': moved = AppBuffer::http_header; break;
            case 'D': moved = AppBuffer::http_raw_header; break;
            case 'M': moved = AppBuffer::http_method; break;
            case 'C': moved = AppBuffer::http_cookie; break;
            case 'S': moved = AppBuffer::http_stat_code; break;
            case 'Y': moved = AppBuffer::http_stat_msg; break;
            case 'V': moved = AppBuffer::http_user_agent; break;
            case 'W': moved = AppBuffer::http_host; break;
            case 'Z': moved = AppBuffer::http_raw_host; break;
            default:
                return Fail{RuleError::bad_pcre, std::string("unknown pcre flag '") + f + "'"};
        }
    }
    if (cur_buffer_ != kPayloadBuffer) moved.reset();  // a sticky buffer wins over the legacy buffer flag
    int errcode = 0;
    PCRE2_SIZE erroff = 0;
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(prog->pattern.data()), prog->pattern.size(), opts,
                                     &errcode, &erroff, nullptr);
    if (!code) {
        PCRE2_UCHAR buf[256];
        pcre2_get_error_message(errcode, buf, sizeof buf);
        return Fail{RuleError::bad_pcre, "pcre does not compile at offset " + std::to_string(erroff) + ": " + reinterpret_cast<char*>(buf)};
    }
    prog->code = reinterpret_cast<pcre2_real_code_8*>(code);
    prog->pcre2_options = opts;
    uint32_t caps = 0;
    pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &caps);
    prog->capture_count = caps;
    e.pcre = std::move(prog);
    int16_t saved = cur_buffer_;
    if (moved) cur_buffer_ = static_cast<int16_t>(*moved);
    auto& l = list(cur_buffer_);
    l.elems.push_back(std::move(e));
    cur_buffer_ = saved;
    return std::nullopt;
}

std::optional<Fail> RuleBuilder::parse_byte(ElemKind kind, std::string_view v) {
    auto parts = split(v, ',');
    PayloadElem e;
    e.kind = kind;
    ByteOp& b = e.byte;
    const char* kw = kind == ElemKind::byte_test ? "byte_test" : kind == ElemKind::byte_jump ? "byte_jump" : "byte_extract";
    auto bad = [&](const std::string& what) { return Fail{RuleError::bad_value, std::string(kw) + ": " + what}; };
    size_t min_parts = kind == ElemKind::byte_test ? 4 : kind == ElemKind::byte_jump ? 2 : 3;
    if (parts.size() < min_parts) return bad("too few arguments");
    uint64_t n;
    if (!parse_u64(parts[0], n, 64)) return bad("bad byte count '" + std::string(parts[0]) + "'");
    b.nbytes = static_cast<uint8_t>(n);
    size_t next = 1;
    if (kind == ElemKind::byte_test) {
        std::string_view op = parts[1];
        if (!op.empty() && op.front() == '!') {
            b.op_negated = true;
            op.remove_prefix(1);
        }
        if (op == "<") b.op = '<';
        else if (op == ">") b.op = '>';
        else if (op == "=" || op == "==") b.op = '=';
        else if (op == "&") b.op = '&';
        else if (op == "^") b.op = '^';
        else if (op == "<=") b.op = 'l';
        else if (op == ">=") b.op = 'g';
        else if (op == "!" || op == "!=" || (op.empty() && b.op_negated)) { b.op = '='; b.op_negated = true; }
        else return bad("bad operator '" + std::string(parts[1]) + "'");
        int64_t val = 0;
        if (auto f = number_or_var(parts[2], val, b.value_var, kw, false)) {
            uint64_t u;  // values may exceed 2^30: accept any u64
            if (!parse_u64(parts[2], u)) return f;
            val = 0;
            b.value = u;
        } else if (b.value_var == kNoVar) {
            b.value = static_cast<uint64_t>(val);
        }
        next = 3;
    }
    if (auto f = number_or_var(parts[next], b.offset, b.offset_var, kw, true)) return f;
    ++next;
    if (kind == ElemKind::byte_extract) {
        std::string_view name = parts[next++];
        if (name.empty() || !(std::isalpha(static_cast<unsigned char>(name.front())) || name.front() == '_'))
            return bad("bad variable name '" + std::string(name) + "'");
        if (vars_.size() >= kMaxByteVars) return bad("more than " + std::to_string(kMaxByteVars) + " variables");
        vars_.emplace_back(name);
        b.store_var = static_cast<uint8_t>(vars_.size() - 1);
    }
    for (; next < parts.size(); ++next) {
        std::string_view p = parts[next];
        auto sp = p.find(' ');
        std::string_view word = sp == std::string_view::npos ? p : p.substr(0, sp);
        std::string_view arg = sp == std::string_view::npos ? std::string_view{} : trim_space(p.substr(sp + 1));
        if (word == "relative") { b.relative = true; e.relative = true; }
        else if (word == "big") b.little = false;
        else if (word == "little") b.little = true;
        else if (word == "string") b.string = true;
        else if (word == "hex") b.base = 16;
        else if (word == "dec") b.base = 10;
        else if (word == "oct") b.base = 8;
        else if (word == "dce") { b.dce = true; b.little = true; }
        else if (word == "align" && kind == ElemKind::byte_jump) b.align = true;
        else if (word == "align" && kind == ElemKind::byte_extract) {
            uint64_t a;
            if (!parse_u64(arg, a, 4) || (a != 2 && a != 4)) return bad("align must be 2 or 4");
            b.align_to = static_cast<uint32_t>(a);
        } else if (word == "from_beginning" && kind == ElemKind::byte_jump) b.from_beginning = true;
        else if (word == "from_end" && kind == ElemKind::byte_jump) b.from_end = true;
        else if (word == "multiplier" && kind != ElemKind::byte_test) {
            uint64_t m;
            if (!parse_u64(arg, m, 65535) || m == 0) return bad("bad multiplier");
            b.multiplier = static_cast<uint32_t>(m);
        } else if (word == "post_offset" && kind == ElemKind::byte_jump) {
            if (!parse_i64(arg, b.post_offset, 1 << 30)) return bad("bad post_offset");
        } else if (word == "bitmask") {
            if (!parse_u64(arg, b.bitmask) || b.bitmask == 0) return bad("bad bitmask");
        } else {
            return bad("unknown argument '" + std::string(p) + "'");
        }
    }
    if (!b.string && (b.nbytes > 8 || b.nbytes == 0)) return bad("byte count must be 1..8 without 'string'");
    if (b.string && b.nbytes > 23) return bad("more than 23 bytes in a string");
    if (b.dce && b.string) return bad("dce and string together");
    auto& l = list(cur_buffer_);
    l.elems.push_back(std::move(e));
    return std::nullopt;
}

std::optional<Fail> RuleBuilder::parse_flow(std::string_view v) {
    for (auto w : split(v, ',')) {
        if (w == "established") r_.flow |= flow_flag::established;
        else if (w == "not_established") r_.flow |= flow_flag::not_established;
        else if (w == "stateless") r_.flow |= flow_flag::stateless;
        else if (w == "to_server" || w == "from_client") r_.flow |= flow_flag::to_server;
        else if (w == "to_client" || w == "from_server") r_.flow |= flow_flag::to_client;
        else if (w == "only_stream") r_.flow |= flow_flag::only_stream;
        else if (w == "no_stream") r_.flow |= flow_flag::no_stream;
        else if (w == "no_frag" || w == "only_frag") return Fail{RuleError::unsupported_keyword, "flow:" + std::string(w) + " is not supported"};
        else return Fail{RuleError::bad_value, "unknown flow option '" + std::string(w) + "'"};
    }
    if ((r_.flow & flow_flag::to_server) && (r_.flow & flow_flag::to_client)) return Fail{RuleError::bad_value, "flow: both directions"};
    if ((r_.flow & flow_flag::established) && (r_.flow & flow_flag::not_established)) return Fail{RuleError::bad_value, "flow: established and not_established"};
    if ((r_.flow & flow_flag::only_stream) && (r_.flow & flow_flag::no_stream)) return Fail{RuleError::bad_value, "flow: only_stream and no_stream"};
    return std::nullopt;
}

std::optional<Fail> RuleBuilder::parse_flowbits(std::string_view v) {
    auto parts = split(v, ',');
    FlowbitOp op;
    std::string_view cmd = parts[0];
    if (cmd == "set" || cmd == "setx") op.cmd = FlowbitCmd::set;
    else if (cmd == "unset") op.cmd = FlowbitCmd::unset;
    else if (cmd == "toggle") op.cmd = FlowbitCmd::toggle;
    else if (cmd == "isset") op.cmd = FlowbitCmd::isset;
    else if (cmd == "isnotset") op.cmd = FlowbitCmd::isnotset;
    else if (cmd == "noalert") {
        if (parts.size() != 1) return Fail{RuleError::bad_value, "flowbits:noalert takes no name"};
        r_.noalert = true;
        return std::nullopt;
    } else return Fail{RuleError::bad_value, "unknown flowbits command '" + std::string(cmd) + "'"};
    if (parts.size() < 2 || parts[1].empty()) return Fail{RuleError::bad_value, "flowbits:" + std::string(cmd) + " needs a name"};
    if (parts.size() > 2 && cmd != "setx") return Fail{RuleError::bad_value, "flowbits: too many arguments"};
    std::string_view names = parts[1];
    bool has_or = names.find('|') != std::string_view::npos;
    bool has_and = names.find('&') != std::string_view::npos;
    if (has_or && has_and) return Fail{RuleError::bad_value, "flowbits: '|' and '&' together"};
    if (has_or && op.cmd != FlowbitCmd::isset && op.cmd != FlowbitCmd::isnotset)
        return Fail{RuleError::bad_value, "flowbits: '|' only with isset/isnotset"};
    op.any_of = has_or;
    for (auto n : split(names, has_or ? '|' : '&')) {
        if (n.empty() || n.size() > 64) return Fail{RuleError::bad_value, "flowbits: bad name"};
        for (char c : n)
            if (std::isspace(static_cast<unsigned char>(c))) return Fail{RuleError::bad_value, "flowbits: space in name"};
        op.names.emplace_back(n);
    }
    r_.flowbits.push_back(std::move(op));
    return std::nullopt;
}

std::optional<Fail> RuleBuilder::parse_threshold(std::string_view v, bool detection_filter) {
    ThresholdSpec t;
    t.type = detection_filter ? ThresholdType::detection_filter : ThresholdType::limit;
    bool have_type = detection_filter, have_track = false, have_count = false, have_seconds = false;
    const char* kw = detection_filter ? "detection_filter" : "threshold";
    for (auto p : split(v, ',')) {
        auto sp = p.find_first_of(" \t");
        if (sp == std::string_view::npos) return Fail{RuleError::bad_value, std::string(kw) + ": bad item '" + std::string(p) + "'"};
        std::string_view k = p.substr(0, sp), a = trim_space(p.substr(sp + 1));
        uint64_t n;
        if (k == "type" && !detection_filter) {
            if (a == "limit") t.type = ThresholdType::limit;
            else if (a == "threshold") t.type = ThresholdType::threshold;
            else if (a == "both") t.type = ThresholdType::both;
            else return Fail{RuleError::bad_value, "threshold: bad type '" + std::string(a) + "'"};
            have_type = true;
        } else if (k == "track") {
            if (a == "by_src") t.track = ThresholdTrack::by_src;
            else if (a == "by_dst") t.track = ThresholdTrack::by_dst;
            else if (a == "by_rule") t.track = ThresholdTrack::by_rule;
            else if (a == "by_both") t.track = ThresholdTrack::by_both;
            else return Fail{RuleError::bad_value, std::string(kw) + ": bad track '" + std::string(a) + "'"};
            have_track = true;
        } else if (k == "count") {
            if (!parse_u64(a, n, 1000000) || n == 0) return Fail{RuleError::bad_value, std::string(kw) + ": bad count"};
            t.count = static_cast<uint32_t>(n);
            have_count = true;
        } else if (k == "seconds") {
            if (!parse_u64(a, n, 86400 * 366) || n == 0) return Fail{RuleError::bad_value, std::string(kw) + ": bad seconds"};
            t.seconds = static_cast<uint32_t>(n);
            have_seconds = true;
        } else {
            return Fail{RuleError::bad_value, std::string(kw) + ": unknown item '" + std::string(k) + "'"};
        }
    }
    if (!have_type || !have_track || !have_count || !have_seconds)
        return Fail{RuleError::bad_value, std::string(kw) + ": needs type, track, count and seconds"};
    if (detection_filter) {
        if (r_.detection_filter) return Fail{RuleError::bad_value, "detection_filter given twice"};
        r_.detection_filter = t;
    } else {
        if (r_.threshold) return Fail{RuleError::bad_value, "threshold given twice"};
        r_.threshold = t;
    }
    return std::nullopt;
}

std::optional<Fail> RuleBuilder::parse_flags(std::string_view v) {
    TcpFlagsSpec f;
    auto parts = split(v, ',');
    if (parts.empty() || parts.size() > 2 || parts[0].empty()) return Fail{RuleError::bad_value, "flags: bad value"};
    auto bit = [](char c) -> int {
        switch (c) {
            case 'F': case 'f': return 0x01;
            case 'S': case 's': return 0x02;
            case 'R': case 'r': return 0x04;
            case 'P': case 'p': return 0x08;
            case 'A': case 'a': return 0x10;
            case 'U': case 'u': return 0x20;
            case 'E': case 'e': case '2': return 0x40;
            case 'C': case 'c': case '1': return 0x80;
            case '0': return 0;
            default: return -1;
        }
    };
    for (char c : parts[0]) {
        if (c == '+' || c == '*' || c == '!') {
            if (f.mode != '=') return Fail{RuleError::bad_value, "flags: two modifiers"};
            f.mode = c;
            continue;
        }
        int b = bit(c);
        if (b < 0) return Fail{RuleError::bad_value, std::string("flags: unknown flag '") + c + "'"};
        f.flags = static_cast<uint8_t>(f.flags | b);
    }
    if (parts.size() == 2) {
        for (char c : parts[1]) {
            int b = bit(c);
            if (b < 0) return Fail{RuleError::bad_value, std::string("flags: unknown mask flag '") + c + "'"};
            f.ignore = static_cast<uint8_t>(f.ignore | b);
        }
    }
    r_.tcp_flags = f;
    return std::nullopt;
}

std::optional<NumRange> proto_number(std::string_view v, std::optional<Fail>& fail) {
    v = trim_space(v);
    NumRange r;
    std::string_view op;
    if (!v.empty() && (v[0] == '!' || v[0] == '<' || v[0] == '>')) {
        op = v.substr(0, 1);
        v = trim_space(v.substr(1));
    }
    static constexpr std::pair<std::string_view, uint8_t> names[] = {
        {"icmp", 1}, {"igmp", 2}, {"tcp", 6}, {"udp", 17}, {"gre", 47}, {"esp", 50}, {"ah", 51},
        {"ipv6-icmp", 58}, {"icmpv6", 58}, {"sctp", 132}, {"ipip", 4}, {"pim", 103}, {"vrrp", 112}};
    uint64_t n = 256;
    for (const auto& [name, num] : names)
        if (name == v) n = num;
    if (n == 256 && !parse_u64(v, n, 255)) {
        fail = Fail{RuleError::bad_value, "ip_proto: bad protocol '" + std::string(v) + "'"};
        return std::nullopt;
    }
    r.a = n;
    r.op = op == "!" ? NumRange::Op::ne : op == "<" ? NumRange::Op::lt : op == ">" ? NumRange::Op::gt : NumRange::Op::eq;
    return r;
}

std::optional<Fail> RuleBuilder::option(std::string_view name, std::string_view value) {
    auto num_opt = [&](std::optional<NumRange>& dst, uint64_t max) -> std::optional<Fail> {
        if (dst) return Fail{RuleError::bad_value, std::string(name) + " given twice"};
        NumRange nr;
        if (auto f = parse_num_range(value, nr, max)) {
            f->message = std::string(name) + ": " + f->message;
            return f;
        }
        dst = nr;
        return std::nullopt;
    };
    auto content_num = [&](std::string_view kw, int64_t& dst, uint8_t& var, bool& flag, bool allow_neg) -> std::optional<Fail> {
        if (auto f = need_content(kw)) return f;
        if (flag) return Fail{RuleError::bad_value, std::string(kw) + " given twice for one content"};
        if (auto f = number_or_var(value, dst, var, kw, allow_neg)) return f;
        flag = true;
        return std::nullopt;
    };

    if (name == "msg") {
        r_.msg = message_text(value);
        return std::nullopt;
    }
    if (name == "sid" || name == "rev" || name == "gid") {
        uint64_t n;
        if (!parse_u64(value, n, 0xffffffffu) || (name == "sid" && n == 0))
            return Fail{RuleError::bad_value, std::string(name) + ": bad number '" + std::string(value) + "'"};
        (name == "sid" ? r_.sid : name == "rev" ? r_.rev : r_.gid) = static_cast<uint32_t>(n);
        if (name == "sid") saw_sid_ = true;
        return std::nullopt;
    }
    if (name == "classtype") {
        r_.classtype = std::string(trim_space(value));
        if (r_.classtype.empty()) return Fail{RuleError::bad_value, "empty classtype"};
        if (ctx_.classes) {
            int i = ctx_.classes->find(r_.classtype);
            if (i < 0) return Fail{RuleError::unknown_classtype, "unknown classtype '" + r_.classtype + "'"};
            r_.classtype_index = static_cast<int16_t>(i);
            if (!r_.has_priority) r_.priority = ctx_.classes->entries()[static_cast<size_t>(i)].priority;
        }
        return std::nullopt;
    }
    if (name == "priority") {
        uint64_t n;
        if (!parse_u64(value, n, 255) || n == 0) return Fail{RuleError::bad_value, "priority: bad number"};
        r_.priority = static_cast<uint8_t>(n);
        r_.has_priority = true;
        return std::nullopt;
    }
    if (name == "reference") {
        if (value.empty() || value.find(',') == std::string_view::npos) return Fail{RuleError::bad_value, "reference: expected type,value"};
        r_.references.emplace_back(value);
        return std::nullopt;
    }
    if (name == "metadata") {
        if (!r_.metadata.empty()) r_.metadata += ", ";
        r_.metadata += std::string(value);
        return std::nullopt;
    }
    if (name == "target") {
        if (value != "src_ip" && value != "dest_ip") return Fail{RuleError::bad_value, "target: src_ip or dest_ip"};
        r_.target = std::string(value);
        return std::nullopt;
    }
    if (name == "noalert") {
        r_.noalert = true;
        return std::nullopt;
    }
    if (name == "tag") {
        r_.notes.push_back("tag ignored");
        return std::nullopt;
    }
    if (name == "content") {
        PayloadElem e;
        if (auto f = parse_content_text(value, e.bytes, e.negated)) return f;
        e.lower = e.bytes;
        for (auto& c : e.lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return add_elem(std::move(e));
    }
    if (name == "nocase") {
        if (auto f = need_content(name)) return f;
        last_content()->nocase = true;
        return std::nullopt;
    }
    if (name == "rawbytes") {
        if (auto f = need_content(name)) return f;
        return std::nullopt;
    }
    if (name == "depth") {
        auto* c = last_content();
        if (!c) return need_content(name);
        return content_num(name, c->depth, c->depth_var, c->has_depth, false);
    }
    if (name == "offset") {
        auto* c = last_content();
        if (!c) return need_content(name);
        return content_num(name, c->offset, c->offset_var, c->has_offset, false);
    }
    if (name == "distance") {
        auto* c = last_content();
        if (!c) return need_content(name);
        c->relative = true;
        return content_num(name, c->distance, c->distance_var, c->has_distance, true);
    }
    if (name == "within") {
        auto* c = last_content();
        if (!c) return need_content(name);
        c->relative = true;
        return content_num(name, c->within, c->within_var, c->has_within, false);
    }
    if (name == "startswith" || name == "endswith") {
        if (auto f = need_content(name)) return f;
        (name == "startswith" ? last_content()->startswith : last_content()->endswith) = true;
        return std::nullopt;
    }
    if (name == "fast_pattern") {
        auto* c = last_content();
        if (!c) return need_content(name);
        c->fast_pattern = true;
        if (value == "only") c->fast_pattern_only = true;
        else if (!value.empty()) {
            auto parts = split(value, ',');
            uint64_t o, l;
            if (parts.size() != 2 || !parse_u64(parts[0], o, 65535) || !parse_u64(parts[1], l, 65535) || l == 0 ||
                o + l > c->bytes.size())
                return Fail{RuleError::bad_value, "fast_pattern: bad offset,length"};
            c->has_fp_chop = true;
            c->fp_offset = static_cast<uint32_t>(o);
            c->fp_length = static_cast<uint32_t>(l);
        }
        return std::nullopt;
    }
    if (auto mod = legacy_modifier(name)) {
        auto* c = last_content();
        if (!c) {
            // Snort allows pcre-only rules to name the buffer on the pcre flag instead; a bare modifier is an error.
            return need_content(name);
        }
        if (last_list_buffer_ != kPayloadBuffer) {
            if (last_list_buffer_ == static_cast<int16_t>(*mod)) return std::nullopt;
            return Fail{RuleError::bad_value, std::string(name) + " on a content that already has a buffer"};
        }
        // move the content from the payload list to the buffer's list
        auto& from = list(kPayloadBuffer);
        PayloadElem moved = std::move(from.elems[static_cast<size_t>(last_elem_)]);
        from.elems.erase(from.elems.begin() + last_elem_);
        if (from.elems.empty())
            r_.buffers.erase(std::remove_if(r_.buffers.begin(), r_.buffers.end(),
                                            [](const BufferMatch& b) { return b.buffer == kPayloadBuffer && b.elems.empty() && !b.bsize; }),
                             r_.buffers.end());
        auto& to = list(static_cast<int16_t>(*mod));
        to.elems.push_back(std::move(moved));
        last_list_buffer_ = static_cast<int16_t>(*mod);
        last_elem_ = static_cast<int>(to.elems.size() - 1);
        return std::nullopt;
    }
    if (name == "pkt_data") {
        cur_buffer_ = kPayloadBuffer;
        return std::nullopt;
    }
    if (auto sb = sticky_buffer(name)) {
        if (!value.empty()) return Fail{RuleError::bad_value, std::string(name) + " takes no value"};
        cur_buffer_ = static_cast<int16_t>(*sb);
        list(cur_buffer_);  // a buffer with no content still requires the buffer to be present
        return std::nullopt;
    }
    if (known_unsupported_buffer(name)) return Fail{RuleError::unsupported_buffer, "buffer " + std::string(name) + " is not supported"};
    if (name == "dotprefix") {
        if (cur_buffer_ == kPayloadBuffer) return Fail{RuleError::bad_value, "dotprefix without a sticky buffer"};
        auto& l = list(cur_buffer_);
        if (!l.elems.empty()) return Fail{RuleError::unsupported_combination, "dotprefix after the buffer's first content"};
        l.dotprefix = true;
        return std::nullopt;
    }
    if (name == "pcre") return parse_pcre(value);
    if (name == "byte_test") return parse_byte(ElemKind::byte_test, value);
    if (name == "byte_jump") return parse_byte(ElemKind::byte_jump, value);
    if (name == "byte_extract") return parse_byte(ElemKind::byte_extract, value);
    if (name == "isdataat") {
        PayloadElem e;
        e.kind = ElemKind::isdataat;
        std::string_view v = value;
        if (!v.empty() && v.front() == '!') {
            e.negated = true;
            v = trim_space(v.substr(1));
        }
        auto parts = split(v, ',');
        int64_t n = 0;
        if (auto f = number_or_var(parts[0], n, e.byte.offset_var, "isdataat", false)) return f;
        e.isdataat = static_cast<uint64_t>(n);
        for (size_t i = 1; i < parts.size(); ++i) {
            if (parts[i] == "relative") e.relative = true;
            else if (parts[i] == "rawbytes") e.isdataat_rawbytes = true;
            else return Fail{RuleError::bad_value, "isdataat: unknown argument '" + std::string(parts[i]) + "'"};
        }
        return add_elem(std::move(e));
    }
    if (name == "bsize") {
        auto& l = list(cur_buffer_);
        return num_opt(l.bsize, 0xffffffffu);
    }
    if (name == "urilen") {
        auto parts = split(value, ',');
        if (parts.size() > 1 && parts[1] != "norm" && parts[1] != "raw") return Fail{RuleError::bad_value, "urilen: bad mode"};
        auto& l = list(parts.size() > 1 && parts[1] == "raw" ? static_cast<int16_t>(AppBuffer::http_raw_uri)
                                                            : static_cast<int16_t>(AppBuffer::http_uri));
        std::string_view saved = value;
        value = parts[0];
        auto f = num_opt(l.urilen, 0xffffffffu);
        value = saved;
        return f;
    }
    if (name == "flow") return parse_flow(value);
    if (name == "flowbits") return parse_flowbits(value);
    if (name == "threshold") return parse_threshold(value, false);
    if (name == "detection_filter") return parse_threshold(value, true);
    if (name == "dsize") return num_opt(r_.dsize, 65535);
    if (name == "ttl") return num_opt(r_.ttl, 255);
    if (name == "itype") return num_opt(r_.itype, 255);
    if (name == "icode") return num_opt(r_.icode, 255);
    if (name == "icmp_id") return num_opt(r_.icmp_id, 65535);
    if (name == "icmp_seq") return num_opt(r_.icmp_seq, 65535);
    if (name == "ack") return num_opt(r_.ack, 0xffffffffu);
    if (name == "seq") return num_opt(r_.seq, 0xffffffffu);
    if (name == "window") {
        std::string_view v = trim_space(value);
        bool neg = !v.empty() && v.front() == '!';
        if (neg) v.remove_prefix(1);
        NumRange nr;
        if (auto f = parse_num_range(v, nr, 65535)) return f;
        if (nr.op != NumRange::Op::eq) return Fail{RuleError::bad_value, "window: a single number"};
        if (neg) nr.op = NumRange::Op::ne;
        r_.window = nr;
        return std::nullopt;
    }
    if (name == "id") return num_opt(r_.ip_id, 65535);
    if (name == "ip_proto") {
        std::optional<Fail> fail;
        auto nr = proto_number(value, fail);
        if (!nr) return fail;
        r_.ip_proto = nr;
        return std::nullopt;
    }
    if (name == "flags") return parse_flags(value);
    if (name == "app-layer-protocol") {
        auto parts = split(value, ',');
        std::string_view p = parts[0];
        bool neg = !p.empty() && p.front() == '!';
        if (neg) p = trim_space(p.substr(1));
        auto ap = app_proto_from_name(p);
        if (!ap) return Fail{RuleError::unknown_protocol, "app-layer-protocol: unknown protocol '" + std::string(p) + "'"};
        r_.app_layer_protocol = *ap;
        r_.app_layer_protocol_negated = neg;
        return std::nullopt;
    }
    for (const auto& kw : app_keywords()) {
        if (kw.name != name) continue;
        auto m = kw.parse(value);
        if (!m) return Fail{RuleError::bad_value, std::string(name) + ": " + m.message()};
        r_.app_keywords.push_back(AppKeywordUse{&kw, std::shared_ptr<const AppKeywordMatcher>(std::move(m.value()))});
        return std::nullopt;
    }
    if (known_unsupported(name)) return Fail{RuleError::unsupported_keyword, "keyword " + std::string(name) + " is not supported"};
    return Fail{RuleError::unknown_keyword, "unknown keyword '" + std::string(name) + "'"};
}

std::optional<Fail> check_content(const PayloadElem& e) {
    if (e.kind != ElemKind::content) return std::nullopt;
    const bool absolute = e.has_depth || e.has_offset;
    const bool rel = e.has_distance || e.has_within;
    if (absolute && rel) return Fail{RuleError::bad_value, "depth/offset together with distance/within on one content"};
    const auto len = static_cast<int64_t>(e.bytes.size());
    if (e.has_depth && e.depth_var == kNoVar && e.depth < len) return Fail{RuleError::bad_value, "depth smaller than the content"};
    if (e.has_within && e.within_var == kNoVar && e.within < len) return Fail{RuleError::bad_value, "within smaller than the content"};
    if (e.startswith && (e.has_depth || e.has_offset || rel)) return Fail{RuleError::bad_value, "startswith with depth/offset/distance/within"};
    return std::nullopt;
}

std::optional<Fail> RuleBuilder::finish() {
    if (!saw_sid_) return Fail{RuleError::missing_sid, "rule has no sid"};
    // drop empty payload lists left behind by modifiers
    r_.buffers.erase(std::remove_if(r_.buffers.begin(), r_.buffers.end(),
                                    [](const BufferMatch& b) { return b.buffer == kPayloadBuffer && b.elems.empty() && !b.bsize; }),
                     r_.buffers.end());
    // payload list first
    std::stable_sort(r_.buffers.begin(), r_.buffers.end(),
                     [](const BufferMatch& a, const BufferMatch& b) { return a.buffer < b.buffer; });
    for (auto& b : r_.buffers) {
        for (size_t i = 0; i < b.elems.size(); ++i) {
            if (auto f = check_content(b.elems[i])) return f;
            if (b.elems[i].relative && i > 0) b.needs_backtrack = true;
        }
        if (b.bsize && b.buffer == kPayloadBuffer) return Fail{RuleError::unsupported_combination, "bsize on the payload"};
    }
    // application protocol implied by buffers / protocol keywords
    AppProto implied = r_.proto == RuleProto::app ? r_.app_proto : AppProto::unknown;
    auto imply = [&](AppProto p) -> std::optional<Fail> {
        if (p == AppProto::unknown) return std::nullopt;
        if (implied != AppProto::unknown && implied != p)
            return Fail{RuleError::unsupported_combination, "keywords of " + std::string(to_string(p)) + " in a rule for " + std::string(to_string(implied))};
        implied = p;
        return std::nullopt;
    };
    bool has_sticky = false;
    for (const auto& b : r_.buffers)
        if (b.buffer != kPayloadBuffer) {
            has_sticky = true;
            if (auto f = imply(buffer_proto(static_cast<AppBuffer>(b.buffer)))) return f;
        }
    for (const auto& k : r_.app_keywords)
        if (auto f = imply(k.keyword->proto)) return f;
    if (r_.proto == RuleProto::udp || r_.proto == RuleProto::icmp) {
        if (has_sticky && implied != AppProto::dns) return Fail{RuleError::unsupported_combination, "sticky buffers in a udp/icmp rule"};
    }
    r_.app_proto = implied;
    const bool has_payload = r_.payload() != nullptr;
    const bool record_proto = is_record_proto(implied);

    if (!r_.app_keywords.empty() || (record_proto && !has_payload && !has_sticky)) {
        if (has_payload || has_sticky) return Fail{RuleError::unsupported_combination, "protocol keywords together with payload keywords"};
        r_.point = InspectPoint::record;
    } else if (has_sticky) {
        if (has_payload) return Fail{RuleError::unsupported_combination, "payload keywords together with sticky buffers"};
        if (r_.dsize) return Fail{RuleError::unsupported_combination, "dsize in a sticky-buffer rule"};
        r_.point = InspectPoint::transaction;
    } else if (r_.proto == RuleProto::app && !has_payload) {
        r_.point = InspectPoint::transaction;  // every transaction of the protocol
    } else if (has_payload) {
        bool tcp = r_.proto == RuleProto::tcp || (r_.proto == RuleProto::app && implied != AppProto::dns &&
                                                  implied != AppProto::ntp && implied != AppProto::dhcp &&
                                                  implied != AppProto::snmp && implied != AppProto::tftp &&
                                                  implied != AppProto::quic && implied != AppProto::ike);
        const bool header_tests = r_.ttl || r_.ack || r_.seq || r_.window || r_.tcp_flags || r_.ip_id || r_.ip_proto ||
                                  (r_.flow & flow_flag::stateless);
        if (tcp && !r_.tcp_pkt && !(r_.flow & flow_flag::no_stream) && !r_.dsize && !header_tests)
            r_.point = InspectPoint::stream;
        else r_.point = InspectPoint::packet;
        if (r_.point == InspectPoint::packet && (r_.flow & flow_flag::only_stream))
            return Fail{RuleError::unsupported_combination, "flow:only_stream with dsize or tcp-pkt"};
    } else {
        r_.point = InspectPoint::packet;
        if (r_.tcp_stream) return Fail{RuleError::unsupported_combination, "tcp-stream rule without payload keywords"};
    }
    if (r_.point != InspectPoint::packet &&
        (r_.ttl || r_.itype || r_.icode || r_.icmp_id || r_.icmp_seq || r_.ack || r_.seq || r_.window || r_.tcp_flags || r_.ip_id || r_.ip_proto))
        return Fail{RuleError::unsupported_combination, "packet header keywords in a " + std::string(to_string(r_.point)) + " rule"};
    if ((r_.itype || r_.icode || r_.icmp_id || r_.icmp_seq) && r_.proto != RuleProto::icmp && r_.proto != RuleProto::ip)
        return Fail{RuleError::unsupported_combination, "icmp keywords in a non-icmp rule"};
    r_.ip_only = r_.point == InspectPoint::packet && !has_payload && r_.flow == 0 && !r_.has_flowbit_checks() && !r_.dsize &&
                 !r_.ttl && !r_.itype && !r_.icode && !r_.icmp_id && !r_.icmp_seq && !r_.ack && !r_.seq && !r_.window &&
                 !r_.tcp_flags && !r_.ip_id && !r_.ip_proto && !r_.app_layer_protocol && r_.src_ports_any && r_.dst_ports_any &&
                 r_.proto != RuleProto::app;
    if (r_.noalert && r_.action != RuleAction::alert && r_.action != RuleAction::pass) {
        // noalert on drop: the drop still happens, nothing is logged (as in Suricata)
    }
    return std::nullopt;
}

}  // namespace

RuleParseOutcome parse_rule(std::string_view text, const RuleParseContext& ctx) {
    RuleParseOutcome out;
    auto fail = [&](RuleError reason, std::string msg) {
        out.reason = reason;
        out.message = std::move(msg);
        out.rule.reset();
        return std::move(out);
    };
    text = trim_space(text);
    if (text.size() > kMaxRuleBytes) return fail(RuleError::syntax, "rule longer than " + std::to_string(kMaxRuleBytes) + " bytes");
    auto open = text.find('(');
    if (open == std::string_view::npos || text.back() != ')') return fail(RuleError::syntax, "expected 'header (options)'");
    std::string_view body = text.substr(open + 1, text.size() - open - 2);

    std::vector<std::pair<std::string_view, std::string_view>> opts;
    std::string err;
    if (!split_options(body, opts, err)) return fail(RuleError::syntax, err);
    for (const auto& [n, v] : opts)
        if (n == "sid") {
            uint64_t s;
            if (parse_u64(v, s, 0xffffffffu)) out.sid = static_cast<uint32_t>(s);
        }

    std::vector<std::string_view> head;
    if (!split_header(text.substr(0, open), head)) return fail(RuleError::syntax, "unbalanced brackets in the header");
    if (head.size() != 7) return fail(RuleError::syntax, "header needs 7 fields: action proto src sport dir dst dport");

    Rule r;
    r.file = std::string(ctx.file);
    r.line = ctx.line;
    r.sid = out.sid;
    std::string_view action = head[0];
    if (action == "alert") r.action = RuleAction::alert;
    else if (action == "drop") r.action = RuleAction::drop;
    else if (action == "reject" || action == "rejectsrc" || action == "rejectdst" || action == "rejectboth") r.action = RuleAction::reject;
    else if (action == "pass") r.action = RuleAction::pass;
    else if (action == "log" || action == "sdrop" || action == "activate" || action == "dynamic" || action == "config")
        return fail(RuleError::unsupported_action, "action '" + std::string(action) + "' is not supported");
    else return fail(RuleError::syntax, "unknown action '" + std::string(action) + "'");

    std::string_view proto = head[1];
    if (proto == "ip" || proto == "pkthdr") r.proto = RuleProto::ip;
    else if (proto == "tcp") r.proto = RuleProto::tcp;
    else if (proto == "tcp-pkt") { r.proto = RuleProto::tcp; r.tcp_pkt = true; }
    else if (proto == "tcp-stream") { r.proto = RuleProto::tcp; r.tcp_stream = true; }
    else if (proto == "udp") r.proto = RuleProto::udp;
    else if (proto == "icmp" || proto == "icmpv4" || proto == "icmpv6") r.proto = RuleProto::icmp;
    else if (auto ap = app_proto_from_name(proto); ap && *ap != AppProto::unknown && *ap != AppProto::failed &&
                                                  *ap != AppProto::other && *ap != AppProto::icmp) {
        r.proto = RuleProto::app;
        r.app_proto = *ap;
    } else return fail(RuleError::unknown_protocol, "unknown protocol '" + std::string(proto) + "'");

    auto addr = [&](std::string_view t, IpRangeSet& set, bool& any) -> std::optional<Fail> {
        if (t == "any") {
            any = true;
            return std::nullopt;
        }
        auto s = ctx.vars->resolve_addresses(t);
        if (!s) {
            bool var = s.message().find("unknown address variable") != std::string::npos;
            return Fail{var ? RuleError::unknown_variable : RuleError::bad_address, s.message()};
        }
        set = std::move(s.value());
        any = set.is_any();
        return std::nullopt;
    };
    auto ports = [&](std::string_view t, PortSet& set, bool& any) -> std::optional<Fail> {
        if (t == "any") {
            any = true;
            return std::nullopt;
        }
        auto s = ctx.vars->resolve_ports(t);
        if (!s) {
            bool var = s.message().find("unknown port variable") != std::string::npos;
            return Fail{var ? RuleError::unknown_variable : RuleError::bad_port, s.message()};
        }
        set = std::move(s.value());
        any = set.is_any();
        return std::nullopt;
    };
    if (auto f = addr(head[2], r.src, r.src_any)) return fail(f->reason, f->message);
    if (auto f = ports(head[3], r.src_ports, r.src_ports_any)) return fail(f->reason, f->message);
    if (head[4] == "<>") r.bidirectional = true;
    else if (head[4] != "->") return fail(RuleError::syntax, "direction must be -> or <>, not '" + std::string(head[4]) + "'");
    if (auto f = addr(head[5], r.dst, r.dst_any)) return fail(f->reason, f->message);
    if (auto f = ports(head[6], r.dst_ports, r.dst_ports_any)) return fail(f->reason, f->message);

    RuleBuilder b(r, ctx);
    for (const auto& [n, v] : opts)
        if (auto f = b.option(n, v)) return fail(f->reason, f->message);
    if (auto f = b.finish()) return fail(f->reason, f->message);
    out.rule = std::move(r);
    return out;
}

}  // namespace sluice
