#include "detectors/modbus/modbus_keywords.hpp"

#include <array>
#include <charconv>
#include <optional>
#include <string>

#include "dataplane/text.hpp"
#include "detectors/modbus/modbus_decoder.hpp"

namespace sluice {

namespace {

template <typename T>
std::optional<T> parse_uint(std::string_view s) {
    T v{};
    if (s.empty()) return std::nullopt;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 10);
    if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
    return v;
}

// Removes `word` and the blanks after it from the front of `s`.
bool take_word(std::string_view& s, std::string_view word) {
    if (s.substr(0, word.size()) != word) return false;
    s.remove_prefix(word.size());
    s = trim_blanks(s);
    return true;
}

// Suricata's u16 range: n (n..n), <n (0..n), >n (n..65535), n<>m (n..m).
struct U16Range {
    uint16_t start = 0, end = 0;

    bool contains(uint16_t v) const {
        if (start == end) return v == start;
        if (start == 0) return end > v;
        if (end == 0xffff) return start < v;
        return start < v && v < end;
    }
    bool intersects(uint16_t lo, uint16_t hi) const {
        if (start == end) return start >= lo && start <= hi;
        if (start == 0) return end > lo;
        if (end == 0xffff) return start < hi;
        return start < hi && lo < end;
    }
};

Result<U16Range> parse_range(std::string_view s, std::string_view what) {
    s = trim_blanks(s);
    const auto bad = make_error("modbus: invalid " + std::string(what) + " '" + std::string(s) + "'");
    if (s.empty()) return bad;
    if (s.front() == '<' || s.front() == '>') {
        auto n = parse_uint<uint16_t>(s.substr(1));
        if (!n) return bad;
        return s.front() == '<' ? U16Range{0, *n} : U16Range{*n, 0xffff};
    }
    const size_t sep = s.find("<>");
    if (sep == std::string_view::npos) {
        auto n = parse_uint<uint16_t>(s);
        if (!n) return bad;
        return U16Range{*n, *n};
    }
    auto lo = parse_uint<uint16_t>(s.substr(0, sep));
    auto hi = parse_uint<uint16_t>(s.substr(sep + 2));
    if (!lo || !hi || *lo > *hi) return bad;
    return U16Range{*lo, *hi};
}

class ModbusMatcher final : public AppKeywordMatcher {
public:
    std::optional<U16Range> unit;
    // function
    bool has_function = false;
    uint8_t function = 0;
    std::optional<uint16_t> subfunction;
    // category (already negated where the rule says '!')
    bool has_category = false;
    uint8_t category = 0;
    // access
    bool has_access = false;
    uint8_t access_rw = 0;     // modbus_access::read or ::write
    uint8_t access_table = 0;  // one of discretes/coils/input/holding, or 0
    std::optional<U16Range> address;
    std::optional<U16Range> value;

    bool match(const AppRecord& record) const override {
        if (record.proto != AppProto::modbus || record.data == nullptr) return false;
        const auto& rec = *static_cast<const ModbusRecord*>(record.data);
        if (!rec.is_request) return false;
        const ModbusMessage& m = rec.message;
        if (unit && !unit->contains(m.unit_id)) return false;
        if (has_access) {
            if ((m.access & access_rw) == 0) return false;
            if (access_table != 0 && (m.access & access_table) == 0) return false;
            return match_data(m);
        }
        if (has_category) return (m.category & category) != 0;
        if (has_function) {
            if (m.function_raw != function) return false;
            if (subfunction) return m.body == ModbusBody::diagnostic && m.subfunction == *subfunction;
        }
        return true;
    }

private:
    // The request's range, from 1 as Suricata counts: the read range for
    // `access read` on read/write multiple, the written range otherwise.
    bool address_range(const ModbusMessage& m, uint16_t* lo, uint16_t* hi) const {
        auto span = [&](uint16_t addr, uint16_t qty) {
            if (qty == 0 || qty > 0xffff - addr) return false;
            *lo = static_cast<uint16_t>(addr + 1);
            *hi = static_cast<uint16_t>(addr + qty);
            return true;
        };
        switch (m.body) {
            case ModbusBody::read_request: return span(m.read_address, m.read_quantity);
            case ModbusBody::write_multiple: return span(m.write_address, m.write_quantity);
            case ModbusBody::read_write:
                return access_rw == modbus_access::read ? span(m.read_address, m.read_quantity)
                                                        : span(m.write_address, m.write_quantity);
            case ModbusBody::write_single:
            case ModbusBody::write_mask:
                if (m.write_address == 0xffff) return false;
                *lo = *hi = static_cast<uint16_t>(m.write_address + 1);
                return true;
            default: return false;
        }
    }

