// CPU time of the calling thread, for the stand-alone benchmarks: a busy,
// shared machine does not inflate it the way it inflates wall-clock time.
#pragma once

#include <ctime>

inline double thread_cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}
