// ModbusDecoder: decodes Modbus/TCP (MBAP, port 502) from the reassembled
// stream of one flow, and Modbus over UDP datagrams, into one AppRecord per
// request and per response. Requests are paired with responses by transaction
// id (bounded table), so a response record also carries its request's unit,
// function and address range. Malformed input is counted by reason in the
// per-worker ModbusContext and never stops the decoder: a bad header makes it
// resynchronise on the next plausible MBAP header.
//
// Ownership: the worker owns one ModbusContext (config + counters) and one
// ModbusDecoder per Modbus flow; the decoder keeps a reference to the context,
// which must outlive it. The decoder is a fixed-size object (about 2.3 KiB: a
// 260-byte frame buffer per direction and 32 pending-request slots); it never
// allocates. Records and the spans inside them are valid only during the
// AppRecordSink::on_record call.
// Thread rules: the context and the decoder are used only by the owning worker.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "dataplane/counters.hpp"
#include "dataplane/stream.hpp"
#include "detectors/app_record.hpp"

namespace sluice {

class JsonWriter;

#define SLUICE_MODBUS_COUNTERS(X)                                                     \
    X(requests, "requests")                   /* request PDUs decoded */               \
    X(responses, "responses")                 /* normal response PDUs decoded */       \
    X(exception_responses, "exception_responses")                                      \
    X(datagrams, "datagrams")                 /* UDP datagrams seen */                 \
    X(bad_protocol_id, "bad_protocol_id")     /* MBAP protocol id != 0: frame skipped */ \
    X(bad_length, "bad_length")               /* MBAP length outside 2..254: resync */ \
    X(bad_function_code, "bad_function_code") /* function code 0 */                    \
    X(truncated_pdu, "truncated_pdu")         /* PDU shorter than its function needs */ \
    X(trailing_bytes, "trailing_bytes")       /* PDU longer than its function needs */ \
    X(byte_count_mismatch, "byte_count_mismatch") /* byte count lies about quantity/length */ \
    X(invalid_quantity, "invalid_quantity")   /* quantity outside the function's range */ \
    X(invalid_value, "invalid_value")         /* e.g. single coil value not 0/0xFF00 */ \
    X(invalid_exception_code, "invalid_exception_code")                                \
    X(response_mismatch, "response_mismatch") /* echo differs from request, wrong function */ \
    X(unmatched_response, "unmatched_response") /* response with no pending request */ \
    X(pending_evicted, "pending_evicted")     /* request table full: oldest dropped */ \
    X(gap_dropped_pdu, "gap_dropped_pdu")     /* partial PDU discarded at a gap */     \
    X(resync_bytes, "resync_bytes")           /* bytes skipped looking for a header */ \
    X(truncated_datagram, "truncated_datagram")                                        \
    X(not_modbus_flows, "not_modbus_flows")   /* first frame invalid: flow ignored */

enum class ModbusCounter : uint8_t {
#define SLUICE_X(id, name) id,
    SLUICE_MODBUS_COUNTERS(SLUICE_X)
#undef SLUICE_X
        count
};

constexpr std::string_view counter_name(ModbusCounter c) {
    constexpr std::string_view names[] = {
#define SLUICE_X(id, name) name,
        SLUICE_MODBUS_COUNTERS(SLUICE_X)
#undef SLUICE_X
    };
    return names[static_cast<size_t>(c)];
}

struct ModbusConfig {
    // modbus.max_pending_transactions: requests awaiting a response per flow
    // (1..kMaxPending); the oldest is dropped (and counted) when full.
    uint32_t max_pending_transactions = 16;
    static constexpr uint32_t kMaxPending = 32;
};


// Access flags as Suricata (sawp-modbus) names them: a function's data table
// and whether it reads or writes.
namespace modbus_access {
inline constexpr uint8_t read = 0x01, write = 0x02, discretes = 0x04, coils = 0x08, input = 0x10,
                         holding = 0x20, single = 0x40, multiple = 0x80;
}
// Function categories (Suricata's `modbus: function assigned|unassigned|user|reserved`).
namespace modbus_category {
inline constexpr uint8_t public_assigned = 0x01, public_unassigned = 0x02, user_defined = 0x04, reserved = 0x08;
}
// Error flags of one message (Suricata's error_flags).
namespace modbus_error {
inline constexpr uint8_t data_value = 0x01, data_length = 0x02, exc_code = 0x04, func_code = 0x08, proto_id = 0x10;
}

// What the PDU body held.
enum class ModbusBody : uint8_t {
    empty,           // no data (e.g. read exception status request)
    exception,       // exception response: exception_code
    diagnostic,      // subfunction + data
    mei,             // mei_type (+ read device id code, object id) + data
    read_request,    // read_address, read_quantity
    read_response,   // byte_count + data
    write_multiple,  // write_address, write_quantity, byte_count, data (request)
    write_single,    // write_address, write_value (single requests/responses, multiple responses)
    write_mask,      // write_address, and_mask, or_mask
    read_write,      // read_* and write_* (+ data) request
    file_record,     // file_* of the first sub-request, byte_count, data
    fifo_request,    // read_address = FIFO pointer
    bytes,           // anything else: data
};

// The scalar fields of one decoded Modbus message (kept for pending requests).
struct ModbusFields {
    uint16_t transaction_id = 0;
    uint16_t protocol_id = 0;
    uint16_t length = 0;  // MBAP length field
    uint8_t unit_id = 0;
    uint8_t function_raw = 0;  // as on the wire (| 0x80 for exceptions)
    uint8_t access = 0;        // modbus_access flags of the function
    uint8_t category = 0;      // modbus_category flag
    uint8_t error_flags = 0;   // modbus_error flags
    ModbusBody body = ModbusBody::empty;
    uint8_t exception_code = 0;
    uint16_t subfunction = 0;  // diagnostics
    uint8_t mei_type = 0;
    uint8_t byte_count = 0;
    uint16_t read_address = 0, read_quantity = 0;
    uint16_t write_address = 0, write_quantity = 0, write_value = 0;
    uint16_t and_mask = 0, or_mask = 0;
    uint16_t file_number = 0, record_number = 0, record_length = 0;
    uint8_t file_subrequests = 0;

