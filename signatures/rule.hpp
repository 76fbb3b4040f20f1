// Rule: one parsed signature of the Suricata rule language (and of the Snort 2
// rules written in the same syntax), as the parser produces it and the compiler
// consumes it. A Rule is plain data plus its compiled PCRE2 programs; it never
// changes after parsing. The compiled RuleSet (rule_set.hpp) owns the rules.
// Thread rules: immutable after parse; shared read-only by all workers.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dataplane/address_spec.hpp"
#include "dataplane/ip_addr.hpp"
#include "detectors/app_buffers.hpp"
#include "detectors/app_proto.hpp"
#include "detectors/app_record.hpp"

struct pcre2_real_code_8;

namespace sluice {

// Suricata's action order: a lower value wins (pass first, then drop, reject, alert).
enum class RuleAction : uint8_t { pass = 0, drop = 1, reject = 2, alert = 3, count };

constexpr std::string_view counter_name(RuleAction a) {
    constexpr std::string_view names[] = {"pass", "drop", "reject", "alert"};
    return names[static_cast<size_t>(a)];
}

// Transport named in the rule header; `app` means an application protocol name
// (http, dns, modbus, ...) whose transport is whatever the flow uses.
enum class RuleProto : uint8_t { ip, tcp, udp, icmp, app };

// Where a rule is inspected, derived from its options (see docs/rules.md).
enum class InspectPoint : uint8_t { packet, stream, transaction, record };

constexpr std::string_view to_string(InspectPoint p) {
    constexpr std::string_view names[] = {"packet", "stream", "transaction", "record"};
    return names[static_cast<size_t>(p)];
}

// A numeric comparison: dsize, bsize, urilen, ttl, itype, icode, ... `between`
// is exclusive on both ends, as in Suricata (`dsize:10<>20` is 11..19).
struct NumRange {
    enum class Op : uint8_t { eq, ne, lt, le, gt, ge, between } op = Op::eq;
    uint64_t a = 0;
    uint64_t b = 0;

    bool match(uint64_t v) const {
        switch (op) {
            case Op::eq: return v == a;
            case Op::ne: return v != a;
            case Op::lt: return v < a;
            case Op::le: return v <= a;
            case Op::gt: return v > a;
            case Op::ge: return v >= a;
            case Op::between: return v > a && v < b;
        }
        return false;
    }
};

// A compiled pcre keyword. `program` is PCRE2 (always compiled: it validates the
// pattern and is the fallback); the compiler may also build a Hyperscan database
// for it (RuleSet::pcre_db).
struct PcreProgram {
    std::string pattern;  // the expression between the slashes
    uint32_t pcre2_options = 0;
    bool caseless = false, dotall = false, multiline = false, extended = false;
    bool anchored = false, dollar_endonly = false, ungreedy = false;
    uint32_t capture_count = 0;
    pcre2_real_code_8* code = nullptr;
    ~PcreProgram();
    PcreProgram() = default;
    PcreProgram(const PcreProgram&) = delete;
    PcreProgram& operator=(const PcreProgram&) = delete;
};

// One element of a buffer's match list, evaluated in order (relative elements
// continue from the end of the previous match).
enum class ElemKind : uint8_t { content, pcre, byte_test, byte_jump, byte_extract, isdataat };

constexpr uint8_t kNoVar = 0xff;  // "not a byte_extract variable"
inline constexpr size_t kMaxByteVars = 8;

struct ByteOp {  // byte_test / byte_jump / byte_extract
    uint8_t nbytes = 0;
    bool relative = false, little = false, string = false, dce = false;
    uint8_t base = 10;  // string: 8, 10 or 16
    // byte_test
    char op = '=';      // < > = & ^ (after optional '!'), also 'l' (<=) and 'g' (>=)
    bool op_negated = false;
    uint64_t value = 0;
    uint8_t value_var = kNoVar;
    // byte_jump
    uint32_t multiplier = 1;
    bool align = false, from_beginning = false, from_end = false;
    int64_t post_offset = 0;
    uint64_t bitmask = 0;  // 0: none
    // byte_extract
    uint8_t store_var = kNoVar;
    uint32_t align_to = 0;
    // all
    int64_t offset = 0;
    uint8_t offset_var = kNoVar;
};

struct PayloadElem {
    ElemKind kind = ElemKind::content;
    bool negated = false;
    bool relative = false;  // distance/within, pcre R, relative byte_* / isdataat
    // content
    std::string bytes;
    std::string lower;  // bytes lowered, for nocase
    bool nocase = false;
    bool startswith = false, endswith = false;
    bool fast_pattern = false, fast_pattern_only = false;
    bool has_fp_chop = false;
    uint32_t fp_offset = 0, fp_length = 0;
    bool has_offset = false, has_depth = false, has_distance = false, has_within = false;
    int64_t offset = 0, depth = 0, distance = 0, within = 0;
    uint8_t offset_var = kNoVar, depth_var = kNoVar, distance_var = kNoVar, within_var = kNoVar;
    // pcre
    std::shared_ptr<const PcreProgram> pcre;
    int32_t pcre_db = -1;  // set by the compiler: index of its Hyperscan database, -1: PCRE2
    // byte_test / byte_jump / byte_extract, and isdataat (uses offset/relative)
    ByteOp byte;
    uint64_t isdataat = 0;
    bool isdataat_rawbytes = false;
};

// The sticky-buffer list a match list reads: the payload (packet or stream
// bytes) or one AppTransaction buffer.
constexpr int16_t kPayloadBuffer = -1;

struct BufferMatch {
    int16_t buffer = kPayloadBuffer;  // kPayloadBuffer or an AppBuffer index
    std::vector<PayloadElem> elems;
    std::optional<NumRange> bsize;
    std::optional<NumRange> urilen;
    bool needs_backtrack = false;  // some element is relative to an earlier one
    bool dotprefix = false;        // transform: the buffer is inspected with a '.' in front
};

enum class FlowbitCmd : uint8_t { set, unset, toggle, isset, isnotset, noalert };

struct FlowbitOp {
    FlowbitCmd cmd = FlowbitCmd::set;
    bool any_of = false;             // "a|b": at least one (isset/isnotset)
    std::vector<std::string> names;  // "a&b" or "a|b" split
    std::vector<uint16_t> bits;      // filled by the compiler
};

enum class ThresholdType : uint8_t { limit, threshold, both, detection_filter };
enum class ThresholdTrack : uint8_t { by_src, by_dst, by_rule, by_both };

struct ThresholdSpec {
    ThresholdType type = ThresholdType::limit;
    ThresholdTrack track = ThresholdTrack::by_src;
    uint32_t count = 1;
    uint32_t seconds = 60;
};

struct TcpFlagsSpec {
    uint8_t flags = 0;   // bits as in the TCP header: F=0x01 S=0x02 R=0x04 P=0x08 A=0x10 U=0x20 E=0x40 C=0x80
    uint8_t ignore = 0;  // bits masked out before the test
    char mode = '=';     // '=' exactly, '+' all of and any other, '*' any of, '!' not these
    bool match(uint8_t v) const {
        v = static_cast<uint8_t>(v & ~ignore);
        switch (mode) {
            case '+': return (v & flags) == flags;
            case '*': return (v & flags) != 0;
            case '!': return (v & flags) == 0;
            default: return v == flags;
        }
    }
};

namespace flow_flag {
inline constexpr uint16_t established = 1 << 0;
inline constexpr uint16_t not_established = 1 << 1;
inline constexpr uint16_t to_server = 1 << 2;
inline constexpr uint16_t to_client = 1 << 3;
inline constexpr uint16_t only_stream = 1 << 4;
inline constexpr uint16_t no_stream = 1 << 5;
inline constexpr uint16_t stateless = 1 << 6;
}  // namespace flow_flag

struct AppKeywordUse {
    const AppKeyword* keyword = nullptr;
    std::shared_ptr<const AppKeywordMatcher> matcher;
};

struct Rule {
    // header
    RuleAction action = RuleAction::alert;
    RuleProto proto = RuleProto::ip;
    AppProto app_proto = AppProto::unknown;  // from the header (proto == app)
    bool tcp_pkt = false, tcp_stream = false;  // "tcp-pkt" / "tcp-stream" headers
    IpRangeSet src, dst;
    bool src_any = true, dst_any = true;
    PortSet src_ports, dst_ports;
    bool src_ports_any = true, dst_ports_any = true;
    bool bidirectional = false;

