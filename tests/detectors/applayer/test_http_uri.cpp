// http.uri and http.host normalization.
#include <gtest/gtest.h>

#include <string>

#include "detectors/applayer/http_uri.hpp"

namespace sluice {
namespace {

std::string norm(std::string_view raw, size_t cap = 4096) {
    ScratchBuffer s(cap);
    auto v = normalize_http_uri(raw, s);
    return std::string(reinterpret_cast<const char*>(v.data()), v.size());
}

TEST(HttpUri, Normalization) {
    const std::pair<const char*, const char*> cases[] = {
        {"/", "/"},
        {"/index.html", "/index.html"},
        {"/a/./b", "/a/b"},
        {"/a/b/../c", "/a/c"},
        {"/a/b/..", "/a/"},
        {"/a/b/.", "/a/b/"},
        {"/a/b/", "/a/b/"},
        {"/../../etc/passwd", "/etc/passwd"},
        {"//a///b", "/a/b"},
        {"/a\\b\\..\\c", "/a/c"},
        {"/%2e%2e/%2E%2e/x", "/x"},
        {"/a%2fb", "/a/b"},
        {"/%41%42%43", "/ABC"},
        {"/bad%zz%4", "/bad%zz%4"},
        {"/p?q=%41&r=../x", "/p?q=%41&r=../x"},
        {"/p#frag/../x", "/p#frag/../x"},
        {"/p/..?q", "/?q"},
        {"http://host/a/../b?c", "/b?c"},
        {"HTTP://host", "/"},
        {"https://host?x", "/?x"},
        {"*", "*"},
        {"example.com:443", "example.com:443"},
        {"rel%41tive", "relAtive"},
    };
    for (const auto& [in, want] : cases) EXPECT_EQ(norm(in), std::string(want)) << in;
    EXPECT_EQ(norm("/%00x"), std::string("/\0x", 3));
}

TEST(HttpUri, OutputIsBoundedByTheScratch) {
    ScratchBuffer s(8);
    auto v = normalize_http_uri("/aaaaaaaaaaaaaaaaaaaaaaaaaaaa/../b", s);
    EXPECT_LE(v.size(), 8u);
    EXPECT_TRUE(s.overflowed());
    ScratchBuffer empty(0);
    EXPECT_TRUE(normalize_http_uri("/x", empty).empty());
}

TEST(HttpUri, SplitRequestTarget) {
    auto t = split_request_target("http://u@h:1/p?q");
    EXPECT_TRUE(t.absolute);
    EXPECT_EQ(t.authority, "u@h:1");
    EXPECT_EQ(t.path, "/p?q");
    t = split_request_target("/p://x");
    EXPECT_FALSE(t.absolute);
    EXPECT_EQ(t.path, "/p://x");
    t = split_request_target("1http://x/");
    EXPECT_FALSE(t.absolute);
}

TEST(HttpHost, Normalization) {
    struct Case {
        const char* in;
        const char* host;
        bool has_port;
        uint16_t port;
    };
    const Case cases[] = {
        {"WWW.Example.COM", "www.example.com", false, 0},
        {"www.example.com:8080", "www.example.com", true, 8080},
        {"  example.com.  ", "example.com", false, 0},
        {"[::1]", "[::1]", false, 0},
        {"[2001:DB8::1]:443", "[2001:db8::1]", true, 443},
        {"user:pw@Host:81", "host", true, 81},
        {"host:99999", "host", false, 0},
        {"host:", "host", false, 0},
        {"", "", false, 0},
    };
    for (const auto& c : cases) {
        ScratchBuffer s(256);
        const HostPort hp = normalize_http_host(c.in, s);
        EXPECT_EQ(std::string(reinterpret_cast<const char*>(hp.host.data()), hp.host.size()), c.host) << c.in;
        EXPECT_EQ(hp.has_port, c.has_port) << c.in;
        EXPECT_EQ(hp.port, c.port) << c.in;
    }
}

}  // namespace
}  // namespace sluice
