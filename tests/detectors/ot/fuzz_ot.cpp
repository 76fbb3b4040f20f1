// Fuzz target: hostile packets through the worker's path into nDPI and the
// OT protocol decoders (decode, flow table, TCP reassembly, AppIdDetector,
// OtDetector). Input: frames, each a 2-byte big-endian length and the bytes.
#include <cstddef>
#include <cstdint>

#include "detectors/appid/appid_detector.hpp"
#include "detectors/ot/ot_detector.hpp"
#include "tests/detectors/appid/mini_worker.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace sluice;
    // One harness for the whole run: nDPI's module takes tens of milliseconds
    // to build. Every input ends all its flows (finish), so inputs stay apart.
    static test::MiniWorker& w = []() -> test::MiniWorker& {
        test::MiniWorkerOptions opt;
        opt.flow_capacity = 64;
        opt.burst = 4;
        static test::MiniWorker worker(opt);
        AppIdConfig cfg;
        cfg.max_flows_in_detection = 4;
        worker.add<AppIdDetector>(cfg);
        OtConfig ot;
        ot.modbus_max_pending_transactions = 2;
        ot.dnp3_max_fragment_size = 249;
        ot.s7comm_max_pdu_size = 240;
        worker.add<OtDetector>(ot);
        return worker;
    }();
    uint64_t ts = 1700000000ull * 1000000000ull;
    size_t pos = 0;
    while (pos + 2 <= size) {
        const size_t len = (size_t{data[pos]} << 8) | data[pos + 1];
        pos += 2;
        const size_t n = len < size - pos ? len : size - pos;
        ts += 1000000;
        w.frame(data + pos, static_cast<uint32_t>(n), ts);
        pos += n;
    }
    w.finish();
    w.events.clear();
    w.records.clear();
    return 0;
}
