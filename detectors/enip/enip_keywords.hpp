// The EtherNet/IP rule keywords (Suricata syntax), parsed once at rule load
// into immutable matchers evaluated against EtherNet/IP records:
//   enip_command: <0..65535 | name>         encapsulation command ("list_identity", 0x70)
//   cip_service: <service>[,<class>[,<attribute>]]
//                                            any CIP service of the PDU (embedded ones
//                                            included; responses by service code), with
//                                            the class and attribute of its request path
//                                            (or its Get/Set Attribute List ids)
// Both match once per PDU (on its first record). A hostile value is an error
// (Result), never a crash.
// Thread rules: matchers are immutable after parsing and may be shared.
#pragma once

#include <memory>
#include <string_view>

#include "dataplane/result.hpp"
#include "detectors/app_record.hpp"

namespace sluice {

Result<std::unique_ptr<AppKeywordMatcher>> parse_enip_command_keyword(std::string_view value);
Result<std::unique_ptr<AppKeywordMatcher>> parse_cip_service_keyword(std::string_view value);

}  // namespace sluice
