#include "detectors/smb/file_magic.hpp"

#include <fcntl.h>
#include <magic.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "detectors/smb/file_assembler.hpp"

namespace sluice {

FileMagic::FileMagic() {
    cookie_ = magic_open(MAGIC_NONE);
    if (cookie_ && magic_load(cookie_, nullptr) != 0) {
        magic_close(cookie_);
        cookie_ = nullptr;
    }
}

FileMagic::~FileMagic() {
    if (cookie_) magic_close(cookie_);
}

std::string FileMagic::describe(std::span<const uint8_t> first_bytes) {
    if (!cookie_ || first_bytes.empty()) return {};
    const char* m = magic_buffer(cookie_, first_bytes.data(), first_bytes.size());
    return m ? std::string(m) : std::string();
}

std::string FileMagic::describe(const FileContent& content, size_t max_bytes) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(content.size(), max_bytes));
    if (content.kind() == FileContent::Kind::memory) return describe(content.memory().first(n));
    if (content.kind() != FileContent::Kind::spill || n == 0) return {};
    const int fd = ::open(content.path().c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return {};
    std::vector<uint8_t> buf(n);
    const ssize_t r = ::pread(fd, buf.data(), n, 0);
    ::close(fd);
    if (r <= 0) return {};
    return describe(std::span<const uint8_t>(buf.data(), static_cast<size_t>(r)));
}

}  // namespace sluice
