#include "dataplane/json_writer.hpp"

#include <gtest/gtest.h>
#include <time.h>

#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "dataplane/eve.hpp"
#include <nlohmann/json.hpp>

namespace sluice {
namespace {

// EVE timestamps compute the calendar date themselves (no gmtime_r): the text
// is what gmtime_r gives, for the epoch, leap days, century and 400-year
// leap rules, the last second of a day, and random times up to year 9999.
TEST(EveTime, MatchesGmtime) {
    auto expected = [](uint64_t ts_ns) {
        const time_t sec = static_cast<time_t>(ts_ns / 1000000000ull);
        struct tm tm{};
        gmtime_r(&sec, &tm);
        char buf[64];
        std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06u+0000", tm.tm_year + 1900, tm.tm_mon + 1,
                      tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                      static_cast<unsigned>(ts_ns % 1000000000ull / 1000));
        return std::string(buf);
    };
    std::vector<uint64_t> secs = {0, 59, 86399, 86400, 951782400 /* 2000-02-29 */, 951868800, 4107542400 /* 2100-03-01 */,
                                  4107456000, 1767225599, 1767225600, 253402300799 /* 9999-12-31 23:59:59 */};
    std::mt19937_64 rng(7);
    for (int i = 0; i < 200000; ++i) secs.push_back(rng() % 253402300800ull);
    for (uint64_t s : secs) {
        const uint64_t ns = s * 1000000000ull + (s * 7919) % 1000000000ull;
        char got[32];
        ASSERT_EQ(format_eve_time(ns, got), 31u);
        ASSERT_EQ(std::string(got, 31), expected(ns)) << s;
    }
}

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

// Plain strings are written by a fast path that needs room for the whole
// quoted string: exactly enough room writes it, one byte less overflows (and
// writes nothing past the buffer), whatever the length around the 8-byte words.
TEST(JsonWriter, PlainStringsAtTheEdgeOfTheBuffer) {
    for (size_t len = 0; len <= 40; ++len) {
        std::string text;
        for (size_t i = 0; i < len; ++i) text.push_back(static_cast<char>('a' + i % 26));
        std::vector<char> exact(len + 2, '\0');
        JsonWriter w(exact.data(), exact.size());
        w.value(std::string_view(text));
        EXPECT_FALSE(w.overflowed()) << len;
        EXPECT_EQ(w.view(), "\"" + text + "\"") << len;

        std::vector<char> guarded(len + 1 + 16, '#');
        JsonWriter short_by_one(guarded.data(), len + 1);
        short_by_one.value(std::string_view(text));
        EXPECT_TRUE(short_by_one.overflowed()) << len;
        EXPECT_LE(short_by_one.size(), len + 1);
        for (size_t i = len + 1; i < guarded.size(); ++i) ASSERT_EQ(guarded[i], '#') << len;

        // A plain prefix then a byte to escape: the fast path gives up and the
        // general one writes the whole string from its start.
        std::vector<char> big(4 * len + 16);
        JsonWriter esc(big.data(), big.size());
        esc.value(std::string_view(text + "\"" + text));
        EXPECT_EQ(esc.view(), "\"" + text + "\\\"" + text + "\"") << len;
    }
}

// Runs of plain characters are copied at once: the output must be exactly the
// byte-by-byte escaping, whatever mix of runs, escapes and UTF-8 the string holds.
TEST(JsonWriter, EscapesExactlyAroundRunsOfPlainBytes) {
    char buf[512];
    JsonWriter w(buf, sizeof buf);
    const std::string s = std::string("ab\"cd\\\n") + "\x01" + "x\xc3\xa9y" + "\xff" + "\xe2\x82" + "z\t\x7f" + "tail";
    w.begin_object().kv("k", s).kv("", "").kv("q", "\"").end_object();
    EXPECT_EQ(w.view(), "{\"k\":\"ab\\\"cd\\\\\\n\\u0001x\xc3\xa9y\\u00ff\\u00e2\\u0082z\\t\\u007ftail\",\"\":\"\",\"q\":\"\\\"\"}");
    EXPECT_FALSE(w.overflowed());
    // A long run that does not fit: overflow, never a cut event past the buffer.
    char small[16];
    JsonWriter o(small, sizeof small);
    o.begin_object().kv("k", std::string(64, 'a')).end_object();
    EXPECT_TRUE(o.overflowed());
    EXPECT_LE(o.size(), sizeof small);
}

// Every byte value at every position of strings of every length up to 24:
// the output equals the byte-by-byte escaping (word-at-a-time scanning, and
// the overlapping last word of the fast path, must not skip a byte).
TEST(JsonWriter, EveryByteAtEveryOffsetOfEveryShortLength) {
    for (size_t n = 1; n <= 24; ++n) {
        for (int b = 0; b < 256; ++b) {
            for (size_t pos = 0; pos < n; ++pos) {
                std::string s(n, 'a');
                s[pos] = static_cast<char>(b);
                char buf[256];
                JsonWriter w(buf, sizeof buf);
                w.begin_array().value(s).end_array();
                std::string expect = "[\"" + s.substr(0, pos);
                const auto c = static_cast<unsigned char>(b);
                if (c == '"') expect += "\\\"";
                else if (c == '\\') expect += "\\\\";
                else if (c == '\n') expect += "\\n";
                else if (c == '\r') expect += "\\r";
                else if (c == '\t') expect += "\\t";
                else if (c < 0x20 || c >= 0x7f) {  // controls, DEL, and a lone byte >= 0x80 is never valid UTF-8
                    static constexpr char hex[] = "0123456789abcdef";
                    expect += std::string("\\u00") + hex[c >> 4] + hex[c & 0xF];
                } else expect += static_cast<char>(c);
                expect += s.substr(pos + 1) + "\"]";
                ASSERT_EQ(w.view(), expect) << "byte " << b << " at " << pos << " of " << n;
            }
        }
    }
}

TEST(JsonWriter, RawMembersJoinTheObject) {
    char buf[128];
    JsonWriter w(buf, sizeof buf);
    w.begin_object().raw_members(R"("a":1,"b":{"c":2})").raw_members("").kv("d", uint64_t{3}).end_object();
    EXPECT_EQ(w.view(), R"({"a":1,"b":{"c":2},"d":3})");
    JsonWriter w2(buf, sizeof buf);
    w2.begin_object().kv("x", "y").raw_members(R"("a":1)").end_object();
    EXPECT_EQ(w2.view(), R"({"x":"y","a":1})");
}

// Doubles, as members and as array elements, are written the same way: six
// decimals, and null where JSON has no number (NaN, infinities).
TEST(JsonWriter, DoublesAsMembersAndElements) {
    char buf[256];
    JsonWriter w(buf, sizeof buf);
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double inf = std::numeric_limits<double>::infinity();
    w.begin_object().kv("a", 0.5).kv("b", nan).begin_array("c").value(1.25).value(-2.0).value(inf).value(nan);
    w.end_array().kv("d", 192.3).end_object();
    ASSERT_FALSE(w.overflowed());
    EXPECT_EQ(w.view(), R"({"a":0.500000,"b":null,"c":[1.250000,-2.000000,null,null],"d":192.300000})");
    EXPECT_TRUE(nlohmann::json::accept(w.view()));
}

}  // namespace
}  // namespace sluice
