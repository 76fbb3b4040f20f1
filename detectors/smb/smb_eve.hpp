// EVE rendering of SMB decoder output, with Suricata's field names so existing
// SIEM pipelines read Sluice's events unchanged:
//   write_fileinfo_eve: the "fileinfo" member of a fileinfo event (filename,
//     magic, sid[], gaps, state, sha256, stored, size, tx_id) plus share and
//     direction. state is COMPLETE or TRUNCATED (Suricata writes CLOSED for a
//     complete file; Sluice's issue 5 names it COMPLETE).
//   write_smb_eve: the "smb" member of an smb event for one transaction (id,
//     dialect, command, status, status_code, session_id, tree_id, filename or
//     named_pipe, share, disposition, fuid, size where known).
// The caller writes the envelope (timestamp, flow, event_type, app_proto) around
// them. Thread rules: pure functions over caller-owned writer and data.
#pragma once

#include "dataplane/json_writer.hpp"
#include "detectors/smb/smb_events.hpp"

namespace sluice {

void write_fileinfo_eve(JsonWriter& w, const FileInfo& info);
void write_smb_eve(JsonWriter& w, const SmbTransaction& tx);

// Lower-case hex of a SHA-256 into `out` (64 characters, no terminator).
void sha256_hex(const std::array<uint8_t, 32>& digest, char out[64]);
// Suricata's "fuid" text of a file id: SMB2 as a GUID, SMB1 as four hex digits.
// Returns the length written into out (at most 36).
size_t format_fuid(const SmbFileId& id, char out[40]);

}  // namespace sluice
