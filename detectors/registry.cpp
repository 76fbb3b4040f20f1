// The detector table (habit 1): one constant list, in calling order. A
// detector is added here, not by static self-registration.
#include <array>

#include "detectors/detector.hpp"

namespace sluice {

namespace {
constexpr std::array<DetectorEntry, 0> kDetectors = {};
}  // namespace

std::span<const DetectorEntry> detector_table() { return kDetectors; }

}  // namespace sluice
