// Tests of the configuration schema (app/config_schema) and loader
// (app/config_loader): the table's own consistency and its agreement with
// app/config.hpp, every error path with its exact one-line shape, overrides,
// filter rules and variables, and the generated docs/configuration.md and
// config/sluice.yaml (set SLUICE_UPDATE_DOCS=1 to rewrite them).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "app/cli.hpp"
#include "app/config_loader.hpp"
#include "app/config_schema.hpp"

namespace sluice {
namespace {

IpAddr ip(const char* s) { return *IpAddr::parse(s); }

Result<ConfigDocument> load(std::string_view yaml, std::vector<ConfigOverride> overrides = {}) {
    return load_config_text(yaml, "t.yaml", overrides);
}

Config load_ok(std::string_view yaml, std::vector<ConfigOverride> overrides = {}) {
    auto r = load(yaml, std::move(overrides));
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.message());
    return r.ok() ? r->config : Config{};
}

std::string load_error(std::string_view yaml, std::vector<ConfigOverride> overrides = {}) {
    auto r = load(yaml, std::move(overrides));
    EXPECT_FALSE(r.ok()) << "accepted:\n" << yaml;
    if (r.ok()) return {};
    EXPECT_EQ(r.message().find('\n'), std::string::npos) << "not one line: " << r.message();
    return r.message();
}

ConfigOverride set(std::string assignment) { return {std::move(assignment), {}}; }

std::string formatted(const ConfigKey& k, const ConfigValue& v) { return format_value(k, v); }

std::string default_text(const ConfigKey& k) {
    auto v = parse_scalar(k, k.def);
    EXPECT_TRUE(v.ok()) << k.path << " default " << k.def;
    return v.ok() ? format_value(k, *v) : std::string{};
}

// ---- the table ------------------------------------------------------------------------

TEST(ConfigSchema, TableIsWellFormed) {
    std::set<std::string_view> paths;
    std::set<std::string> closed_sections;
    std::string open_section;
    for (const auto& k : config_keys()) {
        SCOPED_TRACE(std::string(k.path));
        EXPECT_TRUE(paths.insert(k.path).second) << "duplicate";
        for (char ch : k.path) EXPECT_TRUE((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '.') << "key names are lower case with dashes";
        EXPECT_FALSE(k.help.empty());
        EXPECT_EQ(k.help.find('\n'), std::string_view::npos);
        EXPECT_NE(k.get, nullptr);
        if (k.type != KeyType::filter_rules) {
            EXPECT_NE(k.apply, nullptr);
        }
        if (k.type == KeyType::choice) {
            EXPECT_FALSE(k.choices.empty());
        }
        if (k.type == KeyType::integer || k.type == KeyType::size || k.type == KeyType::duration) {
            EXPECT_LE(k.min, k.max);
            EXPECT_GT(k.max, 0u);
        }
        if (k.type == KeyType::string_map) {
            EXPECT_FALSE(k.map_default.empty());
        } else if (k.type != KeyType::filter_rules) {
            default_text(k);
        }
        EXPECT_EQ(find_config_key(k.path), &k);
        EXPECT_EQ(&config_keys()[config_key_index(k)], &k);
        // Keys of one section stay together: once left, a section is not reopened.
        auto dot = k.path.rfind('.');
        std::string section = dot == std::string_view::npos ? std::string{} : std::string(k.path.substr(0, dot));
        if (section != open_section) {
            EXPECT_EQ(closed_sections.count(section), 0u) << "section " << section << " is split";
            closed_sections.insert(open_section);
            open_section = section;
        }
    }
    EXPECT_EQ(find_config_key("flow.nope"), nullptr);
    EXPECT_EQ(find_config_key("flow"), nullptr);
}

TEST(ConfigSchema, DefaultsEqualTheConfigStruct) {
    // The table's defaults and app/config.hpp's initializers must agree, so
    // that a Config built in code behaves like one loaded from an empty file.
    const Config plain;
    for (const auto& k : config_keys()) {
        if (k.type == KeyType::string_map || k.type == KeyType::filter_rules) continue;
        SCOPED_TRACE(std::string(k.path));
        EXPECT_EQ(formatted(k, k.get(plain)), default_text(k));
    }
    EXPECT_TRUE(plain.filter.rules.empty());
}

TEST(ConfigSchema, LoadedDefaultsEqualTheTable) {
    auto r = load_config(std::string{}, std::span<const std::string>{});
    ASSERT_TRUE(r.ok()) << r.message();
    EXPECT_EQ(r->source, "");
    for (const auto& k : config_keys()) {
        SCOPED_TRACE(std::string(k.path));
        ConfigValue got = k.get(*r);
        if (k.type == KeyType::string_map) {
            ASSERT_EQ(got.map.size(), k.map_default.size());
            for (const auto& d : k.map_default) EXPECT_EQ(got.map.at(std::string(d.name)), d.value);
        } else if (k.type != KeyType::filter_rules) {
            EXPECT_EQ(formatted(k, got), default_text(k));
        }
    }
    // Suricata's defaults.
    EXPECT_EQ(r->address_groups.at("HOME_NET"), "[192.168.0.0/16,10.0.0.0/8,172.16.0.0/12]");
    EXPECT_EQ(r->address_groups.at("EXTERNAL_NET"), "!$HOME_NET");
    EXPECT_EQ(r->address_groups.at("AIM_SERVERS"), "$EXTERNAL_NET");
    EXPECT_EQ(r->port_groups.at("FILE_DATA_PORTS"), "[$HTTP_PORTS,110,143]");
    EXPECT_EQ(r->port_groups.at("SHELLCODE_PORTS"), "!80");
    EXPECT_EQ(r->port_groups.at("TEREDO_PORTS"), "3544");
    EXPECT_EQ(r->port_groups.at("MODBUS_PORTS"), "502");
    EXPECT_EQ(r->address_groups.size(), 15u);
    EXPECT_EQ(r->port_groups.size(), 11u);
}

TEST(ConfigSchema, EveryKeyWritesItsOwnField) {
    // Setting one key to a value other than its default changes that key and
    // no other: no two keys share a field, none writes the wrong one.
    const auto keys = config_keys();
    auto baseline = load_config_document("", {});
    ASSERT_TRUE(baseline.ok()) << baseline.message();
    for (const auto& k : keys) {
        SCOPED_TRACE(std::string(k.path));
        std::string value;
        switch (k.type) {
            case KeyType::boolean: value = default_text(k) == "true" ? "false" : "true"; break;
            case KeyType::integer:
            case KeyType::size:
            case KeyType::duration: {
                // The bound that is not the default (compared as parsed values: "2048" is "2KiB").
                auto at_max = parse_scalar(k, std::to_string(k.max));
                bool default_is_max = at_max.ok() && format_value(k, *at_max) == default_text(k);
                value = std::to_string(default_is_max ? k.min : k.max);
                break;
            }
            case KeyType::choice: {
                std::string_view c = k.choices;
                auto bar = c.rfind('|');
                value = std::string(c.substr(bar + 1));
                break;
            }
            case KeyType::string: value = "x1"; break;
            case KeyType::string_list: value = k.choices.empty() ? "ifa,ifb" : "alert"; break;
            case KeyType::string_map:
            case KeyType::filter_rules: continue;
        }
        std::vector<ConfigOverride> o = {set(fmt::format("{}={}", k.path, value))};
        if (k.path == "mode") o.push_back(set("capture.pcap=a.pcap"));
        if (k.path == "capture.pcap-loop") o.push_back(set("capture.pcap=a.pcap"));
        if (k.path == "capture.pcap") o.clear(), o.push_back(set("capture.pcap=x1"));
        if (k.path == "metrics.listen") o = {set("metrics.listen=198.18.0.1:1")};
        if (k.path == "malware.scanner-cpus") o = {set("malware.scanner-cpus=1,2")};
        if (k.path == "smb.file.offload-cpus") o = {set("smb.file.offload-cpus=2,3")};
        if (k.path == "appid.protocols-file") o = {set("appid.protocols-file=/dev/null")};  // must be readable
        auto changed = load_config_document("", o);
        ASSERT_TRUE(changed.ok()) << changed.message();
        for (const auto& other : keys) {
            if (other.type == KeyType::filter_rules) continue;
            std::string before = formatted(other, other.get(baseline->config));
            std::string after = formatted(other, other.get(changed->config));
            bool companion = (k.path == "mode" || k.path == "capture.pcap-loop") && other.path == "capture.pcap";
            if (&other == &k) {
                EXPECT_NE(before, after) << "setting " << k.path << " did not change it";
            } else if (!companion) {
                EXPECT_EQ(before, after) << "setting " << k.path << " changed " << other.path;
            }
        }
    }
}

// ---- value syntax -------------------------------------------------------------------

uint64_t number(std::string_view path, std::string_view text) {
    auto v = parse_scalar(*find_config_key(path), text);
    EXPECT_TRUE(v.ok()) << path << "=" << text << ": " << (v.ok() ? "" : v.message());
    return v.ok() ? v->number : 0;
}

std::string scalar_error(std::string_view path, std::string_view text) {
    auto v = parse_scalar(*find_config_key(path), text);
    EXPECT_FALSE(v.ok()) << path << "=" << text;
    return v.ok() ? std::string{} : v.message();
}

TEST(ConfigValues, Sizes) {
    EXPECT_EQ(number("stream.memcap", "64MiB"), 64ull << 20);
    EXPECT_EQ(number("stream.memcap", "1gb"), 1ull << 30);
    EXPECT_EQ(number("stream.memcap", "1 GiB"), 1ull << 30);
    EXPECT_EQ(number("stream.memcap", "2048k"), 2ull << 20);
    EXPECT_EQ(number("stream.memcap", "3m"), 3ull << 20);
    EXPECT_EQ(number("stream.memcap", "1048576"), 1ull << 20);
    EXPECT_EQ(number("stream.memcap", "1048576b"), 1ull << 20);
    EXPECT_EQ(number("stream.depth", "1TiB"), 1ull << 40);
    EXPECT_EQ(number("stream.depth", "0"), 0u);
    EXPECT_EQ(scalar_error("stream.memcap", "lots"),
              "expected a size between 1MiB and 64GiB (bytes, or with a unit: KiB, MiB, GiB), got \"lots\"");
    scalar_error("stream.memcap", "1.5GiB");
    scalar_error("stream.memcap", "-1MiB");
    scalar_error("stream.memcap", "1 MiB extra");
    scalar_error("stream.memcap", "65GiB");                       // above the range
    scalar_error("stream.memcap", "1023KiB");                     // below the range
    scalar_error("stream.depth", "99999999999999999999TiB");      // overflow
    scalar_error("stream.depth", "18014398509481984TiB");         // overflows when multiplied
    scalar_error("stream.memcap", "MiB");
    scalar_error("stream.memcap", "");
}

TEST(ConfigValues, Durations) {
    EXPECT_EQ(number("defrag.timeout", "30"), 30u);
    EXPECT_EQ(number("defrag.timeout", "30s"), 30u);
    EXPECT_EQ(number("defrag.timeout", "5m"), 300u);
    EXPECT_EQ(number("defrag.timeout", "1h"), 3600u);
    EXPECT_EQ(number("flow.timeouts.tcp.established", "1d"), 86400u);
    EXPECT_EQ(scalar_error("defrag.timeout", "2h"),
              "expected a duration between 1s and 1h (seconds, or with a unit: s, m, h, d), got \"2h\"");
    scalar_error("defrag.timeout", "0");
    scalar_error("defrag.timeout", "1w");
    scalar_error("defrag.timeout", "1.5m");
    scalar_error("defrag.timeout", "m");
    scalar_error("flow.timeouts.tcp.new", "0s");  // new timeouts are at least 1s
    EXPECT_EQ(number("flow.timeouts.tcp.closed", "0"), 0u);
}

TEST(ConfigValues, IntegersBooleansChoices) {
    EXPECT_EQ(number("workers", "128"), 128u);
    EXPECT_EQ(scalar_error("workers", "129"), "expected an integer between 1 and 128, got \"129\"");
    EXPECT_EQ(scalar_error("workers", "0"), "expected an integer between 1 and 128, got \"0\"");
    scalar_error("workers", "-1");
    scalar_error("workers", "1e3");
    scalar_error("workers", "0x10");
    scalar_error("workers", "4 workers");
    EXPECT_EQ(scalar_error("flow.capacity", "lots"), "expected an integer between 1 and 67108864, got \"lots\"");
    EXPECT_EQ(scalar_error("capture.burst", "513"), "expected an integer between 1 and 512, got \"513\"");
    for (const char* t : {"true", "yes", "on", "1", "TRUE", "Yes"}) EXPECT_TRUE(parse_scalar(*find_config_key("eve.payload"), t)->flag) << t;
    for (const char* t : {"false", "no", "off", "0", "False"}) EXPECT_FALSE(parse_scalar(*find_config_key("eve.payload"), t)->flag) << t;
    EXPECT_EQ(scalar_error("eve.payload", "maybe"), "expected true or false, got \"maybe\"");
    EXPECT_EQ(scalar_error("mode", "ipx"), "expected one of ids, ips, got \"ipx\"");
    EXPECT_EQ(scalar_error("malformed.policy", "reject"), "expected one of forward, drop, got \"reject\"");
    EXPECT_EQ(scalar_error("log-level", "loud"), "expected one of trace, debug, info, warning, error, critical, off, got \"loud\"");
    // Control characters are shown escaped, long values cut.
    EXPECT_EQ(scalar_error("workers", std::string("1\x01", 2)), "expected an integer between 1 and 128, got \"1\\x01\"");
    EXPECT_LT(scalar_error("workers", std::string(10000, '9')).size(), 150u);
}

TEST(ConfigValues, ListenAddresses) {
    for (const char* good : {"127.0.0.1:9977", "0.0.0.0:1", "[::1]:9977", "[2001:db8::5]:65535", "198.18.0.1:80"})
        EXPECT_TRUE(check_listen_address(good).ok()) << good;
    for (const char* bad : {"localhost:9977", "::1:9977", "[::1]", "[::1]:", "198.18.0.1:0", "198.18.0.1:65536", "198.18.0.1", ":9977",
                            "[198.18.0.1]:80", "[::1]:x", "198.18.0.1:80x", "198.18.0.256:80", ""})
        EXPECT_FALSE(check_listen_address(bad).ok()) << bad;
    EXPECT_EQ(load_error("metrics:\n  listen: \"localhost:9977\"\n"),
              "t.yaml:2:3: metrics.listen: expected ADDR:PORT (\"127.0.0.1:9977\" or \"[::1]:9977\"), got \"localhost:9977\": not an IP address");
    EXPECT_EQ(load_ok("metrics:\n  listen: \"[::1]:9977\"\n").metrics.listen, "[::1]:9977");
}

TEST(ConfigValues, Lists) {
    EXPECT_EQ(split_list_text("a, b ,c"), (std::vector<std::string>{"a", "b", "c"}));
    EXPECT_EQ(split_list_text("[a,b]"), (std::vector<std::string>{"a", "b"}));
    EXPECT_TRUE(split_list_text("").empty());
    EXPECT_TRUE(split_list_text("[ ]").empty());
    auto c = load_ok("eve:\n  types: [alert, flow]\n");
    EXPECT_EQ(c.eve.types, (std::vector<std::string>{"alert", "flow"}));
    c = load_ok("eve:\n  types: \"alert,drop\"\n");
    EXPECT_EQ(c.eve.types, (std::vector<std::string>{"alert", "drop"}));
    c = load_ok("eve:\n  types: []\n");
    EXPECT_TRUE(c.eve.types.empty());
    EXPECT_EQ(load_error("eve:\n  types:\n    - alert\n    - alrt\n"),
              "t.yaml:4:7: eve.types[1]: unknown item \"alrt\", expected one of alert, anomaly, drop, flow, stats, fileinfo, http, dns, "
              "tls, smb, modbus, s7comm, dnp3, iec104, enip");
    EXPECT_EQ(load_error("eve:\n  types: [alert, [flow]]\n"), "t.yaml:2:18: eve.types[1]: expected a string, got a list");
    EXPECT_EQ(load_error("eve:\n  types: {a: b}\n"), "t.yaml:2:3: eve.types: expected a list of alert, anomaly, drop, flow, stats, fileinfo, "
                                                       "http, dns, tls, smb, modbus, s7comm, dnp3, iec104, enip, got a map");
    EXPECT_EQ(load_error("eve:\n  types: \"alert,,flow\"\n"), "t.yaml:2:3: eve.types: empty list item");
}

TEST(ConfigValues, InlineInterfaces) {
    auto c = load_ok("capture:\n  inline: [veth0, veth1]\n");
    EXPECT_EQ(c.capture.inline_ifaces, (std::vector<std::string>{"veth0", "veth1"}));
    c = load_ok("capture:\n  inline: \"veth0,veth1\"\n");
    EXPECT_EQ(c.capture.inline_ifaces, (std::vector<std::string>{"veth0", "veth1"}));
    EXPECT_EQ(load_error("capture:\n  inline: [a, b, c]\n"),
              "t.yaml:2:3: capture.inline: expected two interface names (\"A,B\" or a list of two), got 3");
    EXPECT_EQ(load_error("capture:\n  inline: [a]\n"), "t.yaml:2:3: capture.inline: expected two interface names (\"A,B\" or a list of two), got 1");
    EXPECT_EQ(load_error("capture:\n  inline: [a, a]\n"), "t.yaml:2:3: capture.inline: the two inline interfaces must differ, got \"a\" twice");
    EXPECT_EQ(load_error("capture:\n  inline: [a, \"b c\"]\n"), "t.yaml:2:15: capture.inline[1]: bad character in interface name \"b c\"");
    EXPECT_EQ(load_error("capture:\n  inline: [a, averyveryverylongname]\n"),
              "t.yaml:2:15: capture.inline[1]: expected an interface name of 1 to 15 characters, got \"averyveryverylongname\"");
    EXPECT_EQ(load_error("capture:\n  iface: \"eth0,eth1\"\n"), "t.yaml:2:3: capture.iface: bad character in interface name \"eth0,eth1\"");
}

// ---- file errors ----------------------------------------------------------------------------

TEST(ConfigLoader, ErrorsNameFileLineColumnAndKey) {
    EXPECT_EQ(load_error("flow:\n  capacity: lots\n"), "t.yaml:2:3: flow.capacity: expected an integer between 1 and 67108864, got \"lots\"");
    EXPECT_EQ(load_error("workers: 2\nflow:\n  timeouts:\n    tcp:\n      new: soon\n"),
              "t.yaml:5:7: flow.timeouts.tcp.new: expected a duration between 1s and 1d (seconds, or with a unit: s, m, h, d), got \"soon\"");
    EXPECT_EQ(load_error("workers: {a: 1}\n"), "t.yaml:1:1: workers: expected an integer between 1 and 128, got a map");
    EXPECT_EQ(load_error("workers: [1]\n"), "t.yaml:1:1: workers: expected an integer between 1 and 128, got a list");
    EXPECT_EQ(load_error("workers:\n"), "t.yaml:1:1: workers: expected an integer between 1 and 128, got nothing");
    EXPECT_EQ(load_error("flow: 5\n"), "t.yaml:1:7: flow: expected a section (a map of keys), got a scalar");
    EXPECT_EQ(load_error("- a\n- b\n"), "t.yaml:1:1: expected a map of configuration keys, got a list");
    EXPECT_EQ(load_error("just text\n"), "t.yaml:1:1: expected a map of configuration keys, got a scalar");
    EXPECT_EQ(load_error("workers: 1\nworkers: 2\n"), "t.yaml:2:1: workers: duplicate key");
    EXPECT_EQ(load_error("flow:\n  capacity: 5\n  capacity: 6\n"), "t.yaml:3:3: flow.capacity: duplicate key");
    EXPECT_EQ(load_error("[a, b]: 1\n"), "t.yaml:1:1: expected a key name, got a list");
}

TEST(ConfigLoader, UnknownKeysSuggestTheClosest) {
    EXPECT_EQ(load_error("flow:\n  capacty: 5\n"), "t.yaml:2:3: flow.capacty: unknown key; did you mean \"flow.capacity\"?");
    EXPECT_EQ(load_error("stream:\n  max_ooo_bytes: 5\n"), "t.yaml:2:3: stream.max_ooo_bytes: unknown key; did you mean \"stream.max-ooo-bytes\"?");
    EXPECT_EQ(load_error("capacity: 5\n"), "t.yaml:1:1: capacity: unknown key; did you mean \"flow.capacity\"?");
    EXPECT_EQ(load_error("flwo:\n  capacity: 5\n"), "t.yaml:1:1: flwo: unknown key; did you mean \"flow\"?");
    EXPECT_EQ(load_error("zzzzzzzzzz: 1\n"), "t.yaml:1:1: zzzzzzzzzz: unknown key");
    EXPECT_EQ(load_error("flow:\n  timeouts:\n    tcp:\n      establised: 5\n"),
              "t.yaml:4:7: flow.timeouts.tcp.establised: unknown key; did you mean \"flow.timeouts.tcp.established\"?");
    EXPECT_EQ(suggest_key("eve.payload_max"), "eve.payload-max");
    EXPECT_EQ(suggest_key("Workers"), "workers");
    EXPECT_EQ(suggest_key(std::string(5000, 'a')), "");
}

TEST(ConfigLoader, YamlSyntaxErrorsNameFileLineColumn) {
    std::string e = load_error("flow:\n  capacity: [5\n");
    EXPECT_EQ(e.rfind("t.yaml:3:1: YAML syntax error: ", 0), 0u) << e;
    e = load_error("a: b: c\n");
    EXPECT_EQ(e.rfind("t.yaml:1:5: YAML syntax error: ", 0), 0u) << e;
    e = load_error("flow:\n\tcapacity: 5\n");
    EXPECT_EQ(e.rfind("t.yaml:2:", 0), 0u) << e;
    EXPECT_NE(e.find("YAML syntax error"), std::string::npos) << e;
    e = load_error("x: *nope\n");
    EXPECT_NE(e.find("YAML syntax error"), std::string::npos) << e;
    EXPECT_EQ(e.rfind("t.yaml:1:", 0), 0u) << e;
    // Deep nesting is refused by yaml-cpp's depth guard, not by a crash.
    std::string deep = "workers: " + std::string(20000, '[');
    e = load_error(deep);
    EXPECT_EQ(e.rfind("t.yaml:", 0), 0u) << e;
}

TEST(ConfigLoader, Files) {
    namespace fs = std::filesystem;
    fs::path dir = fs::path(testing::TempDir()) / "sluice_config_test";
    fs::create_directories(dir);
    fs::path good = dir / "good.yaml";
    std::ofstream(good) << "%YAML 1.1\n---\nworkers: 3\nflow:\n  capacity: 1000\n";
    auto c = load_config(good.string(), std::span<const std::string>{});
    ASSERT_TRUE(c.ok()) << c.message();
    EXPECT_EQ(c->workers, 3u);
    EXPECT_EQ(c->flow_capacity, 1000u);
    EXPECT_EQ(c->source, good.string());

    fs::path bad = dir / "bad.yaml";
    std::ofstream(bad) << "# comment\nflow:\n  capacity: lots\n";
    auto b = load_config(bad.string(), std::span<const std::string>{});
    ASSERT_FALSE(b.ok());
    EXPECT_EQ(b.message(), bad.string() + ":3:3: flow.capacity: expected an integer between 1 and 67108864, got \"lots\"");

    auto missing = load_config((dir / "missing.yaml").string(), std::span<const std::string>{});
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.message(), (dir / "missing.yaml").string() + ": cannot read the configuration file: No such file or directory");
    auto directory = load_config(dir.string(), std::span<const std::string>{});
    ASSERT_FALSE(directory.ok());
    EXPECT_EQ(directory.message(), dir.string() + ": cannot read the configuration file: it is a directory");

    fs::path big = dir / "big.yaml";
    {
        std::ofstream out(big);
        std::string line = "# " + std::string(1000, 'x') + "\n";
        for (size_t n = 0; n <= kMaxConfigFileBytes / line.size(); ++n) out << line;
    }
    auto huge = load_config(big.string(), std::span<const std::string>{});
    ASSERT_FALSE(huge.ok());
    EXPECT_EQ(huge.message(), fmt::format("{}: the configuration file is larger than {} bytes", big.string(), kMaxConfigFileBytes));

    if (::geteuid() != 0) {  // root reads anything
        fs::path locked = dir / "locked.yaml";
        std::ofstream(locked) << "workers: 1\n";
        fs::permissions(locked, fs::perms::none);
        auto l = load_config(locked.string(), std::span<const std::string>{});
        ASSERT_FALSE(l.ok());
        EXPECT_EQ(l.message(), locked.string() + ": cannot read the configuration file: Permission denied");
    }
    fs::remove_all(dir);
}

TEST(ConfigLoader, EmptyAndNullDocumentsGiveDefaults) {
    EXPECT_EQ(load_ok("").workers, 1u);
    EXPECT_EQ(load_ok("# only a comment\n").workers, 1u);
    EXPECT_EQ(load_ok("---\n").workers, 1u);
    EXPECT_EQ(load_ok("flow:\n").flow_capacity, 262144u);
    EXPECT_EQ(load_ok("eve:\n  file:\n").eve.file, "");
    EXPECT_EQ(load_ok("eve:\n  file: ~\n").eve.file, "");
}

TEST(ConfigLoader, AppliesEveryKind) {
    auto c = load_ok(
        "mode: ips\n"
        "workers: 4\n"
        "log-level: debug\n"
        "capture:\n  pcap: in.pcap\n  write-pcap: out.pcap\n  burst: 64\n  pcap-loop: yes\n"
        "eve:\n  file: /var/log/sluice/eve.json\n  payload: true\n  payload-max: 1KiB\n  stats-interval: 1m\n  ring-bytes: 8MiB\n"
        "metrics:\n  enabled: false\n"
        "control:\n  socket: \"\"\n"
        "flow:\n  capacity: 1000\n  timeouts:\n    tcp:\n      established: 1h\n    udp:\n      new: 10s\n"
        "stream:\n  memcap: 1GiB\n  max-ooo-bytes: 1MiB\n  depth: 1MiB\n  midstream: false\n"
        "defrag:\n  enabled: false\n  max-datagrams: 10\n  timeout: 5s\n"
        "malformed:\n  policy: drop\n"
        "filter:\n  default-action: drop\n  non-ip: drop\n");
    EXPECT_EQ(c.mode, RunMode::ips);
    EXPECT_EQ(c.workers, 4u);
    EXPECT_EQ(c.log_level, "debug");
    EXPECT_EQ(c.capture.pcap, "in.pcap");
    EXPECT_EQ(c.capture.write_pcap, "out.pcap");
    EXPECT_EQ(c.capture.burst, 64u);
    EXPECT_TRUE(c.capture.pcap_loop);
    EXPECT_EQ(c.eve.file, "/var/log/sluice/eve.json");
    EXPECT_TRUE(c.eve.payload);
    EXPECT_EQ(c.eve.payload_max, 1024u);
    EXPECT_EQ(c.eve.stats_interval_s, 60u);
    EXPECT_EQ(c.eve.ring_bytes, 8u << 20);
    EXPECT_FALSE(c.metrics.enabled);
    EXPECT_EQ(c.control.socket, "");
    EXPECT_EQ(c.flow_capacity, 1000u);
    EXPECT_EQ(c.flow_timeouts.seconds[static_cast<size_t>(ProtoClass::tcp)][static_cast<size_t>(FlowState::established)], 3600u);
    EXPECT_EQ(c.flow_timeouts.seconds[static_cast<size_t>(ProtoClass::udp)][static_cast<size_t>(FlowState::new_)], 10u);
    EXPECT_EQ(c.flow_timeouts.seconds[static_cast<size_t>(ProtoClass::tcp)][static_cast<size_t>(FlowState::new_)], 60u);
    EXPECT_EQ(c.stream_memcap, 1ull << 30);
    EXPECT_EQ(c.stream.max_ooo_bytes, 1u << 20);
    EXPECT_EQ(c.stream.depth, 1u << 20);
    EXPECT_FALSE(c.stream.midstream);
    EXPECT_FALSE(c.defrag.enabled);
    EXPECT_EQ(c.defrag.max_datagrams, 10u);
    EXPECT_EQ(c.defrag.timeout_s, 5u);
    EXPECT_EQ(c.malformed, MalformedPolicy::drop);
    EXPECT_EQ(c.filter.default_action, FilterAction::drop);
    EXPECT_EQ(c.filter.non_ip, FilterAction::drop);
}

TEST(ConfigLoader, UnquotedBangIsATagInYaml) {
    // Strings: YAML would read "!x" as a tag on an empty value; say so.
    EXPECT_EQ(load_error("eve:\n  file: !x\n"), "t.yaml:2:3: eve.file: YAML reads the unquoted !x as a tag; write it in quotes: \"!x\"");
    EXPECT_EQ(load_error("eve:\n  types: [alert, !flow]\n"),
              "t.yaml:2:18: eve.types[1]: YAML reads the unquoted !flow as a tag; write it in quotes: \"!flow\"");
    // Specs: the Suricata habit of writing !$HOME_NET unquoted is understood.
    auto c = load_ok(
        "vars:\n  address-groups:\n    OUTSIDE: !$HOME_NET\n"
        "filter:\n  rules:\n    - action: drop\n      dst-port: !22\n      src: [!198.18.0.1, 198.18.0.0/24]\n");
    EXPECT_EQ(c.address_groups.at("OUTSIDE"), "!$HOME_NET");
    ASSERT_EQ(c.filter.rules.size(), 1u);
    EXPECT_FALSE(c.filter.rules[0].dst_ports.contains(22));
    EXPECT_TRUE(c.filter.rules[0].dst_ports.contains(23));
    EXPECT_FALSE(c.filter.rules[0].src.contains(ip("198.18.0.1")));
    EXPECT_TRUE(c.filter.rules[0].src.contains(ip("198.18.0.2")));
}

TEST(ConfigLoader, CrossKeyChecks) {
    EXPECT_EQ(load_error("capture:\n  pcap: a.pcap\n  iface: eth0\n"),
              "t.yaml:3:3: capture.iface: set only one of capture.pcap, capture.iface and capture.inline (capture.pcap is set at t.yaml:2:3)");
    EXPECT_EQ(load_error("capture:\n  iface: eth0\n  inline: [a, b]\n"),
              "t.yaml:3:3: capture.inline: set only one of capture.pcap, capture.iface and capture.inline (capture.iface is set at t.yaml:2:3)");
    EXPECT_EQ(load_error("mode: ips\ncapture:\n  iface: eth0\n"),
              "t.yaml:1:1: mode: ips needs capture.inline (or a capture file): a SPAN port (capture.iface) cannot drop");
    EXPECT_EQ(load_error("capture:\n  pcap-loop: true\n"), "t.yaml:2:3: capture.pcap-loop: needs capture.pcap (a capture file to replay)");
    EXPECT_EQ(load_ok("mode: ips\ncapture:\n  inline: [a, b]\n").mode, RunMode::ips);
    EXPECT_EQ(load_ok("mode: ips\ncapture:\n  pcap: x.pcap\n").mode, RunMode::ips);
}

// ---- overrides ------------------------------------------------------------------------

TEST(ConfigOverrides, WinOverTheFileInOrder) {
    auto c = load_ok("workers: 2\nflow:\n  capacity: 10\n", {set("workers=5"), set("flow.capacity = 20"), set("workers=6")});
    EXPECT_EQ(c.workers, 6u);
    EXPECT_EQ(c.flow_capacity, 20u);
    c = load_ok("", {set("eve.types=alert,flow"), set("stream.memcap=128MiB"), set("capture.inline=[a, b]")});
    EXPECT_EQ(c.eve.types, (std::vector<std::string>{"alert", "flow"}));
    EXPECT_EQ(c.stream_memcap, 128ull << 20);
    EXPECT_EQ(c.capture.inline_ifaces, (std::vector<std::string>{"a", "b"}));
    // A value may hold '='.
    EXPECT_EQ(load_ok("", {set("capture.eal=--vdev=net_null0")}).capture.eal, "--vdev=net_null0");
    // The plain-string API.
    std::vector<std::string> plain = {"workers=7"};
    auto p = load_config(std::string{}, std::span<const std::string>(plain));
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p->workers, 7u);
}

