#include "detectors/ot_policy/ot_policy.hpp"
#include "dataplane/text.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace sluice {

namespace {

std::atomic<uint64_t> g_next_policy_id{1};

constexpr std::string_view kActionNames[] = {"allow", "alert", "drop-packet", "drop-flow", "reject"};
constexpr std::string_view kActionEve[] = {"allow", "alert", "drop_packet", "drop_flow", "reject"};

// Reading budget: scalars and items taken from the document, aliases counted
// each time they are used, so `*alias` repetition cannot make compiling slow.
constexpr size_t kMaxScalars = 1u << 20;

bool parse_u32(std::string_view s, uint32_t& out) {
    s = trim_space(s);
    if (s.empty()) return false;
    int base = 10;
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s.remove_prefix(2);
    }
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
    if (ec != std::errc() || p != s.data() + s.size() || v > 0xFFFFFFFFull) return false;
    out = static_cast<uint32_t>(v);
    return true;
}

bool is_name(std::string_view s) {
    if (s.empty() || s.size() > 64) return false;
    for (char c : s)
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
    return true;
}

bool is_function_name(std::string_view s) {
    if (s.empty() || s.size() > 64) return false;
    for (char c : s)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
    return true;
}

struct S7Area {
    std::string_view name;
    uint8_t code;
};
// As the S7comm decoder names them (s7_area_name); DB and DI carry a number.
constexpr S7Area kS7Areas[] = {{"DB", 0x84}, {"DI", 0x85}, {"SI", 0x03}, {"SF", 0x05}, {"AI", 0x06},
                               {"AQ", 0x07}, {"C", 0x1c},  {"T", 0x1d},  {"IEC_C", 0x1e}, {"IEC_T", 0x1f},
                               {"P", 0x80},  {"I", 0x81},  {"Q", 0x82},  {"M", 0x83}, {"L", 0x86}, {"V", 0x87}};

}  // namespace

void merge_ranges(std::vector<OtRange>& r) {
    std::sort(r.begin(), r.end(), [](const OtRange& a, const OtRange& b) { return a.first < b.first; });
    std::vector<OtRange> out;
    for (const OtRange& x : r) {
        if (!out.empty() && (x.first <= out.back().last || (out.back().last != 0xFFFFFFFFu && x.first == out.back().last + 1)))
            out.back().last = std::max(out.back().last, x.last);
        else
            out.push_back(x);
    }
    r = std::move(out);
}

std::string_view to_string(OtAction a) { return kActionNames[static_cast<size_t>(a)]; }
std::string_view eve_name(OtAction a) { return kActionEve[static_cast<size_t>(a)]; }

Result<OtAction> parse_ot_action(std::string_view text) {
    for (size_t i = 0; i < std::size(kActionNames); ++i)
        if (text == kActionNames[i] || text == kActionEve[i]) return static_cast<OtAction>(i);
    return make_error(fmt::format("expected one of allow, alert, drop-packet, drop-flow, reject, got \"{}\"", text));
}

bool parse_s7_unit(std::string_view text, uint32_t& unit) {
    for (const S7Area& a : kS7Areas) {
        if (text.size() < a.name.size() || text.substr(0, a.name.size()) != a.name) continue;
        const std::string_view rest = text.substr(a.name.size());
        const bool numbered = a.code == 0x84 || a.code == 0x85;
        if (rest.empty()) {
            if (numbered) continue;  // "DB" alone names no block
            unit = uint32_t{a.code} << 16;
            return true;
        }
        uint32_t n = 0;
        if (!numbered || !parse_u32(rest, n) || n > 0xFFFF || !std::isdigit(static_cast<unsigned char>(rest[0]))) continue;
        unit = (uint32_t{a.code} << 16) | n;
        return true;
    }
    return false;
}

