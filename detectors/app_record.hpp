// AppRecord: one decoded application-layer message of an OT protocol (a Modbus
// request, an S7comm job, a DNP3 application fragment, an IEC-104 APDU, an
// EtherNet/IP encapsulation with its CIP service). Decoders emit records through
// an AppRecordSink; the worker routes them to the signature engine (protocol
// keywords such as `modbus:` and `dnp3_func`), the OT policy and the EVE log.
//
// `op` is the protocol-neutral summary the OT policy decides on; `data` points
// to the protocol's own record type (ModbusRecord, ...), which only that
// protocol's code reads; `write_eve` renders it as the EVE object Suricata would
// write for the protocol (e.g. "modbus": {...}).
// Thread rules: records live on the worker stack for the duration of the sink call.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "dataplane/result.hpp"
#include "dataplane/stream.hpp"
#include "detectors/app_proto.hpp"

namespace sluice {

class JsonWriter;

// What an operation does to the device, in the OT policy's terms.
enum class OtAccess : uint8_t { read, write, program, control, diagnostic, other, count };

constexpr std::string_view to_string(OtAccess a) {
    constexpr std::string_view names[] = {"read", "write", "program", "control", "diagnostic", "other"};
    return names[static_cast<size_t>(a)];
}

struct OtOperation {
    std::string_view function;  // stable snake_case name, e.g. "read_holding_registers", "plc_stop"
    uint32_t function_code = 0; // the protocol's own code for it
    OtAccess access = OtAccess::other;
    bool is_request = true;
    bool is_exception = false;  // an error/exception response
    bool has_unit = false;      // Modbus unit id, DNP3 destination, IEC-104 common address, ...
    uint32_t unit = 0;
    bool has_address = false;   // first and last data address touched (registers, IOA, ...)
    uint32_t address_first = 0;
    uint32_t address_last = 0;
};

struct AppRecord {
    AppProto proto = AppProto::unknown;
    Direction dir = Direction::to_server;
    OtOperation op;
    const void* data = nullptr;
    void (*write_eve)(JsonWriter&, const void* data) = nullptr;
    // Optional, for events rendered later on the EVE writer thread (eve.hpp,
    // deferred events): pack_eve copies what write_eve reads into `out` as
    // self-contained bytes (nothing borrowed) and returns how many, 0 when
    // they do not fit; write_packed_eve renders those bytes exactly as
    // write_eve renders `data`.
    size_t (*pack_eve)(const void* data, std::span<char> out) = nullptr;
    void (*write_packed_eve)(JsonWriter&, std::span<const char> packed) = nullptr;
};

class AppRecordSink {
public:
    virtual ~AppRecordSink() = default;
    virtual void on_record(const AppRecord& record) = 0;
};

// A parsed protocol keyword of a rule (`modbus: function 3`, `dnp3_func: write`).
class AppKeywordMatcher {
public:
    virtual ~AppKeywordMatcher() = default;
    // True when `record` satisfies the keyword. Only records of the keyword's
    // protocol are ever passed.
    virtual bool match(const AppRecord& record) const = 0;
};

struct AppKeyword {
    std::string_view name;  // the rule option name, e.g. "modbus", "dnp3_func"
    AppProto proto;
    Result<std::unique_ptr<AppKeywordMatcher>> (*parse)(std::string_view value);
};

// The table of every protocol keyword (detectors/app_keywords.cpp, one list).
std::span<const AppKeyword> app_keywords();

}  // namespace sluice
