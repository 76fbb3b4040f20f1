#include "detectors/smb/smb_eve.hpp"

#include <cstdio>

#include "detectors/smb/smb_proto.hpp"

namespace sluice {

namespace {

constexpr char kHex[] = "0123456789abcdef";

void put_hex(char* out, uint8_t b) {
    out[0] = kHex[b >> 4];
    out[1] = kHex[b & 0xf];
}

}  // namespace

void sha256_hex(const std::array<uint8_t, 32>& digest, char out[64]) {
    for (size_t i = 0; i < digest.size(); ++i) put_hex(out + 2 * i, digest[i]);
}

size_t format_fuid(const SmbFileId& id, char out[40]) {
    if (id.version == 1) {
        const uint16_t fid = static_cast<uint16_t>(id.volatile_id);
        put_hex(out, static_cast<uint8_t>(fid >> 8));
        put_hex(out + 2, static_cast<uint8_t>(fid));
        return 4;
    }
    uint8_t b[16];
    for (int i = 0; i < 8; ++i) {
        b[i] = static_cast<uint8_t>(id.persistent >> (8 * i));
        b[8 + i] = static_cast<uint8_t>(id.volatile_id >> (8 * i));
    }
    // GUID text: the first three groups little-endian, the rest byte order.
    static constexpr int order[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
    size_t n = 0;
    for (int i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out[n++] = '-';
        put_hex(out + n, b[order[i]]);
        n += 2;
    }
    return n;
}

void write_fileinfo_eve(JsonWriter& w, const FileInfo& info) {
    const AssembledFile& f = info.file;
    w.begin_object("fileinfo");
    w.kv("filename", info.filename);
    if (!f.magic.empty()) w.kv("magic", f.magic);
    w.begin_array("sid");
    for (uint32_t sid : info.sids) w.value(uint64_t{sid});
    w.end_array();
    w.kv("gaps", f.gaps);
    w.kv("state", to_string(f.state));
    if (f.has_sha256 && (f.sha256_bytes > 0 || f.size == 0)) {
        char hex[64];
        sha256_hex(f.sha256, hex);
        w.kv("sha256", std::string_view(hex, sizeof hex));
    }
    w.kv("stored", info.stored);
    w.kv("size", f.size);
    w.kv("tx_id", info.tx_id);
    w.kv("share", info.share);
    w.kv("direction", to_string(info.direction));
    w.end_object();
}

void write_smb_eve(JsonWriter& w, const SmbTransaction& tx) {
    w.begin_object("smb");
    w.kv("id", tx.id);
    if (tx.version == 1) {
        w.kv("dialect", tx.smb1_dialect.empty() ? std::string_view("unknown") : tx.smb1_dialect);
        w.kv("command", smb::smb1_command_name(static_cast<uint8_t>(tx.command)));
    } else {
        w.kv("dialect", smb::smb2_dialect_name(tx.dialect));
        w.kv("command", smb::smb2_command_name(tx.command));
    }
    char code[16];
    const int n = std::snprintf(code, sizeof code, "0x%x", tx.status);
    const std::string_view code_text(code, n > 0 ? static_cast<size_t>(n) : 0);
    const std::string_view name = smb::ntstatus_name(tx.status);
    w.kv("status", name.empty() ? code_text : name);
    w.kv("status_code", code_text);
    w.kv("session_id", tx.session_id);
    w.kv("tree_id", uint64_t{tx.tree_id});
    const bool tree_connect = (tx.version == 1 && tx.command == smb::smb1_tree_connect_andx) ||
                              (tx.version == 2 && tx.command == smb::smb2_tree_connect);
    if (tree_connect) {
        if (!tx.share.empty()) w.kv(tx.share_is_pipe ? "named_pipe" : "share", tx.share);
    } else {
        if (!tx.filename.empty()) w.kv(tx.share_is_pipe ? "named_pipe" : "filename", tx.filename);
        if (!tx.share.empty()) w.kv("share", tx.share);
    }
    if (tx.has_disposition) w.kv("disposition", smb::disposition_name(tx.disposition));
    if (tx.has_create_action) w.kv("create_action", smb::create_action_name(tx.create_action));
    if (tx.has_file_id) {
        char fuid[40];
        const size_t len = format_fuid(tx.file_id, fuid);
        w.kv("fuid", std::string_view(fuid, len));
    }
    if (tx.has_size) w.kv("size", tx.size);
    w.end_object();
}

}  // namespace sluice
