#include "detectors/smb/smb_proto.hpp"

#include <array>
#include <utility>

namespace sluice::smb {

std::string_view smb1_command_name(uint8_t cmd) {
    switch (cmd) {
        case 0x00: return "SMB1_COMMAND_CREATE_DIRECTORY";
        case 0x01: return "SMB1_COMMAND_DELETE_DIRECTORY";
        case 0x02: return "SMB1_COMMAND_OPEN";
        case 0x03: return "SMB1_COMMAND_CREATE";
        case 0x04: return "SMB1_COMMAND_CLOSE";
        case 0x05: return "SMB1_COMMAND_FLUSH";
        case 0x06: return "SMB1_COMMAND_DELETE";
        case 0x07: return "SMB1_COMMAND_RENAME";
        case 0x08: return "SMB1_COMMAND_QUERY_INFORMATION";
        case 0x09: return "SMB1_COMMAND_SET_INFORMATION";
        case 0x0a: return "SMB1_COMMAND_READ";
        case 0x0b: return "SMB1_COMMAND_WRITE";
        case 0x10: return "SMB1_COMMAND_CHECK_DIRECTORY";
        case 0x12: return "SMB1_COMMAND_SEEK";
        case 0x24: return "SMB1_COMMAND_LOCKING_ANDX";
        case 0x25: return "SMB1_COMMAND_TRANS";
        case 0x26: return "SMB1_COMMAND_TRANS_SECONDARY";
        case 0x2b: return "SMB1_COMMAND_ECHO";
        case 0x2d: return "SMB1_COMMAND_OPEN_ANDX";
        case 0x2e: return "SMB1_COMMAND_READ_ANDX";
        case 0x2f: return "SMB1_COMMAND_WRITE_ANDX";
        case 0x32: return "SMB1_COMMAND_TRANS2";
        case 0x33: return "SMB1_COMMAND_TRANS2_SECONDARY";
        case 0x34: return "SMB1_COMMAND_FIND_CLOSE2";
        case 0x71: return "SMB1_COMMAND_TREE_DISCONNECT";
        case 0x72: return "SMB1_COMMAND_NEGOTIATE_PROTOCOL";
        case 0x73: return "SMB1_COMMAND_SESSION_SETUP_ANDX";
        case 0x74: return "SMB1_COMMAND_LOGOFF_ANDX";
        case 0x75: return "SMB1_COMMAND_TREE_CONNECT_ANDX";
        case 0xa0: return "SMB1_COMMAND_NT_TRANS";
        case 0xa1: return "SMB1_COMMAND_NT_TRANS_SECONDARY";
        case 0xa2: return "SMB1_COMMAND_NT_CREATE_ANDX";
        case 0xa4: return "SMB1_COMMAND_NT_CANCEL";
        case 0xa5: return "SMB1_COMMAND_NT_RENAME";
        default: return "SMB1_COMMAND_UNKNOWN";
    }
}

std::string_view smb2_command_name(uint16_t cmd) {
    static constexpr std::array<std::string_view, 19> names = {
        "SMB2_COMMAND_NEGOTIATE_PROTOCOL", "SMB2_COMMAND_SESSION_SETUP", "SMB2_COMMAND_SESSION_LOGOFF",
        "SMB2_COMMAND_TREE_CONNECT",       "SMB2_COMMAND_TREE_DISCONNECT", "SMB2_COMMAND_CREATE",
        "SMB2_COMMAND_CLOSE",              "SMB2_COMMAND_FLUSH",         "SMB2_COMMAND_READ",
        "SMB2_COMMAND_WRITE",              "SMB2_COMMAND_LOCK",          "SMB2_COMMAND_IOCTL",
        "SMB2_COMMAND_CANCEL",             "SMB2_COMMAND_KEEPALIVE",     "SMB2_COMMAND_FIND",
        "SMB2_COMMAND_CHANGE_NOTIFY",      "SMB2_COMMAND_GET_INFO",      "SMB2_COMMAND_SET_INFO",
        "SMB2_COMMAND_OPLOCK_BREAK",
    };
    return cmd < names.size() ? names[cmd] : "SMB2_COMMAND_UNKNOWN";
}

std::string_view ntstatus_name(uint32_t status) {
    static constexpr std::pair<uint32_t, std::string_view> table[] = {
        {0x00000000, "STATUS_SUCCESS"},
        {0x00000103, "STATUS_PENDING"},
        {0x0000010c, "STATUS_NOTIFY_ENUM_DIR"},
        {0x80000005, "STATUS_BUFFER_OVERFLOW"},
        {0x80000006, "STATUS_NO_MORE_FILES"},
        {0x8000002d, "STATUS_STOPPED_ON_SYMLINK"},
        {0xc0000001, "STATUS_UNSUCCESSFUL"},
        {0xc0000002, "STATUS_NOT_IMPLEMENTED"},
        {0xc0000003, "STATUS_INVALID_INFO_CLASS"},
        {0xc0000008, "STATUS_INVALID_HANDLE"},
        {0xc000000d, "STATUS_INVALID_PARAMETER"},
        {0xc000000f, "STATUS_NO_SUCH_FILE"},
        {0xc0000010, "STATUS_INVALID_DEVICE_REQUEST"},
        {0xc0000011, "STATUS_END_OF_FILE"},
        {0xc0000016, "STATUS_MORE_PROCESSING_REQUIRED"},
        {0xc0000022, "STATUS_ACCESS_DENIED"},
        {0xc0000023, "STATUS_BUFFER_TOO_SMALL"},
        {0xc0000033, "STATUS_OBJECT_NAME_INVALID"},
        {0xc0000034, "STATUS_OBJECT_NAME_NOT_FOUND"},
        {0xc0000035, "STATUS_OBJECT_NAME_COLLISION"},
        {0xc000003a, "STATUS_OBJECT_PATH_NOT_FOUND"},
        {0xc0000043, "STATUS_SHARING_VIOLATION"},
        {0xc0000055, "STATUS_LOCK_NOT_GRANTED"},
        {0xc0000056, "STATUS_DELETE_PENDING"},
        {0xc000006a, "STATUS_WRONG_PASSWORD"},
        {0xc000006d, "STATUS_LOGON_FAILURE"},
        {0xc000007f, "STATUS_DISK_FULL"},
        {0xc000009a, "STATUS_INSUFFICIENT_RESOURCES"},
        {0xc00000ba, "STATUS_FILE_IS_A_DIRECTORY"},
        {0xc00000bb, "STATUS_NOT_SUPPORTED"},
        {0xc00000c9, "STATUS_NETWORK_NAME_DELETED"},
        {0xc00000cc, "STATUS_BAD_NETWORK_NAME"},
        {0xc0000101, "STATUS_DIRECTORY_NOT_EMPTY"},
        {0xc0000103, "STATUS_NOT_A_DIRECTORY"},
        {0xc0000120, "STATUS_CANCELLED"},
        {0xc0000128, "STATUS_FILE_CLOSED"},
        {0xc000019c, "STATUS_FS_DRIVER_REQUIRED"},
        {0xc0000203, "STATUS_USER_SESSION_DELETED"},
        {0xc0000225, "STATUS_NOT_FOUND"},
        {0xc0000257, "STATUS_PATH_NOT_COVERED"},
        {0xc000035c, "STATUS_NETWORK_SESSION_EXPIRED"},
    };
    for (const auto& [code, name] : table)
        if (code == status) return name;
    return {};
}

std::string_view smb2_dialect_name(uint16_t d) {
    switch (d) {
        case 0x0202: return "2.02";
        case 0x0210: return "2.10";
        case 0x0222: return "2.22";
        case 0x0224: return "2.24";
        case 0x02ff: return "2.??";
        case 0x0300: return "3.00";
        case 0x0302: return "3.02";
        case 0x0310: return "3.10";
        case 0x0311: return "3.11";
        default: return "unknown";
    }
}

std::string_view create_action_name(uint32_t a) {
    switch (a) {
        case 0: return "FILE_SUPERSEDED";
        case 1: return "FILE_OPENED";
        case 2: return "FILE_CREATED";
        case 3: return "FILE_OVERWRITTEN";
        default: return "UNKNOWN";
    }
}

std::string_view disposition_name(uint32_t d) {
    switch (d) {
        case 0: return "FILE_SUPERSEDE";
        case 1: return "FILE_OPEN";
        case 2: return "FILE_CREATE";
        case 3: return "FILE_OPEN_IF";
        case 4: return "FILE_OVERWRITE";
        case 5: return "FILE_OVERWRITE_IF";
        default: return "UNKNOWN";
    }
}

}  // namespace sluice::smb
