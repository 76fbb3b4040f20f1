#include "dataplane/eve.hpp"

#include <charconv>
#include <chrono>
#include <cstring>
#include <ctime>
#include <thread>

namespace sluice {

std::optional<EveType> eve_type_from_name(std::string_view name) {
    for (size_t i = 0; i < static_cast<size_t>(EveType::count); ++i)
        if (counter_name(static_cast<EveType>(i)) == name) return static_cast<EveType>(i);
    return std::nullopt;
}

uint64_t eve_type_mask(std::span<const std::string> names) {
    uint64_t mask = 0;
    for (const auto& n : names)
        if (auto t = eve_type_from_name(n)) mask |= uint64_t{1} << static_cast<unsigned>(*t);
    return mask;
}

EveEndpoints flow_endpoints(const Flow& f) {
    EveEndpoints e;
    e.src = f.client_addr();
    e.dst = f.server_addr();
    e.src_port = f.client_port();
    e.dst_port = f.server_port();
    e.ip_proto = f.key.ip_proto;
    if (f.key.vlan) {
        e.vlan_count = 1;
        e.vlan[0] = f.key.vlan;
    }
    return e;
}

EveEndpoints packet_endpoints(const DecodedPacket& p) {
    EveEndpoints e;
    e.src = p.src;
    e.dst = p.dst;
    e.src_port = p.src_port;
    e.dst_port = p.dst_port;
    e.ip_proto = p.ip_proto;
    e.vlan_count = p.vlan_count;
    e.vlan[0] = p.vlan[0];
    e.vlan[1] = p.vlan[1];
    if (p.ip_proto == ipproto::icmp || p.ip_proto == ipproto::icmpv6) {
        e.has_icmp = true;
        e.icmp_type = p.icmp_type;
        e.icmp_code = p.icmp_code;
    }
    return e;
}

size_t format_eve_time(uint64_t ts_ns, char* buf) {
    const uint64_t sec = ts_ns / 1000000000ull;
    const unsigned usec = static_cast<unsigned>((ts_ns % 1000000000ull) / 1000);
    // The UTC calendar date computed directly (days since 1970 to year, month,
    // day, after H. Hinnant's civil_from_days) instead of gmtime_r, which takes
    // glibc's time zone lock on every call: two calls per alert event.
    struct {
        int tm_year, tm_mon, tm_mday, tm_hour, tm_min, tm_sec;
    } tm{};
    {
        const uint64_t secs_of_day = sec % 86400;
        tm.tm_hour = static_cast<int>(secs_of_day / 3600);
        tm.tm_min = static_cast<int>(secs_of_day / 60 % 60);
        tm.tm_sec = static_cast<int>(secs_of_day % 60);
        const uint64_t z = sec / 86400 + 719468;  // days since 0000-03-01
        const uint64_t era = z / 146097;
        const uint64_t doe = z - era * 146097;                                      // [0, 146096]
        const uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // [0, 399]
        const uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);                // [0, 365]
        const uint64_t mp = (5 * doy + 2) / 153;                                     // [0, 11], from March
        const uint64_t month = mp < 10 ? mp + 3 : mp - 9;                            // [1, 12]
        const uint64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
        tm.tm_mday = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
        tm.tm_mon = static_cast<int>(month - 1);
        tm.tm_year = static_cast<int>(year - 1900);
    }
    // YYYY-MM-DDTHH:MM:SS.uuuuuu+0000
    auto two = [](char* p, int v) {
        p[0] = static_cast<char>('0' + v / 10);
        p[1] = static_cast<char>('0' + v % 10);
    };
    const int year = tm.tm_year + 1900;
    buf[0] = static_cast<char>('0' + (year / 1000) % 10);
    buf[1] = static_cast<char>('0' + (year / 100) % 10);
    buf[2] = static_cast<char>('0' + (year / 10) % 10);
    buf[3] = static_cast<char>('0' + year % 10);
    buf[4] = '-';
    two(buf + 5, tm.tm_mon + 1);
    buf[7] = '-';
    two(buf + 8, tm.tm_mday);
    buf[10] = 'T';
    two(buf + 11, tm.tm_hour);
    buf[13] = ':';
    two(buf + 14, tm.tm_min);
    buf[16] = ':';
    two(buf + 17, tm.tm_sec);
    buf[19] = '.';
    unsigned u = usec;
    for (int i = 25; i >= 20; --i) {
        buf[i] = static_cast<char>('0' + u % 10);
        u /= 10;
    }
    std::memcpy(buf + 26, "+0000", 5);
    buf[31] = '\0';
    return 31;
}

std::string_view ip_proto_name(uint8_t proto, char* buf8) {
    switch (proto) {
        case ipproto::tcp: return "TCP";
        case ipproto::udp: return "UDP";
        case ipproto::icmp: return "ICMP";
        case ipproto::icmpv6: return "IPv6-ICMP";
        default: {
            auto r = std::to_chars(buf8, buf8 + 8, unsigned{proto});
            return {buf8, static_cast<size_t>(r.ptr - buf8)};
        }
    }
}

