// Dnp3Decoder: decodes DNP3 (IEEE 1815) over TCP or UDP (port 20000) from the
// reassembled stream or from datagrams: link frames (0x0564 start, length,
// control, addresses, header CRC and the CRC of every 16-byte data block;
// a bad CRC drops the frame and is counted), the transport layer (FIR/FIN and
// sequence, with bounded reassembly of application fragments) and the
// application layer (control, function code, internal indications, every
// object header by group/variation/qualifier with its range or count; object
// data is skipped by size where the size is known, parsing stops cleanly where
// it is not). One AppRecord per application fragment (request or response);
// application confirms (function 0) are counted but yield no record, as in
// Suricata, which logs no transaction for them.
//
// Ownership: the worker owns one Dnp3Context (config + counters) and one
// Dnp3Decoder per DNP3 flow; the decoder refers to the context, which must
// outlive it. Fixed size (about 4.7 KiB: a 292-byte link frame buffer and a
// 2048-byte fragment buffer per direction); no allocation. Records and their
// spans are valid only during AppRecordSink::on_record.
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

#define SLUICE_DNP3_COUNTERS(X)                                                              \
    X(link_frames, "link_frames")               /* link frames with good CRCs */              \
    X(link_only_frames, "link_only_frames")     /* link-layer service frames, no user data */ \
    X(requests, "requests")                     /* application requests (function 1..127) */ \
    X(confirms, "confirms")                     /* application confirms: counted, no record */ \
    X(responses, "responses")                                                                 \
    X(unsolicited_responses, "unsolicited_responses")                                         \
    X(datagrams, "datagrams")                                                                 \
    X(bad_start, "bad_start")                   /* bytes that do not start with 0x0564 */     \
    X(bad_length, "bad_length")                 /* link length below 5 */                     \
    X(bad_header_crc, "bad_header_crc")                                                       \
    X(bad_data_crc, "bad_data_crc")             /* a data block CRC failed: frame dropped */  \
    X(transport_no_first, "transport_no_first") /* segment without a FIR segment before */    \
    X(transport_sequence, "transport_sequence") /* out-of-sequence segment: fragment dropped */ \
    X(fragment_abandoned, "fragment_abandoned") /* new FIR while a fragment was open */       \
    X(fragment_too_long, "fragment_too_long")   /* over dnp3.max_fragment_size: dropped */    \
    X(app_too_short, "app_too_short")           /* fragment without a whole app header */     \
    X(bad_object_header, "bad_object_header")   /* truncated header or unknown qualifier */   \
    X(bad_range, "bad_range")                   /* stop below start */                        \
    X(unknown_object_size, "unknown_object_size") /* data of unknown size: parsing stopped */ \
    X(object_data_truncated, "object_data_truncated")                                         \
    X(objects_truncated, "objects_truncated")   /* more headers than a record holds */        \
    X(gap_dropped_frame, "gap_dropped_frame")   /* partial frame or fragment lost at a gap */ \
    X(resync_bytes, "resync_bytes")             /* bytes skipped looking for 0x0564 */        \
    X(truncated_datagram, "truncated_datagram")                                               \
    X(not_dnp3_flows, "not_dnp3_flows")         /* first bytes no link frame: flow ignored */

enum class Dnp3Counter : uint8_t {
#define SLUICE_X(id, name) id,
    SLUICE_DNP3_COUNTERS(SLUICE_X)
#undef SLUICE_X
        count
};

constexpr std::string_view counter_name(Dnp3Counter c) {
    constexpr std::string_view names[] = {
#define SLUICE_X(id, name) name,
        SLUICE_DNP3_COUNTERS(SLUICE_X)
#undef SLUICE_X
    };
    return names[static_cast<size_t>(c)];
}

struct Dnp3Config {
    // dnp3.max_fragment_size: largest reassembled application fragment in
    // bytes (249..kMaxFragment); longer ones are dropped and counted.
    uint32_t max_fragment_size = 2048;
    static constexpr uint32_t kMaxFragment = 2048;
};

struct Dnp3Context {
    Dnp3Config config;
    CounterSet<Dnp3Counter> counters;
};

