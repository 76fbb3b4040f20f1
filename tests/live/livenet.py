"""Live test bench: sluice --inline between real network namespaces.

Each test builds its own three namespaces with a random id and removes them
again, whatever happens (exception, assertion, SIGTERM from meson's timeout):

    cli-ID  lcID 198.18.1.1/24 2001:db8:1::1/64
              |  veth
    mid-ID  laID  <- sluice --inline laID,lbID ->  lbID   (no addresses)
              |  veth
    srv-ID  lsID 198.18.1.2/24 2001:db8:1::2/64

The veth pairs are created directly inside the namespaces (never in the
caller's), so a test touches nothing it did not make and tests run in
parallel. Processes started through Bench.spawn() are the only ones stopped.

Exit status 77 means "skipped" to meson; skip() prints why.
"""

import atexit
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

SKIP = 77
CLI_V4, SRV_V4 = "198.18.1.1", "198.18.1.2"
CLI_V6, SRV_V6 = "2001:db8:1::1", "2001:db8:1::2"

# Debian package of each program a test may need, for the skip message.
PACKAGES = {
    "ip": "iproute2",
    "ethtool": "ethtool",
    "ping": "iputils-ping",
    "curl": "curl",
    "prometheus": "prometheus",
}


def skip(why):
    print(f"SKIP: {why}", flush=True)
    sys.exit(SKIP)


def sluice_binary():
    path = os.environ.get("SLUICE_BIN")
    if not path:
        root = os.environ.get("SLUICE_BUILD_ROOT")
        if not root:
            sys.exit("SLUICE_BIN (or SLUICE_BUILD_ROOT) is not set: run through meson test, or export it")
        path = os.path.join(root, "app", "sluice")
    if not os.access(path, os.X_OK):
        sys.exit(f"sluice binary {path} is missing: ninja -C BUILD app/sluice")
    return path


def require(tools=("ip", "ethtool", "ping")):
    """Skips (exit 77) unless we are root, have `ip netns` and every tool."""
    if os.geteuid() != 0:
        skip("live tests need root (network namespaces, veth pairs, AF_PACKET sockets); run as root")
    for t in tools:
        if shutil.which(t) is None:
            skip(f"'{t}' not found: install Debian package {PACKAGES.get(t, t)}")
    probe = f"probe-{secrets.token_hex(4)}"
    r = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if r.returncode != 0:
        skip(f"'ip netns add' does not work here: {r.stderr.strip()}")
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)


class _Stop(KeyboardInterrupt):
    """Raised in the main thread on SIGTERM/SIGHUP: unittest lets it through
    (as it does Ctrl-C) and the atexit hook below still removes every bench."""


_open_benches = []


@atexit.register
def _close_open_benches():
    for b in list(_open_benches):
        b.close()


def _on_signal(signum, _frame):
    raise _Stop(f"signal {signum}")


signal.signal(signal.SIGTERM, _on_signal)
signal.signal(signal.SIGHUP, _on_signal)


