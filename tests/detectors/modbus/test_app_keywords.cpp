// The protocol keyword table (detectors/app_keywords.cpp): every keyword the
// rule language promises is there once, with its protocol, and its parser
// accepts a valid value and refuses a hostile one.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "detectors/app_record.hpp"

namespace sluice {
namespace {

const AppKeyword* find(std::string_view name) {
    for (const auto& k : app_keywords())
        if (k.name == name) return &k;
    return nullptr;
}

TEST(AppKeywords, TableHoldsEveryOtKeywordOnce) {
    std::set<std::string_view> names;
    for (const auto& k : app_keywords()) {
        EXPECT_TRUE(names.insert(k.name).second) << k.name;
        EXPECT_NE(k.parse, nullptr) << k.name;
    }
    const std::pair<std::string_view, AppProto> expect[] = {
        {"modbus", AppProto::modbus},     {"dnp3_func", AppProto::dnp3},       {"dnp3_ind", AppProto::dnp3},
        {"dnp3_obj", AppProto::dnp3},     {"enip_command", AppProto::enip},    {"cip_service", AppProto::enip}};
    for (const auto& [name, proto] : expect) {
        const AppKeyword* k = find(name);
        ASSERT_NE(k, nullptr) << name;
        EXPECT_EQ(k->proto, proto) << name;
    }
}

TEST(AppKeywords, ParsersAcceptValidAndRefuseHostileValues) {
    const std::pair<std::string_view, std::string_view> good[] = {
        {"modbus", "function 3"},        {"modbus", "unit 1, access write holding, address 100"},
        {"dnp3_func", "direct_operate"}, {"dnp3_ind", "device_restart,need_time"},
        {"dnp3_obj", "12,1"},            {"enip_command", "list_identity"},
        {"cip_service", "16,246,6"}};
    for (const auto& [name, value] : good) {
        auto r = find(name)->parse(value);
        EXPECT_TRUE(r.ok()) << name << ": " << value;
        if (r.ok()) {
            EXPECT_NE(r.value(), nullptr);
            // A record of another protocol never matches.
            AppRecord other;
            other.proto = AppProto::http;
            EXPECT_FALSE(r.value()->match(other));
        }
    }
    const std::string junk(300, '\xff');
    for (const auto& k : app_keywords()) {
        EXPECT_FALSE(k.parse("").ok()) << k.name;
        EXPECT_FALSE(k.parse(junk).ok()) << k.name;
        EXPECT_FALSE(k.parse("\"").ok()) << k.name;
    }
}

}  // namespace
}  // namespace sluice
