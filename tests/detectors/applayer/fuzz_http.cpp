// Fuzz target for HttpParser: a scripted conversation (fuzz_applayer_support.hpp);
// the first byte picks chunking, gaps and small limits.
#include "detectors/applayer/http_parser.hpp"
#include "tests/detectors/applayer/fuzz_applayer_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace sluice;
    if (size < 1) return 0;
    const uint8_t ctrl = data[0];
    AppLayerConfig cfg;
    if (ctrl & 0x40) {
        cfg.http_request_body_limit = 64;
        cfg.http_response_body_limit = 100;
        cfg.http_max_header_line = 256;
        cfg.http_max_header_bytes = 1024;
        cfg.http_max_headers = 8;
        cfg.http_max_pending_requests = 2;
    }
    AppLayerContext ctx(cfg);
    fuzz::TouchingSink sink;
    HttpParser parser(ctx, sink);
    const auto segs = fuzz::split_script({data + 1, size - 1});
    fuzz::feed_script(parser, segs, (ctrl & 0x0f) == 0 ? 0 : (ctrl & 0x0f), (ctrl & 0x80) != 0);
    // Memory stays within what the limits allow.
    const size_t bound = 2 * (size_t{cfg.http_max_header_bytes} + 2 * cfg.http_response_body_limit + 4096 +
                              48 * 1024) +
                         cfg.http_max_pending_requests * 1200;
    if (parser.memory_bytes() > 2 * bound) __builtin_trap();
    return 0;
}