    // The value written at `address` (from 1), if the request writes it.
    std::optional<uint16_t> written_value(const ModbusMessage& m, uint16_t at) const {
        if (m.body == ModbusBody::write_single) {
            if (at != m.write_address + 1) return std::nullopt;
            if ((m.access & modbus_access::coils) != 0) return static_cast<uint16_t>(m.write_value != 0);
            return m.write_value;
        }
        if (m.body != ModbusBody::write_multiple && m.body != ModbusBody::read_write) return std::nullopt;
        if (at <= m.write_address || at - m.write_address > m.write_quantity) return std::nullopt;
        const size_t idx = static_cast<size_t>(at - m.write_address - 1);
        if ((m.access & modbus_access::coils) != 0) {
            if (idx / 8 >= m.data.size()) return std::nullopt;
            return static_cast<uint16_t>((m.data[idx / 8] >> (idx % 8)) & 1);
        }
        if (idx * 2 + 1 >= m.data.size()) return std::nullopt;
        return static_cast<uint16_t>((m.data[idx * 2] << 8) | m.data[idx * 2 + 1]);
    }

    bool match_data(const ModbusMessage& m) const {
        if (!address) return true;
        uint16_t lo = 0, hi = 0;
        if (!address_range(m, &lo, &hi) || !address->intersects(lo, hi)) return false;
        if (!value) return true;
        auto v = written_value(m, address->start);
        return v && value->contains(*v);
    }
};

std::optional<uint8_t> function_from_name(std::string_view name) {
    for (unsigned f = 1; f < 128; ++f) {
        if (modbus_function_name(static_cast<uint8_t>(f)) == name && (f <= 24 || f == 43)) return static_cast<uint8_t>(f);
        if ((f <= 24 || f == 43) && modbus_function_suricata_name(static_cast<uint8_t>(f)) == name)
            return static_cast<uint8_t>(f);
    }
    return std::nullopt;
}

Status parse_function(std::string_view clause, std::string_view next, ModbusMatcher& m, bool* used_next) {
    using namespace modbus_category;
    std::string_view s = clause;
    take_word(s, "function");
    if (s.empty()) return make_error("modbus: function needs a value");
    if (auto n = parse_uint<unsigned>(s)) {
        if (*n == 0 || *n > 255) return make_error("modbus: function must be 1..255");
        m.has_function = true;
        m.function = static_cast<uint8_t>(*n);
        if (!next.empty()) {
            std::string_view t = next;
            if (!take_word(t, "subfunction")) return make_error("modbus: unexpected '" + std::string(next) + "'");
            auto sub = parse_uint<uint16_t>(t);
            if (!sub) return make_error("modbus: invalid subfunction '" + std::string(t) + "'");
            m.subfunction = *sub;
            *used_next = true;
        }
        return {};
    }
    const bool neg = s.front() == '!';
    std::string_view word = trim_blanks(s.substr(neg ? 1 : 0));
    uint8_t cat = 0;
    if (word == "assigned") cat = public_assigned;
    else if (word == "unassigned") cat = public_unassigned;
    else if (word == "public") cat = public_assigned | public_unassigned;
    else if (word == "user") cat = user_defined;
    else if (word == "reserved") cat = reserved;
    else if (word == "all") cat = public_assigned | public_unassigned | user_defined | reserved;
    if (cat != 0) {
        m.has_category = true;
        m.category = neg ? static_cast<uint8_t>(~cat & 0x0f) : cat;
        return {};
    }
    auto f = function_from_name(word);
    if (!f || neg) return make_error("modbus: unknown function '" + std::string(s) + "'");
    m.has_function = true;
    m.function = *f;
    return {};
}

Status parse_access(std::span<const std::string_view> clauses, ModbusMatcher& m) {
    using namespace modbus_access;
    std::string_view s = clauses[0];
    take_word(s, "access");
    if (take_word(s, "read")) m.access_rw = read;
    else if (take_word(s, "write")) m.access_rw = write;
    else return make_error("modbus: access must be read or write");
    if (!s.empty()) {
        if (s == "discretes") m.access_table = discretes;
        else if (s == "coils") m.access_table = coils;
        else if (s == "input") m.access_table = input;
        else if (s == "holding") m.access_table = holding;
        else return make_error("modbus: unknown table '" + std::string(s) + "'");
        if (m.access_rw == write && (m.access_table == discretes || m.access_table == input))
            return make_error("modbus: discretes and input are read-only tables");
    }
    m.has_access = true;
    if (clauses.size() > 1) {
        std::string_view a = clauses[1];
        if (!take_word(a, "address")) return make_error("modbus: unexpected '" + std::string(clauses[1]) + "'");
        auto r = parse_range(a, "address");
        if (!r) return r.error();
        m.address = *r;
    }
    if (clauses.size() > 2) {
        std::string_view v = clauses[2];
        if (!take_word(v, "value")) return make_error("modbus: unexpected '" + std::string(clauses[2]) + "'");
        if (m.address->start != m.address->end) return make_error("modbus: value needs one exact address");
        if (m.access_rw != write) return make_error("modbus: value works with write access only");
        auto r = parse_range(v, "value");
        if (!r) return r.error();
        m.value = *r;
    }
    if (clauses.size() > 3) return make_error("modbus: too many settings");
    return {};
}

}  // namespace

