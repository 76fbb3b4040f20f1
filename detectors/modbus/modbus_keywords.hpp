// The `modbus:` rule keyword (Suricata syntax): parses the option value once at
// rule load into an immutable matcher, evaluated against Modbus request records.
//   modbus: function <1..255 | [!]assigned|unassigned|public|user|reserved|all | name>[, subfunction <n>]
//   modbus: access read|write [discretes|coils|input|holding][, address <r>[, value <r>]]
//   modbus: unit <r>[, function ... | , access ...]
// where <r> is n, <n, >n or n<>m (exclusive bounds, as Suricata). As in
// Suricata, keyword addresses count from 1 (PDU address + 1), the keyword
// inspects requests only, and a hostile value is an error, never a crash.
// Thread rules: the matcher is immutable after parsing and may be shared.
#pragma once

#include <memory>
#include <string_view>

#include "dataplane/result.hpp"
#include "detectors/app_record.hpp"

namespace sluice {

Result<std::unique_ptr<AppKeywordMatcher>> parse_modbus_keyword(std::string_view value);

}  // namespace sluice
