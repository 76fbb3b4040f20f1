#include "app/config_loader.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>

#include "dataplane/address_spec.hpp"
#include "dataplane/text.hpp"

namespace sluice {

namespace {

bool from_command_line(std::string_view where) { return where.substr(0, kCommandLine.size()) == kCommandLine; }

// "where: label: message"; the label is left out when it would repeat the
// option named in a command-line location.
std::string located(std::string_view where, std::string_view label, std::string_view msg) {
    if (label.empty()) return fmt::format("{}: {}", where, msg);
    return fmt::format("{}: {}: {}", where, label, msg);
}

size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diag = up;
        }
    }
    return row[b.size()];
}

std::string_view last_part(std::string_view path) {
    auto dot = path.rfind('.');
    return dot == std::string_view::npos ? path : path.substr(dot + 1);
}

// Every key path and every section ("flow", "flow.timeouts", ...).
const std::vector<std::string>& known_paths() {
    static const std::vector<std::string> paths = [] {
        std::vector<std::string> out;
        for (const auto& k : config_keys()) {
            std::string_view p = k.path;
            for (size_t dot = p.find('.'); dot != std::string_view::npos; dot = p.find('.', dot + 1)) {
                std::string section(p.substr(0, dot));
                if (std::find(out.begin(), out.end(), section) == out.end()) out.push_back(section);
            }
            out.emplace_back(p);
        }
        return out;
    }();
    return paths;
}

bool is_section(std::string_view path) {
    for (const auto& k : config_keys())
        if (k.path.size() > path.size() && k.path.substr(0, path.size()) == path && k.path[path.size()] == '.') return true;
    return false;
}

std::string suggest_among(std::string_view unknown, const std::vector<std::string>& candidates) {
    if (unknown.empty() || unknown.size() > 80) return {};
    std::string normalized(unknown);
    std::replace(normalized.begin(), normalized.end(), '_', '-');
    std::transform(normalized.begin(), normalized.end(), normalized.begin(),
                   [](char ch) { return static_cast<char>(std::tolower(static_cast<unsigned char>(ch))); });
    for (const auto& c : candidates)
        if (c == normalized) return c;
    std::string best;
    size_t best_d = SIZE_MAX;
    for (const auto& c : candidates) {
        size_t d = edit_distance(normalized, c);
        if (d < best_d) {
            best_d = d;
            best = c;
        }
    }
    size_t allowed = std::max<size_t>(2, last_part(unknown).size() / 3);
    if (best_d <= allowed) return best;
    // The same last name elsewhere ("capacity" -> "flow.capacity").
    for (const auto& c : candidates)
        if (last_part(c) == last_part(normalized)) return c;
    return {};
}

std::string unknown_message(std::string_view what, const std::string& suggestion) {
    if (suggestion.empty()) return std::string(what);
    return fmt::format("{}; did you mean \"{}\"?", what, suggestion);
}

bool valid_var_name(std::string_view name) {
    if (name.empty() || name.size() > 64) return false;
    for (char ch : name)
        if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '_')) return false;
    return true;
}

std::string_view node_kind(const YAML::Node& n) {
    switch (n.Type()) {
        case YAML::NodeType::Null: return "nothing";
        case YAML::NodeType::Scalar: return "a scalar";
        case YAML::NodeType::Sequence: return "a list";
        case YAML::NodeType::Map: return "a map";
        default: return "an undefined node";
    }
}

// YAML reads an unquoted "!80" or "!$HOME_NET" as a tag on an empty value;
// say so instead of complaining about the empty value.
std::optional<std::string> local_tag(const YAML::Node& n) {
    const std::string& tag = n.Tag();
    if (tag.size() < 2 || tag[0] != '!') return std::nullopt;
    return fmt::format("YAML reads the unquoted {} as a tag; write it in quotes: \"{}\"", tag, tag);
}

// Reads one YAML document into the values.
class DocumentReader {
public:
    // `name`: the file name in messages. `fixed_where`: when set, every
    // location reads this (command-line YAML has no useful line numbers).
    DocumentReader(std::string name, std::vector<ConfigValue>& values, bool fixed_where)
        : name_(std::move(name)), values_(values), fixed_(fixed_where) {}

    // Text taken from the document so far; aliases can repeat a node many
    // times, so this is what bounds memory, not the file size.
    bool over_budget() const { return taken_ > kMaxExpandedBytes; }

