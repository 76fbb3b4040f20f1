// The table of protocol rule keywords: one entry per keyword, each parsed and
// matched by its protocol's folder.
#include <array>

#include "detectors/app_record.hpp"

namespace sluice {

namespace {
constexpr std::array<AppKeyword, 0> kAppKeywords = {};
}  // namespace

std::span<const AppKeyword> app_keywords() { return kAppKeywords; }

}  // namespace sluice