TEST(ConfigOverrides, ErrorsNameTheOption) {
    EXPECT_EQ(load_error("", {{"workers=x", "--workers"}}), "<command line>: --workers: expected an integer between 1 and 128, got \"x\"");
    EXPECT_EQ(load_error("", {set("workers=x")}), "<command line>: --set workers: expected an integer between 1 and 128, got \"x\"");
    EXPECT_EQ(load_error("", {set("flow.capacty=5")}), "<command line>: --set flow.capacty: unknown key \"flow.capacty\"; did you mean \"flow.capacity\"?");
    EXPECT_EQ(load_error("", {set("workers")}), "<command line>: --set workers: expected KEY=VALUE, got \"workers\"");
    EXPECT_EQ(load_error("", {set("=5")}), "<command line>: --set : expected KEY=VALUE, the key is missing");
    EXPECT_EQ(load_error("", {set("flow=5")}), "<command line>: --set flow: \"flow\" is a section; set one of its keys, e.g. \"flow.capacity\"");
    EXPECT_EQ(load_error("", {set("vars.address-groups=x")}),
              "<command line>: --set vars.address-groups: set one entry at a time: vars.address-groups.NAME=VALUE");
    EXPECT_EQ(load_error("", {set("vars.address-groups.BAD-NAME=198.18.0.1")}),
              "<command line>: --set vars.address-groups.BAD-NAME: bad variable name \"BAD-NAME\" (letters, digits and '_')");
    EXPECT_EQ(load_error("", {{"capture.pcap=a.pcap", "--pcap"}, {"capture.iface=eth0", "--iface"}}),
              "<command line>: --iface: set only one of capture.pcap, capture.iface and capture.inline (capture.pcap is set at <command line>: --pcap)");
    // The file's mistakes are found before the command line's.
    EXPECT_EQ(load_error("workers: x\n", {set("workers=y")}), "t.yaml:1:1: workers: expected an integer between 1 and 128, got \"x\"");
}

