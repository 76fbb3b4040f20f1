#include "detectors/applayer/dns_parser.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>

#include "dataplane/byte_reader.hpp"
#include "dataplane/json_writer.hpp"

namespace sluice {

namespace {

using Bytes = std::span<const uint8_t>;

DnsCounter counter_of(DnsError e) {
    switch (e) {
        case DnsError::truncated: return DnsCounter::message_truncated;
        case DnsError::label_invalid: return DnsCounter::label_invalid;
        case DnsError::name_too_long: return DnsCounter::name_too_long;
        case DnsError::pointer_loop: return DnsCounter::pointer_loop;
        case DnsError::pointer_out_of_bounds: return DnsCounter::pointer_out_of_bounds;
        case DnsError::too_many_questions: return DnsCounter::too_many_questions;
        case DnsError::none: break;
    }
    return DnsCounter::message_truncated;
}

void put_decimal(ScratchBuffer& s, uint32_t v) {
    char tmp[12];
    auto r = std::to_chars(tmp, tmp + sizeof tmp, v);
    s.put(std::string_view(tmp, static_cast<size_t>(r.ptr - tmp)));
}

// Renders the rdata of the types EVE shows; false when it does not fit the type.
bool render_rdata(Bytes msg, size_t off, size_t len, uint16_t type, ScratchBuffer& s, Bytes* out) {
    static constexpr char hex[] = "0123456789abcdef";
    const Bytes rd = msg.subspan(off, len);
    const size_t m = s.mark();
    switch (type) {
        case 1:  // A
            if (len != 4) return false;
            for (size_t i = 0; i < 4; ++i) {
                if (i) s.put('.');
                put_decimal(s, rd[i]);
            }
            break;
        case 28:  // AAAA, written in full as Suricata does
            if (len != 16) return false;
            for (size_t i = 0; i < 16; i += 2) {
                if (i) s.put(':');
                s.put(static_cast<uint8_t>(hex[rd[i] >> 4]));
                s.put(static_cast<uint8_t>(hex[rd[i] & 0xf]));
                s.put(static_cast<uint8_t>(hex[rd[i + 1] >> 4]));
                s.put(static_cast<uint8_t>(hex[rd[i + 1] & 0xf]));
            }
            break;
        case 2:   // NS
        case 5:   // CNAME
        case 12:  // PTR
        case 15: {  // MX: preference, exchange
            const size_t name_off = type == 15 ? off + 2 : off;
            if (type == 15 && len < 3) return false;
            Bytes name;
            size_t next = 0;
            if (decode_dns_name(msg, name_off, s, &name, &next) != DnsError::none || next > off + len) return false;
            *out = name;
            return true;
        }
        case 16: {  // TXT: the first character-string
            if (len < 1 || size_t{rd[0]} + 1 > len) return false;
            s.put(rd.subspan(1, rd[0]));
            break;
        }
        default:
            return false;
    }
    *out = s.since(m);
    return true;
}

}  // namespace

DnsError decode_dns_name(Bytes msg, size_t offset, ScratchBuffer& s, Bytes* name, size_t* next) {
    const size_t m = s.mark();
    size_t pos = offset;
    size_t after = 0;  // 0: not yet known (no pointer followed)
    unsigned jumps = 0;
    size_t length = 0;  // wire-format length so far, excluding the root byte
    bool first = true;
    while (true) {
        if (pos >= msg.size()) return DnsError::truncated;
        const uint8_t len = msg[pos];
        if (len == 0) {
            if (!after) after = pos + 1;
            break;
        }
        if ((len & 0xc0) == 0xc0) {
            if (pos + 1 >= msg.size()) return DnsError::truncated;
            const size_t target = (size_t{len & 0x3fu} << 8) | msg[pos + 1];
            if (!after) after = pos + 2;
            if (target >= msg.size()) return DnsError::pointer_out_of_bounds;
            if (++jumps > kDnsMaxPointerJumps) return DnsError::pointer_loop;
            pos = target;
            continue;
        }
        if (len & 0xc0) return DnsError::label_invalid;  // 0x40 / 0x80: reserved label types
        if (pos + 1 + len > msg.size()) return DnsError::truncated;
        length += size_t{len} + 1;
        if (length > kDnsMaxNameLength) return DnsError::name_too_long;
        if (!first) s.put('.');
        s.put(msg.subspan(pos + 1, len));
        first = false;
        pos += size_t{len} + 1;
    }
    *name = s.since(m);
    *next = after;
    return DnsError::none;
}

DnsError decode_dns_message(Bytes msg, DnsMessage& out, ScratchBuffer& s, size_t max_records,
                            CounterSet<DnsCounter>* counters) {
    ByteReader r(msg);
    out.id = r.be16();
    out.flags = r.be16();
    out.qdcount = r.be16();
    out.ancount = r.be16();
    out.nscount = r.be16();
    out.arcount = r.be16();
    out.question_count = 0;
    out.record_count = 0;
    out.records_skipped = 0;
    if (r.failed()) return DnsError::truncated;
    if (out.qdcount > kDnsMaxQuestions) return DnsError::too_many_questions;
    size_t pos = 12;
    for (size_t i = 0; i < out.qdcount; ++i) {
        DnsQuestion& q = out.questions[out.question_count];
        size_t next = 0;
        if (const DnsError e = decode_dns_name(msg, pos, s, &q.name, &next); e != DnsError::none) return e;
        if (next + 4 > msg.size()) return DnsError::truncated;
        q.type = static_cast<uint16_t>((msg[next] << 8) | msg[next + 1]);
        q.rclass = static_cast<uint16_t>((msg[next + 2] << 8) | msg[next + 3]);
        pos = next + 4;
        ++out.question_count;
    }
    max_records = std::min(max_records, kDnsMaxRecords);
    const size_t total = size_t{out.ancount} + out.nscount;
    for (size_t i = 0; i < total; ++i) {
        if (out.record_count >= max_records) {
            out.records_skipped = total - i;
            break;
        }
        DnsRecord& rec = out.records[out.record_count];
        rec.section = i < out.ancount ? DnsSection::answer : DnsSection::authority;
        size_t next = 0;
        if (const DnsError e = decode_dns_name(msg, pos, s, &rec.name, &next); e != DnsError::none) return e;
        if (next + 10 > msg.size()) return DnsError::truncated;
        ByteReader f(msg.subspan(next, 10));
        rec.type = f.be16();
        rec.rclass = f.be16();
        rec.ttl = f.be32();
        const size_t rdlen = f.be16();
        const size_t rdoff = next + 10;
        if (rdoff + rdlen > msg.size()) return DnsError::truncated;
        rec.has_rdata = false;
        rec.rdata = {};
        const bool rendered_type = rec.type == 1 || rec.type == 28 || rec.type == 2 || rec.type == 5 ||
                                   rec.type == 12 || rec.type == 15 || rec.type == 16;
        if (rendered_type) {
            rec.has_rdata = render_rdata(msg, rdoff, rdlen, rec.type, s, &rec.rdata);
            if (!rec.has_rdata && counters) counters->inc(DnsCounter::rdata_invalid);
        }
        pos = rdoff + rdlen;
        ++out.record_count;
    }
    return DnsError::none;
}

std::string_view dns_rrtype_name(uint16_t type) {
    switch (type) {
        case 1: return "A";
        case 2: return "NS";
        case 5: return "CNAME";
        case 6: return "SOA";
        case 10: return "NULL";
        case 11: return "WKS";
        case 12: return "PTR";
        case 13: return "HINFO";
        case 15: return "MX";
        case 16: return "TXT";
        case 28: return "AAAA";
        case 33: return "SRV";
        case 35: return "NAPTR";
        case 41: return "OPT";
        case 43: return "DS";
        case 46: return "RRSIG";
        case 47: return "NSEC";
        case 48: return "DNSKEY";
        case 50: return "NSEC3";
        case 52: return "TLSA";
        case 64: return "SVCB";
        case 65: return "HTTPS";
        case 99: return "SPF";
        case 249: return "TKEY";
        case 250: return "TSIG";
        case 251: return "IXFR";
        case 252: return "AXFR";
        case 255: return "ANY";
        case 257: return "CAA";
        default: return {};
    }
}

std::string_view dns_rcode_name(uint8_t rcode) {
    static constexpr std::string_view names[] = {"NOERROR", "FORMERR",  "SERVFAIL", "NXDOMAIN", "NOTIMP",  "REFUSED",
                                                 "YXDOMAIN", "YXRRSET", "NXRRSET",  "NOTAUTH",  "NOTZONE"};
    return rcode < std::size(names) ? names[rcode] : std::string_view{};
}

namespace {

void write_rrtype(JsonWriter& w, std::string_view key, uint16_t type) {
    const std::string_view n = dns_rrtype_name(type);
    if (!n.empty()) {
        w.kv(key, n);
    } else {
        char tmp[8];
        auto r = std::to_chars(tmp, tmp + sizeof tmp, type);
        w.kv(key, std::string_view(tmp, static_cast<size_t>(r.ptr - tmp)));
    }
}

}  // namespace

void write_dns_eve(JsonWriter& w, const void* ctx) {
    const auto& m = *static_cast<const DnsMessage*>(ctx);
    w.begin_object("dns");
    if (m.is_response()) {
        w.kv("version", 2);
        w.kv("type", "answer");
        w.kv("id", m.id);
        char flags[5];
        std::snprintf(flags, sizeof flags, "%04x", m.flags);
        w.kv("flags", std::string_view(flags, 4));
        w.kv("qr", true);
        if (m.flags & 0x0400) w.kv("aa", true);
        if (m.flags & 0x0200) w.kv("tc", true);
        if (m.flags & 0x0100) w.kv("rd", true);
        if (m.flags & 0x0080) w.kv("ra", true);
    } else {
        w.kv("type", "query");
        w.kv("id", m.id);
    }
    w.kv("tx_id", m.tx_id);
    w.kv("opcode", m.opcode());
    if (m.question_count) {
        w.kv_bytes("rrname", m.questions[0].name);
        write_rrtype(w, "rrtype", m.questions[0].type);
    }
    if (m.is_response()) {
        const std::string_view rc = dns_rcode_name(m.rcode());
        if (!rc.empty()) w.kv("rcode", rc);
        else w.kv("rcode", std::to_string(m.rcode()));
        for (const DnsSection sec : {DnsSection::answer, DnsSection::authority}) {
            bool open = false;
            for (size_t i = 0; i < m.record_count; ++i) {
                const DnsRecord& rec = m.records[i];
                if (rec.section != sec) continue;
                if (!open) {
                    w.begin_array(sec == DnsSection::answer ? "answers" : "authorities");
                    open = true;
                }
                w.begin_object();
                w.kv_bytes("rrname", rec.name);
                write_rrtype(w, "rrtype", rec.type);
                w.kv("ttl", rec.ttl);
                if (rec.has_rdata) w.kv_bytes("rdata", rec.rdata);
                w.end_object();
            }
            if (open) w.end_array();
        }
    }
    w.end_object();
}

DnsParser::DnsParser(AppLayerContext& ctx, AppTransactionSink& sink) : ctx_(ctx), sink_(sink) {}

void DnsParser::fail(DnsCounter reason) {
    if (state_ != ParserState::active) return;
    ctx_.counters.dns.inc(reason);
    ctx_.counters.dns.inc(DnsCounter::flows_failed);
    state_ = ParserState::failed;
}

uint64_t DnsParser::tx_for(const DnsMessage& m) {
    if (!m.is_response()) {
        const uint64_t tx = next_tx_id_++;
        query_ids_[query_next_] = m.id;
        query_tx_[query_next_] = tx;
        query_next_ = static_cast<uint8_t>((query_next_ + 1) % query_ids_.size());
        if (queries_held_ < query_ids_.size()) ++queries_held_;
        return tx;
    }
    // The most recent query with this id.
    for (size_t k = 1; k <= queries_held_; ++k) {
        const size_t i = (query_next_ + query_ids_.size() - k) % query_ids_.size();
        if (query_ids_[i] == m.id) {
            const uint64_t tx = query_tx_[i];
            query_ids_[i] = static_cast<uint16_t>(~m.id);  // answered: do not pair again
            query_tx_[i] = UINT64_MAX;
            return tx;
        }
    }
    return next_tx_id_++;
}

void DnsParser::handle_message(Direction dir, Bytes msg) {
    ScratchBuffer& s = ctx_.scratch();
    s.reset();
    DnsMessage m;
    const DnsError e = decode_dns_message(msg, m, s, ctx_.config().dns_max_records, &ctx_.counters.dns);
    if (e != DnsError::none) {
        ctx_.counters.dns.inc(counter_of(e));
        return;
    }
    if (m.records_skipped) ctx_.counters.dns.inc(DnsCounter::records_not_decoded, m.records_skipped);
    ctx_.counters.dns.inc(m.is_response() ? DnsCounter::responses : DnsCounter::queries);
    ++messages_;
    m.tx_id = tx_for(m);
    AppTransaction tx;
    tx.proto = AppProto::dns;
    tx.dir = dir;
    tx.tx_id = m.tx_id;
    if (!m.is_response() && m.question_count) tx.set(AppBuffer::dns_query, m.questions[0].name);
    tx.write_eve = &write_dns_eve;
    tx.eve_ctx = &m;
    sink_.on_transaction(tx, AppTxStage::whole);
}

void DnsParser::on_datagram(Direction dir, Bytes data) {
    if (state_ == ParserState::active) handle_message(dir, data);
}

void DnsParser::on_data(Direction dir, uint64_t, Bytes data) {
    TcpHalf& t = tcp_[index(dir)];
    while (!data.empty() && state_ == ParserState::active) {
        if (t.len_have < 2) {
            t.len_bytes[t.len_have++] = data[0];
            data = data.subspan(1);
            if (t.len_have < 2) continue;
            t.want = (uint32_t{t.len_bytes[0]} << 8) | t.len_bytes[1];
            if (t.want < 12 || t.want > ctx_.config().dns_max_tcp_message) {
                fail(DnsCounter::tcp_length_invalid);
                return;
            }
            t.buf.clear();
            continue;
        }
        const size_t need = t.want - t.buf.size();
        if (t.buf.empty() && data.size() >= need) {
            handle_message(dir, data.first(need));  // whole message in this chunk: no copy
        } else {
            const size_t n = std::min(need, data.size());
            t.buf.insert(t.buf.end(), data.begin(), data.begin() + static_cast<std::ptrdiff_t>(n));
            if (t.buf.size() < t.want) return;
            handle_message(dir, t.buf);
        }
        data = data.subspan(std::min(need, data.size()));
        t.buf.clear();
        t.len_have = 0;
    }
}

void DnsParser::on_gap(Direction, uint64_t, uint64_t) { fail(DnsCounter::tcp_gap); }

void DnsParser::on_end() {
    if (state_ == ParserState::active) state_ = ParserState::done;
}

}  // namespace sluice
