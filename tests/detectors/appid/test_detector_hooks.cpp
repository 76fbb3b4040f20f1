// hooks_of<D>(): the worker calls a detector only for the hooks its class
// overrides. The detection must never miss an override (that detector would
// silently stop seeing traffic); a false positive only costs a call.
#include <gtest/gtest.h>

#include "detectors/detector.hpp"

namespace sluice {
namespace {

struct Nothing final : Detector {};

struct Records final : Detector {
    void on_record(StreamContext&, const AppRecord&) override {}
    void classify(std::span<PacketRef* const>) override {}
};

// An override in a class between Detector and the detector counts.
struct Middle : Detector {
    void on_stream_gap(StreamContext&, Direction, uint64_t, uint64_t) override {}
    void write_flow_event(const Flow&, JsonWriter&) override {}
};
struct Derived final : Middle {
    void inspect(std::span<PacketRef* const>) override {}
};

// An unrelated on_record hides the hook's name: counted (a harmless call),
// even though Hiding itself does not override the hook...
struct Hiding final : Detector {
    void on_record(int) {}
};
// ... because a class in between may: the name lookup cannot tell them apart.
struct HidingOverride final : Detector {
    void on_transaction(StreamContext&, const AppTransaction&) override {}
};
struct MiddleRecord : Detector {
    void on_record(StreamContext&, const AppRecord&) override {}
};
struct HidesMiddle final : MiddleRecord {
    void on_record(int) {}
};

// Two overloads in the class: ambiguous, counted.
struct Overloads final : Detector {
    void on_transaction(StreamContext&, const AppTransaction&) override {}
    void on_transaction(int) {}
};

TEST(DetectorHooks, OnlyWhatTheClassOverrides) {
    static_assert(hooks_of<Nothing>() == 0);
    static_assert(hooks_of<Records>() == (hook::record | hook::classify));
    static_assert(hooks_of<Derived>() == (hook::stream | hook::flow_event | hook::inspect));
    static_assert(hooks_of<HidingOverride>() == hook::transaction);
    EXPECT_EQ(hooks_of<Records>() & hook::stream, 0u);
}

TEST(DetectorHooks, NeverMissesAnOverride) {
    static_assert(hooks_of<Hiding>() == hook::record);
    static_assert(hooks_of<HidesMiddle>() == hook::record);  // MiddleRecord's override is live
    static_assert(hooks_of<Overloads>() == hook::transaction);
    EXPECT_EQ(hooks_of<HidesMiddle>(), hook::record);
}

}  // namespace
}  // namespace sluice
