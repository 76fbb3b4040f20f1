// The detector table (habit 1): one constant list, in calling order. A
// detector is added here, not by static self-registration. Its position is its
// per-flow state slot (Flow::detector_state).
#include <array>

#include "app/config.hpp"
#include "detectors/applayer/applayer_detector.hpp"
#include "detectors/appid/appid_detector.hpp"
#include "detectors/detector.hpp"
#include "detectors/files/smb_detector.hpp"
#include "detectors/ot_policy/ot_policy_detector.hpp"
#include "detectors/ot/ot_detector.hpp"
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

// appid first: nDPI's verdict (flow.app_proto) is there before any stream
// data is delivered, so the app-layer parsers and the OT decoders can use it.
const std::array<DetectorEntry, 6> kDetectors = {{
    {"appid", [](const Config& c) { return c.appid.enabled; }, make<AppIdDetector>, hooks_of<AppIdDetector>(), AppIdDetector::metrics,
     AppIdDetector::write_stats, nullptr},
    {"applayer", [](const Config& c) { return !c.rules.files.empty() || wants_app_events(c); }, make<AppLayerDetector>, hooks_of<AppLayerDetector>(),
     AppLayerDetector::metrics, AppLayerDetector::write_stats, nullptr},
    {"ot", [](const Config& c) { return c.ot.enabled; }, make<OtDetector>, hooks_of<OtDetector>(), OtDetector::metrics, OtDetector::write_stats,
     nullptr},
    // SMB decoding and file carving, files to the ClamAV scanner, inline verdicts (issue 5).
    {"smb", [](const Config& c) { return c.smb_enabled; }, make<SmbDetector>, hooks_of<SmbDetector>(), SmbDetector::metrics,
     SmbDetector::write_stats, SmbDetector::control},
    {"signature", [](const Config& c) { return !c.rules.files.empty(); }, make<SignatureDetector>, hooks_of<SignatureDetector>(),
     SignatureDetector::metrics, SignatureDetector::write_stats, SignatureDetector::control},
    {"ot_policy",
     [](const Config& c) {
         return !c.ot_policy.file.empty() || !c.ot_policy.learn_file.empty() || (c.ot_policy.inventory && c.ot.enabled);
     },
     make<OtPolicyDetector>, hooks_of<OtPolicyDetector>(), OtPolicyDetector::metrics, OtPolicyDetector::write_stats, OtPolicyDetector::control,
     OtPolicyDetector::finish},
}};

// What a Modbus PDU costs in calls: the OT decoders take stream data, the
// policy takes records, nDPI neither.
static_assert(hooks_of<AppIdDetector>() == (hook::classify | hook::flow_event));
static_assert(hooks_of<OtDetector>() == (hook::classify | hook::stream | hook::inspect));
static_assert(hooks_of<OtPolicyDetector>() == (hook::classify | hook::inspect | hook::record));

}  // namespace

std::span<const DetectorEntry> detector_table() { return kDetectors; }

}  // namespace sluice
