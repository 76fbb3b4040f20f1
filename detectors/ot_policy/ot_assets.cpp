#include "detectors/ot_policy/ot_assets.hpp"

#include <algorithm>
#include <map>

#include "dataplane/eve.hpp"
#include "dataplane/json_writer.hpp"

namespace sluice {

namespace {

uint64_t mix(uint64_t hi, uint64_t lo) {
    uint64_t h = hi * 0x9E3779B97F4A7C15ull ^ (lo + 0x632BE59BD9B4E019ull + (hi << 6) + (hi >> 2));
    h ^= h >> 33;
    h *= 0xFF51AFD7ED558CCDull;
    h ^= h >> 33;
    return h;
}

IpAddr from_words(uint64_t hi, uint64_t lo) {
    IpAddr a;
    for (int i = 0; i < 8; ++i) {
        a.b[static_cast<size_t>(i)] = static_cast<uint8_t>(hi >> (56 - 8 * i));
        a.b[static_cast<size_t>(8 + i)] = static_cast<uint8_t>(lo >> (56 - 8 * i));
    }
    return a;
}

}  // namespace

OtAssetTable::OtAssetTable(uint32_t capacity) : capacity_(std::max<uint32_t>(capacity, 1)) {
    uint32_t slots = 2;
    while (slots < 2ull * capacity_) slots <<= 1;
    mask_ = slots - 1;
    slots_ = std::make_unique<Slot[]>(slots);
}

uint32_t OtAssetTable::insert(const IpAddr& addr, uint32_t roles, uint64_t ts_ns) {
    const uint64_t hi = addr.hi(), lo = addr.lo();
    uint32_t i = static_cast<uint32_t>(mix(hi, lo)) & mask_;
    for (uint32_t probes = 0; probes <= mask_; ++probes, i = (i + 1) & mask_) {
        Slot& s = slots_[i];
        if (!s.used.load(std::memory_order_relaxed)) {
            if (used_.load(std::memory_order_relaxed) >= capacity_) break;
            s.hi.store(hi, std::memory_order_relaxed);
            s.lo.store(lo, std::memory_order_relaxed);
            s.roles.store(roles, std::memory_order_relaxed);
            s.first_ns.store(ts_ns, std::memory_order_relaxed);
            s.last_ns.store(ts_ns, std::memory_order_relaxed);
            s.used.store(1, std::memory_order_release);
            used_.store(used_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
            return i;
        }
        if (s.hi.load(std::memory_order_relaxed) == hi && s.lo.load(std::memory_order_relaxed) == lo) {
            add_roles(i, roles);
            touch(i, ts_ns);
            return i;
        }
    }
    dropped_.store(dropped_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    return kNone;
}

void OtAssetTable::touch(uint32_t slot, uint64_t ts_ns) {
    if (slot == kNone) return;
    Slot& s = slots_[slot];
    if (ts_ns > s.last_ns.load(std::memory_order_relaxed)) s.last_ns.store(ts_ns, std::memory_order_relaxed);
    if (ts_ns < s.first_ns.load(std::memory_order_relaxed)) s.first_ns.store(ts_ns, std::memory_order_relaxed);
}

void OtAssetTable::add_roles(uint32_t slot, uint32_t roles) {
    if (slot == kNone) return;
    Slot& s = slots_[slot];
    const uint32_t r = s.roles.load(std::memory_order_relaxed);
    if ((r | roles) != r) s.roles.store(r | roles, std::memory_order_relaxed);
}

void OtAssetTable::set_mac(uint32_t slot, const uint8_t mac[6]) {
    if (slot == kNone) return;
    uint64_t v = 1ull << 63;
    for (int i = 0; i < 6; ++i) v |= uint64_t{mac[i]} << (40 - 8 * i);
    slots_[slot].mac.store(v, std::memory_order_relaxed);
}

void OtAssetTable::snapshot(std::vector<OtAsset>& out) const {
    for (uint32_t i = 0; i <= mask_; ++i) {
        const Slot& s = slots_[i];
        if (!s.used.load(std::memory_order_acquire)) continue;
        OtAsset a;
        a.addr = from_words(s.hi.load(std::memory_order_relaxed), s.lo.load(std::memory_order_relaxed));
        a.roles = s.roles.load(std::memory_order_relaxed);
        a.first_ns = s.first_ns.load(std::memory_order_relaxed);
        a.last_ns = s.last_ns.load(std::memory_order_relaxed);
        const uint64_t m = s.mac.load(std::memory_order_relaxed);
        a.has_mac = (m >> 63) != 0;
        for (int k = 0; k < 6; ++k) a.mac[k] = static_cast<uint8_t>(m >> (40 - 8 * k));
        out.push_back(a);
    }
}

std::vector<OtAsset> merge_assets(std::span<const OtAssetTable* const> tables) {
    std::vector<OtAsset> all;
    for (const OtAssetTable* t : tables)
        if (t) t->snapshot(all);
    std::map<IpAddr, OtAsset> by_addr;
    for (const OtAsset& a : all) {
        auto [it, fresh] = by_addr.emplace(a.addr, a);
        if (fresh) continue;
        OtAsset& m = it->second;
        m.roles |= a.roles;
        m.first_ns = std::min(m.first_ns, a.first_ns);
        if (a.last_ns > m.last_ns) {
            m.last_ns = a.last_ns;
            if (a.has_mac) {  // the most recent sighting's MAC
                m.has_mac = true;
                std::copy(a.mac, a.mac + 6, m.mac);
            }
        }
        if (!m.has_mac && a.has_mac) {
            m.has_mac = true;
            std::copy(a.mac, a.mac + 6, m.mac);
        }
    }
    std::vector<OtAsset> out;
    out.reserve(by_addr.size());
    for (auto& [addr, a] : by_addr) out.push_back(a);
    return out;
}

void write_assets_json(JsonWriter& w, std::span<const OtAsset> assets) {
    w.begin_array();
    for (const OtAsset& a : assets) {
        char buf[64];
        const size_t n = a.addr.format(buf, sizeof buf);
        w.begin_object().kv("address", std::string_view(buf, n));
        if (a.has_mac) {
            char mac[18];
            static constexpr char hex[] = "0123456789abcdef";
            for (int i = 0; i < 6; ++i) {
                mac[3 * i] = hex[a.mac[i] >> 4];
                mac[3 * i + 1] = hex[a.mac[i] & 15];
                mac[3 * i + 2] = ':';
            }
            w.kv("mac", std::string_view(mac, 17));
        }
        w.begin_array("protocols");
        for (size_t p = 0; p < kPolicyProtoCount; ++p)
            if (a.roles & (ot_role_bit(static_cast<int>(p), false) | ot_role_bit(static_cast<int>(p), true)))
                w.value(to_string(kPolicyProtos[p]));
        w.end_array();
        w.begin_object("roles");
        for (int server = 0; server < 2; ++server) {
            w.begin_array(server ? "server" : "client");
            for (size_t p = 0; p < kPolicyProtoCount; ++p)
                if (a.roles & ot_role_bit(static_cast<int>(p), server != 0)) w.value(to_string(kPolicyProtos[p]));
            w.end_array();
        }
        w.end_object();
        char t[32];
        format_eve_time(a.first_ns, t);
        w.kv("first_seen", std::string_view(t, 31));
        format_eve_time(a.last_ns, t);
        w.kv("last_seen", std::string_view(t, 31));
        w.end_object();
    }
    w.end_array();
}

OtAssetCounts count_assets(std::span<const OtAsset> assets) {
    OtAssetCounts c;
    for (const OtAsset& a : assets)
        for (size_t p = 0; p < kPolicyProtoCount; ++p) {
            if (a.roles & ot_role_bit(static_cast<int>(p), false)) ++c.client[p];
            if (a.roles & ot_role_bit(static_cast<int>(p), true)) ++c.server[p];
        }
    return c;
}

}  // namespace sluice
