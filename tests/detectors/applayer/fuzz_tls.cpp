// Fuzz target for TlsParser: a scripted conversation (fuzz_applayer_support.hpp);
// the first byte picks chunking, gaps and a small handshake buffer.
#include "detectors/applayer/tls_parser.hpp"
#include "tests/detectors/applayer/fuzz_applayer_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace sluice;
    if (size < 1) return 0;
    const uint8_t ctrl = data[0];
    AppLayerConfig cfg;
    if (ctrl & 0x40) cfg.tls_max_handshake_bytes = 4096;
    AppLayerContext ctx(cfg);
    fuzz::TouchingSink sink;
    TlsParser parser(ctx, sink);
    fuzz::feed_script(parser, fuzz::split_script({data + 1, size - 1}), ctrl & 0x0f, (ctrl & 0x80) != 0);
    if (parser.sni().size() > kTlsMaxSni || parser.ja3_string().size() > kTlsMaxJa3String) __builtin_trap();
    if (parser.memory_bytes() > 2 * size_t{cfg.tls_max_handshake_bytes} + 64 * 1024) __builtin_trap();
    return 0;
}
