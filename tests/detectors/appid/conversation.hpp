// Test support: a TCP connection or UDP exchange written packet by packet into
// a MiniWorker (handshake, data with correct sequence numbers, FIN), so
// detector tests state their traffic in a few lines. Addresses are in
// 198.18.0.0/15 (DESIGN: test addresses).
#pragma once

#include <string>

#include "tests/detectors/appid/mini_worker.hpp"
#include "tests/support/packet_builder.hpp"

namespace sluice::test {

class Conversation {
public:
    Conversation(MiniWorker& w, std::string client, uint16_t client_port, std::string server, uint16_t server_port,
                 uint8_t proto = 6)
        : w_(w) {
        c2s_.src = client;
        c2s_.dst = server;
        c2s_.sport = client_port;
        c2s_.dport = server_port;
        c2s_.proto = proto;
        s2c_ = c2s_;
        s2c_.src = server;
        s2c_.dst = client;
        s2c_.sport = server_port;
        s2c_.dport = client_port;
    }

    void handshake() {
        send(c2s_, tcpflag::syn, {}, cseq_, 0);
        ++cseq_;
        send(s2c_, tcpflag::syn | tcpflag::ack, {}, sseq_, cseq_);
        ++sseq_;
        send(c2s_, tcpflag::ack, {}, cseq_, sseq_);
    }
    void client(const std::string& payload) {
        send(c2s_, tcpflag::ack | tcpflag::psh, payload, cseq_, sseq_);
        cseq_ += static_cast<uint32_t>(payload.size());
    }
    void server(const std::string& payload) {
        send(s2c_, tcpflag::ack | tcpflag::psh, payload, sseq_, cseq_);
        sseq_ += static_cast<uint32_t>(payload.size());
    }
    void close() {
        send(c2s_, tcpflag::fin | tcpflag::ack, {}, cseq_, sseq_);
        ++cseq_;
        send(s2c_, tcpflag::fin | tcpflag::ack, {}, sseq_, cseq_);
        ++sseq_;
        send(c2s_, tcpflag::ack, {}, cseq_, sseq_);
    }
    uint64_t now() const { return ts_; }

private:
    void send(PacketSpec s, uint8_t flags, const std::string& payload, uint32_t seq, uint32_t ack) {
        s.tcp_flags = flags;
        s.seq = seq;
        s.ack = ack;
        s.payload = payload;
        const auto f = build_frame(s);
        ts_ += 1000000;  // 1 ms apart
        w_.frame(f.data(), static_cast<uint32_t>(f.size()), ts_);
    }

    MiniWorker& w_;
    PacketSpec c2s_, s2c_;
    uint32_t cseq_ = 1000, sseq_ = 70000;
    uint64_t ts_ = 1700000000ull * 1000000000ull;
};

inline std::string bytes(std::initializer_list<int> v) {
    std::string s;
    for (int b : v) s.push_back(static_cast<char>(b));
    return s;
}

}  // namespace sluice::test
