// DNS message decoding and the per-flow DnsParser, for dns.query and the EVE
// "dns" object (Suricata EVE v2 style: type query/answer, id, rrname, rrtype,
// rcode, flags, answers/authorities with rdata for A, AAAA, CNAME, NS, PTR, MX
// and TXT). Works over UDP (one message per datagram, on_datagram) and TCP
// (2-byte length framing, StreamConsumer). Name decompression is bounded:
// at most kDnsMaxPointerJumps jumps (loops end there), names at most 255
// bytes, every read bounds-checked. Malformed messages are counted by reason
// (DnsCounter) and not emitted; over TCP a bad length prefix or a gap fails the
// flow (ParserState::failed).
// Each message is emitted once as AppTxStage::whole; a response shares the
// tx_id of the query with the same DNS id seen last on the flow.
// Ownership and memory: DnsParser is per flow (sizeof about 150 bytes; over
// TCP a message buffer per direction grown up to dns.max_tcp_message). Decoded
// names and rdata text live in the worker's scratch during the sink call; a
// DnsMessage (about 4 KiB) lives on the worker stack.
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

namespace sluice {

class JsonWriter;

inline constexpr size_t kDnsMaxQuestions = 8;
inline constexpr size_t kDnsMaxRecords = 64;
inline constexpr unsigned kDnsMaxPointerJumps = 32;
inline constexpr size_t kDnsMaxNameLength = 255;

struct DnsQuestion {
    std::span<const uint8_t> name;  // dotted, no trailing dot; empty for the root
    uint16_t type = 0;
    uint16_t rclass = 0;
};

enum class DnsSection : uint8_t { answer, authority };

struct DnsRecord {
    DnsSection section = DnsSection::answer;
    std::span<const uint8_t> name;
    uint16_t type = 0;
    uint16_t rclass = 0;
    uint32_t ttl = 0;
    bool has_rdata = false;           // rdata rendered as text (A, AAAA, names, TXT)
    std::span<const uint8_t> rdata;   // the text
};

struct DnsMessage {
    uint16_t id = 0;
    uint16_t flags = 0;
    uint16_t qdcount = 0, ancount = 0, nscount = 0, arcount = 0;
    std::array<DnsQuestion, kDnsMaxQuestions> questions{};
    size_t question_count = 0;
    std::array<DnsRecord, kDnsMaxRecords> records{};  // answers, then authorities
    size_t record_count = 0;
    size_t records_skipped = 0;  // over the record cap (counted, not decoded)
    uint64_t tx_id = 0;

    bool is_response() const { return (flags & 0x8000) != 0; }
    uint8_t opcode() const { return static_cast<uint8_t>((flags >> 11) & 0xf); }
    uint8_t rcode() const { return static_cast<uint8_t>(flags & 0xf); }
};

enum class DnsError : uint8_t {
    none,
    truncated,
    label_invalid,
    name_too_long,
    pointer_loop,
    pointer_out_of_bounds,
    too_many_questions,
};

// Decodes one DNS message (without a TCP length prefix). Names and rdata text
// are appended to `scratch`; at most `max_records` answer and authority
// records are decoded (additional records are not). A record whose rdata does
// not fit its type keeps has_rdata false and counts rdata_invalid in
// `counters` when given.
DnsError decode_dns_message(std::span<const uint8_t> msg, DnsMessage& out, ScratchBuffer& scratch,
                            size_t max_records, CounterSet<DnsCounter>* counters = nullptr);

// Decodes the possibly compressed name at `offset` of `msg` into `scratch`;
// `*next` gets the offset after the name in the original position.
DnsError decode_dns_name(std::span<const uint8_t> msg, size_t offset, ScratchBuffer& scratch,
                         std::span<const uint8_t>* name, size_t* next);

std::string_view dns_rrtype_name(uint16_t type);  // "A", "AAAA", ...; "" when unnamed
std::string_view dns_rcode_name(uint8_t rcode);   // "NOERROR", ...; "" when unnamed

// Writes `"dns": {...}` for a DnsMessage (AppTransaction::write_eve).
void write_dns_eve(JsonWriter& w, const void* dns_message);

class DnsParser final : public StreamConsumer {
public:
    DnsParser(AppLayerContext& ctx, AppTransactionSink& sink);
    DnsParser(const DnsParser&) = delete;
    DnsParser& operator=(const DnsParser&) = delete;

    // UDP: one message per datagram.
    void on_datagram(Direction dir, std::span<const uint8_t> data);
    // TCP: length-prefixed messages in each direction's stream.
    void on_data(Direction dir, uint64_t offset, std::span<const uint8_t> data) override;
    void on_gap(Direction dir, uint64_t offset, uint64_t len) override;
    void on_end() override;

    ParserState state() const { return state_; }
    uint64_t messages() const { return messages_; }
    size_t memory_bytes() const { return tcp_[0].buf.capacity() + tcp_[1].buf.capacity(); }

private:
    struct TcpHalf {
        std::array<uint8_t, 2> len_bytes{};
        uint8_t len_have = 0;
        uint32_t want = 0;          // length of the message being collected
        std::vector<uint8_t> buf;   // bytes of that message so far
    };
    void handle_message(Direction dir, std::span<const uint8_t> msg);
    void fail(DnsCounter reason);
    uint64_t tx_for(const DnsMessage& m);

    AppLayerContext& ctx_;
    AppTransactionSink& sink_;
    std::array<TcpHalf, 2> tcp_;
    // Recent queries (DNS id -> tx_id) so that responses share their query's tx_id.
    std::array<uint16_t, 8> query_ids_{};
    std::array<uint64_t, 8> query_tx_{};
    uint8_t queries_held_ = 0;
    uint8_t query_next_ = 0;
    uint64_t next_tx_id_ = 0;
    uint64_t messages_ = 0;
    ParserState state_ = ParserState::active;
};

}  // namespace sluice
