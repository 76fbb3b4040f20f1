#include "detectors/enip/enip_decoder.hpp"

#include <algorithm>
#include <cstring>

#include "dataplane/byte_reader.hpp"

namespace sluice {

namespace {

struct ServiceInfo {
    uint8_t code;
    std::string_view name;
    std::string_view title;
    OtAccess access;
};

// CIP common services (Volume 1, Appendix A).
constexpr ServiceInfo kCommon[] = {
    {0x01, "get_attributes_all", "Get Attributes All", OtAccess::read},
    {0x02, "set_attributes_all", "Set Attributes All", OtAccess::write},
    {0x03, "get_attribute_list", "Get Attribute List", OtAccess::read},
    {0x04, "set_attribute_list", "Set Attribute List", OtAccess::write},
    {0x05, "reset", "Reset", OtAccess::control},
    {0x06, "start", "Start", OtAccess::control},
    {0x07, "stop", "Stop", OtAccess::control},
    {0x08, "create", "Create", OtAccess::write},
    {0x09, "delete", "Delete", OtAccess::write},
    {0x0a, "multiple_service_packet", "Multiple Service Packet", OtAccess::other},
    {0x0d, "apply_attributes", "Apply Attributes", OtAccess::write},
    {0x0e, "get_attribute_single", "Get Attribute Single", OtAccess::read},
    {0x10, "set_attribute_single", "Set Attribute Single", OtAccess::write},
    {0x11, "find_next_object_instance", "Find Next Object Instance", OtAccess::read},
    {0x14, "error_response", "Error Response", OtAccess::other},
    {0x15, "restore", "Restore", OtAccess::write},
    {0x16, "save", "Save", OtAccess::write},
    {0x17, "nop", "Nop", OtAccess::other},
    {0x18, "get_member", "Get Member", OtAccess::read},
    {0x19, "set_member", "Set Member", OtAccess::write},
    {0x1a, "insert_member", "Insert Member", OtAccess::write},
    {0x1b, "remove_member", "Remove Member", OtAccess::write},
    {0x1c, "group_sync", "Group Sync", OtAccess::other},
};
// Connection Manager (class 0x06) services.
constexpr ServiceInfo kConnectionManager[] = {
    {0x4e, "forward_close", "Forward Close", OtAccess::other},
    {0x52, "unconnected_send", "Unconnected Send", OtAccess::other},
    {0x54, "forward_open", "Forward Open", OtAccess::other},
    {0x56, "get_connection_data", "Get Connection Data", OtAccess::read},
    {0x57, "search_connection_data", "Search Connection Data", OtAccess::read},
    {0x5a, "get_connection_owner", "Get Connection Owner", OtAccess::read},
    {0x5b, "large_forward_open", "Large Forward Open", OtAccess::other},
};
// Logix controller services on tags (symbol class 0x6B, template 0x6C, symbolic paths).
constexpr ServiceInfo kLogix[] = {
    {0x4b, "execute_pccc", "Execute PCCC", OtAccess::other},
    {0x4c, "read_tag", "Read Tag", OtAccess::read},
    {0x4d, "write_tag", "Write Tag", OtAccess::write},
    {0x4e, "read_modify_write_tag", "Read Modify Write Tag", OtAccess::write},
    {0x52, "read_tag_fragmented", "Read Tag Fragmented", OtAccess::read},
    {0x53, "write_tag_fragmented", "Write Tag Fragmented", OtAccess::write},
    {0x55, "get_instance_attribute_list", "Get Instance Attribute List", OtAccess::read},
};
// Responses carry no path: the likeliest meaning of each class-specific code.
constexpr ServiceInfo kResponseDefault[] = {
    {0x4b, "execute_pccc", "Execute PCCC", OtAccess::other},
    {0x4c, "read_tag", "Read Tag", OtAccess::read},
    {0x4d, "write_tag", "Write Tag", OtAccess::write},
    {0x4e, "forward_close", "Forward Close", OtAccess::other},
    {0x52, "read_tag_fragmented", "Read Tag Fragmented", OtAccess::read},
    {0x53, "write_tag_fragmented", "Write Tag Fragmented", OtAccess::write},
    {0x54, "forward_open", "Forward Open", OtAccess::other},
    {0x55, "get_instance_attribute_list", "Get Instance Attribute List", OtAccess::read},
    {0x5b, "large_forward_open", "Large Forward Open", OtAccess::other},
};
constexpr ServiceInfo kClassSpecific = {0, "class_specific_service", "Class Specific Service", OtAccess::other};
constexpr ServiceInfo kUnknown = {0, "unknown_service", "Unknown Service", OtAccess::other};

template <size_t N>
const ServiceInfo* find(const ServiceInfo (&table)[N], uint8_t code) {
    for (const auto& s : table)
        if (s.code == code) return &s;
    return nullptr;
}

const ServiceInfo& service_info(const CipService& s) {
    const uint8_t code = s.code();
    if (const auto* c = find(kCommon, code)) return *c;
    if (code < 0x32) return kUnknown;
    if (s.is_response()) {
        const auto* r = find(kResponseDefault, code);
        return r != nullptr ? *r : kClassSpecific;
    }
    if (s.has_class && s.class_id == 0x06) {
        const auto* r = find(kConnectionManager, code);
        return r != nullptr ? *r : kClassSpecific;
    }
    const bool logix = !s.symbol.empty() || !s.has_class || s.class_id == 0x6b || s.class_id == 0x6c ||
                       (s.class_id == 0x67 && code == 0x4b);
    if (logix) {
        const auto* r = find(kLogix, code);
        if (r != nullptr) return *r;
    }
    return kClassSpecific;
}

// Parses a CIP path; returns false when a segment does not fit or is unknown.
bool parse_path(std::span<const uint8_t> path, CipService& s, bool route) {
    ByteReader r(path);
    while (r.remaining() > 0) {
        const uint8_t seg = r.u8();
        const uint8_t kind = seg >> 5;
        if (kind == 1) {  // logical segment
            const uint8_t type = (seg >> 2) & 0x07;
            const uint8_t format = seg & 0x03;
            if (type == 5) {  // special: electronic key (format 4, 8 bytes)
                r.skip(9);
                continue;
            }
            uint32_t value = 0;
            if (format == 0) {
                value = r.u8();
            } else if (format == 1) {
                r.skip(1);
                value = r.le16();
            } else if (format == 2) {
                r.skip(1);
                value = r.le32();
            } else {
                return false;
            }
            if (r.failed()) return false;
            switch (type) {
                case 0: s.has_class = true; s.class_id = value; break;
                case 1: s.has_instance = true; s.instance = value; break;
                case 2: s.has_member = true; s.member = value; break;
                case 4: s.has_attribute = true; s.attribute = value; break;
                default: break;
            }
            if (s.num_segments < CipService::kMaxSegments) s.segments[s.num_segments++] = {type, value};
        } else if (seg == 0x91) {  // ANSI extended symbolic: the tag name
            const uint8_t n = r.u8();
            const auto name = r.bytes(n);
            if ((n & 1) != 0) r.skip(1);
            if (r.failed()) return false;
            if (s.symbol.empty()) s.symbol = name;
        } else if (kind == 0) {  // port segment
            uint8_t port = seg & 0x0f;
            if (port == 0x0f) port = static_cast<uint8_t>(r.le16());
            uint32_t link = 0;
            if ((seg & 0x10) != 0) {
                const uint8_t n = r.u8();
                const auto addr = r.bytes(n);
                if ((n & 1) != 0) r.skip(1);
                for (size_t i = 0; i < addr.size() && i < 4; ++i) link = (link << 8) | addr[i];
            } else {
                link = r.u8();
            }
            if (r.failed()) return false;
            if (route && !s.routed) {
                s.routed = true;
                s.route_port = port;
                s.route_link = link;
            }
        } else if (seg == 0x80) {  // simple data segment
            const uint8_t words = r.u8();
            r.skip(size_t{words} * 2);
            if (r.failed()) return false;
        } else {
            return false;
        }
    }
    return true;
}

class CipParser {
public:
    CipParser(EnipRecord& rec, CounterSet<EnipCounter>& counters) : rec_(rec), counters_(counters) {}

