#include "dataplane/json_writer.hpp"

#include <charconv>
#include <cmath>
#include <cstring>

namespace sluice {

void JsonWriter::put(std::string_view s) {
    if (cap_ - len_ < s.size()) {
        overflow_ = true;
        return;
    }
    std::memcpy(buf_ + len_, s.data(), s.size());
    len_ += s.size();
}

void JsonWriter::separator() {
    if (!first_[depth_]) put(',');
    first_[depth_] = false;
}

void JsonWriter::key(std::string_view k) {
    separator();
    string(k);
    put(':');
}

namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 when invalid.
size_t utf8_sequence(std::string_view s, size_t i) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n;
    uint32_t cp;
    if (c < 0x80) return 1;
    if ((c & 0xE0) == 0xC0) { n = 2; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { n = 3; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { n = 4; cp = c & 0x07; }
    else return 0;
    if (i + n > s.size()) return 0;
    for (size_t k = 1; k < n; ++k) {
        const auto cc = static_cast<unsigned char>(s[i + k]);
        if ((cc & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are invalid.
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
        return 0;
    return n;
}

// Bytes written as they are: printable ASCII other than '"' and '\\'.
constexpr bool plain_ascii(unsigned char c) { return c >= 0x20 && c < 0x7f && c != '"' && c != '\\'; }

// Whether all 8 bytes of `x` are plain_ascii (word-at-a-time tests: a byte
// with its high bit set, below 0x20, or equal to '"', '\\' or DEL).
constexpr bool plain_word(uint64_t x) {
    constexpr uint64_t ones = 0x0101010101010101ull;
    constexpr uint64_t highs = 0x8080808080808080ull;
    auto has_zero = [](uint64_t v) { return (v - ones) & ~v & highs; };
    const uint64_t below_space = (x - ones * 0x20) & ~x & highs;
    return ((x & highs) | below_space | has_zero(x ^ (ones * '"')) | has_zero(x ^ (ones * '\\')) |
            has_zero(x ^ (ones * 0x7f))) == 0;
}

}  // namespace

void JsonWriter::string(std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    // Fast path, the common case (keys, names, addresses): room for the
    // quoted string and every byte plain ASCII. Words are tested and stored
    // as they are read; the tail of a string of 4 bytes or more is one more
    // word that overlaps the last one (no byte loop for short keys). The
    // length is committed only when every byte was plain; otherwise the
    // general loop below writes the string again from its start.
    const size_t len = s.size();
    if (!overflow_ && cap_ - len_ >= len + 2) {
        char* out = buf_ + len_ + 1;
        const char* in = s.data();
        bool plain = true;
        if (len >= 8) {
            uint64_t w;
            for (size_t i = 0; plain && i + 8 <= len; i += 8) {
                std::memcpy(&w, in + i, 8);
                plain = plain_word(w);
                std::memcpy(out + i, &w, 8);
            }
            std::memcpy(&w, in + len - 8, 8);
            plain = plain && plain_word(w);
            std::memcpy(out + len - 8, &w, 8);
        } else if (len >= 4) {
            uint32_t a, b;
            std::memcpy(&a, in, 4);
            std::memcpy(&b, in + len - 4, 4);
            plain = plain_word(uint64_t{a} | uint64_t{b} << 32);
            std::memcpy(out, &a, 4);
            std::memcpy(out + len - 4, &b, 4);
        } else {
            for (size_t i = 0; i < len; ++i) {
                plain = plain && plain_ascii(static_cast<unsigned char>(in[i]));
                out[i] = in[i];
            }
        }
        if (plain) {
            out[-1] = '"';
            out[len] = '"';
            len_ += len + 2;
            return;
        }
    }
    put('"');
    size_t i = 0;
    while (i < s.size() && !overflow_) {
        // A run of bytes copied verbatim (plain ASCII and valid UTF-8
        // sequences) goes out with one copy.
        size_t run = i;
        while (run < s.size()) {
            if (run + 8 <= s.size()) {
                uint64_t w;
                std::memcpy(&w, s.data() + run, 8);
                if (plain_word(w)) {
                    run += 8;
                    continue;
                }
            }
            const auto c = static_cast<unsigned char>(s[run]);
            if (plain_ascii(c)) {
                ++run;
                continue;
            }
            if (c < 0x80) break;
            const size_t n = utf8_sequence(s, run);
            if (n == 0) break;
            run += n;
        }
        if (run > i) {
            put(s.substr(i, run - i));
            i = run;
            if (i == s.size()) break;
        }
        const auto c = static_cast<unsigned char>(s[i]);
        switch (c) {
            case '"': put("\\\""); break;
            case '\\': put("\\\\"); break;
            case '\n': put("\\n"); break;
            case '\r': put("\\r"); break;
            case '\t': put("\\t"); break;
            default: {
                // Control characters, DEL and bytes that are not valid UTF-8.
                const char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF]};
                put(std::string_view(esc, 6));
                break;
            }
        }
        ++i;
    }
    put('"');
}

JsonWriter& JsonWriter::begin_object() {
    if (depth_ > 0) separator();
    put('{');
    if (depth_ < kMaxDepth) first_[++depth_] = true;
    else overflow_ = true;
    return *this;
}
JsonWriter& JsonWriter::begin_object(std::string_view k) {
    key(k);
    put('{');
    if (depth_ < kMaxDepth) first_[++depth_] = true;
    else overflow_ = true;
    return *this;
}
JsonWriter& JsonWriter::end_object() {
    put('}');
    if (depth_ > 0) --depth_;
    return *this;
}
JsonWriter& JsonWriter::begin_array() {
    if (depth_ > 0) separator();
    put('[');
    if (depth_ < kMaxDepth) first_[++depth_] = true;
    else overflow_ = true;
    return *this;
}
JsonWriter& JsonWriter::begin_array(std::string_view k) {
    key(k);
    put('[');
    if (depth_ < kMaxDepth) first_[++depth_] = true;
    else overflow_ = true;
    return *this;
}
JsonWriter& JsonWriter::end_array() {
    put(']');
    if (depth_ > 0) --depth_;
    return *this;
}

JsonWriter& JsonWriter::kv(std::string_view k, std::string_view v) {
    key(k);
    string(v);
    return *this;
}
JsonWriter& JsonWriter::kv_bytes(std::string_view k, std::span<const uint8_t> v) {
    return kv(k, std::string_view(reinterpret_cast<const char*>(v.data()), v.size()));
}
template <typename Int>
void JsonWriter::integer(Int v) {
    char tmp[24];
    auto r = std::to_chars(tmp, tmp + sizeof tmp, v);
    put(std::string_view(tmp, static_cast<size_t>(r.ptr - tmp)));
}
void JsonWriter::number(double v) {
    if (!std::isfinite(v)) {
        put("null");
        return;
    }
    char tmp[32];
    auto r = std::to_chars(tmp, tmp + sizeof tmp, v, std::chars_format::fixed, 6);
    put(std::string_view(tmp, static_cast<size_t>(r.ptr - tmp)));
}

JsonWriter& JsonWriter::kv(std::string_view k, uint64_t v) {
    key(k);
    integer(v);
    return *this;
}
JsonWriter& JsonWriter::kv(std::string_view k, int64_t v) {
    key(k);
    integer(v);
    return *this;
}
JsonWriter& JsonWriter::kv(std::string_view k, double v) {
    key(k);
    number(v);
    return *this;
}
JsonWriter& JsonWriter::kv(std::string_view k, bool v) {
    key(k);
    put(v ? "true" : "false");
    return *this;
}
JsonWriter& JsonWriter::kv_null(std::string_view k) {
    key(k);
    put("null");
    return *this;
}
JsonWriter& JsonWriter::kv_raw(std::string_view k, std::string_view json) {
    key(k);
    put(json);
    return *this;
}

JsonWriter& JsonWriter::raw_members(std::string_view json) {
    if (json.empty()) return *this;
    separator();
    put(json);
    return *this;
}

JsonWriter& JsonWriter::value(std::string_view v) {
    separator();
    string(v);
    return *this;
}
JsonWriter& JsonWriter::value_bytes(std::span<const uint8_t> v) {
    return value(std::string_view(reinterpret_cast<const char*>(v.data()), v.size()));
}
JsonWriter& JsonWriter::value(uint64_t v) {
    separator();
    integer(v);
    return *this;
}
JsonWriter& JsonWriter::value(int64_t v) {
    separator();
    integer(v);
    return *this;
}
JsonWriter& JsonWriter::value(double v) {
    separator();
    number(v);
    return *this;
}
JsonWriter& JsonWriter::value(bool v) {
    separator();
    put(v ? "true" : "false");
    return *this;
}

}  // namespace sluice
