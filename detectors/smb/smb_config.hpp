// SmbConfig: the caps and policies of SMB decoding and file carving, with their
// defaults, plus the key table (name, type, default, help) that app/ turns into
// config validation, --help and docs (habit 6). Library code never reads a file:
// app/ fills an SmbConfig and hands it to the worker contexts.
// Thread rules: an immutable value once published; each worker copies it into its
// SmbWorkerContext at a burst boundary.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

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
    uint32_t offload_arena = 4u << 20;       // smb.file.offload-arena: bytes of that arena per worker
    FileStoreConfig files;
};

// The key table: one row per key. `def` is the default as text.
struct SmbConfigKey {
    std::string_view name;
    std::string_view type;  // "u32", "u64", "bool", "string", "enum(allow|alert|block)"
    std::string_view def;
    std::string_view help;
};

inline constexpr std::array<SmbConfigKey, 22> kSmbConfigKeys = {{
    {"smb.max_pdu_size", "u32", "16777215", "SMB messages longer than this (NetBIOS length) are skipped by their length without buffering, counted"},
    {"smb.pdu_buffer_size", "u32", "131072", "bytes of one SMB message buffered per direction, not counting the file data streamed straight into the file assembler; a message needing more is skipped, counted"},
    {"smb.max_open_files", "u32", "256", "open files tracked per flow; the least recently used one is finished (TRUNCATED if incomplete) when full"},
    {"smb.max_trees", "u32", "32", "tree connects (shares) tracked per flow"},
    {"smb.max_pending", "u32", "512", "requests awaiting a response per flow; the oldest is dropped when full"},
    {"smb.max_sessions", "u32", "16", "sessions remembered per flow for once-per-session reporting"},
    {"smb.max_chain", "u32", "32", "commands followed in one SMB1 AndX chain or SMB2 compound message"},
    {"smb.max_name_bytes", "u32", "1024", "UTF-8 bytes kept of a file name or share path (longer ones are cut, counted)"},
    {"smb.encrypted_policy", "enum(allow|alert|block)", "alert", "what the worker does with an SMB3 session whose traffic is encrypted and cannot be inspected"},
    {"smb.file.memory_total", "u64", "67108864", "bytes of file content one worker holds in memory; files spill to disk beyond"},
    {"smb.file.memory_per_file", "u64", "4194304", "bytes of one file held in memory before it spills to disk"},
    {"smb.file.max_size", "u64", "104857600", "file content beyond this offset is not kept (file TRUNCATED for scanning; size, name and hash of an in-order file still logged)"},
    {"smb.file.spill_total", "u64", "1073741824", "bytes of spill files one worker may own at once"},
    {"smb.file.spill_dir", "string", "/var/tmp", "directory for spill files (content of files past the memory caps); empty disables spilling"},
    {"smb.file.max_ranges", "u32", "1024", "disjoint byte ranges tracked per file (out-of-order writes); beyond, data is dropped and the file is TRUNCATED"},
    {"smb.file.magic", "bool", "false", "libmagic type of finished files computed on the worker (0.1-10 ms per file); off: the scanner thread can fill it with FileMagic"},
    {"smb.file.magic_bytes", "u32", "16384", "leading bytes of a file given to libmagic"},
    {"smb.file.enabled", "bool", "true", "carve files at all (off: SMB is decoded and logged, no file content kept)"},
    {"smb.file.offload", "bool", "true", "ids mode: file content is copied, hashed and spilled on a carving thread per worker, the worker hands it over by a copy into the thread's arena or by packet reference (smb.file.offload_copy; ips carves on the worker)"},
    {"smb.file.offload_mbufs", "u32", "4096", "packet buffers one worker's carving thread may hold references on; beyond, the worker copies (the packet pool must have room: capture.mbufs)"},
    {"smb.file.offload_copy", "bool", "true", "ids mode with offload: the worker copies file data into the carving thread's arena with non-temporal stores and frees the packet at once; off: it hands the packet over by reference"},
    {"smb.file.offload_arena", "u32", "4194304", "bytes of the arena one worker copies file data into for its carving thread; a write that finds it full goes by packet reference"},
}};

}  // namespace sluice
