#include "detectors/ot_policy/ot_learner.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <tuple>

#include "dataplane/eve.hpp"

namespace sluice {

namespace {

uint64_t fnv(uint64_t h, const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    for (size_t i = 0; i < n; ++i) {
        h ^= b[i];
        h *= 0x100000001B3ull;
    }
    return h;
}

// Joins the two neighbours with the smallest gap until at most `max` remain.
template <typename Ranges>
size_t cap_ranges(Ranges& r, size_t n, size_t max) {
    while (n > max && n > 1) {
        size_t best = 0;
        uint64_t gap = UINT64_MAX;
        for (size_t i = 0; i + 1 < n; ++i) {
            const uint64_t g = uint64_t{r[i + 1].first} - r[i].last;
            if (g < gap) {
                gap = g;
                best = i;
            }
        }
        r[best].last = std::max(r[best].last, r[best + 1].last);
        for (size_t i = best + 1; i + 1 < n; ++i) r[i] = r[i + 1];
        --n;
    }
    return n;
}

}  // namespace

OtLearner::OtLearner(uint32_t max_entries, uint32_t max_ranges)
    : max_entries_(std::max<uint32_t>(max_entries, 1)), max_ranges_(std::clamp<uint32_t>(max_ranges, 1, 255)) {
    uint32_t slots = 2;
    while (slots < 2ull * max_entries_) slots <<= 1;
    mask_ = slots - 1;
    index_ = std::make_unique<uint32_t[]>(slots);
    entries_ = std::make_unique<Entry[]>(max_entries_);
    ranges_ = std::make_unique<OtRange[]>(size_t{max_entries_} * (max_ranges_ + 1u));
}

OtLearner::~OtLearner() = default;

void OtLearner::add_range(Entry& e, OtRange* r, uint32_t first, uint32_t last) {
    // Insert in order, then join what overlaps or touches.
    size_t n = e.nranges;
    size_t pos = 0;
    while (pos < n && r[pos].first < first) ++pos;
    // Each entry has max_ranges_ + 1 slots: room for the new one before capping.
    for (size_t i = n; i > pos; --i) r[i] = r[i - 1];
    r[pos] = {first, last};
    ++n;
    size_t w = 0;
    for (size_t i = 1; i < n; ++i) {
        if (r[i].first <= r[w].last || (r[w].last != 0xFFFFFFFFu && r[i].first == r[w].last + 1))
            r[w].last = std::max(r[w].last, r[i].last);
        else
            r[++w] = r[i];
    }
    n = w + 1;
    n = cap_ranges(r, n, max_ranges_);
    e.nranges = static_cast<uint8_t>(n);
}

void OtLearner::observe(const IpAddr& client, const IpAddr& server, int proto_index, const OtOperation& op, uint64_t ts_ns) {
    ++requests_;
    if (!first_ns_ || ts_ns < first_ns_) first_ns_ = ts_ns;
    if (ts_ns > last_ns_) last_ns_ = ts_ns;
    const size_t name_len = std::min(op.function.size(), kNameMax);
    const uint8_t proto = static_cast<uint8_t>(proto_index);
    const uint8_t access = static_cast<uint8_t>(op.access);
    const uint8_t has_unit = op.has_unit ? 1 : 0;
    const uint32_t unit = op.has_unit ? op.unit : 0;
    uint64_t h = 0xCBF29CE484222325ull;
    h = fnv(h, client.b.data(), 16);
    h = fnv(h, server.b.data(), 16);
    h = fnv(h, &proto, 1);
    h = fnv(h, &access, 1);
    h = fnv(h, &has_unit, 1);
    h = fnv(h, &unit, 4);
    h = fnv(h, &op.function_code, 4);
    h = fnv(h, op.function.data(), name_len);
    uint32_t i = static_cast<uint32_t>(h ^ (h >> 32)) & mask_;
    Entry* e = nullptr;
    for (uint32_t probes = 0; probes <= mask_; ++probes, i = (i + 1) & mask_) {
        const uint32_t k = index_[i];
        if (k == 0) {
            if (used_ >= max_entries_) {
                ++dropped_;
                return;
            }
            e = &entries_[used_];
            e->hash = h;
            e->client = client;
            e->server = server;
            e->proto_index = proto;
            e->access = access;
            e->has_unit = has_unit;
            e->unit = unit;
            e->code = op.function_code;
            e->name_len = static_cast<uint8_t>(name_len);
            std::memcpy(e->name, op.function.data(), name_len);
            index_[i] = ++used_;
            break;
        }
        Entry& c = entries_[k - 1];
        if (c.hash == h && c.client == client && c.server == server && c.proto_index == proto && c.access == access &&
            c.has_unit == has_unit && c.unit == unit && c.code == op.function_code && c.name_len == name_len &&
            std::memcmp(c.name, op.function.data(), name_len) == 0) {
            e = &c;
            break;
        }
    }
    if (!e) {
        ++dropped_;
        return;
    }
    ++e->requests;
    if (!op.has_address) {
        e->no_address = 1;
        return;
    }
    const uint32_t lo = std::min(op.address_first, op.address_last), hi = std::max(op.address_first, op.address_last);
    add_range(*e, &ranges_[static_cast<size_t>(e - entries_.get()) * (max_ranges_ + 1u)], lo, hi);
}

void OtLearner::collect(std::vector<LearnedOperation>& out) const {
    for (uint32_t k = 0; k < used_; ++k) {
        const Entry& e = entries_[k];
        LearnedOperation op;
        op.client = e.client;
        op.server = e.server;
        op.proto_index = e.proto_index;
        op.function.assign(e.name, e.name_len);
        op.code = e.code;
        op.access = static_cast<OtAccess>(e.access);
        op.has_unit = e.has_unit != 0;
        op.unit = e.unit;
        op.no_address = e.no_address != 0;
        const OtRange* r = &ranges_[size_t{k} * (max_ranges_ + 1u)];
        op.ranges.assign(r, r + e.nranges);
        op.requests = e.requests;
        out.push_back(std::move(op));
    }
}

std::vector<LearnedOperation> merge_learned(std::span<const OtLearner* const> learners, uint32_t max_ranges) {
    std::vector<LearnedOperation> all;
    for (const OtLearner* l : learners)
        if (l) l->collect(all);
    using Key = std::tuple<IpAddr, IpAddr, int, std::string, uint32_t, int, bool, uint32_t>;
    std::map<Key, LearnedOperation> merged;
    for (auto& op : all) {
        Key k{op.client, op.server, op.proto_index, op.function, op.code, static_cast<int>(op.access), op.has_unit, op.unit};
        auto [it, fresh] = merged.emplace(k, op);
        if (fresh) continue;
        LearnedOperation& m = it->second;
        m.no_address = m.no_address || op.no_address;
        m.requests += op.requests;
        m.ranges.insert(m.ranges.end(), op.ranges.begin(), op.ranges.end());
        merge_ranges(m.ranges);
        m.ranges.resize(cap_ranges(m.ranges, m.ranges.size(), std::max<uint32_t>(max_ranges, 1)));
    }
    std::vector<LearnedOperation> out;
    out.reserve(merged.size());
    for (auto& [k, op] : merged) out.push_back(std::move(op));
    return out;
}

// ---- rendering ---------------------------------------------------------------

namespace {

struct Body {
    int proto = 0;
    std::vector<std::string> functions;  // sorted tokens
    uint8_t access = 0;
    std::vector<std::string> units;      // sorted tokens; empty = any
    std::vector<std::string> addresses;  // tokens; empty = any

