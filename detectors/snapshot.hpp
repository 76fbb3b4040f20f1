// DetectionSnapshot: the immutable detection state every worker uses (the
// L3/L4 filter now; compiled rules and the OT policy as they arrive), built on
// the management thread and published by pointer swap (DESIGN: "Configuration
// and compiled detection state are immutable snapshots"). Workers compare the
// generation once per burst (one relaxed load); on a change they take the new
// snapshot (the only lock, once per reload, never per packet) and acknowledge
// it. The publisher keeps the previous snapshot alive until every worker has
// acknowledged the new one, so the old state is never freed on a worker.
// Thread rules: publish() on the management thread; current()/ack() on workers.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "dataplane/filter.hpp"

namespace sluice {

class RuleSet;
class ScanService;
class OtPolicy;

struct DetectionSnapshot {
    uint64_t generation = 0;
    std::shared_ptr<const L4Filter> filter;
    std::shared_ptr<const RuleSet> rules;  // null: no signatures loaded
    std::shared_ptr<const OtPolicy> ot_policy;  // null: no OT policy (detectors/ot_policy)
    // The ClamAV scanning service (detectors/malware), null when malware
    // scanning is off. Made once by the Runtime and carried over unchanged by
    // reloads (a reload swaps its database, not the service); workers submit
    // through their own ScanPort, which is why it is not const.
    std::shared_ptr<ScanService> scanner;
};

class SnapshotPublisher {
public:
    explicit SnapshotPublisher(unsigned workers) : acks_(workers) {
        for (auto& a : acks_) a.store(0, std::memory_order_relaxed);
    }

    // Publishes `next` (its generation is set here) and returns that generation.
    uint64_t publish(std::shared_ptr<DetectionSnapshot> next) {
        std::lock_guard lock(mu_);
        next->generation = generation_.load(std::memory_order_relaxed) + 1;
        previous_ = std::move(current_);
        current_ = std::move(next);
        generation_.store(current_->generation, std::memory_order_release);
        return current_->generation;
    }
    uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
    std::shared_ptr<const DetectionSnapshot> current() const {
        std::lock_guard lock(mu_);
        return current_;
    }
    void ack(unsigned worker, uint64_t generation) { acks_[worker].store(generation, std::memory_order_release); }
    bool all_acked(uint64_t generation) const {
        for (const auto& a : acks_)
            if (a.load(std::memory_order_acquire) < generation) return false;
        return true;
    }
    // Frees the previous snapshot once every worker runs the current one.
    void release_previous() {
        std::lock_guard lock(mu_);
        if (previous_ && all_acked(generation_.load(std::memory_order_relaxed))) previous_.reset();
    }

private:
    mutable std::mutex mu_;
    std::shared_ptr<const DetectionSnapshot> current_;
    std::shared_ptr<const DetectionSnapshot> previous_;
    std::atomic<uint64_t> generation_{0};
    std::vector<std::atomic<uint64_t>> acks_;
};

}  // namespace sluice
