// Address and port specifications (see address_spec.hpp). A recursive-descent
// parser over the text; every element evaluates to a set, lists combine their
// elements Suricata's way (union of the positive elements, or "any" when there
// are none, minus the union of the negated ones) and a variable evaluates to
// its own resolved set, cached per call, so repeated references stay linear.
#include "dataplane/address_spec.hpp"

#include <algorithm>
#include <charconv>
#include <optional>

namespace sluice {

// Not an anonymous namespace: SpecResolver::Parsers holds SpecParsers, and a
// member of an anonymous-namespace type in a class with linkage is an error
// when this file is compiled as part of a unity build.
namespace address_spec_detail {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_var_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}
bool is_delim(char c) { return c == ',' || c == '[' || c == ']' || c == '!' || c == '$' || is_space(c); }

std::string quote(std::string_view s) {
    constexpr size_t kShown = 60;  // errors stay one short line even for huge specs
    std::string out = "'";
    if (s.size() > kShown) {
        out.append(s.substr(0, kShown));
        out += "...";
    } else {
        out.append(s);
    }
    out += "'";
    return out;
}

// ---- interval algebra on sorted, disjoint, merged ranges ----------------------

IpRangeSet subtract(const IpRangeSet& a, const IpRangeSet& b) {
    if (b.empty()) return a;
    return a.intersect(b.complement());
}

PortSet subtract(const PortSet& a, const PortSet& b) {
    if (b.empty()) return a;
    return a.intersect(b.complement());
}

// ---- the parser, shared by both kinds through a small traits struct ----------

struct AddressKind {
    using Set = IpRangeSet;
    static constexpr std::string_view what = "address";
    static Set any() {
        Set s;
        s.add_any();
        return s;
    }
    static void add_all(Set& into, const Set& from) { into.add_set(from); }
    static void finish(Set& s) { s.finalize(); }
    static bool empty(const Set& s) { return s.empty(); }
    static Set complement(const Set& s) { return s.complement(); }
    static Set minus(const Set& a, const Set& b) { return subtract(a, b); }

    static std::optional<std::string> add_atom(Set& into, std::string_view atom) {
        // "a.b.c.d-e.f.g.h": an inclusive range.
        if (auto dash = atom.find('-'); dash != std::string_view::npos) {
            auto first = IpAddr::parse(atom.substr(0, dash));
            auto last = IpAddr::parse(atom.substr(dash + 1));
            if (!first || !last) return "bad address range " + quote(atom);
            if (first->is_v4() != last->is_v4()) return "address range mixes IPv4 and IPv6: " + quote(atom);
            if (*last < *first) return "address range runs backwards: " + quote(atom);
            into.add_range(*first, *last);
            return std::nullopt;
        }
        // "a.b.c.d/255.255.0.0": an IPv4 netmask, contiguous only.
        if (auto slash = atom.find('/'); slash != std::string_view::npos && atom.substr(slash + 1).find('.') != std::string_view::npos) {
            auto addr = IpAddr::parse(atom.substr(0, slash));
            auto mask = IpAddr::parse(atom.substr(slash + 1));
            if (!addr || !mask || !addr->is_v4() || !mask->is_v4()) return "bad netmask in " + quote(atom);
            uint32_t m = mask->v4_host_order();
            uint32_t inverted = ~m;
            if ((inverted & (inverted + 1)) != 0) return "netmask is not contiguous in " + quote(atom);
            uint32_t base = addr->v4_host_order() & m;
            into.add_range(IpAddr::v4(base), IpAddr::v4(base | inverted));
            return std::nullopt;
        }
        Status st = into.add(atom);
        if (!st) return st.message();
        return std::nullopt;
    }
};

struct PortKind {
    using Set = PortSet;
    static constexpr std::string_view what = "port";
    static Set any() { return PortSet::all(); }
    static void add_all(Set& into, const Set& from) {
        for (const auto& [lo, hi] : from.ranges()) into.add(lo, hi);
    }
    static void finish(Set& s) { s.finalize(); }
    static bool empty(const Set& s) { return s.empty(); }
    static Set complement(const Set& s) { return s.complement(); }
    static Set minus(const Set& a, const Set& b) { return subtract(a, b); }

    static std::optional<uint32_t> number(std::string_view t) {
        if (t.empty() || t.size() > 5) return std::nullopt;
        uint32_t v = 0;
        auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
        if (ec != std::errc() || p != t.data() + t.size() || v > 65535) return std::nullopt;
        return v;
    }

    static std::optional<std::string> add_atom(Set& into, std::string_view atom) {
        if (atom == "any") {
            into.add(0, 65535);
            return std::nullopt;
        }
        auto colon = atom.find(':');
        if (colon == std::string_view::npos) {
            auto v = number(atom);
            if (!v) return "not a port (0-65535): " + quote(atom);
            into.add(static_cast<uint16_t>(*v), static_cast<uint16_t>(*v));
            return std::nullopt;
        }
        auto a = atom.substr(0, colon);
        auto b = atom.substr(colon + 1);
        if (a.empty() && b.empty()) return "empty port range " + quote(atom);
        auto first = a.empty() ? std::optional<uint32_t>(0) : number(a);
        auto last = b.empty() ? std::optional<uint32_t>(65535) : number(b);
        if (!first || !last) return "bad port range (ports are 0-65535): " + quote(atom);
        if (*last < *first) return "port range runs backwards: " + quote(atom);
        into.add(static_cast<uint16_t>(*first), static_cast<uint16_t>(*last));
        return std::nullopt;
    }
};

template <typename Kind>
class SpecParser {
public:
    using Set = typename Kind::Set;