TEST(ConfigOverrides, MapEntriesAndRules) {
    auto c = load_ok("", {set("vars.address-groups.PLANT=[198.18.10.0/24]"), set("vars.port-groups.HTTP_PORTS=[80,8080]"),
                          set("filter.rules=[{name: plc, action: allow, proto: tcp, dst: $PLANT, dst-port: $HTTP_PORTS}]"),
                          set("filter.default-action=drop")});
    EXPECT_EQ(c.address_groups.at("PLANT"), "[198.18.10.0/24]");
    EXPECT_EQ(c.address_groups.at("HOME_NET"), "[192.168.0.0/16,10.0.0.0/8,172.16.0.0/12]");  // defaults stay
    EXPECT_EQ(c.port_groups.at("HTTP_PORTS"), "[80,8080]");
    ASSERT_EQ(c.filter.rules.size(), 1u);
    EXPECT_EQ(c.filter.rules[0].name, "plc");
    EXPECT_TRUE(c.filter.rules[0].dst.contains(ip("198.18.10.3")));
    EXPECT_TRUE(c.filter.rules[0].dst_ports.contains(8080));
    EXPECT_EQ(c.filter.rules[0].where, "<command line>: --set filter.rules");
    EXPECT_EQ(load_error("", {set("filter.rules=[{action: drop, dst-port: 70000}]")}),
              "<command line>: --set filter.rules: filter.rules[0].dst-port: not a port (0-65535): '70000'");
    std::string e = load_error("", {set("filter.rules=[{action: drop")});
    EXPECT_EQ(e.rfind("<command line>: --set filter.rules: YAML syntax error in the value", 0), 0u) << e;
    // Rules from the command line replace the file's.
    c = load_ok("filter:\n  rules:\n    - action: drop\n    - action: reject\n", {set("filter.rules=[{action: bypass}]")});
    ASSERT_EQ(c.filter.rules.size(), 1u);
    EXPECT_EQ(c.filter.rules[0].action, FilterAction::bypass);
    EXPECT_EQ(load_ok("filter:\n  rules:\n    - action: drop\n", {set("filter.rules=[]")}).filter.rules.size(), 0u);
}

