// The command line of the `sluice` program (CLI11). parse_command_line() turns
// argv into a CliRequest and never exits, prints or throws: `--help` and
// `--version` come back as a request kind with the text to print, and every
// mistake (unknown option, missing value, conflicting options) as one line
// starting "<command line>: ". Options that stand for configuration keys
// (--workers, --pcap, --metrics, ...) become ConfigOverride entries in the
// order given, so the schema validates them exactly like the file; app/main
// passes them to load_config() after the --config file.
// Thread rules: pure function, called once by main.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "app/config_loader.hpp"
#include "dataplane/result.hpp"

namespace sluice {

enum class CliCommand : uint8_t {
    run,                    // the normal run: load the config, start the data path
    help,                   // print CliRequest::text, exit 0
    version,                // print CliRequest::text, exit 0
    help_config,            // print config_help_text()
    dump_config,            // print render_config_yaml() of the loaded values
    dump_config_reference,  // print config_reference_markdown()
    check_rules,            // compile CliRequest::check_rule_files, report, exit
    ctl,                    // send CliRequest::ctl to a running sluice
};

// `sluice ctl [--socket PATH] COMMAND [ARGS...]`.
struct CtlRequest {
    std::string socket;              // --socket; "" = control.socket of the configuration
    std::string command;             // e.g. "stats", "reload"
    std::vector<std::string> args;
};

struct CliRequest {
    CliCommand command = CliCommand::run;
    std::string text;                          // help, version: what to print
    std::string config_path;                   // --config FILE; "" = defaults only
    std::vector<ConfigOverride> overrides;     // in command-line order
    std::vector<std::string> rule_files;       // --rules FILE (repeatable)
    std::vector<std::string> check_rule_files; // --check-rules FILE...
    std::string learn_file;                    // --learn FILE
    std::string policy_file;                   // --policy FILE
    std::string clamav_db;                     // --clamav-db DIR
    CtlRequest ctl;                            // command == ctl
};

Result<CliRequest> parse_command_line(int argc, char** argv);
// The same without argv[0] (tests).
Result<CliRequest> parse_command_line(std::span<const std::string> args);

// The text of `sluice --help`.
std::string cli_help_text();

}  // namespace sluice
