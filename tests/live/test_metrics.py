#!/usr/bin/python3
"""Live: sluice's Prometheus endpoint scraped by a real Prometheus server.

sluice (ips mode, TCP to 8081 dropped) runs inline in mid-ID with
--metrics 127.0.0.1:PORT; Debian's prometheus runs in the same namespace
(its own loopback, so no port can clash with the host or another test),
scraping every second into a temporary storage folder. The test queries
Prometheus's HTTP API: the series exist, and the counters move between
scrapes while traffic (pings, an HTTP download, connections to the dropped
port, malformed frames) crosses. A second sluice asking for the same
metrics port (a third: the same control socket) exits 2 with one line and
leaves the first one serving."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse

import livenet
from livenet import SRV_V4

SLUICE_PORT = 9977
PROM_PORT = 19090

CONFIG = """\
filter:
  rules:
    - name: drop-8081
      action: drop
      proto: tcp
      dst-port: 8081
"""

PROM_YML = """\
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: sluice
    static_configs:
      - targets: ['127.0.0.1:{port}']
"""

SERIES = (
    "sluice_build_info", "sluice_uptime_seconds",
    "sluice_worker_packets_total", "sluice_worker_bytes_total", "sluice_worker_forwarded_total",
    "sluice_port_rx_packets_total", "sluice_port_tx_packets_total", "sluice_port_rx_bytes_total",
    "sluice_flows_active", "sluice_flows_created_total", "sluice_flows_capacity", "sluice_flows_evicted_total",
    "sluice_drops_total", "sluice_would_drops_total", "sluice_malformed_packets_total",
    "sluice_mempool_in_use", "sluice_mempool_size", "sluice_worker_busy_ratio", "sluice_eve_events_total",
)

# Raw frames sent from cli-ID with an AF_PACKET socket (Python's stdlib):
# an IPv4 header that claims 12 bytes (IHL 3) and a UDP header whose length
# field lies (60 > datagram).
MALFORMED_SENDER = r"""
import socket, struct, sys
iface, count = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
eth = b"\xff" * 6 + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"
src, dst = socket.inet_aton("198.18.1.1"), socket.inet_aton("198.18.1.2")
bad_ihl = struct.pack("!BBHHHBBH4s4s", 0x43, 0, 46, 1, 0, 64, 17, 0, src, dst)
udp = struct.pack("!HHHH", 40000, 9, 60, 0) + b"x" * 18
bad_udp = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 2, 0, 64, 17, 0, src, dst) + udp
for _ in range(count):
    s.send((eth + bad_ihl).ljust(60, b"\0"))
    s.send((eth + bad_udp).ljust(60, b"\0"))