std::string format_s7_unit(uint32_t unit) {
    const uint8_t area = static_cast<uint8_t>(unit >> 16);
    if (unit >> 24) return {};
    for (const S7Area& a : kS7Areas) {
        if (a.code != area) continue;
        if (a.code == 0x84 || a.code == 0x85) return fmt::format("{}{}", a.name, unit & 0xFFFF);
        if ((unit & 0xFFFF) == 0) return std::string(a.name);
    }
    return {};
}

bool ot_function_name_is_generic(AppProto proto, std::string_view name, uint32_t code) {
    if (name.empty() || name.find("unknown") != std::string_view::npos) return true;
    switch (proto) {
        case AppProto::modbus:
            return name == "user_defined_function" || name == "reserved_function" || name == "unassigned_function" ||
                   name == "invalid_function";
        case AppProto::s7comm:
            // Userdata subfunctions without a name of their own are named by their group.
            if (code >= 0x10000 && code <= 0x1FFFF)
                return name == "mode_transition" || name == "programmer_commands" || name == "cyclic_data" ||
                       name == "block_functions" || name == "cpu_functions" || name == "security" ||
                       name == "pbc_bsend_brecv" || name == "time_functions" || name == "nc_programming";
            return name == "s7comm_plus";
        case AppProto::enip: return name == "class_specific_service";
        default: return false;
    }
}

bool OtValueSet::matches(bool has, uint32_t first, uint32_t last) const {
    if (any) return true;
    if (!has) return none;
    // The first range starting after `first`, then the one before it.
    auto it = std::upper_bound(ranges.begin(), ranges.end(), first, [](uint32_t v, const OtRange& r) { return v < r.first; });
    if (it == ranges.begin()) return false;
    --it;
    return it->first <= first && last <= it->last;
}

bool OtRule::matches_operation(const OtOperation& op) const {
    // The cheap tests first (access class, unit), the function names last.
    if (!(access & (1u << static_cast<unsigned>(op.access)))) return false;
    if (!units.matches(op.has_unit, op.unit, op.unit)) return false;
    if (!any_function) {
        bool hit = std::find(function_codes.begin(), function_codes.end(), op.function_code) != function_codes.end();
        if (!hit)
            for (const auto& n : function_names)
                if (n.size() == op.function.size() && n == op.function) {  // sizes first: most names differ in length
                    hit = true;
                    break;
                }
        if (!hit) return false;
    }
    const uint32_t lo = std::min(op.address_first, op.address_last);
    const uint32_t hi = std::max(op.address_first, op.address_last);
    return addresses.matches(op.has_address, lo, hi);
}

// ---- compiling ---------------------------------------------------------------

class OtPolicyCompiler {
public:
    OtPolicyCompiler(std::string_view name, const VarMap& vars, const OtPolicyLimits& limits)
        : name_(name), vars_(vars), limits_(limits) {}

    Result<std::shared_ptr<const OtPolicy>> compile(std::string_view text) {
        if (text.size() > limits_.max_file_bytes)
            return make_error(fmt::format("{}: the policy is larger than {} bytes", name_, limits_.max_file_bytes));
        YAML::Node root;
        try {
            root = YAML::Load(std::string(text));
        } catch (const YAML::Exception& e) {
            return make_error(fmt::format("{}:{}:{}: {}", name_, e.mark.line + 1, e.mark.column + 1, one_line(e.msg)));
        }
        try {
            auto p = std::shared_ptr<OtPolicy>(new OtPolicy());
            p->source_ = std::string(name_);
            if (auto s = read(root, *p); !s) return s.error();
            p->id_ = g_next_policy_id.fetch_add(1);
            return std::shared_ptr<const OtPolicy>(std::move(p));
        } catch (const YAML::Exception& e) {
            return make_error(fmt::format("{}:{}:{}: {}", name_, e.mark.line + 1, e.mark.column + 1, one_line(e.msg)));
        } catch (const std::exception& e) {
            return make_error(fmt::format("{}: {}", name_, one_line(e.what())));
        }
    }

private:
    static std::string one_line(std::string s) {
        for (char& c : s)
            if (c == '\n' || c == '\r') c = ' ';
        return s;
    }

