// Runtime: the lifecycle of one sluice run, owned by app/ (DESIGN layout).
// Start-up order: EVE file, metrics endpoint, control socket (all of which can
// fail on bad configuration: exit 2, one line), then the EAL, ports and
// workers. The main lcore runs the dispatcher (one capture, several workers)
// or waits; a management thread serves signals, reloads, periodic stats and
// the progress line. At the end (end of file, SIGINT/SIGTERM, `ctl shutdown`)
// workers end their flows, the final stats event is written, the EVE file is
// drained, and a short summary goes to standard output.
// Thread rules: run() on the main thread; control handlers and metrics
// scrapes read counters from their own threads.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "app/config.hpp"
#include "app/config_loader.hpp"
#include "app/stats.hpp"
#include "dataplane/event_ring.hpp"
#include "dataplane/ports.hpp"
#include "detectors/snapshot.hpp"

namespace prometheus {
struct MetricFamily;
}

namespace sluice {

class ControlServer;
class Detector;
class JsonWriter;
class Dispatcher;
class EveEmitter;
class EveWriter;
class MetricsServer;
class ScanService;
class Worker;

// Where the configuration came from, so a reload can read it again.
struct ConfigSource {
    std::string path;
    std::vector<ConfigOverride> overrides;
    std::vector<std::string> rule_files;  // --rules FILE (added to rules.files)
};

// Adds the command line's --rules files to the configured ones.
void apply_cli_rules(Config& config, const std::vector<std::string>& rule_files);

class Runtime {
public:
    Runtime(Config config, ConfigSource source);
    ~Runtime();

    // Runs to the end; returns the process exit code.
    int run();

    StatsSnapshot snapshot() const;
    // Handles one control command (also used by tests).
    std::string control(const std::vector<std::string>& words);
    // Re-reads the configuration and publishes a new detection snapshot.
    Status reload();

private:
    Status start_services();
    Status start_dataplane();
    void management_loop();
    void emit_stats_event(uint64_t ts_ns);
    void print_progress(bool final_line);
    void print_summary() const;
    Result<std::shared_ptr<DetectionSnapshot>> build_snapshot(const Config& config) const;
    // The ClamAV scanning service for a new snapshot: the running one, or a new
    // one when malware.db-dir is set for the first time, or none.
    Result<std::shared_ptr<ScanService>> malware_scanner(const Config& config) const;
    // Every worker's instance of the detector at `slot` of the table.
    std::vector<const Detector*> detector_instances(size_t slot) const;
    void write_detector_stats(JsonWriter& w) const;
    void detector_metrics(std::vector<prometheus::MetricFamily>& out) const;

    Config config_;
    ConfigSource source_;
    std::chrono::steady_clock::time_point started_;
    Dataplane dp_;
    bool eal_up_ = false;
    std::string in_iface_;  // outlives every EveEmitter that refers to it

    std::unique_ptr<EveWriter> eve_writer_;
    std::unique_ptr<MetricsServer> metrics_;
    std::unique_ptr<ControlServer> control_;
    std::unique_ptr<SnapshotPublisher> snapshots_;
    std::vector<std::unique_ptr<EventRing>> rings_;
    std::unique_ptr<EventRing> mgmt_ring_;
    std::unique_ptr<EveEmitter> mgmt_eve_;
    std::vector<std::unique_ptr<Worker>> workers_;
    std::unique_ptr<Dispatcher> dispatcher_;

    std::atomic<bool> workers_stop_{false};
    std::atomic<bool> done_{false};
    std::thread management_;
    mutable std::mutex reload_mu_;
    bool progress_shown_ = false;
    double run_seconds_ = 0;
    // Reload bookkeeping, for metrics (read by scrapes, written under reload_mu_).
    std::atomic<uint64_t> reloads_ok_{0};
    std::atomic<uint64_t> reloads_failed_{0};
    std::atomic<double> last_reload_seconds_{0};
};

// Set by SIGINT/SIGTERM and `ctl shutdown`; SIGHUP sets the reload request.
void install_signal_handlers();
bool stop_requested();
void request_stop();

}  // namespace sluice
