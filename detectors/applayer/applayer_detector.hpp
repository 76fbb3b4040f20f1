// AppLayerDetector: the HTTP/DNS/TLS field extractors as a worker detector.
// Per flow it keeps an AppLayerFlow (made when the flow first carries
// payload, freed at its end), feeds it the reassembled TCP streams and UDP datagrams, sets the
// flow's app_proto when a parser recognises the protocol (unless nDPI named it
// first), hands every transaction to all detectors (signature sticky buffers)
// and writes the EVE http/dns/tls events.
// Thread rules: one instance per worker.
#pragma once

#include <memory>
#include <vector>

#include "detectors/applayer/app_flow.hpp"
#include "detectors/detector.hpp"

namespace sluice {

class AppLayerDetector final : public Detector, private AppTransactionSink {
public:
    AppLayerDetector(const Config& config, const DetectionSnapshot& snapshot, WorkerServices& services, unsigned slot);
    ~AppLayerDetector() override;

    void on_stream_data(StreamContext& ctx, Direction dir, uint64_t offset, std::span<const uint8_t> data) override;
    void on_stream_gap(StreamContext& ctx, Direction dir, uint64_t offset, uint64_t len) override;
    void on_stream_end(Flow& flow) override;
    void inspect(std::span<PacketRef* const> packets) override;
    void on_flow_end(Flow& flow) override;

    const AppLayerContext& context() const { return ctx_; }

    static void metrics(std::span<const Detector* const> instances, MetricSamples& out);
    static void write_stats(std::span<const Detector* const> instances, JsonWriter& w);

private:
    void on_transaction(const AppTransaction& tx, AppTxStage stage) override;
    AppLayerFlow* flow_parser(Flow& flow, bool create);
    void note_protocol(Flow& flow, const AppLayerFlow& parser);

    const Config& config_;
    WorkerServices& services_;
    unsigned slot_;
    AppLayerContext ctx_;
    StreamContext* current_ = nullptr;  // the flow/packet whose data is being parsed
};

}  // namespace sluice
