// OtDetector: routes OT flows to the five protocol decoders (detectors/modbus,
// s7comm, dnp3, iec104, enip) in the worker. A flow gets a decoder by its
// server port (502 Modbus, 102 S7comm, 20000 DNP3, 2404 IEC-104, 44818
// EtherNet/IP, UDP 2222 EtherNet/IP I/O; a connection picked up with the port
// on the client side is decoded the other way round), else by nDPI's verdict
// (flow.app_proto modbus/s7comm/dnp3/iec104/enip, set by the AppIdDetector
// before stream data is delivered). The decoder gets the reassembled stream
// (on_stream_data/on_stream_gap) or the UDP datagrams (inspect). Every record
// it emits is published to all detectors (services.publish: `modbus:`,
// `dnp3_func`, `enip_command` rules, the OT policy) and written as an EVE event
// of the protocol's type when that type is on: one per Modbus request/response
// pair (at the response; requests never answered are not logged), one per
// DNP3 application fragment and IEC-104 APDU, one per S7comm and EtherNet/IP
// PDU (its first record: several items or CIP services share one PDU). The
// first record sets flow.app_proto (when unknown or nDPI's `other`). A
// decoder that finds the flow is not its protocol is freed and the flow left
// alone.
//
// Ownership and memory: per worker one context per protocol (limits from
// OtConfig, counters); per OT flow one OtFlowOf<Decoder> holding the one
// decoder it needs and sized for it (Modbus ~2.4 KiB, DNP3 ~4.7 KiB, plus 24
// bytes), taken from the worker's free list of that protocol and given back at
// flow end, or as soon as a TCP flow's stream is complete (both FINs seen and
// every byte before them delivered: a closed flow stays in the flow table
// until its timeout, its decoder need not), at most 256 kept in all; none for
// other flows.
// Thread rules: one instance per worker; the management thread reads counters
// through metrics() and write_stats().
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "dataplane/counters.hpp"
#include "detectors/detector.hpp"
#include "detectors/dnp3/dnp3_decoder.hpp"
#include "detectors/enip/enip_decoder.hpp"
#include "detectors/iec104/iec104_decoder.hpp"
#include "detectors/modbus/modbus_decoder.hpp"
#include "detectors/ot/ot_config.hpp"
#include "detectors/s7comm/s7comm_decoder.hpp"

namespace sluice {

// The five protocols, as indices of the per-protocol counters.
enum class OtProto : uint8_t { modbus, s7comm, dnp3, iec104, enip, count };
inline constexpr size_t kOtProtos = static_cast<size_t>(OtProto::count);
std::string_view to_string(OtProto p);
AppProto app_proto_of(OtProto p);

// Which decoder a flow needs. `reversed`: the protocol's port is the client's
// (requests flow to_client); `io`: EtherNet/IP class 0/1 I/O on UDP 2222.
struct OtChoice {
    bool found = false;
    OtProto proto = OtProto::modbus;
    bool reversed = false;
    bool io = false;
};
OtChoice choose_ot_protocol(const Flow& flow);

// Whether a record gets its own EVE event (see the header comment).
bool ot_record_logged(const AppRecord& record);

// The decoder of one flow: what every protocol shares; the object is an
// OtFlowOf<D> of the decoder type `proto` names (ModbusDecoder for modbus,
// S7commDecoder, Dnp3Decoder, Iec104Decoder, EnipDecoder), so a flow holds
// only its own decoder's state.
struct OtFlow {
    OtProto proto = OtProto::modbus;
    bool io = false;        // EtherNet/IP I/O datagrams (no records)
    bool announced = false; // the first record was seen
    virtual ~OtFlow() = default;
};

// 64-byte aligned: the object header and the decoder's hot state (Modbus:
// framing and pairing) share one cache line, which classify() prefetches.
template <class D>
struct alignas(64) OtFlowOf final : OtFlow {
    std::optional<D> decoder;  // empty while on the free list
};

#define SLUICE_OT_FLOW_COUNTERS(X)                                               \
    X(flows, "flows")          /* flows given a decoder */                       \
    X(decoded, "decoded")      /* flows with at least one record */              \
    X(rejected, "rejected")    /* flows the decoder found are not its protocol */ \
    X(records, "records")      /* records published */                           \
    X(requests, "requests")    /* records of requests */                         \
    X(exceptions, "exceptions")/* records of error/exception responses */        \
    X(eve_events, "eve_events")                                                  \
    X(finished_early, "finished_early") /* decoders freed when the TCP stream ended, before the flow */

enum class OtFlowCounter : uint8_t {
#define SLUICE_X(id, name) id,
    SLUICE_OT_FLOW_COUNTERS(SLUICE_X)
#undef SLUICE_X
        count
};

constexpr std::string_view counter_name(OtFlowCounter c) {
    constexpr std::string_view names[] = {
#define SLUICE_X(id, name) name,
        SLUICE_OT_FLOW_COUNTERS(SLUICE_X)
#undef SLUICE_X
    };
    return names[static_cast<size_t>(c)];
}

class OtDetector final : public Detector {
public:
    OtDetector(const Config& config, const DetectionSnapshot& snapshot, WorkerServices& services, unsigned slot);
    // For tests and benchmarks: the same without a Config.
    OtDetector(const OtConfig& config, WorkerServices& services, unsigned slot);
    ~OtDetector() override;

