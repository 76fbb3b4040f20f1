// What the SMB decoder tells the worker: file transfers opened and finished
// (with the carved content), encrypted or signed sessions, SMB transactions for
// the EVE "smb" record, and anomalies. The worker implements SmbEventSink; the
// decoder calls it synchronously from on_data/on_gap/on_end.
//
// Ownership: string_views in SmbFileOpened, SmbTransaction and the other events
// point into the decoder's per-flow state and are valid only during the call; a
// sink copies what it keeps. FileInfo owns everything it holds (names as
// strings, the carved bytes in file.content: memory buffer or spill file), so
// the sink can move it whole into a scan job; what it leaves there is freed /
// unlinked when the call returns.
// Thread rules: called on the worker that owns the flow.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "dataplane/stream.hpp"
#include "detectors/smb/file_assembler.hpp"
#include "detectors/smb/smb_config.hpp"
#include "detectors/smb/smb_counters.hpp"

namespace sluice {

// upload: written by the client (WRITE requests, to_server);
// download: read by the client (READ responses, to_client).
enum class FileDirection : uint8_t { upload = 0, download = 1 };

constexpr std::string_view to_string(FileDirection d) { return d == FileDirection::upload ? "upload" : "download"; }
constexpr Direction flow_direction(FileDirection d) {
    return d == FileDirection::upload ? Direction::to_server : Direction::to_client;
}

// The protocol's id of an open file. SMB2/3: the 16-byte FileId (persistent,
// volatile). SMB1: the 16-bit FID in `volatile_id`, with the tree id.
struct SmbFileId {
    uint8_t version = 2;
    uint64_t persistent = 0;
    uint64_t volatile_id = 0;
    uint32_t tree_id = 0;
    bool operator==(const SmbFileId&) const = default;
};

// A file transfer started: the first data of an open file in one direction.
struct SmbFileOpened {
    uint64_t file_uid = 0;  // FileStore-unique id, the same in SmbFileFinished
    uint64_t tx_id = 0;     // per-flow number of the file transfer, from 0
    FileDirection direction = FileDirection::upload;
    std::string_view share;     // "\\\\server\\share" as the client sent it, "" when not seen
    std::string_view filename;  // path inside the share, UTF-8, "" when the open was not seen
    SmbFileId file_id;
    uint64_t session_id = 0;
    uint64_t known_size = 0;  // from CREATE (download) or SET_INFO end of file (upload); 0 if unknown
};

// A file transfer finished (CLOSE, all bytes of the known size present, eviction,
// or end of flow). `file` holds state, size, sha256, magic and the content.
struct FileInfo {
    uint64_t tx_id = 0;
    FileDirection direction = FileDirection::upload;
    std::string share;
    std::string filename;
    SmbFileId file_id;
    uint64_t session_id = 0;
    bool stored = false;                 // set by the caller when it keeps the file (filestore, quarantine)
    std::span<const uint32_t> sids;      // signature ids that matched the file (caller's)
    AssembledFile file;
};

enum class SmbSessionKind : uint8_t { encrypted, signed_only };

constexpr std::string_view to_string(SmbSessionKind k) {
    return k == SmbSessionKind::encrypted ? "encrypted" : "signed";
}

// Reported once per session (per flow): an encrypted session cannot be
// inspected; `policy` is smb.encrypted_policy, for the worker to apply.
struct SmbSessionEvent {
    SmbSessionKind kind = SmbSessionKind::encrypted;
    uint64_t session_id = 0;
    uint16_t dialect = 0;  // SMB2 dialect revision (0x0300 ...), 0 when unknown or SMB1
    EncryptedPolicy policy = EncryptedPolicy::alert;
    Direction dir = Direction::to_server;
};

// One command and its response, for the EVE "smb" record.
struct SmbTransaction {
    uint64_t id = 0;          // per-flow sequence number
    uint8_t version = 2;      // 1 or 2 (2 covers SMB2 and SMB3)
    uint16_t command = 0;
    uint32_t status = 0;      // NTSTATUS (SMB1 DOS errors as class | code << 16)
    uint16_t dialect = 0;     // SMB2 dialect revision; 0 for SMB1 or unknown
    std::string_view smb1_dialect;  // the negotiated SMB1 dialect string
    uint64_t session_id = 0;
    uint32_t tree_id = 0;
    std::string_view filename;
    std::string_view share;
    bool share_is_pipe = false;
    bool has_file_id = false;
    SmbFileId file_id;
    bool has_disposition = false;
    uint32_t disposition = 0;     // CREATE request: FILE_SUPERSEDE(0) .. FILE_OVERWRITE_IF(5)
    bool has_create_action = false;
    uint32_t create_action = 0;   // CREATE response: FILE_SUPERSEDED(0) .. FILE_OVERWRITTEN(3)
    bool has_size = false;
    uint64_t size = 0;            // end of file (CREATE), bytes (READ/WRITE)
};

class SmbEventSink {
public:
    virtual ~SmbEventSink() = default;
    virtual void on_file_opened(const SmbFileOpened&) {}
    // Move file.content out to keep it; it is freed/unlinked after the call otherwise.
    virtual void on_file_finished(FileInfo& info) = 0;
    virtual void on_session(const SmbSessionEvent&) {}
    virtual void on_smb_transaction(const SmbTransaction&) {}
    // Also counted in the worker's SmbWorkerContext; for logging at a low rate.
    virtual void on_anomaly(SmbAnomaly, Direction) {}
};

// The hold hook: what the last on_data/on_gap/on_end call did to files. When
// hold() is true the chunk just fed completed a file or closed a file that has
// content (the last missing write, or the CLOSE): in ips mode the worker holds
// the packet that carried the chunk until the scanner's verdict on every
// file_uids[] file arrives.
struct SmbFeedResult {
    static constexpr size_t kMaxUids = 8;
    uint32_t files_finished = 0;     // files finished during the call
    uint32_t files_with_content = 0; // of those, files with kept content (scannable)
    uint32_t uids_listed = 0;        // min(files_with_content, kMaxUids)
    std::array<uint64_t, kMaxUids> file_uids{};
    bool encrypted = false;          // an encrypted (uninspectable) PDU was seen in the call
    bool hold() const { return files_with_content > 0; }
    // Per chunk: resets what the readers look at (file_uids beyond uids_listed
    // is stale by contract), not the whole array.
    void clear() {
        files_finished = 0;
        files_with_content = 0;
        uids_listed = 0;
        encrypted = false;
    }
};

}  // namespace sluice
