// Test support for the app-layer parsers: a sink that copies every emitted
// transaction (buffers, stage, EVE object) so tests can compare runs.
#pragma once

#include <array>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "dataplane/json_writer.hpp"
#include "detectors/applayer/applayer.hpp"

namespace sluice::test {

struct TxCopy {
    AppProto proto = AppProto::unknown;
    Direction dir = Direction::to_server;
    uint64_t tx_id = 0;
    AppTxStage stage = AppTxStage::whole;
    std::map<std::string, std::string> buffers;  // buffer name -> bytes
    std::string eve;                             // {"http":{...}} etc.

    bool has(AppBuffer b) const { return buffers.count(std::string(to_string(b))) != 0; }
    std::string get(AppBuffer b) const {
        auto it = buffers.find(std::string(to_string(b)));
        return it == buffers.end() ? std::string("<absent>") : it->second;
    }
    bool operator==(const TxCopy&) const = default;
};

inline std::string describe(const TxCopy& t) {
    std::ostringstream o;
    o << to_string(t.proto) << " " << to_string(t.dir) << " tx " << t.tx_id << " " << to_string(t.stage) << "\n";
    for (const auto& [k, v] : t.buffers) o << "  " << k << " = [" << v << "]\n";
    o << "  eve " << t.eve << "\n";
    return o.str();
}

class RecordingSink final : public AppTransactionSink {
public:
    void on_transaction(const AppTransaction& tx, AppTxStage stage) override {
        TxCopy c;
        c.proto = tx.proto;
        c.dir = tx.dir;
        c.tx_id = tx.tx_id;
        c.stage = stage;
        for (size_t i = 0; i < kAppBufferCount; ++i) {
            if (!tx.present[i]) continue;
            c.buffers[std::string(kAppBufferNames[i])] =
                std::string(reinterpret_cast<const char*>(tx.buffers[i].data()), tx.buffers[i].size());
        }
        if (tx.write_eve) {
            std::vector<char> buf(1 << 16);
            JsonWriter w(buf.data(), buf.size());
            w.begin_object();
            tx.write_eve(w, tx.eve_ctx);
            w.end_object();
            c.eve = w.overflowed() ? "<overflow>" : std::string(w.view());
        }
        txs.push_back(std::move(c));
    }
    std::vector<TxCopy> txs;

    std::vector<TxCopy> only(Direction d, std::optional<AppTxStage> s = std::nullopt) const {
        std::vector<TxCopy> out;
        for (const auto& t : txs)
            if (t.dir == d && (!s || t.stage == *s)) out.push_back(t);
        return out;
    }
};

inline std::span<const uint8_t> bytes_of(std::string_view s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace sluice::test
