// Test support for the OT policy tests: the OT records of a real capture, as
// the protocol decoders make them (each TCP connection and UDP flow goes to
// the decoder of its server port: 502 Modbus, 102 S7comm, 20000 DNP3, 2404
// IEC-104, 44818 EtherNet/IP; a connection picked up mid-stream with the port
// on the initiator's side is turned round), with the client and server.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "detectors/dnp3/dnp3_decoder.hpp"
#include "detectors/enip/enip_decoder.hpp"
#include "detectors/iec104/iec104_decoder.hpp"
#include "detectors/modbus/modbus_decoder.hpp"
#include "detectors/ot_policy/ot_policy.hpp"
#include "detectors/s7comm/s7comm_decoder.hpp"
#include "tests/support/pcap_streams.hpp"

namespace sluice::test {

struct CapturedRecord {
    IpAddr client;
    IpAddr server;
    AppProto proto = AppProto::unknown;
    int proto_index = -1;
    Direction dir = Direction::to_server;
    std::string function;  // owns the name; op.function points here (see ops())
    OtOperation op;
};

inline AppProto ot_proto_of_port(uint16_t port, uint8_t ip_proto) {
    switch (port) {
        case 502: return AppProto::modbus;
        case 102: return ip_proto == 6 ? AppProto::s7comm : AppProto::unknown;
        case 20000: return AppProto::dnp3;
        case 2404: return ip_proto == 6 ? AppProto::iec104 : AppProto::unknown;
        case 44818: return AppProto::enip;
        default: return AppProto::unknown;
    }
}

class CaptureRecorder : public AppRecordSink {
public:
    std::vector<CapturedRecord> records;

    // Reads `path`; false (with *error) when it cannot be read.
    bool read(const std::string& path, std::string* error = nullptr) {
        CaptureStreams h;
        h.on_tcp = [this](size_t conn, const Endpoints& ep, Direction dir, std::span<const uint8_t> data) {
            Conn* c = connection(conn, ep);
            if (!c) return;
            current_ = c;
            std::visit(
                [&](auto& d) {
                    if constexpr (!std::is_same_v<std::decay_t<decltype(d)>, std::monostate>) d.on_data(dir, data, *this);
                },
                c->dec);
        };
        h.on_udp = [this](const Endpoints& ep, Direction dir, std::span<const uint8_t> data) {
            const AppProto p = ot_proto_of_port(ep.server_port, 17);
            if (p == AppProto::unknown) return;
            auto key = std::make_tuple(ep.client, ep.server, ep.client_port, ep.server_port);
            auto it = udp_.find(key);
            if (it == udp_.end()) {
                auto c = std::make_unique<Conn>();
                c->ep = ep;
                c->proto = p;
                if (p == AppProto::modbus) c->dec.emplace<ModbusDecoder>(modbus_);
                else if (p == AppProto::dnp3) c->dec.emplace<Dnp3Decoder>(dnp3_);
                else if (p == AppProto::enip) c->dec.emplace<EnipDecoder>(enip_);
                it = udp_.emplace(key, std::move(c)).first;
            }
            Conn* c = it->second.get();
            current_ = c;
            if (auto* m = std::get_if<ModbusDecoder>(&c->dec)) m->on_datagram(dir, data, *this);
            else if (auto* d = std::get_if<Dnp3Decoder>(&c->dec)) d->on_datagram(dir, data, *this);
            else if (auto* e = std::get_if<EnipDecoder>(&c->dec)) e->on_datagram(dir, data, *this);
        };
        return read_capture(path, h, error);
    }

    void on_record(const AppRecord& r) override {
        CapturedRecord c;
        c.client = current_->ep.client;
        c.server = current_->ep.server;
        c.proto = r.proto;
        c.proto_index = policy_proto_index(r.proto);
        c.dir = r.dir;
        c.function = std::string(r.op.function);
        c.op = r.op;
        records.push_back(std::move(c));
    }

    // The records with op.function pointing at their own names.
    std::vector<CapturedRecord>& fixed() {
        for (auto& r : records) r.op.function = r.function;
        return records;
    }

private:
    struct Conn {
        Endpoints ep;            // client and server by the protocol's port
        bool reversed = false;   // the capture's initiator is the server
        AppProto proto = AppProto::unknown;
        std::variant<std::monostate, ModbusDecoder, S7commDecoder, Dnp3Decoder, Iec104Decoder, EnipDecoder> dec;
    };

    Conn* connection(size_t id, const Endpoints& ep) {
        auto it = tcp_.find(id);
        if (it != tcp_.end()) return it->second.get();
        AppProto p = ot_proto_of_port(ep.server_port, 6);
        auto c = std::make_unique<Conn>();
        c->ep = ep;
        if (p == AppProto::unknown) {
            // Picked up mid-stream: the side on the protocol's port is the server.
            p = ot_proto_of_port(ep.client_port, 6);
            c->reversed = p != AppProto::unknown;
            std::swap(c->ep.client, c->ep.server);
            std::swap(c->ep.client_port, c->ep.server_port);
        }
        c->proto = p;
        const Direction req = c->reversed ? Direction::to_client : Direction::to_server;
        switch (p) {
            case AppProto::modbus: c->dec.emplace<ModbusDecoder>(modbus_, req); break;
            case AppProto::s7comm: c->dec.emplace<S7commDecoder>(s7_); break;
            case AppProto::dnp3: c->dec.emplace<Dnp3Decoder>(dnp3_); break;
            case AppProto::iec104: c->dec.emplace<Iec104Decoder>(iec104_); break;
            case AppProto::enip: c->dec.emplace<EnipDecoder>(enip_, req); break;
            default: break;
        }
        Conn* raw = c.get();
        tcp_.emplace(id, std::move(c));
        return raw->proto == AppProto::unknown ? nullptr : raw;
    }

    ModbusContext modbus_;
    S7commContext s7_;
    Dnp3Context dnp3_;
    Iec104Context iec104_;
    EnipContext enip_;
    std::map<size_t, std::unique_ptr<Conn>> tcp_;
    std::map<std::tuple<IpAddr, IpAddr, uint16_t, uint16_t>, std::unique_ptr<Conn>> udp_;
    Conn* current_ = nullptr;
};

}  // namespace sluice::test