class Bench:
    """Three namespaces, two veth pairs, a temp folder; a context manager."""

    def __init__(self, tag="live"):
        self.id = secrets.token_hex(3)
        self.cli, self.mid, self.srv = f"cli-{self.id}", f"mid-{self.id}", f"srv-{self.id}"
        self.cli_if, self.mid_a = f"lc{self.id}", f"la{self.id}"
        self.mid_b, self.srv_if = f"lb{self.id}", f"ls{self.id}"
        self.tmp = tempfile.mkdtemp(prefix=f"sluice-{tag}-{self.id}-")
        self.procs = []
        self.namespaces = []
        _open_benches.append(self)

    # -- set-up and tear-down ------------------------------------------------
    def __enter__(self):
        try:
            self._up()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def _ip(self, *args):
        r = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20)
        if r.returncode != 0:
            raise RuntimeError(f"ip {' '.join(args)}: {r.stderr.strip()}")

    def _up(self):
        for ns in (self.cli, self.mid, self.srv):
            self._ip("netns", "add", ns)
            self.namespaces.append(ns)
            self.run(ns, "ip", "link", "set", "lo", "up")
        # The middle box is a bump in the wire: no IPv6 of its own (no router
        # solicitations, no DAD, no MLD from the kernel on sluice's ports).
        for key in ("all", "default"):
            self.run(self.mid, "sysctl", "-q", "-w", f"net.ipv6.conf.{key}.disable_ipv6=1")
        self._ip("link", "add", self.cli_if, "netns", self.cli, "type", "veth", "peer", "name", self.mid_a, "netns", self.mid)
        self._ip("link", "add", self.srv_if, "netns", self.srv, "type", "veth", "peer", "name", self.mid_b, "netns", self.mid)
        for ns, dev in ((self.cli, self.cli_if), (self.mid, self.mid_a), (self.mid, self.mid_b), (self.srv, self.srv_if)):
            # Offloads off, or large TCP transfers stall: GSO super-frames do
            # not fit AF_PACKET's frames and partial checksums stay unfilled.
            self.run(ns, "ethtool", "-K", dev, "gro", "off", "gso", "off", "tso", "off", "tx", "off")
            self.run(ns, "ip", "link", "set", dev, "up")
        for ns, dev, v4, v6 in ((self.cli, self.cli_if, CLI_V4, CLI_V6), (self.srv, self.srv_if, SRV_V4, SRV_V6)):
            self.run(ns, "ip", "addr", "add", f"{v4}/24", "dev", dev)
            self.run(ns, "ip", "-6", "addr", "add", f"{v6}/64", "dev", dev, "nodad")

    def close(self):
        if self in _open_benches:
            _open_benches.remove(self)
        for p in reversed(self.procs):
            stop_process(p)
        self.procs.clear()
        for ns in reversed(self.namespaces):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        self.namespaces.clear()
        if os.environ.get("SLUICE_LIVE_KEEP"):
            print(f"kept {self.tmp}", file=sys.stderr)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # -- helpers -------------------------------------------------------------
    def path(self, name):
        return os.path.join(self.tmp, name)

    def run(self, ns, *args, timeout=30, check=True, **kw):
        r = subprocess.run(["ip", "netns", "exec", ns, *args], capture_output=True, text=True, timeout=timeout, **kw)
        if check and r.returncode != 0:
            raise RuntimeError(f"[{ns}] {' '.join(args)} -> {r.returncode}: {r.stderr.strip() or r.stdout.strip()}")
        return r

    def spawn(self, ns, args, log_name, **kw):
        """Starts a process in a namespace, output to tmp/LOG_NAME.{out,err}."""
        out = open(self.path(log_name + ".out"), "wb")
        err = open(self.path(log_name + ".err"), "wb")
        p = subprocess.Popen(["ip", "netns", "exec", ns, *args], stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                             start_new_session=True, **kw)
        out.close()
        err.close()
        p.log_name = log_name
        self.procs.append(p)
        return p

    def log(self, p):
        text = ""
        for ext in ("out", "err"):
            try:
                with open(self.path(f"{p.log_name}.{ext}"), errors="replace") as f:
                    text += f"--- {p.log_name}.{ext}\n{f.read()[-4000:]}"
            except OSError:
                pass
        return text

    def ping(self, dst, count=1, wait=1, ns=None):
        r = self.run(ns or self.cli, "ping", "-n", "-q", "-c", str(count), "-W", str(wait), "-i", "0.2", dst,
                     check=False, timeout=count * wait + 10)
        return r.returncode == 0

    def http_server(self, port, directory, v6=False):
        """Debian's python3 http.server in srv-ID, ready when this returns."""
        bind = SRV_V6 if v6 else SRV_V4
        p = self.spawn(self.srv, ["/usr/bin/python3", "-m", "http.server", str(port), "--bind", bind, "--directory", directory],
                       f"http-{port}")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            r = self.run(self.srv, "ss", "-Htln", f"sport = :{port}", check=False)
            if r.stdout.strip():
                return p
            if p.poll() is not None:
                raise RuntimeError(f"http.server on port {port} exited:\n{self.log(p)}")
            time.sleep(0.1)
        raise RuntimeError(f"http.server on port {port} did not listen within 10 s")


def stop_process(p, sig=signal.SIGTERM, grace=5):
    if p.poll() is not None:
        return p.returncode
    try:
        os.kill(p.pid, sig)
    except ProcessLookupError:
        return p.wait()
    try:
        return p.wait(grace)
    except subprocess.TimeoutExpired:
        os.kill(p.pid, signal.SIGKILL)
        return p.wait()


def random_file(path, size):
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 1 << 20)
            f.write(os.urandom(n))
            left -= n


