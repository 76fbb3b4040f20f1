// SMB wire constants (MS-CIFS, MS-SMB, MS-SMB2) and the names Suricata uses for
// them in EVE ("SMB2_COMMAND_CREATE", "STATUS_SUCCESS", dialect "3.11").
// Thread rules: constants and pure functions only.
#pragma once

#include <cstdint>
#include <string_view>

namespace sluice::smb {

// NetBIOS session service packet types (RFC 1002).
inline constexpr uint8_t kNbssMessage = 0x00;
inline constexpr uint8_t kNbssSessionRequest = 0x81;
inline constexpr uint8_t kNbssPositiveResponse = 0x82;
inline constexpr uint8_t kNbssNegativeResponse = 0x83;
inline constexpr uint8_t kNbssRetarget = 0x84;
inline constexpr uint8_t kNbssKeepalive = 0x85;

// Protocol ids (first byte; followed by 'S' 'M' 'B').
inline constexpr uint8_t kSmb1 = 0xff;
inline constexpr uint8_t kSmb2 = 0xfe;
inline constexpr uint8_t kSmb3Transform = 0xfd;
inline constexpr uint8_t kSmb3Compression = 0xfc;

inline constexpr uint32_t kSmb1HeaderSize = 32;
inline constexpr uint32_t kSmb2HeaderSize = 64;
inline constexpr uint32_t kTransformHeaderSize = 52;
inline constexpr uint32_t kCompressionHeaderSize = 16;

// A message body the decoders do not read (not a file's data) larger than
// this is skipped as it streams by instead of being buffered whole.
inline constexpr uint32_t kDiscardThreshold = 4096;

// SMB1 commands.
enum Smb1Command : uint8_t {
    smb1_close = 0x04,
    smb1_read = 0x0a,
    smb1_write = 0x0b,
    smb1_locking_andx = 0x24,
    smb1_trans = 0x25,
    smb1_trans_secondary = 0x26,
    smb1_echo = 0x2b,
    smb1_open_andx = 0x2d,
    smb1_read_andx = 0x2e,
    smb1_write_andx = 0x2f,
    smb1_trans2 = 0x32,
    smb1_trans2_secondary = 0x33,
    smb1_tree_disconnect = 0x71,
    smb1_negotiate = 0x72,
    smb1_session_setup_andx = 0x73,
    smb1_logoff_andx = 0x74,
    smb1_tree_connect_andx = 0x75,
    smb1_nt_trans = 0xa0,
    smb1_nt_trans_secondary = 0xa1,
    smb1_nt_create_andx = 0xa2,
    smb1_no_andx = 0xff,
};

constexpr bool smb1_is_andx(uint8_t c) {
    return c == smb1_locking_andx || c == smb1_open_andx || c == smb1_read_andx || c == smb1_write_andx ||
           c == smb1_session_setup_andx || c == smb1_logoff_andx || c == smb1_tree_connect_andx ||
           c == smb1_nt_create_andx;
}

inline constexpr uint8_t kSmb1FlagReply = 0x80;
inline constexpr uint16_t kSmb1Flags2Unicode = 0x8000;
inline constexpr uint16_t kSmb1Flags2NtStatus = 0x4000;
inline constexpr uint16_t kSmb1Flags2Signature = 0x0004;

// TRANS2 subcommands and information levels that carry file data or size.
inline constexpr uint16_t kTrans2Open2 = 0x00;
inline constexpr uint16_t kTrans2SetPathInformation = 0x06;
inline constexpr uint16_t kTrans2SetFileInformation = 0x08;
inline constexpr uint16_t kSmbSetFileEndOfFileInfo = 0x0104;
inline constexpr uint16_t kPassthroughFileEndOfFileInformation = 1000 + 20;

// SMB2 commands.
enum Smb2Command : uint16_t {
    smb2_negotiate = 0x00,
    smb2_session_setup = 0x01,
    smb2_logoff = 0x02,
    smb2_tree_connect = 0x03,
    smb2_tree_disconnect = 0x04,
    smb2_create = 0x05,
    smb2_close = 0x06,
    smb2_flush = 0x07,
    smb2_read = 0x08,
    smb2_write = 0x09,
    smb2_lock = 0x0a,
    smb2_ioctl = 0x0b,
    smb2_cancel = 0x0c,
    smb2_echo = 0x0d,
    smb2_query_directory = 0x0e,
    smb2_change_notify = 0x0f,
    smb2_query_info = 0x10,
    smb2_set_info = 0x11,
    smb2_oplock_break = 0x12,
};

inline constexpr uint32_t kSmb2FlagResponse = 0x01;
inline constexpr uint32_t kSmb2FlagAsync = 0x02;
inline constexpr uint32_t kSmb2FlagRelated = 0x04;
inline constexpr uint32_t kSmb2FlagSigned = 0x08;
inline constexpr uint8_t kSmb2ShareTypePipe = 0x02;
inline constexpr uint16_t kSmb2SessionFlagEncrypt = 0x0004;
inline constexpr uint32_t kSmb2ShareFlagEncrypt = 0x8000;
inline constexpr uint8_t kSmb2InfoFile = 0x01;
inline constexpr uint8_t kFileEndOfFileInformation = 20;
inline constexpr uint32_t kFileAttributeDirectory = 0x10;

// NTSTATUS values the decoder acts on.
inline constexpr uint32_t kStatusSuccess = 0x00000000;
inline constexpr uint32_t kStatusPending = 0x00000103;
inline constexpr uint32_t kStatusBufferOverflow = 0x80000005;

std::string_view smb1_command_name(uint8_t cmd);   // "SMB1_COMMAND_NT_CREATE_ANDX"
std::string_view smb2_command_name(uint16_t cmd);  // "SMB2_COMMAND_CREATE"
std::string_view ntstatus_name(uint32_t status);   // "STATUS_SUCCESS", "" when not in the table
std::string_view smb2_dialect_name(uint16_t d);    // "3.11", "2.??", "unknown"
std::string_view create_action_name(uint32_t a);   // "FILE_OPENED" ... (CREATE response)
std::string_view disposition_name(uint32_t d);     // "FILE_OPEN" ... (CREATE request)

}  // namespace sluice::smb
