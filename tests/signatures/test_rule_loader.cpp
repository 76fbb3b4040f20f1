// Rule loading: files, directories, include (and include loops), comments,
// continuation lines, per-rule messages "file:line: sid N: reason", counts by
// reason, duplicate sids, and the content hash.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "signatures/rule_loader.hpp"

namespace sluice {
namespace {

namespace fs = std::filesystem;

class RuleLoaderTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir = fs::temp_directory_path() / ("sluice-loader-" + std::to_string(::getpid()) + "-" +
                                           ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir);
        fs::create_directories(dir);
        opts.vars = &vars;
    }
    void TearDown() override { fs::remove_all(dir); }
    std::string write(const std::string& name, const std::string& text) {
        fs::path p = dir / name;
        fs::create_directories(p.parent_path());
        std::ofstream(p) << text;
        return p.string();
    }
    fs::path dir;
    RuleVars vars;
    RuleLoadOptions opts;
};

TEST_F(RuleLoaderTest, CommentsContinuationAndMessages) {
    std::string f = write("a.rules",
                          "# a comment\n"
                          "\n"
                          "   # indented comment\n"
                          "alert tcp any any -> any any (msg:\"one\"; \\\n"
                          "   content:\"x\"; sid:1;)\n"
                          "alert tcp any any -> any any (msg:\"bad\"; frob; sid:2;)\r\n"
                          "alert tcp any any -> any any (msg:\"dup\"; sid:1;)\n"
                          "#alert tcp any any -> any any (msg:\"disabled\"; sid:3;)\n"
                          "alert tcp any any -> any any (msg:\"no sid\";)\n"
                          "alert tcp any any -> any any (msg:\"unsupported\"; xbits:set,a,track ip_src; sid:5;)\n"
                          "alert tcp any any -> any any (msg:\"last\"; sid:6;)");
    LoadedRules lr = load_rules(std::vector<std::string>{f}, opts);
    EXPECT_EQ(lr.report.loaded, 2u);
    EXPECT_EQ(lr.report.skipped, 4u);
    EXPECT_EQ(lr.report.files, 1u);
    EXPECT_EQ(lr.report.skipped_by_reason[static_cast<size_t>(RuleError::unknown_keyword)], 1u);
    EXPECT_EQ(lr.report.skipped_by_reason[static_cast<size_t>(RuleError::duplicate_sid)], 1u);
    EXPECT_EQ(lr.report.skipped_by_reason[static_cast<size_t>(RuleError::missing_sid)], 1u);
    EXPECT_EQ(lr.report.skipped_by_reason[static_cast<size_t>(RuleError::unsupported_keyword)], 1u);
    EXPECT_EQ(lr.report.malformed(), 3u);
    ASSERT_EQ(lr.report.messages.size(), 4u);
    EXPECT_EQ(lr.report.messages[0], f + ":6: sid 2: unknown keyword 'frob'");
    EXPECT_EQ(lr.report.messages[1], f + ":7: sid 1: duplicate sid (gid 1)");
    EXPECT_EQ(lr.rules[0].line, 4u);  // a continued rule reports its first line
    EXPECT_EQ(lr.rules[0].msg, "one");
    EXPECT_EQ(lr.rules[1].sid, 6u);
    EXPECT_EQ(lr.content_sha256.size(), 64u);
}

TEST_F(RuleLoaderTest, DirectoriesIncludesAndLoops) {
    write("set/b.rules", "alert tcp any any -> any any (sid:20;)\n");
    write("set/a.rules", "alert tcp any any -> any any (sid:10;)\ninclude sub/c.rules\n");
    write("set/sub/c.rules", "alert tcp any any -> any any (sid:30;)\ninclude ../a.rules\n");
    write("set/notes.txt", "alert tcp any any -> any any (sid:99;)\n");
    LoadedRules lr = load_rules(std::vector<std::string>{(dir / "set").string()}, opts);
    // a.rules, its include c.rules (whose include of a.rules is a loop), then b.rules
    ASSERT_EQ(lr.rules.size(), 3u);
    EXPECT_EQ(lr.rules[0].sid, 10u);
    EXPECT_EQ(lr.rules[1].sid, 30u);
    EXPECT_EQ(lr.rules[2].sid, 20u);
    EXPECT_EQ(lr.report.skipped_by_reason[static_cast<size_t>(RuleError::include_error)], 1u);
    ASSERT_FALSE(lr.report.messages.empty());
    EXPECT_NE(lr.report.messages[0].find("include loop"), std::string::npos);
}

TEST_F(RuleLoaderTest, MissingFilesAndDeepIncludes) {
    std::string f = write("x.rules", "include nowhere.rules\nalert tcp any any -> any any (sid:1;)\n");
    LoadedRules lr = load_rules(std::vector<std::string>{f, (dir / "missing.rules").string()}, opts);
    EXPECT_EQ(lr.report.loaded, 1u);
    EXPECT_EQ(lr.report.skipped_by_reason[static_cast<size_t>(RuleError::io_error)], 2u);
    // a chain deeper than the limit stops with an include error, not a stack overflow
    for (int i = 0; i < 12; ++i) {
        std::string name = "d", body = "include d";
        name.append(std::to_string(i)).append(".rules");
        body.append(std::to_string(i + 1)).append(".rules\nalert tcp any any -> any any (sid:").append(std::to_string(100 + i)).append(";)\n");
        write(name, body);
    }
    LoadedRules deep = load_rules(std::vector<std::string>{(dir / "d0.rules").string()}, opts);
    EXPECT_EQ(deep.report.skipped_by_reason[static_cast<size_t>(RuleError::include_error)], 1u);
    EXPECT_EQ(deep.report.loaded, 9u);
}

TEST_F(RuleLoaderTest, MessageCapAndHashChangesWithText) {
    std::string many;
    for (int i = 1; i <= 50; ++i) many.append("alert tcp any any -> any any (frob; sid:").append(std::to_string(i)).append(";)\n");
    opts.max_messages = 10;
    LoadedRules lr = load_rules_text(many, "many", opts);
    EXPECT_EQ(lr.report.skipped, 50u);
    EXPECT_EQ(lr.report.messages.size(), 10u);
    EXPECT_EQ(lr.report.messages_dropped, 40u);
    LoadedRules a = load_rules_text("alert tcp any any -> any any (sid:1;)\n", "t", opts);
    LoadedRules b = load_rules_text("alert tcp any any -> any any (sid:2;)\n", "t", opts);
    LoadedRules a2 = load_rules_text("alert tcp any any -> any any (sid:1;)\n", "t", opts);
    EXPECT_NE(a.content_sha256, b.content_sha256);
    EXPECT_EQ(a.content_sha256, a2.content_sha256);
}

TEST_F(RuleLoaderTest, HugeContinuedRuleIsRejectedAndLoadingGoesOn) {
    std::string text;
    for (int i = 0; i < 2000; ++i) text += "alert tcp any any -> any any (content:\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"; \\\n";
    text += "sid:1;)\nalert tcp any any -> any any (sid:2;)\n";
    LoadedRules lr = load_rules_text(text, "huge", opts);
    EXPECT_EQ(lr.report.loaded, 1u);
    EXPECT_EQ(lr.rules[0].sid, 2u);
    EXPECT_EQ(lr.report.skipped_by_reason[static_cast<size_t>(RuleError::syntax)], 1u);
}

}  // namespace
}  // namespace sluice