    Status read_root(const YAML::Node& root) {
        if (root.IsNull()) return {};
        if (!root.IsMap())
            return make_error(located(where(root.Mark()), "", fmt::format("expected a map of configuration keys, got {}", node_kind(root))));
        return walk_map(root, "");
    }

    // Reads the value of one key (the YAML node after its name).
    Status read_key(const ConfigKey& key, const YAML::Node& v, const YAML::Mark& key_mark) {
        ConfigValue& out = values_[config_key_index(key)];
        // Errors point at the key, as an operator reads the file.
        std::string at = where(key_mark, v.Mark());
        auto fail = [&](std::string_view label, std::string_view msg) { return make_error(located(at, label, msg)); };
        std::string_view label = fixed_ ? std::string_view{} : key.path;
        switch (key.type) {
            case KeyType::string_list: {
                ConfigValue nv;
                if (v.IsSequence()) {
                    size_t i = 0;
                    for (const auto& item : v) {
                        std::string item_label = fixed_ ? fmt::format("[{}]", i) : fmt::format("{}[{}]", key.path, i);
                        if (!item.IsScalar())
                            return make_error(located(where(item.Mark(), key_mark), item_label, fmt::format("expected a string, got {}", node_kind(item))));
                        if (auto tag = local_tag(item)) return make_error(located(where(item.Mark(), key_mark), item_label, *tag));
                        if (auto st = check_list_item(key, item.Scalar()); !st) return make_error(located(where(item.Mark(), key_mark), item_label, st.message()));
                        take(item.Scalar().size());
                        if (over_budget()) return budget_error(item.Mark());
                        nv.list.push_back(item.Scalar());
                        ++i;
                    }
                } else if (v.IsScalar()) {
                    auto parsed = parse_scalar(key, v.Scalar());
                    if (!parsed) return fail(label, parsed.message());
                    nv = std::move(*parsed);
                } else if (!v.IsNull()) {
                    return fail(label, fmt::format("expected {}, got {}", describe_expected(key), node_kind(v)));
                }
                nv.where = at;
                out = std::move(nv);
                return {};
            }
            case KeyType::string_map: return read_map(key, v, at, label);
            case KeyType::filter_rules: return read_rules(key, v, at);
            default: break;
        }
        std::string text;
        if (v.IsNull()) {
            if (key.type != KeyType::string) return fail(label, fmt::format("expected {}, got nothing", describe_expected(key)));
        } else if (v.IsScalar()) {
            if (auto tag = local_tag(v)) return fail(label, *tag);
            text = v.Scalar();
            take(text.size());
            if (over_budget()) return budget_error(v.Mark());
        } else {
            return fail(label, fmt::format("expected {}, got {}", describe_expected(key), node_kind(v)));
        }
        auto parsed = parse_scalar(key, text);
        if (!parsed) return fail(label, parsed.message());
        parsed->where = at;
        out = std::move(*parsed);
        return {};
    }

private:
    std::string where(const YAML::Mark& m, const YAML::Mark& fallback = YAML::Mark::null_mark()) const {
        if (fixed_) return name_;
        const YAML::Mark& use = m.is_null() || m.line < 0 ? fallback : m;
        if (use.is_null() || use.line < 0) return name_;
        return fmt::format("{}:{}:{}", name_, use.line + 1, use.column + 1);
    }

    Status walk_map(const YAML::Node& map, const std::string& prefix) {
        std::set<std::string, std::less<>> seen;
        for (auto it = map.begin(); it != map.end(); ++it) {
            YAML::Node k = it->first;
            YAML::Node v = it->second;
            if (!k.IsScalar())
                return make_error(located(where(k.Mark()), prefix, fmt::format("expected a key name, got {}", node_kind(k))));
            const std::string& name = k.Scalar();
            std::string full = prefix.empty() ? name : prefix + "." + name;
            if (!seen.insert(name).second) return make_error(located(where(k.Mark()), full, "duplicate key"));
            if (const ConfigKey* key = find_config_key(full)) {
                if (auto st = read_key(*key, v, k.Mark()); !st) return st;
            } else if (is_section(full)) {
                if (v.IsNull()) continue;
                if (!v.IsMap())
                    return make_error(located(where(v.Mark(), k.Mark()), full, fmt::format("expected a section (a map of keys), got {}", node_kind(v))));
                if (auto st = walk_map(v, full); !st) return st;
            } else {
                return make_error(located(where(k.Mark()), full, unknown_message("unknown key", suggest_key(full))));
            }
        }
        return {};
    }

