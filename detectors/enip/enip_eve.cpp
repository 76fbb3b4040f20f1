// EVE rendering of EtherNet/IP records with Suricata's field names:
// "enip": {"request"|"response": {"command", "status", "cip": {"service",
// "path": [{"segment_type", "value"}], "class_name", "multiple": [...]},
// "register_session", "identity", "list_services"}}.
#include <array>
#include <charconv>

#include "dataplane/json_writer.hpp"
#include "detectors/enip/enip_decoder.hpp"

namespace sluice {

namespace {

std::string_view segment_type_name(uint8_t t) {
    switch (t) {
        case 0: return "class";
        case 1: return "instance";
        case 2: return "member";
        case 3: return "connection_point";
        case 4: return "attribute";
        case 6: return "service";
        default: return "unknown";
    }
}

std::string_view general_status_name(uint8_t s) {
    switch (s) {
        case 0x00: return "Success";
        case 0x01: return "Connection failure";
        case 0x02: return "Resource unavailable";
        case 0x03: return "Invalid parameter value";
        case 0x04: return "Path segment error";
        case 0x05: return "Path destination unknown";
        case 0x06: return "Partial transfer";
        case 0x07: return "Connection lost";
        case 0x08: return "Service not supported";
        case 0x09: return "Invalid attribute value";
        case 0x0a: return "Attribute list error";
        case 0x0b: return "Already in requested mode/state";
        case 0x0c: return "Object state conflict";
        case 0x0d: return "Object already exists";
        case 0x0e: return "Attribute not settable";
        case 0x0f: return "Privilege violation";
        case 0x10: return "Device state conflict";
        case 0x11: return "Reply data too large";
        case 0x13: return "Not enough data";
        case 0x14: return "Attribute not supported";
        case 0x15: return "Too much data";
        case 0x16: return "Object does not exist";
        case 0x1e: return "Embedded service error";
        case 0x1f: return "Vendor specific error";
        case 0x20: return "Invalid parameter";
        case 0x26: return "Path size invalid";
        default: return "unknown";
    }
}

std::string_view vendor_name(uint16_t v) {
    switch (v) {
        case 1: return "Rockwell Automation/Allen-Bradley";
        case 40: return "Wago Corporation";
        case 47: return "Omron Corporation";
        case 90: return "HMS Industrial Networks AB";
        case 108: return "Beckhoff Automation GmbH";
        case 161: return "Mitsubishi Electric Corporation";
        case 243: return "Schneider Automation Inc.";
        case 283: return "Hilscher GmbH";
        case 1251: return "Siemens AG";
        default: return "";
    }
}

std::string_view device_type_name(uint16_t d) {
    switch (d) {
        case 0: return "Generic Device (deprecated)";
        case 2: return "AC Drive Device";
        case 7: return "General Purpose Discrete I/O";
        case 12: return "Communications Adapter";
        case 14: return "Programmable Logic Controller";
        case 24: return "Human-Machine Interface";
        case 43: return "Generic Device (keyable)";
        default: return "";
    }
}

// "unknown-<n>" as Suricata writes names it does not know.
std::string_view unknown_name(uint32_t n, std::array<char, 24>& buf) {
    constexpr std::string_view prefix = "unknown-";
    std::copy(prefix.begin(), prefix.end(), buf.begin());
    auto [p, ec] = std::to_chars(buf.data() + prefix.size(), buf.data() + buf.size(), n);
    (void)ec;
    return {buf.data(), static_cast<size_t>(p - buf.data())};
}

// Writes service `i` and, for containers, the services embedded in it.
size_t write_service(JsonWriter& w, const EnipRecord& rec, size_t i) {
    const CipService& s = rec.services[i];
    w.kv("service", cip_service_title(s));
    w.kv("service_code", s.code());
    if (s.is_response()) {
        w.kv("status", general_status_name(s.general_status));
        w.kv("general_status", s.general_status);
        if (s.ext_status_words > 0) w.kv("status_extended", s.ext_status);
    } else {
        if (s.num_segments > 0) {
            w.begin_array("path");
            for (size_t k = 0; k < s.num_segments; ++k)
                w.begin_object().kv("segment_type", segment_type_name(s.segments[k].type)).kv("value", s.segments[k].value).end_object();
            w.end_array();
        }
        if (s.has_class) {
            const auto name = cip_class_name(s.class_id);
            std::array<char, 24> buf{};
            w.kv("class_name", name.empty() ? unknown_name(s.class_id, buf) : name);
        }
        if (!s.symbol.empty()) w.kv_bytes("tag", s.symbol);
    }
    if (s.routed) w.begin_object("route").kv("port", s.route_port).kv("link", s.route_link).end_object();
    size_t next = i + 1;
    if (!s.container) return next;
    const bool multiple = s.code() == 0x0a;
    if (multiple) w.begin_array("multiple");
    while (next < rec.num_services && rec.services[next].depth > s.depth) {
        if (multiple) w.begin_object();
        else w.begin_object("embedded");
        next = write_service(w, rec, next);
        w.end_object();
        if (!multiple) break;
    }
    if (multiple) w.end_array();
    return next;
}

}  // namespace

void enip_write_eve(JsonWriter& w, const void* record) {
    const auto& rec = *static_cast<const EnipRecord*>(record);
    std::array<char, 24> buf{};
    w.begin_object("enip");
    w.begin_object(rec.from_request_side ? "request" : "response");
    const auto cmd = enip_command_name(rec.command);
    w.kv("command", cmd.empty() ? unknown_name(rec.command, buf) : cmd);
    const auto st = enip_status_name(rec.status);
    w.kv("status", st == "unknown" ? unknown_name(rec.status, buf) : st);
    if (rec.options != 0) w.kv("options", rec.options);
    w.kv("session_handle", rec.session);
    w.kv("length", rec.length);
    if (rec.truncated) w.kv("truncated", true);
    if (rec.has_register)
        w.begin_object("register_session").kv("protocol_version", rec.protocol_version).kv("options", rec.session_options).end_object();
    if (rec.has_identity) {
        w.begin_object("identity");
        w.kv("protocol_version", rec.identity_version);
        std::array<char, 16> rev{};
        auto [p, ec] = std::to_chars(rev.data(), rev.data() + 6, rec.revision_major);
        *p++ = '.';
        auto [q, ec2] = std::to_chars(p, rev.data() + rev.size(), rec.revision_minor);
        (void)ec;
        (void)ec2;
        w.kv("revision", std::string_view(rev.data(), static_cast<size_t>(q - rev.data())));
        const auto vendor = vendor_name(rec.vendor_id);
        w.kv("vendor_id", vendor.empty() ? unknown_name(rec.vendor_id, buf) : vendor);
        const auto device = device_type_name(rec.device_type);
        w.kv("device_type", device.empty() ? unknown_name(rec.device_type, buf) : device);
        w.kv("product_code", rec.product_code);
        w.kv("status", rec.identity_status);
        w.kv("serial", rec.serial);
        w.kv_bytes("product_name", rec.product_name);
        w.kv("state", rec.state);
        w.end_object();
    }
    if (rec.has_services_list) {
        w.begin_object("list_services").kv("protocol_version", rec.protocol_version).kv("capabilities", rec.capabilities);
        w.kv_bytes("service_name", rec.service_name).end_object();
    }
    if (rec.has_cpf) {
        w.begin_object("cpf").kv("item_count", rec.item_count);
        if (rec.address_item == 0x00a1 || rec.address_item == 0x8002) w.kv("connection_id", rec.connection_id);
        if (rec.data_item == 0x00b1) w.kv("sequence", rec.sequence);
        w.end_object();
    }
    if (rec.num_services > 0) {
        w.begin_object("cip");
        write_service(w, rec, 0);
        w.end_object();
        if (rec.service_index >= 0) w.kv("service_index", rec.service_index);
    }
    w.end_object();
    w.end_object();
}

}  // namespace sluice
