// Tests of the command line (app/cli): every option, the overrides it turns
// into and how the loader validates them, conflicts, help, version and ctl.
#include "app/cli.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <cstring>
#include <initializer_list>
#include <sstream>
#include <string>
#include <vector>

#include "app/config_loader.hpp"

namespace sluice {
namespace {

Result<CliRequest> parse(std::initializer_list<const char*> args) {
    std::vector<std::string> v(args.begin(), args.end());
    return parse_command_line(std::span<const std::string>(v));
}

CliRequest parse_ok(std::initializer_list<const char*> args) {
    auto r = parse(args);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.message());
    return r.ok() ? std::move(*r) : CliRequest{};
}

std::string parse_error(std::initializer_list<const char*> args) {
    auto r = parse(args);
    EXPECT_FALSE(r.ok());
    if (r.ok()) return {};
    EXPECT_EQ(r.message().find('\n'), std::string::npos) << r.message();
    EXPECT_EQ(r.message().rfind("<command line>: ", 0), 0u) << r.message();
    return r.message();
}

std::vector<std::string> assignments(const CliRequest& r) {
    std::vector<std::string> out;
    for (const auto& o : r.overrides) out.push_back(o.assignment);
    return out;
}

using Strings = std::vector<std::string>;

TEST(Cli, NoArgumentsRunsWithDefaults) {
    auto r = parse_ok({});
    EXPECT_EQ(r.command, CliCommand::run);
    EXPECT_TRUE(r.config_path.empty());
    EXPECT_TRUE(r.overrides.empty());
    auto c = load_config(r.config_path, r.overrides);
    ASSERT_TRUE(c.ok()) << c.message();
    EXPECT_EQ(c->workers, 1u);
}

TEST(Cli, EveryConfigOptionBecomesOverrides) {
    struct Case {
        std::vector<const char*> args;
        Strings expected;
    };
    const Case cases[] = {
        {{"--pcap", "in.pcap"}, {"capture.pcap=in.pcap", "capture.iface=", "capture.inline="}},
        {{"--pcap", "in.pcap", "--pcap-loop"}, {"capture.pcap=in.pcap", "capture.iface=", "capture.inline=", "capture.pcap-loop=true"}},
        {{"--write-pcap", "out.pcap"}, {"capture.write-pcap=out.pcap"}},
        {{"--iface", "eth1"}, {"capture.iface=eth1", "capture.pcap=", "capture.inline="}},
        {{"--inline", "veth0,veth1"}, {"capture.inline=veth0,veth1", "capture.pcap=", "capture.iface="}},
        {{"--mode", "ips"}, {"mode=ips"}},
        {{"--workers", "4"}, {"workers=4"}},
        {{"--eve", "/tmp/eve.json"}, {"eve.file=/tmp/eve.json"}},
        {{"--metrics", "[::1]:9977"}, {"metrics.listen=[::1]:9977", "metrics.enabled=true"}},
        {{"--no-metrics"}, {"metrics.enabled=false"}},
        {{"--control", "/tmp/s.sock"}, {"control.socket=/tmp/s.sock"}},
        {{"--control", ""}, {"control.socket="}},
        {{"--eal", "-l 0-3 -a 0000:01:00.0"}, {"capture.eal=-l 0-3 -a 0000:01:00.0"}},
        {{"--eal=--no-huge"}, {"capture.eal=--no-huge"}},
        {{"--log-level", "debug"}, {"log-level=debug"}},
        {{"--set", "flow.capacity=1000", "--set", "eve.types=alert,flow"}, {"flow.capacity=1000", "eve.types=alert,flow"}},
        {{"--workers=2"}, {"workers=2"}},
    };
    for (const auto& c : cases) {
        std::vector<std::string> args(c.args.begin(), c.args.end());
        auto r = parse_command_line(std::span<const std::string>(args));
        ASSERT_TRUE(r.ok()) << args[0] << ": " << r.message();
        EXPECT_EQ(r->command, CliCommand::run);
        EXPECT_EQ(assignments(*r), c.expected) << args[0];
        // And the loader accepts what the option produced.
        auto cfg = load_config(std::string{}, r->overrides);
        EXPECT_TRUE(cfg.ok()) << args[0] << ": " << (cfg.ok() ? "" : cfg.message());
    }
}

TEST(Cli, OverridesReachTheConfig) {
    auto r = parse_ok({"--inline", "veth0,veth1", "--mode", "ips", "--workers", "3", "--eve", "e.json", "--metrics", "0.0.0.0:9100",
                       "--control", "", "--log-level", "warning", "--write-pcap", "w.pcap", "--eal", "--no-huge",
                       "--set", "vars.address-groups.PLANT=[198.18.10.0/24]"});
    auto c = load_config(r.config_path, r.overrides);
    ASSERT_TRUE(c.ok()) << c.message();
    EXPECT_EQ(c->capture.inline_ifaces, (Strings{"veth0", "veth1"}));
    EXPECT_EQ(c->mode, RunMode::ips);
    EXPECT_EQ(c->workers, 3u);
    EXPECT_EQ(c->eve.file, "e.json");
    EXPECT_EQ(c->metrics.listen, "0.0.0.0:9100");
    EXPECT_TRUE(c->metrics.enabled);
    EXPECT_EQ(c->control.socket, "");
    EXPECT_EQ(c->log_level, "warning");
    EXPECT_EQ(c->capture.write_pcap, "w.pcap");
    EXPECT_EQ(c->capture.eal, "--no-huge");
    EXPECT_EQ(c->address_groups.at("PLANT"), "[198.18.10.0/24]");
}

TEST(Cli, OptionsApplyInTheOrderGiven) {
    auto a = parse_ok({"--workers", "2", "--set", "workers=3"});
    EXPECT_EQ(load_config(a.config_path, a.overrides)->workers, 3u);
    auto b = parse_ok({"--set", "workers=3", "--workers", "2"});
    EXPECT_EQ(load_config(b.config_path, b.overrides)->workers, 2u);
}

TEST(Cli, OptionValuesAreValidatedByTheSchema) {
    auto check = [](std::initializer_list<const char*> args, const std::string& expected) {
        auto r = parse(args);
        ASSERT_TRUE(r.ok()) << r.message();
        auto c = load_config(r->config_path, r->overrides);
        ASSERT_FALSE(c.ok());
        EXPECT_EQ(c.message(), expected);
    };
    check({"--workers", "x"}, "<command line>: --workers: expected an integer between 1 and 128, got \"x\"");
    check({"--workers", "0"}, "<command line>: --workers: expected an integer between 1 and 128, got \"0\"");
    check({"--mode", "ipx"}, "<command line>: --mode: expected one of ids, ips, got \"ipx\"");
    check({"--metrics", "localhost:1"},
          "<command line>: --metrics: expected ADDR:PORT (\"127.0.0.1:9977\" or \"[::1]:9977\"), got \"localhost:1\": not an IP address");
    check({"--log-level", "loud"}, "<command line>: --log-level: expected one of trace, debug, info, warning, error, critical, off, got \"loud\"");
    check({"--inline", "veth0,veth0"}, "<command line>: --inline: the two inline interfaces must differ, got \"veth0\" twice");
    check({"--iface", "a b"}, "<command line>: --iface: bad character in interface name \"a b\"");
    check({"--set", "flow.capacity=lots"}, "<command line>: --set flow.capacity: expected an integer between 1 and 67108864, got \"lots\"");
    check({"--set", "flow.capacty=5"}, "<command line>: --set flow.capacty: unknown key \"flow.capacty\"; did you mean \"flow.capacity\"?");
    check({"--pcap-loop"}, "<command line>: --pcap-loop: needs capture.pcap (a capture file to replay)");
}

TEST(Cli, CaptureOptionsReplaceTheFilesSource) {
    namespace fs = std::filesystem;
    fs::path file = fs::path(testing::TempDir()) / "sluice_cli_span.yaml";
    std::ofstream(file) << "capture:\n  iface: eth1\n";
    auto r = parse_ok({"--config", file.c_str(), "--pcap", "test.pcap"});
    EXPECT_EQ(r.config_path, file.string());
    auto c = load_config(r.config_path, r.overrides);
    ASSERT_TRUE(c.ok()) << c.message();
    EXPECT_EQ(c->capture.pcap, "test.pcap");
    EXPECT_EQ(c->capture.iface, "");
    // Without the command line, the file alone says SPAN; ips on it is refused.
    auto ips = parse_ok({"-c", file.c_str(), "--mode", "ips"});
    auto bad = load_config(ips.config_path, ips.overrides);
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.message(), "<command line>: --mode: ips needs capture.inline (or a capture file): a SPAN port (capture.iface) cannot drop");
    fs::remove(file);
}