    std::string at(const YAML::Node& n) const {
        const YAML::Mark m = n.Mark();
        if (m.is_null() || m.line < 0) return std::string(name_);
        return fmt::format("{}:{}:{}", name_, m.line + 1, m.column + 1);
    }
    Error err(const YAML::Node& n, std::string_view what, std::string_view msg) const {
        return make_error(what.empty() ? fmt::format("{}: {}", at(n), msg) : fmt::format("{}: {}: {}", at(n), what, msg));
    }
    static std::string_view kind(const YAML::Node& n) {
        switch (n.Type()) {
            case YAML::NodeType::Map: return "a map";
            case YAML::NodeType::Sequence: return "a list";
            case YAML::NodeType::Scalar: return "a scalar";
            case YAML::NodeType::Null: return "nothing";
            default: return "an undefined node";
        }
    }
    bool spend(size_t n = 1) {
        taken_ += n;
        return taken_ <= kMaxScalars;
    }
    Error budget(const YAML::Node& n) const {
        return err(n, "", fmt::format("the policy holds more than {} values once YAML aliases are expanded", kMaxScalars));
    }

    // A scalar, or a list of scalars, as strings.
    Status scalars(const YAML::Node& n, std::string_view what, std::vector<std::pair<std::string, YAML::Node>>& out) {
        if (n.IsScalar()) {
            if (!spend()) return budget(n);
            out.emplace_back(n.Scalar(), n);
            return {};
        }
        if (!n.IsSequence()) return err(n, what, fmt::format("expected a value or a list of values, got {}", kind(n)));
        if (n.size() == 0) return err(n, what, "the list is empty (leave the key out to mean any)");
        if (!spend(n.size())) return budget(n);
        for (const auto& item : n) {
            if (!item.IsScalar()) return err(item, what, fmt::format("expected a value, got {}", kind(item)));
            out.emplace_back(item.Scalar(), item);
        }
        return {};
    }

    // An address spec: a scalar (an asset name, "$VAR", a CIDR, "[...]", "any")
    // or a list of them.
    Result<IpRangeSet> address_spec(const YAML::Node& n, std::string_view what, std::string* text_out) {
        std::vector<std::pair<std::string, YAML::Node>> items;
        if (auto s = scalars(n, what, items); !s) return s.error();
        std::string text;
        auto one = [this](const std::string& t) { return assets_.count(t) ? "$" + t : t; };
        if (items.size() == 1) {
            text = one(std::string(trim_space(items[0].first)));
        } else {
            text = "[";
            for (size_t i = 0; i < items.size(); ++i) text += (i ? ", " : "") + one(std::string(trim_space(items[i].first)));
            text += "]";
        }
        if (text_out) *text_out = items.size() == 1 ? std::string(trim_space(items[0].first)) : text;
        auto set = parse_address_spec(text, all_vars_);
        if (!set) return err(n, what, set.message());
        return set;
    }

    // Unit ids or addresses: numbers, "a-b" ranges, "none"; S7 area names for units.
    Status value_set(const YAML::Node& n, std::string_view what, bool units, uint8_t protocols, OtValueSet& out) {
        std::vector<std::pair<std::string, YAML::Node>> items;
        if (auto s = scalars(n, what, items); !s) return s;
        out.any = false;
        for (const auto& [raw, node] : items) {
            const std::string_view t = trim_space(raw);
            if (t == "any") {
                out.any = true;
                continue;
            }
            if (t == "none") {
                out.none = true;
                continue;
            }
            OtRange r;
            const size_t dash = t.find('-', 1);
            bool ok;
            if (dash == std::string_view::npos) {
                ok = parse_u32(t, r.first);
                if (!ok && units && (protocols & (1u << policy_proto_index(AppProto::s7comm)))) ok = parse_s7_unit(t, r.first);
                r.last = r.first;
            } else {
                ok = parse_u32(t.substr(0, dash), r.first) && parse_u32(t.substr(dash + 1), r.last);
                if (!ok && units && (protocols & (1u << policy_proto_index(AppProto::s7comm))))
                    ok = parse_s7_unit(trim_space(t.substr(0, dash)), r.first) && parse_s7_unit(trim_space(t.substr(dash + 1)), r.last);
                if (ok && r.last < r.first)
                    return err(node, what, fmt::format("range \"{}\" ends before it starts", t));
            }
            if (!ok)
                return err(node, what,
                           fmt::format("expected a number, a range \"first-last\"{} or none, got \"{}\"",
                                       units ? ", an S7 area (DB1, M, I, Q, ...)" : "", t));
            out.ranges.push_back(r);
        }
        if (out.any) {
            out.none = false;
            out.ranges.clear();
        }
        merge_ranges(out.ranges);
        return {};
    }

