// MalwareConfig: the malware.* configuration keys - the ClamAV scanning
// service's settings (ScanConfig, detectors/malware) plus the worker-side
// policy of inline file verdicts: how long a packet that completes a file may
// be held for its verdict, and what happens when no verdict can be had in time
// (timeout) or at all (scan queue full, hold table full): fail-open lets the
// file pass and logs it, fail-closed (ips mode) drops the held packet and
// resets the session. Scanning is on when a database directory is given
// (malware.db-dir, --clamav-db DIR).
// Thread rules: a value type inside the immutable Config.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "detectors/malware/scan_config.hpp"

namespace sluice {

enum class FailPolicy : uint8_t { fail_open, fail_closed };

constexpr std::string_view to_string(FailPolicy p) { return p == FailPolicy::fail_open ? "fail-open" : "fail-closed"; }

struct MalwareConfig {
    ScanConfig scan;                  // the service: db_dir, threads, queue, libclamav limits, quarantine, filestore
    uint32_t hold_timeout_ms = 5000;  // ips: longest a packet completing a file waits for the verdict
    FailPolicy timeout_policy = FailPolicy::fail_open;   // no verdict within hold_timeout_ms
    FailPolicy overload_policy = FailPolicy::fail_open;  // not submitted (queue full, backlog) or not held (hold table full)
    bool scan_truncated = true;       // scan TRUNCATED files too (what was carved of them)

    bool enabled() const { return !scan.db_dir.empty(); }
};

}  // namespace sluice
