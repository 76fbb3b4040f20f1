// nDPI protocol ids -> Sluice's AppProto (detectors/app_proto.hpp). nDPI knows
// about 280 protocols; those Sluice names (its parsers' and Suricata's
// protocols, the OT protocols) map to their AppProto, every other known one to
// AppProto::other, and 0 (nDPI's Unknown) to AppProto::unknown. nDPI's own
// label ("TLS.Google") is kept beside it by the AppIdDetector.
// Thread rules: pure functions.
#pragma once

#include <cstdint>

#include "detectors/app_proto.hpp"

namespace sluice {

// One nDPI protocol id; unknown for 0 and for ids Sluice has no name for
// (the caller decides whether that is `other`).
AppProto app_proto_of_ndpi_id(uint16_t id);

// A verdict (master, app): the app protocol when Sluice names it (SMB for
// "NetBIOS.SMBv1"), else the master (TLS for "TLS.Google"); other when nDPI
// knows the protocol but Sluice has no name for it; unknown when nDPI does not know.
AppProto app_proto_of_ndpi(uint16_t master, uint16_t app);

}  // namespace sluice