    // Prefetches the decoders of the burst's flows (before stream delivery).
    void classify(std::span<PacketRef* const> packets) override;
    void on_stream_data(StreamContext& ctx, Direction dir, uint64_t offset, std::span<const uint8_t> data) override;
    void on_stream_gap(StreamContext& ctx, Direction dir, uint64_t offset, uint64_t len) override;
    void inspect(std::span<PacketRef* const> packets) override;
    void on_flow_end(Flow& flow) override;

    // The flow's decoder (null: none, or it was rejected).
    const OtFlow* flow_decoder(const Flow& flow) const;

    const ModbusContext& modbus() const { return modbus_; }
    const S7commContext& s7comm() const { return s7comm_; }
    const Dnp3Context& dnp3() const { return dnp3_; }
    const Iec104Context& iec104() const { return iec104_; }
    const EnipContext& enip() const { return enip_; }
    const CounterSet<OtFlowCounter>& counters(OtProto p) const { return flow_counters_[static_cast<size_t>(p)]; }
    // Records by protocol and access class (OtAccess).
    uint64_t records(OtProto p, OtAccess a) const {
        return by_access_[static_cast<size_t>(p)][static_cast<size_t>(a)].get();
    }

    static void metrics(std::span<const Detector* const> instances, MetricSamples& out);
    static void write_stats(std::span<const Detector* const> instances, JsonWriter& w);

    // Writes the record's EVE event when its type is on and the record is
    // one that is logged (ot_record_logged); `ts` stamps the event.
    void log_eve(Flow& f, OtFlow& o, const AppRecord& record, uint64_t ts) {
        // The type first, inline: it is off by default, and then nothing
        // else is read.
        if ((eve_protos_ >> static_cast<unsigned>(record.proto)) & 1u) write_eve(f, o, record, ts);
    }

private:
    // The decoders' record sink: their records come back to on_decoded. (A
    // member, not a base: an on_record of OtDetector's own would hide the
    // Detector hook of that name, and the worker would call it per record.)
    class Sink final : public AppRecordSink {
    public:
        explicit Sink(OtDetector& d) : d_(d) {}
        void on_record(const AppRecord& record) override { d_.on_decoded(record); }

    private:
        OtDetector& d_;
    };

    void on_decoded(const AppRecord& record);
    void write_eve(Flow& f, OtFlow& o, const AppRecord& record, uint64_t ts);
    OtFlow* decoder_for(Flow& flow);
    void after_feed(Flow& flow, OtFlow& o);
    void reject(Flow& flow, OtFlow& o);  // the decoder said "not my protocol"
    void release(Flow& flow);
    // Frees the decoder of a TCP flow whose stream is complete (both FINs,
    // every byte delivered), unless it still holds Modbus requests to log.
    void finish_stream(Flow& flow);

    WorkerServices& services_;
    EveEmitter& eve_;  // the worker's, for its whole life
    uint64_t eve_protos_ = 0;  // bit per AppProto whose EVE type is on (eve.types is fixed for a run)
    unsigned slot_;
    ModbusContext modbus_;
    S7commContext s7comm_;
    Dnp3Context dnp3_;
    Iec104Context iec104_;
    EnipContext enip_;
    std::array<CounterSet<OtFlowCounter>, kOtProtos> flow_counters_;
    std::array<std::array<Counter, static_cast<size_t>(OtAccess::count)>, kOtProtos> by_access_{};
    // Decoders of ended flows by protocol, reused; free_count_ in all.
    std::array<std::vector<std::unique_ptr<OtFlow>>, kOtProtos> free_;
    size_t free_count_ = 0;
    StreamContext* current_ = nullptr;           // the flow whose bytes are being decoded
    OtFlow* current_flow_ = nullptr;
    Sink sink_{*this};
};

}  // namespace sluice
