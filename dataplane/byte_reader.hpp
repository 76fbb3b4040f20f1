// ByteReader: a bounds-checked cursor over untrusted bytes, for every protocol
// decoder. A read past the end never touches memory outside the span: it returns
// 0 (or an empty span), and sets failed(), which stays set. Decoders read a whole
// header, then check failed() once.
// Thread rules: plain value type over borrowed memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

namespace sluice {

class ByteReader {
public:
    ByteReader() = default;
    explicit ByteReader(std::span<const uint8_t> data) : data_(data) {}
    ByteReader(const uint8_t* data, size_t len) : data_(data, len) {}

    size_t size() const { return data_.size(); }
    size_t pos() const { return pos_; }
    size_t remaining() const { return data_.size() - pos_; }
    bool failed() const { return failed_; }
    bool has(size_t n) const { return remaining() >= n; }

    // Moves the cursor to an absolute position; past the end fails.
    void seek(size_t pos) {
        if (pos > data_.size()) { fail(); return; }
        pos_ = pos;
    }
    void skip(size_t n) {
        if (!has(n)) { fail(); return; }
        pos_ += n;
    }

    uint8_t u8() { return has(1) ? data_[pos_++] : fail_zero(); }
    uint16_t be16() { return static_cast<uint16_t>(read_be(2)); }
    uint32_t be24() { return static_cast<uint32_t>(read_be(3)); }
    uint32_t be32() { return static_cast<uint32_t>(read_be(4)); }
    uint64_t be64() { return read_be(8); }
    uint16_t le16() { return static_cast<uint16_t>(read_le(2)); }
    uint32_t le24() { return static_cast<uint32_t>(read_le(3)); }
    uint32_t le32() { return static_cast<uint32_t>(read_le(4)); }
    uint64_t le64() { return read_le(8); }

    // n bytes from the cursor; empty span and failed() when fewer remain.
    std::span<const uint8_t> bytes(size_t n) {
        if (!has(n)) { fail(); return {}; }
        auto out = data_.subspan(pos_, n);
        pos_ += n;
        return out;
    }
    std::span<const uint8_t> rest() {
        auto out = data_.subspan(pos_);
        pos_ = data_.size();
        return out;
    }
    // Peeks without moving; failed() is not touched.
    std::span<const uint8_t> peek(size_t n) const {
        return has(n) ? data_.subspan(pos_, n) : std::span<const uint8_t>{};
    }
    std::span<const uint8_t> data() const { return data_; }

private:
    uint64_t read_be(size_t n) {
        if (!has(n)) return fail_zero();
        uint64_t v = 0;
        for (size_t i = 0; i < n; ++i) v = (v << 8) | data_[pos_ + i];
        pos_ += n;
        return v;
    }
    uint64_t read_le(size_t n) {
        if (!has(n)) return fail_zero();
        uint64_t v = 0;
        for (size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(data_[pos_ + i]) << (8 * i);
        pos_ += n;
        return v;
    }
    void fail() { failed_ = true; pos_ = data_.size(); }
    uint8_t fail_zero() { fail(); return 0; }

    std::span<const uint8_t> data_;
    size_t pos_ = 0;
    bool failed_ = false;
};

inline std::string_view as_chars(std::span<const uint8_t> b) {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}
inline std::span<const uint8_t> as_bytes(std::string_view s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace sluice