    Status read(const YAML::Node& root, OtPolicy& p) {
        if (root.IsNull()) return make_error(fmt::format("{}: the policy is empty", name_));
        if (!root.IsMap()) return err(root, "", fmt::format("expected a map (assets, zones, rules), got {}", kind(root)));
        static const std::set<std::string_view> known = {"version", "default-action", "assets", "zones", "rules"};
        std::set<std::string> seen;
        for (const auto& kv : root) {
            if (!spend()) return budget(kv.first);
            const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : std::string();
            if (!known.count(key))
                return err(kv.first, "", fmt::format("unknown key \"{}\" (expected version, default-action, assets, zones, rules)", key));
            if (!seen.insert(key).second) return err(kv.first, key, "given twice");
        }
        if (const auto v = root["version"]; v) {
            if (!v.IsScalar() || trim_space(v.Scalar()) != "1") return err(v, "version", "only version 1 exists");
        }
        if (const auto v = root["default-action"]; v) {
            if (!v.IsScalar()) return err(v, "default-action", fmt::format("expected an action, got {}", kind(v)));
            auto a = parse_ot_action(trim_space(v.Scalar()));
            if (!a) return err(v, "default-action", a.message());
            p.default_action_ = *a;
        }
        all_vars_ = vars_;
        if (const auto a = root["assets"]; a) {
            if (auto s = read_assets(a); !s) return s;
        }
        if (const auto z = root["zones"]; z) {
            if (auto s = read_zones(z, p); !s) return s;
        }
        if (const auto r = root["rules"]; r) {
            if (auto s = read_rules(r, p); !s) return s;
        }
        for (size_t i = 0; i < p.rules_.size(); ++i)
            for (size_t k = 0; k < kPolicyProtoCount; ++k)
                if (p.rules_[i].protocols & (1u << k)) p.by_proto_[k].push_back(static_cast<uint32_t>(i));
        return {};
    }

    Status count_item(const YAML::Node& n) {
        if (++items_ > limits_.max_items)
            return err(n, "", fmt::format("more than {} assets, zones and rules (ot-policy.max-rules)", limits_.max_items));
        return {};
    }

    Status read_assets(const YAML::Node& a) {
        if (a.IsNull()) return {};
        if (!a.IsMap()) return err(a, "assets", fmt::format("expected a map of name: address spec, got {}", kind(a)));
        // Names first, so that groups may refer to each other in any order.
        for (const auto& kv : a) {
            if (!spend()) return budget(kv.first);
            if (auto s = count_item(kv.first); !s) return s;
            const std::string name = kv.first.IsScalar() ? kv.first.Scalar() : std::string();
            if (!is_name(name))
                return err(kv.first, "assets", fmt::format("\"{}\" is not a name (letters, digits and '_', at most 64)", name));
            if (assets_.count(name)) return err(kv.first, "assets", fmt::format("\"{}\" is given twice", name));
            assets_.insert(name);
        }
        for (const auto& kv : a) {
            std::vector<std::pair<std::string, YAML::Node>> items;
            const std::string what = "assets." + kv.first.Scalar();
            if (auto s = scalars(kv.second, what, items); !s) return s;
            std::string text;
            auto one = [this](const std::string& t) { return assets_.count(t) ? "$" + t : t; };
            if (items.size() == 1) {
                text = one(std::string(trim_space(items[0].first)));
            } else {
                text = "[";
                for (size_t i = 0; i < items.size(); ++i) text += (i ? ", " : "") + one(std::string(trim_space(items[i].first)));
                text += "]";
            }
            all_vars_[kv.first.Scalar()] = text;
        }
        // Each group must resolve (unknown names, loops).
        for (const auto& kv : a) {
            if (auto s = parse_address_spec("$" + kv.first.Scalar(), all_vars_); !s)
                return err(kv.second, "assets." + kv.first.Scalar(), s.message());
        }
        return {};
    }

