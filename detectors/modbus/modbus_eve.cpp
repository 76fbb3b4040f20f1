// EVE rendering of Modbus records, with Suricata's field names and values:
// "modbus": {"id", "request": {...}, "response": {...}}.
#include <algorithm>
#include <array>
#include <cstring>
#include <string_view>
#include <type_traits>

#include "dataplane/json_writer.hpp"
#include "detectors/modbus/modbus_decoder.hpp"

namespace sluice {

namespace {

// Writes "A | B | C" (or "NONE") into `buf` from a flag set and its names.
template <size_t N>
std::string_view flag_string(uint8_t flags, const std::array<std::string_view, N>& names, std::array<char, 96>& buf) {
    size_t len = 0;
    auto put = [&](std::string_view s) {
        for (char c : s)
            if (len < buf.size()) buf[len++] = c;
    };
    for (size_t i = 0; i < N; ++i) {
        if ((flags & (1u << i)) == 0) continue;
        if (len != 0) put(" | ");
        put(names[i]);
    }
    if (len == 0) put("NONE");
    return {buf.data(), len};
}

constexpr std::array<std::string_view, 8> kAccessNames = {"READ", "WRITE", "DISCRETES", "COILS",
                                                          "INPUT", "HOLDING", "SINGLE", "MULTIPLE"};
constexpr std::array<std::string_view, 4> kCategoryNames = {"PUBLIC_ASSIGNED", "PUBLIC_UNASSIGNED", "USER_DEFINED",
                                                            "RESERVED"};
constexpr std::array<std::string_view, 5> kErrorNames = {"DATA_VALUE", "DATA_LENGTH", "EXC_CODE", "FUNC_CODE",
                                                         "PROTO_ID"};

std::string_view diagnostic_name(uint16_t sub) {
    static constexpr std::string_view names[] = {
        "RetQueryData",      "RestartCommOpt",       "RetDiagReg",        "ChangeInputDelimiter",
        "ForceListenOnlyMode", "Reserved",           "Reserved",          "Reserved",
        "Reserved",          "Reserved",             "ClearCtrDiagReg",   "RetBusMsgCount",
        "RetBusCommErrCount", "RetBusExcErrCount",   "RetServerMsgCount", "RetServerNoRespCount",
        "RetServerNAKCount", "RetServerBusyCount",   "RetBusCharOverrunCount", "RetOverrunErrCount",
        "ClearOverrunCounterFlag", "GetClearPlusStats",
    };
    return sub < std::size(names) ? names[sub] : "Reserved";
}

std::string_view mei_name(uint8_t t) {
    if (t == 0x0d) return "CANOpenGenRefReqResp";
    if (t == 0x0e) return "RdDevId";
    return "Unknown";
}

void write_message(JsonWriter& w, const ModbusMessage& m) {
    std::array<char, 96> buf{};
    w.kv("transaction_id", m.transaction_id);
    w.kv("protocol_id", m.protocol_id);
    w.kv("unit_id", m.unit_id);
    w.kv("function_raw", m.function_raw);
    w.kv("function_code", modbus_function_suricata_name(m.function_raw));
    w.kv("access_type", flag_string(m.access, kAccessNames, buf));
    w.kv("category", flag_string(m.category, kCategoryNames, buf));
    w.kv("error_flags", flag_string(m.error_flags, kErrorNames, buf));
    switch (m.body) {
        case ModbusBody::exception:
            w.begin_object("exception").kv("raw", m.exception_code).kv("code", modbus_exception_name(m.exception_code)).end_object();
            break;
        case ModbusBody::diagnostic:
            w.begin_object("diagnostic").kv("raw", m.subfunction).kv("code", diagnostic_name(m.subfunction));
            w.kv_bytes("data", m.data).end_object();
            break;
        case ModbusBody::mei:
            w.begin_object("mei").kv("raw", m.mei_type).kv("code", mei_name(m.mei_type));
            w.kv_bytes("data", m.data).end_object();
            break;
        case ModbusBody::read_request:
        case ModbusBody::fifo_request:
            w.begin_object("read").kv("address", m.read_address);
            if (m.body == ModbusBody::read_request) w.kv("quantity", m.read_quantity);
            w.end_object();
            break;
        case ModbusBody::read_response:
            w.begin_object("read").kv_bytes("data", m.data).end_object();
            break;
        case ModbusBody::write_multiple:
            w.begin_object("write").kv("address", m.write_address).kv("quantity", m.write_quantity);
            w.kv_bytes("data", m.data).end_object();
            break;
        case ModbusBody::write_single:
            w.begin_object("write").kv("address", m.write_address).kv("data", m.write_value).end_object();
            break;
        case ModbusBody::write_mask:
            w.begin_object("write").kv("address", m.write_address).kv("and_mask", m.and_mask);
            w.kv("or_mask", m.or_mask).end_object();
            break;
        case ModbusBody::read_write:
            w.begin_object("read").kv("address", m.read_address).kv("quantity", m.read_quantity).end_object();
            w.begin_object("write").kv("address", m.write_address).kv("quantity", m.write_quantity);
            w.kv_bytes("data", m.data).end_object();
            break;
        case ModbusBody::file_record:
            w.begin_object("file_record").kv("file_number", m.file_number).kv("record_number", m.record_number);
            w.kv("record_length", m.record_length).kv("subrequests", m.file_subrequests).end_object();
            break;
        case ModbusBody::bytes:
            w.kv_bytes("data", m.data);
            break;
        case ModbusBody::empty:
            break;
    }
}

}  // namespace

void modbus_write_eve(JsonWriter& w, const void* record) {
    const auto& rec = *static_cast<const ModbusRecord*>(record);
    w.begin_object("modbus");
    w.kv("id", rec.tx_id);
    if (rec.is_request) {
        w.begin_object("request");
        write_message(w, rec.message);
        w.end_object();
    } else {
        if (rec.has_request) {
            w.begin_object("request");
            write_message(w, rec.request);
            w.end_object();
        }
        w.begin_object("response");
        write_message(w, rec.message);
        w.end_object();
    }
    w.end_object();
}

// Packed layout: the record's flags and id, each message's fields (a
// trivially copyable ModbusFields) with the length of its data, then the two
// data runs. A PDU is at most 253 bytes, so a record packs into about 600.
namespace {

struct PackedHead {
    uint64_t tx_id;
    uint8_t is_request, has_request, unanswered, pad;
    uint16_t message_len, request_len;
    ModbusFields message;
    ModbusFields request;
};
static_assert(std::is_trivially_copyable_v<ModbusFields>);

}  // namespace

size_t modbus_pack_eve(const void* record, std::span<char> out) {
    const auto& rec = *static_cast<const ModbusRecord*>(record);
    PackedHead h{};
    h.tx_id = rec.tx_id;
    h.is_request = rec.is_request;
    h.has_request = rec.has_request;
    h.unanswered = rec.unanswered;
    h.message_len = static_cast<uint16_t>(std::min<size_t>(rec.message.data.size(), 0xFFFF));
    h.request_len = static_cast<uint16_t>(std::min<size_t>(rec.request.data.size(), 0xFFFF));
    h.message = rec.message;
    h.request = rec.request;
    const size_t need = sizeof h + h.message_len + h.request_len;
    if (need > out.size()) return 0;
    std::memcpy(out.data(), &h, sizeof h);
    if (h.message_len) std::memcpy(out.data() + sizeof h, rec.message.data.data(), h.message_len);
    if (h.request_len) std::memcpy(out.data() + sizeof h + h.message_len, rec.request.data.data(), h.request_len);
    return need;
}

void modbus_write_packed_eve(JsonWriter& w, std::span<const char> packed) {
    PackedHead h;
    if (packed.size() < sizeof h) return;
    std::memcpy(&h, packed.data(), sizeof h);
    if (packed.size() < sizeof h + h.message_len + h.request_len) return;
    const auto* bytes = reinterpret_cast<const uint8_t*>(packed.data() + sizeof h);
    ModbusRecord rec;
    rec.tx_id = h.tx_id;
    rec.is_request = h.is_request != 0;
    rec.has_request = h.has_request != 0;
    rec.unanswered = h.unanswered != 0;
    static_cast<ModbusFields&>(rec.message) = h.message;
    static_cast<ModbusFields&>(rec.request) = h.request;
    rec.message.data = {bytes, h.message_len};
    rec.request.data = {bytes + h.message_len, h.request_len};
    modbus_write_eve(w, &rec);
}

}  // namespace sluice
