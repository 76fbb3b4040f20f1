// The DNP3 rule keywords (Suricata syntax), parsed once at rule load into
// immutable matchers evaluated against DNP3 records of both directions:
//   dnp3_func: <0..255 | name>          application function code ("direct_operate")
//   dnp3_ind: <flag>[,<flag>...]        any of the internal indications set (responses)
//   dnp3_obj: <group>,<variation>       an object header with that group and variation
// A hostile value is an error (Result), never a crash.
// Thread rules: matchers are immutable after parsing and may be shared.
#pragma once

#include <memory>
#include <string_view>

#include "dataplane/result.hpp"
#include "detectors/app_record.hpp"

namespace sluice {

Result<std::unique_ptr<AppKeywordMatcher>> parse_dnp3_func_keyword(std::string_view value);
Result<std::unique_ptr<AppKeywordMatcher>> parse_dnp3_ind_keyword(std::string_view value);
Result<std::unique_ptr<AppKeywordMatcher>> parse_dnp3_obj_keyword(std::string_view value);

}  // namespace sluice
