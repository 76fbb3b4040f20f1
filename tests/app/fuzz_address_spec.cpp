// Fuzz target: address and port specifications. The first byte picks the
// parser; the rest is the spec text, resolved against variables that nest,
// negate and loop. Accepted sets must be non-empty and well formed.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "dataplane/address_spec.hpp"

namespace {

const sluice::VarMap& address_vars() {
    static const sluice::VarMap v = {
        {"HOME_NET", "[198.18.0.0/15,2001:db8::/32]"}, {"EXTERNAL_NET", "!$HOME_NET"},
        {"PLANT", "[198.18.1.0/24, !198.18.1.7]"},      {"LOOP_A", "[$LOOP_B]"},
        {"LOOP_B", "$LOOP_A"},                         {"BAD", "[198.18.0.0/99]"},
    };
    return v;
}
const sluice::VarMap& port_vars() {
    static const sluice::VarMap v = {
        {"HTTP_PORTS", "[80,8080]"}, {"HIGH", "1024:"}, {"NOT_HTTP", "!$HTTP_PORTS"}, {"LOOP", "[$LOOP,1]"},
    };
    return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
    if (data[0] & 1) {
        auto r = sluice::parse_port_spec(text, port_vars());
        if (!r) return 0;
        // Accepted sets are non-empty, sorted, disjoint and not even adjacent.
        const auto& ranges = r->ranges();
        if (ranges.empty()) std::abort();
        for (size_t i = 0; i < ranges.size(); ++i) {
            if (ranges[i].first > ranges[i].second) std::abort();
            if (i > 0 && uint32_t{ranges[i].first} <= uint32_t{ranges[i - 1].second} + 1) std::abort();
            if (!r->contains(ranges[i].first) || !r->contains(ranges[i].second)) std::abort();
        }
    } else {
        auto r = sluice::parse_address_spec(text, address_vars());
        if (!r) return 0;
        if (r->empty()) std::abort();
        const auto& ranges = r->ranges();
        for (size_t i = 0; i < ranges.size(); ++i) {
            if (ranges[i].last < ranges[i].first) std::abort();
            if (i > 0 && !(ranges[i - 1].last < ranges[i].first)) std::abort();
            if (!r->contains(ranges[i].first) || !r->contains(ranges[i].last)) std::abort();
        }
    }
    return 0;
}
