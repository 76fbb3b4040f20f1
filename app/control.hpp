// The control socket: a Unix stream socket on which `sluice ctl` (or any
// client: `socat - UNIX-CONNECT:PATH`) sends one command per line, e.g.
// "stats", "reload", "shutdown", and gets one JSON line back:
// {"return":"OK","message":...} or {"return":"NOK","message":"why"}.
// Thread rules: the server runs its own thread and calls the handler there
// (never on a worker); the handler must be thread-safe against the main thread.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "dataplane/result.hpp"

namespace sluice {

class ControlServer {
public:
    // Returns the JSON reply for one command line (already split in words).
    using Handler = std::function<std::string(const std::vector<std::string>& words)>;

    // Binds `path` (creating its directory). A path where another sluice
    // answers is an error; a stale socket file is replaced.
    static Result<std::unique_ptr<ControlServer>> start(const std::string& path, Handler handler);
    ~ControlServer();

    const std::string& path() const { return path_; }

private:
    ControlServer(std::string path, int fd, Handler handler);
    void loop();
    void serve(int client);

    std::string path_;
    int fd_;
    Handler handler_;
    std::atomic<bool> running_{true};
    std::thread thread_;
};

// Sends one command line to the socket at `path` and returns the reply line.
Result<std::string> control_request(const std::string& path, const std::string& line, int timeout_ms = 10000);

// {"return":"OK","message":<message_json>} / {"return":"NOK","message":"<text>"}
std::string control_ok(const std::string& message_json);
std::string control_error(const std::string& text);

}  // namespace sluice
