#!/usr/bin/python3
"""Forwarding benchmark of issue 2 part 9: sluice against dpdk-testpmd (io
forwarding) on the same virtual devices and the same packets, in one run.

Both programs get the same two DPDK ports:
  port 0  net_pcap0  rx_pcap=<capture>,infinite_rx=1   (packets come in here)
  port 1  net_null0  no-rx=1                            (forwarded packets leave here)
and the same EAL memory, mbuf pool size, descriptor counts, burst (32) and
lcore placement (main lcore on one CPU, one worker lcore on another).
testpmd forwards port 0 to port 1 in io mode (no packet is looked at);
sluice runs inline (--inline net_pcap0,net_null0, ips mode), so every packet
is decoded, looked up and updated in the flow table, filtered and sent.

The capture is made by gen_flows_pcap.py: IPv4 TCP/UDP packets over N
distinct 5-tuples, replayed forever by net_pcap (infinite_rx keeps every
packet in an mbuf ring and copies each into a fresh mbuf on receive, the
same work for both programs), so N flows are concurrent.

With W workers (--workers 1,2,4: one case per count) port 0 has W receive
queues, one capture file each (rx_pcap given W times) holding N/W of the
flows, disjoint, as symmetric RSS spreads flows over a NIC's queues. testpmd
gets --nb-cores=W --rxq=W --txq=W; sluice gets --workers W and, since the
ports come with --eal, one queue per worker (no dispatcher). The figures are
then the packets of all queues, per CPU-second of all worker threads
together, and the scaling table compares each count with one worker.

Each case (frame sizes x flows) starts both programs once, lets each warm up
(two passes over the capture: every flow exists) and then measures them in
turns, one at a time (the other is stopped with SIGSTOP, so the two never
share the CPU): repeat r measures testpmd then sluice (sluice first on odd
repeats), each for --window seconds after a short settle time. The figure of
a window is the packets sent on port 1 over the window, per wall-clock
second and per second of CPU time the worker thread actually got (from
/proc/PID/task/TID/schedstat): the machine is shared, and the CPU-time
figure is what a dedicated core would do. Ratios sluice/testpmd are taken
per repeat (adjacent windows) and summarised by median, min and max.

Run by hand (docs/benchmarks.md), never as a test:
  bench/forwarding_bench.py --sluice build/app/sluice
  bench/forwarding_bench.py --sluice build/app/sluice --sizes 64 --flows 1000000 --repeats 3
  bench/forwarding_bench.py --sluice build/app/sluice --sizes 64 --flows 1000000 --workers 1,2,4,8
Writes bench/results/forwarding-<date>.json unless --out says otherwise.
"""

import argparse
import datetime
import json
import os
import queue
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import pcap_bench  # bench/pcap_bench.py: host_info

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
MBUF_ELT_BYTES = 2176 + 128 + 128  # data room (RTE_MBUF_DEFAULT_BUF_SIZE), struct rte_mbuf, pool header/trailer
TARGET = {"sizes": "64", "flows": 1000000, "workers": 1, "ratio": 0.5}


class BenchError(Exception):
    pass


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- processes

