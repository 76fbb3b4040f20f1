// The detector table (habit 1): one constant list, in calling order. A
// detector is added here, not by static self-registration. Its position is its
// per-flow state slot (Flow::detector_state).
#include <array>

#include "app/config.hpp"
#include "detectors/applayer/applayer_detector.hpp"
#include "detectors/detector.hpp"
#include "detectors/ot_policy/ot_policy_detector.hpp"
#include "detectors/signature/signature_detector.hpp"

namespace sluice {

namespace {

template <typename D>
std::unique_ptr<Detector> make(const Config& c, const DetectionSnapshot& s, WorkerServices& w, unsigned slot) {
    return std::make_unique<D>(c, s, w, slot);
}

bool wants_app_events(const Config& c) {
    for (const auto& t : c.eve.types)
        if (t == "http" || t == "dns" || t == "tls") return true;
    return false;
}

const std::array<DetectorEntry, 3> kDetectors = {{
    {"applayer", [](const Config& c) { return !c.rules.files.empty() || wants_app_events(c); }, make<AppLayerDetector>,
     AppLayerDetector::metrics, AppLayerDetector::write_stats, nullptr},
    {"signature", [](const Config& c) { return !c.rules.files.empty(); }, make<SignatureDetector>,
     SignatureDetector::metrics, SignatureDetector::write_stats, SignatureDetector::control},
    {"ot_policy",
     [](const Config& c) {
         return !c.ot_policy.file.empty() || !c.ot_policy.learn_file.empty() || (c.ot_policy.inventory && c.ot.enabled);
     },
     make<OtPolicyDetector>, OtPolicyDetector::metrics, OtPolicyDetector::write_stats, OtPolicyDetector::control,
     OtPolicyDetector::finish},
}};

}  // namespace

std::span<const DetectorEntry> detector_table() { return kDetectors; }

}  // namespace sluice