void write_eve_header(JsonWriter& w, EveType type, uint64_t ts_ns, uint64_t flow_id, std::string_view in_iface,
                      const EveEndpoints* ep, AppProto app_proto) {
    char ts[32];
    format_eve_time(ts_ns, ts);
    w.begin_object().kv("timestamp", std::string_view(ts, 31));
    if (flow_id) w.kv("flow_id", flow_id);
    if (!in_iface.empty()) w.kv("in_iface", in_iface);
    w.kv("event_type", counter_name(type));
    if (ep) {
        if (ep->vlan_count) {
            w.begin_array("vlan");
            for (unsigned i = 0; i < ep->vlan_count; ++i) w.value(uint64_t{ep->vlan[i]});
            w.end_array();
        }
        char addr[48];
        w.kv("src_ip", std::string_view(addr, ep->src.format(addr, sizeof addr)));
        if (ep->ip_proto == ipproto::tcp || ep->ip_proto == ipproto::udp) w.kv("src_port", ep->src_port);
        w.kv("dest_ip", std::string_view(addr, ep->dst.format(addr, sizeof addr)));
        if (ep->ip_proto == ipproto::tcp || ep->ip_proto == ipproto::udp) w.kv("dest_port", ep->dst_port);
        char pbuf[8];
        w.kv("proto", ip_proto_name(ep->ip_proto, pbuf));
        if (ep->has_icmp) {
            w.kv("icmp_type", ep->icmp_type);
            w.kv("icmp_code", ep->icmp_code);
        }
    }
    if (app_proto != AppProto::unknown) w.kv("app_proto", to_string(app_proto));
}

std::span<char> EveEmitter::reserve(size_t len) {
    std::span<char> space = ring_.reserve(len);
    if (space.empty() && wait_) {
        // Offline: the writer thread is draining; nothing may be lost.
        for (int i = 0; i < 200000 && space.empty(); ++i) {
            std::this_thread::sleep_for(std::chrono::microseconds(50));
            space = ring_.reserve(len);
        }
    }
    if (space.empty()) lost_.inc(EveLoss::ring_full);
    return space;
}

JsonWriter* EveEmitter::begin(EveType type, uint64_t ts_ns, uint64_t flow_id, const EveEndpoints* ep,
                              AppProto app_proto) {
    if (!enabled(type)) return nullptr;
    std::span<char> space = reserve(max_event_);
    if (space.empty()) return nullptr;
    type_ = type;
    w_.emplace(space);
    write_eve_header(*w_, type, ts_ns, flow_id, iface_, ep, app_proto);
    return &*w_;
}

bool EveEmitter::end() {
    if (!w_) return false;
    JsonWriter& w = *w_;
    w.end_object();
    const bool ok = !w.overflowed();
    if (ok) {
        ring_.commit(w.size());
        written_.inc(type_);
    } else {
        lost_.inc(EveLoss::too_large);
    }
    w_.reset();
    return ok;
}

// A deferred record: the renderer's address, the event type, the interface
// name, then the caller's payload. Read back with memcpy: records are only
// 4-byte aligned in the ring.
namespace {
constexpr size_t kDeferredFixed = sizeof(EveRenderer) + 4;  // renderer, type, pad, iface length (u16)
}

std::span<char> EveEmitter::begin_deferred(EveType type, EveRenderer render, size_t max_payload) {
    if (!enabled(type)) return {};
    const size_t head = kDeferredFixed + iface_.size();
    if (head >= max_event_ || iface_.size() > 0xFFFF) {
        lost_.inc(EveLoss::too_large);
        return {};
    }
    max_payload = std::min(max_payload, max_event_ - head);
    std::span<char> space = reserve(head + max_payload);
    if (space.empty()) return {};
    std::memcpy(space.data(), &render, sizeof render);
    const uint8_t fixed[4] = {static_cast<uint8_t>(type), 0, static_cast<uint8_t>(iface_.size() & 0xFF),
                              static_cast<uint8_t>(iface_.size() >> 8)};
    std::memcpy(space.data() + sizeof render, fixed, sizeof fixed);
    if (!iface_.empty()) std::memcpy(space.data() + kDeferredFixed, iface_.data(), iface_.size());
    type_ = type;
    deferred_ = space;
    deferred_head_ = head;
    return space.subspan(head, max_payload);
}

bool EveEmitter::end_deferred(size_t used) {
    if (deferred_.empty()) return false;
    ring_.commit(deferred_head_ + std::min(used, deferred_.size() - deferred_head_), true);
    written_.inc(type_);
    deferred_ = {};
    return true;
}

void EveEmitter::abandon_deferred() {
    if (deferred_.empty()) return;
    lost_.inc(EveLoss::too_large);
    deferred_ = {};
}

namespace {

// Renders a record committed as deferred into `w`; false when the record is
// damaged or the event did not fit.
bool render_deferred_event(std::string_view record, JsonWriter& w) {
    if (record.size() < kDeferredFixed) return false;
    EveRenderer render;
    std::memcpy(&render, record.data(), sizeof render);
    uint8_t fixed[4];
    std::memcpy(fixed, record.data() + sizeof render, sizeof fixed);
    const size_t iface_len = fixed[2] | size_t{fixed[3]} << 8;
    if (!render || fixed[0] >= static_cast<uint8_t>(EveType::count) || record.size() < kDeferredFixed + iface_len)
        return false;
    EveRenderContext ctx;
    ctx.type = static_cast<EveType>(fixed[0]);
    ctx.in_iface = record.substr(kDeferredFixed, iface_len);
    const std::string_view payload = record.substr(kDeferredFixed + iface_len);
    render(std::span<const char>(payload.data(), payload.size()), ctx, w);
    return !w.overflowed();
}

}  // namespace

std::string_view EveReader::front(EventRing& ring, bool* failed) {
    if (failed) *failed = false;
    bool deferred = false;
    const std::string_view rec = ring.front(&deferred);
    if (rec.empty() || !deferred) return rec;
    if (!buf_) buf_.reset(new char[EveEmitter::kMaxEvent]);
    JsonWriter w(buf_.get(), EveEmitter::kMaxEvent);
    if (render_deferred_event(rec, w)) return w.view();
    if (failed) *failed = true;
    return {};
}

}  // namespace sluice