    // A YAML scalar, or a flow sequence of scalars joined back into "[a,b]"
    // (for specs written without quotes).
    std::optional<std::string> spec_text(const YAML::Node& v) {
        if (v.IsScalar()) {
            take(v.Scalar().size() + v.Tag().size());
            if (v.Tag().size() > 1 && v.Tag()[0] == '!') return v.Tag() + v.Scalar();  // an unquoted "!80": YAML's tag
            return v.Scalar();
        }
        if (!v.IsSequence()) return std::nullopt;
        std::string out = "[";
        size_t i = 0;
        for (const auto& item : v) {
            if (!item.IsScalar()) return std::nullopt;
            if (i++) out += ",";
            take(item.Scalar().size() + item.Tag().size());
            if (over_budget()) return std::nullopt;
            if (item.Tag().size() > 1 && item.Tag()[0] == '!') out += item.Tag();
            out += item.Scalar();
        }
        return out + "]";
    }

    Status read_map(const ConfigKey& key, const YAML::Node& v, const std::string& at, std::string_view label) {
        ConfigValue& out = values_[config_key_index(key)];
        if (v.IsNull()) return {};
        if (!v.IsMap()) return make_error(located(at, label, fmt::format("expected {}, got {}", describe_expected(key), node_kind(v))));
        std::set<std::string, std::less<>> seen;
        for (auto it = v.begin(); it != v.end(); ++it) {
            YAML::Node k = it->first;
            YAML::Node val = it->second;
            std::string kw = where(k.Mark());
            if (!k.IsScalar()) return make_error(located(kw, label, fmt::format("expected a variable name, got {}", node_kind(k))));
            const std::string& name = k.Scalar();
            std::string entry = fixed_ ? std::string{} : fmt::format("{}.{}", key.path, name);
            if (!valid_var_name(name))
                return make_error(located(kw, fixed_ ? std::string{} : std::string(key.path),
                                          fmt::format("bad variable name {} (letters, digits and '_', up to 64)", quote_for_message(name))));
            if (!seen.insert(name).second) return make_error(located(kw, entry, "duplicate variable"));
            auto text = spec_text(val);
            if (over_budget()) return budget_error(val.Mark());
            if (!text) return make_error(located(kw, entry, fmt::format("expected a specification string, got {}", node_kind(val))));
            if (text->empty()) return make_error(located(kw, entry, "empty specification"));
            out.map[name] = *text;
            out.map_where[name] = kw;
        }
        out.where = at;
        return {};
    }

    Status read_rules(const ConfigKey& key, const YAML::Node& v, const std::string& at) {
        ConfigValue nv;
        nv.where = at;
        if (!v.IsNull() && !v.IsSequence())
            return make_error(located(at, key.path, fmt::format("expected {}, got {}", describe_expected(key), node_kind(v))));
        auto fields = filter_rule_fields();
        std::vector<std::string> field_names;
        for (const auto& f : fields) field_names.emplace_back(f.name);
        size_t index = 0;
        for (const auto& item : v) {
            std::string item_label = fmt::format("{}[{}]", key.path, index);
            std::string iw = where(item.Mark(), v.Mark());
            if (index >= kMaxFilterRules) return make_error(located(iw, key.path, fmt::format("more than {} rules", kMaxFilterRules)));
            if (!item.IsMap()) return make_error(located(iw, item_label, fmt::format("expected a rule (a map), got {}", node_kind(item))));
            FilterRuleSpec spec;
            spec.where_item = iw;
            std::set<std::string, std::less<>> seen;
            for (auto it = item.begin(); it != item.end(); ++it) {
                YAML::Node k = it->first;
                YAML::Node val = it->second;
                std::string kw = where(k.Mark(), item.Mark());
                if (!k.IsScalar()) return make_error(located(kw, item_label, fmt::format("expected a rule key, got {}", node_kind(k))));
                const std::string& name = k.Scalar();
                auto f = std::find_if(fields.begin(), fields.end(), [&](const FilterRuleField& x) { return x.name == name; });
                if (f == fields.end())
                    return make_error(located(kw, fmt::format("{}.{}", item_label, name),
                                              unknown_message("unknown rule key", suggest_among(name, field_names))));
                if (!seen.insert(name).second) return make_error(located(kw, fmt::format("{}.{}", item_label, name), "duplicate key"));
                auto fi = static_cast<size_t>(f - fields.begin());
                std::string vw = kw;  // errors point at the rule key
                std::string field_label = fmt::format("{}.{}", item_label, name);
                auto text = spec_text(val);
                if (over_budget()) return budget_error(val.Mark());
                if (!text) return make_error(located(vw, field_label, fmt::format("expected a string, got {}", node_kind(val))));
                if (text->empty()) return make_error(located(vw, field_label, "empty value"));
                if (auto st = check_rule_field(static_cast<FilterField>(fi), *text); !st) return make_error(located(vw, field_label, st.message()));
                spec.value[fi] = *text;
                spec.where[fi] = vw;
            }
            if (spec.value[static_cast<size_t>(FilterField::action)].empty())
                return make_error(located(iw, item_label, "missing action (allow, bypass, drop, drop-packet or reject)"));
            nv.rules.push_back(std::move(spec));
            ++index;
        }
        values_[config_key_index(key)] = std::move(nv);
        return {};
    }

