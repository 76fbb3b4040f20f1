// AppLayerFlow: the app-layer parser slot of one flow. The worker keeps one per
// TCP or UDP flow it inspects and hands it every in-order stream chunk, gap and
// end (StreamConsumer) or datagram. It runs the parser the worker chose with
// start() (from nDPI's verdict or the port); until then it asks
// probe_app_proto() on the first bytes of each direction (holding up to 16
// bytes per direction to decide) and starts HTTP, TLS or DNS itself, replaying
// the held bytes. When nothing matches, it stays idle and drops the data.
// Ownership and memory: one per flow; sizeof(AppLayerFlow) is the largest
// parser plus 48 bytes (see each parser's header for what they grow).
// Thread rules: used only by the worker that owns the flow; `ctx` and `sink`
// outlive it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <variant>

#include "detectors/applayer/applayer.hpp"
#include "detectors/applayer/dns_parser.hpp"
#include "detectors/applayer/http_parser.hpp"
#include "detectors/applayer/tls_parser.hpp"

namespace sluice {

class AppLayerFlow final : public StreamConsumer {
public:
    AppLayerFlow(AppLayerContext& ctx, AppTransactionSink& sink, uint8_t ip_proto);
    AppLayerFlow(const AppLayerFlow&) = delete;
    AppLayerFlow& operator=(const AppLayerFlow&) = delete;

    // Starts the parser for `proto` unless one runs already; false when `proto`
    // has no parser here (http, tls and dns do; dns over TCP or UDP per ip_proto).
    bool start(AppProto proto);
    // The running parser's protocol, unknown before one starts, failed when
    // probing gave up.
    AppProto protocol() const { return proto_; }
    ParserState state() const;

    void on_data(Direction dir, uint64_t offset, std::span<const uint8_t> data) override;
    void on_gap(Direction dir, uint64_t offset, uint64_t len) override;
    void on_end() override;
    void on_datagram(Direction dir, std::span<const uint8_t> data);

    size_t memory_bytes() const;

private:
    StreamConsumer* stream();
    void replay_held();

    AppLayerContext& ctx_;
    AppTransactionSink& sink_;
    std::variant<std::monostate, HttpParser, TlsParser, DnsParser> parser_;
    std::array<std::array<uint8_t, 16>, 2> held_{};
    std::array<uint8_t, 2> held_len_{};
    std::array<uint64_t, 2> held_offset_{};
    AppProto proto_ = AppProto::unknown;
    uint8_t ip_proto_;
};

}  // namespace sluice