// ---- variables --------------------------------------------------------------------------

TEST(ConfigVars, MergeWithTheDefaultsAndResolve) {
    auto c = load_ok(
        "vars:\n"
        "  address-groups:\n"
        "    HOME_NET: \"[198.18.0.0/16]\"\n"
        "    PLANT: [198.18.10.0/24, 198.18.11.0/24]\n"
        "  port-groups:\n"
        "    S7_PORTS: 102\n");
    EXPECT_EQ(c.address_groups.at("HOME_NET"), "[198.18.0.0/16]");
    EXPECT_EQ(c.address_groups.at("PLANT"), "[198.18.10.0/24,198.18.11.0/24]");
    EXPECT_EQ(c.address_groups.at("EXTERNAL_NET"), "!$HOME_NET");
    EXPECT_EQ(c.port_groups.at("S7_PORTS"), "102");
    EXPECT_EQ(c.port_groups.size(), 12u);
}

TEST(ConfigVars, ErrorsPointAtTheFaultyVariable) {
    // HOME_NET is broken; the variables that use it are not blamed.
    EXPECT_EQ(load_error("vars:\n  address-groups:\n    HOME_NET: \"[198.18.0.0/33]\"\n"),
              "t.yaml:3:5: vars.address-groups.HOME_NET: bad prefix length in '198.18.0.0/33'");
    EXPECT_EQ(load_error("vars:\n  address-groups:\n    A: \"$B\"\n    B: \"[$A]\"\n"),
              "t.yaml:3:5: vars.address-groups.A: variable loop: $A -> $B -> $A");
    EXPECT_EQ(load_error("vars:\n  address-groups:\n    A: \"$NOPE\"\n"), "t.yaml:3:5: vars.address-groups.A: unknown address variable $NOPE");
    EXPECT_EQ(load_error("vars:\n  port-groups:\n    P: \"[80, 65536]\"\n"), "t.yaml:3:5: vars.port-groups.P: not a port (0-65535): '65536'");
    EXPECT_EQ(load_error("vars:\n  address-groups:\n    BAD-NAME: 198.18.0.1\n"),
              "t.yaml:3:5: vars.address-groups: bad variable name \"BAD-NAME\" (letters, digits and '_', up to 64)");
    EXPECT_EQ(load_error("vars:\n  address-groups:\n    A: {x: y}\n"), "t.yaml:3:5: vars.address-groups.A: expected a specification string, got a map");
    EXPECT_EQ(load_error("vars:\n  address-groups:\n    A: \"\"\n"), "t.yaml:3:5: vars.address-groups.A: empty specification");
    EXPECT_EQ(load_error("vars:\n  address-groups:\n    A: 198.18.0.1\n    A: 198.18.0.2\n"),
              "t.yaml:4:5: vars.address-groups.A: duplicate variable");
    EXPECT_EQ(load_error("vars:\n  address-groups: [a]\n"), "t.yaml:2:3: vars.address-groups: expected a map of NAME: spec, got a list");
}

