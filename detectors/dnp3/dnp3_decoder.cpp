#include "detectors/dnp3/dnp3_decoder.hpp"

#include <algorithm>
#include <cstring>

#include "dataplane/byte_reader.hpp"

namespace sluice {

namespace {

constexpr std::array<uint16_t, 256> make_crc_table() {
    std::array<uint16_t, 256> t{};
    for (unsigned i = 0; i < 256; ++i) {
        uint16_t c = static_cast<uint16_t>(i);
        for (int k = 0; k < 8; ++k) c = (c & 1) ? static_cast<uint16_t>((c >> 1) ^ 0xA6BC) : static_cast<uint16_t>(c >> 1);
        t[i] = c;
    }
    return t;
}
constexpr std::array<uint16_t, 256> kCrcTable = make_crc_table();

uint16_t le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

// How the data of one object of group/variation is laid out.
struct ObjectSize {
    enum Kind : uint8_t { unknown, none, fixed, packed, by_variation } kind = unknown;
    uint8_t value = 0;  // bytes (fixed) or bits (packed)
};

ObjectSize object_size(uint8_t g, uint8_t v) {
    auto fixed = [](uint8_t n) { return ObjectSize{ObjectSize::fixed, n}; };
    auto packed = [](uint8_t bits) { return ObjectSize{ObjectSize::packed, bits}; };
    auto pick = [&](std::initializer_list<uint8_t> sizes) {
        if (v == 0 || v > sizes.size()) return ObjectSize{};
        const uint8_t n = *(sizes.begin() + (v - 1));
        return n == 0 ? ObjectSize{} : fixed(n);
    };
    switch (g) {
        case 1: return v == 1 ? packed(1) : v == 2 ? fixed(1) : ObjectSize{};
        case 2: return pick({1, 7, 3});
        case 3: return v == 1 ? packed(2) : v == 2 ? fixed(1) : ObjectSize{};
        case 4: return pick({1, 7, 3});
        case 10: return v == 1 ? packed(1) : v == 2 ? fixed(1) : ObjectSize{};
        case 11: return pick({1, 7});
        case 12: return v == 3 ? packed(1) : pick({11, 11});
        case 13: return pick({1, 7});
        case 20: return pick({5, 3, 5, 3, 4, 2, 4, 2});
        case 21: return pick({5, 3, 5, 3, 11, 9, 11, 9, 4, 2, 4, 2});
        case 22: return pick({5, 3, 5, 3, 11, 9, 11, 9});
        case 23: return pick({5, 3, 5, 3, 11, 9, 11, 9});
        case 30: return pick({5, 3, 4, 2, 5, 9});
        case 31: return pick({5, 3, 11, 9, 4, 2, 5, 9});
        case 32: return pick({5, 3, 11, 9, 5, 9, 11, 15});
        case 33: return pick({5, 3, 11, 9, 5, 9, 11, 15});
        case 34: return pick({2, 4, 4});
        case 40: return pick({5, 3, 5, 9});
        case 41: return pick({5, 3, 5, 9});
        case 42: return pick({5, 3, 11, 9, 5, 9, 11, 15});
        case 43: return pick({5, 3, 11, 9, 5, 9, 11, 15});
        case 50: return pick({6, 10, 6, 11});
        case 51: return pick({6, 6});
        case 52: return pick({2, 2});
        case 60: return ObjectSize{ObjectSize::none, 0};
        case 80: return v == 1 ? packed(1) : ObjectSize{};
        case 110: case 111: case 112: case 113: return ObjectSize{ObjectSize::by_variation, v};
        default: return ObjectSize{};
    }
}

// Functions whose request objects carry no data (only which points are meant).
bool request_without_data(uint8_t fc) {
    switch (fc) {
        case 1: case 7: case 8: case 9: case 10: case 20: case 21: case 22: return true;
        case 11: case 12: return true;  // except the g50 time object, handled below
        default: return false;
    }
}

}  // namespace

uint16_t dnp3_crc(std::span<const uint8_t> data) {
    uint16_t crc = 0;
    for (uint8_t b : data) crc = static_cast<uint16_t>((crc >> 8) ^ kCrcTable[(crc ^ b) & 0xff]);
    return static_cast<uint16_t>(~crc);
}

std::string_view dnp3_iin_name(uint16_t bit) {
    switch (bit) {
        case dnp3_iin::all_stations: return "all_stations";
        case dnp3_iin::class_1_events: return "class_1_events";
        case dnp3_iin::class_2_events: return "class_2_events";
        case dnp3_iin::class_3_events: return "class_3_events";
        case dnp3_iin::need_time: return "need_time";
        case dnp3_iin::local_control: return "local_control";
        case dnp3_iin::device_trouble: return "device_trouble";
        case dnp3_iin::device_restart: return "device_restart";
        case dnp3_iin::no_func_code_support: return "no_func_code_support";
        case dnp3_iin::object_unknown: return "object_unknown";
        case dnp3_iin::parameter_error: return "parameter_error";
        case dnp3_iin::event_buffer_overflow: return "event_buffer_overflow";
        case dnp3_iin::already_executing: return "already_executing";
        case dnp3_iin::config_corrupt: return "config_corrupt";
        case dnp3_iin::reserved_2: return "reserved_2";
        case dnp3_iin::reserved_1: return "reserved_1";
        default: return "";
    }
}

std::string_view dnp3_function_name(uint8_t fc) {
    static constexpr std::string_view names[] = {
        "confirm",           "read",          "write",              "select",           "operate",
        "direct_operate",    "direct_operate_nr", "immed_freeze",   "immed_freeze_nr",  "freeze_clear",
        "freeze_clear_nr",   "freeze_at_time", "freeze_at_time_nr", "cold_restart",     "warm_restart",
        "initialize_data",   "initialize_appl", "start_appl",       "stop_appl",        "save_config",
        "enable_unsolicited", "disable_unsolicited", "assign_class", "delay_measure",   "record_current_time",
        "open_file",         "close_file",    "delete_file",        "get_file_info",    "authenticate_file",
        "abort_file",        "activate_config", "authenticate_req", "authenticate_err",
    };
    if (fc < std::size(names)) return names[fc];
    switch (fc) {
        case 129: return "response";
        case 130: return "unsolicited_response";
        case 131: return "authenticate_resp";
        default: return "unknown";
    }
}

OtAccess dnp3_ot_access(uint8_t fc) {
    if (fc == 1 || fc == 129 || fc == 130) return OtAccess::read;
    if (fc == 2 || fc == 20 || fc == 21 || fc == 22) return OtAccess::write;
    if (fc >= 3 && fc <= 18) return OtAccess::control;
    if (fc == 19 || (fc >= 25 && fc <= 31)) return OtAccess::program;
    if (fc == 23 || fc == 24) return OtAccess::diagnostic;
    return OtAccess::other;
}

std::string_view Dnp3Record::type() const {
    if (function == 129) return "response";
    if (function == 130) return "unsolicited_response";
    if (function == 131) return "authenticate_response";
    return "request";
}

size_t Dnp3Decoder::frame_length(const uint8_t* h, Dnp3Counter* why) {
    if (h[0] != 0x05 || h[1] != 0x64) {
        *why = Dnp3Counter::bad_start;
        return 0;
    }
    if (h[2] < 5) {
        *why = Dnp3Counter::bad_length;
        return 0;
    }
    if (dnp3_crc(std::span<const uint8_t>(h, 8)) != le16(h + 8)) {
        *why = Dnp3Counter::bad_header_crc;
        return 0;
    }
    const size_t ud = h[2] - 5u;
    return kHeaderLen + ud + 2 * ((ud + 15) / 16);
}

bool Dnp3Decoder::accept_first(bool valid) {
    if (verdict_ != Verdict::probing) return verdict_ == Verdict::dnp3;
    if (valid) {
        verdict_ = Verdict::dnp3;
        return true;
    }
    verdict_ = Verdict::not_dnp3;
    ctx_->counters.inc(Dnp3Counter::not_dnp3_flows);
    return false;
}

void Dnp3Decoder::on_data(Direction dir, std::span<const uint8_t> data, AppRecordSink& sink) {
    Framer& f = framer_[index(dir)];
    auto& counters = ctx_->counters;
    while (!data.empty() && verdict_ != Verdict::not_dnp3) {
        if (f.skip_left > 0) {
            const size_t n = std::min<size_t>(f.skip_left, data.size());
            f.skip_left = static_cast<uint16_t>(f.skip_left - n);
            data = data.subspan(n);
            continue;
        }
        Dnp3Counter why = Dnp3Counter::bad_start;
        if (f.have == 0 && data.size() >= kHeaderLen) {
            const size_t len = frame_length(data.data(), &why);
            if (len != 0 && data.size() >= len) {
                accept_first(true);
                f.resync = false;
                process_frame(dir, data.first(len), sink);
                data = data.subspan(len);
                continue;
            }
        }
        if (f.have == 0 && data[0] != 0x05 && verdict_ == Verdict::dnp3) {
            // Hunt for the next start byte without copying.
            const auto* p = static_cast<const uint8_t*>(std::memchr(data.data(), 0x05, data.size()));
            const size_t skip = p == nullptr ? data.size() : static_cast<size_t>(p - data.data());
            if (!f.resync) counters.inc(Dnp3Counter::bad_start);
            f.resync = true;
            counters.inc(Dnp3Counter::resync_bytes, skip);
            data = data.subspan(skip);
            continue;
        }
        if (f.need == 0) {
            const size_t n = std::min(kHeaderLen - f.have, data.size());
            std::memcpy(f.buf.data() + f.have, data.data(), n);
            f.have = static_cast<uint16_t>(f.have + n);
            data = data.subspan(n);
            if (f.have < kHeaderLen) continue;
            const size_t len = frame_length(f.buf.data(), &why);
            if (!accept_first(len != 0)) return;
            if (len == 0) {
                if (!f.resync) counters.inc(why);
                f.resync = true;
                // Drop bytes up to the next candidate start byte inside the buffer.
                size_t drop = 1;
                while (drop < f.have && f.buf[drop] != 0x05) ++drop;
                std::memmove(f.buf.data(), f.buf.data() + drop, f.have - drop);
                f.have = static_cast<uint16_t>(f.have - drop);
                counters.inc(Dnp3Counter::resync_bytes, drop);
                continue;
            }
            f.resync = false;
            f.need = static_cast<uint16_t>(len);
        }
        const size_t n = std::min<size_t>(f.need - f.have, data.size());
        std::memcpy(f.buf.data() + f.have, data.data(), n);
        f.have = static_cast<uint16_t>(f.have + n);
        data = data.subspan(n);
        if (f.have == f.need) {
            process_frame(dir, std::span<const uint8_t>(f.buf.data(), f.need), sink);
            f.have = 0;
            f.need = 0;
        }
    }
}

void Dnp3Decoder::on_gap(Direction dir, uint64_t len) {
    Framer& f = framer_[index(dir)];
    Transport& t = transport_[index(dir)];
    if (f.have > 0 || t.open) ctx_->counters.inc(Dnp3Counter::gap_dropped_frame);
    t.open = false;  // the fragment lost a segment
    if (f.skip_left > 0) {
        if (len < f.skip_left) {
            f.skip_left = static_cast<uint16_t>(f.skip_left - len);
            return;
        }
        f.skip_left = 0;
    } else if (f.need > 0 && len < uint64_t{f.need} - f.have) {
        f.skip_left = static_cast<uint16_t>(f.need - f.have - len);  // still in step
        f.have = f.need = 0;
        return;
    }
    f.have = f.need = 0;
    f.resync = true;
}

void Dnp3Decoder::on_datagram(Direction dir, std::span<const uint8_t> data, AppRecordSink& sink) {
    auto& counters = ctx_->counters;
    counters.inc(Dnp3Counter::datagrams);
    while (!data.empty() && verdict_ != Verdict::not_dnp3) {
        Dnp3Counter why = Dnp3Counter::truncated_datagram;
        const size_t len = data.size() >= kHeaderLen ? frame_length(data.data(), &why) : 0;
        if (!accept_first(len != 0)) return;
        if (len == 0) {
            counters.inc(why);
            return;
        }
        if (data.size() < len) {
            counters.inc(Dnp3Counter::truncated_datagram);
            return;
        }
        process_frame(dir, data.first(len), sink);
        data = data.subspan(len);
    }
}

void Dnp3Decoder::process_frame(Direction dir, std::span<const uint8_t> frame, AppRecordSink& sink) {
    auto& counters = ctx_->counters;
    const uint8_t control = frame[3];
    const uint16_t dst = le16(&frame[4]);
    const uint16_t src = le16(&frame[6]);
    std::array<uint8_t, 250> ud{};
    size_t ud_len = 0;
    auto blocks = frame.subspan(kHeaderLen);
    while (!blocks.empty()) {
        const size_t n = std::min<size_t>(16, blocks.size() - 2);
        const auto block = blocks.first(n);
        if (dnp3_crc(block) != le16(&blocks[n])) {
            counters.inc(Dnp3Counter::bad_data_crc);
            return;
        }
        std::memcpy(ud.data() + ud_len, block.data(), n);
        ud_len += n;
        blocks = blocks.subspan(n + 2);
    }
    counters.inc(Dnp3Counter::link_frames);
    // Only primary frames with user data (confirmed/unconfirmed user data) carry transport segments.
    const uint8_t link_function = control & 0x0f;
    if ((control & 0x40) == 0 || (link_function != 3 && link_function != 4) || ud_len == 0) {
        counters.inc(Dnp3Counter::link_only_frames);
        return;
    }
    transport(dir, control, src, dst, std::span<const uint8_t>(ud.data(), ud_len), sink);
}

void Dnp3Decoder::transport(Direction dir, uint8_t link_control, uint16_t src, uint16_t dst,
                            std::span<const uint8_t> ud, AppRecordSink& sink) {
    auto& counters = ctx_->counters;
    Transport& t = transport_[index(dir)];
    const uint8_t th = ud[0];
    const bool fin = (th & 0x80) != 0;
    const bool fir = (th & 0x40) != 0;
    const uint8_t seq = th & 0x3f;
    const auto payload = ud.subspan(1);
    if (fir) {
        if (t.open) counters.inc(Dnp3Counter::fragment_abandoned);
        t.open = false;
        if (fin) {  // the usual case: a whole fragment in one segment, no copy
            application(dir, link_control, src, dst, payload, sink);
            return;
        }
        t.open = true;
        t.len = 0;
        t.link_control = link_control;
        t.src = src;
        t.dst = dst;
    } else {
        if (!t.open) {
            counters.inc(Dnp3Counter::transport_no_first);
            return;
        }
        if (seq != t.next_seq || src != t.src || dst != t.dst) {
            counters.inc(Dnp3Counter::transport_sequence);
            t.open = false;
            return;
        }
    }
    t.next_seq = static_cast<uint8_t>((seq + 1) & 0x3f);
    const size_t cap = std::clamp<size_t>(ctx_->config.max_fragment_size, 249, Dnp3Config::kMaxFragment);
    if (t.len + payload.size() > cap) {
        counters.inc(Dnp3Counter::fragment_too_long);
        t.open = false;
        return;
    }
    std::memcpy(t.buf.data() + t.len, payload.data(), payload.size());
    t.len = static_cast<uint16_t>(t.len + payload.size());
    if (fin) {
        t.open = false;
        application(dir, t.link_control, t.src, t.dst, std::span<const uint8_t>(t.buf.data(), t.len), sink);
    }
}

namespace {

// Parses the object headers of a fragment into `rec`; counts what stops it.
void parse_objects(uint8_t fc, ByteReader& r, Dnp3Record& rec, CounterSet<Dnp3Counter>& counters) {
    const bool response = fc >= 0x81;
    while (r.remaining() > 0) {
        Dnp3Object o;
        o.group = r.u8();
        o.variation = r.u8();
        o.qualifier = r.u8();
        if (r.failed()) {
            counters.inc(Dnp3Counter::bad_object_header);
            rec.complete = false;
            return;
        }
        o.prefix_code = (o.qualifier >> 4) & 0x07;
        o.range_code = o.qualifier & 0x0f;
        if ((o.qualifier & 0x80) != 0 || o.prefix_code == 7) {
            counters.inc(Dnp3Counter::bad_object_header);
            rec.complete = false;
            return;
        }
        uint64_t count = 0;
        switch (o.range_code) {
            case 0: case 3: o.start = r.u8(); o.stop = r.u8(); o.has_range = true; break;
            case 1: case 4: o.start = r.le16(); o.stop = r.le16(); o.has_range = true; break;
            case 2: case 5: o.start = r.le32(); o.stop = r.le32(); o.has_range = true; break;
            case 6: break;
            case 7: case 0x0b: count = r.u8(); break;
            case 8: count = r.le16(); break;
            case 9: count = r.le32(); break;
            default:
                counters.inc(Dnp3Counter::bad_object_header);
                rec.complete = false;
                return;
        }
        if (r.failed()) {
            counters.inc(Dnp3Counter::bad_object_header);
            rec.complete = false;
            return;
        }
        if (o.has_range) {
            if (o.stop < o.start) {
                counters.inc(Dnp3Counter::bad_range);
                rec.complete = false;
                return;
            }
            count = uint64_t{o.stop} - o.start + 1;
        }
        o.count = static_cast<uint32_t>(count);
        ++rec.total_objects;
        Dnp3Object* kept = nullptr;
        if (rec.num_objects < Dnp3Record::kMaxObjects) {
            kept = &rec.objects[rec.num_objects++];
        } else if (rec.total_objects == Dnp3Record::kMaxObjects + 1) {
            counters.inc(Dnp3Counter::objects_truncated);
        }
        auto keep = [&]() {
            if (kept != nullptr) *kept = o;
        };

        // Does object data follow this header?
        const ObjectSize size = object_size(o.group, o.variation);
        bool data = !(o.range_code == 6 || size.kind == ObjectSize::none);
        if (!response && request_without_data(fc) && !((fc == 11 || fc == 12) && o.group == 50)) data = false;
        if (!data || count == 0) {
            keep();
            continue;
        }
        const size_t prefix_bytes = o.prefix_code == 0 ? 0 : o.prefix_code <= 3 ? (1u << (o.prefix_code - 1))
                                                                             : (1u << (o.prefix_code - 4));
        if (o.prefix_code >= 4) {
            // Each object is preceded by its own size.
            for (uint64_t i = 0; i < count && !r.failed(); ++i) {
                const uint32_t n = prefix_bytes == 1 ? r.u8() : prefix_bytes == 2 ? r.le16() : r.le32();
                r.skip(n);
            }
        } else if (size.kind == ObjectSize::unknown ||
                   (size.kind == ObjectSize::packed && prefix_bytes != 0) ||
                   (size.kind == ObjectSize::by_variation && size.value == 0)) {
            keep();
            counters.inc(Dnp3Counter::unknown_object_size);
            rec.complete = false;
            return;
        } else if (size.kind == ObjectSize::packed) {
            r.skip(static_cast<size_t>((count * size.value + 7) / 8));
        } else if (prefix_bytes == 0) {
            const uint64_t total = count * size.value;
            if (total > r.remaining()) r.skip(r.remaining() + 1);
            else r.skip(static_cast<size_t>(total));
        } else {
            // Index prefix before every object: note the indexes addressed.
            for (uint64_t i = 0; i < count && !r.failed(); ++i) {
                const uint32_t idx = prefix_bytes == 1 ? r.u8() : prefix_bytes == 2 ? r.le16() : r.le32();
                r.skip(size.value);
                if (r.failed()) break;
                if (!o.has_index) {
                    o.has_index = true;
                    o.index_first = o.index_last = idx;
                } else {
                    o.index_first = std::min(o.index_first, idx);
                    o.index_last = std::max(o.index_last, idx);
                }
            }
        }
        keep();
        if (r.failed()) {
            counters.inc(Dnp3Counter::object_data_truncated);
            rec.complete = false;
            return;
        }
    }
}

}  // namespace

void Dnp3Decoder::application(Direction dir, uint8_t link_control, uint16_t src, uint16_t dst,
                              std::span<const uint8_t> fragment, AppRecordSink& sink) {
    auto& counters = ctx_->counters;
    ByteReader r(fragment);
    Dnp3Record rec;
    rec.link_control = link_control;
    rec.src = src;
    rec.dst = dst;
    rec.fragment = fragment;
    rec.app_control = r.u8();
    rec.function = r.u8();
    if (r.failed()) {
        counters.inc(Dnp3Counter::app_too_short);
        return;
    }
    if (rec.function >= 0x81 && rec.function <= 0x83) {
        const uint8_t iin1 = r.u8();
        const uint8_t iin2 = r.u8();
        if (r.failed()) {
            counters.inc(Dnp3Counter::app_too_short);
            rec.complete = false;
        } else {
            rec.has_iin = true;
            rec.iin = static_cast<uint16_t>((iin1 << 8) | iin2);
        }
    }
    if (rec.function == 0) {  // confirm: link-level chatter of the application layer
        counters.inc(Dnp3Counter::confirms);
        return;
    }
    if (!r.failed()) parse_objects(rec.function, r, rec, counters);

    if (rec.function == 129) counters.inc(Dnp3Counter::responses);
    else if (rec.function == 130) counters.inc(Dnp3Counter::unsolicited_responses);
    else if (rec.is_request()) counters.inc(Dnp3Counter::requests);

    AppRecord out;
    out.proto = AppProto::dnp3;
    out.dir = dir;
    out.op.function = dnp3_function_name(rec.function);
    out.op.function_code = rec.function;
    out.op.access = dnp3_ot_access(rec.function);
    out.op.is_request = rec.is_request();
    out.op.is_exception = rec.has_iin && (rec.iin & (dnp3_iin::no_func_code_support | dnp3_iin::object_unknown |
                                                     dnp3_iin::parameter_error)) != 0;
    // The outstation: destination of requests, source of responses.
    out.op.has_unit = true;
    out.op.unit = rec.is_request() ? dst : src;
    for (size_t i = 0; i < rec.num_objects; ++i) {
        const Dnp3Object& o = rec.objects[i];
        uint32_t lo = 0, hi = 0;
        if (o.has_range) {
            lo = o.start;
            hi = o.stop;
        } else if (o.has_index) {
            lo = o.index_first;
            hi = o.index_last;
        } else {
            continue;
        }
        if (!out.op.has_address) {
            out.op.has_address = true;
            out.op.address_first = lo;
            out.op.address_last = hi;
        } else {
            out.op.address_first = std::min(out.op.address_first, lo);
            out.op.address_last = std::max(out.op.address_last, hi);
        }
    }
    out.data = &rec;
    out.write_eve = &dnp3_write_eve;
    sink.on_record(out);
}

}  // namespace sluice
