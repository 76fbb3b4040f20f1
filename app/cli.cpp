#include "app/cli.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "dataplane/text.hpp"

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "unknown"
#endif

namespace sluice {

namespace {

std::string one_line(std::string_view text) {
    std::string out;
    for (char ch : text) {
        if (ch == '\n') {
            if (!out.empty() && out.back() != ' ') out += "; ";
        } else {
            out += ch;
        }
    }
    while (!out.empty() && (out.back() == ' ' || out.back() == ';')) out.pop_back();
    return out;
}

Error cli_error(std::string_view msg) { return make_error(fmt::format("{}: {}", kCommandLine, msg)); }

// An option that stands for configuration keys: each occurrence becomes
// these assignments; "{}" is replaced by the option's value.
struct KeyOption {
    std::string_view name;
    std::string_view type;  // "" = a flag
    std::string_view help;
    std::vector<std::string_view> assignments;
};

const std::vector<KeyOption>& key_options() {
    static const std::vector<KeyOption> options = {
        {"--pcap", "FILE", "read packets from a capture file (offline; ends at its end)",
         {"capture.pcap={}", "capture.iface=", "capture.inline="}},
        {"--pcap-loop", "", "replay the capture file forever", {"capture.pcap-loop=true"}},
        {"--write-pcap", "FILE", "write forwarded packets to a capture file", {"capture.write-pcap={}"}},
        {"--iface", "NAME", "receive from a SPAN/mirror interface (no forwarding)",
         {"capture.iface={}", "capture.pcap=", "capture.inline="}},
        {"--inline", "A,B", "bridge two interfaces both ways (inline)", {"capture.inline={}", "capture.pcap=", "capture.iface="}},
        {"--mode", "ids|ips", "ids: log verdicts only; ips: enforce them", {"mode={}"}},
        {"--workers", "N", "number of worker cores", {"workers={}"}},
        {"--eve", "FILE", "EVE JSON-lines event log", {"eve.file={}"}},
        {"--metrics", "ADDR:PORT", "Prometheus endpoint (default 127.0.0.1:9977)", {"metrics.listen={}", "metrics.enabled=true"}},
        {"--no-metrics", "", "do not serve metrics", {"metrics.enabled=false"}},
        {"--control", "PATH", "control socket path (\"\" = none)", {"control.socket={}"}},
        {"--eal", "\"ARGS\"", "raw DPDK EAL arguments; write --eal=\"-l 0-3 ...\"", {"capture.eal={}"}},
        {"--log-level", "LEVEL", "trace|debug|info|warning|error|critical|off", {"log-level={}"}},
    };
    return options;
}

std::string replace_value(std::string_view pattern, std::string_view value) {
    std::string out(pattern);
    if (auto at = out.find("{}"); at != std::string::npos) out.replace(at, 2, value);
    return out;
}

// Everything parse_command_line needs, kept together so that the help text and
// the parser come from one definition.
struct Parser {
    CLI::App app{"sluice: IDS/IPS between office and plant networks (DPDK)", "sluice"};
    CLI::App* ctl = nullptr;
    std::map<std::string, CLI::Option*, std::less<>> opts;
    std::string config_path, learn, policy, clamav;
    std::vector<std::string> rules, check_rules, sets;
    std::string ctl_socket;
    bool dump = false, dump_ref = false, help_config = false, version = false;
    std::map<std::string, std::string, std::less<>> key_values;  // key option -> its value
    std::map<std::string, bool, std::less<>> flag_values;        // key flag -> given

    Parser() {
        app.get_formatter()->column_width(34);
        app.footer("Configuration keys: sluice --help-config (reference: docs/configuration.md).");
        app.add_option("-c,--config", config_path, "configuration file (YAML)")->type_name("FILE");
        for (const auto& k : key_options()) {
            std::string name(k.name);
            CLI::Option* o = nullptr;
            if (k.type.empty()) {
                o = app.add_flag(name, flag_values[name], std::string(k.help));
            } else {
                o = app.add_option(name, key_values[name], std::string(k.help))->type_name(std::string(k.type));
            }
            opts[name] = o;
        }
        opts["--set"] = app.add_option("--set", sets, "set any configuration key (repeatable)")
                            ->type_name("KEY=VALUE")
                            ->expected(1)
                            ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
        app.add_option("--rules", rules, "load a rule file (repeatable)")
            ->type_name("FILE")
            ->expected(1)
            ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
        app.add_option("--check-rules", check_rules, "check rule files, report and exit")->type_name("FILE...")->expected(1, 1 << 20);
        app.add_option("--learn", learn, "learn an OT policy from traffic into FILE")->type_name("FILE");
        app.add_option("--policy", policy, "enforce the OT policy in FILE")->type_name("FILE");
        app.add_option("--clamav-db", clamav, "ClamAV signature database directory")->type_name("DIR");
        app.add_flag("--dump-config", dump, "print the complete effective configuration (YAML) and exit");
        app.add_flag("--dump-config-reference", dump_ref, "print the configuration reference (Markdown) and exit");
        app.add_flag("--help-config", help_config, "list every configuration key and exit");
        app.add_flag("-V,--version", version, "print the version and exit");

        ctl = app.add_subcommand("ctl", "send COMMAND [ARGS...] to a running sluice over its control socket");
        ctl->add_option("--socket", ctl_socket, "control socket (default: control.socket of --config)")->type_name("PATH");
        ctl->prefix_command();  // COMMAND and its ARGS are taken as they are, options included
        ctl->footer("COMMAND: e.g. stats, reload, shutdown.");
    }