"""


class MetricsScrapedByPrometheus(livenet.LiveTestCase):
    tools = ("ip", "ethtool", "ping", "curl", "prometheus")
    tag = "metrics"

    # -- Prometheus ------------------------------------------------------------
    def start_prometheus(self):
        b = self.bench
        cfg = b.path("prometheus.yml")
        with open(cfg, "w") as f:
            f.write(PROM_YML.format(port=SLUICE_PORT))
        os.mkdir(b.path("tsdb"))
        self.prom = b.spawn(b.mid, ["prometheus", f"--config.file={cfg}", f"--storage.tsdb.path={b.path('tsdb')}",
                                    f"--web.listen-address=127.0.0.1:{PROM_PORT}", "--log.level=warn"], "prometheus")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.prom.poll() is not None:
                self.fail(f"prometheus exited with {self.prom.returncode}:\n{b.log(self.prom)}")
            r = b.run(b.mid, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", f"http://127.0.0.1:{PROM_PORT}/-/ready",
                      check=False)
            if r.stdout.strip() == "200":
                return
            time.sleep(0.3)
        self.fail(f"prometheus not ready within 30 s:\n{b.log(self.prom)}")

    def query(self, expr):
        """Instant query; returns {labels-tuple: value}."""
        b = self.bench
        url = f"http://127.0.0.1:{PROM_PORT}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        r = b.run(b.mid, "curl", "-sS", "--max-time", "5", url, check=False)
        self.assertEqual(r.returncode, 0, f"query {expr}: {r.stderr}")
        doc = json.loads(r.stdout)
        self.assertEqual(doc.get("status"), "success", f"query {expr}: {doc}")
        out = {}
        for item in doc["data"]["result"]:
            labels = tuple(sorted((k, v) for k, v in item["metric"].items() if k not in ("instance", "job")))
            out[labels] = float(item["value"][1])
        return out

    def scalar(self, expr):
        res = self.query(expr)
        return sum(res.values()) if res else None

    def wait_for(self, what, predicate, timeout=20):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = predicate()
            if last:
                return last
            time.sleep(0.5)
        self.fail(f"timed out waiting for {what} (last: {last})\n{self.bench.log(self.prom)}")

    # -- the test ----------------------------------------------------------------
    def test_series_exist_and_move(self):
        b = self.bench
        www = b.path("www")
        os.mkdir(www)
        livenet.random_file(os.path.join(www, "f.bin"), 8 * 1024 * 1024)
        b.http_server(8080, www)
        s = self.sluice(mode="ips", config=CONFIG, metrics=f"127.0.0.1:{SLUICE_PORT}").start()
        self.start_prometheus()
        self.wait_for("the sluice target to be up", lambda: self.scalar('up{job="sluice"}') == 1)
        # Every family is there, with its labels.
        for name in SERIES:
            res = self.wait_for(f"series {name}", lambda n=name: self.query(n))
            self.assertTrue(res, name)
        ports = self.query("sluice_port_rx_packets_total")
        ifaces = {dict(k).get("iface") for k in ports}
        self.assertEqual(ifaces, {b.mid_a, b.mid_b}, ports)
        self.assertIn((("__name__", "sluice_malformed_packets_total"), ("reason", "ipv4_bad_ihl"), ("worker", "0")),
                      self.query("sluice_malformed_packets_total"))
        self.assertEqual(self.scalar("sluice_mempool_size"), 8192)

        before = {
            "worker_packets": self.scalar("sum(sluice_worker_packets_total)"),
            "port_rx": self.scalar("sum(sluice_port_rx_packets_total)"),
            "port_tx": self.scalar("sum(sluice_port_tx_packets_total)"),
            "flows_created": self.scalar("sum(sluice_flows_created_total)"),
            "drops_filter": self.scalar('sum(sluice_drops_total{reason="filter"})'),
            "malformed_ihl": self.scalar('sum(sluice_malformed_packets_total{reason="ipv4_bad_ihl"})'),
            "malformed_udp": self.scalar('sum(sluice_malformed_packets_total{reason="udp_bad_length"})'),
            "uptime": self.scalar("sluice_uptime_seconds"),
        }
        self.assertEqual(before["drops_filter"], 0, before)
        self.assertEqual(before["malformed_ihl"], 0, before)

        # Traffic: a rate-limited download that lasts a few seconds, pings,
        # connections to the dropped port, malformed frames.
        dl = b.spawn(b.cli, ["curl", "-sS", "--fail", "--limit-rate", "2M", "-o", "/dev/null", "--max-time", "30",
                             f"http://{SRV_V4}:8080/f.bin"], "curl-slow")
        self.assertTrue(b.ping(SRV_V4, count=10), s.log())
        for _ in range(2):
            b.run(b.cli, "curl", "-s", "--connect-timeout", "1", f"http://{SRV_V4}:8081/", check=False)
        b.run(b.cli, "/usr/bin/python3", "-c", MALFORMED_SENDER, b.cli_if, "10")

        self.assertGreater(self.scalar("sum(sluice_flows_active)") or 0, 0)
        in_use = self.scalar("sluice_mempool_in_use")
        self.assertIsNotNone(in_use)
        self.assertTrue(0 <= in_use <= 8192, in_use)

        def moved():
            now = {
                "worker_packets": self.scalar("sum(sluice_worker_packets_total)"),
                "port_rx": self.scalar("sum(sluice_port_rx_packets_total)"),
                "port_tx": self.scalar("sum(sluice_port_tx_packets_total)"),
                "flows_created": self.scalar("sum(sluice_flows_created_total)"),
                "drops_filter": self.scalar('sum(sluice_drops_total{reason="filter"})'),
                "malformed_ihl": self.scalar('sum(sluice_malformed_packets_total{reason="ipv4_bad_ihl"})'),
                "malformed_udp": self.scalar('sum(sluice_malformed_packets_total{reason="udp_bad_length"})'),
                "uptime": self.scalar("sluice_uptime_seconds"),
            }
            stuck = [k for k in now if not (now[k] or 0) > (before[k] or 0)]
            return now if not stuck else None

        after = self.wait_for("every counter to increase", moved)
        self.assertGreaterEqual(after["malformed_ihl"], 10, after)
        self.assertGreaterEqual(after["malformed_udp"], 10, after)
        self.assertGreaterEqual(after["drops_filter"], 2, after)
        self.assertGreater(after["worker_packets"], before["worker_packets"] + 20, after)
        # Prometheus itself saw the counter grow over its window, and the
        # gauges move: flows come and go, the workers were busy at times.
        self.assertGreater(self.scalar("sum(increase(sluice_worker_packets_total[30s]))") or 0, 0)
        active_max = self.scalar("max_over_time(sum(sluice_flows_active)[2m:1s])")
        active_min = self.scalar("min_over_time(sum(sluice_flows_active)[2m:1s])")
        self.assertGreater(active_max, active_min, "sluice_flows_active never changed")
        busy_max = self.scalar("max(max_over_time(sluice_worker_busy_ratio[2m]))")
        busy_min = self.scalar("min(min_over_time(sluice_worker_busy_ratio[2m]))")
        print(f"flows_active {active_min:g}..{active_max:g}, busy ratio {busy_min:.2e}..{busy_max:.2e}, "
              f"worker packets {before['worker_packets']:g} -> {after['worker_packets']:g}", file=sys.stderr)
        self.assertTrue(0 < busy_max <= 1.0, f"sluice_worker_busy_ratio max {busy_max}")
        self.assertGreaterEqual(busy_min, 0.0)
        self.assertGreater(busy_max, busy_min, "sluice_worker_busy_ratio never changed")
        self.assertEqual(dl.wait(30), 0, f"the download failed:\n{b.log(dl)}")

        # A second sluice on the same metrics port: exit 2, one clear line.
        second = livenet.Sluice(b, mode="ips", name="second", metrics=f"127.0.0.1:{SLUICE_PORT}")
        second.start(wait_forwarding=False)
        try:
            rc = second.proc.wait(15)
        except subprocess.TimeoutExpired:
            livenet.stop_process(second.proc, signal.SIGKILL)
            self.fail(f"the second sluice did not give up on a taken metrics port:\n{second.log()}")
        err_lines = [line for line in second.stderr().splitlines() if line.strip()]
        self.assertEqual(rc, 2, f"second sluice exit status {rc}:\n{second.log()}")
        self.assertEqual(len(err_lines), 1, f"expected one line on stderr:\n{second.stderr()}")
        self.assertIn(str(SLUICE_PORT), err_lines[0])
        self.assertIn("metrics", err_lines[0])
        self.assertEqual(second.stdout().strip(), "", second.stdout())
        # Likewise a third on a free metrics port but the first one's control socket.
        third = livenet.Sluice(b, mode="ips", name="third", metrics=f"127.0.0.1:{SLUICE_PORT + 1}")
        third.args[third.args.index("--control") + 1] = s.control
        third.start(wait_forwarding=False)
        try:
            rc = third.proc.wait(15)
        except subprocess.TimeoutExpired:
            livenet.stop_process(third.proc, signal.SIGKILL)
            self.fail(f"the third sluice did not give up on a taken control socket:\n{third.log()}")
        err_lines = [line for line in third.stderr().splitlines() if line.strip()]
        self.assertEqual(rc, 2, f"third sluice exit status {rc}:\n{third.log()}")
        self.assertEqual(len(err_lines), 1, f"expected one line on stderr:\n{third.stderr()}")
        self.assertIn(s.control, err_lines[0])
        r = s.ctl("uptime")
        self.assertEqual(r.returncode, 0, f"the first sluice lost its control socket: {r.stdout} {r.stderr}")
        # The first one is unharmed: still forwarding and still scraped.
        self.assertTrue(s.alive(), s.log())
        self.assertTrue(b.ping(SRV_V4, count=2))
        t = self.scalar("sluice_uptime_seconds")
        self.wait_for("a fresh scrape after the clash", lambda: (self.scalar("sluice_uptime_seconds") or 0) > t)

        s.stop(signal.SIGINT)
        self.assert_clean_exit(s)


if __name__ == "__main__":
    livenet.main()
