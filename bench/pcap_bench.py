"""Shared harness of the detector benchmarks (bench/ot, bench/smb): runs
`sluice --pcap FILE` once per configuration and repetition, one worker, and
measures the worker lcore's own CPU time.

Why a plain --pcap run and not net_pcap's infinite_rx (forwarding_bench.py):
the detectors under test work on TCP connections (handshake, reassembly,
application messages, files). Replaying a capture in a loop would send the
same connections again with the same sequence numbers: after the first pass
every segment is a retransmission or hits a closed flow, and the decoders
would see nothing. A capture of many distinct connections read once from
start to end makes every packet count.

The figure of a run is packets (and bytes) / CPU seconds of the worker thread
(/proc/PID/task/TID/schedstat). sluice prints its summary once every worker
has returned; the harness stops sluice (SIGSTOP) when the summary's `time`
line arrives, reads the worker's CPU time, which no longer moves, and lets
it go on (SIGCONT): the figure is exact (`worker_cpu_exact`). Should that
miss, the value polled every 2 ms is used (`worker_cpu_settled` says whether
it had stopped moving).
This is what one dedicated core would do, whatever else runs on this shared
machine; the capture is read by net_pcap on the same worker core in every
configuration, so that cost (libpcap read + copy into an mbuf) is in both
sides of the ratio. sluice's own summary (`time ... s`, wall clock from the
workers' launch to their end) is recorded too.

Configurations are run interleaved: repetition r runs every configuration
once, in an order that rotates with r, and ratios are taken per repetition
(adjacent runs), then summarised by median, min and max.
"""

import datetime
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def _worker_tids(pid):
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/comm") as fh:
                    if fh.read().startswith(("rte-worker", "lcore-worker", "dpdk-worker")):
                        out.append(int(tid))
            except OSError:
                pass
    except OSError:
        pass
    return sorted(out)


def _cpu_ns(pid, tid):
    try:
        with open(f"/proc/{pid}/task/{tid}/schedstat") as fh:
            return int(fh.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _proc_cpu_s(pid):
    try:
        with open(f"/proc/{pid}/stat") as fh:
            f = fh.read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def run_sluice(sluice, pcap, sets, workdir, label, env=None, perf_out=None, timeout=900):
    """One offline run; returns a dict of measured figures."""
    os.makedirs(workdir, exist_ok=True)
    eve = os.path.join(workdir, f"eve-{label}.json")
    if os.path.exists(eve):
        os.unlink(eve)
    cmd = [sluice, "--pcap", pcap, "--workers", "1", "--mode", "ids", "--no-metrics", "--control", "",
           "--eve", eve]
    for kv in sets:
        cmd += ["--set", kv]
    full_env = dict(os.environ, **(env or {}))
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=full_env)
    state = {"tids": [], "final": None}
    lines = []

    def reader():
        # The summary is printed once every worker has returned: stop sluice
        # there, read the worker's CPU time (exact: it no longer runs), go on.
        for line in iter(proc.stdout.readline, ""):
            lines.append(line)
            if line.lstrip().startswith("time ") and state["tids"] and state["final"] is None:
                try:
                    os.kill(proc.pid, signal.SIGSTOP)
                    state["final"] = _cpu_ns(proc.pid, state["tids"][0])
                finally:
                    os.kill(proc.pid, signal.SIGCONT)

    th = threading.Thread(target=reader, daemon=True)
    th.start()
    last, last_change, samples, perf, proc_cpu = None, None, 0, None, None
    while proc.poll() is None:
        if not state["tids"]:
            state["tids"] = _worker_tids(proc.pid)
            if state["tids"] and perf_out:
                perf = subprocess.Popen(["perf", "record", "-g", "-o", perf_out, "-t", str(state["tids"][0])],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if state["tids"]:
            v = _cpu_ns(proc.pid, state["tids"][0])
            if v is not None:
                samples += 1
                if v != last:
                    last, last_change = v, samples
            pc = _proc_cpu_s(proc.pid)
            if pc is not None:
                proc_cpu = pc
        if time.monotonic() - t0 > timeout:
            proc.kill()
            break
        time.sleep(0.002)
    proc.wait()
    th.join(timeout=10)
    out = "".join(lines)
    wall = time.monotonic() - t0
    if perf:
        perf.wait(timeout=60)
    shutil.rmtree(f"/var/run/dpdk/sluice{proc.pid}", ignore_errors=True)
    exact = state["final"] is not None
    if exact:
        last = state["final"]
    if proc.returncode != 0:
        raise RuntimeError(f"sluice ({label}) exited {proc.returncode}:\n{out[-3000:]}")
    m = re.search(r"packets\s+(\d+) read \((\d+) bytes\)", out)
    t = re.search(r"time\s+([\d.]+) s", out)
    if not m or not t or last is None:
        raise RuntimeError(f"sluice ({label}): no summary or no worker thread seen:\n{out[-3000:]}")
    packets, nbytes = int(m.group(1)), int(m.group(2))
    cpu_s = last / 1e9
    stats = last_stats_event(eve)
    return {
        "label": label,
        "packets": packets,
        "bytes": nbytes,
        "worker_cpu_s": cpu_s,
        # settled: the worker's CPU time was sampled unchanged at least twice
        # before sluice exited, so the figure is exact, not cut short.
        "worker_cpu_settled": exact or samples - last_change >= 2,
        "worker_cpu_exact": exact,
        "summary_time_s": float(t.group(1)),
        "process_cpu_s": proc_cpu,
        "process_wall_s": wall,
        "pps_per_core": packets / cpu_s,
        "mbps_per_core": nbytes * 8 / cpu_s / 1e6,
        "pps_wall": packets / max(1e-9, float(t.group(1))),
        "worker_cpu_share": cpu_s / max(1e-9, float(t.group(1))),
        "summary": out.strip().splitlines()[-12:],
        "stats": stats,
        "events": event_counts(eve),
    }


def event_counts(path):
    """EVE events written, by event_type."""
    out = {}
    pat = re.compile(rb'"event_type":\s*"([a-z0-9_]+)"')
    try:
        with open(path, "rb") as fh:
            for line in fh:
                m = pat.search(line)
                if m:
                    k = m.group(1).decode()
                    out[k] = out.get(k, 0) + 1
    except OSError:
        pass
    return out


def last_stats_event(eve):
    """The last EVE stats event, trimmed to its counters (or None)."""
    last = None
    try:
        with open(eve, "rb") as fh:
            for line in fh:
                if b'"event_type": "stats"' in line or b'"event_type":"stats"' in line:
                    last = line
    except OSError:
        return None
    if last is None:
        return None
    try:
        return json.loads(last).get("stats")
    except ValueError:
        return None



def argument_parser(doc, data_dir="/var/tmp/sluice-bench"):
    """The options every capture benchmark takes; the caller adds its own."""
    import argparse
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sluice", required=True)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--data-dir", default=data_dir)
    ap.add_argument("--perf", action="store_true", help="one more run per configuration under perf record -g")
    ap.add_argument("--perf-dir", default=None)
    ap.add_argument("--set", action="append", default=[], help="KEY=VALUE for every configuration")
    ap.add_argument("--out")
    return ap


