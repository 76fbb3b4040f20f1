// JsonWriter: writes one JSON document into a caller-owned fixed buffer, with
// no allocation, for EVE events built on the worker. Commas and nesting are
// tracked by the writer; strings are escaped, and bytes that are not valid UTF-8
// are written as \u00XX so an event is always valid JSON whatever the traffic
// held. When the buffer is too small the writer stops writing and overflowed()
// turns true; the caller counts and drops that event, it never emits a cut one.
// Thread rules: one writer per thread, over memory the caller owns.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace sluice {

class JsonWriter {
public:
    JsonWriter(char* buf, size_t cap) : buf_(buf), cap_(cap) {}
    explicit JsonWriter(std::span<char> buf) : JsonWriter(buf.data(), buf.size()) {}

    JsonWriter& begin_object();
    JsonWriter& begin_object(std::string_view key);
    JsonWriter& end_object();
    JsonWriter& begin_array();
    JsonWriter& begin_array(std::string_view key);
    JsonWriter& end_array();

    // Members of the current object.
    JsonWriter& kv(std::string_view key, std::string_view v);
    JsonWriter& kv(std::string_view key, const char* v) { return kv(key, std::string_view(v)); }
    JsonWriter& kv_bytes(std::string_view key, std::span<const uint8_t> v);  // escaped as a string
    JsonWriter& kv(std::string_view key, uint64_t v);
    JsonWriter& kv(std::string_view key, int64_t v);
    JsonWriter& kv(std::string_view key, uint32_t v) { return kv(key, uint64_t{v}); }
    JsonWriter& kv(std::string_view key, int v) { return kv(key, int64_t{v}); }
    JsonWriter& kv(std::string_view key, uint16_t v) { return kv(key, uint64_t{v}); }
    JsonWriter& kv(std::string_view key, unsigned long long v) { return kv(key, static_cast<uint64_t>(v)); }
    JsonWriter& kv(std::string_view key, long long v) { return kv(key, static_cast<int64_t>(v)); }
    JsonWriter& kv(std::string_view key, uint8_t v) { return kv(key, uint64_t{v}); }
    JsonWriter& kv(std::string_view key, double v);
    JsonWriter& kv(std::string_view key, bool v);
    JsonWriter& kv_null(std::string_view key);
    // A member whose value is already valid JSON text (copied verbatim).
    JsonWriter& kv_raw(std::string_view key, std::string_view json);
    // Members already rendered as JSON text (`"a":1,"b":{...}`, as written
    // inside an object), appended verbatim; nothing when empty.
    JsonWriter& raw_members(std::string_view json);

    // Elements of the current array.
    JsonWriter& value(std::string_view v);
    JsonWriter& value(const char* v) { return value(std::string_view(v)); }
    JsonWriter& value(uint64_t v);
    JsonWriter& value(int64_t v);
    JsonWriter& value(bool v);
    JsonWriter& value(double v);  // as kv(double): 6 decimals, null when not finite
    JsonWriter& value_bytes(std::span<const uint8_t> v);

    bool overflowed() const { return overflow_; }
    size_t size() const { return len_; }
    std::string_view view() const { return {buf_, len_}; }
    // Appends raw bytes (a newline after a document, say).
    void append(std::string_view s) { put(s); }

private:
    void put(char c) {
        if (len_ < cap_) buf_[len_++] = c;
        else overflow_ = true;
    }
    void put(std::string_view s);
    void separator();
    void key(std::string_view k);
    void string(std::string_view s);
    template <typename Int>
    void integer(Int v);
    void number(double v);

    char* buf_;
    size_t cap_;
    size_t len_ = 0;
    bool overflow_ = false;
    // first_[d]: no element written yet at nesting depth d.
    static constexpr int kMaxDepth = 32;
    bool first_[kMaxDepth + 1] = {true};
    int depth_ = 0;
};

}  // namespace sluice
