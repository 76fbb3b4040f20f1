#include "dataplane/json_writer.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace sluice {
namespace {

TEST(JsonWriter, NestsAndSeparates) {
    char buf[256];
    JsonWriter w(buf, sizeof buf);
    w.begin_object().kv("a", uint64_t{1}).kv("b", "x").begin_object("c").kv("d", true).end_object();
    w.begin_array("e").value(uint64_t{1}).value("two").begin_object().kv("f", -3).end_object().end_array();
    w.end_object();
    ASSERT_FALSE(w.overflowed());
    EXPECT_EQ(w.view(), R"({"a":1,"b":"x","c":{"d":true},"e":[1,"two",{"f":-3}]})");
}

TEST(JsonWriter, EscapesHostileBytesIntoValidJson) {
    const std::string hostile = std::string("q\"b\\n\n\x01\x7f", 9) + "\xff\xc3\x28" + "\xc3\xa9" + "\xed\xa0\x80";
    char buf[256];
    JsonWriter w(buf, sizeof buf);
    w.begin_object().kv("s", hostile).end_object();
    ASSERT_FALSE(w.overflowed());
    auto j = nlohmann::json::parse(w.view());  // throws when the text is not valid JSON
    EXPECT_EQ(j["s"].get<std::string>().substr(0, 4), "q\"b\\");
    EXPECT_NE(w.view().find("\\u00ff"), std::string_view::npos);
    EXPECT_NE(w.view().find("\xc3\xa9"), std::string_view::npos);  // valid UTF-8 kept as is
    EXPECT_NE(w.view().find("\\u00ed"), std::string_view::npos);   // encoded surrogate rejected
}

TEST(JsonWriter, OverflowIsReportedNotTruncatedSilently) {
    char buf[8];
    JsonWriter w(buf, sizeof buf);
    w.begin_object().kv("long", "0123456789").end_object();
    EXPECT_TRUE(w.overflowed());
    EXPECT_LE(w.size(), sizeof buf);
}

}  // namespace
}  // namespace sluice
