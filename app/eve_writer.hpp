// EveWriter: the thread that drains every producer's EventRing (one per
// worker, one for the management thread) into the EVE file, one JSON object
// per line. Writes are buffered and flushed at least every 100 ms, so a
// `tail -f` sees events promptly; a failing write (disk full) is counted and
// logged once, and never stops the workers. Deferred records (eve.hpp) are
// rendered here, on this thread, into its own buffer.
// Thread rules: rings are added before start(); stop() drains and joins.
#pragma once

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "dataplane/eve.hpp"
#include "dataplane/event_ring.hpp"
#include "dataplane/result.hpp"

namespace sluice {

class EveWriter {
public:
    // Opens (appends to) `path`; "-" writes to standard output.
    static Result<std::unique_ptr<EveWriter>> open(const std::string& path);
    ~EveWriter();

    void add_ring(EventRing* ring) { rings_.push_back(ring); }
    void start();
    // Writes everything still queued, flushes and stops the thread.
    void stop();

    const std::string& path() const { return path_; }
    uint64_t events() const { return events_.load(std::memory_order_relaxed); }
    uint64_t bytes() const { return bytes_.load(std::memory_order_relaxed); }
    uint64_t errors() const { return errors_.load(std::memory_order_relaxed); }

private:
    EveWriter(std::string path, std::FILE* f) : path_(std::move(path)), file_(f) {}
    size_t drain_once();
    void loop();

    std::string path_;
    std::FILE* file_;
    std::vector<EventRing*> rings_;
    std::thread thread_;
    std::atomic<bool> running_{false};
    std::atomic<uint64_t> events_{0};
    std::atomic<uint64_t> bytes_{0};
    std::atomic<uint64_t> errors_{0};
    bool error_logged_ = false;
    bool render_error_logged_ = false;
    EveReader reader_;  // renders deferred events
};

}  // namespace sluice
