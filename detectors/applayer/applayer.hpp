// The application-layer field extractors (HTTP/1.x, DNS, TLS) that fill the
// signature engine's sticky buffers: what they hand out (AppTransaction through
// an AppTransactionSink, in stages) and what a worker owns for them
// (AppLayerContext: config, counters, scratch).
//
// Emission contract (see docs/applayer.md):
//  - HTTP: every message (request or response) is emitted twice with the same
//    tx_id and direction: AppTxStage::headers when its header block is complete
//    (body buffers absent), then AppTxStage::body once its body is complete, or
//    its inspection limit is reached, or a gap or the end of the flow cuts it
//    (body buffers present when the message had body bytes). A request and its
//    response share a tx_id (the request's index in the flow).
//  - DNS and TLS: each message is emitted once, AppTxStage::whole.
//  The signature engine evaluates rules without body buffers (http.request_body,
//  http.response_body, file.data) at `headers` and `whole`, rules with body
//  buffers at `body` and `whole`, so a header rule never waits for a body and a
//  body rule sees the body; each rule runs at most once per message.
// Thread rules: everything here belongs to one worker; the spans of an
// AppTransaction (and its eve_ctx) are valid only during the sink call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "detectors/app_buffers.hpp"
#include "detectors/applayer/applayer_config.hpp"
#include "detectors/applayer/applayer_counters.hpp"

namespace sluice {

// AppTxStage, is_body_buffer and evaluate_rule_at live in detectors/app_buffers.hpp.

class AppTransactionSink {
public:
    virtual ~AppTransactionSink() = default;
    virtual void on_transaction(const AppTransaction& tx, AppTxStage stage) = 0;
};

// State of one per-flow parser.
enum class ParserState : uint8_t {
    active,  // parsing
    done,    // nothing more to extract (end of flow, tunnel, TLS handshake over)
    failed,  // input was not the protocol or broke a limit; the rest of the flow is ignored
};

// A fixed-capacity byte area the parsers build normalized buffers in while they
// emit a transaction. It never reallocates after construction, so spans handed
// out stay valid until reset(); an append that does not fit is cut and sets
// overflowed().
class ScratchBuffer {
public:
    explicit ScratchBuffer(size_t capacity = 0) { buf_.resize(capacity); }
    void reserve(size_t capacity) {
        if (capacity > buf_.size()) buf_.resize(capacity);  // only between emissions
    }
    void reset() { used_ = 0; overflowed_ = false; }
    size_t capacity() const { return buf_.size(); }
    size_t used() const { return used_; }
    bool overflowed() const { return overflowed_; }

    // Start/finish a piece built from several appends.
    size_t mark() const { return used_; }
    std::span<const uint8_t> since(size_t mark) const { return {buf_.data() + mark, used_ - mark}; }

    void put(uint8_t c) {
        if (used_ < buf_.size()) buf_[used_++] = c;
        else overflowed_ = true;
    }
    void put(std::span<const uint8_t> s);
    void put(std::string_view s) { put(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size())); }
    std::span<const uint8_t> copy(std::span<const uint8_t> s) {
        const size_t m = mark();
        put(s);
        return since(m);
    }
    // Writable tail, for writers that fill in place (then commit(n)).
    std::span<uint8_t> tail() { return {buf_.data() + used_, buf_.size() - used_}; }
    void commit(size_t n) { used_ += n <= buf_.size() - used_ ? n : buf_.size() - used_; }
    void set_overflowed() { overflowed_ = true; }

private:
    std::vector<uint8_t> buf_;
    size_t used_ = 0;
    bool overflowed_ = false;
};

// One header of an HTTP message being emitted (views into the parser's header
// block or into scratch).
struct HeaderFieldView {
    std::span<const uint8_t> name;
    std::span<const uint8_t> value;
    bool duplicate = false;  // merged into an earlier field of the same name
};

// Per-worker state shared by all the worker's parsers. Create one per worker at
// start; call set_config() at a burst boundary when a new snapshot is published
// (it may grow the scratch buffers, never on the packet path otherwise).
class AppLayerContext {
public:
    explicit AppLayerContext(const AppLayerConfig& config) { set_config(config); }
    AppLayerContext(const AppLayerContext&) = delete;
    AppLayerContext& operator=(const AppLayerContext&) = delete;

    void set_config(const AppLayerConfig& config);
    const AppLayerConfig& config() const { return *config_; }

    AppLayerCounters counters;

    // Used only during one emission at a time (the worker is single-threaded).
    ScratchBuffer& scratch() { return scratch_; }
    std::vector<HeaderFieldView>& header_fields() { return header_fields_; }

private:
    const AppLayerConfig* config_ = nullptr;  // must outlive the context or the next set_config()
    ScratchBuffer scratch_;
    std::vector<HeaderFieldView> header_fields_;
};

}  // namespace sluice
