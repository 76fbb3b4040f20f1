#include "signatures/rule_vars.hpp"

#include <algorithm>
#include <charconv>
#include <vector>

namespace sluice {

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// Splits "a,[b,c],d" at top-level commas; false on unbalanced brackets.
bool split_list(std::string_view s, std::vector<std::string_view>& out) {
    int level = 0;
    size_t start = 0;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '[') ++level;
        else if (s[i] == ']') {
            if (--level < 0) return false;
        } else if (s[i] == ',' && level == 0) {
            out.push_back(trim(s.substr(start, i - start)));
            start = i + 1;
        }
    }
    if (level != 0) return false;
    out.push_back(trim(s.substr(start)));
    return true;
}

bool is_bracketed(std::string_view s) {
    if (s.size() < 2 || s.front() != '[' || s.back() != ']') return false;
    int level = 0;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '[') ++level;
        else if (s[i] == ']' && --level == 0 && i + 1 != s.size()) return false;
    }
    return level == 0;
}

IpRangeSet any_addresses() {
    IpRangeSet s;
    s.add_any();
    s.finalize();
    return s;
}

PortSet any_ports() {
    PortSet p;
    p.add(0, 65535);
    p.finalize();
    return p;
}

bool parse_port_number(std::string_view s, uint16_t& out) {
    if (s.empty() || s.size() > 5) return false;
    unsigned v = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || ptr != s.data() + s.size() || v > 65535) return false;
    out = static_cast<uint16_t>(v);
    return true;
}

}  // namespace

IpRangeSet intersect(const IpRangeSet& a, const IpRangeSet& b) {
    IpRangeSet out;
    const auto& ra = a.ranges();
    const auto& rb = b.ranges();
    size_t i = 0, j = 0;
    while (i < ra.size() && j < rb.size()) {
        const IpAddr& lo = ra[i].first < rb[j].first ? rb[j].first : ra[i].first;
        const IpAddr& hi = ra[i].last < rb[j].last ? ra[i].last : rb[j].last;
        if (!(hi < lo)) out.add_range(lo, hi);
        if (ra[i].last < rb[j].last) ++i;
        else ++j;
    }
    out.finalize();
    return out;
}