    // Parses one CIP message and what it embeds; returns the service's index or -1.
    int parse(std::span<const uint8_t> msg, uint8_t depth) {
        if (msg.size() < 2) {
            counters_.inc(EnipCounter::bad_cip);
            return -1;
        }
        CipService s;
        s.service = msg[0];
        s.depth = depth;
        ByteReader r(msg);
        r.skip(1);
        if (!s.is_response()) {
            const uint8_t words = r.u8();
            const auto path = r.bytes(size_t{words} * 2);
            if (r.failed() || !parse_path(path, s, false)) {
                counters_.inc(EnipCounter::bad_cip);
                if (r.failed()) return -1;
            }
            counters_.inc(EnipCounter::cip_requests);
        } else {
            r.skip(1);
            s.general_status = r.u8();
            s.ext_status_words = r.u8();
            const auto ext = r.bytes(size_t{s.ext_status_words} * 2);
            if (r.failed()) {
                counters_.inc(EnipCounter::bad_cip);
                return -1;
            }
            if (ext.size() >= 2) s.ext_status = static_cast<uint16_t>(ext[0] | (ext[1] << 8));
            counters_.inc(EnipCounter::cip_responses);
        }
        s.data = r.rest();
        if (!s.is_response() && (s.code() == 0x03 || s.code() == 0x04)) s.attribute_list = s.data;
        const int at = add(s);
        if (at < 0) return -1;
        if (s.code() == 0x0a && depth < 2) {
            // A container when it holds services; otherwise its own operation.
            const uint8_t before = rec_.num_services;
            multiple(rec_.services[static_cast<size_t>(at)].data, depth);
            rec_.services[static_cast<size_t>(at)].container = rec_.num_services > before;
        } else if (!s.is_response() && s.code() == 0x52 && s.has_class && s.class_id == 0x06 && depth < 2) {
            unconnected_send(at, depth);
        }
        return at;
    }

private:
    int add(const CipService& s) {
        if (rec_.num_services < EnipRecord::kMaxServices) {
            rec_.services[rec_.num_services] = s;
            return rec_.num_services++;
        }
        if (!dropped_) {
            dropped_ = true;
            counters_.inc(EnipCounter::services_truncated);
        }
        return -1;
    }