    static Status check_rule_field(FilterField f, std::string_view text) {
        switch (f) {
            case FilterField::action: {
                auto a = parse_filter_action(text);
                if (!a) return a.error();
                return {};
            }
            case FilterField::proto: {
                auto p = parse_ip_proto(text);
                if (!p) return p.error();
                return {};
            }
            case FilterField::direction:
                if (text != "to-server" && text != "both") return make_error(fmt::format("expected one of to-server, both, got {}", quote_for_message(text)));
                return {};
            default:
                for (char ch : text)
                    if (static_cast<unsigned char>(ch) < 0x20) return make_error("contains a control character");
                return {};
        }
    }

    // Counts text taken from the document (see over_budget()).
    void take(size_t bytes) { taken_ += bytes + 1; }
    Status budget_error(const YAML::Mark& m) const {
        return make_error(located(where(m), "", fmt::format("the configuration is larger than {} bytes once YAML aliases are expanded",
                                                             kMaxExpandedBytes)));
    }

    std::string name_;
    std::vector<ConfigValue>& values_;
    bool fixed_;
    size_t taken_ = 0;
};

Status apply_override(const ConfigOverride& o, std::vector<ConfigValue>& values) {
    auto eq = o.assignment.find('=');
    std::string_view key_text = std::string_view(o.assignment).substr(0, eq);
    while (!key_text.empty() && key_text.back() == ' ') key_text.remove_suffix(1);
    std::string origin = o.origin.empty() ? fmt::format("--set {}", key_text) : o.origin;
    std::string where = fmt::format("{}: {}", kCommandLine, origin);
    if (eq == std::string::npos) return make_error(located(where, "", fmt::format("expected KEY=VALUE, got {}", quote_for_message(o.assignment))));
    std::string_view value = std::string_view(o.assignment).substr(eq + 1);
    if (key_text.empty()) return make_error(located(where, "", "expected KEY=VALUE, the key is missing"));

    const ConfigKey* key = find_config_key(key_text);
    std::string entry;
    if (!key) {
        // "vars.address-groups.NAME": one map entry.
        for (const auto& k : config_keys()) {
            if (k.type == KeyType::string_map && key_text.size() > k.path.size() + 1 && key_text.substr(0, k.path.size()) == k.path &&
                key_text[k.path.size()] == '.') {
                key = &k;
                entry = std::string(key_text.substr(k.path.size() + 1));
            }
        }
    }
    if (!key && is_section(key_text)) {
        std::string example;
        for (const auto& k : config_keys())
            if (k.path.size() > key_text.size() && k.path.substr(0, key_text.size()) == key_text && k.path[key_text.size()] == '.') {
                example = std::string(k.path);
                break;
            }
        return make_error(located(where, "", fmt::format("{} is a section; set one of its keys, e.g. {}", quote_for_message(key_text), quote_for_message(example))));
    }
    if (!key) return make_error(located(where, "", unknown_message(fmt::format("unknown key {}", quote_for_message(key_text)), suggest_key(key_text))));
    ConfigValue& out = values[config_key_index(*key)];
    switch (key->type) {
        case KeyType::string_map: {
            if (entry.empty()) return make_error(located(where, "", fmt::format("set one entry at a time: {}.NAME=VALUE", key->path)));
            if (!valid_var_name(entry)) return make_error(located(where, "", fmt::format("bad variable name {} (letters, digits and '_')", quote_for_message(entry))));
            std::string_view v = value;
            while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
            while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
            if (v.empty()) return make_error(located(where, "", "empty specification"));
            out.map[entry] = std::string(v);
            out.map_where[entry] = where;
            return {};
        }
        case KeyType::filter_rules: {
            try {
                YAML::Node doc = YAML::Load(std::string(value));
                DocumentReader reader(where, values, true);
                return reader.read_key(*key, doc, YAML::Mark::null_mark());
            } catch (const YAML::Exception& e) {
                return make_error(located(where, "", fmt::format("YAML syntax error in the value at column {}: {}", e.mark.column + 1, e.msg)));
            }
        }
        default: {
            auto parsed = parse_scalar(*key, value);
            if (!parsed) return make_error(located(where, "", parsed.message()));
            parsed->where = where;
            out = std::move(*parsed);
            return {};
        }
    }
}