    Status read_zones(const YAML::Node& z, OtPolicy& p) {
        if (z.IsNull()) return {};
        if (!z.IsSequence()) return err(z, "zones", fmt::format("expected a list of zones, got {}", kind(z)));
        std::set<std::string> names;
        for (const auto& item : z) {
            if (!spend()) return budget(item);
            if (auto s = count_item(item); !s) return s;
            const std::string what = fmt::format("zones[{}]", p.zones_.size());
            if (!item.IsMap()) return err(item, what, fmt::format("expected a map (name, addresses, action), got {}", kind(item)));
            OtZone zone;
            zone.where = at(item);
            bool has_addresses = false;
            for (const auto& kv : item) {
                if (!spend()) return budget(kv.first);
                const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : std::string();
                const YAML::Node& v = kv.second;
                if (key == "name") {
                    if (!v.IsScalar() || !is_name(v.Scalar()))
                        return err(v, what + ".name", "expected a name (letters, digits and '_', at most 64)");
                    zone.name = v.Scalar();
                } else if (key == "addresses" || key == "address") {
                    auto set = address_spec(v, what + "." + key, nullptr);
                    if (!set) return set.error();
                    zone.addresses = std::move(*set);
                    has_addresses = true;
                } else if (key == "action") {
                    if (!v.IsScalar()) return err(v, what + ".action", fmt::format("expected an action, got {}", kind(v)));
                    auto a = parse_ot_action(trim_space(v.Scalar()));
                    if (!a) return err(v, what + ".action", a.message());
                    zone.action = *a;
                } else {
                    return err(kv.first, what, fmt::format("unknown key \"{}\" (expected name, addresses, action)", key));
                }
            }
            if (zone.name.empty()) zone.name = fmt::format("zone_{}", p.zones_.size() + 1);
            if (!has_addresses) return err(item, what, "addresses is missing");
            if (!names.insert(zone.name).second) return err(item, what, fmt::format("zone \"{}\" is given twice", zone.name));
            p.zones_.push_back(std::move(zone));
        }
        return {};
    }

    Status read_protocols(const YAML::Node& v, const std::string& what, uint8_t& out) {
        std::vector<std::pair<std::string, YAML::Node>> items;
        if (auto s = scalars(v, what, items); !s) return s;
        out = 0;
        for (const auto& [raw, node] : items) {
            const std::string_view t = trim_space(raw);
            if (t == "any") {
                out = kAllPolicyProtos;
                continue;
            }
            const auto proto = app_proto_from_name(t);
            const int idx = proto ? policy_proto_index(*proto) : -1;
            if (idx < 0)
                return err(node, what, fmt::format("\"{}\" is not an OT protocol (modbus, s7comm, dnp3, iec104, enip, any)", t));
            out |= static_cast<uint8_t>(1u << idx);
        }
        return {};
    }

