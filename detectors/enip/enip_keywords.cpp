#include "detectors/enip/enip_keywords.hpp"

#include <charconv>
#include <optional>
#include <string>

#include "dataplane/byte_reader.hpp"
#include "dataplane/text.hpp"
#include "detectors/enip/enip_decoder.hpp"

namespace sluice {

namespace {

std::optional<uint32_t> parse_number(std::string_view s, uint32_t max) {
    s = trim_blanks_and_quotes(s);
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

const EnipRecord* first_record(const AppRecord& r) {
    if (r.proto != AppProto::enip || r.data == nullptr) return nullptr;
    const auto* rec = static_cast<const EnipRecord*>(r.data);
    return rec->first_of_pdu ? rec : nullptr;
}

class CommandMatcher final : public AppKeywordMatcher {
public:
    explicit CommandMatcher(uint16_t c) : command_(c) {}
    bool match(const AppRecord& r) const override {
        const auto* rec = first_record(r);
        return rec != nullptr && rec->command == command_;
    }

private:
    uint16_t command_;
};

class ServiceMatcher final : public AppKeywordMatcher {
public:
    uint8_t service = 0;
    std::optional<uint32_t> class_id, attribute;

    bool match(const AppRecord& r) const override {
        const auto* rec = first_record(r);
        if (rec == nullptr) return false;
        for (size_t i = 0; i < rec->num_services; ++i)
            if (match_service(rec->services[i])) return true;
        return false;
    }

private:
    bool match_service(const CipService& s) const {
        if (s.code() != service) return false;
        if (class_id && (!s.has_class || s.class_id != *class_id)) return false;
        if (!attribute) return true;
        if (s.has_attribute && s.attribute == *attribute) return true;
        // Get/Set Attribute List name their attributes in the request data.
        ByteReader b(s.attribute_list);
        const uint16_t n = b.le16();
        for (uint16_t k = 0; k < n && !b.failed(); ++k) {
            const uint16_t id = b.le16();
            if (!b.failed() && id == *attribute) return true;
            if (s.code() == 0x04) {  // set: each id is followed by its value, of unknown size
                break;
            }
        }
        return false;
    }
};

}  // namespace

Result<std::unique_ptr<AppKeywordMatcher>> parse_enip_command_keyword(std::string_view value) {
    const std::string_view s = trim_blanks_and_quotes(value);
    if (auto n = parse_number(s, 0xffff)) return std::unique_ptr<AppKeywordMatcher>(new CommandMatcher(static_cast<uint16_t>(*n)));
    for (uint32_t c = 0; c <= 0x73; ++c) {
        const auto name = enip_command_name(static_cast<uint16_t>(c));
        if (!name.empty() && name == s) return std::unique_ptr<AppKeywordMatcher>(new CommandMatcher(static_cast<uint16_t>(c)));
    }
    return make_error("enip_command: unknown command '" + std::string(s.substr(0, 64)) + "'");
}

Result<std::unique_ptr<AppKeywordMatcher>> parse_cip_service_keyword(std::string_view value) {
    std::string_view s = trim_blanks_and_quotes(value);
    std::string_view parts[3];
    size_t n = 0;
    while (true) {
        if (n == 3) return make_error("cip_service: at most service, class and attribute");
        const size_t comma = s.find(',');
        parts[n++] = trim_blanks_and_quotes(s.substr(0, comma));
        if (comma == std::string_view::npos) break;
        s = s.substr(comma + 1);
    }
    auto m = std::make_unique<ServiceMatcher>();
    auto svc = parse_number(parts[0], 0x7f);
    if (!svc) return make_error("cip_service: service must be 0..127");
    m->service = static_cast<uint8_t>(*svc);
    if (n > 1) {
        auto c = parse_number(parts[1], 0xffffffffu);
        if (!c) return make_error("cip_service: invalid class");
        m->class_id = *c;
    }
    if (n > 2) {
        auto a = parse_number(parts[2], 0xffffffffu);
        if (!a) return make_error("cip_service: invalid attribute");
        m->attribute = *a;
    }
    return std::unique_ptr<AppKeywordMatcher>(std::move(m));
}

}  // namespace sluice
