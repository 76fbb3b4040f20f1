// Counters of the files detector (habit 5): what became of every carved file
// on its way to the scanner and back, inline holds and their outcomes, and the
// encrypted-SMB policy. One set per worker (one writer), summed by the
// management thread; names are the Prometheus label values.
// Thread rules: written by the owning worker only.
#pragma once

#include <cstddef>
#include <string_view>

namespace sluice {

#define SLUICE_FILES_COUNTERS(X)                                                                      \
    X(files, "files")                                  /* finished files reported by the carver */    \
    X(submitted, "submitted")                          /* handed to the scanner */                    \
    X(not_scanned_no_content, "not_scanned_no_content")  /* nothing kept to scan */                   \
    X(not_scanned_truncated, "not_scanned_truncated")  /* TRUNCATED, malware.scan-truncated off */    \
    X(rejected_queue_full, "rejected_queue_full")      /* scan queue full */                          \
    X(rejected_backlog, "rejected_backlog")            /* this worker's outstanding cap reached */    \
    X(offline_waits, "offline_waits")                  /* capture input: waited for room instead */   \
    X(verdicts, "verdicts")                            /* results taken back from the scanner */      \
    X(clean, "clean")                                                                                 \
    X(malicious, "malicious")                                                                         \
    X(scan_errors, "scan_errors")                                                                     \
    X(scan_timeouts, "scan_timeouts")                  /* the scanner's verdict was timeout */        \
    X(scan_skipped, "scan_skipped")                    /* e.g. larger than malware.max-file-size */   \
    X(gates, "gates")                                  /* inline holds started (ips) */               \
    X(held_packets, "held_packets")                    /* packets held for a verdict */               \
    X(hold_refused, "hold_refused")                    /* the worker's hold table was full */         \
    X(gate_table_full, "gate_table_full")              /* no free gate for a flow */                  \
    X(released_clean, "released_clean")                /* held packets forwarded: all clean */        \
    X(blocked_malicious, "blocked_malicious")          /* held packets rejected: malware */           \
    X(timeout_fail_open, "timeout_fail_open")          /* no verdict in time, let pass */             \
    X(timeout_fail_closed, "timeout_fail_closed")      /* no verdict in time, blocked */              \
    X(overload_fail_open, "overload_fail_open")        /* not scanned or not held, let pass */        \
    X(overload_fail_closed, "overload_fail_closed")    /* not scanned or not held, blocked */         \
    X(malicious_passed, "malicious_passed")            /* malicious verdict after the file passed */  \
    X(followers_dropped, "followers_dropped")          /* later packets of a gated flow not held: dropped */ \
    X(encrypted_sessions, "encrypted_sessions")                                                       \
    X(encrypted_alerted, "encrypted_alerted")                                                         \
    X(encrypted_blocked, "encrypted_blocked")

enum class FilesCounter : unsigned {
#define SLUICE_X(id, name) id,
    SLUICE_FILES_COUNTERS(SLUICE_X)
#undef SLUICE_X
        count
};

constexpr std::string_view counter_name(FilesCounter c) {
    constexpr std::string_view names[] = {
#define SLUICE_X(id, name) name,
        SLUICE_FILES_COUNTERS(SLUICE_X)
#undef SLUICE_X
    };
    return names[static_cast<size_t>(c)];
}

}  // namespace sluice
