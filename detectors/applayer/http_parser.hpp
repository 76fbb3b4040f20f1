// HttpParser: HTTP/1.x request and response parser of one TCP connection, fed
// the reassembled streams of both directions (StreamConsumer: arbitrary chunk
// boundaries, explicit gaps). It extracts the fields behind Suricata's http.*
// sticky buffers and file.data, and emits each message as an AppTransaction in
// two stages (applayer.hpp): `headers` when the header block is complete,
// `body` when the body is complete, hits its inspection limit, or is cut by a
// gap or the end of the flow.
//
// Handles keep-alive and pipelining (a response shares its request's tx_id and
// carries the request's method, URI, host, user agent and referer), bodies by
// Content-Length, chunked transfer coding and until close, gzip/deflate
// decompression (bounded by the body limits), 1xx interim responses, HEAD,
// and stops at CONNECT or 101 (tunnel). Input that breaks the framing or a
// limit (header line/block/count caps, bad or conflicting Content-Length, bad
// chunk size, binary garbage, a gap it cannot skip) is counted by reason
// (HttpCounter) and the parser moves to ParserState::failed, ignoring the rest.
//
// Ownership and memory: one per flow, owned by the flow; holds references to
// its worker's AppLayerContext and sink, which outlive it. Per flow: sizeof
// (about 400 bytes) plus, grown on demand and kept for reuse, per direction
// the header block (<= http.max_header_bytes) and the inspected body
// (<= http.{request,response}_body_limit), zlib state (about 45 KiB) while a
// direction has had a compressed body, and the pending-request records
// (<= http.max_pending_requests x 1 KiB). memory_bytes() reports it.
// Thread rules: used only by the worker that owns the flow.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "dataplane/stream.hpp"
#include "detectors/applayer/applayer.hpp"
#include "detectors/applayer/http_body.hpp"

namespace sluice {

class JsonWriter;

// The fields of Suricata's EVE "http" object, as views valid during one sink call.
struct HttpEveRecord {
    std::string_view hostname;
    std::string_view url;
    std::string_view user_agent;
    std::string_view content_type;
    std::string_view referer;
    std::string_view method;
    std::string_view protocol;
    std::string_view status_string;  // only when the status is not a number
    std::string_view redirect;       // Location
    uint64_t length = 0;             // response body bytes seen (after dechunking)
    uint16_t status = 0;
    uint16_t port = 0;
    bool has_status = false;
    bool has_port = false;
    bool has_length = false;
};

// Writes `"http": {...}` into the object under construction (AppTransaction::write_eve).
void write_http_eve(JsonWriter& w, const void* http_eve_record);

class HttpParser final : public StreamConsumer {
public:
    HttpParser(AppLayerContext& ctx, AppTransactionSink& sink);
    ~HttpParser() override;
    HttpParser(const HttpParser&) = delete;
    HttpParser& operator=(const HttpParser&) = delete;

    void on_data(Direction dir, uint64_t offset, std::span<const uint8_t> data) override;
    void on_gap(Direction dir, uint64_t offset, uint64_t len) override;
    void on_end() override;

    ParserState state() const { return state_; }
    uint64_t requests() const { return next_request_id_; }
    uint64_t responses() const { return next_response_id_; }
    // Heap bytes this flow's parser holds now.
    size_t memory_bytes() const;

private:
    enum class Phase : uint8_t {
        head,          // start line and headers, up to the blank line
        body_length,   // Content-Length body
        chunk_size,    // chunk-size line
        chunk_data,    // chunk bytes
        chunk_end,     // CRLF after chunk bytes
        chunk_trailer, // trailer lines after the last chunk
        body_close,    // response body until the connection closes
        tunnel,        // after CONNECT/101: not HTTP any more
    };

    struct Half {
        Phase phase = Phase::head;
        std::vector<uint8_t> head;  // header block of the current message
        size_t line_start = 0;      // offset in `head` of the incomplete line
        uint32_t lines = 0;         // complete non-empty lines in `head`
        // chunk-size and trailer lines (only their first bytes are kept)
        std::array<uint8_t, 24> line{};
        uint8_t line_kept = 0;
        uint32_t line_total = 0;
        uint32_t trailer_lines = 0;
        bool saw_cr = false;
        uint64_t remaining = 0;     // bytes left of a Content-Length body or of a chunk
        std::vector<uint8_t> body;  // inspected body (decompressed when encoded)
        uint64_t body_seen = 0;     // body bytes after dechunking, before decompression
        uint32_t body_limit = 0;
        uint64_t tx_id = 0;
        bool compressed = false;
        bool inflate_failed = false;
        bool body_cut = false;      // a gap took body bytes
        bool body_emitted = false;
        bool is_head_response = false;
        BodyInflater inflater;
    };

    // What a response needs of its request, copied when the request's headers
    // complete (requests may be pipelined ahead of their responses).
    enum ReqField : uint8_t { f_method, f_uri, f_host, f_host_raw, f_user_agent, f_referer, f_protocol, f_count };
    struct PendingRequest {
        uint64_t tx_id = 0;
        bool is_head = false;
        bool is_connect = false;
        bool http09 = false;  // request line without protocol
        bool has_port = false;
        uint16_t port = 0;
        std::array<uint16_t, f_count> off{};
        std::array<uint16_t, f_count> len{};
        std::array<bool, f_count> complete{};  // false: cut to fit, not used as a buffer
        uint16_t used = 0;
        std::array<char, 1024> data{};
        std::string_view get(ReqField f) const { return {data.data() + off[f], len[f]}; }
        void set(ReqField f, std::span<const uint8_t> v);
    };

    Half& half(Direction d) { return half_[index(d)]; }
    void fail(HttpCounter reason);
    void consume(Direction dir, std::span<const uint8_t> data);
    size_t consume_head(Direction dir, std::span<const uint8_t> data);
    bool check_start_bytes(Direction dir, const Half& h, std::span<const uint8_t> seg);
    void head_complete(Direction dir);
    void flush_partial_head(Direction dir);
    bool start_http09_response();
    size_t consume_chunk_line(Direction dir, std::span<const uint8_t> data, bool trailer);
    size_t consume_chunk_end(Direction dir, std::span<const uint8_t> data);
    void feed_body(Direction dir, std::span<const uint8_t> data);
    void start_body(Direction dir, bool compressed);
    void finish_message(Direction dir);
    void reset_half(Half& h);
    void emit(Direction dir, AppTxStage stage, PendingRequest* record = nullptr);
    const PendingRequest* request_for_response();
    void push_pending(const PendingRequest& p);
    void pop_pending_for(uint64_t tx_id);

    AppLayerContext& ctx_;
    AppTransactionSink& sink_;
    std::array<Half, 2> half_;
    std::vector<PendingRequest> ring_;  // pending requests, oldest at ring_head_
    size_t ring_head_ = 0;
    size_t ring_count_ = 0;
    uint64_t next_request_id_ = 0;
    uint64_t next_response_id_ = 0;
    ParserState state_ = ParserState::active;
};

}  // namespace sluice
