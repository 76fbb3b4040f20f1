// Fuzz target for the OT policy compiler (OtPolicy::parse): the input is a
// policy file. A policy that compiles is exercised: zones, candidates and
// decisions for a few operations; and every policy's text round-trips through
// the learner's renderer (ops learned from the input bytes) back into the
// compiler, which must accept what the learner writes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "detectors/ot_policy/ot_learner.hpp"
#include "detectors/ot_policy/ot_policy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace sluice;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    OtPolicyLimits limits;
    limits.max_items = 4096;
    VarMap vars;
    vars["HOME_NET"] = "198.18.0.0/15";
    auto p = OtPolicy::parse(text, "fuzz.yaml", vars, limits);
    const IpAddr a = IpAddr::v4(0xC6120001), b = IpAddr::v4(0xC6120502);
    OtOperation op;
    op.function = "write_single_register";
    op.function_code = 6;
    op.access = OtAccess::write;
    op.has_unit = size > 0;
    op.unit = size ? data[0] : 0;
    op.has_address = size > 1;
    op.address_first = size > 1 ? data[1] : 0;
    op.address_last = op.address_first + (size > 2 ? data[2] : 0);
    if (p) {
        for (int proto = 0; proto < static_cast<int>(kPolicyProtoCount); ++proto) {
            uint32_t cand[4];
            const size_t n = (*p)->candidates(a, b, proto, cand);
            const OtDecision d1 = (*p)->decide(a, b, proto, op);
            if (n <= 4) {
                const OtDecision d2 = (*p)->decide(std::span<const uint32_t>(cand, n), op);
                if (d1.allowed != d2.allowed || d1.rule != d2.rule) std::abort();
            }
            (void)(*p)->action_of((*p)->zone_of(a, b));
        }
    }
    // The learner's output for operations made from the input must compile.
    OtLearner l(64, 4);
    for (size_t i = 0; i + 4 <= size && i < 32; i += 4) {
        const IpAddr c = IpAddr::v4(0xC6120000u | data[i]);
        const IpAddr s = IpAddr::v4(0xC6120100u | data[i + 1]);
        OtOperation o;
        o.function = (data[i + 2] & 1) ? std::string_view("read_coils") : std::string_view("user_defined_function");
        o.function_code = data[i + 2];
        o.access = static_cast<OtAccess>(data[i + 2] % static_cast<uint8_t>(OtAccess::count));
        o.has_unit = data[i + 3] & 1;
        o.unit = uint32_t{data[i + 3]} << 15;
        o.has_address = data[i + 3] & 2;
        o.address_first = data[i] * 7u;
        o.address_last = o.address_first + data[i + 1];
        l.observe(c, s, data[i + 2] % static_cast<int>(kPolicyProtoCount), o, i);
    }
    const OtLearner* one[] = {&l};
    const std::string learned = render_learned_policy(merge_learned(one, 4), {});
    if (!OtPolicy::parse(learned, "learned.yaml", {})) std::abort();
    return 0;
}
