#include "dataplane/ip_addr.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>

namespace sluice {

size_t IpAddr::format(char* buf, size_t cap) const {
    if (cap < INET6_ADDRSTRLEN) return 0;
    if (is_v4()) {
        // Dotted quad written directly: glibc's inet_ntop formats IPv4 with
        // sprintf, which was a visible cost of every EVE event (two addresses each).
        char* p = buf;
        for (int i = 12; i < 16; ++i) {
            const unsigned v = b[static_cast<size_t>(i)];
            if (v >= 100) *p++ = static_cast<char>('0' + v / 100);
            if (v >= 10) *p++ = static_cast<char>('0' + v / 10 % 10);
            *p++ = static_cast<char>('0' + v % 10);
            if (i < 15) *p++ = '.';
        }
        *p = '\0';
        return static_cast<size_t>(p - buf);
    }
    const char* r = inet_ntop(AF_INET6, b.data(), buf, static_cast<socklen_t>(cap));
    return r ? std::strlen(buf) : 0;
}

std::string IpAddr::to_string() const {
    char buf[INET6_ADDRSTRLEN];
    size_t n = format(buf, sizeof buf);
    return std::string(buf, n);
}

Result<IpAddr> IpAddr::parse(std::string_view text) {
    if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return make_error("not an IP address: '" + std::string(text) + "'");
    char buf[INET6_ADDRSTRLEN];
    std::memcpy(buf, text.data(), text.size());
    buf[text.size()] = '\0';
    uint8_t raw[16];
    if (inet_pton(AF_INET, buf, raw) == 1) return IpAddr::v4_bytes(raw);
    if (inet_pton(AF_INET6, buf, raw) == 1) return IpAddr::v6_bytes(raw);
    return make_error("not an IP address: '" + std::string(text) + "'");
}

namespace {

// Sets the low (128 - prefix) bits of the address to `bit`.
IpAddr fill_host_bits(IpAddr a, unsigned prefix, bool bit) {
    for (unsigned i = prefix; i < 128; ++i) {
        uint8_t mask = static_cast<uint8_t>(0x80u >> (i % 8));
        if (bit)
            a.b[i / 8] |= mask;
        else
            a.b[i / 8] &= static_cast<uint8_t>(~mask);
    }
    return a;
}

bool increment(IpAddr& a) {  // false on overflow
    for (int i = 15; i >= 0; --i)
        if (++a.b[static_cast<size_t>(i)] != 0) return true;
    return false;
}
bool decrement(IpAddr& a) {  // false on underflow
    for (int i = 15; i >= 0; --i)
        if (a.b[static_cast<size_t>(i)]-- != 0) return true;
    return false;
}

IpAddr all_ones() {
    IpAddr a;
    a.b.fill(0xff);
    return a;
}

}  // namespace

Status IpRangeSet::add(std::string_view text) {
    if (text == "any") {
        add_any();
        return {};
    }
    auto slash = text.find('/');
    auto addr = IpAddr::parse(text.substr(0, slash));
    if (!addr) return addr.error();
    if (slash == std::string_view::npos) {
        add_range(*addr, *addr);
        return {};
    }
    auto len_text = text.substr(slash + 1);
    unsigned prefix = 0;
    auto [ptr, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), prefix);
    unsigned max = addr->is_v4() ? 32 : 128;
    if (ec != std::errc() || ptr != len_text.data() + len_text.size() || prefix > max)
        return make_error("bad prefix length in '" + std::string(text) + "'");
    if (addr->is_v4()) prefix += 96;
    add_range(fill_host_bits(*addr, prefix, false), fill_host_bits(*addr, prefix, true));
    return {};
}

void IpRangeSet::add_range(const IpAddr& first, const IpAddr& last) {
    if (last < first) return;
    ranges_.push_back({first, last});
}

void IpRangeSet::add_set(const IpRangeSet& other) {
    ranges_.insert(ranges_.end(), other.ranges_.begin(), other.ranges_.end());
}

void IpRangeSet::add_any() { ranges_.push_back({IpAddr{}, all_ones()}); }

void IpRangeSet::finalize() {
    std::sort(ranges_.begin(), ranges_.end(), [](const IpRange& a, const IpRange& b) { return a.first < b.first; });
    std::vector<IpRange> merged;
    merged.reserve(ranges_.size());
    for (const auto& r : ranges_) {
        if (!merged.empty()) {
            IpAddr next = merged.back().last;
            bool adjacent = increment(next) && !(next < r.first);
            if (adjacent || !(merged.back().last < r.first)) {
                if (merged.back().last < r.last) merged.back().last = r.last;
                continue;
            }
        }
        merged.push_back(r);
    }
    ranges_ = std::move(merged);
}

IpRangeSet IpRangeSet::complement() const {
    IpRangeSet out;
    IpAddr cursor{};
    bool done = false;
    for (const auto& r : ranges_) {
        if (cursor < r.first) {
            IpAddr end = r.first;
            decrement(end);
            out.ranges_.push_back({cursor, end});
        }
        cursor = r.last;
        if (!increment(cursor)) {
            done = true;
            break;
        }
    }
    if (!done) out.ranges_.push_back({cursor, all_ones()});
    return out;
}

IpRangeSet IpRangeSet::intersect(const IpRangeSet& other) const {
    IpRangeSet out;
    const auto& x = ranges_;
    const auto& y = other.ranges_;
    size_t i = 0, j = 0;
    while (i < x.size() && j < y.size()) {
        const IpAddr& lo = x[i].first < y[j].first ? y[j].first : x[i].first;
        const IpAddr& hi = x[i].last < y[j].last ? x[i].last : y[j].last;
        if (!(hi < lo)) out.ranges_.push_back({lo, hi});
        if (x[i].last < y[j].last) ++i;
        else ++j;
    }
    return out;  // pieces of sorted disjoint ranges are sorted and disjoint
}

bool IpRangeSet::contains(const IpAddr& a) const {
    auto it = std::upper_bound(ranges_.begin(), ranges_.end(), a,
                               [](const IpAddr& v, const IpRange& r) { return v < r.first; });
    if (it == ranges_.begin()) return false;
    --it;
    return !(it->last < a);
}

bool IpRangeSet::is_any() const {
    return ranges_.size() == 1 && ranges_[0].first == IpAddr{} && ranges_[0].last == all_ones();
}

}  // namespace sluice