// ---- filter rules ---------------------------------------------------------------------------

TEST(FilterRules, EveryActionProtoAndDirection) {
    auto c = load_ok(
        "filter:\n"
        "  default-action: drop\n"
        "  rules:\n"
        "    - name: a\n      action: allow\n      proto: tcp\n"
        "    - action: bypass\n      proto: udp\n      direction: both\n"
        "    - action: drop\n      proto: icmp\n"
        "    - action: drop-packet\n      proto: icmpv6\n"
        "    - action: reject\n      proto: 47\n      direction: to-server\n"
        "    - action: allow\n      proto: sctp\n"
        "    - action: allow\n      proto: any\n");
    ASSERT_EQ(c.filter.rules.size(), 7u);
    const auto& r = c.filter.rules;
    EXPECT_EQ(r[0].name, "a");
    EXPECT_EQ(r[1].name, "rule-2");
    EXPECT_EQ(r[0].action, FilterAction::allow);
    EXPECT_EQ(r[1].action, FilterAction::bypass);
    EXPECT_EQ(r[2].action, FilterAction::drop);
    EXPECT_EQ(r[3].action, FilterAction::drop_packet);
    EXPECT_EQ(r[4].action, FilterAction::reject);
    EXPECT_EQ(r[0].ip_proto, 6);
    EXPECT_EQ(r[1].ip_proto, 17);
    EXPECT_EQ(r[2].ip_proto, 1);
    EXPECT_EQ(r[3].ip_proto, 58);
    EXPECT_EQ(r[4].ip_proto, 47);
    EXPECT_EQ(r[5].ip_proto, 132);
    EXPECT_EQ(r[6].ip_proto, 0);
    EXPECT_FALSE(r[0].both_directions);
    EXPECT_TRUE(r[1].both_directions);
    EXPECT_FALSE(r[4].both_directions);
    // Defaults: any address, any port.
    EXPECT_TRUE(r[0].src.is_any());
    EXPECT_TRUE(r[0].dst.is_any());
    EXPECT_TRUE(r[0].src_ports.any());
    EXPECT_TRUE(r[0].dst_ports.any());
    EXPECT_EQ(r[0].where, "t.yaml:4");
    EXPECT_EQ(r[1].where, "t.yaml:7");
    for (const char* a : {"allow", "bypass", "drop", "drop-packet", "reject"}) {
        auto parsed = parse_filter_action(a);
        ASSERT_TRUE(parsed.ok());
        EXPECT_EQ(filter_action_name(*parsed), a);
    }
}