std::string label_for(std::string_view where, std::string_view label) { return from_command_line(where) ? std::string{} : std::string(label); }

// The location of a rule field: where it was written, or the item when it
// was left at its default.
const std::string& field_where(const FilterRuleSpec& r, FilterField f) {
    const auto& w = r.where[static_cast<size_t>(f)];
    return w.empty() ? r.where_item : w;
}

Status build_filter_rules(const ConfigValue& v, Config& cfg, SpecResolver& specs) {
    auto fields = filter_rule_fields();
    size_t ranges = 0;
    cfg.filter.rules.clear();
    cfg.filter.rules.reserve(v.rules.size());
    for (size_t i = 0; i < v.rules.size(); ++i) {
        const FilterRuleSpec& spec = v.rules[i];
        auto text = [&](FilterField f) -> std::string_view {
            const auto& t = spec.value[static_cast<size_t>(f)];
            return t.empty() ? fields[static_cast<size_t>(f)].def : std::string_view(t);
        };
        auto fail = [&](FilterField f, std::string_view msg) {
            return make_error(located(field_where(spec, f), fmt::format("filter.rules[{}].{}", i, fields[static_cast<size_t>(f)].name), msg));
        };
        FilterRule rule;
        rule.name = spec.value[static_cast<size_t>(FilterField::name)].empty() ? fmt::format("rule-{}", i + 1)
                                                                               : spec.value[static_cast<size_t>(FilterField::name)];
        auto action = parse_filter_action(text(FilterField::action));
        if (!action) return fail(FilterField::action, action.message());
        rule.action = *action;
        auto proto = parse_ip_proto(text(FilterField::proto));
        if (!proto) return fail(FilterField::proto, proto.message());
        rule.ip_proto = *proto;
        auto src = specs.address(text(FilterField::src));
        if (!src) return fail(FilterField::src, src.message());
        rule.src = std::move(*src);
        auto dst = specs.address(text(FilterField::dst));
        if (!dst) return fail(FilterField::dst, dst.message());
        rule.dst = std::move(*dst);
        auto sp = specs.port(text(FilterField::src_port));
        if (!sp) return fail(FilterField::src_port, sp.message());
        rule.src_ports = std::move(*sp);
        auto dp = specs.port(text(FilterField::dst_port));
        if (!dp) return fail(FilterField::dst_port, dp.message());
        rule.dst_ports = std::move(*dp);
        bool has_ports = rule.ip_proto == 0 || rule.ip_proto == 6 || rule.ip_proto == 17 || rule.ip_proto == 132;
        if (!has_ports) {
            if (!rule.src_ports.any()) return fail(FilterField::src_port, fmt::format("ports need proto tcp, udp, sctp or any, not {}", text(FilterField::proto)));
            if (!rule.dst_ports.any()) return fail(FilterField::dst_port, fmt::format("ports need proto tcp, udp, sctp or any, not {}", text(FilterField::proto)));
        }
        ranges += rule.src.range_count() + rule.dst.range_count() + rule.src_ports.ranges().size() + rule.dst_ports.ranges().size();
        if (ranges > kMaxFilterRanges)
            return make_error(located(spec.where_item, fmt::format("filter.rules[{}]", i),
                                      fmt::format("the filter rules hold more than {} address and port ranges together", kMaxFilterRanges)));
        rule.both_directions = text(FilterField::direction) == "both";
        // "file:line" for logs: the item's location without its column.
        rule.where = spec.where_item;
        if (!from_command_line(rule.where)) {
            auto colon = rule.where.rfind(':');
            if (colon != std::string::npos && rule.where.find(':') != colon) rule.where.resize(colon);
        }
        cfg.filter.rules.push_back(std::move(rule));
    }
    return {};
}

