// S7commDecoder: decodes Siemens S7comm (ISO-on-TCP, port 102) from the
// reassembled stream of one flow: TPKT (RFC 1006) framing with length checks,
// COTP connection request/confirm (TSAPs kept) and data TPDUs (segments
// reassembled up to the end-of-TPDU mark, bounded), and the S7 PDU: header
// (protocol id 0x32, ROSCTR job/ack/ack_data/userdata, PDU reference,
// parameter and data lengths checked against the PDU, error class/code), the
// functions setup communication, read/write var (items: area, DB, address,
// length; write data checked), request download/download block/download
// ended, start upload/upload/end upload, PLC control (PI service, start with
// warm/cold restart) and PLC stop, and userdata (method, type, function
// group, subfunction, sequence). S7comm-plus PDUs (0x72) are recognised and
// counted and get a minimal record (opcode, function), no decoding.
//
// Records: one per S7 PDU; a read/write var job with several items gives one
// record per item (S7commRecord::item_index), all sharing the PDU's data, so
// the OT policy sees each area/DB/address touched. Keywords that evaluate a
// whole PDU should act on item_index 0 only.
//
// Ownership: the worker owns one S7commContext (config + counters) and one
// S7commDecoder per S7 flow; the decoder refers to the context, which must
// outlive it. Fixed size (about 4.3 KiB: a 1100-byte TPKT buffer and a
// 1024-byte COTP reassembly buffer per direction); no allocation. Records
// and their spans are valid only during AppRecordSink::on_record.
// Thread rules: used only by the owning worker.
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

#define SLUICE_S7COMM_COUNTERS(X)                                                                 \
    X(pdus, "pdus")                               /* S7comm PDUs decoded */                       \
    X(s7comm_plus_pdus, "s7comm_plus_pdus")       /* S7comm-plus (0x72): counted, not decoded */ \
    X(cotp_connects, "cotp_connects")             /* connection requests and confirms */          \
    X(cotp_other, "cotp_other")                   /* DR, DC, ED, ER, ...: not S7 data */           \
    X(bad_tpkt, "bad_tpkt")                       /* TPKT version/reserved/length wrong: resync */ \
    X(bad_cotp, "bad_cotp")                       /* COTP header length or type wrong */          \
    X(oversize_frame, "oversize_frame")           /* TPKT longer than the buffer: prefix kept */ \
    X(pdu_too_long, "pdu_too_long")               /* COTP segments beyond s7comm.max_pdu_size */ \
    X(bad_protocol_id, "bad_protocol_id")         /* data TPDU not starting with 0x32 or 0x72 */ \
    X(bad_rosctr, "bad_rosctr")                                                                   \
    X(length_mismatch, "length_mismatch")         /* header+param+data lengths differ from PDU */ \
    X(truncated_parameter, "truncated_parameter") /* a function's parameter shorter than needed */ \
    X(item_mismatch, "item_mismatch")             /* item count/specs/data disagree */           \
    X(items_truncated, "items_truncated")         /* more items than a record holds */            \
    X(gap_dropped_frame, "gap_dropped_frame")                                                     \
    X(resync_bytes, "resync_bytes")                                                               \
    X(not_s7comm_flows, "not_s7comm_flows")       /* not TPKT, or ISO data other than S7: ignored */

enum class S7commCounter : uint8_t {
#define SLUICE_X(id, name) id,
    SLUICE_S7COMM_COUNTERS(SLUICE_X)
#undef SLUICE_X
        count
};

constexpr std::string_view counter_name(S7commCounter c) {
    constexpr std::string_view names[] = {
#define SLUICE_X(id, name) name,
        SLUICE_S7COMM_COUNTERS(SLUICE_X)
#undef SLUICE_X
    };
    return names[static_cast<size_t>(c)];
}

struct S7commConfig {
    // s7comm.max_pdu_size: largest S7 PDU reassembled from COTP segments
    // (240..kMaxPdu); S7 negotiates at most 960 in setup communication.
    uint32_t max_pdu_size = 1024;
    static constexpr uint32_t kMaxPdu = 1024;
};

struct S7commContext {
    S7commConfig config;
    CounterSet<S7commCounter> counters;
};

// ROSCTR values.
namespace s7_rosctr {
inline constexpr uint8_t job = 1, ack = 2, ack_data = 3, userdata = 7;
}
// Memory areas of read/write var items.
namespace s7_area {
inline constexpr uint8_t peripheral = 0x80, inputs = 0x81, outputs = 0x82, flags = 0x83, db = 0x84, di = 0x85,
                         local = 0x86, counter = 0x1c, timer = 0x1d;
}

