// EVE events: Suricata-compatible JSON lines. EveEmitter builds one event in
// place in the worker's EventRing: the common fields (timestamp, flow_id,
// in_iface, event_type, vlan, src/dest ip and port, proto, app_proto) first,
// then the caller adds its object ("alert", "flow", ...), then end() publishes
// it. Nothing is allocated. A full ring drops the event and counts it when
// live; offline the emitter waits for the writer, so no event is ever lost.
//
// Deferred events: for the events a worker may have to write by the ten
// thousand (OT policy denials), the caller stores the event's facts in a
// fixed layout instead (begin_deferred/end_deferred) with the function that
// renders them; the EVE writer thread calls it (EveReader), so the worker
// formats no text. Same ring, same order, the same bytes in the file.
// A renderer reads only its payload and data that lives as long as the
// process (static tables), never worker or policy state.
// Thread rules: one emitter per producer thread (each worker, the management thread);
// renderers run on the EVE writer thread.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

#include "dataplane/counters.hpp"
#include "dataplane/event_ring.hpp"
#include "dataplane/flow_table.hpp"
#include "dataplane/json_writer.hpp"
#include "detectors/app_proto.hpp"

namespace sluice {

#define SLUICE_EVE_TYPES(X)  \
    X(alert, "alert")        \
    X(anomaly, "anomaly")    \
    X(drop, "drop")          \
    X(flow, "flow")          \
    X(fileinfo, "fileinfo")  \
    X(stats, "stats")        \
    X(http, "http")          \
    X(dns, "dns")            \
    X(tls, "tls")            \
    X(smb, "smb")            \
    X(modbus, "modbus")      \
    X(dnp3, "dnp3")          \
    X(enip, "enip")          \
    X(s7comm, "s7comm")      \
    X(iec104, "iec104")

enum class EveType : uint8_t {
#define SLUICE_X(id, name) id,
    SLUICE_EVE_TYPES(SLUICE_X)
#undef SLUICE_X
        count
};

constexpr std::string_view counter_name(EveType t) {
    constexpr std::string_view names[] = {
#define SLUICE_X(id, name) name,
        SLUICE_EVE_TYPES(SLUICE_X)
#undef SLUICE_X
    };
    return names[static_cast<size_t>(t)];
}
std::optional<EveType> eve_type_from_name(std::string_view name);

#define SLUICE_EVE_LOSS(X)                                          \
    X(ring_full, "ring_full")         /* the writer fell behind */  \
    X(too_large, "too_large")         /* event over the max size */

enum class EveLoss : uint8_t {
#define SLUICE_X(id, name) id,
    SLUICE_EVE_LOSS(SLUICE_X)
#undef SLUICE_X
        count
};
constexpr std::string_view counter_name(EveLoss l) {
    constexpr std::string_view names[] = {
#define SLUICE_X(id, name) name,
        SLUICE_EVE_LOSS(SLUICE_X)
#undef SLUICE_X
    };
    return names[static_cast<size_t>(l)];
}

// The addresses an event is about, in the direction it reports them.
struct EveEndpoints {
    IpAddr src;
    IpAddr dst;
    uint16_t src_port = 0;
    uint16_t dst_port = 0;
    uint8_t ip_proto = 0;
    uint8_t vlan_count = 0;
    uint16_t vlan[2] = {0, 0};
    uint8_t icmp_type = 0;
    uint8_t icmp_code = 0;
    bool has_icmp = false;
};

// Client -> server, as flow events report it.
EveEndpoints flow_endpoints(const Flow& f);
// Source -> destination of one packet.
EveEndpoints packet_endpoints(const DecodedPacket& p);

// Opens the event object and writes the common members (what begin() writes).
void write_eve_header(JsonWriter& w, EveType type, uint64_t ts_ns, uint64_t flow_id, std::string_view in_iface,
                      const EveEndpoints* ep, AppProto app_proto);

// What a deferred event's renderer is told besides its payload.
struct EveRenderContext {
    EveType type = EveType::alert;
    std::string_view in_iface;
};
// Writes the whole event (write_eve_header ... end_object) from `payload`.
using EveRenderer = void (*)(std::span<const char> payload, const EveRenderContext& ctx, JsonWriter& w);

// The consumer's view of an EventRing: every event as its JSON text, deferred
// ones rendered (by the function they were stored with) into the reader's own
// buffer (the EVE writer thread, tests).
class EveReader {
public:
    // The oldest event of `ring`, or empty when none; valid until the next
    // call or ring.pop(). A deferred record that cannot be rendered gives
    // empty text with *failed set (pop it all the same).
    std::string_view front(EventRing& ring, bool* failed = nullptr);

private:
    std::unique_ptr<char[]> buf_;  // EveEmitter::kMaxEvent bytes, made on first use
};

// "2024-01-31T12:00:00.123456+0000"; writes 31 bytes into buf (>= 32), returns 31.
size_t format_eve_time(uint64_t ts_ns, char* buf);
// "TCP", "UDP", "ICMP", "IPv6-ICMP", or the number.
std::string_view ip_proto_name(uint8_t proto, char* buf8);

class EveEmitter {
public:
    static constexpr size_t kMaxEvent = 64 * 1024;

    // An event may take a quarter of the ring at most (EventRing's limit): a
    // small ring (eve.ring-bytes below 4 x kMaxEvent) bounds events lower, it
    // does not refuse every one.
    EveEmitter(EventRing& ring, uint64_t type_mask, bool wait_when_full, std::string_view in_iface)
        : ring_(ring),
          max_event_(std::min(kMaxEvent, ring.max_record())),
          type_mask_(type_mask),
          wait_(wait_when_full),
          iface_(in_iface) {}

    bool enabled(EveType t) const { return (type_mask_ >> static_cast<unsigned>(t)) & 1u; }

    // Starts an event; returns the writer positioned inside the top-level
    // object, or nullptr when the type is off or the event cannot be stored.
    JsonWriter* begin(EveType type, uint64_t ts_ns, uint64_t flow_id, const EveEndpoints* ep,
                      AppProto app_proto = AppProto::unknown);
    // Closes and publishes the event begun last; false when it was lost.
    bool end();

    // Starts a deferred event: room for up to `max_payload` bytes of the
    // caller's layout (less when a small ring bounds events lower: see the
    // span's size), rendered later by `render` (a function of static
    // storage); empty when the type is off or the ring has no room (counted
    // as for begin()). end_deferred(used) publishes the first `used` bytes.
    std::span<char> begin_deferred(EveType type, EveRenderer render, size_t max_payload);
    bool end_deferred(size_t used);
    // Gives the deferred event up: it did not fit (counted as too_large).
    void abandon_deferred();

    const CounterSet<EveType>& written() const { return written_; }
    const CounterSet<EveLoss>& lost() const { return lost_; }

private:
    EventRing& ring_;
    size_t max_event_;  // the most one event may take
    uint64_t type_mask_;
    bool wait_;
    std::string_view iface_;
    std::span<char> reserve(size_t len);

    std::optional<JsonWriter> w_;
    std::span<char> deferred_;  // the deferred event being filled (whole record)
    size_t deferred_head_ = 0;  // bytes of it before the caller's payload
    EveType type_ = EveType::alert;
    CounterSet<EveType> written_;
    CounterSet<EveLoss> lost_;
};

// Bit mask of the given type names (unknown names are ignored: validated by config).
uint64_t eve_type_mask(std::span<const std::string> names);

}  // namespace sluice