TEST(Cli, Conflicts) {
    EXPECT_EQ(parse_error({"--pcap", "a.pcap", "--inline", "a,b"}), "<command line>: --pcap and --inline cannot be combined (one capture source)");
    EXPECT_EQ(parse_error({"--pcap", "a.pcap", "--iface", "eth0"}), "<command line>: --pcap and --iface cannot be combined (one capture source)");
    EXPECT_EQ(parse_error({"--iface", "eth0", "--inline", "a,b"}), "<command line>: --iface and --inline cannot be combined (one capture source)");
    EXPECT_EQ(parse_error({"--inline", "a"}), "<command line>: --inline: expected two interface names \"A,B\", got \"a\"");
    EXPECT_EQ(parse_error({"--inline", "a,b,c"}), "<command line>: --inline: expected two interface names \"A,B\", got \"a,b,c\"");
    EXPECT_EQ(parse_error({"--inline", ",b"}), "<command line>: --inline: expected two interface names \"A,B\", got \",b\"");
    EXPECT_EQ(parse_error({"--inline", "a,"}), "<command line>: --inline: expected two interface names \"A,B\", got \"a,\"");
    EXPECT_EQ(parse_error({"--mode", "ips", "--iface", "eth0"}), "<command line>: --mode ips needs --inline: a SPAN port (--iface) cannot drop");
    EXPECT_EQ(parse_error({"--metrics", "127.0.0.1:1", "--no-metrics"}), "<command line>: --metrics and --no-metrics cannot be combined");
    EXPECT_EQ(parse_error({"--dump-config", "--check-rules", "a.rules"}), "<command line>: --dump-config and --check-rules cannot be combined");
    EXPECT_EQ(parse_error({"--version", "--help-config"}), "<command line>: --version and --help-config cannot be combined");
    EXPECT_EQ(parse_error({"--set", "workers"}), "<command line>: --set: expected KEY=VALUE, got \"workers\"");
    EXPECT_EQ(parse_error({"--set", "=3"}), "<command line>: --set: expected KEY=VALUE, got \"=3\"");
    // ids on a SPAN port is fine.
    EXPECT_EQ(parse_ok({"--mode", "ids", "--iface", "eth0"}).command, CliCommand::run);
}

