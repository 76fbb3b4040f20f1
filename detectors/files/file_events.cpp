#include "detectors/files/file_events.hpp"

#include "detectors/malware/scan_events.hpp"
#include "detectors/smb/smb_eve.hpp"
#include "detectors/smb/smb_proto.hpp"

namespace sluice {

namespace {

constexpr size_t kNameCap = 1024;

std::string_view capped(std::string_view s) { return s.substr(0, std::min(s.size(), kNameCap)); }

void write_files_array(JsonWriter& w, const FileRecord& rec, const FileScanStatus& scan) {
    w.begin_array("files");
    w.begin_object();
    write_file_fields(w, rec, scan);
    w.end_object();
    w.end_array();
}

}  // namespace

void write_file_fields(JsonWriter& w, const FileRecord& rec, const FileScanStatus& scan) {
    const ScanResult* r = scan.result;
    w.kv("filename", capped(rec.filename));
    if (!rec.magic.empty()) w.kv("magic", capped(rec.magic));
    w.begin_array("sid").end_array();
    w.kv("gaps", rec.gaps);
    w.kv("state", to_string(rec.state));
    // The hash covers the contiguous bytes from offset 0; an empty file has one too.
    if (rec.has_sha256 && (rec.sha256_bytes > 0 || rec.size == 0)) {
        char hex[64];
        sha256_hex(rec.sha256, hex);
        w.kv("sha256", std::string_view(hex, sizeof hex));
    }
    w.kv("stored", r ? r->stored : false);
    w.kv("size", rec.size);
    w.kv("tx_id", rec.tx_id);
    w.kv("share", capped(rec.share));
    w.kv("direction", rec.direction == Direction::to_server ? "upload" : "download");
    if (!scan.scanning) return;
    w.kv("quarantined", r ? r->quarantined : false);
    if (r) {
        write_clamav_member(w, *r);
    } else {
        w.begin_object("clamav");
        w.kv("result", to_string(ScanVerdict::skipped));
        w.kv("reason", scan.not_scanned);
        w.end_object();
    }
}

bool emit_fileinfo_event(EveEmitter& eve, const FileRecord& rec, const FileScanStatus& scan) {
    JsonWriter* w = eve.begin(EveType::fileinfo, rec.ts_ns, rec.flow_id, &rec.ep, AppProto::smb);
    if (!w) return false;
    w->begin_object("fileinfo");
    write_file_fields(*w, rec, scan);
    w->end_object();
    return eve.end();
}

bool emit_malware_alert(EveEmitter& eve, const FileRecord& rec, const FileScanStatus& scan, bool blocked) {
    if (!scan.result) return false;
    JsonWriter* w = eve.begin(EveType::alert, rec.ts_ns, rec.flow_id, &rec.ep, AppProto::smb);
    if (!w) return false;
    w->kv("direction", to_string(rec.direction));
    w->kv("tx_id", rec.tx_id);
    write_malware_alert_member(*w, *scan.result, blocked);
    write_files_array(*w, rec, scan);
    return eve.end();
}

bool emit_file_policy_alert(EveEmitter& eve, const FileRecord& rec, const FileScanStatus& scan, uint32_t sid,
                            bool blocked) {
    JsonWriter* w = eve.begin(EveType::alert, rec.ts_ns, rec.flow_id, &rec.ep, AppProto::smb);
    if (!w) return false;
    w->kv("direction", to_string(rec.direction));
    w->kv("tx_id", rec.tx_id);
    write_file_policy_alert_member(*w, sid, blocked);
    write_files_array(*w, rec, scan);
    return eve.end();
}

bool emit_smb_encrypted_alert(EveEmitter& eve, uint64_t ts_ns, uint64_t flow_id, const EveEndpoints& ep,
                              uint64_t session_id, uint16_t dialect, bool blocked) {
    JsonWriter* w = eve.begin(EveType::alert, ts_ns, flow_id, &ep, AppProto::smb);
    if (!w) return false;
    w->begin_object("alert");
    w->kv("action", blocked ? "blocked" : "allowed");
    w->kv("gid", kFileAlertGid);
    w->kv("signature_id", kSidSmbEncrypted);
    w->kv("rev", kFileAlertRev);
    w->kv("signature", "Sluice: SMB3 encrypted session, files not inspectable");
    w->kv("category", "Potential Corporate Privacy Violation");
    w->kv("severity", 2);
    w->end_object();
    w->begin_object("smb");
    w->kv("session_id", session_id);
    w->kv("dialect", smb::smb2_dialect_name(dialect));
    w->kv("encrypted", true);
    w->end_object();
    return eve.end();
}

}  // namespace sluice
