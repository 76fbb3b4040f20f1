#include "detectors/applayer/http_parser.hpp"

#include <algorithm>
#include <cstring>

#include "dataplane/byte_reader.hpp"
#include "dataplane/json_writer.hpp"
#include "detectors/applayer/http_uri.hpp"

namespace sluice {

namespace {

using Bytes = std::span<const uint8_t>;

bool is_ws(uint8_t c) { return c == ' ' || c == '\t'; }

bool is_token_char(uint8_t c) {
    if (c >= '0' && c <= '9') return true;
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
    return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

uint8_t lower(uint8_t c) { return (c >= 'A' && c <= 'Z') ? static_cast<uint8_t>(c + 32) : c; }

Bytes trim(Bytes b) {
    while (!b.empty() && is_ws(b.front())) b = b.subspan(1);
    while (!b.empty() && is_ws(b.back())) b = b.first(b.size() - 1);
    return b;
}

bool iequals(Bytes a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(static_cast<uint8_t>(b[i]))) return false;
    return true;
}

bool iequals(Bytes a, Bytes b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

std::string_view sv(Bytes b) { return as_chars(b); }

// The line's content without its "\n" or "\r\n".
Bytes line_content(Bytes line) {
    if (!line.empty() && line.back() == '\n') line = line.first(line.size() - 1);
    if (!line.empty() && line.back() == '\r') line = line.first(line.size() - 1);
    return line;
}

// Next token separated by spaces or tabs; advances `rest`.
Bytes next_token(Bytes& rest) {
    size_t i = 0;
    while (i < rest.size() && is_ws(rest[i])) ++i;
    size_t j = i;
    while (j < rest.size() && !is_ws(rest[j])) ++j;
    Bytes tok = rest.subspan(i, j - i);
    rest = rest.subspan(j);
    return tok;
}

struct RequestLine {
    Bytes method, uri, protocol;
};

// "METHOD SP uri [SP HTTP/x.y]"; the URI may hold spaces when a protocol
// token ends the line (libhtp does the same).
bool parse_request_line(Bytes line, RequestLine& out) {
    Bytes rest = line;
    out.method = next_token(rest);
    if (out.method.empty()) return false;
    for (uint8_t c : out.method)
        if (!is_token_char(c)) return false;
    rest = trim(rest);
    out.protocol = {};
    // Protocol: the last token, when it starts with "HTTP/".
    size_t k = rest.size();
    while (k > 0 && !is_ws(rest[k - 1])) --k;
    Bytes last = rest.subspan(k);
    if (k > 0 && last.size() >= 5 && iequals(last.first(5), "HTTP/")) {
        out.protocol = last;
        rest = trim(rest.first(k));
    }
    out.uri = rest;
    return !out.uri.empty();
}

struct ResponseLine {
    Bytes protocol, code, message;
    uint16_t status = 0;
    bool numeric = false;
};

bool parse_response_line(Bytes line, ResponseLine& out) {
    if (line.size() < 5 || !iequals(line.first(5), "HTTP/")) return false;
    Bytes rest = line;
    out.protocol = next_token(rest);
    out.code = next_token(rest);
    out.message = trim(rest);
    if (out.code.empty()) return false;
    out.numeric = out.code.size() == 3;
    uint32_t v = 0;
    for (uint8_t c : out.code) {
        if (c < '0' || c > '9') { out.numeric = false; break; }
        v = v * 10 + (c - '0');
    }
    out.status = out.numeric ? static_cast<uint16_t>(v) : 0;
    return true;
}

struct HeadIndex {
    Bytes start_line;
    Bytes raw_headers;  // after the start line, through the blank line
    size_t invalid = 0; // header lines skipped as malformed
};

// Splits a complete header block into its start line and header fields
// (unfolded, duplicates merged with ", " as libhtp does) into `fields`.
HeadIndex index_head(Bytes head, std::vector<HeaderFieldView>& fields, ScratchBuffer& s, size_t max_fields) {
    HeadIndex hi;
    fields.clear();
    size_t pos = 0;
    bool first = true;
    bool last_valid = false;
    while (pos < head.size()) {
        const void* nl = std::memchr(head.data() + pos, '\n', head.size() - pos);
        const size_t end = nl ? static_cast<size_t>(static_cast<const uint8_t*>(nl) - head.data()) + 1 : head.size();
        const Bytes line = line_content(head.subspan(pos, end - pos));
        if (first) {
            hi.start_line = line;
            hi.raw_headers = head.subspan(end);
            first = false;
        } else if (line.empty()) {
            break;
        } else if (is_ws(line[0])) {
            // obs-fold: continues the previous field's value after one space.
            const Bytes more = trim(line);
            if (!last_valid || fields.empty()) {
                ++hi.invalid;
            } else if (!more.empty()) {
                HeaderFieldView& prev = fields.back();
                const Bytes tail = s.since(0);
                const bool at_end = !prev.value.empty() && tail.data() + tail.size() == prev.value.data() + prev.value.size() &&
                                    prev.value.data() >= tail.data();
                if (at_end) {
                    const size_t before = s.used();
                    s.put(' ');
                    s.put(more);
                    prev.value = Bytes(prev.value.data(), prev.value.size() + (s.used() - before));
                } else {
                    const size_t m = s.mark();
                    s.put(prev.value);
                    s.put(' ');
                    s.put(more);
                    prev.value = s.since(m);
                }
            }
        } else {
            const void* colon = std::memchr(line.data(), ':', line.size());
            last_valid = false;
            if (!colon) {
                ++hi.invalid;
            } else {
                const size_t c = static_cast<size_t>(static_cast<const uint8_t*>(colon) - line.data());
                Bytes name = line.first(c);
                while (!name.empty() && is_ws(name.back())) name = name.first(name.size() - 1);
                bool ok = !name.empty();
                for (uint8_t ch : name)
                    if (!is_token_char(ch)) { ok = false; break; }
                if (!ok || fields.size() >= max_fields) {
                    ++hi.invalid;
                } else {
                    fields.push_back({name, trim(line.subspan(c + 1)), false});
                    last_valid = true;
                }
            }
        }
        pos = end;
    }
    // Merge repeated fields into the first one of each name.
    for (size_t i = 0; i < fields.size(); ++i) {
        if (fields[i].duplicate) continue;
        size_t m = 0;
        bool merged = false;
        for (size_t j = i + 1; j < fields.size(); ++j) {
            if (fields[j].duplicate || !iequals(fields[i].name, fields[j].name)) continue;
            if (!merged) {
                m = s.mark();
                s.put(fields[i].value);
                merged = true;
            }
            s.put(", ");
            s.put(fields[j].value);
            fields[j].duplicate = true;
        }
        if (merged) fields[i].value = s.since(m);
    }
    return hi;
}

const HeaderFieldView* find_field(const std::vector<HeaderFieldView>& fields, std::string_view name) {
    for (const auto& f : fields)
        if (!f.duplicate && iequals(f.name, name)) return &f;
    return nullptr;
}

struct Framing {
    bool chunked = false;
    bool other_coding = false;  // Transfer-Encoding without chunked last
    bool has_length = false;
    uint64_t length = 0;
    bool length_invalid = false;
    bool length_conflict = false;
    bool compressed = false;
};

bool parse_decimal(Bytes v, uint64_t* out) {
    v = trim(v);
    if (v.empty() || v.size() > 18) return false;
    uint64_t n = 0;
    for (uint8_t c : v) {
        if (c < '0' || c > '9') return false;
        n = n * 10 + (c - '0');
    }
    *out = n;
    return true;
}

Framing framing_of(const std::vector<HeaderFieldView>& fields) {
    Framing f;
    for (const auto& h : fields) {
        if (h.duplicate) continue;
        if (iequals(h.name, "content-length")) {
            // Merged duplicates read "10, 10": every element must agree.
            Bytes v = h.value;
            while (true) {
                const void* comma = std::memchr(v.data(), ',', v.size());
                const size_t n = comma ? static_cast<size_t>(static_cast<const uint8_t*>(comma) - v.data()) : v.size();
                uint64_t len = 0;
                if (!parse_decimal(v.first(n), &len)) {
                    f.length_invalid = true;
                    break;
                }
                if (f.has_length && len != f.length) f.length_conflict = true;
                f.has_length = true;
                f.length = len;
                if (!comma) break;
                v = v.subspan(n + 1);
            }
        } else if (iequals(h.name, "transfer-encoding")) {
            Bytes v = trim(h.value);
            size_t k = v.size();
            while (k > 0 && v[k - 1] != ',') --k;
            if (iequals(trim(v.subspan(k)), "chunked")) f.chunked = true;
            else f.other_coding = true;
        } else if (iequals(h.name, "content-encoding")) {
            const Bytes v = trim(h.value);
            f.compressed = iequals(v, "gzip") || iequals(v, "x-gzip") || iequals(v, "deflate");
        }
    }
    return f;
}

}  // namespace

void write_http_eve(JsonWriter& w, const void* ctx) {
    const auto& r = *static_cast<const HttpEveRecord*>(ctx);
    w.begin_object("http");
    if (!r.hostname.empty()) w.kv("hostname", r.hostname);
    if (r.has_port) w.kv("http_port", r.port);
    if (!r.url.empty()) w.kv("url", r.url);
    if (!r.user_agent.empty()) w.kv("http_user_agent", r.user_agent);
    if (!r.content_type.empty()) w.kv("http_content_type", r.content_type);
    if (!r.referer.empty()) w.kv("http_refer", r.referer);
    if (!r.method.empty()) w.kv("http_method", r.method);
    if (!r.protocol.empty()) w.kv("protocol", r.protocol);
    if (r.has_status) w.kv("status", r.status);
    else if (!r.status_string.empty()) w.kv("status_string", r.status_string);
    if (!r.redirect.empty()) w.kv("redirect", r.redirect);
    if (r.has_length) w.kv("length", r.length);
    w.end_object();
}

void HttpParser::PendingRequest::set(ReqField f, std::span<const uint8_t> v) {
    const size_t n = std::min(v.size(), data.size() - used);
    if (n) std::memcpy(data.data() + used, v.data(), n);
    off[f] = used;
    len[f] = static_cast<uint16_t>(n);
    complete[f] = n == v.size();
    used = static_cast<uint16_t>(used + n);
}

HttpParser::HttpParser(AppLayerContext& ctx, AppTransactionSink& sink) : ctx_(ctx), sink_(sink) {}
HttpParser::~HttpParser() = default;

size_t HttpParser::memory_bytes() const {
    size_t n = ring_.capacity() * sizeof(PendingRequest);
    for (const Half& h : half_) n += h.head.capacity() + h.body.capacity() + h.inflater.memory_bytes();
    return n;
}

void HttpParser::fail(HttpCounter reason) {
    if (state_ != ParserState::active) return;
    ctx_.counters.http.inc(reason);
    ctx_.counters.http.inc(HttpCounter::flows_failed);
    state_ = ParserState::failed;
}

void HttpParser::on_data(Direction dir, uint64_t, std::span<const uint8_t> data) {
    if (state_ == ParserState::active) consume(dir, data);
}

void HttpParser::consume(Direction dir, std::span<const uint8_t> data) {
    Half& h = half(dir);
    while (!data.empty() && state_ == ParserState::active) {
        size_t used = 0;
        switch (h.phase) {
            case Phase::head:
                used = consume_head(dir, data);
                break;
            case Phase::body_length: {
                used = static_cast<size_t>(std::min<uint64_t>(h.remaining, data.size()));
                feed_body(dir, data.first(used));
                h.remaining -= used;
                if (h.remaining == 0) finish_message(dir);
                break;
            }
            case Phase::chunk_size:
                used = consume_chunk_line(dir, data, false);
                break;
            case Phase::chunk_data: {
                used = static_cast<size_t>(std::min<uint64_t>(h.remaining, data.size()));
                feed_body(dir, data.first(used));
                h.remaining -= used;
                if (h.remaining == 0) {
                    h.phase = Phase::chunk_end;
                    h.saw_cr = false;
                }
                break;
            }
            case Phase::chunk_end:
                used = consume_chunk_end(dir, data);
                break;
            case Phase::chunk_trailer:
                used = consume_chunk_line(dir, data, true);
                break;
            case Phase::body_close:
                used = data.size();
                feed_body(dir, data);
                break;
            case Phase::tunnel:
                return;
        }
        data = data.subspan(used);
    }
}

bool HttpParser::check_start_bytes(Direction dir, const Half& h, std::span<const uint8_t> seg) {
    static constexpr std::string_view kHttp = "HTTP/";
    for (size_t i = 0; i < seg.size(); ++i) {
        const uint8_t c = seg[i];
        if (c == '\r' || c == '\n') continue;
        const size_t p = h.head.size() + i;
        bool ok = !((c < 0x20 && c != '\t') || c == 0x7f);
        if (ok && dir == Direction::to_client && p < kHttp.size()) ok = (c & 0xdf) == (kHttp[p] & 0xdf) || c == kHttp[p];
        if (ok && dir == Direction::to_server && p == 0) ok = is_token_char(c);
        if (!ok) {
            fail(dir == Direction::to_server ? HttpCounter::request_line_invalid : HttpCounter::response_line_invalid);
            return false;
        }
    }
    return true;
}

size_t HttpParser::consume_head(Direction dir, std::span<const uint8_t> data) {
    Half& h = half(dir);
    const AppLayerConfig& cfg = ctx_.config();
    size_t used = 0;
    while (used < data.size()) {
        const Bytes rest = data.subspan(used);
        const void* nl = std::memchr(rest.data(), '\n', rest.size());
        const size_t take = nl ? static_cast<size_t>(static_cast<const uint8_t*>(nl) - rest.data()) + 1 : rest.size();
        const Bytes seg = rest.first(take);
        if (h.head.size() - h.line_start + take > size_t{cfg.http_max_header_line} + 2) {
            fail(HttpCounter::header_line_too_long);
            return data.size();
        }
        if (h.head.size() + take > cfg.http_max_header_bytes) {
            fail(HttpCounter::header_block_too_long);
            return data.size();
        }
        if (h.lines == 0 && dir == Direction::to_client && h.head.empty() && seg.size() >= 1 && seg[0] != 'H' &&
            seg[0] != 'h' && seg[0] != '\r' && seg[0] != '\n' && start_http09_response()) {
            return used;  // the rest is the body
        }
        if (h.lines == 0 && !check_start_bytes(dir, h, seg)) return data.size();
        h.head.insert(h.head.end(), seg.begin(), seg.end());
        used += take;
        if (!nl) break;
        const Bytes line = line_content(Bytes(h.head).subspan(h.line_start));
        if (line.empty()) {
            if (h.lines == 0) {  // empty lines before a message are skipped
                h.head.clear();
                h.line_start = 0;
                continue;
            }
            head_complete(dir);
            return used;
        }
        ++h.lines;
        if (h.lines == 1) {
            RequestLine rl;
            ResponseLine sl;
            const bool ok = dir == Direction::to_server ? parse_request_line(line, rl) : parse_response_line(line, sl);
            if (!ok) {
                fail(dir == Direction::to_server ? HttpCounter::request_line_invalid : HttpCounter::response_line_invalid);
                return data.size();
            }
        }
        if (h.lines > cfg.http_max_headers + 1) {
            fail(HttpCounter::too_many_headers);
            return data.size();
        }
        h.line_start = h.head.size();
    }
    return used;
}

bool HttpParser::start_http09_response() {
    // A response without a status line answers a request without protocol
    // (HTTP/0.9): all of it is body, until the connection closes.
    Half& h = half(Direction::to_client);
    const uint64_t tx = next_response_id_;
    h.tx_id = tx;
    const PendingRequest* req = request_for_response();
    if (!req || !req->http09) return false;
    ++next_response_id_;
    ctx_.counters.http.inc(HttpCounter::responses);
    ctx_.counters.http.inc(HttpCounter::http09_responses);
    emit(Direction::to_client, AppTxStage::headers);
    start_body(Direction::to_client, false);
    h.phase = Phase::body_close;
    return true;
}

void HttpParser::flush_partial_head(Direction dir) {
    // The flow ended inside a header block that has a valid start line:
    // inspect the complete lines (Suricata sees the request line as soon as it
    // is complete), as headers and an empty body.
    Half& h = half(dir);
    if (h.lines == 0) return;
    h.head.resize(h.line_start);
    ctx_.counters.http.inc(HttpCounter::headers_incomplete_at_end);
    if (dir == Direction::to_server) {
        h.tx_id = next_request_id_++;
        ctx_.counters.http.inc(HttpCounter::requests);
        PendingRequest record;
        emit(dir, AppTxStage::headers, &record);
    } else {
        h.tx_id = next_response_id_++;
        ctx_.counters.http.inc(HttpCounter::responses);
        emit(dir, AppTxStage::headers);
    }
    finish_message(dir);
}

void HttpParser::start_body(Direction dir, bool compressed) {
    Half& h = half(dir);
    const AppLayerConfig& cfg = ctx_.config();
    h.body.clear();
    h.body_seen = 0;
    h.body_limit = dir == Direction::to_server ? cfg.http_request_body_limit : cfg.http_response_body_limit;
    h.compressed = compressed && cfg.http_decompress;
    if (h.compressed) h.inflater.start();
}

void HttpParser::head_complete(Direction dir) {
    Half& h = half(dir);
    ScratchBuffer& s = ctx_.scratch();
    s.reset();
    auto& fields = ctx_.header_fields();
    const HeadIndex hi = index_head(h.head, fields, s, size_t{ctx_.config().http_max_headers});
    if (hi.invalid) ctx_.counters.http.inc(HttpCounter::header_invalid, hi.invalid);
    const Framing fr = framing_of(fields);
    if (fr.length_invalid) return fail(HttpCounter::content_length_invalid);
    if (fr.length_conflict) return fail(HttpCounter::content_length_conflict);
    if (fr.chunked && fr.has_length) ctx_.counters.http.inc(HttpCounter::chunked_and_content_length);

    if (dir == Direction::to_server) {
        h.tx_id = next_request_id_++;
        ctx_.counters.http.inc(HttpCounter::requests);
        PendingRequest record;
        emit(dir, AppTxStage::headers, &record);
        if (fr.chunked) {
            start_body(dir, fr.compressed);
            h.phase = Phase::chunk_size;
            h.line_kept = 0;
            h.line_total = 0;
        } else if (fr.has_length && fr.length > 0) {
            start_body(dir, fr.compressed);
            h.phase = Phase::body_length;
            h.remaining = fr.length;
        } else {
            // No body (a request without framing headers has none, RFC 9112 6.3).
            finish_message(dir);
        }
        return;
    }

    ResponseLine sl;
    parse_response_line(line_content(hi.start_line), sl);
    if (sl.numeric && sl.status >= 100 && sl.status < 200 && sl.status != 101) {
        ctx_.counters.http.inc(HttpCounter::interim_responses);
        reset_half(h);
        return;
    }
    h.tx_id = next_response_id_++;
    ctx_.counters.http.inc(HttpCounter::responses);
    if (h.tx_id >= next_request_id_) ctx_.counters.http.inc(HttpCounter::response_without_request);
    const PendingRequest* req = request_for_response();
    const bool is_head = req && req->is_head;
    const bool tunnel = (sl.numeric && sl.status == 101) || (req && req->is_connect && sl.status / 100 == 2);
    emit(dir, AppTxStage::headers);
    if (tunnel) {
        ctx_.counters.http.inc(HttpCounter::tunnel);
        finish_message(dir);
        half_[0].phase = half_[1].phase = Phase::tunnel;
        state_ = ParserState::done;
        return;
    }
    if (is_head || sl.status == 204 || sl.status == 304) {
        finish_message(dir);
    } else if (fr.chunked) {
        start_body(dir, fr.compressed);
        h.phase = Phase::chunk_size;
        h.line_kept = 0;
        h.line_total = 0;
    } else if (fr.has_length) {
        if (fr.length == 0) {
            finish_message(dir);
        } else {
            start_body(dir, fr.compressed);
            h.phase = Phase::body_length;
            h.remaining = fr.length;
        }
    } else {
        start_body(dir, fr.compressed);
        h.phase = Phase::body_close;
    }
}

size_t HttpParser::consume_chunk_line(Direction dir, std::span<const uint8_t> data, bool trailer) {
    Half& h = half(dir);
    const AppLayerConfig& cfg = ctx_.config();
    const void* nl = std::memchr(data.data(), '\n', data.size());
    const size_t take = nl ? static_cast<size_t>(static_cast<const uint8_t*>(nl) - data.data()) + 1 : data.size();
    for (size_t i = 0; i < take && h.line_kept < h.line.size(); ++i) h.line[h.line_kept++] = data[i];
    h.line_total += static_cast<uint32_t>(std::min<size_t>(take, 1u << 30));
    if (h.line_total > size_t{cfg.http_max_header_line} + 2) {
        fail(trailer ? HttpCounter::header_line_too_long : HttpCounter::chunk_size_invalid);
        return data.size();
    }
    if (!nl) return take;
    const bool whole = h.line_total <= h.line.size();
    const Bytes kept(h.line.data(), h.line_kept);
    const Bytes content = whole ? line_content(kept) : kept;
    h.line_kept = 0;
    h.line_total = 0;
    if (trailer) {
        if (whole && content.empty()) {
            finish_message(dir);
        } else if (++h.trailer_lines > cfg.http_max_headers) {
            fail(HttpCounter::too_many_headers);
            return data.size();
        }
        return take;
    }
    // chunk-size [ws] [";" extension]
    size_t i = 0;
    while (i < content.size() && is_ws(content[i])) ++i;
    uint64_t size = 0;
    size_t digits = 0;
    for (; i < content.size(); ++i, ++digits) {
        const uint8_t c = content[i];
        int v = -1;
        if (c >= '0' && c <= '9') v = c - '0';
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') v = (c | 0x20) - 'a' + 10;
        if (v < 0) break;
        size = size * 16 + static_cast<uint64_t>(v);
    }
    while (i < content.size() && is_ws(content[i])) ++i;
    const bool ext = i < content.size() && content[i] == ';';
    const bool ended = i == content.size() && whole;
    if (digits == 0 || digits > 15 || !(ext || ended)) {
        fail(HttpCounter::chunk_size_invalid);
        return data.size();
    }
    if (size == 0) {
        h.phase = Phase::chunk_trailer;
        h.trailer_lines = 0;
    } else {
        h.phase = Phase::chunk_data;
        h.remaining = size;
    }
    return take;
}

size_t HttpParser::consume_chunk_end(Direction dir, std::span<const uint8_t> data) {
    Half& h = half(dir);
    for (size_t i = 0; i < data.size(); ++i) {
        if (data[i] == '\r' && !h.saw_cr) {
            h.saw_cr = true;
        } else if (data[i] == '\n') {
            h.phase = Phase::chunk_size;
            h.line_kept = 0;
            h.line_total = 0;
            return i + 1;
        } else {
            fail(HttpCounter::chunk_framing_invalid);
            return data.size();
        }
    }
    return data.size();
}

void HttpParser::feed_body(Direction dir, std::span<const uint8_t> data) {
    Half& h = half(dir);
    h.body_seen += data.size();
    if (h.body_emitted) return;  // inspection of this body is over (limit or gap)
    if (h.compressed) {
        if (!h.inflate_failed && !h.inflater.feed(data, h.body, h.body_limit)) {
            h.inflate_failed = true;
            ctx_.counters.http.inc(HttpCounter::decompress_error);
        }
    } else {
        const size_t n = std::min(data.size(), h.body_limit - std::min<size_t>(h.body_limit, h.body.size()));
        h.body.insert(h.body.end(), data.begin(), data.begin() + static_cast<std::ptrdiff_t>(n));
    }
    if (h.body.size() >= h.body_limit) {
        ctx_.counters.http.inc(dir == Direction::to_server ? HttpCounter::request_body_limited
                                                           : HttpCounter::response_body_limited);
        emit(dir, AppTxStage::body);
        h.body_emitted = true;
    }
}

void HttpParser::finish_message(Direction dir) {
    Half& h = half(dir);
    if (!h.body_emitted) {
        emit(dir, AppTxStage::body);
        h.body_emitted = true;
    }
    if (dir == Direction::to_client) pop_pending_for(h.tx_id);
    reset_half(h);
}

void HttpParser::reset_half(Half& h) {
    h.phase = Phase::head;
    h.head.clear();
    h.line_start = 0;
    h.lines = 0;
    h.line_kept = 0;
    h.line_total = 0;
    h.trailer_lines = 0;
    h.saw_cr = false;
    h.remaining = 0;
    h.body.clear();
    h.body_seen = 0;
    h.compressed = false;
    h.inflate_failed = false;
    h.body_cut = false;
    h.body_emitted = false;
}

void HttpParser::emit(Direction dir, AppTxStage stage, PendingRequest* record) {
    Half& h = half(dir);
    ScratchBuffer& s = ctx_.scratch();
    s.reset();
    auto& fields = ctx_.header_fields();
    const HeadIndex hi = index_head(h.head, fields, s, size_t{ctx_.config().http_max_headers});
    const bool request = dir == Direction::to_server;

    AppTransaction tx;
    tx.proto = AppProto::http;
    tx.dir = dir;
    tx.tx_id = h.tx_id;
    HttpEveRecord eve;

    // http.header: "Name: value\r\n" per field (merged, unfolded), without the
    // request's Cookie or the response's Set-Cookie (they have http.cookie).
    const std::string_view cookie_name = request ? "cookie" : "set-cookie";
    size_t m = s.mark();
    for (const auto& f : fields) {
        if (f.duplicate || iequals(f.name, cookie_name)) continue;
        s.put(f.name);
        s.put(": ");
        s.put(f.value);
        s.put("\r\n");
    }
    tx.set(AppBuffer::http_header, s.since(m));
    tx.set(AppBuffer::http_raw_header, hi.raw_headers);
    // http.header_names: "\r\nName1\r\nName2\r\n\r\n" (Suricata's layout).
    m = s.mark();
    s.put("\r\n");
    for (const auto& f : fields) {
        if (f.duplicate) continue;
        s.put(f.name);
        s.put("\r\n");
    }
    s.put("\r\n");
    tx.set(AppBuffer::http_header_names, s.since(m));

    auto field = [&](AppBuffer b, std::string_view name) -> std::string_view {
        const HeaderFieldView* f = find_field(fields, name);
        if (!f) return {};
        tx.set(b, f->value);
        return sv(f->value);
    };
    field(AppBuffer::http_cookie, cookie_name);
    const std::string_view content_type = field(AppBuffer::http_content_type, "content-type");
    field(AppBuffer::http_content_len, "content-length");
    field(AppBuffer::http_connection, "connection");

    const Bytes start = line_content(hi.start_line);
    if (request) {
        RequestLine rl;
        parse_request_line(start, rl);
        tx.set(AppBuffer::http_method, rl.method);
        tx.set(AppBuffer::http_raw_uri, rl.uri);
        tx.set(AppBuffer::http_uri, normalize_http_uri(sv(rl.uri), s));
        if (!rl.protocol.empty()) tx.set(AppBuffer::http_protocol, rl.protocol);
        tx.set(AppBuffer::http_request_line, start);
        const RequestTarget target = split_request_target(sv(rl.uri));
        std::string_view raw_host;
        bool has_host = false;
        if (target.absolute && !target.authority.empty()) {
            raw_host = target.authority;
            has_host = true;
        } else if (const HeaderFieldView* f = find_field(fields, "host")) {
            raw_host = sv(f->value);
            has_host = true;
        }
        HostPort hp;
        if (has_host) {
            tx.set(AppBuffer::http_raw_host, raw_host);
            hp = normalize_http_host(raw_host, s);
            tx.set(AppBuffer::http_host, hp.host);
        }
        const std::string_view ua = field(AppBuffer::http_user_agent, "user-agent");
        const std::string_view referer = field(AppBuffer::http_referer, "referer");
        field(AppBuffer::http_accept, "accept");
        eve.hostname = sv(hp.host);
        eve.port = hp.port;
        eve.has_port = hp.has_port;
        eve.url = sv(rl.uri);
        eve.user_agent = ua;
        eve.referer = referer;
        eve.method = sv(rl.method);
        eve.protocol = sv(rl.protocol);
        if (record) {
            record->tx_id = h.tx_id;
            record->is_head = iequals(rl.method, "HEAD");
            record->is_connect = iequals(rl.method, "CONNECT");
            record->http09 = rl.protocol.empty();
            record->has_port = hp.has_port;
            record->port = hp.port;
            record->used = 0;
            record->set(f_method, rl.method);
            record->set(f_protocol, rl.protocol);
            record->set(f_host, hp.host);
            record->set(f_host_raw, as_bytes(raw_host));
            record->set(f_user_agent, as_bytes(ua));
            record->set(f_referer, as_bytes(referer));
            record->set(f_uri, rl.uri);
            if (!has_host) record->complete[f_host] = record->complete[f_host_raw] = false;
            if (!tx.has(AppBuffer::http_user_agent)) record->complete[f_user_agent] = false;
            if (!tx.has(AppBuffer::http_referer)) record->complete[f_referer] = false;
        }
    } else {
        ResponseLine sl;
        if (parse_response_line(start, sl)) {  // not for an HTTP/0.9 response (no head)
            tx.set(AppBuffer::http_protocol, sl.protocol);
            tx.set(AppBuffer::http_stat_code, sl.code);
            tx.set(AppBuffer::http_stat_msg, sl.message);
            tx.set(AppBuffer::http_response_line, start);
        }
        field(AppBuffer::http_server, "server");
        eve.redirect = field(AppBuffer::http_location, "location");
        eve.content_type = content_type;
        eve.has_status = sl.numeric;
        eve.status = sl.status;
        if (!sl.numeric) eve.status_string = sv(sl.code);
        eve.has_length = true;
        eve.length = h.body_seen;
        // The request's fields, when its record is still held and was not cut.
        if (const PendingRequest* req = request_for_response()) {
            auto req_field = [&](AppBuffer b, ReqField f) -> std::string_view {
                const std::string_view v = req->get(f);
                if (req->complete[f]) tx.set(b, v);
                return v;
            };
            eve.method = req_field(AppBuffer::http_method, f_method);
            eve.url = req_field(AppBuffer::http_raw_uri, f_uri);
            if (req->complete[f_uri]) tx.set(AppBuffer::http_uri, normalize_http_uri(eve.url, s));
            eve.hostname = req_field(AppBuffer::http_host, f_host);
            req_field(AppBuffer::http_raw_host, f_host_raw);
            eve.user_agent = req_field(AppBuffer::http_user_agent, f_user_agent);
            eve.referer = req_field(AppBuffer::http_referer, f_referer);
            eve.protocol = req->get(f_protocol);
            eve.has_port = req->has_port;
            eve.port = req->port;
        }
    }
    if (stage == AppTxStage::body && h.body_seen > 0) {
        tx.set(request ? AppBuffer::http_request_body : AppBuffer::http_response_body, Bytes(h.body));
        tx.set(AppBuffer::file_data, Bytes(h.body));
    }
    tx.write_eve = &write_http_eve;
    tx.eve_ctx = &eve;
    sink_.on_transaction(tx, stage);
    if (record && request && stage == AppTxStage::headers) push_pending(*record);
}

const HttpParser::PendingRequest* HttpParser::request_for_response() {
    const uint64_t want = half(Direction::to_client).tx_id;
    while (ring_count_ && ring_[ring_head_].tx_id < want) {  // records of responses never seen
        ring_head_ = (ring_head_ + 1) % ring_.size();
        --ring_count_;
    }
    return ring_count_ && ring_[ring_head_].tx_id == want ? &ring_[ring_head_] : nullptr;
}

void HttpParser::push_pending(const PendingRequest& p) {
    if (ring_count_ >= ctx_.config().http_max_pending_requests) {
        ctx_.counters.http.inc(HttpCounter::pending_requests_overflow);
        return;
    }
    if (ring_count_ == ring_.size()) {
        std::rotate(ring_.begin(), ring_.begin() + static_cast<std::ptrdiff_t>(ring_head_), ring_.end());
        ring_head_ = 0;
        ring_.push_back(p);
    } else {
        ring_[(ring_head_ + ring_count_) % ring_.size()] = p;
    }
    ++ring_count_;
}

void HttpParser::pop_pending_for(uint64_t tx_id) {
    while (ring_count_ && ring_[ring_head_].tx_id <= tx_id) {
        ring_head_ = (ring_head_ + 1) % ring_.size();
        --ring_count_;
    }
}

void HttpParser::on_gap(Direction dir, uint64_t, uint64_t len) {
    if (state_ != ParserState::active) return;
    Half& h = half(dir);
    switch (h.phase) {
        case Phase::head:
            fail(HttpCounter::gap_in_headers);
            return;
        case Phase::body_length:
        case Phase::chunk_data:
            ctx_.counters.http.inc(HttpCounter::gap_in_body);
            if (len > h.remaining) {
                fail(HttpCounter::gap_lost_framing);
                return;
            }
            h.remaining -= len;
            h.body_seen += len;
            h.body_cut = true;
            if (!h.body_emitted) {
                emit(dir, AppTxStage::body);
                h.body_emitted = true;
            }
            if (h.remaining == 0) {
                if (h.phase == Phase::body_length) {
                    finish_message(dir);
                } else {
                    h.phase = Phase::chunk_end;
                    h.saw_cr = false;
                }
            }
            return;
        case Phase::body_close:
            ctx_.counters.http.inc(HttpCounter::gap_in_body);
            h.body_seen += len;
            h.body_cut = true;
            if (!h.body_emitted) {
                emit(dir, AppTxStage::body);
                h.body_emitted = true;
            }
            return;
        case Phase::tunnel:
            return;
        case Phase::chunk_size:
        case Phase::chunk_end:
        case Phase::chunk_trailer:
            fail(HttpCounter::gap_lost_framing);
            return;
    }
}

void HttpParser::on_end() {
    if (state_ != ParserState::active) return;
    for (const Direction dir : {Direction::to_server, Direction::to_client}) {
        Half& h = half(dir);
        switch (h.phase) {
            case Phase::body_close:
                finish_message(dir);  // the close ends this body
                break;
            case Phase::body_length:
            case Phase::chunk_size:
            case Phase::chunk_data:
            case Phase::chunk_end:
            case Phase::chunk_trailer:
                ctx_.counters.http.inc(HttpCounter::body_incomplete_at_end);
                if (!h.body_emitted) {
                    emit(dir, AppTxStage::body);
                    h.body_emitted = true;
                }
                break;
            case Phase::head:
                flush_partial_head(dir);
                break;
            case Phase::tunnel:
                break;
        }
    }
    state_ = ParserState::done;
}

}  // namespace sluice