def thread_cpu_ns(pid, tid):
    """CPU time a thread has run, in ns (schedstat), or None."""
    try:
        with open(f"/proc/{pid}/task/{tid}/schedstat") as fh:
            return int(fh.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def threads_of(pid):
    out = {}
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/comm") as fh:
                    out[int(tid)] = fh.read().strip()
            except OSError:
                pass
    except OSError:
        pass
    return out


class Forwarder:
    """One program under test: started once per case, measured in windows."""

    name = "?"

    def __init__(self, args, case, eal):
        self.args = args
        self.case = case
        self.eal = eal
        self.proc = None
        self.lines = queue.Queue()
        self.log_lines = []
        self.worker_tids = []
        self.paused = False
        self.pending = 0  # testpmd: stats requests not answered yet

    def _reader(self, stream):
        for raw in iter(stream.readline, ""):
            line = raw.rstrip("\n")
            self.log_lines.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def _spawn(self, cmd, stdin=None, env=None):
        envs = " ".join(f"{k}={v}" for k, v in (env or {}).items())
        log(f"  start {self.name}: {envs + ' ' if envs else ''}{' '.join(cmd)}")
        full_env = dict(os.environ, **env) if env else None
        self.proc = subprocess.Popen(cmd, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, bufsize=1, start_new_session=True, env=full_env)
        threading.Thread(target=self._reader, args=(self.proc.stdout,), daemon=True).start()

    def prefix(self):
        for a in self.eal:
            if a.startswith("--file-prefix="):
                return a.split("=", 1)[1]
        return None

    def cleanup_runtime_dir(self):
        """The EAL leaves /var/run/dpdk/<file-prefix>/ behind (tens of MB with --no-huge)."""
        pre = self.prefix()
        if pre and pre.startswith("bench") and self.proc and self.proc.poll() is not None:
            shutil.rmtree(os.path.join("/var/run/dpdk", pre), ignore_errors=True)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def find_workers(self):
        names = threads_of(self.proc.pid)
        self.worker_tids = sorted(t for t, n in names.items() if n.startswith(("rte-worker", "lcore-worker")))
        return self.worker_tids

    def cpu(self):
        """(worker threads' CPU ns summed, every thread's CPU ns summed)."""
        workers, total = 0, 0
        for tid in threads_of(self.proc.pid):
            ns = thread_cpu_ns(self.proc.pid, tid) or 0
            total += ns
            if tid in self.worker_tids:
                workers += ns
        return workers, total

    def pause(self):
        if self.alive() and not self.paused:
            os.killpg(self.proc.pid, signal.SIGSTOP)
            self.paused = True

    def resume(self):
        if self.alive() and self.paused:
            os.killpg(self.proc.pid, signal.SIGCONT)
            self.paused = False

    def wait_warm(self, passes, timeout):
        """Waits until `passes` rounds of the capture went through; returns seconds waited."""
        t0 = time.monotonic()
        need = passes * self.case["packets"]
        last = -1
        while True:
            if not self.alive():
                raise BenchError(f"{self.name} exited during start-up:\n" + "\n".join(self.log_lines[-30:]))
            n = None
            try:
                n = self.forwarded(timeout=5)
            except BenchError:
                pass  # not up yet
            if n is not None and n >= need:
                if not self.find_workers():
                    raise BenchError(f"{self.name}: no worker lcore thread (rte-worker-N) found")
                return time.monotonic() - t0
            if n is not None and n != last:
                last = n
            if time.monotonic() - t0 > timeout:
                raise BenchError(f"{self.name}: not warm after {timeout:.0f} s ({last} of {need} packets)")
            time.sleep(0.5)

    def window(self, seconds, settle):
        """Measures one window; the program must be running."""
        time.sleep(settle)
        c0, w0 = self.forwarded(), self.cpu()
        t0 = time.monotonic()
        time.sleep(seconds)
        c1, w1 = self.forwarded(), self.cpu()
        t1 = time.monotonic()
        pkts = c1 - c0
        wall = t1 - t0
        worker_cpu = (w1[0] - w0[0]) / 1e9
        all_cpu = (w1[1] - w0[1]) / 1e9
        nworkers = max(1, len(self.worker_tids))
        return {
            "packets": pkts,
            "wall_s": round(wall, 4),
            "worker_cpu_s": round(worker_cpu, 4),
            "process_cpu_s": round(all_cpu, 4),
            "mpps": pkts / wall / 1e6,
            "mpps_per_core_wall": pkts / wall / nworkers / 1e6,
            "mpps_per_core_cpu": pkts / worker_cpu / 1e6 if worker_cpu > 0 else None,
            "worker_cpu_share": worker_cpu / wall / nworkers if wall > 0 else None,
        }


class Testpmd(Forwarder):
    name = "testpmd"

    def start(self):
        a, c = self.args, self.case
        cmd = []
        if shutil.which("stdbuf"):
            cmd += ["stdbuf", "-oL", "-eL"]  # testpmd prints with stdio: line-buffer it
        cmd += [a.testpmd] + self.eal + [
            "--", "-i", "--auto-start", "--forward-mode=io", f"--nb-cores={a.workers}",
            f"--rxq={a.workers}", f"--txq={a.workers}", f"--rxd={a.rxd}", f"--txd={a.txd}",
            f"--burst={a.burst}", "--mbcache=256", f"--total-num-mbufs={c['mbufs']}",
            "--no-flush-rx", "--no-mlockall", "--mp-alloc=anon", "--no-iova-contig",
            "--port-topology=paired", "--disable-link-check"]
        self._spawn(cmd, stdin=subprocess.PIPE)

    def command(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def forwarded(self, timeout=10):
        """TX packets of port 1 (the sink), read with 'show port stats 1'.
        Answers come in order: blocks of requests that timed out are skipped."""
        if not self.alive():
            raise BenchError("testpmd is not running")
        self.command("show port stats 1")
        self.pending += 1
        deadline = time.monotonic() + timeout
        in_block = False
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                raise BenchError("testpmd exited")
            if "NIC statistics for port 1" in line:
                in_block = True
                continue
            m = re.search(r"TX-packets:\s*(\d+)", line)
            if in_block and m:
                in_block = False
                self.pending -= 1
                if self.pending == 0:
                    return int(m.group(1))
        raise BenchError("testpmd did not answer 'show port stats 1'")

    def stop(self):
        self.resume()
        if not self.alive():
            return self.proc.returncode if self.proc else None
        try:
            self.command("stop")
            self.command("quit")
            self.proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        try:
            return self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            return self.proc.wait()


class Sluice(Forwarder):
    name = "sluice"

    def __init__(self, args, case, eal, tmp, variant):
        super().__init__(args, case, eal)
        self.name = variant["label"]
        self.variant = variant
        self.socket = os.path.join(tmp, "sluice.sock")
        self.eve = os.path.join(tmp, "eve.json")

    def start(self):
        a, c = self.args, self.case
        cmd = [self.variant["path"], "--eal", " ".join(self.eal), "--inline", "net_pcap0,net_null0", "--mode", "ips",
               "--workers", str(a.workers), "--no-metrics", "--control", self.socket, "--eve", self.eve,
               "--log-level", "warning", "--set", "eve.types=stats",
               "--set", f"capture.mbufs={c['mbufs']}",
               "--set", f"capture.burst={a.burst}",
               "--set", f"capture.rx-descriptors={a.rxd}",
               "--set", f"capture.tx-descriptors={a.txd}",
               "--set", f"flow.capacity={c['flow_capacity']}"]
        # A program is stopped (SIGSTOP) while the others are measured, and a
        # pass over a million flows can take seconds: without long timeouts the
        # flows would expire between two of their packets and not be concurrent.
        for proto in ("tcp", "udp"):
            for state in ("new", "established"):
                cmd += ["--set", f"flow.timeouts.{proto}.{state}={a.flow_timeout}"]
        if a.sluice_config:
            cmd += ["--config", a.sluice_config]
        for s in a.sluice_set + self.variant.get("set", []):
            cmd += ["--set", s]
        self._spawn(cmd, stdin=subprocess.DEVNULL, env=self.variant["env"])

    def stats(self, timeout=10):
        if not self.alive():
            raise BenchError("sluice is not running")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(timeout)
                s.connect(self.socket)
                s.sendall(b"stats\n")
                buf = b""
                while not buf.endswith(b"\n"):
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    buf += chunk
        except OSError as e:
            raise BenchError(f"sluice control socket: {e}")
        reply = json.loads(buf)
        if reply.get("return") != "OK":
            raise BenchError(f"sluice stats: {reply}")
        return reply["message"]

    def forwarded(self, timeout=10):
        st = self.stats(timeout)
        self.last_stats = st
        v = st["verdict"]
        # Packets handed to port 1 that it took: forwarded minus those the TX queue refused.
        return v["forwarded"] - v.get("drop_reasons", {}).get("tx_full", 0)

    def stop(self):
        self.resume()
        if not self.alive():
            return self.proc.returncode if self.proc else None
        os.killpg(self.proc.pid, signal.SIGINT)
        try:
            return self.proc.wait(timeout=300)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            return self.proc.wait()


# ---------------------------------------------------------------- set-up

def hugepages_free_bytes():
    mounted = False
    try:
        with open("/proc/mounts") as fh:
            mounted = any(" hugetlbfs " in l for l in fh)
        info = {}
        with open("/proc/meminfo") as fh:
            for l in fh:
                k, _, v = l.partition(":")
                info[k] = v.split()
        if not mounted:
            return 0
        return int(info["HugePages_Free"][0]) * int(info["Hugepagesize"][0]) * 1024
    except (OSError, KeyError, ValueError, IndexError):
        return 0


def mem_available():
    try:
        with open("/proc/meminfo") as fh:
            for l in fh:
                if l.startswith("MemAvailable:"):
                    return int(l.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def eal_args(args, case, prefix):
    pool_mb = case["mbufs"] * MBUF_ELT_BYTES // (1 << 20) + 1
    mem_mb = pool_mb + 512  # + rings, the capture's mbuf ring, the EAL's own
    eal = []
    if args.hugepages == "no" or (args.hugepages == "auto" and hugepages_free_bytes() < 2 * mem_mb << 20):
        eal += ["--no-huge", "-m", str(mem_mb)]
    else:
        eal += ["-m", str(mem_mb)]
    lcores = [f"0@{args.main_cpu}"] + [f"{i + 1}@{cpu}" for i, cpu in enumerate(case["worker_cpus"])]
    rx = ",".join(f"rx_pcap={p}" for p in case["pcaps"])  # one receive queue per file
    eal += ["--no-pci", f"--file-prefix={prefix}", "--lcores=" + ",".join(lcores), "--log-level=4",
            "--vdev", f"net_pcap0,{rx},infinite_rx=1",
            "--vdev", "net_null0,no-rx=1"]
    return eal


def worker_cpus(args):
    """CPU of each worker lcore: --worker-cpus, else the CPUs after the main one."""
    if args.worker_cpus:
        return [args.worker_cpus[i % len(args.worker_cpus)] for i in range(args.workers)]
    n = os.cpu_count() or 1
    return [(args.main_cpu + 1 + i) % n for i in range(args.workers)]


def capture_for(args, sizes, flows, packets, queues=1):
    """One capture per receive queue, each with flows/queues of the flows (disjoint)."""
    os.makedirs(args.data_dir, exist_ok=True)
    paths = []
    per_flows, per_packets = flows // queues, packets // queues
    for q in range(queues):
        name = f"flows-{sizes}-{flows}-{packets}.pcap" if queues == 1 else \
            f"flows-{sizes}-{flows}-{packets}-q{q}of{queues}.pcap"
        path = os.path.join(args.data_dir, name)
        if not os.path.exists(path):
            log(f"  writing {path} ({per_packets} packets over {per_flows} flows from flow {q * per_flows}, sizes {sizes})")
            tmp = path + ".tmp"
            subprocess.run([sys.executable, os.path.join(HERE, "gen_flows_pcap.py"), "--flows", str(per_flows),
                            "--first-flow", str(q * per_flows), "--packets", str(per_packets), "--sizes", sizes,
                            "--out", tmp], check=True)
            os.replace(tmp, path)
        if "," in path or "=" in path or ";" in path:
            raise BenchError(f"capture path {path} has a character DPDK device arguments cannot carry")
        paths.append(path)
    return paths


def summarize(values):
    vals = [v for v in values if v is not None]
    if not vals:
        return None
    med = statistics.median(vals)
    return {
        "median": med,
        "min": min(vals),
        "max": max(vals),
        "spread_pct": (max(vals) - min(vals)) / med * 100 if med else None,
        "stdev": statistics.stdev(vals) if len(vals) > 1 else 0.0,
        "n": len(vals),
    }


def ratio(a, b):
    return a / b if a and b else None


def run_case(args, sizes, flows):
    if flows % args.workers:
        raise BenchError(f"{flows} flows cannot be shared evenly by {args.workers} workers")
    packets = args.packets or max(flows, args.min_packets)
    if packets % flows:
        packets += flows - packets % flows  # every flow the same number of packets per pass
    case = {"sizes": sizes, "flows": flows, "packets": packets, "workers": args.workers,
            "worker_cpus": worker_cpus(args)}
    case["pcaps"] = capture_for(args, sizes, flows, packets, args.workers)
    case["mbufs"] = packets + 16384 + 4 * (args.rxd + args.txd) * args.workers
    # flow.capacity is per worker; each worker holds flows / workers of them.
    case["flow_capacity"] = args.flow_capacity or max(262144, 2 * flows // args.workers)
    log(f"case: sizes {sizes}, {flows} flows, {packets} packets in the capture, {args.workers} worker(s)")

    tmp = tempfile.mkdtemp(prefix="sluice-bench-")
    tag = f"{os.getpid()}x{int(time.time()) % 100000}"
    programs = {"testpmd": Testpmd(args, case, eal_args(args, case, f"benchtp{tag}"))}
    for i, v in enumerate(args.variants):
        sub = os.path.join(tmp, v["label"])
        os.makedirs(sub, exist_ok=True)
        programs[v["label"]] = Sluice(args, case, eal_args(args, case, f"benchsl{i}x{tag}"), sub, v)
    names = list(programs)
    sluices = names[1:]
    result = dict(case)
    result["eal"] = programs["testpmd"].eal
    result["variants"] = {v["label"]: {"binary": v["path"], "env": v["env"]} for v in args.variants}
    windows = []
    try:
        for name in names:
            p = programs[name]
            need = case["mbufs"] * MBUF_ELT_BYTES + (1 << 30)
            avail = mem_available()
            if avail is not None and avail < need:
                raise BenchError(f"not enough memory to start {name}: {avail >> 20} MiB available, about {need >> 20} MiB "
                                 "needed (each program holds the whole capture in mbufs; use fewer --candidate)")
            t0 = time.monotonic()
            p.start()
            p.wait_warm(args.warmup_passes, args.start_timeout)
            p.pause()
            log(f"  {name} ready after {time.monotonic() - t0:.1f} s, worker threads {p.worker_tids}")
            result.setdefault("startup_s", {})[name] = round(time.monotonic() - t0, 1)
        for r in range(args.repeats):
            k = r % len(names)
            order = names[k:] + names[:k]  # a different program goes first each repeat
            rep = {}
            for name in order:
                p = programs[name]
                p.resume()
                rep[name] = p.window(args.window, args.settle)
                p.pause()
            tp = rep["testpmd"]
            rep["ratio_cpu"] = {n: ratio(rep[n]["mpps_per_core_cpu"], tp["mpps_per_core_cpu"]) for n in sluices}
            rep["ratio_wall"] = {n: ratio(rep[n]["mpps"], tp["mpps"]) for n in sluices}
            windows.append(rep)
            line = f"  repeat {r + 1}/{args.repeats}: testpmd {tp['mpps_per_core_cpu'] or 0:.3f} Mpps/core ({tp['mpps']:.3f} wall)"
            for n in sluices:
                line += (f", {n} {rep[n]['mpps_per_core_cpu'] or 0:.3f} ({rep[n]['mpps']:.3f} wall)"
                         f" ratio {rep['ratio_cpu'][n] or 0:.3f} (wall {rep['ratio_wall'][n] or 0:.3f})")
            log(line)
        if args.perf:
            result["perf"] = {n: profile_sluice(args, programs[n], case, n) for n in sluices}
        for n in sluices:
            p = programs[n]
            p.resume()
            try:
                st = p.stats()
                result.setdefault("sluice_stats", {})[n] = {
                    "flow": st["flow"],
                    "decoder": {k: st["decoder"][k] for k in ("pkts", "invalid", "non_ip")},
                    "drop_reasons": st["verdict"].get("drop_reasons", {}),
                }
                ended = st["flow"]["ended"]
                if ended["timeout"] or ended["evicted"] or st["flow"]["active"] != flows:
                    log(f"  WARNING: {n} has {st['flow']['active']} flows active of {flows}, "
                        f"{ended['timeout']} timed out, {ended['evicted']} evicted: flows did not stay concurrent")
            except BenchError as e:
                result.setdefault("sluice_stats", {})[n] = {"error": str(e)}
            p.pause()
    finally:
        for name in reversed(names):
            p = programs[name]
            if p.proc is None:
                continue
            rc = p.stop()
            p.cleanup_runtime_dir()
            result.setdefault("exit", {})[name] = rc
            if rc not in (0, None):
                log(f"  {name} exited with {rc}; last lines:\n    " + "\n    ".join(p.log_lines[-15:]))
        result["sluice_summary"] = {n: [l for l in programs[n].log_lines if l.startswith(("  ", "sluice "))][-12:]
                                    for n in sluices}
        shutil.rmtree(tmp, ignore_errors=True)

    result["windows"] = windows
    summary = {}
    for name in names:
        summary[name] = {
            "mpps_per_core_cpu": summarize([w[name]["mpps_per_core_cpu"] for w in windows]),
            "mpps_per_core_wall": summarize([w[name]["mpps_per_core_wall"] for w in windows]),
            "mpps_wall": summarize([w[name]["mpps"] for w in windows]),
            "worker_cpu_share": summarize([w[name]["worker_cpu_share"] for w in windows]),
            "process_cpu_per_worker_cpu": summarize([ratio(w[name]["process_cpu_s"], w[name]["worker_cpu_s"]) for w in windows]),
        }
    summary["ratio_cpu"] = {n: summarize([w["ratio_cpu"][n] for w in windows]) for n in sluices}
    summary["ratio_wall"] = {n: summarize([w["ratio_wall"][n] for w in windows]) for n in sluices}
    result["summary"] = summary
    return result


def profile_sluice(args, sl, case, label):
    """perf record of the sluice worker thread for one window; returns the top of the report."""
    if not shutil.which("perf"):
        return {"error": "perf not installed"}
    out_dir = args.perf_dir or os.path.join(REPO, "build-bench-perf")
    os.makedirs(out_dir, exist_ok=True)
    data = os.path.join(out_dir, f"perf-{label}-{case['sizes']}-{case['flows']}.data")
    sl.resume()
    time.sleep(args.settle)
    tids = ",".join(str(t) for t in sl.worker_tids)
    rec = subprocess.run(["perf", "record", "-q", "-g", "-o", data, "-t", tids, "--", "sleep", str(args.window)],
                         capture_output=True, text=True)
    sl.pause()
    if rec.returncode != 0:
        return {"error": rec.stderr.strip()[-500:]}
    rep = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "--percent-limit", "1",
                          "--sort", "dso,symbol", "-g", "none"], capture_output=True, text=True)
    top = [l for l in rep.stdout.splitlines() if l.strip() and not l.startswith("#")][:40]
    log(f"  perf ({label} worker, self time):\n    " + "\n    ".join(top[:25]))
    return {"data": data, "top": top}


# ---------------------------------------------------------------- report

def fmt(s, key="median"):
    return "-" if not s else f"{s[key]:.3f}"


def print_table(results):
    print()
    print("Forwarding, Mpps per worker core: per CPU-second the worker thread got (wall-clock figure in brackets);")
    print("median over repeats; spread = (max-min)/median; ratio = sluice/testpmd per repeat, median min max")
    hdr = (f"{'sizes':>5} {'flows':>8} {'wk':>2} | {'testpmd':>17} {'spread':>6} | {'program':>10} {'Mpps/core':>17} {'spread':>6} | "
           f"{'ratio':>5} {'min':>5} {'max':>5} | {'wall ratio':>10}")
    print(hdr)
    print("-" * len(hdr))
    for r in results:
        s = r["summary"]
        tpc, tpw = s["testpmd"]["mpps_per_core_cpu"], s["testpmd"]["mpps_per_core_wall"]
        for n in s["ratio_cpu"]:
            slc, slw = s[n]["mpps_per_core_cpu"], s[n]["mpps_per_core_wall"]
            rc, rw = s["ratio_cpu"][n], s["ratio_wall"][n]
            print(f"{r['sizes']:>5} {r['flows']:>8} {r['workers']:>2} | {fmt(tpc):>7} ({fmt(tpw):>7}) {(tpc or {}).get('spread_pct', 0):5.1f}% | "
                  f"{n:>10} {fmt(slc):>7} ({fmt(slw):>7}) {(slc or {}).get('spread_pct', 0):5.1f}% | "
                  f"{fmt(rc):>5} {fmt(rc, 'min'):>5} {fmt(rc, 'max'):>5} | {fmt(rw):>10}")


def scaling(results):
    """Per (sizes, flows) with several worker counts: each count's total rate
    (packets per wall second, all workers) and per-core rate against one worker."""
    out = []
    groups = {}
    for r in results:
        groups.setdefault((r["sizes"], r["flows"]), {})[r["workers"]] = r
    for (sizes, flows), by_w in groups.items():
        if len(by_w) < 2 or 1 not in by_w:
            continue
        base = by_w[1]["summary"]
        for w in sorted(by_w):
            s = by_w[w]["summary"]
            for name in [n for n in s if n not in ("ratio_cpu", "ratio_wall")]:
                if name not in base:
                    continue
                per_core = (s[name]["mpps_per_core_cpu"] or {}).get("median")
                per_core1 = (base[name]["mpps_per_core_cpu"] or {}).get("median")
                total = (s[name]["mpps_wall"] or {}).get("median")
                total1 = (base[name]["mpps_wall"] or {}).get("median")
                out.append({"sizes": sizes, "flows": flows, "workers": w, "program": name,
                            "mpps_wall": total, "mpps_per_core_cpu": per_core,
                            "speedup_wall": ratio(total, total1),
                            "per_core_efficiency": ratio(per_core, per_core1),
                            "ratio_to_testpmd_cpu": (s["ratio_cpu"].get(name) or {}).get("median")})
    return out


def print_scaling(rows):
    if not rows:
        return
    print()
    print("Scaling with workers: total Mpps (wall clock, all workers), speed-up over one worker, and Mpps per")
    print("worker CPU-second against one worker's (efficiency); ratio = sluice/testpmd per CPU-second")
    hdr = f"{'sizes':>5} {'flows':>8} {'program':>10} {'wk':>2} | {'Mpps':>7} {'speed-up':>8} | {'Mpps/core':>9} {'effic.':>6} | {'ratio':>5}"
    print(hdr)
    print("-" * len(hdr))

    def f(v, d=3):
        return "-" if v is None else f"{v:.{d}f}"

    for r in rows:
        print(f"{r['sizes']:>5} {r['flows']:>8} {r['program']:>10} {r['workers']:>2} | {f(r['mpps_wall']):>7} "
              f"{f(r['speedup_wall'], 2):>8} | {f(r['mpps_per_core_cpu']):>9} {f(r['per_core_efficiency'], 2):>6} | "
              f"{f(r['ratio_to_testpmd_cpu']):>5}")


def version_of(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout.strip().splitlines()[0]
    except (OSError, subprocess.TimeoutExpired, IndexError):
        return None


def on_terminate(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main():
    # Stop cleanly on SIGINT/SIGTERM (even when started in the background, where
    # SIGINT comes in ignored): the programs under test run in their own
    # sessions and are stopped by run_case's clean-up.
    signal.signal(signal.SIGINT, on_terminate)
    signal.signal(signal.SIGTERM, on_terminate)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sluice", default=os.path.join(REPO, "build", "app", "sluice"), help="the sluice binary")
    ap.add_argument("--candidate", action="append", default=[], metavar='"LABEL=PATH [VAR=VALUE ...] [set:KEY=VALUE ...]"',
                    help="another sluice build (or the same with other environment variables, or other configuration "
                         "keys given as set:KEY=VALUE) measured in the same rotation, e.g. a proposed fix: "
                         "--candidate 'fix=/tmp/proto/build/app/sluice' (repeatable)")
    ap.add_argument("--testpmd", default=shutil.which("dpdk-testpmd") or "dpdk-testpmd")
    ap.add_argument("--sizes", default="64,imix", help='comma list of "64", "imix" (frame sizes, as gen_flows_pcap.py)')
    ap.add_argument("--flows", default="1000,1000000", help="comma list of concurrent flow counts")
    ap.add_argument("--packets", type=int, default=0, help="packets in each capture (default: max(flows, --min-packets))")
    ap.add_argument("--min-packets", type=int, default=0,
                    help="at least this many packets per capture; more packets than flows make the replayed "
                         "source colder than a NIC's receive buffers (docs/benchmarks.md)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--window", type=float, default=4.0, help="seconds measured per repeat and program")
    ap.add_argument("--settle", type=float, default=1.0, help="seconds after resuming a program before its window")
    ap.add_argument("--warmup-passes", type=int, default=2, help="passes over the capture before measuring")
    ap.add_argument("--start-timeout", type=float, default=600)
    ap.add_argument("--main-cpu", type=int, default=0, help="CPU of the main lcore")
    ap.add_argument("--workers", default="1", help="comma list of worker counts, one case each (default 1)")
    ap.add_argument("--worker-cpus", default="", help="comma list of CPUs for worker lcores (default: the CPUs after "
                                                        "--main-cpu, one per worker)")
    ap.add_argument("--burst", type=int, default=32)
    ap.add_argument("--rxd", type=int, default=1024)
    ap.add_argument("--txd", type=int, default=1024)
    ap.add_argument("--flow-capacity", type=int, default=0, help="sluice flow.capacity (default: max(262144, 2 x flows))")
    ap.add_argument("--flow-timeout", default="1h", help="sluice flow.timeouts.{tcp,udp}.{new,established} (default 1h)")
    ap.add_argument("--sluice-config", help="sluice --config FILE")
    ap.add_argument("--sluice-set", action="append", default=[], help="extra sluice --set KEY=VALUE (repeatable)")
    ap.add_argument("--hugepages", choices=["auto", "yes", "no"], default="auto")
    ap.add_argument("--data-dir", default=os.environ.get("SLUICE_BENCH_DATA", "/var/tmp/sluice-bench"),
                    help="where the generated captures are kept between runs")
    ap.add_argument("--perf", action="store_true", help="perf record the sluice worker for one more window per case")
    ap.add_argument("--perf-dir", help="where perf data files go (default: build-bench-perf/ in the repository)")
    ap.add_argument("--name", default="forwarding")
    ap.add_argument("--out", help="JSON result file (default: bench/results/<name>-<date>.json)")
    extra = os.environ.get("SLUICE_BENCH_ARGS", "").split()
    args = ap.parse_args(sys.argv[1:] + extra)
    # Several workers: one capture file per receive queue (rx_pcap given once per queue).
    try:
        workers_list = [int(w) for w in args.workers.split(",") if w.strip()]
    except ValueError:
        ap.error(f"--workers {args.workers}: a comma list of counts")
    if not workers_list or any(w < 1 or w > 64 for w in workers_list):
        ap.error(f"--workers {args.workers}: counts from 1 to 64")
    args.workers = workers_list[0]
    args.worker_cpus = [int(c) for c in args.worker_cpus.split(",") if c.strip()]
    sizes_list = [s.strip() for s in args.sizes.split(",") if s.strip()]
    flows_list = [int(f) for f in args.flows.split(",") if f.strip()]
    for s in sizes_list:
        if s not in ("64", "imix"):
            ap.error(f"--sizes: {s} is not 64 or imix")
    args.variants = [{"label": "sluice", "path": args.sluice, "env": {}}]
    for c in args.candidate:
        words = c.split()
        label, _, path = words[0].partition("=") if words else ("", "", "")
        env = dict(w.split("=", 1) for w in words[1:] if "=" in w and not w.startswith("set:"))
        sets = [w[len("set:"):] for w in words[1:] if w.startswith("set:") and "=" in w]
        if not label or not path or label in ("testpmd", "sluice") or any(v["label"] == label for v in args.variants):
            ap.error(f"--candidate {c!r}: write LABEL=PATH [VAR=VALUE ...] with a new label")
        args.variants.append({"label": label, "path": path, "env": env, "set": sets})
    for v in args.variants:
        if not os.access(v["path"], os.X_OK):
            ap.error(f"{v['label']}: {v['path']} is not an executable (build it: ninja -C build app/sluice)")
    if not shutil.which(args.testpmd):
        ap.error(f"--testpmd {args.testpmd}: not found (Debian package dpdk-dev)")

    started = datetime.datetime.now()
    out = args.out or os.path.join(HERE, "results", f"{args.name}-{started.strftime('%Y%m%d-%H%M%S')}.json")
    doc = {
        "benchmark": "forwarding",
        "name": args.name,
        "started": started.isoformat(timespec="seconds"),
        "host": pcap_bench.host_info(),
        "sluice": {"binary": os.path.abspath(args.sluice), "version": version_of([args.sluice, "--version"]),
                   "built": datetime.datetime.fromtimestamp(os.path.getmtime(args.sluice)).isoformat(timespec="seconds"),
                   "repo_commit": version_of(["git", "-C", REPO, "rev-parse", "--short", "HEAD"])},  # HEAD at the run
        "candidates": {v["label"]: {"binary": os.path.abspath(v["path"]), "env": v["env"], "set": v["set"]}
                       for v in args.variants[1:]},
        "testpmd": {"binary": shutil.which(args.testpmd)},
        "method": {
            "devices": "port 0 net_pcap rx_pcap=<capture>,infinite_rx=1 -> port 1 net_null no-rx=1",
            "testpmd": "io forwarding, paired ports",
            "sluice": "--inline net_pcap0,net_null0 --mode ips",
            "repeats": args.repeats, "window_s": args.window, "settle_s": args.settle,
            "warmup_passes": args.warmup_passes, "burst": args.burst, "rxd": args.rxd, "txd": args.txd,
            "main_cpu": args.main_cpu, "worker_cpus": args.worker_cpus or "the CPUs after main_cpu",
            "workers": workers_list, "queues": "one receive queue (capture file) per worker",
            "mpps_per_core_cpu": "packets sent on port 1 / CPU seconds of the worker thread(s) (schedstat)",
            "mpps_per_core_wall": "packets sent on port 1 / wall seconds / workers",
            "frame_sizes": "wire sizes with FCS; 64 = 60-byte frames in DPDK, imix = 64/594/1518 at 7:4:1",
        },
        "target": TARGET,
        "cases": [],
    }
    rc = 0
    interrupted = False
    for sizes, flows, workers in [(s, f, w) for s in sizes_list for f in flows_list for w in workers_list]:
        args.workers = workers
        if interrupted:
            break
        try:
            doc["cases"].append(run_case(args, sizes, flows))
        except BenchError as e:
            log(f"case {sizes}/{flows} failed: {e}")
            doc["cases"].append({"sizes": sizes, "flows": flows, "workers": args.workers, "error": str(e)})
            rc = 1
        except KeyboardInterrupt:
            log("interrupted: programs stopped, partial results kept")
            doc["cases"].append({"sizes": sizes, "flows": flows, "workers": args.workers, "error": "interrupted"})
            interrupted = True
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        doc["finished"] = datetime.datetime.now().isoformat(timespec="seconds")
        doc["host"]["loadavg_end"] = os.getloadavg()
        with open(out, "w") as fh:
            json.dump(doc, fh, indent=1)
    ok = [c for c in doc["cases"] if "summary" in c]
    print_table(ok)
    doc["scaling"] = scaling(ok)
    print_scaling(doc["scaling"])
    for c in ok:
        if c["sizes"] == TARGET["sizes"] and c["flows"] == TARGET["flows"] and c["workers"] == TARGET["workers"]:
            r = c["summary"]["ratio_cpu"]["sluice"]
            met = r is not None and r["median"] >= TARGET["ratio"]
            doc["target"]["measured_ratio"] = r["median"] if r else None
            doc["target"]["met"] = met
            print(f"\ntarget: ratio >= {TARGET['ratio']} with {TARGET['flows']} flows, 64-byte frames, 1 worker: "
                  f"{'met' if met else 'NOT met'} (median {fmt(r)}, min {fmt(r, 'min')}, max {fmt(r, 'max')})")
    with open(out, "w") as fh:
        json.dump(doc, fh, indent=1)
    print(f"results: {out}")
    return 130 if interrupted else rc


if __name__ == "__main__":
    sys.exit(main())
