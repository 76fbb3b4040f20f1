// EVE output of carved files, joined with their ClamAV verdict: the
// "fileinfo" event for every finished file, the "alert" event for a malicious
// one (or one blocked by a fail-closed policy), and the alert for an encrypted
// SMB3 session. Field names are Suricata's where the concept exists
// (fileinfo.filename, sid, gaps, state, sha256, stored, size, tx_id; alert.*;
// alert "files" array); Sluice adds share, direction, magic, quarantined and
// the "clamav" member (detectors/malware/scan_events.hpp).
//
// FileRecord is what the events need of a file: it is copied when the file
// finishes, so an event written when the verdict comes back needs neither the
// flow nor the carver.
// Thread rules: pure functions over the caller's JsonWriter and data.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "dataplane/eve.hpp"
#include "dataplane/json_writer.hpp"
#include "dataplane/stream.hpp"
#include "detectors/malware/scan_job.hpp"
#include "detectors/smb/file_assembler.hpp"

namespace sluice {

// Alert ids of the file range 9500000-9500099 (gid 1, rev 1) that the files
// detector adds to those of detectors/malware/scan_events.hpp (9500001-3).
inline constexpr uint32_t kSidSmbEncrypted = 9500010;

struct FileRecord {
    uint64_t flow_id = 0;
    uint64_t ts_ns = 0;          // packet time when the file finished
    EveEndpoints ep;             // client -> server, as flow events report it
    uint64_t tx_id = 0;
    Direction direction = Direction::to_server;  // to_server: upload; to_client: download
    FileState state = FileState::truncated;
    bool gaps = false;
    uint64_t size = 0;
    bool has_sha256 = false;
    std::array<uint8_t, 32> sha256{};
    uint64_t sha256_bytes = 0;   // the hash covers [0, sha256_bytes)
    std::string magic;           // libmagic description when the carver computed it
    std::string filename;        // path inside the share, UTF-8
    std::string share;           // "\\\\server\\share"
};

// How the file fared with the scanner, for the "clamav" member.
struct FileScanStatus {
    bool scanning = false;              // scanning is configured: write quarantined and clamav
    const ScanResult* result = nullptr; // the verdict, when the file was scanned
    std::string_view not_scanned;       // otherwise why not: "queue_full", "backlog", "truncated", "no_content"
};

// The fields of one file inside the current object (a "fileinfo" object, or
// an element of an alert's "files" array).
void write_file_fields(JsonWriter& w, const FileRecord& rec, const FileScanStatus& scan);

// A whole fileinfo event (false when the type is off or the event was lost).
bool emit_fileinfo_event(EveEmitter& eve, const FileRecord& rec, const FileScanStatus& scan);

// The alert event for a malicious file (sid 9500001, "ClamAV: <name>"), with
// the file in "files".
bool emit_malware_alert(EveEmitter& eve, const FileRecord& rec, const FileScanStatus& scan, bool blocked);

// The alert event of a fail-closed policy (kSidScanTimeout, kSidScanQueueFull).
bool emit_file_policy_alert(EveEmitter& eve, const FileRecord& rec, const FileScanStatus& scan, uint32_t sid,
                            bool blocked);

// The alert event for an encrypted SMB3 session (kSidSmbEncrypted), with the
// session id and dialect in "smb".
bool emit_smb_encrypted_alert(EveEmitter& eve, uint64_t ts_ns, uint64_t flow_id, const EveEndpoints& ep,
                              uint64_t session_id, uint16_t dialect, bool blocked);

}  // namespace sluice
