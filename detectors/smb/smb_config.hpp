// SmbConfig: the caps and policies of SMB decoding and file carving, with their
// defaults; their keys (smb.*), ranges and help are rows of app/config_schema.cpp,
// which drives validation, --help and docs (habit 6). Library code never reads a
// file: app/ fills an SmbConfig and hands it to the worker contexts.
// Thread rules: an immutable value once published; each worker copies it into its
// SmbWorkerContext at a burst boundary.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

// What the caller should do with a session whose traffic is encrypted (SMB3
// transform header) and therefore cannot be inspected. The decoder only reports
// the session (once) with this value; the worker applies it.
enum class EncryptedPolicy : uint8_t { allow, alert, block };

constexpr std::string_view to_string(EncryptedPolicy p) {
    switch (p) {
        case EncryptedPolicy::allow: return "allow";
        case EncryptedPolicy::alert: return "alert";
        case EncryptedPolicy::block: return "block";
    }
    return "alert";
}
constexpr std::optional<EncryptedPolicy> encrypted_policy_from_name(std::string_view s) {
    if (s == "allow") return EncryptedPolicy::allow;
    if (s == "alert") return EncryptedPolicy::alert;
    if (s == "block") return EncryptedPolicy::block;
    return std::nullopt;
}

// File reassembly caps (FileStore, one per worker).
struct FileStoreConfig {
    uint64_t memory_total = 64ull << 20;     // bytes of file content held in memory by one worker
    uint64_t memory_per_file = 4ull << 20;   // a file spills to disk beyond this
    uint64_t max_file_size = 100ull << 20;   // content past this offset is not kept (file TRUNCATED)
    uint64_t spill_total = 1ull << 30;       // bytes in spill files one worker may own at once
    std::string spill_dir = "/var/tmp";      // where spill files are made; "" disables spilling
    uint32_t max_ranges = 1024;              // disjoint byte ranges tracked per file
    bool magic = false;                      // libmagic type of finished files, on the worker (slow: see FileMagic)
    uint32_t magic_bytes = 16384;            // leading bytes given to libmagic
};

struct SmbConfig {
    uint32_t max_pdu_size = 0xffffff;        // NetBIOS message length above which a PDU is skipped unread
    uint32_t pdu_buffer_size = 128u << 10;   // bytes of one PDU (outside its streamed file data) buffered per direction
    uint32_t max_open_files = 256;           // open file ids tracked per flow
    uint32_t max_trees = 32;                 // tree connects tracked per flow
    uint32_t max_pending = 512;              // requests awaiting their response per flow
    uint32_t max_sessions = 16;              // sessions remembered per flow (encrypted/signed reporting)
    uint32_t max_chain = 32;                 // commands in one SMB1 AndX chain or SMB2 compound
    uint32_t max_name_bytes = 1024;          // UTF-8 bytes kept of a file name or share path
    EncryptedPolicy encrypted_policy = EncryptedPolicy::alert;
    bool carve_files = true;                 // smb.file.enabled
    bool offload = true;                     // smb.file.offload: ids carves on a carving thread (FileCarver)
    uint32_t offload_mbufs = 4096;           // smb.file.offload-mbufs: packet references one worker's carver holds
    bool offload_copy = true;                // smb.file.offload-copy: the worker copies into the carver's arena (non-temporal stores)
    uint32_t offload_arena = 4u << 20;       // smb.file.offload-arena: bytes of that arena per carving thread
    uint32_t offload_threads = 1;            // smb.file.offload-threads: carving threads per worker
    std::vector<unsigned> offload_cpus;      // smb.file.offload-cpus: worker i's carving thread on cpus[i % n]
    FileStoreConfig files;
};

}  // namespace sluice
