// EnipDecoder: decodes EtherNet/IP (TCP and UDP 44818) from the reassembled
// stream of one flow or from datagrams: the encapsulation header (command,
// length, session handle, status, sender context, options), the commands
// (ListServices, ListIdentity, ListInterfaces, RegisterSession,
// UnRegisterSession, SendRRData, SendUnitData, IndicateStatus, Cancel), the
// common packet format items, and CIP explicit messages: service (and the
// response bit), request path (class, instance, attribute, member, symbolic
// tag), general and extended status, Multiple Service Packet (0x0A) with each
// embedded service, and Unconnected Send (0x52) unwrapped to its embedded
// request and route. Class 0/1 I/O datagrams (UDP 2222, common packet format
// without encapsulation) are checked and counted, not reported.
//
// Records: a PDU carrying CIP gives one record per CIP operation (each service
// embedded in a Multiple Service Packet, the request inside an Unconnected
// Send); other PDUs one record for the command. All records of a PDU share
// its EnipRecord (EnipRecord::service_index says which service the record is
// about); keywords evaluate the whole PDU on the PDU's first record only
// (EnipRecord::first_of_pdu), so a rule matches once per PDU, as in Suricata.
//
// Ownership: the worker owns one EnipContext (counters) and one EnipDecoder
// per EtherNet/IP flow; the decoder refers to the context, which must outlive
// it. Fixed size (about 4.2 KiB: a 2072-byte frame buffer per direction; a
// longer encapsulation is decoded from that prefix); no allocation. Records
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

#define SLUICE_ENIP_COUNTERS(X)                                                                    \
    X(pdus, "pdus")                                 /* encapsulation PDUs decoded */                \
    X(cip_requests, "cip_requests")                                                                 \
    X(cip_responses, "cip_responses")                                                               \
    X(datagrams, "datagrams")                                                                       \
    X(io_datagrams, "io_datagrams")                 /* class 0/1 I/O on UDP 2222 */                  \
    X(bad_header, "bad_header")                     /* unknown command or options set: resync */     \
    X(oversize_pdu, "oversize_pdu")                 /* longer than the buffer: prefix decoded */     \
    X(bad_cpf, "bad_cpf")                           /* common packet format items lie */             \
    X(bad_cip, "bad_cip")                           /* CIP header or path does not fit */            \
    X(bad_multiple_service, "bad_multiple_service") /* offsets or count of a 0x0A packet lie */     \
    X(services_truncated, "services_truncated")     /* more CIP services than a record holds */     \
    X(bad_command_data, "bad_command_data")         /* RegisterSession, ListIdentity, ... too short */ \
    X(gap_dropped_pdu, "gap_dropped_pdu")                                                           \
    X(resync_bytes, "resync_bytes")                                                                 \
    X(truncated_datagram, "truncated_datagram")                                                     \
    X(not_enip_flows, "not_enip_flows")             /* first bytes no encapsulation: ignored */

enum class EnipCounter : uint8_t {
#define SLUICE_X(id, name) id,
    SLUICE_ENIP_COUNTERS(SLUICE_X)
#undef SLUICE_X
        count
};

constexpr std::string_view counter_name(EnipCounter c) {
    constexpr std::string_view names[] = {
#define SLUICE_X(id, name) name,
        SLUICE_ENIP_COUNTERS(SLUICE_X)
#undef SLUICE_X
    };
    return names[static_cast<size_t>(c)];
}

struct EnipContext {
    CounterSet<EnipCounter> counters;
};

namespace enip_command {
inline constexpr uint16_t nop = 0x0000, list_services = 0x0004, list_identity = 0x0063, list_interfaces = 0x0064,
                          register_session = 0x0065, unregister_session = 0x0066, send_rr_data = 0x006f,
                          send_unit_data = 0x0070, indicate_status = 0x0072, cancel = 0x0073;
}

struct CipPathSegment {
    uint8_t type = 0;  // logical type: 0 class, 1 instance, 2 member, 3 connection point, 4 attribute, 6 service
    uint32_t value = 0;
};

struct CipService {
    static constexpr size_t kMaxSegments = 6;
    uint8_t service = 0;  // as on the wire (0x80 set in responses)
    uint8_t depth = 0;    // 0: in the CPF item; 1+: inside a Multiple Service Packet or Unconnected Send
    bool container = false;  // Multiple Service Packet or unwrapped Unconnected Send: no record of its own
    bool has_class = false, has_instance = false, has_attribute = false, has_member = false;
    uint32_t class_id = 0, instance = 0, attribute = 0, member = 0;
    uint8_t num_segments = 0;
    std::array<CipPathSegment, kMaxSegments> segments{};
    std::span<const uint8_t> symbol;         // first ANSI extended symbolic segment (tag name)
    std::span<const uint8_t> attribute_list; // Get/Set Attribute List request: count + ids
    bool routed = false;                     // unwrapped from an Unconnected Send
    uint8_t route_port = 0;
    uint32_t route_link = 0;
    uint8_t general_status = 0;              // responses
    uint8_t ext_status_words = 0;
    uint16_t ext_status = 0;                 // first extended status word
    std::span<const uint8_t> data;           // service data, borrowed

