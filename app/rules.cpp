#include "app/rules.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <filesystem>

namespace sluice {

std::string default_classification_path() {
    namespace fs = std::filesystem;
    std::error_code ec;
    // Installed, then the source tree this binary was built from.
    for (const char* dir : {SLUICE_DATADIR, SLUICE_SOURCE_RULES_DIR}) {
        fs::path p = fs::path(dir) / "classification.config";
        if (fs::exists(p, ec)) return p.string();
    }
    return {};
}

RuleVars rule_vars(const Config& config) {
    RuleVars vars;
    for (const auto& [name, text] : config.address_groups) vars.set_address(name, text);
    for (const auto& [name, text] : config.port_groups) vars.set_port(name, text);
    return vars;
}

Result<std::shared_ptr<const RuleSet>> load_rule_set(const Config& config, const RuleSet* previous) {
    const RuleVars vars = rule_vars(config);
    ClassificationTable classes;
    const std::string class_path = config.rules.classification.empty() ? default_classification_path() : config.rules.classification;
    if (!class_path.empty()) {
        if (auto s = classes.load_file(class_path); !s)
            return make_error("rules.classification " + class_path + ": " + s.message());
    } else {
        spdlog::warn("rules: no classification.config found; alert categories stay empty");
    }
    RuleLoadOptions opts;
    opts.vars = &vars;
    opts.classes = class_path.empty() ? nullptr : &classes;
    LoadedRules loaded = load_rules(config.rules.files, opts);
    const LoadReport report = loaded.report;
    // A rule file that cannot be read is a configuration error, not a skipped rule.
    if (const size_t io = report.skipped_by_reason[static_cast<size_t>(RuleError::io_error)]; io > 0) {
        std::string first;
        for (const auto& m : report.messages)
            if (m.find("read") != std::string::npos || m.find("open") != std::string::npos || first.empty()) first = m;
        if (auto at = first.find(":0: sid 0: "); at != std::string::npos) first = first.substr(0, at) + ": " + first.substr(at + 11);
        return make_error("rules: " + std::to_string(io) + " rule file(s) could not be read: " + first);
    }
    if (report.loaded == 0 && report.skipped == 0 && report.files == 0)
        return make_error("rules: no rule file could be read");
    for (size_t i = 0; i < report.messages.size() && i < 20; ++i) spdlog::warn("rule skipped: {}", report.messages[i]);
    if (report.messages.size() > 20 || report.messages_dropped)
        spdlog::warn("... {} more skipped rules (sluice --check-rules lists them)",
                     report.skipped - std::min<size_t>(report.skipped, 20));
    RuleSetOptions rs;
    rs.cache_dir = config.rules.cache_dir;
    rs.pcre_hyperscan = config.rules.pcre_hyperscan;
    auto set = RuleSet::compile(std::move(loaded), classes, rs, previous);
    if (!set) return make_error("rules: " + set.message());
    const auto& st = (*set)->stats();
    spdlog::info("rules: {} loaded, {} skipped, from {} files; {} databases compiled in {:.2f} s{}", report.loaded,
                 report.skipped, report.files, st.databases, st.seconds, st.cache_hit ? " (from cache)" : "");
    return set;
}

}  // namespace sluice
