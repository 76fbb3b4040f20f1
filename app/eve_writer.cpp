#include "app/eve_writer.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace sluice {

Result<std::unique_ptr<EveWriter>> EveWriter::open(const std::string& path) {
    std::FILE* f = path == "-" ? stdout : std::fopen(path.c_str(), "a");
    if (!f) return make_error(fmt::format("eve.file {}: cannot open for writing: {}", path, std::strerror(errno)));
    static constexpr size_t kBuffer = 1 << 20;
    std::setvbuf(f, nullptr, _IOFBF, kBuffer);
    return std::unique_ptr<EveWriter>(new EveWriter(path, f));
}

EveWriter::~EveWriter() {
    stop();
    if (file_ && file_ != stdout) std::fclose(file_);
}

size_t EveWriter::drain_once() {
    size_t n = 0;
    for (EventRing* r : rings_) {
        // Bounded per ring per round, so one busy worker cannot starve the others.
        for (int k = 0; k < 4096; ++k) {
            bool failed = false;
            std::string_view rec = reader_.front(*r, &failed);
            if (failed) {
                errors_.fetch_add(1, std::memory_order_relaxed);
                if (!render_error_logged_) {
                    spdlog::error("eve: an event could not be rendered (over {} bytes or damaged); such events "
                                  "are counted as write errors", EveEmitter::kMaxEvent);
                    render_error_logged_ = true;
                }
                r->pop();
                ++n;
                continue;
            }
            if (rec.empty()) break;
            const bool ok = std::fwrite(rec.data(), 1, rec.size(), file_) == rec.size() && std::fputc('\n', file_) != EOF;
            if (!ok) {
                errors_.fetch_add(1, std::memory_order_relaxed);
                if (!error_logged_) {
                    spdlog::error("eve: writing {} failed: {}; events are counted as lost from here on", path_,
                                  std::strerror(errno));
                    error_logged_ = true;
                }
            } else {
                events_.fetch_add(1, std::memory_order_relaxed);
                bytes_.fetch_add(rec.size() + 1, std::memory_order_relaxed);
            }
            r->pop();
            ++n;
        }
    }
    return n;
}

void EveWriter::loop() {
    auto last_flush = std::chrono::steady_clock::now();
    while (running_.load(std::memory_order_acquire)) {
        const size_t n = drain_once();
        const auto now = std::chrono::steady_clock::now();
        if (now - last_flush > std::chrono::milliseconds(100)) {
            std::fflush(file_);
            last_flush = now;
        }
        if (n == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    while (drain_once() > 0) {
    }
    std::fflush(file_);
}

void EveWriter::start() {
    running_.store(true, std::memory_order_release);
    thread_ = std::thread([this] { loop(); });
}

void EveWriter::stop() {
    if (!thread_.joinable()) return;
    running_.store(false, std::memory_order_release);
    thread_.join();
}

}  // namespace sluice
