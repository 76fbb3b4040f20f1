// Test support for the SMB decoder tests: an SmbEventSink that records every
// event, keeps each finished file's content and hashes, and an SHA-256 helper.
#pragma once

#include <openssl/evp.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "detectors/smb/smb_decoder.hpp"
#include "detectors/smb/smb_eve.hpp"

namespace sluice::test {

inline std::string sha256_hex_of(std::span<const uint8_t> data) {
    std::array<uint8_t, 32> d{};
    unsigned int len = 0;
    EVP_Digest(data.data(), data.size(), d.data(), &len, EVP_sha256(), nullptr);
    char hex[64];
    sha256_hex(d, hex);
    return std::string(hex, 64);
}

// The SHA-256 an assembled file carries, as hex.
inline std::string sha256_hex_of(const AssembledFile& f) {
    char hex[64];
    sha256_hex(f.sha256, hex);
    return std::string(hex, 64);
}

struct CarvedFile {
    uint64_t uid = 0;
    uint64_t tx_id = 0;
    FileDirection direction = FileDirection::upload;
    std::string share;
    std::string filename;
    SmbFileId file_id;
    FileState state = FileState::truncated;
    uint64_t size = 0;
    bool gaps = false;
    bool content_truncated = false;
    std::string sha256;         // hash the assembler computed (covers sha256_bytes)
    uint64_t sha256_bytes = 0;
    std::string magic;
    FileContent::Kind kind = FileContent::Kind::none;
    std::vector<uint8_t> content;  // read back from memory or the spill file
    bool spill_existed = false;
};

class RecordingSink : public SmbEventSink {
public:
    void on_file_opened(const SmbFileOpened& e) override {
        opened.push_back({e.file_uid, std::string(e.filename), std::string(e.share), e.direction, e.known_size});
    }
    void on_file_finished(FileInfo& info) override {
        CarvedFile f;
        f.uid = info.file.file_uid;
        f.tx_id = info.tx_id;
        f.direction = info.direction;
        f.share = info.share;
        f.filename = info.filename;
        f.file_id = info.file_id;
        f.state = info.file.state;
        f.size = info.file.size;
        f.gaps = info.file.gaps;
        f.content_truncated = info.file.content_truncated;
        char hex[64];
        sha256_hex(info.file.sha256, hex);
        f.sha256.assign(hex, 64);
        f.sha256_bytes = info.file.sha256_bytes;
        f.magic = info.file.magic;
        f.kind = info.file.content.kind();
        if (f.kind == FileContent::Kind::spill) f.spill_existed = access(info.file.content.path().c_str(), F_OK) == 0;
        if (keep_content) info.file.content.read_all(&f.content);
        char buf[4096];
        JsonWriter w(buf, sizeof buf);
        w.begin_object();
        write_fileinfo_eve(w, info);
        w.end_object();
        fileinfo_json.emplace_back(w.view());
        files.push_back(std::move(f));
    }
    void on_session(const SmbSessionEvent& e) override { sessions.push_back(e); }
    void on_smb_transaction(const SmbTransaction& tx) override {
        ++transactions;
        if (tx.share_is_pipe && !tx.filename.empty()) pipe_names.emplace_back(tx.filename);
        if (keep_tx_json) {
            char buf[2048];
            JsonWriter w(buf, sizeof buf);
            w.begin_object();
            write_smb_eve(w, tx);
            w.end_object();
            tx_json.emplace_back(w.view());
        }
    }
    void on_anomaly(SmbAnomaly a, Direction) override { anomalies.push_back(a); }

    struct Opened {
        uint64_t uid;
        std::string filename;
        std::string share;
        FileDirection direction;
        uint64_t known_size;
    };
    bool keep_content = true;
    bool keep_tx_json = false;
    std::vector<Opened> opened;
    std::vector<CarvedFile> files;
    std::vector<std::string> fileinfo_json;
    std::vector<SmbSessionEvent> sessions;
    std::vector<std::string> pipe_names;
    std::vector<std::string> tx_json;
    std::vector<SmbAnomaly> anomalies;
    size_t transactions = 0;
};

}  // namespace sluice::test