    bool is_exception() const { return (function_raw & 0x80) != 0; }
    uint8_t function() const { return function_raw & 0x7f; }
};

// One decoded Modbus message (request or response).
struct ModbusMessage : ModbusFields {
    std::span<const uint8_t> data;  // borrowed: write data, read response data, diagnostic/MEI data
};

// The record behind AppRecord::data for proto modbus.
struct ModbusRecord {
    uint64_t tx_id = 0;        // per flow, from 1; a response shares its request's id
    ModbusMessage message;     // the message this record is about
    bool is_request = true;
    bool has_request = false;  // response paired with its request (request below, data empty)
    bool unanswered = false;   // a request still without a response when the flow ended (flush_unanswered)
    ModbusMessage request;
};

// Per-worker state shared by all Modbus flows of that worker.
struct ModbusContext {
    ModbusConfig config;
    CounterSet<ModbusCounter> counters;
    // The record a decoder fills for each PDU (valid during its sink call):
    // one per worker, so that a PDU clears only the fields it uses instead of
    // constructing a whole record (two messages) on the stack.
    ModbusRecord scratch;
};

// Suricata's names: function_code ("RdHoldRegs"), access_type ("READ | HOLDING"),
// category ("PUBLIC_ASSIGNED"), error flags, exception code ("IllegalDataAddr").
std::string_view modbus_function_suricata_name(uint8_t function);
// Stable snake_case operation name ("read_holding_registers").
std::string_view modbus_function_name(uint8_t function);
std::string_view modbus_exception_name(uint8_t code);
uint8_t modbus_function_access(uint8_t function);
uint8_t modbus_category_of(const ModbusMessage& m);
OtAccess modbus_ot_access(uint8_t function, uint16_t subfunction);
// First/last register or coil address the request touches (PDU addressing, from 0);
// false when it addresses no data. For read/write multiple: the written range.
bool modbus_address_range(const ModbusMessage& m, uint32_t* first, uint32_t* last);
// Writes "modbus": {...} as Suricata's EVE modbus object.
void modbus_write_eve(JsonWriter& w, const void* record);
// The same record as self-contained bytes (AppRecord::pack_eve) and their
// rendering (AppRecord::write_packed_eve), for events rendered off the worker.
size_t modbus_pack_eve(const void* record, std::span<char> out);
void modbus_write_packed_eve(JsonWriter& w, std::span<const char> packed);

class ModbusDecoder {
public:
    static constexpr size_t kMbapLen = 7;
    static constexpr size_t kMaxFrame = kMbapLen + 253;  // MBAP + largest PDU