def write_yaml_config(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


class Sluice:
    """One `sluice --inline laID,lbID` run inside mid-ID."""

    def __init__(self, bench, mode="ids", name="sluice", config=None, metrics=None, workers=1, extra=()):
        self.bench, self.name, self.mode = bench, name, mode
        self.eve = bench.path(f"{name}-eve.json")
        self.control = bench.path(f"{name}.sock")
        self.args = [sluice_binary(), "--inline", f"{bench.mid_a},{bench.mid_b}", "--mode", mode,
                     "--workers", str(workers), "--eve", self.eve, "--control", self.control,
                     # Busy polling would take a whole core per worker on a
                     # shared 2-core machine: sleep 50 us when a poll is empty.
                     "--set", "capture.idle-sleep-us=50",
                     "--set", "capture.mbufs=8192"]
        if config is not None:
            self.args += ["--config", write_yaml_config(bench.path(f"{name}.yaml"), config)]
        self.args += ["--metrics", metrics] if metrics else ["--no-metrics"]
        self.args += list(extra)
        self.proc = None
        self.rc = None
        self.stop_seconds = None

    def start(self, wait_forwarding=True, timeout=30):
        self.proc = self.bench.spawn(self.bench.mid, self.args, self.name)
        if wait_forwarding:
            self.wait_forwarding(timeout)
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_forwarding(self, timeout=30):
        """Polls a ping cli -> srv through sluice until one comes back."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise AssertionError(f"sluice exited with {self.proc.returncode} before forwarding:\n{self.log()}")
            if self.bench.ping(SRV_V4, wait=1):
                return
        raise AssertionError(f"no ping through sluice within {timeout} s:\n{self.log()}")

    def stop(self, sig=signal.SIGINT, timeout=15):
        """Sends SIG and waits; records the exit status and the time it took."""
        t0 = time.monotonic()
        os.kill(self.proc.pid, sig)
        try:
            self.rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.rc = stop_process(self.proc, signal.SIGKILL)
            self.stop_seconds = float("inf")
            raise AssertionError(f"sluice did not exit within {timeout} s of signal {sig}:\n{self.log()}")
        self.stop_seconds = time.monotonic() - t0
        return self.rc

    def stdout(self):
        with open(self.bench.path(self.name + ".out"), errors="replace") as f:
            return f.read()

    def stderr(self):
        with open(self.bench.path(self.name + ".err"), errors="replace") as f:
            return f.read()

    def log(self):
        return self.bench.log(self.proc) if self.proc else "(not started)"

    def events(self, event_type=None):
        out = []
        try:
            with open(self.eve) as f:
                for line in f:
                    # A running sluice may be half-way through a line: only
                    # whole lines (ending in a newline) are events yet.
                    if not line.endswith("\n"):
                        break
                    line = line.strip()
                    if not line:
                        continue
                    ev = json.loads(line)
                    if event_type is None or ev.get("event_type") == event_type:
                        out.append(ev)
        except FileNotFoundError:
            pass
        return out

    def ctl(self, command):
        r = subprocess.run([sluice_binary(), "ctl", "--socket", self.control, command], capture_output=True, text=True,
                           timeout=10)
        return r


class LiveTestCase(unittest.TestCase):
    """Gives each test a fresh Bench; on failure the logs are printed."""

    tools = ("ip", "ethtool", "ping")
    tag = "live"

    def setUp(self):
        self.bench = Bench(self.tag).__enter__()
        self.addCleanup(self.bench.close)

    def sluice(self, **kw):
        return Sluice(self.bench, **kw)

    def assert_clean_exit(self, s, sig_name="SIGINT"):
        self.assertEqual(s.rc, 0, f"sluice exit status after {sig_name}: {s.rc}\n{s.log()}")
        out = s.stdout()
        self.assertIn(f"({s.mode} mode", out, f"no summary on stdout:\n{s.log()}")
        self.assertRegex(out, r"packets\s+\d+ read", f"summary has no packet line:\n{s.log()}")
        for bad in ("Segmentation", "terminate called", "AddressSanitizer", "runtime error", "Aborted"):
            self.assertNotIn(bad, s.stderr(), s.log())

    def assert_stats_event(self, s, ev):
        """A stats event is well formed: counters, and no garbage fields."""
        self.assertEqual(ev.get("event_type"), "stats", ev)
        self.assertIn("decoder", ev.get("stats", {}), ev)
        # Suricata's stats events have no in_iface; where sluice writes one
        # it must name one of its interfaces.
        if "in_iface" in ev:
            self.assertIn(ev["in_iface"], (self.bench.mid_a, self.bench.mid_b),
                          f"stats event carries a bad in_iface: {ev['in_iface']!r}")


def main():
    """unittest.main with the environment checks first (skip = exit 77)."""
    import __main__
    tools = set()
    for obj in vars(__main__).values():
        if isinstance(obj, type) and issubclass(obj, LiveTestCase):
            tools.update(obj.tools)
    require(tuple(sorted(tools)))
    sluice_binary()
    try:
        unittest.main(verbosity=2)
    except _Stop as e:
        print(f"stopped by {e}", file=sys.stderr)
        _close_open_benches()
        sys.exit(1)
