// Prometheus metrics (prometheus-cpp pull exposer) served by the management
// side, never by a worker. The collector builds every family at scrape time
// from a StatsSnapshot, so workers only keep their plain counters and nothing
// on the packet path touches Prometheus. docs/metrics.md lists every family.
// Thread rules: Collect() runs on the exposer's HTTP threads; it only reads.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "app/stats.hpp"
#include "detectors/detector.hpp"
#include "dataplane/result.hpp"

namespace prometheus {
class Exposer;
struct MetricFamily;
}  // namespace prometheus

namespace sluice {

// Extra families from detectors (rules loaded, alerts by class, ...).
using MetricsExtension = std::function<void(std::vector<prometheus::MetricFamily>&)>;

// Groups detector samples into families (appended to `out`).
void append_samples(const std::vector<MetricSample>& samples, std::vector<prometheus::MetricFamily>& out);

class MetricsServer {
public:
    // Binds `listen` ("ADDR:PORT"); a taken port is an error, not a crash.
    static Result<std::unique_ptr<MetricsServer>> start(const std::string& listen,
                                                         std::function<StatsSnapshot()> snapshot);
    ~MetricsServer();

    void add_extension(MetricsExtension ext);
    // Every family as a scrape would return it (also used by tests).
    std::vector<prometheus::MetricFamily> collect() const;
    const std::string& listen() const { return listen_; }

private:
    class Collector;
    MetricsServer() = default;
    std::string listen_;
    std::unique_ptr<prometheus::Exposer> exposer_;
    std::shared_ptr<Collector> collector_;
};

}  // namespace sluice
