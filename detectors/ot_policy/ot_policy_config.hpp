// OtPolicyConfig: the `ot-policy.*` configuration keys of the OT allow-list
// policy, learning and asset inventory (detectors/ot_policy), as typed values
// with their defaults; app/config.hpp holds one in Config and the schema
// (app/config_schema.cpp) binds the keys to these fields.
// Thread rules: immutable after loading, like Config.
#pragma once

#include <cstdint>
#include <string>

namespace sluice {

struct OtPolicyConfig {
    std::string file;                    // ot-policy.file (--policy FILE): the policy to enforce; "" = none
    std::string learn_file;              // ot-policy.learn-file (--learn FILE): write a learned policy here at exit
    bool inventory = true;               // ot-policy.inventory: keep the asset inventory (while ot.enabled) without a policy or learning
    uint32_t max_rules = 65536;          // ot-policy.max-rules: rules + zones + asset groups a policy may hold
    uint32_t max_assets = 4096;          // ot-policy.max-assets: assets tracked per worker (~64 bytes each)
    uint32_t learn_max_entries = 16384;  // ot-policy.learn-max-entries: distinct operations learned per worker
    uint32_t learn_max_ranges = 8;       // ot-policy.learn-max-ranges: address ranges kept per learned operation
    uint32_t max_denial_kinds = 128;     // ot-policy.max-denial-kinds: (protocol, function) denial counters per worker

    // Caps on what the keys may ask for (the schema's ranges).
    static constexpr uint32_t kMaxRanges = 64;
    static constexpr uint32_t kMaxDenialKinds = 1024;
};

}  // namespace sluice