    Status read_rules(const YAML::Node& r, OtPolicy& p) {
        if (r.IsNull()) return {};
        if (!r.IsSequence()) return err(r, "rules", fmt::format("expected a list of rules, got {}", kind(r)));
        std::set<std::string> names;
        for (const auto& item : r) {
            if (!spend()) return budget(item);
            if (auto s = count_item(item); !s) return s;
            const std::string what = fmt::format("rules[{}]", p.rules_.size());
            if (!item.IsMap()) return err(item, what, fmt::format("expected a map (clients, servers, protocol, ...), got {}", kind(item)));
            OtRule rule;
            rule.where = at(item);
            rule.clients.add_any();
            rule.clients.finalize();
            rule.servers.add_any();
            rule.servers.finalize();
            rule.clients_text = rule.servers_text = "any";
            // The protocol first: S7 unit names depend on it.
            std::set<std::string> keys;
            for (const auto& kv : item) {
                if (!spend()) return budget(kv.first);
                const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : std::string();
                std::string canon = key;
                if (key == "client") canon = "clients";
                if (key == "server") canon = "servers";
                if (key == "protocols") canon = "protocol";
                if (key == "function") canon = "functions";
                if (key == "unit") canon = "units";
                if (key == "address") canon = "addresses";
                static const std::set<std::string_view> known = {"name", "action", "clients", "servers", "protocol",
                                                                 "functions", "access", "units", "addresses"};
                if (!known.count(canon))
                    return err(kv.first, what,
                               fmt::format("unknown key \"{}\" (expected name, action, clients, servers, protocol, functions, "
                                           "access, units, addresses)", key));
                if (!keys.insert(canon).second) return err(kv.first, what, fmt::format("\"{}\" is given twice", canon));
                if (canon == "protocol")
                    if (auto s = read_protocols(kv.second, what + ".protocol", rule.protocols); !s) return s;
            }
            for (const auto& kv : item) {
                const std::string key = kv.first.Scalar();
                const YAML::Node& v = kv.second;
                const std::string w = what + "." + key;
                if (key == "name") {
                    if (!v.IsScalar() || v.Scalar().empty() || v.Scalar().size() > 128)
                        return err(v, w, "expected a name of 1 to 128 characters");
                    for (char c : v.Scalar())
                        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return err(v, w, "contains a control character");
                    rule.name = v.Scalar();
                } else if (key == "action") {
                    const std::string_view t = v.IsScalar() ? trim_space(v.Scalar()) : std::string_view();
                    if (t == "allow") rule.deny = false;
                    else if (t == "deny") rule.deny = true;
                    else return err(v, w, "expected allow or deny");
                } else if (key == "clients" || key == "client") {
                    auto set = address_spec(v, w, &rule.clients_text);
                    if (!set) return set.error();
                    rule.clients = std::move(*set);
                } else if (key == "servers" || key == "server") {
                    auto set = address_spec(v, w, &rule.servers_text);
                    if (!set) return set.error();
                    rule.servers = std::move(*set);
                } else if (key == "functions" || key == "function") {
                    std::vector<std::pair<std::string, YAML::Node>> items;
                    if (auto s = scalars(v, w, items); !s) return s;
                    for (const auto& [raw, node] : items) {
                        const std::string_view t = trim_space(raw);
                        if (t == "any") {
                            rule.function_names.clear();
                            rule.function_codes.clear();
                            rule.any_function = true;
                            break;
                        }
                        rule.any_function = false;
                        uint32_t code = 0;
                        if (parse_u32(t, code)) rule.function_codes.push_back(code);
                        else if (is_function_name(t)) rule.function_names.emplace_back(t);
                        else
                            return err(node, w, fmt::format("expected a function name (e.g. read_holding_registers) or code, got \"{}\"", t));
                    }
                } else if (key == "access") {
                    std::vector<std::pair<std::string, YAML::Node>> items;
                    if (auto s = scalars(v, w, items); !s) return s;
                    rule.access = 0;
                    for (const auto& [raw, node] : items) {
                        const std::string_view t = trim_space(raw);
                        bool found = t == "any";
                        if (found) rule.access = 0x3f;
                        for (size_t a = 0; a < static_cast<size_t>(OtAccess::count) && !found; ++a)
                            if (t == to_string(static_cast<OtAccess>(a))) {
                                rule.access |= static_cast<uint8_t>(1u << a);
                                found = true;
                            }
                        if (!found)
                            return err(node, w,
                                       fmt::format("expected read, write, program, control, diagnostic, other or any, got \"{}\"", t));
                    }
                } else if (key == "units" || key == "unit") {
                    if (auto s = value_set(v, w, true, rule.protocols, rule.units); !s) return s;
                } else if (key == "addresses" || key == "address") {
                    if (auto s = value_set(v, w, false, rule.protocols, rule.addresses); !s) return s;
                }
            }
            if (rule.name.empty()) rule.name = fmt::format("rule-{}", p.rules_.size() + 1);
            if (!names.insert(rule.name).second) return err(item, what, fmt::format("rule name \"{}\" is given twice", rule.name));
            p.rules_.push_back(std::move(rule));
        }
        return {};
    }