    void multiple(std::span<const uint8_t> data, uint8_t depth) {
        ByteReader r(data);
        const uint16_t count = r.le16();
        if (r.failed() || size_t{count} * 2 + 2 > data.size()) {
            counters_.inc(EnipCounter::bad_multiple_service);
            return;
        }
        uint16_t prev = 0;
        for (uint16_t i = 0; i < count; ++i) {
            const uint16_t off = static_cast<uint16_t>(data[2 + 2 * i] | (data[3 + 2 * i] << 8));
            const uint16_t end = i + 1 < count ? static_cast<uint16_t>(data[4 + 2 * i] | (data[5 + 2 * i] << 8))
                                               : static_cast<uint16_t>(std::min<size_t>(data.size(), 0xffff));
            if (off < size_t{count} * 2 + 2 || off <= prev || end < off || end > data.size()) {
                counters_.inc(EnipCounter::bad_multiple_service);
                return;
            }
            prev = off;
            parse(data.subspan(off, end - off), static_cast<uint8_t>(depth + 1));
        }
    }

    void unconnected_send(int at, uint8_t depth) {
        CipService& outer = rec_.services[static_cast<size_t>(at)];
        ByteReader r(outer.data);
        r.skip(2);  // priority/tick time, timeout ticks
        const uint16_t size = r.le16();
        const auto inner = r.bytes(size);
        if ((size & 1) != 0) r.skip(1);
        const uint8_t words = r.u8();
        r.skip(1);
        const auto route = r.bytes(size_t{words} * 2);
        if (r.failed()) {
            counters_.inc(EnipCounter::bad_cip);
            return;
        }
        outer.container = true;
        CipService route_info;
        parse_path(route, route_info, true);
        const int in = parse(inner, static_cast<uint8_t>(depth + 1));
        if (in >= 0) {
            CipService& s = rec_.services[static_cast<size_t>(in)];
            s.routed = route_info.routed;
            s.route_port = route_info.route_port;
            s.route_link = route_info.route_link;
        }
    }

