// FileMagic: libmagic's description of a file ("PDF document, version 1.4") from
// its first bytes, for the EVE fileinfo "magic" field. libmagic takes 0.1 to
// 10 ms per file (text files are the slowest), so it is meant for a thread off
// the packet path (the scanner's); FileStore can also run it on the worker when
// smb.file.magic is on.
// Thread rules: one FileMagic per thread (a libmagic cookie is not thread-safe).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

struct magic_set;

namespace sluice {

class FileContent;

class FileMagic {
public:
    FileMagic();  // loads the system magic database; available() says whether it worked
    ~FileMagic();
    FileMagic(const FileMagic&) = delete;
    FileMagic& operator=(const FileMagic&) = delete;

    bool available() const { return cookie_ != nullptr; }
    // "" when unavailable or libmagic has no answer.
    std::string describe(std::span<const uint8_t> first_bytes);
    // Reads up to max_bytes from the start of the content (memory or spill file).
    std::string describe(const FileContent& content, size_t max_bytes = 16384);

private:
    magic_set* cookie_ = nullptr;
};

}  // namespace sluice