TEST(FilterRules, AddressesPortsAndVariables) {
    auto c = load_ok(
        "vars:\n"
        "  address-groups:\n"
        "    PLANT: \"[198.18.10.0/24, !198.18.10.99]\"\n"
        "    SCADA: 198.18.1.5\n"
        "filter:\n"
        "  rules:\n"
        "    - name: modbus\n"
        "      action: allow\n"
        "      proto: tcp\n"
        "      src: $SCADA\n"
        "      dst: \"$PLANT\"\n"
        "      dst-port: \"$MODBUS_PORTS\"\n"
        "    - action: reject\n"
        "      src: [198.18.2.0/24, 2001:db8::/32]\n"
        "      src-port: \"1024:\"\n"
        "      dst-port: [23, 2323]\n"
        "    - action: drop\n"
        "      dst: \"!$HOME_NET\"\n");
    ASSERT_EQ(c.filter.rules.size(), 3u);
    const auto& m = c.filter.rules[0];
    EXPECT_TRUE(m.src.contains(ip("198.18.1.5")));
    EXPECT_FALSE(m.src.contains(ip("198.18.1.6")));
    EXPECT_TRUE(m.dst.contains(ip("198.18.10.1")));
    EXPECT_FALSE(m.dst.contains(ip("198.18.10.99")));
    EXPECT_TRUE(m.dst_ports.contains(502));
    EXPECT_FALSE(m.dst_ports.contains(503));
    const auto& t = c.filter.rules[1];
    EXPECT_TRUE(t.src.contains(ip("2001:db8::7")));
    EXPECT_TRUE(t.src.contains(ip("198.18.2.7")));
    EXPECT_FALSE(t.src.contains(ip("198.18.3.7")));
    EXPECT_TRUE(t.src_ports.contains(40000));
    EXPECT_FALSE(t.src_ports.contains(80));
    EXPECT_TRUE(t.dst_ports.contains(2323));
    EXPECT_FALSE(t.dst_ports.contains(22));
    const auto& e = c.filter.rules[2];
    EXPECT_FALSE(e.dst.contains(ip("10.1.2.3")));   // in the default HOME_NET
    EXPECT_TRUE(e.dst.contains(ip("198.18.0.1")));
}