    std::string key() const {
        std::string k = fmt::format("{}|", proto);
        for (const auto& f : functions) k += f + ",";
        k += fmt::format("|{}|", access);
        for (const auto& u : units) k += u + ",";
        k += "|";
        for (const auto& a : addresses) k += a + ",";
        return k;
    }
};

std::string unit_token(int proto, bool has_unit, uint32_t unit) {
    if (!has_unit) return "none";
    if (kPolicyProtos[proto] == AppProto::s7comm) {
        std::string s = format_s7_unit(unit);
        if (!s.empty()) return s;
    }
    return std::to_string(unit);
}

std::string function_token(const LearnedOperation& op) {
    if (ot_function_name_is_generic(kPolicyProtos[op.proto_index], op.function, op.code) || op.function.empty())
        return op.code > 0xFFFF ? fmt::format("0x{:x}", op.code) : std::to_string(op.code);
    return op.function;
}

std::vector<std::string> address_tokens(const LearnedOperation& op) {
    std::vector<std::string> t;
    if (op.no_address) t.push_back("none");
    for (const OtRange& r : op.ranges)
        t.push_back(r.first == r.last ? std::to_string(r.first) : fmt::format("{}-{}", r.first, r.last));
    return t;
}

std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + v[i];
    return s;
}

// IPv6 addresses are quoted: "::" reads oddly to some YAML parsers.
std::string addr_text(const IpAddr& a) { return a.is_v4() ? a.to_string() : "\"" + a.to_string() + "\""; }

std::string time_text(uint64_t ns) {
    if (!ns) return "-";
    char t[32];
    format_eve_time(ns, t);
    return std::string(t, 31);
}

}  // namespace

