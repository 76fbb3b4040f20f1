#include "detectors/s7comm/s7comm_decoder.hpp"

#include <algorithm>
#include <cstring>

#include "dataplane/byte_reader.hpp"

namespace sluice {

namespace {

bool equals(std::span<const uint8_t> b, std::string_view s) { return as_chars(b) == s; }

// Bytes per element of a read/write var item's transport size.
uint32_t element_size(uint8_t ts) {
    switch (ts) {
        case 0x01: case 0x02: case 0x03: return 1;                          // BIT, BYTE, CHAR
        case 0x04: case 0x05: case 0x09: case 0x0c: case 0x1c: case 0x1d: return 2;  // WORD, INT, DATE, S5TIME, C, T
        case 0x06: case 0x07: case 0x08: case 0x0a: case 0x0b: return 4;  // DWORD, DINT, REAL, TOD, TIME
        case 0x0f: return 8;                                                  // DATE_AND_TIME
        default: return 1;
    }
}

// Length in bytes of a data item whose length field has transport size `ts`
// (BIT/BYTE/WORD/INTEGER lengths count bits).
uint32_t data_bytes(uint8_t ts, uint16_t len) {
    if (ts == 0x03 || ts == 0x04 || ts == 0x05) return (uint32_t{len} + 7) / 8;
    return len;
}

void parse_filename(S7commRecord& rec) {
    const auto f = rec.filename;
    if (f.size() < 9 || f[0] != '_') return;
    const std::string_view type = as_chars(f.subspan(1, 2));
    static constexpr std::pair<std::string_view, std::string_view> kTypes[] = {
        {"08", "OB"}, {"0A", "DB"}, {"0B", "SDB"}, {"0C", "FC"}, {"0D", "SFC"}, {"0E", "FB"}, {"0F", "SFB"}};
    std::string_view name = type;
    for (const auto& [code, n] : kTypes)
        if (code == type) name = n;
    uint32_t number = 0;
    for (size_t i = 3; i < 8; ++i) {
        if (f[i] < '0' || f[i] > '9') return;
        number = number * 10 + static_cast<uint32_t>(f[i] - '0');
    }
    rec.has_block = true;
    const size_t n = std::min<size_t>(name.size(), 2);
    std::memcpy(rec.block_type, name.data(), n);
    rec.block_type[n] = 0;
    if (name.size() == 3) {  // SDB, SFC, SFB: keep the 3 letters
        rec.block_type[0] = name[0];
        rec.block_type[1] = name[1];
        rec.block_type[2] = name[2];
    }
    rec.block_number = number;
    rec.filesystem = static_cast<char>(f[8]);
}

}  // namespace

bool S7commRecord::is_request() const {
    if (plus) return plus_opcode == 0x31;
    if (rosctr == s7_rosctr::job) return true;
    if (rosctr == s7_rosctr::userdata) return ud_type == 0x4;
    return false;
}

bool S7commRecord::is_exception() const {
    if (has_error && (error_class != 0 || error_code != 0)) return true;
    if (ud_has_error && ud_error != 0) return true;
    for (size_t i = 0; i < num_items; ++i)
        if (items[i].has_return_code && items[i].return_code != 0xff) return true;
    return false;
}

std::string_view s7_rosctr_name(uint8_t rosctr) {
    switch (rosctr) {
        case s7_rosctr::job: return "job";
        case s7_rosctr::ack: return "ack";
        case s7_rosctr::ack_data: return "ack_data";
        case s7_rosctr::userdata: return "userdata";
        default: return "unknown";
    }
}

std::string_view s7_function_name(uint8_t f) {
    switch (f) {
        case 0x00: return "cpu_services";
        case 0xf0: return "setup_communication";
        case 0x04: return "read_var";
        case 0x05: return "write_var";
        case 0x1a: return "request_download";
        case 0x1b: return "download_block";
        case 0x1c: return "download_ended";
        case 0x1d: return "start_upload";
        case 0x1e: return "upload";
        case 0x1f: return "end_upload";
        case 0x28: return "plc_control";
        case 0x29: return "plc_stop";
        default: return "unknown_function";
    }
}

std::string_view s7_userdata_group_name(uint8_t g) {
    switch (g) {
        case 0x0: return "mode_transition";
        case 0x1: return "programmer_commands";
        case 0x2: return "cyclic_data";
        case 0x3: return "block_functions";
        case 0x4: return "cpu_functions";
        case 0x5: return "security";
        case 0x6: return "pbc_bsend_brecv";
        case 0x7: return "time_functions";
        case 0xf: return "nc_programming";
        default: return "unknown_group";
    }
}

std::string_view s7_area_name(uint8_t area) {
    switch (area) {
        case 0x03: return "SI";
        case 0x05: return "SF";
        case 0x06: return "AI";
        case 0x07: return "AQ";
        case s7_area::counter: return "C";
        case s7_area::timer: return "T";
        case 0x1e: return "IEC_C";
        case 0x1f: return "IEC_T";
        case s7_area::peripheral: return "P";
        case s7_area::inputs: return "I";
        case s7_area::outputs: return "Q";
        case s7_area::flags: return "M";
        case s7_area::db: return "DB";
        case s7_area::di: return "DI";
        case s7_area::local: return "L";
        case 0x87: return "V";
        default: return "unknown";
    }
}

std::string_view s7_operation_name(const S7commRecord& rec) {
    if (rec.plus) return "s7comm_plus";
    if (rec.has_userdata) {
        const uint8_t g = rec.ud_group, s = rec.ud_subfunction;
        if (g == 0x3 && s == 1) return "list_blocks";
        if (g == 0x3 && s == 2) return "list_blocks_of_type";
        if (g == 0x3 && s == 3) return "get_block_info";
        if (g == 0x4 && s == 1) return "read_szl";
        if (g == 0x4 && s == 2) return "message_service";
        if (g == 0x5 && s == 1) return "plc_password";
        if (g == 0x7 && (s == 1 || s == 3)) return "read_clock";
        if (g == 0x7 && (s == 2 || s == 4)) return "set_clock";
        return s7_userdata_group_name(g);
    }
    if (rec.has_function) {
        if (rec.function == 0x28 && equals(rec.pi_service, "P_PROGRAM")) return "plc_start";
        return s7_function_name(rec.function);
    }
    if (rec.rosctr == s7_rosctr::ack) return "ack";
    return "unknown_function";
}

uint32_t s7_operation_code(const S7commRecord& rec) {
    if (rec.plus) return rec.plus_function;
    if (rec.has_userdata) return 0x10000u | (uint32_t{rec.ud_group} << 8) | rec.ud_subfunction;
    return rec.has_function ? rec.function : 0;
}

OtAccess s7_ot_access(const S7commRecord& rec) {
    if (rec.plus) return OtAccess::other;
    if (rec.has_userdata) {
        switch (rec.ud_group) {
            case 0x2: return OtAccess::read;
            case 0x0: case 0x3: case 0x4: return OtAccess::diagnostic;
            case 0x7: return (rec.ud_subfunction == 2 || rec.ud_subfunction == 4) ? OtAccess::write : OtAccess::diagnostic;
            case 0x1: case 0xf: return OtAccess::program;
            default: return OtAccess::other;
        }
    }
    if (!rec.has_function) return OtAccess::other;
    switch (rec.function) {
        case 0x04: return OtAccess::read;
        case 0x05: return OtAccess::write;
        case 0x1a: case 0x1b: case 0x1c: case 0x1d: case 0x1e: case 0x1f: return OtAccess::program;
        case 0x28: return equals(rec.pi_service, "P_PROGRAM") ? OtAccess::control : OtAccess::program;
        case 0x29: return OtAccess::control;
        default: return OtAccess::other;
    }
}

size_t S7commDecoder::frame_length(const uint8_t* h, bool strict, S7commCounter* why) {
    const uint32_t len = (uint32_t{h[2]} << 8) | h[3];
    if (h[0] != 0x03 || h[1] != 0x00 || len < 7) {
        *why = S7commCounter::bad_tpkt;
        return 0;
    }
    if (strict) {
        const uint8_t li = h[4], type = h[5] & 0xf0;
        const bool known = type == 0xf0 || type == 0xe0 || type == 0xd0 || type == 0x80 || type == 0xc0 ||
                           type == 0x10 || type == 0x20 || type == 0x50 || type == 0x60 || type == 0x70;
        if (li < 2 || uint32_t{li} + 1 > len - kTpktHeader || !known) {
            *why = S7commCounter::bad_cotp;
            return 0;
        }
    }
    return len;
}

void S7commDecoder::on_data(Direction dir, std::span<const uint8_t> data, AppRecordSink& sink) {
    Framer& f = framer_[index(dir)];
    auto& counters = ctx_->counters;
    while (!data.empty() && verdict_ != Verdict::not_s7comm) {
        if (f.skip_left > 0) {
            const size_t n = std::min<size_t>(f.skip_left, data.size());
            f.skip_left -= static_cast<uint32_t>(n);
            data = data.subspan(n);
            continue;
        }
        const bool strict = f.resync || verdict_ == Verdict::probing;
        S7commCounter why = S7commCounter::bad_tpkt;
        if (f.need == 0 && f.have == 0 && data.size() >= kProbe) {
            const size_t len = frame_length(data.data(), strict, &why);
            if (len != 0 && data.size() >= len && len <= kMaxFrame) {
                f.resync = false;
                frame(dir, data.first(len), static_cast<uint32_t>(len), sink);
                data = data.subspan(len);
                continue;
            }
        }
        if (f.need == 0 && f.have == 0 && data[0] != 0x03 && verdict_ != Verdict::probing) {
            const auto* p = static_cast<const uint8_t*>(std::memchr(data.data(), 0x03, data.size()));
            const size_t skip = p == nullptr ? data.size() : static_cast<size_t>(p - data.data());
            if (!f.resync) counters.inc(S7commCounter::bad_tpkt);
            f.resync = true;
            counters.inc(S7commCounter::resync_bytes, skip);
            data = data.subspan(skip);
            continue;
        }
        if (f.need == 0) {
            const size_t n = std::min(kProbe - f.have, data.size());
            std::memcpy(f.buf.data() + f.have, data.data(), n);
            f.have = static_cast<uint16_t>(f.have + n);
            data = data.subspan(n);
            if (f.have < kProbe) continue;
            const size_t len = frame_length(f.buf.data(), strict, &why);
            if (len == 0) {
                if (verdict_ == Verdict::probing) {
                    verdict_ = Verdict::not_s7comm;
                    counters.inc(S7commCounter::not_s7comm_flows);
                    return;
                }
                if (!f.resync) counters.inc(why);
                f.resync = true;
                size_t drop = 1;
                while (drop < f.have && f.buf[drop] != 0x03) ++drop;
                std::memmove(f.buf.data(), f.buf.data() + drop, f.have - drop);
                f.have = static_cast<uint16_t>(f.have - drop);
                counters.inc(S7commCounter::resync_bytes, drop);
                continue;
            }
            f.resync = false;
            f.need = static_cast<uint32_t>(len);
            f.seen = f.have;
        }
        const size_t n = std::min<size_t>(f.need - f.seen, data.size());
        const size_t store = std::min<size_t>(n, kMaxFrame - f.have);
        std::memcpy(f.buf.data() + f.have, data.data(), store);
        f.have = static_cast<uint16_t>(f.have + store);
        f.seen += static_cast<uint32_t>(n);
        data = data.subspan(n);
        if (f.seen == f.need) {
            frame(dir, std::span<const uint8_t>(f.buf.data(), f.have), f.need, sink);
            f.have = 0;
            f.need = 0;
            f.seen = 0;
        }
    }
}

void S7commDecoder::on_gap(Direction dir, uint64_t len) {
    Framer& f = framer_[index(dir)];
    Segments& s = segments_[index(dir)];
    if (f.have > 0 || s.open) ctx_->counters.inc(S7commCounter::gap_dropped_frame);
    s.open = false;
    s.len = 0;
    if (f.skip_left > 0) {
        if (len < f.skip_left) {
            f.skip_left -= static_cast<uint32_t>(len);
            return;
        }
        f.skip_left = 0;
    } else if (f.need > 0 && len < uint64_t{f.need} - f.seen) {
        f.skip_left = static_cast<uint32_t>(f.need - f.seen - len);
        f.have = 0;
        f.need = f.seen = 0;
        return;
    }
    f.have = 0;
    f.need = f.seen = 0;
    f.resync = true;
}

void S7commDecoder::frame(Direction dir, std::span<const uint8_t> fr, uint32_t tpkt_length, AppRecordSink& sink) {
    auto& counters = ctx_->counters;
    const bool truncated = fr.size() < tpkt_length;
    if (truncated) counters.inc(S7commCounter::oversize_frame);
    const auto cotp = fr.subspan(kTpktHeader);
    const uint8_t li = cotp[0];
    const uint8_t type = cotp[1];
    if (li < 2 || size_t{li} + 1 > cotp.size()) {
        counters.inc(S7commCounter::bad_cotp);
        return;
    }
    const uint8_t kind = type & 0xf0;
    if (kind == 0xe0 || kind == 0xd0) {  // connection request / confirm
        counters.inc(S7commCounter::cotp_connects);
        ByteReader r(cotp.subspan(2, li - 1));
        r.skip(5);  // destination and source references, class
        while (r.remaining() >= 2) {
            const uint8_t code = r.u8();
            const uint8_t plen = r.u8();
            const auto v = r.bytes(plen);
            if (r.failed()) break;
            if (plen == 2 && code == 0xc1) src_tsap_ = static_cast<uint16_t>((v[0] << 8) | v[1]);
            if (plen == 2 && code == 0xc2) dst_tsap_ = static_cast<uint16_t>((v[0] << 8) | v[1]);
        }
        return;
    }
    if (type != 0xf0 || li != 2) {
        counters.inc(kind == 0xf0 ? S7commCounter::bad_cotp : S7commCounter::cotp_other);
        return;
    }
    const bool eot = (cotp[2] & 0x80) != 0;
    const auto payload = cotp.subspan(3);
    Segments& s = segments_[index(dir)];
    const size_t cap = std::clamp<size_t>(ctx_->config.max_pdu_size, 240, S7commConfig::kMaxPdu);
    if (!eot || s.open) {
        if (!s.open) {
            s.open = true;
            s.len = 0;
            s.overflow = false;
        }
        if (truncated || s.len + payload.size() > cap) {
            s.overflow = true;
        } else {
            std::memcpy(s.buf.data() + s.len, payload.data(), payload.size());
            s.len = static_cast<uint16_t>(s.len + payload.size());
        }
        if (!eot) return;
        s.open = false;
        if (s.overflow) {
            counters.inc(S7commCounter::pdu_too_long);
            return;
        }
        pdu(dir, std::span<const uint8_t>(s.buf.data(), s.len), static_cast<uint16_t>(tpkt_length), sink);
        return;
    }
    pdu(dir, payload, static_cast<uint16_t>(tpkt_length), sink);
}

void S7commDecoder::pdu(Direction dir, std::span<const uint8_t> p, uint16_t tpkt_length, AppRecordSink& sink) {
    auto& counters = ctx_->counters;
    if (p.empty()) return;
    if (verdict_ == Verdict::probing) {
        if (p[0] != 0x32 && p[0] != 0x72) {  // ISO data, but not S7 (MMS, ICCP, ...)
            verdict_ = Verdict::not_s7comm;
            counters.inc(S7commCounter::not_s7comm_flows);
            return;
        }
        verdict_ = Verdict::s7comm;
    }
    S7commRecord rec;
    rec.tpkt_length = tpkt_length;
    rec.src_tsap = src_tsap_;
    rec.dst_tsap = dst_tsap_;
    ByteReader r(p);
    if (p[0] == 0x72) {
        counters.inc(S7commCounter::s7comm_plus_pdus);
        rec.plus = true;
        r.skip(1);
        rec.plus_version = r.u8();
        r.skip(2);  // data length
        rec.plus_opcode = r.u8();
        if (rec.plus_opcode == 0x31 || rec.plus_opcode == 0x32) {
            r.skip(2);
            rec.plus_function = r.be16();
        }
        emit(dir, rec, sink);
        return;
    }
    if (p[0] != 0x32) {
        counters.inc(S7commCounter::bad_protocol_id);
        return;
    }
    r.skip(1);
    rec.rosctr = r.u8();
    r.skip(2);  // redundancy identification
    rec.pdu_ref = r.be16();
    rec.param_length = r.be16();
    rec.data_length = r.be16();
    if (rec.rosctr == s7_rosctr::ack || rec.rosctr == s7_rosctr::ack_data) {
        rec.has_error = true;
        rec.error_class = r.u8();
        rec.error_code = r.u8();
    }
    if (r.failed()) {
        counters.inc(S7commCounter::length_mismatch);
        return;
    }
    if (rec.rosctr != s7_rosctr::job && rec.rosctr != s7_rosctr::ack && rec.rosctr != s7_rosctr::ack_data &&
        rec.rosctr != s7_rosctr::userdata) {
        counters.inc(S7commCounter::bad_rosctr);
        return;
    }
    counters.inc(S7commCounter::pdus);
    const size_t hdr = r.pos();
    if (hdr + rec.param_length + rec.data_length != p.size()) {
        counters.inc(S7commCounter::length_mismatch);
        rec.lengths_ok = false;
    }
    const auto rest = p.subspan(hdr);
    const auto param = rest.first(std::min<size_t>(rest.size(), rec.param_length));
    const auto data = rest.subspan(param.size()).first(std::min<size_t>(rest.size() - param.size(), rec.data_length));

    bool items_dropped = false;
    auto keep_item = [&](const S7Item& it) {
        if (rec.num_items < S7commRecord::kMaxItems) {
            rec.items[rec.num_items++] = it;
        } else if (!items_dropped) {
            items_dropped = true;
            counters.inc(S7commCounter::items_truncated);
        }
    };
    // Item specs of a read/write var job.
    auto parse_specs = [&](ByteReader& pr) {
        for (unsigned i = 0; i < rec.item_count && !pr.failed(); ++i) {
            S7Item it;
            const uint8_t spec = pr.u8();
            const uint8_t len = pr.u8();
            it.syntax_id = pr.u8();
            if (pr.failed() || spec != 0x12 || len < 1) {
                counters.inc(S7commCounter::item_mismatch);
                return false;
            }
            if (it.syntax_id == 0x10 && len == 10) {
                it.transport_size = pr.u8();
                it.length = pr.be16();
                it.db = pr.be16();
                it.area = pr.u8();
                const uint32_t addr = pr.be24();
                it.has_address = true;
                if (it.area == s7_area::counter || it.area == s7_area::timer) {
                    it.byte_address = addr;
                } else {
                    it.byte_address = addr >> 3;
                    it.bit = addr & 7;
                }
            } else {
                pr.skip(len - 1u);
            }
            if (pr.failed()) break;
            keep_item(it);
        }
        if (pr.failed() || pr.remaining() != 0) {
            counters.inc(S7commCounter::item_mismatch);
            return false;
        }
        return true;
    };
    // Data items (write var job, read var ack_data): return code, size, data.
    auto parse_data_items = [&](bool store_codes) {
        ByteReader dr(data);
        for (unsigned i = 0; i < rec.item_count; ++i) {
            const uint8_t rc = dr.u8();
            const uint8_t ts = dr.u8();
            const uint16_t len = dr.be16();
            if (dr.failed()) break;
            const uint32_t n = data_bytes(ts, len);
            dr.skip(n);
            if ((n & 1) != 0 && i + 1 < rec.item_count) dr.skip(1);  // fill byte
            if (dr.failed()) break;
            if (store_codes) {
                if (i < rec.num_items) {
                    rec.items[i].return_code = rc;
                    rec.items[i].has_return_code = true;
                } else {
                    S7Item it;
                    it.return_code = rc;
                    it.has_return_code = true;
                    it.transport_size = ts;
                    it.length = len;
                    keep_item(it);
                }
            }
        }
        if (dr.failed() || dr.remaining() != 0) counters.inc(S7commCounter::item_mismatch);
    };

    if (rec.rosctr == s7_rosctr::userdata) {
        ByteReader pr(param);
        pr.skip(3);  // 00 01 12
        const uint8_t plen = pr.u8();
        rec.ud_method = pr.u8();
        const uint8_t tg = pr.u8();
        rec.ud_subfunction = pr.u8();
        rec.ud_sequence = pr.u8();
        if (plen == 8) {
            pr.skip(2);  // data unit reference, last data unit
            rec.ud_error = pr.be16();
            rec.ud_has_error = true;
        }
        if (pr.failed()) {
            counters.inc(S7commCounter::truncated_parameter);
        } else {
            rec.has_userdata = true;
            rec.ud_type = tg >> 4;
            rec.ud_group = tg & 0x0f;
            if (!data.empty()) rec.ud_return_code = data[0];
        }
    } else if ((rec.rosctr == s7_rosctr::job || rec.rosctr == s7_rosctr::ack_data) && !param.empty()) {
        ByteReader pr(param);
        rec.has_function = true;
        rec.function = pr.u8();
        const bool job = rec.rosctr == s7_rosctr::job;
        switch (rec.function) {
            case 0xf0:
                pr.skip(1);
                rec.max_amq_calling = pr.be16();
                rec.max_amq_called = pr.be16();
                rec.pdu_size = pr.be16();
                break;
            case 0x04:
            case 0x05:
                rec.item_count = pr.u8();
                if (pr.failed()) break;
                if (job) {
                    parse_specs(pr);
                    if (rec.function == 0x05) parse_data_items(false);
                } else if (rec.function == 0x04) {
                    parse_data_items(true);
                } else {  // write var ack_data: one return code per item
                    if (data.size() != rec.item_count) counters.inc(S7commCounter::item_mismatch);
                    for (size_t i = 0; i < data.size() && i < rec.item_count; ++i) {
                        S7Item it;
                        it.return_code = data[i];
                        it.has_return_code = true;
                        keep_item(it);
                    }
                }
                break;
            case 0x1a: case 0x1b: case 0x1c: case 0x1d: case 0x1e: case 0x1f: {
                // Jobs: function status, 2 bytes (error code in end upload), then
                // 4 bytes (the upload id from start upload on) and the block's
                // file name for the download functions and start upload. The
                // start upload ack_data carries the upload id the same way.
                if (!job && rec.function != 0x1d) break;
                pr.skip(3);
                const uint32_t id = pr.be32();
                if (rec.function >= 0x1d && !pr.failed()) {
                    rec.has_upload_id = true;
                    rec.upload_id = id;
                }
                if (job && rec.function <= 0x1d) {
                    const uint8_t n = pr.u8();
                    rec.filename = pr.bytes(n);
                    if (!pr.failed()) parse_filename(rec);
                }
                break;
            }
            case 0x28:
                if (job) {
                    pr.skip(7);
                    const uint16_t n = pr.be16();
                    rec.pi_parameter = pr.bytes(n);
                    const uint8_t sn = pr.u8();
                    rec.pi_service = pr.bytes(sn);
                    if (equals(rec.pi_service, "P_PROGRAM"))
                        rec.cold_restart = std::find(rec.pi_parameter.begin(), rec.pi_parameter.end(), 'C') != rec.pi_parameter.end();
                }
                break;
            case 0x29:
                if (job) {
                    pr.skip(5);
                    const uint8_t sn = pr.u8();
                    rec.pi_service = pr.bytes(sn);
                }
                break;
            default:
                break;
        }
        if (pr.failed()) counters.inc(S7commCounter::truncated_parameter);
    }
    emit(dir, rec, sink);
}

void S7commDecoder::emit(Direction dir, S7commRecord& rec, AppRecordSink& sink) {
    AppRecord out;
    out.proto = AppProto::s7comm;
    out.dir = dir;
    out.op.function = s7_operation_name(rec);
    out.op.function_code = s7_operation_code(rec);
    out.op.access = s7_ot_access(rec);
    out.op.is_request = rec.is_request();
    out.op.is_exception = rec.is_exception();
    out.data = &rec;
    out.write_eve = &s7comm_write_eve;
    const bool per_item = rec.rosctr == s7_rosctr::job && rec.has_function &&
                          (rec.function == 0x04 || rec.function == 0x05) && rec.num_items > 0;
    if (!per_item) {
        sink.on_record(out);
        return;
    }
    for (size_t i = 0; i < rec.num_items; ++i) {
        const S7Item& it = rec.items[i];
        rec.item_index = static_cast<int>(i);
        out.op.has_unit = it.has_address;
        out.op.has_address = it.has_address;
        if (it.has_address) {
            // unit: area << 16 | DB number (DB and instance DB areas only).
            const bool db = it.area == s7_area::db || it.area == s7_area::di;
            out.op.unit = (uint32_t{it.area} << 16) | (db ? it.db : 0u);
            const uint32_t size = (it.area == s7_area::counter || it.area == s7_area::timer)
                                      ? 1u
                                      : element_size(it.transport_size);
            const uint32_t span = std::max<uint32_t>(1, uint32_t{it.length} * size);
            out.op.address_first = it.byte_address;
            out.op.address_last = it.byte_address + span - 1;
        }
        sink.on_record(out);
    }
}

}  // namespace sluice
