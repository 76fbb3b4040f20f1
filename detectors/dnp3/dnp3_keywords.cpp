#include "detectors/dnp3/dnp3_keywords.hpp"

#include <charconv>
#include <optional>
#include <string>

#include "dataplane/text.hpp"
#include "detectors/dnp3/dnp3_decoder.hpp"

namespace sluice {

namespace {

// Decimal, or hexadecimal with 0x.
std::optional<uint32_t> parse_number(std::string_view s, uint32_t max) {
    int base = 10;
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        s.remove_prefix(2);
        base = 16;
    }
    uint32_t v = 0;
    if (s.empty()) return std::nullopt;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
    if (ec != std::errc() || p != s.data() + s.size() || v > max) return std::nullopt;
    return v;
}

const Dnp3Record* dnp3_record(const AppRecord& r) {
    if (r.proto != AppProto::dnp3 || r.data == nullptr) return nullptr;
    return static_cast<const Dnp3Record*>(r.data);
}

class FuncMatcher final : public AppKeywordMatcher {
public:
    explicit FuncMatcher(uint8_t f) : function_(f) {}
    bool match(const AppRecord& r) const override {
        const auto* rec = dnp3_record(r);
        return rec != nullptr && rec->function == function_;
    }

private:
    uint8_t function_;
};

class IndMatcher final : public AppKeywordMatcher {
public:
    explicit IndMatcher(uint16_t mask) : mask_(mask) {}
    bool match(const AppRecord& r) const override {
        const auto* rec = dnp3_record(r);
        return rec != nullptr && rec->has_iin && (rec->iin & mask_) != 0;
    }

private:
    uint16_t mask_;
};

class ObjMatcher final : public AppKeywordMatcher {
public:
    ObjMatcher(uint8_t g, uint8_t v) : group_(g), variation_(v) {}
    bool match(const AppRecord& r) const override {
        const auto* rec = dnp3_record(r);
        if (rec == nullptr) return false;
        for (size_t i = 0; i < rec->num_objects; ++i)
            if (rec->objects[i].group == group_ && rec->objects[i].variation == variation_) return true;
        return false;
    }

private:
    uint8_t group_, variation_;
};

}  // namespace

Result<std::unique_ptr<AppKeywordMatcher>> parse_dnp3_func_keyword(std::string_view value) {
    const std::string_view s = trim_blanks_and_quotes(value);
    if (auto n = parse_number(s, 255)) return std::unique_ptr<AppKeywordMatcher>(new FuncMatcher(static_cast<uint8_t>(*n)));
    for (unsigned f = 0; f < 256; ++f) {
        const auto name = dnp3_function_name(static_cast<uint8_t>(f));
        if (name != "unknown" && name == s) return std::unique_ptr<AppKeywordMatcher>(new FuncMatcher(static_cast<uint8_t>(f)));
    }
    return make_error("dnp3_func: unknown function '" + std::string(s.substr(0, 64)) + "'");
}

Result<std::unique_ptr<AppKeywordMatcher>> parse_dnp3_ind_keyword(std::string_view value) {
    std::string_view s = trim_blanks_and_quotes(value);
    if (s.empty()) return make_error("dnp3_ind: empty value");
    uint16_t mask = 0;
    while (true) {
        const size_t comma = s.find(',');
        const std::string_view flag = trim_blanks_and_quotes(s.substr(0, comma));
        uint16_t bit = 0;
        for (uint32_t b = 1; b <= 0x8000; b <<= 1)
            if (dnp3_iin_name(static_cast<uint16_t>(b)) == flag && !flag.empty()) bit = static_cast<uint16_t>(b);
        if (bit == 0) {
            auto n = parse_number(flag, 0xffff);
            if (!n || *n == 0) return make_error("dnp3_ind: unknown flag '" + std::string(flag.substr(0, 64)) + "'");
            bit = static_cast<uint16_t>(*n);
        }
        mask = static_cast<uint16_t>(mask | bit);
        if (comma == std::string_view::npos) break;
        s = s.substr(comma + 1);
    }
    return std::unique_ptr<AppKeywordMatcher>(new IndMatcher(mask));
}

Result<std::unique_ptr<AppKeywordMatcher>> parse_dnp3_obj_keyword(std::string_view value) {
    const std::string_view s = trim_blanks_and_quotes(value);
    const size_t comma = s.find(',');
    if (comma == std::string_view::npos) return make_error("dnp3_obj: expected <group>,<variation>");
    auto g = parse_number(trim_blanks_and_quotes(s.substr(0, comma)), 255);
    auto v = parse_number(trim_blanks_and_quotes(s.substr(comma + 1)), 255);
    if (!g || !v) return make_error("dnp3_obj: group and variation must be 0..255");
    return std::unique_ptr<AppKeywordMatcher>(new ObjMatcher(static_cast<uint8_t>(*g), static_cast<uint8_t>(*v)));
}

}  // namespace sluice