// Builds Config from the values and checks what spans several keys.
Result<Config> build_config(const std::vector<ConfigValue>& values) {
    Config cfg;
    auto keys = config_keys();
    for (size_t i = 0; i < keys.size(); ++i) {
        if (!keys[i].apply) continue;
        if (auto st = keys[i].apply(cfg, values[i]); !st) return make_error(located(values[i].where, label_for(values[i].where, keys[i].path), st.message()));
    }
    // Variables: each must resolve against all of them.
    SpecResolver specs(cfg.address_groups, cfg.port_groups);
    for (const auto& k : keys) {
        if (k.type != KeyType::string_map) continue;
        const ConfigValue& v = values[config_key_index(k)];
        bool addresses = k.path == "vars.address-groups";
        for (const auto& [name, text] : v.map) {
            Status st;
            // Through "$NAME", so that errors read "in $NAME: ..." and loops start at NAME.
            std::string ref = "$" + name;
            if (addresses) {
                auto r = specs.address(ref);
                if (!r) st = r.error();
            } else {
                auto r = specs.port(ref);
                if (!r) st = r.error();
            }
            if (!st) {
                // "in $A: in $B: what": the fault is in B's own text; report it there.
                std::string culprit = name;
                std::string_view msg = st.message();
                while (msg.substr(0, 4) == "in $") {
                    auto colon = msg.find(": ");
                    if (colon == std::string_view::npos) break;
                    std::string inner(msg.substr(4, colon - 4));
                    if (!v.map.count(inner)) break;
                    culprit = inner;
                    msg.remove_prefix(colon + 2);
                }
                auto w = v.map_where.find(culprit);
                std::string where = w != v.map_where.end() ? w->second : v.where;
                return make_error(located(where, label_for(where, fmt::format("{}.{}", k.path, culprit)), msg));
            }
        }
    }
    const auto& rules_value = values[config_key_index(*find_config_key("filter.rules"))];
    if (auto st = build_filter_rules(rules_value, cfg, specs); !st) return st.error();

    // One capture source at most.
    const char* sources[] = {"capture.pcap", "capture.iface", "capture.inline"};
    const char* first_set = nullptr;
    for (const char* s : sources) {
        const ConfigKey* k = find_config_key(s);
        const ConfigValue& v = values[config_key_index(*k)];
        bool set = k->type == KeyType::string_list ? !v.list.empty() : !v.text.empty();
        if (!set) continue;
        if (first_set) {
            const ConfigValue& fv = values[config_key_index(*find_config_key(first_set))];
            return make_error(located(v.where, label_for(v.where, s),
                                      fmt::format("set only one of capture.pcap, capture.iface and capture.inline ({} is set at {})", first_set, fv.where)));
        }
        first_set = s;
    }
    if (cfg.capture.pcap_loop && cfg.capture.pcap.empty()) {
        const ConfigValue& lv = values[config_key_index(*find_config_key("capture.pcap-loop"))];
        return make_error(located(lv.where, label_for(lv.where, "capture.pcap-loop"), "needs capture.pcap (a capture file to replay)"));
    }
    if (cfg.mode == RunMode::ips && !cfg.capture.iface.empty()) {
        const ConfigValue& mv = values[config_key_index(*find_config_key("mode"))];
        return make_error(located(mv.where, label_for(mv.where, "mode"),
                                  "ips needs capture.inline (or a capture file): a SPAN port (capture.iface) cannot drop"));
    }
    return cfg;
}

