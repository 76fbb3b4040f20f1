#include "detectors/modbus/modbus_decoder.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

#include "dataplane/byte_reader.hpp"

namespace sluice {

namespace {

constexpr size_t kHeaderProbe = 8;  // MBAP + function code: enough to judge a header

bool is_known_function(uint8_t f) { return (f >= 1 && f <= 24) || f == 43; }

bool is_diag_reserved(uint16_t sub) { return (sub >= 5 && sub <= 9) || sub >= 0x16; }

uint8_t raw_category(uint8_t id) {
    using namespace modbus_category;
    if (id == 0) return 0;
    if (id < 9) return public_unassigned;
    if (id < 15) return reserved;
    if (id < 41) return public_unassigned;
    if (id < 43) return reserved;
    if (id < 65) return public_unassigned;
    if (id < 73) return user_defined;
    if (id < 90) return public_unassigned;
    if (id < 92) return reserved;
    if (id < 100) return public_unassigned;
    if (id < 111) return user_defined;
    if (id < 125) return public_unassigned;
    if (id < 128) return reserved;
    return 0;
}

}  // namespace

std::string_view modbus_function_suricata_name(uint8_t f) {
    static constexpr std::string_view names[] = {
        "Unknown",          "RdCoils",          "RdDiscreteInputs", "RdHoldRegs",       "RdInputRegs",
        "WrSingleCoil",     "WrSingleReg",      "RdExcStatus",      "Diagnostic",       "Program484",
        "Poll484",          "GetCommEventCtr",  "GetCommEventLog",  "ProgramController", "PollController",
        "WrMultCoils",      "WrMultRegs",       "ReportServerID",   "Program884",       "ResetCommLink",
        "RdFileRec",        "WrFileRec",        "MaskWrReg",        "RdWrMultRegs",     "RdFIFOQueue",
    };
    f &= 0x7f;
    if (f >= 1 && f <= 24) return names[f];
    if (f == 43) return "MEI";
    return "Unknown";
}

std::string_view modbus_function_name(uint8_t f) {
    static constexpr std::string_view names[] = {
        "invalid_function",        "read_coils",               "read_discrete_inputs",
        "read_holding_registers",  "read_input_registers",     "write_single_coil",
        "write_single_register",   "read_exception_status",    "diagnostics",
        "program_484",             "poll_484",                 "get_comm_event_counter",
        "get_comm_event_log",      "program_controller",       "poll_controller",
        "write_multiple_coils",    "write_multiple_registers", "report_server_id",
        "program_884",             "reset_comm_link",          "read_file_record",
        "write_file_record",       "mask_write_register",      "read_write_multiple_registers",
        "read_fifo_queue",
    };
    f &= 0x7f;
    if (f <= 24) return names[f];
    if (f == 43) return "encapsulated_interface_transport";
    switch (raw_category(f)) {
        case modbus_category::user_defined: return "user_defined_function";
        case modbus_category::reserved: return "reserved_function";
        default: return "unassigned_function";
    }
}

std::string_view modbus_exception_name(uint8_t code) {
    switch (code) {
        case 0x01: return "IllegalFunction";
        case 0x02: return "IllegalDataAddr";
        case 0x03: return "IllegalDataValue";
        case 0x04: return "ServerDeviceFail";
        case 0x05: return "Ack";
        case 0x06: return "ServerDeviceBusy";
        case 0x07: return "NegAck";
        case 0x08: return "MemParityErr";
        case 0x0a: return "GatewayPathUnavailable";
        case 0x0b: return "GatewayTargetFailToResp";
        default: return "Unknown";
    }
}

uint8_t modbus_function_access(uint8_t f) {
    using namespace modbus_access;
    switch (f & 0x7f) {
        case 1: return read | coils;
        case 2: return read | discretes;
        case 3: return read | holding;
        case 4: return read | input;
        case 5: return write | single | coils;
        case 6: return write | single | holding;
        case 15: return write | multiple | coils;
        case 16: return write | multiple | holding;
        case 22: return write | holding;
        case 23: return read | write | multiple | holding;
        default: return 0;
    }
}

uint8_t modbus_category_of(const ModbusMessage& m) {
    const uint8_t f = m.function();
    if (f == 0) return 0;
    if (!is_known_function(f)) return m.is_exception() ? 0 : raw_category(f);
    if (f == 8) {
        if (m.body != ModbusBody::diagnostic) return 0;
        return is_diag_reserved(m.subfunction) ? modbus_category::reserved : modbus_category::public_assigned;
    }
    if (f == 43) {
        if (m.body != ModbusBody::mei) return 0;
        return (m.mei_type == 0x0d || m.mei_type == 0x0e) ? modbus_category::public_assigned
                                                          : modbus_category::reserved;
    }
    return modbus_category::public_assigned;
}

OtAccess modbus_ot_access(uint8_t f, uint16_t subfunction) {
    switch (f & 0x7f) {
        case 1: case 2: case 3: case 4: case 20: case 24: return OtAccess::read;
        case 5: case 6: case 15: case 16: case 21: case 22: case 23: return OtAccess::write;
        case 8: return (subfunction == 1 || subfunction == 4) ? OtAccess::control : OtAccess::diagnostic;
        case 7: case 11: case 12: case 17: case 43: return OtAccess::diagnostic;
        case 9: case 10: case 13: case 14: case 18: return OtAccess::program;
        case 19: return OtAccess::control;
        default: return OtAccess::other;
    }
}

bool modbus_address_range(const ModbusMessage& m, uint32_t* first, uint32_t* last) {
    auto range = [&](uint16_t addr, uint16_t qty) {
        if (qty == 0) return false;
        *first = addr;
        *last = std::min<uint32_t>(uint32_t{addr} + qty - 1, 0xffff);
        return true;
    };
    switch (m.body) {
        case ModbusBody::read_request: return range(m.read_address, m.read_quantity);
        case ModbusBody::fifo_request: return range(m.read_address, 1);
        case ModbusBody::write_multiple:
        case ModbusBody::read_write: return range(m.write_address, m.write_quantity);
        case ModbusBody::write_single:
            // Multiple-write responses echo address and quantity.
            if (m.function() == 15 || m.function() == 16) return range(m.write_address, m.write_value);
            return range(m.write_address, 1);
        case ModbusBody::write_mask: return range(m.write_address, 1);
        case ModbusBody::file_record: return range(m.record_number, m.record_length ? m.record_length : 1);
        default: return false;
    }
}

size_t ModbusDecoder::pending_requests() const {
    return static_cast<size_t>(std::popcount(pending_used_));
}

size_t ModbusDecoder::frame_length(const uint8_t* h, bool strict, bool* bad_proto) const {
    const uint16_t proto = static_cast<uint16_t>((h[2] << 8) | h[3]);
    const uint16_t len = static_cast<uint16_t>((h[4] << 8) | h[5]);
    if (len < 2 || len > 254) return 0;
    *bad_proto = proto != 0;
    if (strict) {
        // After an error or a gap we accept only what looks like a real header.
        const uint8_t f = h[7] & 0x7f;
        if (*bad_proto || !is_known_function(f)) return 0;
    }
    return kMbapLen - 1 + len;
}

bool ModbusDecoder::accept_first(size_t len, bool bad_proto) {
    if (verdict_ != Verdict::probing) return verdict_ == Verdict::modbus;
    if (len != 0 && !bad_proto) {
        verdict_ = Verdict::modbus;
        return true;
    }
    verdict_ = Verdict::not_modbus;
    ctx_->counters.inc(ModbusCounter::not_modbus_flows);
    return false;
}

void ModbusDecoder::on_data(Direction dir, std::span<const uint8_t> data, AppRecordSink& sink) {
    Framer& f = framer_[index(dir)];
    auto& buf = buf_[index(dir)];
    auto& counters = ctx_->counters;
    while (!data.empty() && verdict_ != Verdict::not_modbus) {
        if (f.skip_left > 0) {
            const size_t n = std::min<size_t>(f.skip_left, data.size());
            f.skip_left -= static_cast<uint16_t>(n);
            data = data.subspan(n);
            continue;
        }
        // Fast path: a whole frame at the start of the chunk is decoded in place.
        if (f.have == 0 && !f.resync && data.size() >= kHeaderProbe) {
            bool bad_proto = false;
            const size_t len = frame_length(data.data(), false, &bad_proto);
            if (len != 0 && !bad_proto && data.size() >= len) {
                accept_first(len, bad_proto);
                decode_frame(dir, data.first(len), sink);
                data = data.subspan(len);
                continue;
            }
        }
        if (f.need == 0) {
            const size_t n = std::min(kHeaderProbe - f.have, data.size());
            std::memcpy(buf.data() + f.have, data.data(), n);
            f.have = static_cast<uint16_t>(f.have + n);
            data = data.subspan(n);
            if (f.have < kHeaderProbe) break;
            bool bad_proto = false;
            const size_t len = frame_length(buf.data(), f.resync, &bad_proto);
            if (!accept_first(len, bad_proto)) return;
            if (len == 0) {
                if (!f.resync) counters.inc(ModbusCounter::bad_length);
                f.resync = true;
                std::memmove(buf.data(), buf.data() + 1, kHeaderProbe - 1);
                f.have = kHeaderProbe - 1;
                counters.inc(ModbusCounter::resync_bytes);
                continue;
            }
            if (bad_proto) {
                // Not Modbus (or not ours), but the length is sane: skip the frame
                // and stay in step with the stream.
                counters.inc(ModbusCounter::bad_protocol_id);
                f.skip_left = static_cast<uint16_t>(len - kHeaderProbe);
                f.have = 0;
                continue;
            }
            f.resync = false;
            f.need = static_cast<uint16_t>(len);
        }
        const size_t n = std::min<size_t>(f.need - f.have, data.size());
        std::memcpy(buf.data() + f.have, data.data(), n);
        f.have = static_cast<uint16_t>(f.have + n);
        data = data.subspan(n);
        if (f.have == f.need) {
            decode_frame(dir, std::span<const uint8_t>(buf.data(), f.need), sink);
            f.have = 0;
            f.need = 0;
        }
    }
}

void ModbusDecoder::on_gap(Direction dir, uint64_t len) {
    Framer& f = framer_[index(dir)];
    if (f.skip_left > 0) {
        if (len < f.skip_left) {
            f.skip_left = static_cast<uint16_t>(f.skip_left - len);
            return;
        }
        f.skip_left = 0;
        f.resync = true;
        return;
    }
    if (f.need > 0) {
        // The frame's length is known: if the hole ends inside it, skip the
        // rest of the frame and stay in step.
        ctx_->counters.inc(ModbusCounter::gap_dropped_pdu);
        const uint64_t rest = f.need - f.have;
        f.have = 0;
        f.need = 0;
        if (len < rest) {
            f.skip_left = static_cast<uint16_t>(rest - len);
            return;
        }
        f.resync = true;
        return;
    }
    if (f.have > 0) ctx_->counters.inc(ModbusCounter::gap_dropped_pdu);
    f.have = 0;
    f.resync = true;
}

void ModbusDecoder::on_datagram(Direction dir, std::span<const uint8_t> data, AppRecordSink& sink) {
    auto& counters = ctx_->counters;
    counters.inc(ModbusCounter::datagrams);
    while (!data.empty() && verdict_ != Verdict::not_modbus) {
        if (data.size() < kHeaderProbe) {
            counters.inc(ModbusCounter::truncated_datagram);
            return;
        }
        bool bad_proto = false;
        const size_t len = frame_length(data.data(), false, &bad_proto);
        if (!accept_first(len, bad_proto)) return;
        if (len == 0) {
            counters.inc(ModbusCounter::bad_length);
            return;
        }
        if (data.size() < len) {
            counters.inc(ModbusCounter::truncated_datagram);
            return;
        }
        if (bad_proto) counters.inc(ModbusCounter::bad_protocol_id);
        else decode_frame(dir, data.first(len), sink);
        data = data.subspan(len);
    }
}

void ModbusDecoder::anomaly(ModbusMessage& m, ModbusCounter c, uint8_t flag) {
    ctx_->counters.inc(c);
    m.error_flags |= flag;
}

void ModbusDecoder::parse_request(ModbusMessage& m, std::span<const uint8_t> body) {
    ByteReader r(body);
    bool variable = false;  // the function's data runs to the end of the PDU
    switch (m.function_raw) {
        case 1: case 2: case 3: case 4: {
            m.body = ModbusBody::read_request;
            m.read_address = r.be16();
            m.read_quantity = r.be16();
            const uint16_t max = m.function_raw <= 2 ? 2000 : 125;
            if (!r.failed() && (m.read_quantity == 0 || m.read_quantity > max))
                anomaly(m, ModbusCounter::invalid_quantity, modbus_error::data_value);
            break;
        }
        case 5: case 6:
            m.body = ModbusBody::write_single;
            m.write_address = r.be16();
            m.write_value = r.be16();
            if (!r.failed() && m.function_raw == 5 && m.write_value != 0 && m.write_value != 0xff00)
                anomaly(m, ModbusCounter::invalid_value, modbus_error::data_value);
            break;
        case 7: case 11: case 12: case 17:
            m.body = ModbusBody::empty;
            break;
        case 8:
            m.body = ModbusBody::diagnostic;
            m.subfunction = r.be16();
            m.data = r.rest();
            variable = true;
            break;
        case 15: case 16: {
            m.body = ModbusBody::write_multiple;
            m.write_address = r.be16();
            m.write_quantity = r.be16();
            m.byte_count = r.u8();
            if (r.failed()) break;
            const uint16_t max = m.function_raw == 15 ? 1968 : 123;
            if (m.write_quantity == 0 || m.write_quantity > max)
                anomaly(m, ModbusCounter::invalid_quantity, modbus_error::data_value);
            const size_t expected = m.function_raw == 15 ? (size_t{m.write_quantity} + 7) / 8 : size_t{m.write_quantity} * 2;
            const auto rest = r.rest();
            m.data = rest.first(std::min<size_t>(rest.size(), m.byte_count));
            if (m.byte_count != expected || m.byte_count != rest.size())
                anomaly(m, ModbusCounter::byte_count_mismatch, modbus_error::data_length);
            variable = true;
            break;
        }
        case 20: case 21: {
            m.body = ModbusBody::file_record;
            m.byte_count = r.u8();
            if (r.failed()) break;
            const auto rest = r.rest();
            variable = true;
            m.data = rest.first(std::min<size_t>(rest.size(), m.byte_count));
            if (m.byte_count != rest.size() || m.byte_count < 7 || m.byte_count > 0xf5) {
                anomaly(m, ModbusCounter::byte_count_mismatch, modbus_error::data_length);
            }
            // Walk the sub-requests: 7 bytes each (+ the record data when writing).
            ByteReader s(m.data);
            while (s.remaining() >= 7) {
                const uint8_t ref = s.u8();
                const uint16_t file = s.be16(), rec = s.be16(), len = s.be16();
                if (m.file_subrequests == 0) {
                    m.file_number = file;
                    m.record_number = rec;
                    m.record_length = len;
                }
                if (m.file_subrequests < 0xff) ++m.file_subrequests;
                if (ref != 6) anomaly(m, ModbusCounter::invalid_value, modbus_error::data_value);
                if (m.function_raw == 21) s.skip(size_t{len} * 2);
            }
            if (s.failed() || s.remaining() != 0)
                anomaly(m, ModbusCounter::byte_count_mismatch, modbus_error::data_length);
            break;
        }
        case 22:
            m.body = ModbusBody::write_mask;
            m.write_address = r.be16();
            m.and_mask = r.be16();
            m.or_mask = r.be16();
            break;
        case 23: {
            m.body = ModbusBody::read_write;
            m.read_address = r.be16();
            m.read_quantity = r.be16();
            m.write_address = r.be16();
            m.write_quantity = r.be16();
            m.byte_count = r.u8();
            if (r.failed()) break;
            if (m.read_quantity == 0 || m.read_quantity > 125 || m.write_quantity == 0 || m.write_quantity > 121)
                anomaly(m, ModbusCounter::invalid_quantity, modbus_error::data_value);
            const auto rest = r.rest();
            m.data = rest.first(std::min<size_t>(rest.size(), m.byte_count));
            if (m.byte_count != size_t{m.write_quantity} * 2 || m.byte_count != rest.size())
                anomaly(m, ModbusCounter::byte_count_mismatch, modbus_error::data_length);
            variable = true;
            break;
        }
        case 24:
            m.body = ModbusBody::fifo_request;
            m.read_address = r.be16();
            break;
        case 43:
            m.body = ModbusBody::mei;
            m.mei_type = r.u8();
            m.data = r.rest();
            variable = true;
            break;
        default:
            m.body = ModbusBody::bytes;
            m.data = r.rest();
            variable = true;
            break;
    }
    if (r.failed()) anomaly(m, ModbusCounter::truncated_pdu, modbus_error::data_length);
    else if (!variable && r.remaining() > 0) anomaly(m, ModbusCounter::trailing_bytes, modbus_error::data_length);
}

void ModbusDecoder::parse_response(ModbusMessage& m, std::span<const uint8_t> body, const ModbusMessage* req) {
    ByteReader r(body);
    bool variable = false;
    const uint8_t f = m.function();
    if (m.is_exception()) {
        m.body = ModbusBody::exception;
        m.exception_code = r.u8();
        if (!r.failed() && modbus_exception_name(m.exception_code) == "Unknown")
            anomaly(m, ModbusCounter::invalid_exception_code, modbus_error::exc_code);
    } else {
        switch (f) {
            case 1: case 2: case 3: case 4: case 23: {
                m.body = ModbusBody::read_response;
                m.byte_count = r.u8();
                m.data = r.bytes(m.byte_count);
                if (r.failed()) break;
                if (req != nullptr && req->function() == f && req->read_quantity != 0) {
                    const size_t expected = f <= 2 ? (size_t{req->read_quantity} + 7) / 8 : size_t{req->read_quantity} * 2;
                    if (m.byte_count != expected)
                        anomaly(m, ModbusCounter::byte_count_mismatch, modbus_error::data_length);
                } else if (f > 2 && (m.byte_count & 1) != 0) {
                    anomaly(m, ModbusCounter::byte_count_mismatch, modbus_error::data_length);
                }
                break;
            }
            case 5: case 6: case 15: case 16:
                m.body = ModbusBody::write_single;
                m.write_address = r.be16();
                m.write_value = r.be16();
                if (f >= 15) m.write_quantity = m.write_value;
                if (!r.failed() && req != nullptr && req->function() == f) {
                    const uint16_t expect = f >= 15 ? req->write_quantity : req->write_value;
                    if (m.write_address != req->write_address || m.write_value != expect)
                        anomaly(m, ModbusCounter::response_mismatch, modbus_error::data_value);
                }
                break;
            case 22:
                m.body = ModbusBody::write_mask;
                m.write_address = r.be16();
                m.and_mask = r.be16();
                m.or_mask = r.be16();
                if (!r.failed() && req != nullptr && req->function() == f &&
                    (m.write_address != req->write_address || m.and_mask != req->and_mask || m.or_mask != req->or_mask))
                    anomaly(m, ModbusCounter::response_mismatch, modbus_error::data_value);
                break;
            case 8:
                m.body = ModbusBody::diagnostic;
                m.subfunction = r.be16();
                m.data = r.rest();
                variable = true;
                break;
            case 12: case 17: case 20: case 21: {
                m.body = ModbusBody::bytes;
                m.byte_count = r.u8();
                if (r.failed()) break;
                const auto rest = r.rest();
                m.data = rest.first(std::min<size_t>(rest.size(), m.byte_count));
                if (m.byte_count != rest.size())
                    anomaly(m, ModbusCounter::byte_count_mismatch, modbus_error::data_length);
                variable = true;
                break;
            }
            case 24: {
                m.body = ModbusBody::bytes;
                const uint16_t byte_count = r.be16();
                const uint16_t fifo_count = r.be16();
                if (r.failed()) break;
                m.data = r.rest();
                if (fifo_count > 31)
                    anomaly(m, ModbusCounter::invalid_quantity, modbus_error::data_value);
                if (byte_count != 2 + size_t{fifo_count} * 2 || byte_count != m.data.size() + 2)
                    anomaly(m, ModbusCounter::byte_count_mismatch, modbus_error::data_length);
                variable = true;
                break;
            }
            case 43:
                m.body = ModbusBody::mei;
                m.mei_type = r.u8();
                m.data = r.rest();
                variable = true;
                break;
            default:  // 7 (status byte), 11 (status, event count), unknown functions
                m.body = ModbusBody::bytes;
                m.data = r.rest();
                variable = true;
                break;
        }
    }
    if (r.failed()) anomaly(m, ModbusCounter::truncated_pdu, modbus_error::data_length);
    else if (!variable && r.remaining() > 0) anomaly(m, ModbusCounter::trailing_bytes, modbus_error::data_length);
}

void ModbusDecoder::decode_frame(Direction dir, std::span<const uint8_t> frame, AppRecordSink& sink) {
    auto& counters = ctx_->counters;
    // The context's record, cleared as a fresh one would be; its `request`
    // is read only when has_request, and then overwritten below.
    ModbusRecord& rec = ctx_->scratch;
    rec.tx_id = 0;
    rec.message = ModbusMessage{};
    rec.is_request = true;
    rec.has_request = false;
    rec.unanswered = false;
    ModbusMessage& m = rec.message;
    m.transaction_id = static_cast<uint16_t>((frame[0] << 8) | frame[1]);
    m.protocol_id = static_cast<uint16_t>((frame[2] << 8) | frame[3]);
    m.length = static_cast<uint16_t>((frame[4] << 8) | frame[5]);
    m.unit_id = frame[6];
    m.function_raw = frame[7];
    m.access = modbus_function_access(m.function_raw);
    const auto body = frame.subspan(kHeaderProbe);
    if (m.function() == 0) anomaly(m, ModbusCounter::bad_function_code, modbus_error::func_code);

    // The master sends requests (normally the connection's client).
    rec.is_request = dir == request_dir_;
    if (rec.is_request) {
        counters.inc(ModbusCounter::requests);
        parse_request(m, body);
        m.category = modbus_category_of(m);
        rec.tx_id = next_tx_++;
        // Remember it for the response. A transaction id reused while still
        // pending gets its own slot: servers answer in order, so responses pair
        // with the oldest request of that id.
        const size_t cap = std::clamp<size_t>(ctx_->config.max_pending_transactions, 1, ModbusConfig::kMaxPending);
        // The first free slot below cap (pending_used_ has a bit per used slot).
        const uint32_t in_cap = cap >= 32 ? ~uint32_t{0} : (uint32_t{1} << cap) - 1;
        const uint32_t free_slots = ~pending_used_ & in_cap;
        size_t at;
        if (free_slots != 0) {
            at = static_cast<size_t>(std::countr_zero(free_slots));
        } else {  // full: the oldest request will never see its response
            counters.inc(ModbusCounter::pending_evicted);
            const Pending* oldest = nullptr;
            at = 0;
            for (uint32_t bits = pending_used_ & in_cap; bits != 0; bits &= bits - 1) {
                const size_t i = static_cast<size_t>(std::countr_zero(bits));
                if (oldest == nullptr || pending_[i].seq - oldest->seq > 0x80000000u) {
                    oldest = &pending_[i];
                    at = i;
                }
            }
        }
        Pending* slot = &pending_[at];
        pending_used_ |= uint32_t{1} << at;
        slot->seq = next_seq_++;
        slot->tx_id = rec.tx_id;
        slot->request = m;
        emit(dir, rec, sink);
        return;
    }

    Pending* match = nullptr;
    size_t match_at = 0;
    for (uint32_t bits = pending_used_; bits != 0; bits &= bits - 1) {
        const size_t i = static_cast<size_t>(std::countr_zero(bits));
        Pending& p = pending_[i];
        if (p.request.transaction_id == m.transaction_id && (match == nullptr || p.seq - match->seq > 0x80000000u)) {
            match = &p;
            match_at = i;
        }
    }
    const ModbusMessage* req = nullptr;
    if (match != nullptr) {
        rec.has_request = true;
        static_cast<ModbusFields&>(rec.request) = match->request;
        rec.request.data = {};
        rec.tx_id = match->tx_id;
        req = &rec.request;
        pending_used_ &= ~(uint32_t{1} << match_at);
        if (req->function() != m.function() || req->unit_id != m.unit_id)
            anomaly(m, ModbusCounter::response_mismatch, modbus_error::data_value);
    } else {
        counters.inc(ModbusCounter::unmatched_response);
        rec.tx_id = next_tx_++;
    }
    parse_response(m, body, req);
    m.category = modbus_category_of(m);
    counters.inc(m.is_exception() ? ModbusCounter::exception_responses : ModbusCounter::responses);
    emit(dir, rec, sink);
}

void ModbusDecoder::emit(Direction dir, ModbusRecord& rec, AppRecordSink& sink) {
    const ModbusMessage& m = rec.message;
    AppRecord out;
    out.proto = AppProto::modbus;
    out.dir = dir;
    out.op.function = modbus_function_name(m.function());
    out.op.function_code = m.function();
    const ModbusMessage& addressing = rec.has_request ? rec.request : m;
    out.op.access = modbus_ot_access(m.function(), addressing.subfunction);
    out.op.is_request = rec.is_request;
    out.op.is_exception = m.is_exception();
    out.op.has_unit = true;
    out.op.unit = m.unit_id;
    out.op.has_address = modbus_address_range(addressing, &out.op.address_first, &out.op.address_last);
    out.data = &rec;
    out.write_eve = &modbus_write_eve;
    out.pack_eve = &modbus_pack_eve;
    out.write_packed_eve = &modbus_write_packed_eve;
    sink.on_record(out);
}

void ModbusDecoder::flush_unanswered(AppRecordSink& sink) {
    for (;;) {
        Pending* oldest = nullptr;
        size_t oldest_at = 0;
        for (uint32_t bits = pending_used_; bits != 0; bits &= bits - 1) {
            const size_t i = static_cast<size_t>(std::countr_zero(bits));
            if (oldest == nullptr || pending_[i].seq - oldest->seq > 0x80000000u) {
                oldest = &pending_[i];
                oldest_at = i;
            }
        }
        if (oldest == nullptr) return;
        pending_used_ &= ~(uint32_t{1} << oldest_at);
        ModbusRecord rec;
        rec.tx_id = oldest->tx_id;
        static_cast<ModbusFields&>(rec.message) = oldest->request;
        rec.is_request = true;
        rec.unanswered = true;
        emit(request_dir_, rec, sink);
    }
}

}  // namespace sluice