    bool is_response() const { return (service & 0x80) != 0; }
    uint8_t code() const { return service & 0x7f; }
};

// The record behind AppRecord::data for proto enip.
struct EnipRecord {
    static constexpr size_t kMaxServices = 32;
    bool from_request_side = true;  // sent by the originator (to_server on TCP)
    // Encapsulation header.
    uint16_t command = 0;
    uint16_t length = 0;
    uint32_t session = 0;
    uint32_t status = 0;
    uint64_t sender_context = 0;
    uint32_t options = 0;
    bool truncated = false;  // decoded from a prefix of a longer PDU
    // SendRRData / SendUnitData.
    bool has_cpf = false;
    uint32_t interface_handle = 0;
    uint16_t timeout = 0;
    uint16_t item_count = 0;
    uint16_t address_item = 0, data_item = 0;  // item type ids
    uint32_t connection_id = 0;
    uint16_t sequence = 0;                      // connected data sequence count
    // RegisterSession.
    bool has_register = false;
    uint16_t protocol_version = 0, session_options = 0;
    // ListIdentity response.
    bool has_identity = false;
    uint16_t identity_version = 0, vendor_id = 0, device_type = 0, product_code = 0, identity_status = 0;
    uint8_t revision_major = 0, revision_minor = 0, state = 0;
    uint32_t serial = 0;
    std::span<const uint8_t> product_name;
    // ListServices response.
    bool has_services_list = false;
    uint16_t capabilities = 0;
    std::span<const uint8_t> service_name;
    // CIP.
    uint8_t num_services = 0;
    std::array<CipService, kMaxServices> services{};
    int service_index = -1;  // the service this record is about, -1 for a record of the command
    bool first_of_pdu = true;  // the first record emitted for this PDU

    const CipService* service() const { return service_index >= 0 ? &services[service_index] : nullptr; }
};

std::string_view enip_command_name(uint16_t command);  // "list_identity", "send_rr_data", "" if unknown
std::string_view enip_status_name(uint32_t status);    // "success", "invalid_cmd", ...
// Snake-case operation name of a CIP service in the context of its class
// ("get_attribute_single", "forward_open", "read_tag", ...).
std::string_view cip_service_name(const CipService& s);
std::string_view cip_service_title(const CipService& s);  // Suricata's EVE name: "Get Attribute Single"
std::string_view cip_class_name(uint32_t class_id);        // "Identity", "" if unknown
OtAccess cip_ot_access(const CipService& s);
void enip_write_eve(JsonWriter& w, const void* record);

class EnipDecoder {
public:
    static constexpr size_t kHeaderLen = 24;
    static constexpr size_t kMaxFrame = kHeaderLen + 2048;

    // `request_dir`: the direction the originator's PDUs flow in: to_server
    // normally; to_client when the connection's initiator is the side on port
    // 44818 (mid-stream pickup).
    explicit EnipDecoder(EnipContext& ctx, Direction request_dir = Direction::to_server)
        : ctx_(&ctx), request_dir_(request_dir) {}

    void on_data(Direction dir, std::span<const uint8_t> data, AppRecordSink& sink);
    void on_gap(Direction dir, uint64_t len);
    // A UDP datagram to or from port 44818: one or more whole encapsulations.
    void on_datagram(Direction dir, std::span<const uint8_t> data, AppRecordSink& sink);
    // A class 0/1 I/O datagram (UDP 2222): common packet format only; checked
    // and counted, no record.
    void on_io_datagram(Direction dir, std::span<const uint8_t> data);
    bool rejected() const { return verdict_ == Verdict::not_enip; }

private:
    struct Framer {
        std::array<uint8_t, kMaxFrame> buf{};
        uint16_t have = 0;
        uint32_t seen = 0;
        uint32_t need = 0;
        uint32_t skip_left = 0;
        bool resync = false;
    };
    enum class Verdict : uint8_t { probing, enip, not_enip };

    static size_t frame_length(const uint8_t* h, bool strict);
    bool accept_first(bool valid);
    void decode(Direction dir, std::span<const uint8_t> pdu, bool truncated, AppRecordSink& sink);

    EnipContext* ctx_;
    Direction request_dir_;
    Verdict verdict_ = Verdict::probing;
    Framer framer_[2];
};

}  // namespace sluice