def parse_arguments(ap):
    """Command line plus SLUICE_BENCH_ARGS (extra options when run through meson's run targets)."""
    import shlex
    return ap.parse_args(sys.argv[1:] + shlex.split(os.environ.get("SLUICE_BENCH_ARGS", "")))

def summarise(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    med = statistics.median(values)
    return {"median": med, "min": min(values), "max": max(values), "n": len(values),
            "spread_pct": 100.0 * (max(values) - min(values)) / med if med else None,
            "stdev": statistics.stdev(values) if len(values) > 1 else 0.0}


def interleaved(sluice, pcap, configs, repeats, workdir, perf_dir=None, warmup=True):
    """configs: list of (label, [KEY=VALUE...]). Returns {label: [run, ...]}."""
    runs = {label: [] for label, _ in configs}
    if warmup:  # page cache, first-touch of the binary and libraries; not counted
        for label, sets in configs:
            log(f"  warm-up {label}")
            run_sluice(sluice, pcap, sets, workdir, label)
    for r in range(repeats):
        order = configs[r % len(configs):] + configs[:r % len(configs)]
        for label, sets in order:
            res = run_sluice(sluice, pcap, sets, workdir, label)
            res["repeat"] = r
            runs[label].append(res)
            log(f"  repeat {r + 1}/{repeats} {label:>10}: {res['pps_per_core'] / 1e3:9.1f} kpps/core "
                f"{res['mbps_per_core']:8.1f} Mbit/s/core  (worker {res['worker_cpu_s']:.2f} s CPU, "
                f"{res['summary_time_s']:.2f} s wall{'' if res['worker_cpu_settled'] else ', NOT settled'})")
    if perf_dir:
        os.makedirs(perf_dir, exist_ok=True)
        for label, sets in configs:
            out = os.path.join(perf_dir, f"perf-{label}.data")
            log(f"  perf record {label} -> {out}")
            run_sluice(sluice, pcap, sets, workdir, label, perf_out=out)
    return runs


def ratios(runs, num, den, key="pps_per_core"):
    out = []
    for a, b in zip(runs[num], runs[den]):
        out.append(a[key] / b[key])
    return out


# CPU features the results depend on: the development VM's guest has shown
# AVX-512 on some days and not on others (the carver's copy is then AVX2).
NOTED_CPU_FLAGS = ("avx2", "avx512f", "avx512bw", "sha_ni", "clflushopt", "pcid")


def host_info():
    cpu, flags = "", set()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name") and not cpu:
                    cpu = line.split(":", 1)[1].strip()
                elif line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    break
    except OSError:
        pass
    try:  # a copied tree (the lent machines) may have no git or no .git
        commit = subprocess.run(["git", "-C", REPO, "rev-parse", "HEAD"], capture_output=True,
                                text=True).stdout.strip() or None
    except OSError:
        commit = None
    return {"hostname": platform.node(), "cpu": cpu, "cpu_flags": [f for f in NOTED_CPU_FLAGS if f in flags],
            "cpus": os.cpu_count(), "kernel": platform.release(), "loadavg": os.getloadavg(),
            "repo_commit": commit, "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


def write_json(doc, out, name):
    if not out:
        os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
        out = os.path.join(HERE, "results", f"{name}-{datetime.datetime.now().strftime('%Y%m%d-%H%M%S')}.json")
    with open(out, "w") as fh:
        json.dump(doc, fh, indent=1)
        fh.write("\n")
    return out
