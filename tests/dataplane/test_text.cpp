// The shared text helpers: trimming and quoting input for error messages.
#include "dataplane/text.hpp"

#include <gtest/gtest.h>

#include <string>

namespace sluice {
namespace {

TEST(Text, TrimSpaceTakesEveryKindOfWhiteSpace) {
    EXPECT_EQ(trim_space(" \t\r\n\v\fa b\f\v\n\r\t "), "a b");
    EXPECT_EQ(trim_space("ab"), "ab");
    EXPECT_EQ(trim_space(""), "");
    EXPECT_EQ(trim_space(" \r\n "), "");
    static_assert(trim_space("  x ") == "x");
}

TEST(Text, TrimBlanksKeepsLineEnds) {
    EXPECT_EQ(trim_blanks(" \ta b\t "), "a b");
    EXPECT_EQ(trim_blanks("\na\r"), "\na\r");
    EXPECT_EQ(trim_blanks(" \t "), "");
}

TEST(Text, QuotesAroundAKeywordValueComeOff) {
    EXPECT_EQ(trim_blanks_and_quotes(" \"read_coils\" "), "read_coils");
    EXPECT_EQ(trim_blanks_and_quotes("\" \"3\" \""), "3");  // nested, blanks inside
    EXPECT_EQ(trim_blanks_and_quotes("\"a"), "\"a");        // unbalanced: kept
    EXPECT_EQ(trim_blanks_and_quotes("\"\""), "");
    EXPECT_EQ(trim_blanks_and_quotes("\""), "\"");
}

TEST(Text, QuoteForMessageEscapesAndShortens) {
    EXPECT_EQ(quote_for_message("lots"), "\"lots\"");
    EXPECT_EQ(quote_for_message("a\"b\\c"), "\"a\\\"b\\\\c\"");
    EXPECT_EQ(quote_for_message(std::string("a\0\n\x7f\xff", 5)), "\"a\\x00\\x0a\\x7f\xff\"");
    EXPECT_EQ(quote_for_message(std::string(61, 'x')), "\"" + std::string(60, 'x') + "...\"");
    EXPECT_EQ(quote_for_message(std::string(60, 'x')), "\"" + std::string(60, 'x') + "\"");
    EXPECT_EQ(quote_for_message("abcdef", 3), "\"abc...\"");
}

}  // namespace
}  // namespace sluice