    // meta
    uint32_t gid = 1, sid = 0, rev = 0;
    std::string msg;
    std::string classtype;
    int16_t classtype_index = -1;  // into RuleSet::classtypes(); -1: none
    uint8_t priority = 3;          // 1 = highest; from priority: or the classtype
    bool has_priority = false;
    std::vector<std::string> references;  // "url,example.com/x"
    std::string metadata;                 // raw text of all metadata options, "; " joined
    std::string target;                   // "src_ip" / "dest_ip" / ""
    bool noalert = false;

    // non-payload tests
    uint16_t flow = 0;  // flow_flag bits
    std::optional<NumRange> dsize, ttl, itype, icode, icmp_id, icmp_seq, ip_proto, ack, seq, window, ip_id;
    std::optional<TcpFlagsSpec> tcp_flags;
    std::vector<FlowbitOp> flowbits;
    std::optional<ThresholdSpec> threshold;
    std::optional<ThresholdSpec> detection_filter;
    std::optional<AppProto> app_layer_protocol;
    bool app_layer_protocol_negated = false;

    std::vector<BufferMatch> buffers;  // payload list first when present
    bool uses_body_buffer = false;     // reads http.request_body/http.response_body/file.data
    std::vector<AppKeywordUse> app_keywords;
    std::vector<std::string> notes;    // accepted-but-ignored keywords (tag, ...)

    // derived by the parser
    InspectPoint point = InspectPoint::packet;
    bool ip_only = false;  // header + non-payload tests only: Suricata's IP-only class

    // origin
    std::string file;
    uint32_t line = 0;

    const BufferMatch* payload() const {
        for (const auto& b : buffers)
            if (b.buffer == kPayloadBuffer) return &b;
        return nullptr;
    }
    bool has_payload_keywords() const { return payload() != nullptr; }
    bool has_flowbit_checks() const {
        for (const auto& f : flowbits)
            if (f.cmd == FlowbitCmd::isset || f.cmd == FlowbitCmd::isnotset) return true;
        return false;
    }
    bool has_flowbit_sets() const {
        for (const auto& f : flowbits)
            if (f.cmd == FlowbitCmd::set || f.cmd == FlowbitCmd::unset || f.cmd == FlowbitCmd::toggle) return true;
        return false;
    }
};

}  // namespace sluice
