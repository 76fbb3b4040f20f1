// OtPolicy: the compiled OT allow-list (issue 4 part 4). A policy file (YAML,
// docs/ot-policy.md) names asset groups, zones with the action taken on
// anything not allowed (alert, drop-packet, drop-flow, reject, or allow = not
// judged), and an ordered list of rules; the first rule that matches a request
// decides (allow, or deny), and a request no rule matches is denied with its
// zone's action. A rule matches on client and server addresses (the flow's
// roles), OT protocol, function names or codes, access classes, unit ids and
// address ranges (an AppRecord's OtOperation, detectors/app_record.hpp).
//
// OtPolicy::parse/load_file compile the text once, on the management thread,
// into an immutable object shared by every worker through the
// DetectionSnapshot; errors are one line "file:line:col: what is wrong".
// Workers call zone_of()/candidates() once per flow and decide() per request;
// none of them allocates.
// Thread rules: immutable after compile; safe to read from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/address_spec.hpp"
#include "dataplane/ip_addr.hpp"
#include "dataplane/result.hpp"
#include "detectors/app_proto.hpp"
#include "detectors/app_record.hpp"

namespace sluice {

// The OT protocols the policy judges, as a dense index (bit masks, tables).
inline constexpr AppProto kPolicyProtos[] = {AppProto::modbus, AppProto::s7comm, AppProto::dnp3, AppProto::iec104,
                                         AppProto::enip};
inline constexpr size_t kPolicyProtoCount = std::size(kPolicyProtos);
inline constexpr uint8_t kAllPolicyProtos = (1u << kPolicyProtoCount) - 1;

// Index of an OT protocol in kPolicyProtos, or -1.
constexpr int policy_proto_index(AppProto p) {
    for (size_t i = 0; i < kPolicyProtoCount; ++i)
        if (kPolicyProtos[i] == p) return static_cast<int>(i);
    return -1;
}

// What happens to a request that is not allowed.
enum class OtAction : uint8_t {
    allow,        // not judged at all (a zone that is only watched)
    alert,        // an alert; the traffic passes (ids and ips)
    drop_packet,  // alert + drop the packet (UDP; acts as drop_flow on TCP, see docs)
    drop_flow,    // alert + drop the flow from this packet on
    reject,       // alert + drop the flow and reset it
    count
};
std::string_view to_string(OtAction a);     // "drop-flow" (as written in the policy)
std::string_view eve_name(OtAction a);      // "drop_flow" (as written in EVE)
Result<OtAction> parse_ot_action(std::string_view text);

// A closed interval of unit ids or addresses.
struct OtRange {
    uint32_t first = 0;
    uint32_t last = 0;
};
// Sorts `r` and joins overlapping and adjacent ranges.
void merge_ranges(std::vector<OtRange>& r);

// Unit ids or addresses a rule allows: any, or the listed ranges, plus
// operations that carry none when `none` is listed.
struct OtValueSet {
    bool any = true;
    bool none = false;                // an operation without the field matches
    std::vector<OtRange> ranges;      // sorted, merged
    bool matches(bool has, uint32_t first, uint32_t last) const;
};

struct OtRule {
    std::string name;                 // given, or "rule-N" (1-based)
    std::string where;                // "file:line"
    bool deny = false;
    IpRangeSet clients;               // finalized
    IpRangeSet servers;
    std::string clients_text;         // as written, for messages
    std::string servers_text;
    uint8_t protocols = kAllPolicyProtos; // bit per kPolicyProtos index
    bool any_function = true;
    std::vector<std::string> function_names;
    std::vector<uint32_t> function_codes;
    uint8_t access = 0x3f;            // bit per OtAccess
    OtValueSet units;
    OtValueSet addresses;

    // The operation part only (protocol, function, access, unit, address).
    bool matches_operation(const OtOperation& op) const;
};

struct OtZone {
    std::string name;
    std::string where;
    IpRangeSet addresses;
    OtAction action = OtAction::alert;
};

// The outcome for one request.
struct OtDecision {
    bool allowed = false;
    int rule = -1;  // the rule that decided (allow or deny), -1: none matched
};

// Bounds on what a policy may hold (rules + zones + asset groups).
struct OtPolicyLimits {
    uint32_t max_items = 65536;
    size_t max_file_bytes = 16u << 20;
};

class OtPolicy {
public:
    // Compiles a policy text; `name` stands for the file in messages. Asset
    // groups are added to `address_groups` (the configuration's variables), so
    // specs may use "$NAME" of either.
    static Result<std::shared_ptr<const OtPolicy>> parse(std::string_view text, std::string_view name,
                                                         const VarMap& address_groups, const OtPolicyLimits& limits = {});
    static Result<std::shared_ptr<const OtPolicy>> load_file(const std::string& path, const VarMap& address_groups,
                                                             const OtPolicyLimits& limits = {});

    // Unique for every compiled policy of this process (per-flow caches key on it).
    uint64_t id() const { return id_; }
    const std::string& source() const { return source_; }
    OtAction default_action() const { return default_action_; }
    std::span<const OtRule> rules() const { return rules_; }
    std::span<const OtZone> zones() const { return zones_; }

    // The zone of a flow: the first zone holding the server, else the first
    // holding the client; -1: none (default-action applies).
    int zone_of(const IpAddr& client, const IpAddr& server) const;
    OtAction action_of(int zone) const { return zone < 0 ? default_action_ : zones_[static_cast<size_t>(zone)].action; }
    std::string_view zone_name(int zone) const;

    // The rules that can apply to a flow of protocol `proto_index` between
    // client and server, in order, into `out`; returns how many there are in
    // all (when more than out.size(), `out` holds the first ones only and the
    // caller decides with the full scan instead).
    size_t candidates(const IpAddr& client, const IpAddr& server, int proto_index, std::span<uint32_t> out) const;
    // Decides among candidate rules (from candidates()).
    OtDecision decide(std::span<const uint32_t> candidates, const OtOperation& op) const;
    // Decides with every rule (tests, flows with too many candidates).
    OtDecision decide(const IpAddr& client, const IpAddr& server, int proto_index, const OtOperation& op) const;

private:
    OtPolicy() = default;

    uint64_t id_ = 0;
    std::string source_;
    OtAction default_action_ = OtAction::alert;
    std::vector<OtRule> rules_;
    std::vector<OtZone> zones_;
    std::vector<uint32_t> by_proto_[kPolicyProtoCount];  // rule indices per protocol, in order

    friend class OtPolicyCompiler;
};

// S7comm units are `area << 16 | DB number`: "DB1", "DI3", "M", "I", "Q",
// "C", "T", "P", "L" (and the area names the decoder uses) are accepted in
// policies and written by the learner. Returns false when `text` is none.
bool parse_s7_unit(std::string_view text, uint32_t& unit);
// "DB1", "M", ..., or "" when the area has no name.
std::string format_s7_unit(uint32_t unit);

// Function names that stand for several codes (Modbus user-defined, S7
// userdata groups, CIP class-specific services, unknown ones): the learner
// writes their codes instead of the name.
bool ot_function_name_is_generic(AppProto proto, std::string_view name, uint32_t code);

}  // namespace sluice
