// The table of protocol rule keywords: one entry per keyword, each parsed and
// matched by its protocol's folder. The signature engine looks keywords up
// here by name; the matchers it gets are immutable and shared by all workers.
#include <array>

#include "detectors/app_record.hpp"
#include "detectors/dnp3/dnp3_keywords.hpp"
#include "detectors/enip/enip_keywords.hpp"
#include "detectors/modbus/modbus_keywords.hpp"

namespace sluice {

namespace {
constexpr std::array<AppKeyword, 6> kAppKeywords = {{
    {"modbus", AppProto::modbus, &parse_modbus_keyword},
    {"dnp3_func", AppProto::dnp3, &parse_dnp3_func_keyword},
    {"dnp3_ind", AppProto::dnp3, &parse_dnp3_ind_keyword},
    {"dnp3_obj", AppProto::dnp3, &parse_dnp3_obj_keyword},
    {"enip_command", AppProto::enip, &parse_enip_command_keyword},
    {"cip_service", AppProto::enip, &parse_cip_service_keyword},
}};
}  // namespace

std::span<const AppKeyword> app_keywords() { return kAppKeywords; }

}  // namespace sluice
