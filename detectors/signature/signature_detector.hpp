// SignatureDetector: the signature engine as a worker detector. It owns the
// worker's SignatureMatcher and, per flow, a SigFlowState (from a per-worker
// pool, reused across flows); it inspects packets (inspect), the reassembled
// TCP streams (on_stream_*), application transactions and OT records
// (on_transaction/on_record), turns rule actions into verdicts (drop ->
// drop_flow, reject -> reject, pass -> no more inspection of the flow) and
// writes EVE alert events. A new rule set arrives with a snapshot and is taken
// at a burst boundary (hot reload).
// Thread rules: one instance per worker; the management side reads counters.
#pragma once

#include <memory>
#include <vector>

#include "detectors/detector.hpp"
#include "detectors/signature/signature_matcher.hpp"

namespace sluice {

class SignatureDetector final : public Detector, private AlertSink {
public:
    SignatureDetector(const Config& config, const DetectionSnapshot& snapshot, WorkerServices& services, unsigned slot);
    ~SignatureDetector() override;

    void on_snapshot(const DetectionSnapshot& snapshot) override;
    void on_stream_data(StreamContext& ctx, Direction dir, uint64_t offset, std::span<const uint8_t> data) override;
    void on_stream_gap(StreamContext& ctx, Direction dir, uint64_t offset, uint64_t len) override;
    void inspect(std::span<PacketRef* const> packets) override;
    void on_transaction(StreamContext& ctx, const AppTransaction& tx) override;
    void on_record(StreamContext& ctx, const AppRecord& record) override;
    void on_flow_end(Flow& flow) override;

    const SignatureMatcher* matcher() const { return matcher_.get(); }

    // The detector table's management-side hooks.
    static void metrics(std::span<const Detector* const> instances, MetricSamples& out);
    static void write_stats(std::span<const Detector* const> instances, JsonWriter& w);
    static bool control(std::span<const Detector* const> instances, const std::vector<std::string>& words,
                        std::string& reply);

private:
    void on_alert(const AlertEvent& event) override;
    SigFlowState& state(Flow& flow);
    FlowFacts facts(const Flow& flow, const PacketRef* packet) const;
    void apply(SigVerdict v, StreamContext& ctx);
    void apply(SigVerdict v, PacketRef& p);

    const Config& config_;
    WorkerServices& services_;
    unsigned slot_;
    std::unique_ptr<SignatureMatcher> matcher_;
    std::vector<std::unique_ptr<SigFlowState>> pool_;  // free states, reused
    // What the alert being written is about (set around each matcher call).
    const Flow* alert_flow_ = nullptr;
    const PacketRef* alert_packet_ = nullptr;
};

}  // namespace sluice
