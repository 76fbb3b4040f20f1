#!/usr/bin/python3
"""Live: a 50 MiB HTTP download (and a 5 MiB one over IPv6) through
`sluice --inline` in ips mode arrives byte-identical, and the EVE flow event
of the transfer counts its bytes and ends it by the TCP closed timeout."""

import hashlib
import os
import signal
import sys
import time

import livenet
from livenet import CLI_V4, SRV_V4, SRV_V6

SIZE = 50 * 1024 * 1024
SIZE6 = 5 * 1024 * 1024


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class DownloadThroughSluice(livenet.LiveTestCase):
    tools = ("ip", "ethtool", "ping", "curl")
    tag = "download"

    def fetch(self, url, out, max_time=45):
        b = self.bench
        t0 = time.monotonic()
        r = b.run(b.cli, "curl", "-sS", "--fail", "-g", "--max-time", str(max_time), "-o", out,
                  "-w", "%{size_download} %{speed_download}", url, check=False, timeout=max_time + 10)
        secs = time.monotonic() - t0
        return r, secs

    def test_download_byte_identical(self):
        b = self.bench
        www = b.path("www")
        os.mkdir(www)
        livenet.random_file(os.path.join(www, "big.bin"), SIZE)
        livenet.random_file(os.path.join(www, "v6.bin"), SIZE6)
        want = sha256(os.path.join(www, "big.bin"))
        want6 = sha256(os.path.join(www, "v6.bin"))
        b.http_server(8080, www)
        b.http_server(8086, www, v6=True)
        # A closed TCP flow ends 2 s after its FIN/RST, so its event comes
        # while sluice still runs (the live timeout path, not the shutdown).
        s = self.sluice(mode="ips", extra=("--set", "flow.timeouts.tcp.closed=2s")).start()

        got = b.path("big.out")
        r, secs = self.fetch(f"http://{SRV_V4}:8080/big.bin", got)
        self.assertEqual(r.returncode, 0, f"curl failed: {r.stderr}\n{s.log()}")
        print(f"50 MiB over IPv4 in {secs:.1f} s ({r.stdout})", file=sys.stderr)
        self.assertEqual(os.path.getsize(got), SIZE)
        self.assertEqual(sha256(got), want, "the download is not byte-identical")

        got6 = b.path("v6.out")
        r, secs = self.fetch(f"http://[{SRV_V6}]:8086/v6.bin", got6)
        self.assertEqual(r.returncode, 0, f"curl (IPv6) failed: {r.stderr}\n{s.log()}")
        print(f"5 MiB over IPv6 in {secs:.1f} s ({r.stdout})", file=sys.stderr)
        self.assertEqual(sha256(got6), want6, "the IPv6 download is not byte-identical")

        # The flow event arrives by timeout, before any shutdown.
        deadline = time.monotonic() + 15
        flow = None
        while time.monotonic() < deadline and flow is None:
            for ev in s.events("flow"):
                if ev.get("proto") == "TCP" and ev.get("dest_port") == 8080 and ev.get("src_ip") == CLI_V4:
                    flow = ev
            if flow is None:
                time.sleep(0.5)
        self.assertIsNotNone(flow, f"no flow event for the 8080 download while sluice runs: {s.events('flow')}\n{s.log()}")
        f = flow["flow"]
        self.assertEqual(flow["dest_ip"], SRV_V4)
        self.assertEqual(flow["src_ip"], CLI_V4)
        self.assertGreaterEqual(f["bytes_toclient"], SIZE, f"flow event undercounts the transfer: {flow}")
        self.assertLess(f["bytes_toserver"], 1 << 20, flow)
        self.assertGreaterEqual(f["pkts_toclient"], SIZE // 1500, flow)
        self.assertEqual(f["state"], "closed", flow)
        self.assertEqual(f["reason"], "timeout", flow)
        self.assertNotIn("action", f, f"the download flow was marked for dropping: {flow}")
        self.assertTrue(flow["tcp"].get("syn") and flow["tcp"].get("fin"), flow)
        self.assertIsInstance(flow.get("flow_id"), int)

        s.stop(signal.SIGINT)
        self.assert_clean_exit(s)
        # The IPv6 flow is counted too, ended by timeout or at shutdown.
        v6 = [ev for ev in s.events("flow") if ev.get("dest_port") == 8086 and ev.get("dest_ip") == SRV_V6]
        self.assertTrue(v6, f"no flow event for the IPv6 download: {s.events('flow')}")
        self.assertGreaterEqual(v6[0]["flow"]["bytes_toclient"], SIZE6)
        self.assertFalse(s.events("drop"), s.events("drop"))
        self.assertRegex(s.stdout(), r"forwarded, 0 dropped", s.stdout())

    def test_two_workers_one_flow_per_connection(self):
        """With --workers 2 each port has two queues; both directions of a
        connection must still meet on one worker (DESIGN.md: symmetric RSS or
        a symmetric software hash), so each download is one flow, counted both
        ways, never two half flows (one of them picked up midstream). Large
        transfers, because the split shows under load (ring pressure)."""
        b = self.bench
        www = b.path("www")
        os.mkdir(www)
        part = SIZE
        livenet.random_file(os.path.join(www, "part.bin"), part)
        want = sha256(os.path.join(www, "part.bin"))
        b.http_server(8080, www)
        s = self.sluice(mode="ips", workers=2).start()
        connections = 2
        for i in range(connections):
            got = b.path(f"part{i}.out")
            r, _ = self.fetch(f"http://{SRV_V4}:8080/part.bin", got, max_time=30)
            self.assertEqual(r.returncode, 0, f"download {i} failed: {r.stderr}\n{s.log()}")
            self.assertEqual(sha256(got), want, f"download {i} is not byte-identical")
        s.stop(signal.SIGINT)
        self.assert_clean_exit(s)
        self.assertIn("(ips mode, 2 workers)", s.stdout())
        tcp = [ev for ev in s.events("flow") if ev.get("proto") == "TCP"]
        summary = [(ev["src_ip"], ev.get("src_port"), ev["dest_ip"], ev.get("dest_port"),
                    ev["flow"]["pkts_toserver"], ev["flow"]["pkts_toclient"]) for ev in tcp]
        self.assertEqual(len(tcp), connections,
                         f"{connections} connections gave {len(tcp)} TCP flows (directions split over workers?): {summary}")
        for ev in tcp:
            self.assertEqual((ev["src_ip"], ev["dest_ip"], ev["dest_port"]), (CLI_V4, SRV_V4, 8080), summary)
            self.assertGreaterEqual(ev["flow"]["bytes_toclient"], part, summary)
            self.assertEqual(ev["flow"]["state"], "closed", summary)


if __name__ == "__main__":
    livenet.main()
