// sluice: the IDS/IPS appliance. main() turns the command line into a request,
// loads and validates the configuration (exit 2 with one line on any mistake),
// and hands over to the Runtime; only app/ exits, and only here.
#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>

#include "app/cli.hpp"
#include "app/config_loader.hpp"
#include "app/config_schema.hpp"
#include "app/control.hpp"
#include "app/rules.hpp"
#include "app/runtime.hpp"

using namespace sluice;

namespace {

void setup_logging(const std::string& level) {
    auto logger = spdlog::stderr_color_mt("sluice");
    logger->set_pattern("sluice: %^%l%$: %v");
    spdlog::set_default_logger(logger);
    spdlog::set_level(spdlog::level::from_str(level));
}

int run_ctl(const CliRequest& req) {
    std::string socket = req.ctl.socket;
    if (socket.empty()) {
        auto cfg = load_config(req.config_path, req.overrides);
        if (!cfg) {
            fmt::print(stderr, "sluice: {}\n", cfg.message());
            return 2;
        }
        socket = cfg->control.socket;
    }
    std::string line = req.ctl.command;
    for (const auto& a : req.ctl.args) line += " " + a;
    auto reply = control_request(socket, line);
    if (!reply) {
        fmt::print(stderr, "sluice ctl: {}\n", reply.message());
        return 1;
    }
    fmt::print("{}\n", *reply);
    return reply->find("\"return\":\"OK\"") != std::string::npos ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    // First, so that a signal during start-up ends the run cleanly too.
    install_signal_handlers();
    auto req = parse_command_line(argc, argv);
    if (!req) {
        fmt::print(stderr, "sluice: {}\n", req.message());
        return 2;
    }
    // --policy FILE and --learn FILE stand for ot-policy.file and
    // ot-policy.learn-file, so that a reload reads the same policy again.
    if (!req->policy_file.empty()) req->overrides.push_back({"ot-policy.file=" + req->policy_file, "--policy"});
    if (!req->learn_file.empty()) req->overrides.push_back({"ot-policy.learn-file=" + req->learn_file, "--learn"});
    // --clamav-db DIR stands for malware.db-dir (a reload loads it again).
    if (!req->clamav_db.empty()) req->overrides.push_back({"malware.db-dir=" + req->clamav_db, "--clamav-db"});
    switch (req->command) {
        case CliCommand::help:
        case CliCommand::version:
            fmt::print("{}", req->text);
            return 0;
        case CliCommand::help_config:
            fmt::print("{}", config_help_text());
            return 0;
        case CliCommand::dump_config_reference:
            fmt::print("{}", config_reference_markdown());
            return 0;
        case CliCommand::dump_config: {
            auto doc = load_config_document(req->config_path, req->overrides);
            if (!doc) {
                fmt::print(stderr, "sluice: {}\n", doc.message());
                return 2;
            }
            fmt::print("{}", render_config_yaml(doc->values));
            return 0;
        }
        case CliCommand::ctl:
            return run_ctl(*req);
        case CliCommand::check_rules: {
            auto cfg = load_config(req->config_path, req->overrides);
            if (!cfg) {
                fmt::print(stderr, "sluice: {}\n", cfg.message());
                return 2;
            }
            const std::string classes = cfg->rules.classification.empty() ? default_classification_path() : cfg->rules.classification;
            return check_rules(req->check_rule_files, rule_vars(*cfg), classes, stdout);
        }
        case CliCommand::run:
            break;
    }
    auto config = load_config(req->config_path, req->overrides);
    if (!config) {
        fmt::print(stderr, "sluice: {}\n", config.message());
        return 2;
    }
    setup_logging(config->log_level);
    apply_cli_rules(*config, req->rule_files);
    Runtime runtime(std::move(*config), ConfigSource{req->config_path, req->overrides, req->rule_files});
    return runtime.run();
}