void PortSet::finalize() {
    std::sort(ranges_.begin(), ranges_.end());
    std::vector<std::pair<uint16_t, uint16_t>> merged;
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
        uint16_t lo = std::max(ranges_[i].first, o.ranges_[j].first);
        uint16_t hi = std::min(ranges_[i].second, o.ranges_[j].second);
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

RuleVars::RuleVars() {
    // Suricata 7 suricata.yaml defaults, plus the Snort names the community rules use.
    addresses_ = {
        {"HOME_NET", "[192.168.0.0/16,10.0.0.0/8,172.16.0.0/12]"},
        {"EXTERNAL_NET", "!$HOME_NET"},
        {"HTTP_SERVERS", "$HOME_NET"},
        {"SMTP_SERVERS", "$HOME_NET"},
        {"SQL_SERVERS", "$HOME_NET"},
        {"DNS_SERVERS", "$HOME_NET"},
        {"TELNET_SERVERS", "$HOME_NET"},
        {"AIM_SERVERS", "$EXTERNAL_NET"},
        {"DC_SERVERS", "$HOME_NET"},
        {"DNP3_SERVER", "$HOME_NET"},
        {"DNP3_CLIENT", "$HOME_NET"},
        {"MODBUS_CLIENT", "$HOME_NET"},
        {"MODBUS_SERVER", "$HOME_NET"},
        {"ENIP_CLIENT", "$HOME_NET"},
        {"ENIP_SERVER", "$HOME_NET"},
        {"SIP_SERVERS", "$HOME_NET"},
        {"SSH_SERVERS", "$HOME_NET"},
        {"FTP_SERVERS", "$HOME_NET"},
        {"SNMP_SERVERS", "$HOME_NET"},
    };
    ports_ = {
        {"HTTP_PORTS", "80"},
        {"SHELLCODE_PORTS", "!80"},
        {"ORACLE_PORTS", "1521"},
        {"SSH_PORTS", "22"},
        {"DNP3_PORTS", "20000"},
        {"MODBUS_PORTS", "502"},
        {"FILE_DATA_PORTS", "[$HTTP_PORTS,110,143]"},
        {"FTP_PORTS", "21"},
        {"GENEVE_PORTS", "6081"},
        {"VXLAN_PORTS", "4789"},
        {"TEREDO_PORTS", "3544"},
        {"SIP_PORTS", "[5060,5061,5600]"},
    };
}

Result<IpRangeSet> RuleVars::resolve_addresses(std::string_view text) const { return address_set(trim(text), 0); }
Result<PortSet> RuleVars::resolve_ports(std::string_view text) const { return port_set(trim(text), 0); }

Result<IpRangeSet> RuleVars::address_set(std::string_view text, int depth) const {
    if (depth > kMaxDepth) return make_error("address variables nest too deep (a loop?)");
    text = trim(text);
    if (text.empty()) return make_error("empty address");
    if (text.front() == '!') {
        auto inner = address_set(text.substr(1), depth + 1);
        if (!inner) return inner;
        return inner->complement();
    }
    if (text.front() == '$') {
        auto it = addresses_.find(text.substr(1));
        if (it == addresses_.end()) return make_error("unknown address variable " + std::string(text));
        return address_set(it->second, depth + 1);
    }
    if (text == "any") return any_addresses();
    if (text.front() == '[') {
        if (!is_bracketed(text)) return make_error("unbalanced brackets in '" + std::string(text) + "'");
        std::vector<std::string_view> items;
        if (!split_list(text.substr(1, text.size() - 2), items)) return make_error("unbalanced brackets in '" + std::string(text) + "'");
        IpRangeSet pos, neg;
        bool have_pos = false, have_neg = false;
        for (auto item : items) {
            if (item.empty()) return make_error("empty element in address list");
            bool negated = false;
            while (!item.empty() && item.front() == '!') {
                negated = !negated;
                item = trim(item.substr(1));
            }
            auto s = address_set(item, depth + 1);
            if (!s) return s;
            if (negated) {
                neg.add_set(*s);
                have_neg = true;
            } else {
                pos.add_set(*s);
                have_pos = true;
            }
        }
        if (!have_pos) pos.add_any();
        pos.finalize();
        if (!have_neg) return pos;
        neg.finalize();
        IpRangeSet out = intersect(pos, neg.complement());
        if (out.empty()) return make_error("address list matches nothing: '" + std::string(text) + "'");
        return out;
    }
    if (text.find(']') != std::string_view::npos || text.find(',') != std::string_view::npos)
        return make_error("bad address '" + std::string(text) + "'");
    IpRangeSet s;
    auto dash = text.find('-');
    if (dash != std::string_view::npos) {  // a.b.c.d-e.f.g.h
        auto a = IpAddr::parse(trim(text.substr(0, dash)));
        auto b = IpAddr::parse(trim(text.substr(dash + 1)));
        if (!a || !b || *b < *a) return make_error("bad address range '" + std::string(text) + "'");
        s.add_range(*a, *b);
    } else if (auto st = s.add(text); !st) {
        return st.error();
    }
    s.finalize();
    return s;
}

Result<PortSet> RuleVars::port_set(std::string_view text, int depth) const {
    if (depth > kMaxDepth) return make_error("port variables nest too deep (a loop?)");
    text = trim(text);
    if (text.empty()) return make_error("empty port");
    if (text.front() == '!') {
        auto inner = port_set(text.substr(1), depth + 1);
        if (!inner) return inner;
        PortSet c = inner->complement();
        c.finalize();
        if (c.empty()) return make_error("port list matches nothing: '" + std::string(text) + "'");
        return c;
    }
    if (text.front() == '$') {
        auto it = ports_.find(text.substr(1));
        if (it == ports_.end()) return make_error("unknown port variable " + std::string(text));
        return port_set(it->second, depth + 1);
    }
    if (text == "any") return any_ports();
    if (text.front() == '[') {
        if (!is_bracketed(text)) return make_error("unbalanced brackets in '" + std::string(text) + "'");
        std::vector<std::string_view> items;
        if (!split_list(text.substr(1, text.size() - 2), items)) return make_error("unbalanced brackets in '" + std::string(text) + "'");
        PortSet pos, neg;
        bool have_pos = false, have_neg = false;
        for (auto item : items) {
            if (item.empty()) return make_error("empty element in port list");
            bool negated = false;
            while (!item.empty() && item.front() == '!') {
                negated = !negated;
                item = trim(item.substr(1));
            }
            auto s = port_set(item, depth + 1);
            if (!s) return s;
            for (const auto& r : s->ranges()) (negated ? neg : pos).add(r.first, r.second);
            (negated ? have_neg : have_pos) = true;
        }
        if (!have_pos) pos.add(0, 65535);
        pos.finalize();
        if (!have_neg) return pos;
        neg.finalize();
        PortSet out = pos.intersect(neg.complement());
        if (out.empty()) return make_error("port list matches nothing: '" + std::string(text) + "'");
        return out;
    }
    PortSet p;
    auto colon = text.find(':');
    if (colon == std::string_view::npos) {
        uint16_t v;
        if (!parse_port_number(text, v)) return make_error("bad port '" + std::string(text) + "'");
        p.add(v, v);
    } else {
        auto lo_s = trim(text.substr(0, colon)), hi_s = trim(text.substr(colon + 1));
        uint16_t lo = 0, hi = 65535;
        if ((!lo_s.empty() && !parse_port_number(lo_s, lo)) || (!hi_s.empty() && !parse_port_number(hi_s, hi)) ||
            (lo_s.empty() && hi_s.empty()) || hi < lo)
            return make_error("bad port range '" + std::string(text) + "'");
        p.add(lo, hi);
    }
    p.finalize();
    return p;
}

std::string RuleVars::fingerprint() const {
    std::string out;
    for (const auto& [k, v] : addresses_) out += "A " + k + "=" + v + "\n";
    for (const auto& [k, v] : ports_) out += "P " + k + "=" + v + "\n";
    return out;
}

}  // namespace sluice