    explicit SpecParser(const VarMap& vars) : vars_(vars) {}

    // Parses one whole specification; the result is a resolved, finished set.
    Result<Set> parse_whole(std::string_view text, int depth) {
        Cursor c{text, 0};
        skip_space(c);
        if (c.at_end()) return make_error("empty " + std::string(Kind::what) + " specification");
        auto item = parse_element(c, depth);
        if (!item) return item.error();
        skip_space(c);
        if (!c.at_end()) {
            if (c.peek() == ']') return make_error("unbalanced ']' at offset " + std::to_string(c.pos) + " of " + quote(text));
            return make_error("unexpected " + quote(c.text.substr(c.pos, 1)) + " at offset " + std::to_string(c.pos) + " of " + quote(text) +
                              " (lists need brackets: '[a, b]')");
        }
        Set s = resolve(std::move(*item));
        if (Kind::empty(s)) return make_error(quote(text) + " matches no " + std::string(Kind::what));
        return s;
    }

private:
    struct Cursor {
        std::string_view text;
        size_t pos;
        bool at_end() const { return pos >= text.size(); }
        char peek() const { return text[pos]; }
    };
    struct Item {
        Set set;  // finished
        bool negated = false;
    };

    static void skip_space(Cursor& c) {
        while (!c.at_end() && is_space(c.peek())) ++c.pos;
    }

    static Set resolve(Item item) {
        if (!item.negated) return std::move(item.set);
        return Kind::complement(item.set);
    }

    Result<Item> parse_element(Cursor& c, int depth) {
        if (depth > kMaxSpecNesting)
            return make_error(std::string(Kind::what) + " specification nested deeper than " + std::to_string(kMaxSpecNesting) +
                              " levels (lists and variables)");
        skip_space(c);
        if (c.at_end()) return make_error("unexpected end of " + quote(c.text) + " (missing element or ']')");
        char ch = c.peek();
        if (ch == '!') {
            ++c.pos;
            auto inner = parse_element(c, depth + 1);
            if (!inner) return inner;
            inner->negated = !inner->negated;
            return inner;
        }
        if (ch == '[') return parse_list(c, depth);
        if (ch == '$') return parse_variable(c, depth);
        if (ch == ']' || ch == ',') return make_error("unexpected " + quote(c.text.substr(c.pos, 1)) + " at offset " + std::to_string(c.pos) + " of " + quote(c.text));
        size_t start = c.pos;
        while (!c.at_end() && !is_delim(c.peek())) ++c.pos;
        std::string_view atom = c.text.substr(start, c.pos - start);
        // The longest valid element is an IPv6 range (two addresses and a dash).
        if (atom.size() > 100) return make_error("element too long: " + quote(atom));
        for (char a : atom)
            if (static_cast<unsigned char>(a) < 0x20 || static_cast<unsigned char>(a) >= 0x7f)
                return make_error("bad character in " + std::string(Kind::what) + " element " + quote(atom) + " at offset " + std::to_string(start));
        Item item;
        if (auto err = Kind::add_atom(item.set, atom)) return make_error(*err);
        Kind::finish(item.set);
        return item;
    }

    Result<Item> parse_list(Cursor& c, int depth) {
        size_t open = c.pos;
        ++c.pos;  // '['
        Set positive;
        Set negative;
        bool any_positive = false;
        bool first = true;
        for (;;) {
            skip_space(c);
            if (c.at_end()) return make_error("unbalanced '[' at offset " + std::to_string(open) + " of " + quote(c.text));
            if (c.peek() == ']') {
                if (first) return make_error("empty list '[]' at offset " + std::to_string(open) + " of " + quote(c.text));
                return make_error("list ends with ',' at offset " + std::to_string(c.pos) + " of " + quote(c.text));
            }
            auto item = parse_element(c, depth + 1);
            if (!item) return item;
            if (item->negated) {
                Kind::add_all(negative, item->set);
            } else {
                Kind::add_all(positive, item->set);
                any_positive = true;
            }
            first = false;
            skip_space(c);
            if (c.at_end()) return make_error("unbalanced '[' at offset " + std::to_string(open) + " of " + quote(c.text));
            if (c.peek() == ',') {
                ++c.pos;
                continue;
            }
            if (c.peek() == ']') {
                ++c.pos;
                break;
            }
            return make_error("expected ',' or ']' at offset " + std::to_string(c.pos) + " of " + quote(c.text));
        }
        Kind::finish(positive);
        Kind::finish(negative);
        Item out;
        out.set = Kind::minus(any_positive ? positive : Kind::any(), negative);
        if (Kind::empty(out.set))
            return make_error("list at offset " + std::to_string(open) + " of " + quote(c.text) + " matches no " + std::string(Kind::what) +
                              " (everything in it is negated away)");
        return out;
    }

