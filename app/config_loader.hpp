// Config loading: reads the YAML file (yaml-cpp), validates every key against
// the schema (app/config_schema), applies command-line overrides after it and
// builds the typed Config, including the resolved filter rules and variables.
// Every error is one line naming where and what:
//   sluice.yaml:12:3: flow.capacity: expected an integer between 1 and 67108864, got "lots"
//   <command line>: --workers: expected an integer between 1 and 128, got "x"
// Unknown keys are errors with a "did you mean" suggestion. Nothing here exits,
// prints or throws; app/main turns an error into exit code 2.
// Thread rules: pure functions, called on the management thread at start-up or
// reload; the Config returned is then immutable.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "app/config.hpp"
#include "app/config_schema.hpp"
#include "dataplane/result.hpp"

namespace sluice {

// Where a setting from the command line comes from, in error messages.
inline constexpr std::string_view kCommandLine = "<command line>";

// A "key=value" assignment from the command line and the option it came from
// ("--workers", "--set flow.capacity"); an empty origin reads "--set KEY".
// Map entries are set one at a time: "vars.address-groups.PLANT=[198.18.0.0/24]".
struct ConfigOverride {
    std::string assignment;
    std::string origin;
};

// The loaded configuration together with the effective value of every key
// (indexed like config_keys()), which `--dump-config` renders.
struct ConfigDocument {
    Config config;
    std::vector<ConfigValue> values;
};

// Limits (kMaxConfigFileBytes, kMaxExpandedBytes, kMaxFilterRules,
// kMaxFilterRanges) are in app/config_schema.hpp.

// Loads the file (or only the defaults when the path is empty), then applies
// the overrides in order.
Result<Config> load_config(const std::string& path_or_empty, std::span<const std::string> overrides);
Result<Config> load_config(const std::string& path_or_empty, std::span<const ConfigOverride> overrides);
Result<ConfigDocument> load_config_document(const std::string& path_or_empty, std::span<const ConfigOverride> overrides);
// The same from YAML text; `name` stands for the file name in messages.
Result<ConfigDocument> load_config_text(std::string_view yaml, std::string_view name, std::span<const ConfigOverride> overrides);

// The closest known key or section to an unknown dotted path, or "" when none
// is close (for "did you mean").
std::string suggest_key(std::string_view unknown_path);

}  // namespace sluice