struct S7Item {
    uint8_t syntax_id = 0;       // 0x10: S7ANY (area/DB/address); others are kept raw
    uint8_t transport_size = 0;
    uint16_t length = 0;         // elements
    uint16_t db = 0;
    uint8_t area = 0;
    uint32_t byte_address = 0;
    uint8_t bit = 0;
    uint8_t return_code = 0;     // responses and write data (0xff: success)
    bool has_address = false;    // syntax id 0x10
    bool has_return_code = false;
};

// The record behind AppRecord::data for proto s7comm.
struct S7commRecord {
    static constexpr size_t kMaxItems = 32;
    uint16_t tpkt_length = 0;
    uint16_t src_tsap = 0, dst_tsap = 0;  // from the COTP connection, 0 if not seen
    bool plus = false;                    // S7comm-plus (0x72)
    uint8_t plus_version = 0, plus_opcode = 0;
    uint16_t plus_function = 0;
    // S7 header.
    uint8_t rosctr = 0;
    uint16_t pdu_ref = 0, param_length = 0, data_length = 0;
    bool has_error = false;
    uint8_t error_class = 0, error_code = 0;
    bool lengths_ok = true;
    // Job and ack_data functions.
    bool has_function = false;
    uint8_t function = 0;
    uint16_t max_amq_calling = 0, max_amq_called = 0, pdu_size = 0;  // setup communication
    uint8_t item_count = 0;  // as declared
    uint8_t num_items = 0;   // kept in items
    std::array<S7Item, kMaxItems> items{};
    int item_index = -1;     // the item this record is about, -1 for the whole PDU
    std::span<const uint8_t> filename;  // download/upload block name ("_0A00001P"), borrowed
    bool has_block = false;
    char block_type[3] = {};  // "OB", "DB", "FC", ... from the file name
    uint32_t block_number = 0;
    char filesystem = 0;      // 'P', 'A' or 'B'
    bool has_upload_id = false;
    uint32_t upload_id = 0;
    std::span<const uint8_t> pi_service;  // PLC control / stop: "P_PROGRAM", "_INSE", ...
    std::span<const uint8_t> pi_parameter;
    bool cold_restart = false;            // PLC control P_PROGRAM with "C" in its parameter
    // Userdata.
    bool has_userdata = false;
    uint8_t ud_method = 0, ud_type = 0, ud_group = 0, ud_subfunction = 0, ud_sequence = 0;
    bool ud_has_error = false;
    uint16_t ud_error = 0;
    uint8_t ud_return_code = 0;

    bool is_request() const;
    bool is_exception() const;
};

std::string_view s7_rosctr_name(uint8_t rosctr);
// Wireshark's function names in snake case: "read_var", "plc_control", ...
std::string_view s7_function_name(uint8_t function);
std::string_view s7_userdata_group_name(uint8_t group);
std::string_view s7_area_name(uint8_t area);
// The operation of the record (or its item): name, code and access.
std::string_view s7_operation_name(const S7commRecord& rec);
uint32_t s7_operation_code(const S7commRecord& rec);
OtAccess s7_ot_access(const S7commRecord& rec);
void s7comm_write_eve(JsonWriter& w, const void* record);

class S7commDecoder {
public:
    static constexpr size_t kTpktHeader = 4;
    static constexpr size_t kProbe = 6;  // TPKT header + COTP length indicator and type
    static constexpr size_t kMaxFrame = 1100;

    explicit S7commDecoder(S7commContext& ctx) : ctx_(&ctx) {}

    void on_data(Direction dir, std::span<const uint8_t> data, AppRecordSink& sink);
    void on_gap(Direction dir, uint64_t len);
    bool rejected() const { return verdict_ == Verdict::not_s7comm; }

private:
    struct Framer {
        std::array<uint8_t, kMaxFrame> buf{};
        uint16_t have = 0;   // bytes stored (at most kMaxFrame)
        uint32_t seen = 0;   // bytes of the current frame received
        uint32_t need = 0;   // the frame's TPKT length, 0 while the header is incomplete
        uint32_t skip_left = 0;
        bool resync = false;
    };
    struct Segments {
        std::array<uint8_t, S7commConfig::kMaxPdu> buf{};
        uint16_t len = 0;
        bool open = false;
        bool overflow = false;
    };
    enum class Verdict : uint8_t { probing, s7comm, not_s7comm };

    static size_t frame_length(const uint8_t* h, bool strict, S7commCounter* why);
    void frame(Direction dir, std::span<const uint8_t> frame, uint32_t tpkt_length, AppRecordSink& sink);
    void pdu(Direction dir, std::span<const uint8_t> pdu, uint16_t tpkt_length, AppRecordSink& sink);
    void emit(Direction dir, S7commRecord& rec, AppRecordSink& sink);

    S7commContext* ctx_;
    Verdict verdict_ = Verdict::probing;
    uint16_t src_tsap_ = 0, dst_tsap_ = 0;
    Framer framer_[2];
    Segments segments_[2];
};

}  // namespace sluice
