#include "app/runtime.hpp"

#include <fmt/format.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mempool.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>

#include "app/control.hpp"
#include "app/eve_writer.hpp"
#include "app/metrics.hpp"
#include "app/rules.hpp"
#include "detectors/detector.hpp"
#include "detectors/malware/scan_service.hpp"
#include "detectors/ot_policy/ot_policy_detector.hpp"
#include "signatures/rule_set.hpp"
#include "dataplane/dispatcher.hpp"
#include "dataplane/eve.hpp"
#include "dataplane/worker.hpp"

namespace sluice {

namespace {

std::atomic<bool> g_stop{false};
std::atomic<bool> g_reload{false};

void on_signal(int sig) {
    if (sig == SIGHUP) g_reload.store(true);
    else g_stop.store(true);
}

uint64_t realtime_ns() {
    return static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

int worker_main(void* arg) { return static_cast<Worker*>(arg)->run(); }

std::string human(uint64_t n) {
    if (n >= 10'000'000'000ull) return fmt::format("{:.1f}G", static_cast<double>(n) / 1e9);
    if (n >= 10'000'000ull) return fmt::format("{:.1f}M", static_cast<double>(n) / 1e6);
    if (n >= 100'000ull) return fmt::format("{:.1f}k", static_cast<double>(n) / 1e3);
    return std::to_string(n);
}

template <typename E>
std::string breakdown(const CounterArray<E>& a) {
    std::string out;
    for (size_t i = 0; i < a.size(); ++i) {
        if (!a[i]) continue;
        if (!out.empty()) out += ", ";
        out += fmt::format("{} {}", counter_name(static_cast<E>(i)), a[i]);
    }
    return out;
}

}  // namespace

void install_signal_handlers() {
    struct sigaction sa{};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGHUP, &sa, nullptr);
    signal(SIGPIPE, SIG_IGN);
}
void apply_cli_rules(Config& config, const std::vector<std::string>& rule_files) {
    config.rules.files.insert(config.rules.files.end(), rule_files.begin(), rule_files.end());
}

bool stop_requested() { return g_stop.load(); }
void request_stop() { g_stop.store(true); }

Runtime::Runtime(Config config, ConfigSource source)
    : config_(std::move(config)), source_(std::move(source)), started_(std::chrono::steady_clock::now()) {}

Runtime::~Runtime() {
    done_.store(true);
    if (management_.joinable()) management_.join();
    control_.reset();
    metrics_.reset();
    workers_.clear();
    dispatcher_.reset();
    if (eal_up_) dataplane_stop(dp_);
}

Result<std::shared_ptr<DetectionSnapshot>> Runtime::build_snapshot(const Config& config) const {
    auto snap = std::make_shared<DetectionSnapshot>();
    snap->filter = std::make_shared<const L4Filter>(config.filter);
    if (!config.rules.files.empty()) {
        std::shared_ptr<const DetectionSnapshot> current = snapshots_ ? snapshots_->current() : nullptr;
        auto rules = load_rule_set(config, current && current->rules ? current->rules.get() : nullptr);
        if (!rules) return rules.error();
        snap->rules = std::move(*rules);
    }
    auto ot_policy = build_ot_policy(config);
    if (!ot_policy) return ot_policy.error();
    snap->ot_policy = std::move(*ot_policy);
    // Malware scanning (issue 5): one ScanService per process, made when
    // malware.db-dir is first set and carried over unchanged by reloads
    // (reload() loads its database again); stopped when the last snapshot goes.
    auto scanner = malware_scanner(config);
    if (!scanner) return scanner.error();
    snap->scanner = std::move(*scanner);
    return snap;
}

Result<std::shared_ptr<ScanService>> Runtime::malware_scanner(const Config& config) const {
    std::shared_ptr<const DetectionSnapshot> current = snapshots_ ? snapshots_->current() : nullptr;
    if (current && current->scanner) {
        if (!config.malware.enabled())
            spdlog::warn("malware.db-dir is empty now, but scanning stays on until a restart");
        return current->scanner;
    }
    if (!config.malware.enabled()) return std::shared_ptr<ScanService>();
    auto svc = ScanService::create(config.malware.scan, dp_.workers);
    if (!svc) return make_error("malware.db-dir: " + svc.message());
    std::shared_ptr<ScanService> s(std::move(*svc));
    if (auto st = s->start(); !st) return make_error("malware.scanner-cpus: " + st.message());
    const EngineInfo e = s->engine_info();
    spdlog::info("malware: ClamAV {} with {} signatures from {}, {} scanner thread{}", e.engine_version, e.signatures,
                 e.db_dir, config.malware.scan.scanner_threads, config.malware.scan.scanner_threads == 1 ? "" : "s");
    return s;
}

std::vector<const Detector*> Runtime::detector_instances(size_t slot) const {
    std::vector<const Detector*> out;
    for (const auto& w : workers_)
        if (const Detector* d = w->detector(slot)) out.push_back(d);
    return out;
}

void Runtime::write_detector_stats(JsonWriter& w) const {
    const auto table = detector_table();
    for (size_t i = 0; i < table.size(); ++i) {
        if (!table[i].write_stats) continue;
        const auto inst = detector_instances(i);
        if (!inst.empty()) table[i].write_stats(inst, w);
    }
    if (snapshots_) {
        const auto snap = snapshots_->current();
        if (snap && snap->rules) {
            const LoadReport& r = snap->rules->load_report();
            w.begin_object("rules").kv("loaded", uint64_t{r.loaded}).kv("skipped", uint64_t{r.skipped});
            w.kv("reloads_ok", reloads_ok_.load()).kv("reloads_failed", reloads_failed_.load()).end_object();
        }
    }
}

void Runtime::detector_metrics(std::vector<prometheus::MetricFamily>& out) const {
    MetricSamples samples;
    const auto table = detector_table();
    for (size_t i = 0; i < table.size(); ++i) {
        if (!table[i].metrics) continue;
        const auto inst = detector_instances(i);
        if (!inst.empty()) table[i].metrics(inst, samples);
    }
    if (snapshots_) {
        const auto snap = snapshots_->current();
        if (snap && snap->rules) {
            const LoadReport& r = snap->rules->load_report();
            samples.push_back({"sluice_rules_loaded", "Rules loaded and active.", false, {}, static_cast<double>(r.loaded)});
            for (size_t k = 0; k < r.skipped_by_reason.size(); ++k)
                samples.push_back({"sluice_rules_skipped", "Rules skipped at load, by reason.", false,
                                   {{"reason", std::string(counter_name(static_cast<RuleError>(k)))}},
                                   static_cast<double>(r.skipped_by_reason[k])});
            samples.push_back({"sluice_rules_compile_seconds", "Time the running rule set took to compile (or load from cache).",
                               false, {}, snap->rules->stats().seconds});
        }
    }
    samples.push_back({"sluice_reloads_total", "Rule/configuration reloads, by result.", true, {{"result", "ok"}},
                       static_cast<double>(reloads_ok_.load())});
    samples.push_back({"sluice_reloads_total", "Rule/configuration reloads, by result.", true, {{"result", "failed"}},
                       static_cast<double>(reloads_failed_.load())});
    samples.push_back({"sluice_reload_seconds", "Duration of the last successful reload.", false, {}, last_reload_seconds_.load()});
    append_samples(samples, out);
}

Status Runtime::start_services() {
    auto eve = EveWriter::open(config_.eve.file);
    if (!eve) return eve.error();
    eve_writer_ = std::move(*eve);
    if (config_.metrics.enabled) {
        auto m = MetricsServer::start(config_.metrics.listen, [this] { return snapshot(); });
        if (!m) return m.error();
        metrics_ = std::move(*m);
        metrics_->add_extension([this](std::vector<prometheus::MetricFamily>& out) { detector_metrics(out); });
    }
    if (!config_.control.socket.empty()) {
        auto c = ControlServer::start(config_.control.socket, [this](const auto& words) { return control(words); });
        if (!c) return c.error();
        control_ = std::move(*c);
    }
    return {};
}

Status Runtime::start_dataplane() {
    auto dp = dataplane_start(config_);
    if (!dp) return dp.error();
    dp_ = std::move(*dp);
    auto snap = build_snapshot(config_);
    if (!snap) return snap.error();
    snapshots_ = std::make_unique<SnapshotPublisher>(dp_.workers);
    snapshots_->publish(std::move(*snap));

    // in_iface names the live interface; capture files have none (as in Suricata).
    if (!dp_.offline && !dp_.ports.empty()) in_iface_ = dp_.ports[0].label;
    const std::string& iface = in_iface_;
    if (dp_.dispatch) {
        std::vector<Dispatcher::Port> in;
        for (const auto& p : dp_.ports) {
            Dispatcher::Port dport;
            dport.rx = p.id;
            dport.tx = p.peer >= 0 ? dp_.ports[static_cast<size_t>(p.peer)].id : (p.tx ? p.id : -1);
            dport.reply = p.tx || p.peer >= 0;
            in.push_back(dport);
        }
        dispatcher_ = std::make_unique<Dispatcher>(std::move(in), dp_.offline, dp_.workers, dp_.pool, dp_.seqn_offset,
                                                   dp_.timestamp_offset, dp_.timestamp_flag, config_.capture.burst,
                                                   config_.capture.idle_sleep_us, g_stop);
    }
    for (uint32_t w = 0; w < dp_.workers; ++w) {
        WorkerSetup s;
        s.id = w;
        s.lcore = dp_.worker_lcores[w];
        s.tx_queue = static_cast<uint16_t>(dp_.dispatch ? 0 : w);
        s.pool = dp_.pool;
        s.offline = dp_.offline;
        s.in_iface = iface;
        s.timestamp_offset = dp_.timestamp_offset;
        s.timestamp_flag = dp_.timestamp_flag;
        s.seqn_offset = dp_.seqn_offset;
        if (dp_.dispatch) {
            s.dispatch = dispatcher_->link(w);
        } else {
            for (const auto& p : dp_.ports) {
                if (!p.rx) continue;
                WorkerRxQueue q;
                q.port = p.id;
                q.queue = static_cast<uint16_t>(w);
                if (p.peer >= 0) q.tx_port = dp_.ports[static_cast<size_t>(p.peer)].id;
                else if (p.tx) q.tx_port = p.id;  // a capture written back out
                q.reject_port = p.id;
                q.reject_port_tx = p.tx || p.peer >= 0;
                s.rx.push_back(q);
            }
        }
        rings_.push_back(std::make_unique<EventRing>(config_.eve.ring_bytes));
        eve_writer_->add_ring(rings_.back().get());
        workers_.push_back(std::make_unique<Worker>(config_, s, *snapshots_, *rings_.back(), workers_stop_));
    }
    mgmt_ring_ = std::make_unique<EventRing>(1u << 20);
    eve_writer_->add_ring(mgmt_ring_.get());
    mgmt_eve_ = std::make_unique<EveEmitter>(*mgmt_ring_, eve_type_mask(config_.eve.types), true, iface);
    return {};
}

StatsSnapshot Runtime::snapshot() const {
    StatsSnapshot s;
    s.uptime_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    for (const auto& w : workers_) {
        s.workers.push_back(read_worker(*w));
        s.total.add(s.workers.back());
    }
    for (const auto& p : dp_.ports) {
        rte_eth_stats st{};
        PortStats ps;
        ps.name = p.name;
        ps.label = p.label;
        if (rte_eth_stats_get(p.id, &st) == 0) {
            ps.rx_packets = st.ipackets;
            ps.rx_bytes = st.ibytes;
            ps.tx_packets = st.opackets;
            ps.tx_bytes = st.obytes;
            ps.rx_missed = st.imissed;
            ps.rx_errors = st.ierrors;
            ps.tx_errors = st.oerrors;
            ps.rx_nombuf = st.rx_nombuf;
        }
        s.ports.push_back(ps);
    }
    if (dp_.pool) {
        s.mempool_in_use = rte_mempool_in_use_count(dp_.pool);
        s.mempool_size = dp_.pool->size;
    }
    if (eve_writer_) {
        s.eve_events = eve_writer_->events();
        s.eve_write_errors = eve_writer_->errors();
    }
    if (mgmt_eve_) {
        for (size_t i = 0; i < s.total.eve_written.size(); ++i) s.total.eve_written[i] += mgmt_eve_->written().get(i);
    }
    return s;
}

Status Runtime::reload() {
    std::lock_guard lock(reload_mu_);
    const auto t0 = std::chrono::steady_clock::now();
    auto next = load_config(source_.path, source_.overrides);
    if (next) apply_cli_rules(*next, source_.rule_files);
    Result<std::shared_ptr<DetectionSnapshot>> snap = next ? build_snapshot(*next) : Result<std::shared_ptr<DetectionSnapshot>>(next.error());
    if (!snap) {
        reloads_failed_.fetch_add(1);
        spdlog::error("reload failed, keeping the running configuration and rules: {}", snap.message());
        return snap.error();
    }
    // The ClamAV database is loaded again when the service was already there.
    const std::shared_ptr<ScanService> scanner = (*snap)->scanner;
    const std::shared_ptr<const DetectionSnapshot> before = snapshots_->current();
    const bool reload_db = scanner && before && before->scanner == scanner;
    const uint64_t gen = snapshots_->publish(std::move(*snap));
    if (reload_db) {
        auto r = scanner->reload(next->malware.enabled() ? next->malware.scan.db_dir : std::string());
        if (!r) {
            reloads_failed_.fetch_add(1);
            spdlog::error("reload: rules and configuration reloaded, but the ClamAV database was not (the old one stays): {}",
                          r.message());
            return make_error("ClamAV database not reloaded (the old one stays): " + r.message());
        }
        spdlog::info("reload: ClamAV database {} loaded, {} signatures, in {:.1f} ms", r->db_dir, r->signatures,
                     static_cast<double>(r->load_ns) / 1e6);
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    last_reload_seconds_.store(secs);
    reloads_ok_.fetch_add(1);
    spdlog::info("reload: detection snapshot {} published in {:.1f} ms (filter: {} rules, signatures: {})", gen, secs * 1000,
                 next->filter.rules.size(), next->rules.files.empty() ? std::string("off") : std::to_string(next->rules.files.size()) + " files");
    return {};
}

std::string Runtime::control(const std::vector<std::string>& words) {
    const std::string& cmd = words[0];
    const auto table = detector_table();
    for (size_t i = 0; i < table.size(); ++i) {
        std::string reply;
        if (table[i].control && table[i].control(detector_instances(i), words, reply)) return control_ok(reply);
    }
    if (cmd == "stats") {
        const StatsSnapshot s = snapshot();
        std::string buf(1 << 16, '\0');
        JsonWriter w(buf.data(), buf.size());
        w.begin_object();
        write_stats_object(w, s, [this](JsonWriter& jw) { write_detector_stats(jw); });
        w.end_object();
        const std::string_view v = w.view();
        // write_stats_object writes {"stats":{...}}: reply with the inner object.
        return control_ok(std::string(v.substr(9, v.size() - 10)));
    }
    if (cmd == "reload") {
        if (!snapshots_) return control_error("not running yet");
        auto r = reload();
        if (!r) return control_error(r.message());
        return control_ok(fmt::format("{{\"generation\":{}}}", snapshots_->generation()));
    }
    if (cmd == "shutdown") {
        request_stop();
        return control_ok("\"shutting down\"");
    }
    if (cmd == "version") return control_ok(fmt::format("\"sluice {}\"", SLUICE_VERSION));
    if (cmd == "uptime")
        return control_ok(fmt::format("{}", static_cast<uint64_t>(
                                                std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count())));
    if (cmd == "help")
        return control_ok("[\"stats\",\"reload\",\"shutdown\",\"version\",\"uptime\",\"top-rules [N]\",\"assets\",\"ot-policy\",\"help\"]");
    return control_error(fmt::format("unknown command '{}' (try: help)", cmd));
}

void Runtime::emit_stats_event(uint64_t ts_ns) {
    const StatsSnapshot s = snapshot();
    JsonWriter* w = mgmt_eve_->begin(EveType::stats, ts_ns, 0, nullptr);
    if (!w) return;
    write_stats_object(*w, s, [this](JsonWriter& jw) { write_detector_stats(jw); });
    mgmt_eve_->end();
}

void Runtime::print_progress(bool final_line) {
    if (!dp_.offline || !isatty(STDERR_FILENO)) return;
    if (final_line) {
        if (progress_shown_) std::fputs("\r\033[K", stderr);
        return;
    }
    const StatsSnapshot s = snapshot();
    const uint64_t pkts = s.total.worker[static_cast<size_t>(WorkerCounter::rx_packets)];
    const uint64_t bytes = s.total.worker[static_cast<size_t>(WorkerCounter::rx_bytes)];
    const double secs = std::max(1e-3, s.uptime_s);
    const double pos = 24.0 + 16.0 * static_cast<double>(pkts) + static_cast<double>(bytes);
    const double share = dp_.capture_bytes ? std::min(100.0, 100.0 * pos / static_cast<double>(dp_.capture_bytes)) : 0;
    std::fprintf(stderr, "\r\033[Ksluice: %s packets  %5.1f%% of %s  %s pkt/s  %s flows", human(pkts).c_str(),
                 config_.capture.pcap_loop ? 0.0 : share, config_.capture.pcap.c_str(),
                 human(static_cast<uint64_t>(static_cast<double>(pkts) / secs)).c_str(), human(s.total.flows_active).c_str());
    std::fflush(stderr);
    progress_shown_ = true;
}

void Runtime::management_loop() {
    auto last_stats = std::chrono::steady_clock::now();
    auto last_progress = last_stats;
    while (!done_.load()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        if (g_stop.load() && !dp_.dispatch) workers_stop_.store(true);
        if (g_reload.exchange(false)) (void)reload();
        if (snapshots_) snapshots_->release_previous();
        const auto now = std::chrono::steady_clock::now();
        if (!dp_.offline && config_.eve.stats_interval_s &&
            now - last_stats >= std::chrono::seconds(config_.eve.stats_interval_s)) {
            emit_stats_event(realtime_ns());
            last_stats = now;
        }
        if (now - last_progress >= std::chrono::milliseconds(500)) {
            print_progress(false);
            last_progress = now;
        }
    }
}

void Runtime::print_summary() const {
    const StatsSnapshot s = snapshot();
    const WorkerStats& t = s.total;
    auto c = [&t](WorkerCounter k) { return t.worker[static_cast<size_t>(k)]; };
    std::string source = !config_.capture.pcap.empty() ? config_.capture.pcap
                         : !config_.capture.inline_ifaces.empty()
                             ? fmt::format("inline {}<->{}", config_.capture.inline_ifaces[0], config_.capture.inline_ifaces[1])
                             : config_.capture.iface;
    const bool ips = config_.mode == RunMode::ips;
    fmt::print("sluice {}: {} ({} mode, {} worker{})\n", SLUICE_VERSION, source, ips ? "ips" : "ids", workers_.size(),
               workers_.size() == 1 ? "" : "s");
    fmt::print("  packets   {} read ({} bytes), {} forwarded, {} {}", c(WorkerCounter::rx_packets), c(WorkerCounter::rx_bytes),
               c(WorkerCounter::forwarded), ips ? c(WorkerCounter::dropped) : c(WorkerCounter::would_drop),
               ips ? "dropped" : "would have been dropped");
    const std::string drops = breakdown<DropReason>(ips ? t.drops : t.would_drops);
    fmt::print("{}\n", drops.empty() ? "" : " (" + drops + ")");
    fmt::print("  flows     {} (tcp {}, udp {}, icmp {}, other {}), {} evicted\n", t.flow[static_cast<size_t>(FlowCounter::created)],
               c(WorkerCounter::flows_tcp), c(WorkerCounter::flows_udp), c(WorkerCounter::flows_icmp),
               c(WorkerCounter::flows_other), t.flow[static_cast<size_t>(FlowCounter::evicted)]);
    uint64_t malformed = 0;
    for (auto v : t.malformed) malformed += v;
    if (malformed) fmt::print("  malformed {} ({})\n", malformed, breakdown<MalformedReason>(t.malformed));
    if (c(WorkerCounter::fragments))
        fmt::print("  fragments {} ({} datagrams reassembled)\n", c(WorkerCounter::fragments),
                   t.defrag[static_cast<size_t>(DefragCounter::reassembled)]);
    const uint64_t alerts = t.eve_written[static_cast<size_t>(EveType::alert)];
    fmt::print("  alerts    {} -> {}\n", alerts, config_.eve.file);
    fmt::print("  events    {} written to {} ({})\n", s.eve_events, config_.eve.file, breakdown<EveType>(t.eve_written));
    uint64_t lost = 0;
    for (auto v : t.eve_lost) lost += v;
    if (lost || s.eve_write_errors) fmt::print("  LOST      {} events ({}), {} write errors\n", lost, breakdown<EveLoss>(t.eve_lost), s.eve_write_errors);
    if (!config_.capture.write_pcap.empty()) fmt::print("  written   {}\n", config_.capture.write_pcap);
    fmt::print("  time      {:.2f} s ({} pkt/s)\n", run_seconds_,
               human(static_cast<uint64_t>(static_cast<double>(c(WorkerCounter::rx_packets)) / std::max(1e-3, run_seconds_))));
    std::fflush(stdout);
}

int Runtime::run() {
    if (auto s = start_services(); !s) {
        fmt::print(stderr, "sluice: {}\n", s.message());
        return 2;
    }
    auto args = eal_arguments(config_);
    if (!args) {
        fmt::print(stderr, "sluice: {}\n", args.message());
        return 2;
    }
    if (auto s = eal_start(*args); !s) {
        fmt::print(stderr, "sluice: {}\n", s.message());
        return 1;
    }
    eal_up_ = true;
    if (auto s = start_dataplane(); !s) {
        fmt::print(stderr, "sluice: {}\n", s.message());
        return 2;
    }
    const auto t0 = std::chrono::steady_clock::now();
    eve_writer_->start();
    management_ = std::thread([this] { management_loop(); });
    for (uint32_t w = 0; w < workers_.size(); ++w)
        rte_eal_remote_launch(worker_main, workers_[w].get(), dp_.worker_lcores[w]);
    if (dispatcher_) dispatcher_->run();
    // Wait without spinning (rte_eal_mp_wait_lcore busy-waits): the main lcore
    // may share a CPU with a worker.
    auto all_finished = [this] {
        for (const auto& w : workers_)
            if (!w->finished()) return false;
        return true;
    };
    while (!all_finished()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    rte_eal_mp_wait_lcore();
    run_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    done_.store(true);
    management_.join();
    print_progress(true);
    uint64_t last_ts = 0;
    for (const auto& w : workers_) last_ts = std::max(last_ts, w->clock_ns());
    emit_stats_event(dp_.offline && last_ts ? last_ts : realtime_ns());
    eve_writer_->stop();
    print_summary();
    // Detectors' work at exit (the learned OT policy), once every worker stopped.
    int rc = 0;
    const auto table = detector_table();
    for (size_t i = 0; i < table.size(); ++i) {
        if (!table[i].finish) continue;
        if (auto s = table[i].finish(detector_instances(i)); !s) {
            fmt::print(stderr, "sluice: {}\n", s.message());
            rc = 1;
        }
    }
    return rc;
}

}  // namespace sluice