    Result<Item> parse_variable(Cursor& c, int depth) {
        ++c.pos;  // '$'
        size_t start = c.pos;
        while (!c.at_end() && is_var_char(c.peek())) ++c.pos;
        std::string_view name = c.text.substr(start, c.pos - start);
        if (name.empty()) return make_error("'$' without a variable name at offset " + std::to_string(start - 1) + " of " + quote(c.text));
        if (!c.at_end() && !is_delim(c.peek()))
            return make_error("bad character in variable name at offset " + std::to_string(c.pos) + " of " + quote(c.text));
        if (auto hit = cache_.find(name); hit != cache_.end()) return Item{hit->second, false};
        if (std::find(stack_.begin(), stack_.end(), name) != stack_.end()) {
            std::string loop;
            for (auto it = std::find(stack_.begin(), stack_.end(), name); it != stack_.end(); ++it) loop += "$" + std::string(*it) + " -> ";
            return make_error("variable loop: " + loop + "$" + std::string(name));
        }
        auto var = vars_.find(name);
        if (var == vars_.end()) return make_error("unknown " + std::string(Kind::what) + " variable $" + std::string(name));
        stack_.push_back(name);
        auto value = parse_whole(var->second, depth + 1);
        stack_.pop_back();
        if (!value) {
            // Errors from inside a variable say which one ("in $A: in $B: ..."); a loop already names them all.
            if (value.message().rfind("variable loop", 0) == 0) return value.error();
            return make_error("in $" + std::string(name) + ": " + value.message());
        }
        cache_.emplace(std::string(name), *value);
        return Item{std::move(*value), false};
    }

    const VarMap& vars_;
    std::map<std::string, Set, std::less<>> cache_;
    std::vector<std::string_view> stack_;
};

}  // namespace address_spec_detail

using address_spec_detail::AddressKind;
using address_spec_detail::PortKind;
using address_spec_detail::SpecParser;

Result<IpRangeSet> parse_address_spec(std::string_view text, const VarMap& address_groups) {
    SpecParser<AddressKind> p(address_groups);
    return p.parse_whole(text, 0);
}

Result<PortSet> parse_port_spec(std::string_view text, const VarMap& port_groups) {
    SpecParser<PortKind> p(port_groups);
    return p.parse_whole(text, 0);
}

struct SpecResolver::Parsers {
    SpecParser<AddressKind> address;
    SpecParser<PortKind> port;
};

SpecResolver::SpecResolver(const VarMap& address_groups, const VarMap& port_groups)
    : parsers_(std::make_unique<Parsers>(Parsers{SpecParser<AddressKind>(address_groups), SpecParser<PortKind>(port_groups)})) {}

SpecResolver::~SpecResolver() = default;

Result<IpRangeSet> SpecResolver::address(std::string_view text) { return parsers_->address.parse_whole(text, 0); }

Result<PortSet> SpecResolver::port(std::string_view text) { return parsers_->port.parse_whole(text, 0); }

void PortSet::finalize() {
    std::sort(ranges_.begin(), ranges_.end());
    std::vector<std::pair<uint16_t, uint16_t>> merged;
    merged.reserve(ranges_.size());
    for (const auto& r : ranges_) {
        if (!merged.empty() && uint32_t{r.first} <= uint32_t{merged.back().second} + 1) {
            merged.back().second = std::max(merged.back().second, r.second);
            continue;
        }
        merged.push_back(r);
    }
    ranges_ = std::move(merged);
}

PortSet PortSet::complement() const {
    PortSet out;
    uint32_t next = 0;
    for (const auto& r : ranges_) {
        if (r.first > next) out.add(static_cast<uint16_t>(next), static_cast<uint16_t>(r.first - 1));
        next = uint32_t{r.second} + 1;
    }
    if (next <= 65535) out.add(static_cast<uint16_t>(next), 65535);
    return out;
}

PortSet PortSet::intersect(const PortSet& o) const {
    PortSet out;
    size_t i = 0, j = 0;
    while (i < ranges_.size() && j < o.ranges_.size()) {
        const uint16_t lo = std::max(ranges_[i].first, o.ranges_[j].first);
        const uint16_t hi = std::min(ranges_[i].second, o.ranges_[j].second);
        if (lo <= hi) out.add(lo, hi);
        if (ranges_[i].second < o.ranges_[j].second) ++i;
        else ++j;
    }
    out.finalize();
    return out;
}

bool PortSet::contains(uint16_t p) const {
    auto it = std::upper_bound(ranges_.begin(), ranges_.end(), p,
                               [](uint16_t v, const std::pair<uint16_t, uint16_t>& r) { return v < r.first; });
    if (it == ranges_.begin()) return false;
    --it;
    return p <= it->second;
}

}  // namespace sluice
