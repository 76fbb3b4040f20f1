// OtAssetTable: the OT asset inventory of one worker (issue 4 part 6): every
// address seen as a client or server of an OT protocol, with its Ethernet
// address when the frames carry one, the protocols and roles it was seen in,
// and the first and last time. A fixed-capacity open-addressing table
// allocated once (ot-policy.max-assets entries, 64 bytes each); when it is
// full new assets are counted, not stored. Entries are never removed.
//
// The owning worker inserts and updates; the management thread reads at any
// time (metrics, `sluice ctl assets`) without locks: every field is a relaxed
// atomic word and an entry is published by a release store of its address, so
// a reader sees whole addresses and, at worst, a last-seen time a moment old.
// merge_assets() folds every worker's table into one list (an address met by
// several workers becomes one asset).
// Thread rules: insert()/touch()/set_mac() on the owning worker only;
// snapshot() and the counters from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "dataplane/ip_addr.hpp"
#include "detectors/ot_policy/ot_policy.hpp"

namespace sluice {

class JsonWriter;

// Role bits of an asset: bit (2 * proto_index) client, bit (2 * proto_index + 1) server.
constexpr uint32_t ot_role_bit(int proto_index, bool server) {
    return 1u << (2 * static_cast<unsigned>(proto_index) + (server ? 1u : 0u));
}

struct OtAsset {
    IpAddr addr;
    bool has_mac = false;
    uint8_t mac[6] = {};
    uint32_t roles = 0;      // ot_role_bit()s
    uint64_t first_ns = 0;
    uint64_t last_ns = 0;
};

class OtAssetTable {
public:
    static constexpr uint32_t kNone = 0xFFFFFFFFu;

    explicit OtAssetTable(uint32_t capacity);

    // The slot of `addr` (inserted when new), with `roles` added and the time
    // seen; kNone when the table is full.
    uint32_t insert(const IpAddr& addr, uint32_t roles, uint64_t ts_ns);
    void touch(uint32_t slot, uint64_t ts_ns);
    void add_roles(uint32_t slot, uint32_t roles);
    void set_mac(uint32_t slot, const uint8_t mac[6]);

    uint32_t capacity() const { return capacity_; }
    uint64_t size() const { return used_.load(std::memory_order_relaxed); }
    uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
    // Every asset stored now (any thread).
    void snapshot(std::vector<OtAsset>& out) const;

private:
    struct Slot {
        std::atomic<uint64_t> hi{0}, lo{0};     // the address (IpAddr::hi/lo)
        std::atomic<uint32_t> used{0};          // 1 once hi/lo are written (release)
        std::atomic<uint32_t> roles{0};
        std::atomic<uint64_t> mac{0};           // bit 63: present; low 48 bits: the address
        std::atomic<uint64_t> first_ns{0};
        std::atomic<uint64_t> last_ns{0};
    };

    uint32_t capacity_;
    uint32_t mask_;
    std::unique_ptr<Slot[]> slots_;
    std::atomic<uint64_t> used_{0};
    std::atomic<uint64_t> dropped_{0};
};

// One list from several workers' tables: addresses merged (roles or'ed, the
// earliest first and latest last time, a MAC from any), sorted by address.
std::vector<OtAsset> merge_assets(std::span<const OtAssetTable* const> tables);

// `sluice ctl assets`: [{"address", "mac", "protocols": [...], "roles": {"client": [...],
// "server": [...]}, "first_seen", "last_seen"}, ...].
void write_assets_json(JsonWriter& w, std::span<const OtAsset> assets);

// Number of assets with role client or server of each protocol.
struct OtAssetCounts {
    uint64_t client[kPolicyProtoCount] = {};
    uint64_t server[kPolicyProtoCount] = {};
};
OtAssetCounts count_assets(std::span<const OtAsset> assets);

}  // namespace sluice