    EnipRecord& rec_;
    CounterSet<EnipCounter>& counters_;
    bool dropped_ = false;
};

}  // namespace

std::string_view enip_command_name(uint16_t c) {
    switch (c) {
        case enip_command::nop: return "nop";
        case enip_command::list_services: return "list_services";
        case enip_command::list_identity: return "list_identity";
        case enip_command::list_interfaces: return "list_interfaces";
        case enip_command::register_session: return "register_session";
        case enip_command::unregister_session: return "unregister_session";
        case enip_command::send_rr_data: return "send_rr_data";
        case enip_command::send_unit_data: return "send_unit_data";
        case enip_command::indicate_status: return "indicate_status";
        case enip_command::cancel: return "cancel";
        default: return "";
    }
}

std::string_view enip_status_name(uint32_t s) {
    switch (s) {
        case 0x00: return "success";
        case 0x01: return "invalid_cmd";
        case 0x02: return "no_resources";
        case 0x03: return "incorrect_data";
        case 0x64: return "invalid_session";
        case 0x65: return "invalid_length";
        case 0x69: return "unsupported_prot_rev";
        case 0x6a: return "encap_header_error";
        default: return "unknown";
    }
}

std::string_view cip_service_name(const CipService& s) { return service_info(s).name; }
std::string_view cip_service_title(const CipService& s) { return service_info(s).title; }
OtAccess cip_ot_access(const CipService& s) { return service_info(s).access; }

std::string_view cip_class_name(uint32_t c) {
    switch (c) {
        case 0x01: return "Identity";
        case 0x02: return "Message Router";
        case 0x03: return "DeviceNet";
        case 0x04: return "Assembly";
        case 0x05: return "Connection";
        case 0x06: return "Connection Manager";
        case 0x07: return "Register";
        case 0x0f: return "Parameter";
        case 0x10: return "Parameter Group";
        case 0x37: return "File";
        case 0x44: return "Modbus";
        case 0x48: return "QoS";
        case 0x67: return "PCCC Class";
        case 0x6b: return "Symbol";
        case 0x6c: return "Template";
        case 0xf4: return "Port";
        case 0xf5: return "TCP/IP Interface";
        case 0xf6: return "Ethernet Link";
        default: return "";
    }
}

size_t EnipDecoder::frame_length(const uint8_t* h, bool strict) {
    const uint16_t command = static_cast<uint16_t>(h[0] | (h[1] << 8));
    const uint16_t length = static_cast<uint16_t>(h[2] | (h[3] << 8));
    if (enip_command_name(command).empty()) return 0;
    if (strict) {
        const uint32_t options = uint32_t{h[20]} | (uint32_t{h[21]} << 8) | (uint32_t{h[22]} << 16) | (uint32_t{h[23]} << 24);
        const uint32_t status = uint32_t{h[8]} | (uint32_t{h[9]} << 8) | (uint32_t{h[10]} << 16) | (uint32_t{h[11]} << 24);
        // After an error: no NOP (a zero command is too easy to find in junk).
        if (options != 0 || status > 0xff || command == enip_command::nop) return 0;
    }
    return kHeaderLen + length;
}

bool EnipDecoder::accept_first(bool valid) {
    if (verdict_ != Verdict::probing) return verdict_ == Verdict::enip;
    if (valid) {
        verdict_ = Verdict::enip;
        return true;
    }
    verdict_ = Verdict::not_enip;
    ctx_->counters.inc(EnipCounter::not_enip_flows);
    return false;
}

void EnipDecoder::on_data(Direction dir, std::span<const uint8_t> data, AppRecordSink& sink) {
    Framer& f = framer_[index(dir)];
    auto& counters = ctx_->counters;
    while (!data.empty() && verdict_ != Verdict::not_enip) {
        if (f.skip_left > 0) {
            const size_t n = std::min<size_t>(f.skip_left, data.size());
            f.skip_left -= static_cast<uint32_t>(n);
            data = data.subspan(n);
            continue;
        }
        const bool strict = f.resync || verdict_ == Verdict::probing;
        if (f.need == 0 && f.have == 0 && data.size() >= kHeaderLen) {
            const size_t len = frame_length(data.data(), strict);
            if (len != 0 && data.size() >= len && len <= kMaxFrame) {
                accept_first(true);
                f.resync = false;
                decode(dir, data.first(len), false, sink);
                data = data.subspan(len);
                continue;
            }
        }
        if (f.need == 0) {
            const size_t n = std::min(kHeaderLen - f.have, data.size());
            std::memcpy(f.buf.data() + f.have, data.data(), n);
            f.have = static_cast<uint16_t>(f.have + n);
            data = data.subspan(n);
            if (f.have < kHeaderLen) continue;
            const size_t len = frame_length(f.buf.data(), strict);
            if (!accept_first(len != 0)) return;
            if (len == 0) {
                // No start marker in EtherNet/IP: slide one byte and look again.
                if (!f.resync) counters.inc(EnipCounter::bad_header);
                f.resync = true;
                std::memmove(f.buf.data(), f.buf.data() + 1, kHeaderLen - 1);
                f.have = kHeaderLen - 1;
                counters.inc(EnipCounter::resync_bytes);
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
            decode(dir, std::span<const uint8_t>(f.buf.data(), f.have), f.have < f.need, sink);
            f.have = 0;
            f.need = f.seen = 0;
        }
    }
}

void EnipDecoder::on_gap(Direction dir, uint64_t len) {
    Framer& f = framer_[index(dir)];
    if (f.have > 0) ctx_->counters.inc(EnipCounter::gap_dropped_pdu);
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

void EnipDecoder::on_datagram(Direction dir, std::span<const uint8_t> data, AppRecordSink& sink) {
    auto& counters = ctx_->counters;
    counters.inc(EnipCounter::datagrams);
    while (!data.empty() && verdict_ != Verdict::not_enip) {
        const size_t len = data.size() >= kHeaderLen ? frame_length(data.data(), false) : 0;
        if (!accept_first(len != 0)) return;
        if (len == 0) {
            counters.inc(data.size() >= kHeaderLen ? EnipCounter::bad_header : EnipCounter::truncated_datagram);
            return;
        }
        if (data.size() < len) {
            counters.inc(EnipCounter::truncated_datagram);
            return;
        }
        decode(dir, data.first(len), false, sink);
        data = data.subspan(len);
    }
}

void EnipDecoder::on_io_datagram(Direction, std::span<const uint8_t> data) {
    auto& counters = ctx_->counters;
    ByteReader r(data);
    const uint16_t count = r.le16();
    for (uint16_t i = 0; i < count && !r.failed(); ++i) {
        r.skip(2);
        r.skip(r.le16());
    }
    if (r.failed() || r.remaining() != 0 || count == 0) counters.inc(EnipCounter::bad_cpf);
    else counters.inc(EnipCounter::io_datagrams);
}

void EnipDecoder::decode(Direction dir, std::span<const uint8_t> pdu, bool truncated, AppRecordSink& sink) {
    auto& counters = ctx_->counters;
    counters.inc(EnipCounter::pdus);
    if (truncated) counters.inc(EnipCounter::oversize_pdu);
    EnipRecord rec;
    rec.from_request_side = dir == request_dir_;
    rec.truncated = truncated;
    ByteReader h(pdu);
    rec.command = h.le16();
    rec.length = h.le16();
    rec.session = h.le32();
    rec.status = h.le32();
    rec.sender_context = h.le64();
    rec.options = h.le32();
    ByteReader r(pdu.subspan(kHeaderLen));
    CipParser cip(rec, counters);
    switch (rec.command) {
        case enip_command::register_session:
            rec.protocol_version = r.le16();
            rec.session_options = r.le16();
            if (r.failed()) counters.inc(EnipCounter::bad_command_data);
            else rec.has_register = true;
            break;
        case enip_command::list_identity:
        case enip_command::list_services: {
            if (r.remaining() == 0) break;  // the request
            const uint16_t count = r.le16();
            const uint16_t type = r.le16();
            const uint16_t len = r.le16();
            ByteReader item(r.bytes(len));
            if (r.failed() || count == 0) {
                counters.inc(EnipCounter::bad_command_data);
                break;
            }
            if (rec.command == enip_command::list_identity && type == 0x0c) {
                rec.identity_version = item.le16();
                item.skip(16);  // socket address
                rec.vendor_id = item.le16();
                rec.device_type = item.le16();
                rec.product_code = item.le16();
                rec.revision_major = item.u8();
                rec.revision_minor = item.u8();
                rec.identity_status = item.le16();
                rec.serial = item.le32();
                const uint8_t n = item.u8();
                rec.product_name = item.bytes(n);
                rec.state = item.u8();
                if (item.failed()) counters.inc(EnipCounter::bad_command_data);
                else rec.has_identity = true;
            } else if (rec.command == enip_command::list_services && type == 0x100) {
                rec.protocol_version = item.le16();
                rec.capabilities = item.le16();
                auto name = item.bytes(16);
                if (item.failed()) {
                    counters.inc(EnipCounter::bad_command_data);
                } else {
                    rec.has_services_list = true;
                    const auto nul = std::find(name.begin(), name.end(), uint8_t{0});
                    rec.service_name = name.first(static_cast<size_t>(nul - name.begin()));
                }
            }
            break;
        }
        case enip_command::send_rr_data:
        case enip_command::send_unit_data: {
            rec.interface_handle = r.le32();
            rec.timeout = r.le16();
            rec.item_count = r.le16();
            if (r.failed()) {
                counters.inc(EnipCounter::bad_cpf);
                break;
            }
            rec.has_cpf = true;
            bool cpf_ok = true;
            for (uint16_t i = 0; i < rec.item_count; ++i) {
                const uint16_t type = r.le16();
                const uint16_t len = r.le16();
                if (r.failed()) {
                    if (!truncated) cpf_ok = false;
                    break;
                }
                std::span<const uint8_t> body;
                if (len <= r.remaining()) {
                    body = r.bytes(len);
                } else if (truncated) {
                    body = r.rest();  // a truncated PDU still shows what its prefix holds
                } else {
                    cpf_ok = false;
                    break;
                }
                ByteReader b(body);
                switch (type) {
                    case 0x0000: rec.address_item = type; break;
                    case 0x00a1:
                    case 0x8002:
                        rec.address_item = type;
                        rec.connection_id = b.le32();
                        break;
                    case 0x00b2:
                        rec.data_item = type;
                        cip.parse(body, 0);
                        break;
                    case 0x00b1:
                        rec.data_item = type;
                        rec.sequence = b.le16();
                        if (!b.failed()) cip.parse(b.rest(), 0);
                        break;
                    default: break;
                }
            }
            if (!cpf_ok || (!truncated && r.remaining() != 0)) counters.inc(EnipCounter::bad_cpf);
            break;
        }
        default:
            break;
    }

    AppRecord out;
    out.proto = AppProto::enip;
    out.dir = dir;
    out.data = &rec;
    out.write_eve = &enip_write_eve;
    bool any = false;
    for (size_t i = 0; i < rec.num_services; ++i) {
        const CipService& s = rec.services[i];
        if (s.container) continue;
        rec.first_of_pdu = !any;
        any = true;
        rec.service_index = static_cast<int>(i);
        out.op = OtOperation{};
        out.op.function = cip_service_name(s);
        out.op.function_code = s.code();
        out.op.access = cip_ot_access(s);
        out.op.is_request = !s.is_response();
        out.op.is_exception = s.is_response() && s.general_status != 0;
        out.op.has_unit = s.has_class;
        out.op.unit = s.class_id;
        out.op.has_address = s.has_instance;
        out.op.address_first = out.op.address_last = s.instance;
        sink.on_record(out);
    }
    if (any) return;
    rec.first_of_pdu = true;
    rec.service_index = rec.num_services > 0 ? 0 : -1;
    const auto name = enip_command_name(rec.command);
    out.op.function = name.empty() ? std::string_view("unknown_command") : name;
    out.op.function_code = rec.command;
    out.op.access = (rec.command == enip_command::list_identity || rec.command == enip_command::list_services ||
                     rec.command == enip_command::list_interfaces)
                        ? OtAccess::diagnostic
                        : OtAccess::other;
    out.op.is_request = rec.from_request_side;
    out.op.is_exception = rec.status != 0;
    sink.on_record(out);
}

}  // namespace sluice
