#include "detectors/applayer/app_flow.hpp"

#include <algorithm>

#include "detectors/applayer/app_detect.hpp"

namespace sluice {

AppLayerFlow::AppLayerFlow(AppLayerContext& ctx, AppTransactionSink& sink, uint8_t ip_proto)
    : ctx_(ctx), sink_(sink), ip_proto_(ip_proto) {}

bool AppLayerFlow::start(AppProto proto) {
    if (!std::holds_alternative<std::monostate>(parser_)) return false;
    switch (proto) {
        case AppProto::http:
            if (ip_proto_ != 6) return false;
            parser_.emplace<HttpParser>(ctx_, sink_);
            break;
        case AppProto::tls:
            if (ip_proto_ != 6) return false;
            parser_.emplace<TlsParser>(ctx_, sink_);
            break;
        case AppProto::dns:
            if (ip_proto_ != 6 && ip_proto_ != 17) return false;
            parser_.emplace<DnsParser>(ctx_, sink_);
            break;
        default:
            return false;
    }
    proto_ = proto;
    replay_held();
    return true;
}

ParserState AppLayerFlow::state() const {
    if (proto_ == AppProto::failed) return ParserState::failed;
    return std::visit(
        [](const auto& p) {
            if constexpr (std::is_same_v<std::decay_t<decltype(p)>, std::monostate>) return ParserState::active;
            else return p.state();
        },
        parser_);
}

StreamConsumer* AppLayerFlow::stream() {
    if (auto* h = std::get_if<HttpParser>(&parser_)) return h;
    if (auto* t = std::get_if<TlsParser>(&parser_)) return t;
    if (auto* d = std::get_if<DnsParser>(&parser_)) return d;
    return nullptr;
}

void AppLayerFlow::replay_held() {
    for (const Direction d : {Direction::to_server, Direction::to_client}) {
        const unsigned i = index(d);
        if (!held_len_[i]) continue;
        const std::span<const uint8_t> bytes(held_[i].data(), held_len_[i]);
        held_len_[i] = 0;
        if (ip_proto_ == 17) {
            if (auto* dns = std::get_if<DnsParser>(&parser_)) dns->on_datagram(d, bytes);
        } else if (StreamConsumer* s = stream()) {
            s->on_data(d, held_offset_[i], bytes);
        }
    }
}

void AppLayerFlow::on_data(Direction dir, uint64_t offset, std::span<const uint8_t> data) {
    if (StreamConsumer* s = stream()) return s->on_data(dir, offset, data);
    if (proto_ != AppProto::unknown || ip_proto_ != 6) return;
    const unsigned i = index(dir);
    // Decide on the held bytes plus this chunk (the first 16 are enough).
    std::array<uint8_t, 16> probe{};
    size_t n = held_len_[i];
    std::copy_n(held_[i].begin(), n, probe.begin());
    const size_t add = std::min(data.size(), probe.size() - n);
    std::copy_n(data.begin(), add, probe.begin() + static_cast<std::ptrdiff_t>(n));
    n += add;
    const AppProbe p = probe_app_proto(std::span<const uint8_t>(probe.data(), n), ip_proto_, dir);
    if (p.proto != AppProto::unknown) {
        start(p.proto);  // replays what was held
        if (StreamConsumer* s = stream()) s->on_data(dir, offset, data);
        return;
    }
    if (!p.need_more || n == probe.size()) {
        proto_ = AppProto::failed;  // not a protocol parsed here
        return;
    }
    if (!held_len_[i]) held_offset_[i] = offset;
    held_[i] = probe;
    held_len_[i] = static_cast<uint8_t>(n);
}

void AppLayerFlow::on_gap(Direction dir, uint64_t offset, uint64_t len) {
    if (StreamConsumer* s = stream()) return s->on_gap(dir, offset, len);
    if (proto_ == AppProto::unknown) proto_ = AppProto::failed;  // cannot probe across a hole
}

void AppLayerFlow::on_end() {
    if (StreamConsumer* s = stream()) s->on_end();
}

void AppLayerFlow::on_datagram(Direction dir, std::span<const uint8_t> data) {
    if (auto* dns = std::get_if<DnsParser>(&parser_)) return dns->on_datagram(dir, data);
    if (proto_ != AppProto::unknown || ip_proto_ != 17) return;
    const AppProbe p = probe_app_proto(data, ip_proto_, dir);
    if (p.proto == AppProto::dns) {
        start(AppProto::dns);
        std::get<DnsParser>(parser_).on_datagram(dir, data);
    } else {
        proto_ = AppProto::failed;
    }
}

size_t AppLayerFlow::memory_bytes() const {
    return std::visit(
        [](const auto& p) -> size_t {
            if constexpr (std::is_same_v<std::decay_t<decltype(p)>, std::monostate>) return 0;
            else return p.memory_bytes();
        },
        parser_);
}

}  // namespace sluice