TEST(Cli, MistakesAreOneLine) {
    std::string e = parse_error({"--bogus"});
    EXPECT_NE(e.find("--bogus"), std::string::npos) << e;
    e = parse_error({"--workers"});
    EXPECT_NE(e.find("--workers"), std::string::npos) << e;
    e = parse_error({"stray"});
    EXPECT_NE(e.find("stray"), std::string::npos) << e;
    e = parse_error({"--workers", "1", "--workers", "2"});
    EXPECT_NE(e.find("--workers"), std::string::npos) << e;
    e = parse_error({"--config"});
    EXPECT_NE(e.find("--config"), std::string::npos) << e;
}

TEST(Cli, FilesForLaterStages) {
    auto r = parse_ok({"--rules", "a.rules", "--rules", "b.rules", "--learn", "learned.yaml", "--policy", "plant.yaml", "--clamav-db",
                       "/var/lib/clamav", "--config", "s.yaml"});
    EXPECT_EQ(r.command, CliCommand::run);
    EXPECT_EQ(r.rule_files, (Strings{"a.rules", "b.rules"}));
    EXPECT_EQ(r.learn_file, "learned.yaml");
    EXPECT_EQ(r.policy_file, "plant.yaml");
    EXPECT_EQ(r.clamav_db, "/var/lib/clamav");
    EXPECT_EQ(r.config_path, "s.yaml");
    auto check = parse_ok({"--check-rules", "a.rules", "b.rules", "c.rules"});
    EXPECT_EQ(check.command, CliCommand::check_rules);
    EXPECT_EQ(check.check_rule_files, (Strings{"a.rules", "b.rules", "c.rules"}));
    auto check_then = parse_ok({"--check-rules", "a.rules", "--workers", "2"});
    EXPECT_EQ(check_then.check_rule_files, (Strings{"a.rules"}));
    EXPECT_EQ(assignments(check_then), (Strings{"workers=2"}));
}

