// Rule loading for the run: the configured rule files, the configuration's
// variables and classification table, compiled into a RuleSet on the
// management thread (never on a worker), at start and on every reload.
// Thread rules: called from the main/management/control threads, serialised
// by the Runtime's reload lock.
#pragma once

#include <memory>
#include <string>

#include "app/config.hpp"
#include "dataplane/result.hpp"
#include "signatures/rule_set.hpp"
#include "signatures/rule_vars.hpp"

namespace sluice {

// The bundled classification.config, when the configuration names none.
std::string default_classification_path();

RuleVars rule_vars(const Config& config);

// Loads and compiles config.rules.files; `previous` keeps flowbit numbering
// across a reload. Skipped rules are logged (first few lines) and counted in
// the returned set's load report; a set that cannot compile is an error.
Result<std::shared_ptr<const RuleSet>> load_rule_set(const Config& config, const RuleSet* previous);

}  // namespace sluice