Result<ConfigDocument> finish(std::vector<ConfigValue> values, std::span<const ConfigOverride> overrides, std::string source) {
    try {
        for (const auto& o : overrides)
            if (auto st = apply_override(o, values); !st) return st.error();
        auto cfg = build_config(values);
        if (!cfg) return cfg.error();
        ConfigDocument doc{std::move(*cfg), std::move(values)};
        doc.config.source = std::move(source);
        return doc;
    } catch (const std::exception& e) {
        return make_error(fmt::format("{}: cannot build the configuration: {}", source.empty() ? std::string(kCommandLine) : source, e.what()));
    }
}

Result<ConfigDocument> load_text(std::string_view yaml, const std::string& name, std::span<const ConfigOverride> overrides, std::string source) {
    std::vector<ConfigValue> values = default_config_values();
    try {
        YAML::Node root = YAML::Load(std::string(yaml));
        DocumentReader reader(name, values, false);
        if (auto st = reader.read_root(root); !st) return st.error();
    } catch (const YAML::Exception& e) {
        if (e.mark.is_null()) return make_error(fmt::format("{}: YAML error: {}", name, e.msg));
        return make_error(fmt::format("{}:{}:{}: YAML syntax error: {}", name, e.mark.line + 1, e.mark.column + 1, e.msg));
    } catch (const std::exception& e) {
        return make_error(fmt::format("{}: cannot read the configuration: {}", name, e.what()));
    }
    return finish(std::move(values), overrides, std::move(source));
}

// Errors are one line: key names and YAML's own messages can hold any byte.
Result<ConfigDocument> one_line(Result<ConfigDocument> r) {
    if (r.ok()) return r;
    const std::string& m = r.message();
    bool clean = std::none_of(m.begin(), m.end(), [](char ch) { return static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f; });
    if (clean) return r;
    std::string out;
    for (char ch : m) {
        auto u = static_cast<unsigned char>(ch);
        if (u < 0x20 || u == 0x7f) out += fmt::format("\\x{:02x}", u);
        else out += ch;
    }
    return make_error(std::move(out));
}

std::vector<ConfigOverride> as_overrides(std::span<const std::string> assignments) {
    std::vector<ConfigOverride> out;
    out.reserve(assignments.size());
    for (const auto& a : assignments) out.push_back({a, {}});
    return out;
}

Result<ConfigDocument> read_config_file(const std::string& path, std::span<const ConfigOverride> overrides) {
    if (path.empty()) return finish(default_config_values(), overrides, {});
    std::error_code ec;
    auto status = std::filesystem::status(path, ec);
    if (ec || !std::filesystem::exists(status)) return make_error(fmt::format("{}: cannot read the configuration file: {}", path, ec ? ec.message() : "no such file"));
    if (std::filesystem::is_directory(status)) return make_error(fmt::format("{}: cannot read the configuration file: it is a directory", path));
    std::ifstream in(path, std::ios::binary);
    if (!in) return make_error(fmt::format("{}: cannot read the configuration file: {}", path, std::strerror(errno)));
    std::string text;
    char buf[65536];
    while (in.read(buf, sizeof buf) || in.gcount() > 0) {
        text.append(buf, static_cast<size_t>(in.gcount()));
        if (text.size() > kMaxConfigFileBytes)
            return make_error(fmt::format("{}: the configuration file is larger than {} bytes", path, kMaxConfigFileBytes));
    }
    if (in.bad()) return make_error(fmt::format("{}: cannot read the configuration file: read error", path));
    return load_text(text, path, overrides, path);
}


}  // namespace

std::string suggest_key(std::string_view unknown_path) { return suggest_among(unknown_path, known_paths()); }

Result<ConfigDocument> load_config_text(std::string_view yaml, std::string_view name, std::span<const ConfigOverride> overrides) {
    return one_line(load_text(yaml, std::string(name), overrides, std::string(name)));
}

Result<ConfigDocument> load_config_document(const std::string& path, std::span<const ConfigOverride> overrides) {
    return one_line(read_config_file(path, overrides));
}


Result<Config> load_config(const std::string& path, std::span<const ConfigOverride> overrides) {
    auto doc = load_config_document(path, overrides);
    if (!doc) return doc.error();
    return std::move(doc->config);
}

Result<Config> load_config(const std::string& path, std::span<const std::string> overrides) {
    auto o = as_overrides(overrides);
    return load_config(path, std::span<const ConfigOverride>(o));
}

}  // namespace sluice
