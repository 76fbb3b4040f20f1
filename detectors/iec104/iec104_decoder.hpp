// Iec104Decoder: decodes IEC 60870-5-104 (port 2404) from the reassembled
// stream of one flow: APCI (start 0x68, length 4..253, I/S/U format, send and
// receive sequence numbers, U functions STARTDT/STOPDT/TESTFR act/con) and the
// ASDU of I-format APDUs (type id, variable structure qualifier, cause of
// transmission with P/N and test bits, originator and common address, the
// information object addresses, with the objects' sizes checked against the
// APDU length). One AppRecord per I-format and U-format APDU; S-format APDUs
// (acknowledgements only) are counted, not reported. Commands (C_*) are
// classified as control or write for the OT policy.
//
// Ownership: the worker owns one Iec104Context (counters) and one
// Iec104Decoder per IEC-104 flow; the decoder refers to the context, which
// must outlive it. Fixed size (about 530 bytes: a 255-byte APDU buffer per
// direction); no allocation. Records and their spans are valid only during
// AppRecordSink::on_record.
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

#define SLUICE_IEC104_COUNTERS(X)                                                              \
    X(i_frames, "i_frames")                                                                     \
    X(s_frames, "s_frames")                                                                     \
    X(u_frames, "u_frames")                                                                     \
    X(bad_start, "bad_start")                 /* bytes that do not start with 0x68 */           \
    X(bad_length, "bad_length")               /* APDU length outside 4..253 */                  \
    X(bad_control, "bad_control")             /* S/U frame with data, U frame with no or many functions */ \
    X(asdu_too_short, "asdu_too_short")       /* I frame without a whole ASDU header */          \
    X(unknown_type_id, "unknown_type_id")     /* objects not parsed: size unknown */             \
    X(asdu_length_mismatch, "asdu_length_mismatch") /* objects do not fill the APDU exactly */ \
    X(zero_objects, "zero_objects")           /* variable structure qualifier says 0 objects */ \
    X(sequence_error, "sequence_error")       /* send sequence number out of order */            \
    X(gap_dropped_apdu, "gap_dropped_apdu")                                                     \
    X(resync_bytes, "resync_bytes")                                                             \
    X(not_iec104_flows, "not_iec104_flows")   /* first bytes no APDU: flow ignored */

enum class Iec104Counter : uint8_t {
#define SLUICE_X(id, name) id,
    SLUICE_IEC104_COUNTERS(SLUICE_X)
#undef SLUICE_X
        count
};

constexpr std::string_view counter_name(Iec104Counter c) {
    constexpr std::string_view names[] = {
#define SLUICE_X(id, name) name,
        SLUICE_IEC104_COUNTERS(SLUICE_X)
#undef SLUICE_X
    };
    return names[static_cast<size_t>(c)];
}

struct Iec104Context {
    CounterSet<Iec104Counter> counters;
};

// U-format functions (bits of the first control octet).
namespace iec104_u {
inline constexpr uint8_t startdt_act = 0x04, startdt_con = 0x08, stopdt_act = 0x10, stopdt_con = 0x20,
                         testfr_act = 0x40, testfr_con = 0x80;
}

// The record behind AppRecord::data for proto iec104.
struct Iec104Record {
    static constexpr size_t kMaxIoas = 16;
    char format = 'I';  // 'I' or 'U'
    uint8_t length = 0;  // APCI length field
    uint16_t send_seq = 0, recv_seq = 0;  // I format
    uint8_t u_function = 0;               // U format: one iec104_u bit
    // ASDU (I format).
    bool has_asdu = false;
    uint8_t type_id = 0;
    bool sq = false;          // one address, then consecutive elements
    uint8_t num_objects = 0;  // from the variable structure qualifier
    uint8_t cause = 0;        // 6 bits
    bool negative = false;    // P/N
    bool test = false;
    uint8_t originator = 0;
    uint16_t common_address = 0;
    bool objects_ok = false;  // every object parsed and the ASDU length fits exactly
    uint8_t num_ioas = 0;     // addresses kept in ioas (the first kMaxIoas)
    std::array<uint32_t, kMaxIoas> ioas{};
    bool has_ioa = false;
    uint32_t ioa_first = 0, ioa_last = 0;  // lowest and highest address of the ASDU
    std::span<const uint8_t> asdu;         // borrowed

    bool is_exception() const { return negative || (cause >= 44 && cause <= 47); }
};

// "C_SC_NA_1" for 45; "" for a type id the standard does not define.
std::string_view iec104_type_name(uint8_t type_id);
// Stable snake_case operation name: "c_sc_na_1", "startdt_act", "unknown_type".
std::string_view iec104_function_name(const Iec104Record& rec);
std::string_view iec104_cause_name(uint8_t cause);
OtAccess iec104_ot_access(uint8_t type_id);
// Bytes of one information element of `type_id` (without its address), 0 if unknown.
size_t iec104_element_size(uint8_t type_id);
void iec104_write_eve(JsonWriter& w, const void* record);

class Iec104Decoder {
public:
    static constexpr size_t kMaxApdu = 255;
    static constexpr size_t kProbe = 6;  // start, length and the four control octets

    explicit Iec104Decoder(Iec104Context& ctx) : ctx_(&ctx) {}

    void on_data(Direction dir, std::span<const uint8_t> data, AppRecordSink& sink);
    void on_gap(Direction dir, uint64_t len);
    bool rejected() const { return verdict_ == Verdict::not_iec104; }

private:
    struct Framer {
        std::array<uint8_t, kMaxApdu> buf{};
        uint16_t have = 0;
        uint16_t need = 0;
        uint16_t skip_left = 0;
        bool resync = false;
        bool seq_known = false;
        uint16_t next_send = 0;
    };
    enum class Verdict : uint8_t { probing, iec104, not_iec104 };

    // APDU length from the first kProbe bytes; 0 (with the reason) if invalid.
    static size_t apdu_length(const uint8_t* h, bool strict, Iec104Counter* why);
    bool accept_first(bool valid);
    void decode_apdu(Direction dir, std::span<const uint8_t> apdu, AppRecordSink& sink);

    Iec104Context* ctx_;
    Verdict verdict_ = Verdict::probing;
    Framer framer_[2];
};

}  // namespace sluice
