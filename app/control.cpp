#include "app/control.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "dataplane/json_writer.hpp"

namespace sluice {

namespace {

constexpr size_t kMaxLine = 4096;

bool fill_addr(const std::string& path, sockaddr_un& addr) {
    std::memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) return false;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    return true;
}

std::vector<std::string> split_words(const std::string& line) {
    std::istringstream in(line);
    std::vector<std::string> words;
    std::string w;
    while (in >> w) words.push_back(w);
    return words;
}

}  // namespace

std::string control_ok(const std::string& message_json) {
    return "{\"return\":\"OK\",\"message\":" + message_json + "}";
}

std::string control_error(const std::string& text) {
    std::string buf(text.size() * 6 + 64, '\0');
    JsonWriter w(buf.data(), buf.size());
    w.begin_object().kv("return", "NOK").kv("message", text).end_object();
    return std::string(w.view());
}

Result<std::unique_ptr<ControlServer>> ControlServer::start(const std::string& path, Handler handler) {
    sockaddr_un addr{};
    if (!fill_addr(path, addr)) return make_error(fmt::format("control.socket {}: path too long", path));
    std::error_code ec;
    const auto dir = std::filesystem::path(path).parent_path();
    if (!dir.empty()) std::filesystem::create_directories(dir, ec);
    // Someone answering there already?
    if (std::filesystem::exists(path, ec)) {
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe >= 0 && connect(probe, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
            close(probe);
            return make_error(fmt::format("control.socket {}: another sluice is running there; set another path "
                                          "with --control PATH", path));
        }
        if (probe >= 0) close(probe);
        unlink(path.c_str());
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return make_error(fmt::format("control.socket {}: {}", path, std::strerror(errno)));
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd, 8) != 0) {
        const std::string why = std::strerror(errno);
        close(fd);
        return make_error(fmt::format("control.socket {}: cannot listen: {}", path, why));
    }
    chmod(path.c_str(), 0660);
    return std::unique_ptr<ControlServer>(new ControlServer(path, fd, std::move(handler)));
}

ControlServer::ControlServer(std::string path, int fd, Handler handler)
    : path_(std::move(path)), fd_(fd), handler_(std::move(handler)) {
    thread_ = std::thread([this] { loop(); });
}

ControlServer::~ControlServer() {
    running_.store(false);
    if (thread_.joinable()) thread_.join();
    close(fd_);
    unlink(path_.c_str());
}

void ControlServer::loop() {
    while (running_.load()) {
        pollfd p{fd_, POLLIN, 0};
        if (poll(&p, 1, 200) <= 0) continue;
        int client = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (client < 0) continue;
        serve(client);
        close(client);
    }
}

void ControlServer::serve(int client) {
    std::string buf;
    char chunk[512];
    // One client at a time; each must send a line within a few seconds.
    for (int idle = 0; idle < 50 && running_.load();) {
        pollfd p{client, POLLIN, 0};
        const int r = poll(&p, 1, 100);
        if (r == 0) {
            ++idle;
            continue;
        }
        if (r < 0) return;
        const ssize_t n = read(client, chunk, sizeof chunk);
        if (n <= 0) return;
        buf.append(chunk, static_cast<size_t>(n));
        size_t nl;
        while ((nl = buf.find('\n')) != std::string::npos) {
            const std::string line = buf.substr(0, nl);
            buf.erase(0, nl + 1);
            const auto words = split_words(line);
            std::string reply = words.empty() ? control_error("empty command") : handler_(words);
            reply.push_back('\n');
            if (write(client, reply.data(), reply.size()) < 0) return;
            idle = 0;
        }
        if (buf.size() > kMaxLine) {
            const std::string reply = control_error("command line too long") + "\n";
            (void)!write(client, reply.data(), reply.size());
            return;
        }
    }
}

Result<std::string> control_request(const std::string& path, const std::string& line, int timeout_ms) {
    sockaddr_un addr{};
    if (!fill_addr(path, addr)) return make_error(fmt::format("{}: path too long", path));
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return make_error(std::strerror(errno));
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        const std::string why = std::strerror(errno);
        close(fd);
        return make_error(fmt::format("cannot connect to {}: {} (is sluice running with this control socket?)", path, why));
    }
    const std::string msg = line + "\n";
    if (write(fd, msg.data(), msg.size()) != static_cast<ssize_t>(msg.size())) {
        close(fd);
        return make_error("cannot send the command");
    }
    std::string reply;
    char chunk[4096];
    while (reply.find('\n') == std::string::npos) {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, timeout_ms) <= 0) {
            close(fd);
            return make_error("no reply from sluice");
        }
        const ssize_t n = read(fd, chunk, sizeof chunk);
        if (n <= 0) break;
        reply.append(chunk, static_cast<size_t>(n));
    }
    close(fd);
    if (auto nl = reply.find('\n'); nl != std::string::npos) reply.resize(nl);
    if (reply.empty()) return make_error("empty reply from sluice");
    return reply;
}

}  // namespace sluice