Result<std::unique_ptr<AppKeywordMatcher>> parse_modbus_keyword(std::string_view value) {
    std::string_view s = trim_blanks(value);
    if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = trim_blanks(s.substr(1, s.size() - 2));
    if (s.empty()) return make_error("modbus: empty value");
    if (s.size() > 256) return make_error("modbus: value too long");

    std::array<std::string_view, 8> clauses{};
    size_t n = 0;
    while (true) {
        const size_t comma = s.find(',');
        if (n == clauses.size()) return make_error("modbus: too many settings");
        clauses[n++] = trim_blanks(s.substr(0, comma));
        if (clauses[n - 1].empty()) return make_error("modbus: empty setting");
        if (comma == std::string_view::npos) break;
        s = s.substr(comma + 1);
    }

    auto m = std::make_unique<ModbusMatcher>();
    size_t i = 0;
    if (clauses[0].substr(0, 4) == "unit") {
        std::string_view u = clauses[0];
        take_word(u, "unit");
        auto r = parse_range(u, "unit");
        if (!r) return r.error();
        m->unit = *r;
        i = 1;
    }
    if (i < n) {
        const std::string_view c = clauses[i];
        if (c.substr(0, 8) == "function") {
            bool used_next = false;
            const std::string_view next = i + 1 < n ? clauses[i + 1] : std::string_view{};
            if (auto st = parse_function(c, next, *m, &used_next); !st) return st.error();
            i += used_next ? 2 : 1;
        } else if (c.substr(0, 6) == "access") {
            if (auto st = parse_access(std::span<const std::string_view>(clauses.data() + i, n - i), *m); !st)
                return st.error();
            i = n;
        } else {
            return make_error("modbus: expected function, access or unit, got '" + std::string(c) + "'");
        }
    }
    if (i != n) return make_error("modbus: unexpected '" + std::string(clauses[i]) + "'");
    return std::unique_ptr<AppKeywordMatcher>(std::move(m));
}

}  // namespace sluice