    Result<CliRequest> run(std::vector<std::string> args_reversed);
};

Result<CliRequest> Parser::run(std::vector<std::string> args) {
    CliRequest req;
    try {
        app.parse(args);
    } catch (const CLI::CallForHelp&) {
        req.command = CliCommand::help;
        req.text = app.help();
        return req;
    } catch (const CLI::CallForAllHelp&) {
        req.command = CliCommand::help;
        req.text = app.help("", CLI::AppFormatMode::All);
        return req;
    } catch (const CLI::ParseError& e) {
        return cli_error(one_line(e.what()));
    } catch (const std::exception& e) {
        return cli_error(one_line(e.what()));
    }

    auto given = [&](std::string_view name) { return opts.find(name)->second->count() > 0; };

    // Commands that do something else than running.
    std::vector<std::pair<std::string_view, CliCommand>> modes;
    if (version) modes.emplace_back("--version", CliCommand::version);
    if (help_config) modes.emplace_back("--help-config", CliCommand::help_config);
    if (dump) modes.emplace_back("--dump-config", CliCommand::dump_config);
    if (dump_ref) modes.emplace_back("--dump-config-reference", CliCommand::dump_config_reference);
    if (!check_rules.empty()) modes.emplace_back("--check-rules", CliCommand::check_rules);
    if (ctl->parsed()) modes.emplace_back("ctl", CliCommand::ctl);
    if (modes.size() > 1) return cli_error(fmt::format("{} and {} cannot be combined", modes[0].first, modes[1].first));
    if (!modes.empty()) req.command = modes[0].second;
    if (req.command == CliCommand::version) {
        req.text = fmt::format("sluice {}\n", SLUICE_VERSION);
        return req;
    }

    // Conflicts between options (the loader checks the file's keys the same way).
    const char* sources[] = {"--pcap", "--iface", "--inline"};
    std::vector<std::string_view> used;
    for (auto s : sources)
        if (given(s)) used.push_back(s);
    if (used.size() > 1) return cli_error(fmt::format("{} and {} cannot be combined (one capture source)", used[0], used[1]));
    if (given("--metrics") && given("--no-metrics")) return cli_error("--metrics and --no-metrics cannot be combined");
    if (given("--inline")) {
        const std::string& v = key_values["--inline"];
        auto comma = v.find(',');
        bool ok = comma != std::string::npos && comma > 0 && comma + 1 < v.size() && v.find(',', comma + 1) == std::string::npos;
        if (!ok) return cli_error(fmt::format("--inline: expected two interface names \"A,B\", got {}", quote_for_message(v)));
    }
    if (given("--mode") && key_values["--mode"] == "ips" && given("--iface"))
        return cli_error("--mode ips needs --inline: a SPAN port (--iface) cannot drop");

    // Key options and --set, in the order given.
    std::map<CLI::Option*, size_t> seen;
    for (CLI::Option* o : app.parse_order()) {
        size_t n = seen[o]++;
        const auto& results = o->results();
        if (o == opts["--set"]) {
            if (n >= results.size()) continue;
            const std::string& a = results[n];
            auto eq = a.find('=');
            if (eq == std::string::npos || eq == 0) return cli_error(fmt::format("--set: expected KEY=VALUE, got {}", quote_for_message(a)));
            std::string key = a.substr(0, eq);
            req.overrides.push_back({a, fmt::format("--set {}", key)});
            continue;
        }
        for (const auto& k : key_options()) {
            if (opts[std::string(k.name)] != o) continue;
            std::string value = !k.type.empty() && n < results.size() ? results[n] : std::string{};
            for (auto pattern : k.assignments) req.overrides.push_back({replace_value(pattern, value), std::string(k.name)});
        }
    }

    req.config_path = config_path;
    req.rule_files = rules;
    req.check_rule_files = check_rules;
    req.learn_file = learn;
    req.policy_file = policy;
    req.clamav_db = clamav;
    if (req.command == CliCommand::ctl) {
        auto rest = ctl->remaining();
        if (rest.empty()) return cli_error("ctl: COMMAND is missing (e.g. sluice ctl stats)");
        req.ctl.socket = ctl_socket;
        req.ctl.command = rest.front();
        req.ctl.args.assign(rest.begin() + 1, rest.end());
    }
    return req;
}

}  // namespace

Result<CliRequest> parse_command_line(std::span<const std::string> args) {
    try {
        Parser p;
        // CLI11 takes the arguments in reverse order.
        std::vector<std::string> reversed(args.rbegin(), args.rend());
        return p.run(std::move(reversed));
    } catch (const std::exception& e) {
        return cli_error(one_line(e.what()));
    }
}

Result<CliRequest> parse_command_line(int argc, char** argv) {
    std::vector<std::string> args;
    for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
    return parse_command_line(std::span<const std::string>(args));
}

std::string cli_help_text() {
    try {
        Parser p;
        return p.app.help();
    } catch (const std::exception& e) {
        return e.what();
    }
}

}  // namespace sluice