TEST(FilterRules, BadItemsNameIndexAndLine) {
    const std::string head = "filter:\n  rules:\n    - action: allow\n";  // rule 0 on line 3
    EXPECT_EQ(load_error(head + "    - action: allw\n"),
              "t.yaml:4:7: filter.rules[1].action: expected one of allow, bypass, drop, drop-packet, reject, got \"allw\"");
    EXPECT_EQ(load_error(head + "    - proto: tcp\n"), "t.yaml:4:7: filter.rules[1]: missing action (allow, bypass, drop, drop-packet or reject)");
    EXPECT_EQ(load_error(head + "    - action: drop\n      dst_port: 23\n"),
              "t.yaml:5:7: filter.rules[1].dst_port: unknown rule key; did you mean \"dst-port\"?");
    EXPECT_EQ(load_error(head + "    - action: drop\n      colour: red\n"), "t.yaml:5:7: filter.rules[1].colour: unknown rule key");
    EXPECT_EQ(load_error(head + "    - action: drop\n      proto: tcpp\n"),
              "t.yaml:5:7: filter.rules[1].proto: expected any, tcp, udp, icmp, icmpv6, sctp or a protocol number 0-255, got \"tcpp\"");
    EXPECT_EQ(load_error(head + "    - action: drop\n      proto: 256\n"),
              "t.yaml:5:7: filter.rules[1].proto: expected any, tcp, udp, icmp, icmpv6, sctp or a protocol number 0-255, got \"256\"");
    EXPECT_EQ(load_error(head + "    - action: drop\n      direction: inbound\n"),
              "t.yaml:5:7: filter.rules[1].direction: expected one of to-server, both, got \"inbound\"");
    EXPECT_EQ(load_error(head + "    - action: drop\n      src: 198.18.0.0/33\n"),
              "t.yaml:5:7: filter.rules[1].src: bad prefix length in '198.18.0.0/33'");
    EXPECT_EQ(load_error(head + "    - action: drop\n      dst: $PLNT\n"), "t.yaml:5:7: filter.rules[1].dst: unknown address variable $PLNT");
    EXPECT_EQ(load_error(head + "    - action: drop\n      dst: \"[198.18.0.1\"\n"),
              "t.yaml:5:7: filter.rules[1].dst: unbalanced '[' at offset 0 of '[198.18.0.1'");
    EXPECT_EQ(load_error(head + "    - action: drop\n      src-port: 65536\n"), "t.yaml:5:7: filter.rules[1].src-port: not a port (0-65535): '65536'");
    EXPECT_EQ(load_error(head + "    - action: drop\n      dst-port: \"[]\"\n"),
              "t.yaml:5:7: filter.rules[1].dst-port: empty list '[]' at offset 0 of '[]'");
    EXPECT_EQ(load_error(head + "    - action: drop\n      proto: icmp\n      dst-port: 80\n"),
              "t.yaml:6:7: filter.rules[1].dst-port: ports need proto tcp, udp, sctp or any, not icmp");
    EXPECT_EQ(load_error(head + "    - action: drop\n      src: \"\"\n"), "t.yaml:5:7: filter.rules[1].src: empty value");
    EXPECT_EQ(load_error(head + "    - action: drop\n      action: allow\n"), "t.yaml:5:7: filter.rules[1].action: duplicate key");
    EXPECT_EQ(load_error(head + "    - action: drop\n      src: {a: b}\n"), "t.yaml:5:7: filter.rules[1].src: expected a string, got a map");
    EXPECT_EQ(load_error(head + "    - drop\n"), "t.yaml:4:7: filter.rules[1]: expected a rule (a map), got a scalar");
    EXPECT_EQ(load_error("filter:\n  rules: drop\n"), "t.yaml:2:3: filter.rules: expected a list of filter rules (maps), got a scalar");
    EXPECT_EQ(load_error("filter:\n  rules:\n    - action: drop\n      dst: \"!any\"\n"), "t.yaml:4:7: filter.rules[0].dst: '!any' matches no address");
}

// ---- hostile documents --------------------------------------------------------------------

TEST(ConfigHostile, AliasesCannotBlowUpMemory) {
    // One anchored list of 10k addresses, referenced by 1000 variables: over
    // 100 MB once expanded, from a file of some 140 KB.
    std::string yaml = "vars:\n  address-groups:\n    BIG: &big [";
    for (int i = 0; i < 10000; ++i) yaml += fmt::format("{}198.18.{}.{}", i ? "," : "", i / 256 % 256, i % 256);
    yaml += "]\n";
    for (int i = 0; i < 1000; ++i) yaml += fmt::format("    V{}: *big\n", i);
    std::string e = load_error(yaml);
    EXPECT_NE(e.find("once YAML aliases are expanded"), std::string::npos) << e;
    EXPECT_EQ(e.rfind("t.yaml:", 0), 0u) << e;
}

TEST(ConfigHostile, FilterRuleLimits) {
    std::string yaml = "filter:\n  rules: [&r {action: drop}";
    for (size_t i = 0; i < kMaxFilterRules; ++i) yaml += ", *r";
    yaml += "]\n";
    std::string many_rules = load_error(yaml);
    EXPECT_EQ(many_rules.rfind("t.yaml:2:", 0), 0u) << many_rules;
    EXPECT_NE(many_rules.find(fmt::format(": filter.rules: more than {} rules", kMaxFilterRules)), std::string::npos) << many_rules;
    // 2000 rules of 1000 address ranges each is more than the filter may hold.
    std::string big = "vars:\n  address-groups:\n    BIG: \"[";
    for (int i = 0; i < 1000; ++i) big += fmt::format("{}198.18.{}.{}", i ? "," : "", i / 128, (i % 128) * 2);
    big += "]\"\nfilter:\n  rules:\n";
    for (int i = 0; i < 2000; ++i) big += "    - {action: drop, src: $BIG}\n";
    std::string e = load_error(big);
    EXPECT_NE(e.find("the filter rules hold more than"), std::string::npos) << e;
    EXPECT_EQ(e.rfind("t.yaml:", 0), 0u) << e;
    // A variable referenced by many rules is resolved once (this would take
    // minutes otherwise): 400 rules on a 1000-range variable load quickly.
    std::string many = "vars:\n  address-groups:\n    BIG: \"[";
    for (int i = 0; i < 1000; ++i) many += fmt::format("{}198.18.{}.{}", i ? "," : "", i / 128, (i % 128) * 2);
    many += "]\"\nfilter:\n  rules:\n";
    for (int i = 0; i < 400; ++i) many += "    - {action: drop, src: $BIG, dst: \"!$BIG\"}\n";
    auto c = load_ok(many);
    ASSERT_EQ(c.filter.rules.size(), 400u);
    EXPECT_TRUE(c.filter.rules[399].src.contains(ip("198.18.0.254")));
    EXPECT_FALSE(c.filter.rules[399].dst.contains(ip("198.18.0.254")));
}

