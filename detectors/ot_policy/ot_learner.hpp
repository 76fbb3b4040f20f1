// OtLearner: learn mode of the OT policy (issue 4 part 5, `--learn FILE`).
// Each worker records every OT request it sees as one learned operation per
// (client, server, protocol, function, access, unit), with the address ranges
// it touched (adjacent and overlapping ranges merged; beyond
// ot-policy.learn-max-ranges per operation the two closest ranges are joined)
// and whether it was seen without an address. The table is fixed-capacity
// (ot-policy.learn-max-entries operations, allocated once when learning is
// on, about 180 bytes each with 8 ranges); operations beyond it are counted,
// not stored, and the written policy says it is incomplete.
//
// At exit the management side merges every worker's learner
// (merge_learned) and renders a policy file (render_learned_policy) that
// OtPolicy::parse reads back: clients with identical rights share a rule,
// servers with identical rights from the same clients share a rule, and sets
// of more than one address become asset groups. Enforcing that policy on the
// same traffic allows every request.
// Thread rules: observe() on the owning worker; collect() only once the
// worker has stopped (no locks anywhere).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "dataplane/ip_addr.hpp"
#include "detectors/app_record.hpp"
#include "detectors/ot_policy/ot_policy.hpp"

namespace sluice {

// One learned operation (the management side's form).
struct LearnedOperation {
    IpAddr client;
    IpAddr server;
    int proto_index = 0;
    std::string function;
    uint32_t code = 0;
    OtAccess access = OtAccess::other;
    bool has_unit = false;
    uint32_t unit = 0;
    bool no_address = false;          // seen without an address
    std::vector<OtRange> ranges;      // sorted, disjoint
    uint64_t requests = 0;
};

class OtLearner {
public:
    OtLearner(uint32_t max_entries, uint32_t max_ranges);
    ~OtLearner();

    void observe(const IpAddr& client, const IpAddr& server, int proto_index, const OtOperation& op, uint64_t ts_ns);

    uint64_t entries() const { return used_; }
    uint64_t requests() const { return requests_; }
    uint64_t dropped() const { return dropped_; }      // requests of operations that found no room
    uint64_t first_ns() const { return first_ns_; }
    uint64_t last_ns() const { return last_ns_; }
    uint32_t max_ranges() const { return max_ranges_; }
    void collect(std::vector<LearnedOperation>& out) const;

private:
    static constexpr size_t kNameMax = 48;
    struct Entry {
        uint64_t hash = 0;
        IpAddr client;
        IpAddr server;
        uint32_t code = 0;
        uint32_t unit = 0;
        uint64_t requests = 0;
        uint8_t proto_index = 0;
        uint8_t access = 0;
        uint8_t has_unit = 0;
        uint8_t no_address = 0;
        uint8_t name_len = 0;
        uint8_t nranges = 0;
        char name[kNameMax] = {};
    };

    void add_range(Entry& e, OtRange* ranges, uint32_t first, uint32_t last);

    uint32_t max_entries_;
    uint32_t max_ranges_;
    uint32_t mask_;
    std::unique_ptr<uint32_t[]> index_;   // slot -> entry + 1 (0 = empty)
    std::unique_ptr<Entry[]> entries_;
    std::unique_ptr<OtRange[]> ranges_;   // max_ranges_ per entry
    uint32_t used_ = 0;
    uint64_t requests_ = 0;
    uint64_t dropped_ = 0;
    uint64_t first_ns_ = 0;
    uint64_t last_ns_ = 0;
};

// Every learner's operations as one list: the same operation learned by
// several workers becomes one (ranges merged, capped at max_ranges).
std::vector<LearnedOperation> merge_learned(std::span<const OtLearner* const> learners, uint32_t max_ranges);

// What the header of a learned policy says.
struct LearnSummary {
    std::string generator;       // "sluice 0.1.0"
    std::string source;          // the capture or interfaces observed
    uint64_t requests = 0;
    uint64_t dropped = 0;        // requests whose operation found no room
    uint32_t max_entries = 0;
    uint64_t first_ns = 0;
    uint64_t last_ns = 0;
};

// The policy file text (YAML) for the learned operations.
std::string render_learned_policy(std::span<const LearnedOperation> ops, const LearnSummary& summary);

}  // namespace sluice