// Internal indications as one 16-bit value: IIN1 << 8 | IIN2 (Suricata's order).
namespace dnp3_iin {
inline constexpr uint16_t all_stations = 0x0100, class_1_events = 0x0200, class_2_events = 0x0400,
                          class_3_events = 0x0800, need_time = 0x1000, local_control = 0x2000,
                          device_trouble = 0x4000, device_restart = 0x8000, no_func_code_support = 0x0001,
                          object_unknown = 0x0002, parameter_error = 0x0004, event_buffer_overflow = 0x0008,
                          already_executing = 0x0010, config_corrupt = 0x0020, reserved_2 = 0x0040,
                          reserved_1 = 0x0080;
}
// Name of one IIN bit ("device_restart"), "" for a value that is not one bit.
std::string_view dnp3_iin_name(uint16_t bit);

struct Dnp3Object {
    uint8_t group = 0;
    uint8_t variation = 0;
    uint8_t qualifier = 0;
    uint8_t prefix_code = 0;  // qualifier bits 4-6
    uint8_t range_code = 0;   // qualifier bits 0-3
    bool has_range = false;   // start/stop present (range codes 0-5)
    bool has_index = false;   // index prefixes seen: index_first..index_last
    uint32_t start = 0, stop = 0;
    uint32_t count = 0;       // objects in this header (0 for "all")
    uint32_t index_first = 0, index_last = 0;
};

// The record behind AppRecord::data for proto dnp3.
struct Dnp3Record {
    static constexpr size_t kMaxObjects = 32;
    // Link header of the frame that began the fragment.
    uint8_t link_control = 0;
    uint16_t src = 0, dst = 0;
    // Application layer.
    uint8_t app_control = 0;  // FIR 0x80, FIN 0x40, CON 0x20, UNS 0x10, sequence 0x0f
    uint8_t function = 0;
    bool has_iin = false;
    uint16_t iin = 0;
    bool complete = true;     // every object header was parsed to the end of the fragment
    uint8_t num_objects = 0;
    uint32_t total_objects = 0;  // object headers seen (num_objects are kept)
    std::array<Dnp3Object, kMaxObjects> objects{};
    std::span<const uint8_t> fragment;  // borrowed: the reassembled application fragment

    bool is_request() const { return function < 0x80; }
    std::string_view type() const;  // "request", "response", "unsolicited_response"
};

// Suricata's function names ("direct_operate"); "unknown" when it has none.
std::string_view dnp3_function_name(uint8_t function);
OtAccess dnp3_ot_access(uint8_t function);
// CRC-16/DNP of `data` (as stored little-endian after each block).
uint16_t dnp3_crc(std::span<const uint8_t> data);
// Writes "dnp3": {...} as Suricata's EVE dnp3 object.
void dnp3_write_eve(JsonWriter& w, const void* record);

class Dnp3Decoder {
public:
    static constexpr size_t kHeaderLen = 10;
    static constexpr size_t kMaxFrame = kHeaderLen + 250 + 2 * 16;

    explicit Dnp3Decoder(Dnp3Context& ctx) : ctx_(&ctx) {}

    void on_data(Direction dir, std::span<const uint8_t> data, AppRecordSink& sink);
    void on_gap(Direction dir, uint64_t len);
    // One UDP datagram holding one or more whole link frames.
    void on_datagram(Direction dir, std::span<const uint8_t> data, AppRecordSink& sink);
    bool rejected() const { return verdict_ == Verdict::not_dnp3; }

private:
    struct Framer {
        std::array<uint8_t, kMaxFrame> buf{};
        uint16_t have = 0;
        uint16_t need = 0;
        uint16_t skip_left = 0;
        bool resync = false;
    };
    struct Transport {
        std::array<uint8_t, Dnp3Config::kMaxFragment> buf{};
        uint16_t len = 0;
        bool open = false;
        uint8_t next_seq = 0;
        uint8_t link_control = 0;
        uint16_t src = 0, dst = 0;
    };
    enum class Verdict : uint8_t { probing, dnp3, not_dnp3 };

    // Whole frame length from a 10-byte header, 0 (with the reason) when invalid.
    static size_t frame_length(const uint8_t* h, Dnp3Counter* why);
    bool accept_first(bool valid);
    void process_frame(Direction dir, std::span<const uint8_t> frame, AppRecordSink& sink);
    void transport(Direction dir, uint8_t link_control, uint16_t src, uint16_t dst, std::span<const uint8_t> ud,
                   AppRecordSink& sink);
    void application(Direction dir, uint8_t link_control, uint16_t src, uint16_t dst,
                     std::span<const uint8_t> fragment, AppRecordSink& sink);

    Dnp3Context* ctx_;
    Verdict verdict_ = Verdict::probing;
    Framer framer_[2];
    Transport transport_[2];
};

}  // namespace sluice
