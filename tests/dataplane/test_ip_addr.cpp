#include "dataplane/ip_addr.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>

namespace sluice {
namespace {

TEST(IpAddr, ParsesAndFormatsBothFamilies) {
    auto a = IpAddr::parse("198.18.0.1");
    ASSERT_TRUE(a.ok());
    EXPECT_TRUE(a->is_v4());
    EXPECT_EQ(a->v4_host_order(), 0xC6120001u);
    EXPECT_EQ(a->to_string(), "198.18.0.1");
    auto b = IpAddr::parse("2001:db8::1");
    ASSERT_TRUE(b.ok());
    EXPECT_FALSE(b->is_v4());
    EXPECT_EQ(b->to_string(), "2001:db8::1");
    EXPECT_FALSE(IpAddr::parse("198.18.0.256").ok());
    EXPECT_FALSE(IpAddr::parse("").ok());
    EXPECT_FALSE(IpAddr::parse("not an address").ok());
}

// IPv4 is formatted by hand (not inet_ntop): every octet value in every
// position gives inet_ntop's text, and the returned length is the text's.
TEST(IpAddr, FormatsEveryIpv4OctetAsInetNtop) {
    for (int pos = 0; pos < 4; ++pos) {
        for (unsigned v = 0; v < 256; ++v) {
            uint8_t raw[4] = {10, 0, 200, 9};
            raw[pos] = static_cast<uint8_t>(v);
            char want[INET_ADDRSTRLEN];
            ASSERT_NE(inet_ntop(AF_INET, raw, want, sizeof want), nullptr);
            char got[64];
            std::memset(got, 'x', sizeof got);
            const size_t n = IpAddr::v4_bytes(raw).format(got, sizeof got);
            EXPECT_EQ(std::string(got, n), std::string(want));
            EXPECT_EQ(got[n], '\0');
        }
    }
    char small[8];
    EXPECT_EQ(IpAddr::v4(0x01020304).format(small, sizeof small), 0u);  // too small for any address: nothing
}

TEST(IpRangeSet, CidrMembership) {
    IpRangeSet s;
    ASSERT_TRUE(s.add("198.18.0.0/15").ok());
    ASSERT_TRUE(s.add("2001:db8::/32").ok());
    s.finalize();
    EXPECT_TRUE(s.contains(*IpAddr::parse("198.19.255.255")));
    EXPECT_TRUE(s.contains(*IpAddr::parse("198.18.0.0")));
    EXPECT_FALSE(s.contains(*IpAddr::parse("198.20.0.0")));
    EXPECT_FALSE(s.contains(*IpAddr::parse("198.17.255.255")));
    EXPECT_TRUE(s.contains(*IpAddr::parse("2001:db8:ffff::1")));
    EXPECT_FALSE(s.contains(*IpAddr::parse("2001:db9::1")));
}

TEST(IpRangeSet, RejectsBadPrefixes) {
    IpRangeSet s;
    EXPECT_FALSE(s.add("198.18.0.0/33").ok());
    EXPECT_FALSE(s.add("2001:db8::/129").ok());
    EXPECT_FALSE(s.add("198.18.0.0/x").ok());
    EXPECT_FALSE(s.add("198.18.0.0/").ok());
}

TEST(IpRangeSet, MergesAndComplements) {
    IpRangeSet s;
    ASSERT_TRUE(s.add("198.18.0.0/24").ok());
    ASSERT_TRUE(s.add("198.18.1.0/24").ok());
    ASSERT_TRUE(s.add("198.18.0.128/25").ok());
    s.finalize();
    EXPECT_EQ(s.range_count(), 1u);
    IpRangeSet c = s.complement();
    EXPECT_FALSE(c.contains(*IpAddr::parse("198.18.1.7")));
    EXPECT_TRUE(c.contains(*IpAddr::parse("198.18.2.0")));
    EXPECT_TRUE(c.contains(*IpAddr::parse("2001:db8::1")));
    IpRangeSet any;
    any.add_any();
    any.finalize();
    EXPECT_TRUE(any.is_any());
    EXPECT_TRUE(any.complement().empty());
    EXPECT_TRUE(IpRangeSet{}.complement().is_any());
}

}  // namespace
}  // namespace sluice