    std::string_view name_;
    const VarMap& vars_;
    OtPolicyLimits limits_;
    VarMap all_vars_;
    std::set<std::string, std::less<>> assets_;
    size_t taken_ = 0;
    uint32_t items_ = 0;
};

Result<std::shared_ptr<const OtPolicy>> OtPolicy::parse(std::string_view text, std::string_view name,
                                                        const VarMap& address_groups, const OtPolicyLimits& limits) {
    OtPolicyCompiler c(name, address_groups, limits);
    return c.compile(text);
}

Result<std::shared_ptr<const OtPolicy>> OtPolicy::load_file(const std::string& path, const VarMap& address_groups,
                                                            const OtPolicyLimits& limits) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return make_error(fmt::format("{}: cannot open the OT policy file", path));
    std::string text;
    char buf[65536];
    while (in.read(buf, sizeof buf) || in.gcount() > 0) {
        text.append(buf, static_cast<size_t>(in.gcount()));
        if (text.size() > limits.max_file_bytes)
            return make_error(fmt::format("{}: the policy is larger than {} bytes", path, limits.max_file_bytes));
    }
    if (in.bad()) return make_error(fmt::format("{}: cannot read the OT policy file", path));
    return parse(text, path, address_groups, limits);
}

int OtPolicy::zone_of(const IpAddr& client, const IpAddr& server) const {
    for (size_t i = 0; i < zones_.size(); ++i)
        if (zones_[i].addresses.contains(server)) return static_cast<int>(i);
    for (size_t i = 0; i < zones_.size(); ++i)
        if (zones_[i].addresses.contains(client)) return static_cast<int>(i);
    return -1;
}

std::string_view OtPolicy::zone_name(int zone) const {
    return zone < 0 ? std::string_view("default") : std::string_view(zones_[static_cast<size_t>(zone)].name);
}

size_t OtPolicy::candidates(const IpAddr& client, const IpAddr& server, int proto_index, std::span<uint32_t> out) const {
    if (proto_index < 0 || static_cast<size_t>(proto_index) >= kPolicyProtoCount) return 0;
    size_t n = 0;
    for (uint32_t i : by_proto_[proto_index]) {
        const OtRule& r = rules_[i];
        if (!r.clients.contains(client) || !r.servers.contains(server)) continue;
        if (n < out.size()) out[n] = i;
        ++n;
    }
    return n;
}

OtDecision OtPolicy::decide(std::span<const uint32_t> candidates, const OtOperation& op) const {
    for (uint32_t i : candidates) {
        const OtRule& r = rules_[i];
        if (r.matches_operation(op)) return {!r.deny, static_cast<int>(i)};
    }
    return {};
}

OtDecision OtPolicy::decide(const IpAddr& client, const IpAddr& server, int proto_index, const OtOperation& op) const {
    if (proto_index < 0 || static_cast<size_t>(proto_index) >= kPolicyProtoCount) return {};
    for (uint32_t i : by_proto_[proto_index]) {
        const OtRule& r = rules_[i];
        if (r.clients.contains(client) && r.servers.contains(server) && r.matches_operation(op)) return {!r.deny, static_cast<int>(i)};
    }
    return {};
}

}  // namespace sluice
