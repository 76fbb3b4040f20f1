// Fuzz target for DNS: the first byte picks UDP (the rest is one datagram, also
// decoded directly) or TCP (a scripted conversation of length-prefixed messages).
#include "detectors/applayer/dns_parser.hpp"
#include "tests/detectors/applayer/fuzz_applayer_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace sluice;
    if (size < 1) return 0;
    const uint8_t ctrl = data[0];
    const std::span<const uint8_t> rest(data + 1, size - 1);
    AppLayerConfig cfg;
    if (ctrl & 0x40) cfg.dns_max_records = 2;
    AppLayerContext ctx(cfg);
    fuzz::TouchingSink sink;
    DnsParser parser(ctx, sink);
    if ((ctrl & 1) == 0) {
        DnsMessage m;
        ctx.scratch().reset();
        (void)decode_dns_message(rest, m, ctx.scratch(), cfg.dns_max_records);
        for (size_t i = 0; i < m.question_count; ++i)
            if (m.questions[i].name.size() > kDnsMaxNameLength) __builtin_trap();
        parser.on_datagram(Direction::to_server, rest);
        parser.on_datagram(Direction::to_client, rest);
    } else {
        fuzz::feed_script(parser, fuzz::split_script(rest), (ctrl >> 1) & 0x0f, (ctrl & 0x80) != 0);
        if (parser.memory_bytes() > 2 * (size_t{cfg.dns_max_tcp_message} + 2)) __builtin_trap();
    }
    return 0;
}