    // `request_dir`: the direction requests flow in. to_server normally; to_client
    // when the connection's initiator is the side on port 502 (mid-stream pickup).
    explicit ModbusDecoder(ModbusContext& ctx, Direction request_dir = Direction::to_server)
        : ctx_(&ctx), request_dir_(request_dir) {}

    // In-order stream bytes of one direction, any chunking.
    void on_data(Direction dir, std::span<const uint8_t> data, AppRecordSink& sink);
    // `len` bytes of `dir` are lost: drops a partial PDU and resynchronises.
    void on_gap(Direction dir, uint64_t len);
    // One UDP datagram holding one or more whole MBAP frames.
    void on_datagram(Direction dir, std::span<const uint8_t> data, AppRecordSink& sink);

    size_t pending_requests() const;
    // True once the flow's first frame proved it is not Modbus: the decoder
    // ignores the flow from then on and the worker may drop it.
    bool rejected() const { return verdict_ == Verdict::not_modbus; }
    // At the end of the flow: one record per request still waiting for its
    // response, oldest first, marked `unanswered` (its data left out), so it
    // can be logged as Suricata logs a request-only transaction. The request's
    // own record was reported when it arrived; these are for logging only.
    // Empties the pending table.
    void flush_unanswered(AppRecordSink& sink);

private:
    // One direction's framing state; its frame buffer is buf_[dir], kept
    // apart so that the state of both directions and the pairing state share
    // the object's first cache line (what every PDU touches).
    struct Framer {
        uint16_t have = 0;   // bytes in buf_
        uint16_t need = 0;   // whole frame length once the header is known, else 0
        bool resync = false; // looking for a plausible header after an error or a gap
        uint16_t skip_left = 0;  // bytes of a frame still to discard (bad protocol id, gap)
    };
    struct Pending {
        uint64_t tx_id = 0;
        uint32_t seq = 0;  // insertion order, for eviction
        ModbusFields request;
    };
    enum class Verdict : uint8_t { probing, modbus, not_modbus };

    // Length of the frame whose first 8 bytes are `h`, 0 when the header is invalid.
    size_t frame_length(const uint8_t* h, bool strict, bool* bad_proto) const;
    void decode_frame(Direction dir, std::span<const uint8_t> frame, AppRecordSink& sink);
    void parse_request(ModbusMessage& m, std::span<const uint8_t> body);
    void parse_response(ModbusMessage& m, std::span<const uint8_t> body, const ModbusMessage* req);
    void emit(Direction dir, ModbusRecord& rec, AppRecordSink& sink);
    void anomaly(ModbusMessage& m, ModbusCounter c, uint8_t flag);

    // First frame of the flow: decides whether the flow is Modbus at all.
    bool accept_first(size_t len, bool bad_proto);

    // Hot state first (every PDU reads it), then the pending requests, then
    // the frame buffers (used only by PDUs split across segments).
    ModbusContext* ctx_;
    Direction request_dir_;
    Verdict verdict_ = Verdict::probing;
    Framer framer_[2];
    uint32_t pending_used_ = 0;  // bit i: pending_[i] holds a request
    static_assert(ModbusConfig::kMaxPending <= 32, "pending_used_ has a bit per slot");
    uint32_t next_seq_ = 0;
    uint64_t next_tx_ = 1;  // Suricata numbers a flow's transactions from 1
    std::array<Pending, ModbusConfig::kMaxPending> pending_{};
    std::array<std::array<uint8_t, kMaxFrame>, 2> buf_{};
};

}  // namespace sluice