TEST(Cli, Commands) {
    EXPECT_EQ(parse_ok({"--dump-config"}).command, CliCommand::dump_config);
    EXPECT_EQ(parse_ok({"--dump-config-reference"}).command, CliCommand::dump_config_reference);
    EXPECT_EQ(parse_ok({"--help-config"}).command, CliCommand::help_config);
    // --dump-config shows the effective configuration: options still count.
    auto d = parse_ok({"--dump-config", "--workers", "5"});
    EXPECT_EQ(d.command, CliCommand::dump_config);
    auto doc = load_config_document(d.config_path, d.overrides);
    ASSERT_TRUE(doc.ok());
    EXPECT_NE(render_config_yaml(doc->values).find("\nworkers: 5\n"), std::string::npos);
}

TEST(Cli, HelpListsEveryOptionOnOneLine) {
    auto r = parse_ok({"--help"});
    EXPECT_EQ(r.command, CliCommand::help);
    EXPECT_EQ(r.text, cli_help_text());
    EXPECT_EQ(parse_ok({"-h"}).text, r.text);
    const char* options[] = {"--config", "--pcap", "--pcap-loop", "--write-pcap", "--iface", "--inline", "--mode", "--workers", "--eve",
                             "--metrics", "--no-metrics", "--control", "--eal", "--log-level", "--set", "--check-rules", "--rules",
                             "--learn", "--policy", "--clamav-db", "--dump-config", "--dump-config-reference", "--help-config",
                             "--version", "ctl"};
    std::istringstream lines(r.text);
    std::vector<std::string> all;
    for (std::string line; std::getline(lines, line);) all.push_back(line);
    for (const char* o : options) {
        bool found = false;
        for (const auto& line : all) {
            // "  --workers N      number of worker cores": name and description on one line.
            auto at = line.find(o);
            if (at == std::string::npos) continue;
            std::string after = line.substr(at + std::strlen(o));
            if (!after.empty() && after[0] != ' ') continue;  // "--pcap" inside "--pcap-loop"
            auto gap = after.find("  ");
            if (gap != std::string::npos && after.find_first_not_of(' ', gap) != std::string::npos) found = true;
        }
        EXPECT_TRUE(found) << o << " has no one-line entry in:\n" << r.text;
    }
}

TEST(Cli, Version) {
    auto r = parse_ok({"--version"});
    EXPECT_EQ(r.command, CliCommand::version);
    EXPECT_EQ(r.text.rfind("sluice ", 0), 0u);
    EXPECT_EQ(r.text.back(), '\n');
    EXPECT_GT(r.text.size(), std::string("sluice \n").size());
    EXPECT_EQ(parse_ok({"-V"}).text, r.text);
}

TEST(Cli, Ctl) {
    auto r = parse_ok({"ctl", "stats"});
    EXPECT_EQ(r.command, CliCommand::ctl);
    EXPECT_EQ(r.ctl.command, "stats");
    EXPECT_TRUE(r.ctl.args.empty());
    EXPECT_TRUE(r.ctl.socket.empty());
    r = parse_ok({"ctl", "--socket", "/tmp/s.sock", "reload", "--force", "rules"});
    EXPECT_EQ(r.ctl.socket, "/tmp/s.sock");
    EXPECT_EQ(r.ctl.command, "reload");
    EXPECT_EQ(r.ctl.args, (Strings{"--force", "rules"}));
    // The socket may come from a configuration file.
    r = parse_ok({"--config", "s.yaml", "ctl", "flows", "10"});
    EXPECT_EQ(r.config_path, "s.yaml");
    EXPECT_EQ(r.ctl.command, "flows");
    EXPECT_EQ(r.ctl.args, (Strings{"10"}));
    EXPECT_EQ(parse_error({"ctl"}), "<command line>: ctl: COMMAND is missing (e.g. sluice ctl stats)");
    EXPECT_EQ(parse_error({"--dump-config", "ctl", "stats"}), "<command line>: --dump-config and ctl cannot be combined");
    auto help = parse_ok({"ctl", "--help"});
    EXPECT_EQ(help.command, CliCommand::help);
    EXPECT_NE(help.text.find("--socket"), std::string::npos);
    EXPECT_NE(help.text, cli_help_text());
}

TEST(Cli, ArgvEntryPoint) {
    std::string a0 = "sluice", a1 = "--workers", a2 = "6";
    char* argv[] = {a0.data(), a1.data(), a2.data(), nullptr};
    auto r = parse_command_line(3, argv);
    ASSERT_TRUE(r.ok()) << r.message();
    EXPECT_EQ(assignments(*r), (Strings{"workers=6"}));
    char* only[] = {a0.data(), nullptr};
    EXPECT_TRUE(parse_command_line(1, only).ok());
}

}  // namespace
}  // namespace sluice