std::string render_learned_policy(std::span<const LearnedOperation> ops, const LearnSummary& s) {
    // 1. Per (client, server, protocol, unit, addresses): the functions.
    using Peer = std::tuple<IpAddr, IpAddr, int>;
    struct FnSet {
        std::set<std::string> tokens;
        uint8_t access = 0;
        uint64_t requests = 0;
    };
    std::map<std::tuple<Peer, std::string, std::string>, FnSet> by_unit;  // (peer, unit, addresses joined)
    std::map<std::string, std::vector<std::string>> addr_tokens;          // joined -> tokens
    for (const LearnedOperation& op : ops) {
        const std::vector<std::string> at = address_tokens(op);
        const std::string aj = join(at);
        addr_tokens[aj] = at;
        FnSet& f = by_unit[{Peer{op.client, op.server, op.proto_index}, unit_token(op.proto_index, op.has_unit, op.unit), aj}];
        f.tokens.insert(function_token(op));
        f.access |= static_cast<uint8_t>(1u << static_cast<unsigned>(op.access));
        f.requests += op.requests;
    }
    // 2. Units sharing the same functions and addresses.
    struct UnitSet {
        std::set<std::string> units;
        uint64_t requests = 0;
    };
    std::map<std::tuple<Peer, std::string, uint8_t, std::string>, UnitSet> by_fn;  // (peer, functions, access, addresses)
    std::map<std::string, std::vector<std::string>> fn_tokens;
    for (const auto& [k, f] : by_unit) {
        std::vector<std::string> fv(f.tokens.begin(), f.tokens.end());
        const std::string fj = join(fv);
        fn_tokens[fj] = fv;
        UnitSet& u = by_fn[{std::get<0>(k), fj, f.access, std::get<2>(k)}];
        u.units.insert(std::get<1>(k));
        u.requests += f.requests;
    }
    // 3. Rule bodies; clients with identical rights on a server, then servers
    //    with identical rights from the same clients.
    std::map<std::string, Body> bodies;
    std::map<std::pair<IpAddr, std::string>, std::set<IpAddr>> clients_of;  // (server, body) -> clients
    std::map<std::string, uint64_t> requests_of;                           // body + peers -> requests
    std::map<std::tuple<IpAddr, IpAddr, std::string>, uint64_t> req_peer;
    for (const auto& [k, u] : by_fn) {
        const auto& [peer, fj, access, aj] = k;
        Body b;
        b.proto = std::get<2>(peer);
        b.functions = fn_tokens[fj];
        b.access = access;
        b.units.assign(u.units.begin(), u.units.end());
        b.addresses = addr_tokens[aj];
        if (b.addresses.empty()) b.addresses.push_back("none");
        const std::string bk = b.key();
        bodies.emplace(bk, b);
        clients_of[{std::get<1>(peer), bk}].insert(std::get<0>(peer));
        req_peer[{std::get<0>(peer), std::get<1>(peer), bk}] += u.requests;
    }
    std::map<std::pair<std::set<IpAddr>, std::string>, std::set<IpAddr>> servers_of;  // (clients, body) -> servers
    for (const auto& [k, clients] : clients_of) servers_of[{clients, k.second}].insert(k.first);

    struct OutRule {
        std::set<IpAddr> clients, servers;
        const Body* body;
        uint64_t requests = 0;
    };
    std::vector<OutRule> rules;
    for (const auto& [k, servers] : servers_of) {
        OutRule r{k.first, servers, &bodies.at(k.second), 0};
        for (const IpAddr& c : r.clients)
            for (const IpAddr& sv : r.servers) {
                auto it = req_peer.find({c, sv, k.second});
                if (it != req_peer.end()) r.requests += it->second;
            }
        rules.push_back(std::move(r));
    }
    std::sort(rules.begin(), rules.end(), [](const OutRule& a, const OutRule& b) {
        return std::tie(a.body->proto, *a.servers.begin(), *a.clients.begin(), a.body->functions, a.body->units, a.body->addresses) <
               std::tie(b.body->proto, *b.servers.begin(), *b.clients.begin(), b.body->functions, b.body->units, b.body->addresses);
    });

    // Asset groups for sets of more than one address, named in order of use.
    std::map<std::set<IpAddr>, std::string> group_names;
    std::vector<const std::set<IpAddr>*> group_order;
    auto spec = [&](const std::set<IpAddr>& set) -> std::string {
        if (set.size() == 1) return addr_text(*set.begin());
        auto it = group_names.find(set);
        if (it != group_names.end()) return it->second;
        const std::string name = fmt::format("group_{}", group_names.size() + 1);
        auto [ins, fresh] = group_names.emplace(set, name);
        group_order.push_back(&ins->first);
        return name;
    };
    std::vector<std::pair<std::string, std::string>> rule_peers;
    for (const OutRule& r : rules) {
        std::string c = spec(r.clients);  // named in this order: clients first
        rule_peers.emplace_back(std::move(c), spec(r.servers));
    }

    std::string out;
    out += fmt::format("# OT policy learned by {} (sluice --learn), {} to {}\n", s.generator.empty() ? "sluice" : s.generator,
                       time_text(s.first_ns), time_text(s.last_ns));
    if (!s.source.empty()) out += fmt::format("# from {}\n", s.source);
    out += fmt::format("# {} requests, {} operations, {} rules.\n", s.requests, ops.size(), rules.size());
    if (s.dropped)
        out += fmt::format("# WARNING: INCOMPLETE: {} requests of operations beyond ot-policy.learn-max-entries ({} per worker)\n"
                           "# were not recorded; raise the limit and learn again.\n", s.dropped, s.max_entries);
    out += "# Review it, then enforce it with: sluice --policy FILE. Anything not allowed below\n"
           "# gets default-action: alert logs it; drop-flow or reject stops it inline (ips mode).\n";
    out += "version: 1\ndefault-action: alert\n";
    if (!group_order.empty()) {
        out += "assets:\n";
        for (const auto* set : group_order) {
            std::vector<std::string> addrs;
            for (const IpAddr& a : *set) addrs.push_back(addr_text(a));
            out += fmt::format("  {}: [{}]\n", group_names.at(*set), join(addrs));
        }
    }
    if (rules.empty()) {
        out += "rules: []\n";
        return out;
    }
    out += "rules:\n";
    for (size_t i = 0; i < rules.size(); ++i) {
        const OutRule& r = rules[i];
        const Body& b = *r.body;
        std::vector<std::string> access;
        for (size_t a = 0; a < static_cast<size_t>(OtAccess::count); ++a)
            if (b.access & (1u << a)) access.emplace_back(to_string(static_cast<OtAccess>(a)));
        out += fmt::format("  - name: learned-{}  # {} request{}\n", i + 1, r.requests, r.requests == 1 ? "" : "s");
        out += fmt::format("    clients: {}\n", rule_peers[i].first);
        out += fmt::format("    servers: {}\n", rule_peers[i].second);
        out += fmt::format("    protocol: {}\n", to_string(kPolicyProtos[b.proto]));
        out += fmt::format("    functions: [{}]\n", join(b.functions));
        out += fmt::format("    access: [{}]\n", join(access));
        out += fmt::format("    units: [{}]\n", join(b.units));
        out += fmt::format("    addresses: [{}]\n", join(b.addresses));
    }
    return out;
}

}  // namespace sluice
