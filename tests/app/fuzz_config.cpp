// Fuzz target: YAML configuration text through the loader. A configuration
// that loads must dump to YAML that loads again to the same dump (the
// generator and the loader agree on every value they accept).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "app/config_loader.hpp"
#include "app/config_schema.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto doc = sluice::load_config_text(text, "fuzz.yaml", {});
    if (!doc) {
        // Errors are one line.
        if (doc.message().find('\n') != std::string::npos) std::abort();
        return 0;
    }
    std::string dumped = sluice::render_config_yaml(doc->values);
    auto again = sluice::load_config_text(dumped, "dump.yaml", {});
    if (!again) std::abort();
    if (sluice::render_config_yaml(again->values) != dumped) std::abort();
    return 0;
}
