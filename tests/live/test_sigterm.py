#!/usr/bin/python3
"""Live: SIGTERM while traffic crosses `sluice --inline` at full speed (an
unthrottled HTTP download plus pings): exit 0 within a few seconds, the
summary on stdout, the last EVE line a final stats event that counts the
packets, and the unfinished download's flow ended as "shutdown"."""

import json
import os
import re
import signal
import sys
import time

import livenet
from livenet import CLI_V4, SRV_V4

SIZE = 200 * 1024 * 1024


class SigtermUnderTraffic(livenet.LiveTestCase):
    tools = ("ip", "ethtool", "ping", "curl")
    tag = "sigterm"

    def test_sigterm_during_download(self):
        b = self.bench
        www = b.path("www")
        os.mkdir(www)
        # A sparse file: as big as we like, no time spent writing it.
        with open(os.path.join(www, "huge.bin"), "wb") as f:
            f.truncate(SIZE)
        b.http_server(8080, www)
        s = self.sluice(mode="ips").start()
        dl = b.spawn(b.cli, ["curl", "-sS", "--fail", "-o", "/dev/null", "--max-time", "60",
                             f"http://{SRV_V4}:8080/huge.bin"], "curl-huge")
        pinger = b.spawn(b.cli, ["ping", "-n", "-q", "-i", "0.01", SRV_V4], "ping-flood")
        # Wait until the download really flows through sluice.
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            r = s.ctl("stats")
            m = re.search(r'"decoder":\{"pkts":(\d+)', r.stdout)
            if m and int(m.group(1)) > 5000:
                break
            time.sleep(0.2)
        else:
            self.fail(f"no traffic through sluice: {r.stdout} {r.stderr}\n{s.log()}")
        self.assertIsNone(dl.poll(), f"the download ended before the signal:\n{b.log(dl)}")

        s.stop(signal.SIGTERM, timeout=10)
        print(f"stopped {s.stop_seconds:.2f} s after SIGTERM", file=sys.stderr)
        self.assertLess(s.stop_seconds, 5.0, f"sluice took {s.stop_seconds:.1f} s to stop on SIGTERM")
        self.assert_clean_exit(s, "SIGTERM")
        livenet.stop_process(pinger)

        with open(s.eve) as f:
            lines = [line for line in f.read().splitlines() if line.strip()]
        self.assertTrue(lines, "empty EVE log")
        last = json.loads(lines[-1])
        self.assertEqual(last["event_type"], "stats", f"the last EVE event is not the final stats: {lines[-1][:300]}")
        pkts = last["stats"]["decoder"]["pkts"]
        m = re.search(r"packets\s+(\d+) read", s.stdout())
        self.assertTrue(m, s.stdout())
        self.assertEqual(pkts, int(m.group(1)), "final stats event and summary disagree")
        self.assertGreater(pkts, 5000)
        # The unfinished download is ended by the shutdown and logged.
        flows = [e for e in s.events("flow") if e.get("dest_port") == 8080 and e.get("src_ip") == CLI_V4]
        self.assertTrue(flows, f"no flow event for the interrupted download: {s.events('flow')}")
        self.assertEqual(flows[-1]["flow"]["reason"], "shutdown", flows[-1])
        self.assertGreater(flows[-1]["flow"]["bytes_toclient"], 1 << 20, flows[-1])
        # With sluice gone the wire is cut: the download cannot go on.
        time.sleep(1)
        self.assertNotEqual(dl.poll(), 0, "the download completed although sluice was stopped midway")
        livenet.stop_process(dl)
        self.assert_stats_event(s, last)


if __name__ == "__main__":
    livenet.main()