TEST(ConfigHostile, GarbageIsRejectedOnOneLine) {
    const std::string inputs[] = {
        std::string("\0\0\0", 3), "\xff\xfe\xfd", "{{{{", "]]]]", "&a [*a]", "!!binary xyz", "? [a]\n: b\n", "%YAML 9.9\n---\na: 1\n",
        "---\nworkers: 1\n---\nworkers: 2\n", std::string("workers: 1\n\"k\x01ey\": 2\n"), "\"\\\n\": x\n", "\t\t\t",
    };
    for (const auto& in : inputs) {
        auto r = load(in);
        if (!r.ok()) {
            EXPECT_EQ(r.message().find('\n'), std::string::npos) << r.message();
            for (char ch : r.message()) EXPECT_GE(static_cast<unsigned char>(ch), 0x20) << r.message();
        }
    }
}

// ---- generated files --------------------------------------------------------------------

std::string read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void check_generated(const char* relative, const std::string& generated) {
    const char* root = std::getenv("SLUICE_SOURCE_ROOT");
    if (!root) GTEST_SKIP() << "SLUICE_SOURCE_ROOT is not set (run through meson test)";
    std::filesystem::path path = std::filesystem::path(root) / relative;
    if (const char* update = std::getenv("SLUICE_UPDATE_DOCS"); update && std::string(update) == "1") {
        std::filesystem::create_directories(path.parent_path());
        std::ofstream(path, std::ios::binary) << generated;
    }
    ASSERT_TRUE(std::filesystem::exists(path)) << path << " is missing; run this test with SLUICE_UPDATE_DOCS=1";
    EXPECT_TRUE(read_file(path) == generated) << path << " differs from what the schema generates; regenerate it with "
                                              << "SLUICE_UPDATE_DOCS=1 (or sluice --dump-config-reference / --dump-config)";
}

TEST(GeneratedFiles, ConfigurationReferenceIsUpToDate) {
    std::string doc = config_reference_markdown();
    EXPECT_NE(doc.find(cli_help_text()), std::string::npos);
    check_generated("docs/configuration.md", doc);
}

TEST(GeneratedFiles, DefaultConfigFileIsUpToDate) { check_generated("config/sluice.yaml", default_config_yaml()); }

TEST(GeneratedFiles, DefaultConfigLoadsToTheDefaults) {
    auto doc = load_config_text(default_config_yaml(), "sluice.yaml", {});
    ASSERT_TRUE(doc.ok()) << doc.message();
    EXPECT_EQ(render_config_yaml(doc->values), default_config_yaml());
    auto defaults = load_config_document("", {});
    ASSERT_TRUE(defaults.ok());
    for (const auto& k : config_keys()) {
        if (k.type == KeyType::filter_rules) continue;
        EXPECT_EQ(formatted(k, k.get(doc->config)), formatted(k, k.get(defaults->config))) << k.path;
    }
}

TEST(GeneratedFiles, ReferenceAndHelpCoverEveryKey) {
    std::string md = config_reference_markdown();
    std::string help = config_help_text();
    for (const auto& k : config_keys()) {
        EXPECT_NE(md.find(fmt::format("| `{}` |", k.path)), std::string::npos) << k.path;
        EXPECT_NE(help.find(fmt::format("  {}  (", k.path)), std::string::npos) << k.path;
        if (!k.cli.empty()) {
            std::string cli;
            for (char ch : k.cli) {
                if (ch == '|') cli += '\\';
                cli += ch;
            }
            EXPECT_NE(md.find(fmt::format("`{}`", cli)), std::string::npos) << cli;
        }
    }
    for (const auto& f : filter_rule_fields()) EXPECT_NE(md.find(fmt::format("| `{}` |", f.name)), std::string::npos) << f.name;
    for (const auto& k : config_keys())
        for (const auto& d : k.map_default) EXPECT_NE(md.find(fmt::format("| `{}` |", d.name)), std::string::npos) << d.name;
}

TEST(GeneratedFiles, DumpRoundTripsAnEffectiveConfig) {
    const char* yaml =
        "mode: ips\n"
        "capture:\n  inline: [veth0, \"veth 1\"]\n";
    EXPECT_FALSE(load(yaml).ok());  // a blank in an interface name
    const char* good =
        "mode: ips\n"
        "workers: 3\n"
        "capture:\n  inline: [veth0, veth1]\n  eal: \"-l 0-3 --file-prefix \\\"x\\\"\"\n"
        "eve:\n  types: [alert]\n  stats-interval: 90\n"
        "stream:\n  memcap: 1536KiB\n"
        "vars:\n  address-groups:\n    PLANT: \"[198.18.10.0/24, !198.18.10.1]\"\n"
        "filter:\n"
        "  default-action: drop\n"
        "  rules:\n"
        "    - name: \"modbus: from scada\"\n      action: allow\n      proto: tcp\n      dst: $PLANT\n      dst-port: \"$MODBUS_PORTS\"\n"
        "    - action: reject\n      direction: both\n";
    auto doc = load(good);
    ASSERT_TRUE(doc.ok()) << doc.message();
    std::string dumped = render_config_yaml(doc->values);
    EXPECT_NE(dumped.find("  eal: \"-l 0-3 --file-prefix \\\"x\\\"\"\n"), std::string::npos) << dumped;
    EXPECT_NE(dumped.find("  stats-interval: 90s\n"), std::string::npos);
    EXPECT_NE(dumped.find("  memcap: 1536KiB\n"), std::string::npos);
    EXPECT_NE(dumped.find("    PLANT: \"[198.18.10.0/24, !198.18.10.1]\"\n"), std::string::npos);
    EXPECT_NE(dumped.find("    - name: \"modbus: from scada\"\n      action: \"allow\"\n"), std::string::npos) << dumped;
    auto again = load_config_text(dumped, "dump.yaml", {});
    ASSERT_TRUE(again.ok()) << again.message() << "\n" << dumped;
    EXPECT_EQ(render_config_yaml(again->values), dumped);
    ASSERT_EQ(again->config.filter.rules.size(), 2u);
    EXPECT_EQ(again->config.filter.rules[0].name, "modbus: from scada");
    EXPECT_TRUE(again->config.filter.rules[1].both_directions);
    EXPECT_EQ(again->config.capture.eal, "-l 0-3 --file-prefix \"x\"");
}

}  // namespace
}  // namespace sluice
