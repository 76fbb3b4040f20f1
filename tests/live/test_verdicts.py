#!/usr/bin/python3
"""Live: L3/L4 filter verdicts on real TCP connections through `sluice --inline`.

One config: TCP to 8081 is dropped, TCP to 8082 rejected, the rest allowed.
ips mode: 8080 downloads, 8081 times out (the server never sees the
connection), 8082 fails at once with a reset; EVE has `drop` events
("action":"blocked") naming the rule. ids mode: all three download, and EVE
logs what would have happened ("action":"allowed", flows "would_drop")."""

import os
import signal
import time

import livenet
from livenet import CLI_V4, SRV_V4

CONFIG = """\
filter:
  default-action: allow
  rules:
    - name: drop-8081
      action: drop
      proto: tcp
      dst-port: 8081
    - name: reject-8082
      action: reject
      proto: tcp
      dst-port: 8082
"""

BODY = 1024 * 1024
CURL_CANT_CONNECT, CURL_TIMEOUT = 7, 28
# Prints how a TCP connect ends: "connected", or the exception's class name.
CONNECT_PROBE = r"""
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3).close()
    print("connected")
except Exception as e:
    print(type(e).__name__)
"""


class HttpPortsCase(livenet.LiveTestCase):
    """A bench with http.server on 8080, 8081 and 8082 in srv-ID, and curl."""

    tools = ("ip", "ethtool", "ping", "curl")
    tag = "verdicts"

    def setUp(self):
        super().setUp()
        b = self.bench
        www = b.path("www")
        os.mkdir(www)
        livenet.random_file(os.path.join(www, "f.bin"), BODY)
        self.servers = {port: b.http_server(port, www) for port in (8080, 8081, 8082)}

    def curl(self, port, connect_timeout=3):
        b = self.bench
        t0 = time.monotonic()
        r = b.run(b.cli, "curl", "-sS", "--fail", "-o", "/dev/null", "--connect-timeout", str(connect_timeout),
                  "--max-time", "20", "-w", "%{size_download}", f"http://{SRV_V4}:{port}/f.bin", check=False, timeout=30)
        return r, time.monotonic() - t0

    def server_saw_request(self, port):
        with open(self.bench.path(f"http-{port}.err"), errors="replace") as f:
            return "GET /f.bin" in f.read()

    def drop_events(self, s, port):
        return [e for e in s.events("drop") if e.get("dest_port") == port and e.get("src_ip") == CLI_V4]

    def flow_event(self, s, port):
        evs = [e for e in s.events("flow") if e.get("dest_port") == port and e.get("src_ip") == CLI_V4]
        return evs[0] if evs else None


class FilterVerdicts(HttpPortsCase):
    def test_ips_enforces(self):
        b = self.bench
        s = self.sluice(mode="ips", config=CONFIG).start()
        r, _ = self.curl(8080)
        self.assertEqual(r.returncode, 0, f"allowed port 8080 failed: {r.stderr}\n{s.log()}")
        self.assertEqual(r.stdout.strip(), str(BODY))

        r, secs = self.curl(8081, connect_timeout=3)
        self.assertEqual(r.returncode, CURL_TIMEOUT, f"8081 (drop) should time out, curl said {r.returncode}: {r.stderr}")
        self.assertGreaterEqual(secs, 2.5)
        self.assertFalse(self.server_saw_request(8081), "a dropped flow reached the server")

        r, secs = self.curl(8082, connect_timeout=5)
        self.assertEqual(r.returncode, CURL_CANT_CONNECT,
                         f"8082 (reject) should fail with a reset, curl said {r.returncode}: {r.stderr}\n{s.log()}")
        self.assertLess(secs, 1.5, f"reject took {secs:.2f} s: no reset came back, the client waited")
        # curl says only "Couldn't connect to server": ask the socket API what
        # came back. ECONNREFUSED is the kernel's answer to a RST for a SYN.
        r = b.run(b.cli, "/usr/bin/python3", "-c", CONNECT_PROBE, SRV_V4, "8082", check=False)
        self.assertEqual(r.stdout.strip(), "ConnectionRefusedError", f"connect to 8082: {r.stdout} {r.stderr}")
        self.assertFalse(self.server_saw_request(8082), "a rejected flow reached the server")

        # The flow was cut, not only its first packet: a second try fails too.
        r, _ = self.curl(8081, connect_timeout=2)
        self.assertEqual(r.returncode, CURL_TIMEOUT)

        s.stop(signal.SIGINT)
        self.assert_clean_exit(s)
        d81 = self.drop_events(s, 8081)
        self.assertTrue(d81, f"no drop event for 8081: {s.events('drop')}")
        for e in d81:
            self.assertEqual(e["drop"]["action"], "blocked", e)
            self.assertEqual(e["drop"]["reason"], "filter", e)
            self.assertEqual(e["drop"]["filter_rule"], "drop-8081", e)
            self.assertEqual(e["proto"], "TCP", e)
            self.assertIn("flow_id", e)
        self.assertTrue(d81[0]["drop"]["syn"], d81[0])
        d82 = self.drop_events(s, 8082)
        self.assertTrue(d82, f"no drop event for 8082: {s.events('drop')}")
        self.assertEqual(d82[0]["drop"]["verdict"], "reject", d82[0])
        self.assertEqual(d82[0]["drop"]["filter_rule"], "reject-8082", d82[0])
        self.assertEqual(d82[0]["drop"]["action"], "blocked", d82[0])
        self.assertFalse(self.drop_events(s, 8080), "the allowed flow has drop events")
        f81 = self.flow_event(s, 8081)
        self.assertIsNotNone(f81, f"no flow event for 8081: {s.events('flow')}")
        self.assertEqual(f81["flow"].get("action"), "drop", f81)
        self.assertEqual(f81["flow"]["pkts_toclient"], 0, f"something came back on a dropped flow: {f81}")
        f80 = self.flow_event(s, 8080)
        self.assertIsNotNone(f80)
        self.assertGreaterEqual(f80["flow"]["bytes_toclient"], BODY)
        self.assertNotIn("action", f80["flow"], f80)
        verdict = s.events("stats")[-1]["stats"]["verdict"]
        self.assertEqual(verdict["rejects_sent"], 2, f"one reset per rejected connection (curl, probe): {verdict}")
        out = s.stdout()
        self.assertRegex(out, r"forwarded, [1-9]\d* dropped \(.*filter", out)
        self.assertNotIn("would have been dropped", out)

    def test_ids_only_logs(self):
        s = self.sluice(mode="ids", config=CONFIG).start()
        for port in (8080, 8081, 8082):
            r, _ = self.curl(port)
            self.assertEqual(r.returncode, 0, f"ids mode blocked port {port}: {r.stderr}\n{s.log()}")
            self.assertEqual(r.stdout.strip(), str(BODY))
            self.assertTrue(self.server_saw_request(port))
        s.stop(signal.SIGINT)
        self.assert_clean_exit(s)
        for port, rule, verdict in ((8081, "drop-8081", "drop_flow"), (8082, "reject-8082", "reject")):
            d = self.drop_events(s, port)
            self.assertTrue(d, f"ids mode logged no drop event for {port}: {s.events('drop')}")
            self.assertEqual(d[0]["drop"]["action"], "allowed", d[0])
            self.assertEqual(d[0]["drop"]["filter_rule"], rule, d[0])
            self.assertEqual(d[0]["drop"]["verdict"], verdict, d[0])
            f = self.flow_event(s, port)
            self.assertIsNotNone(f, f"no flow event for {port}")
            self.assertEqual(f["flow"].get("action"), "would_drop", f)
            self.assertGreaterEqual(f["flow"]["bytes_toclient"], BODY, f)
        self.assertFalse(self.drop_events(s, 8080))
        verdict = s.events("stats")[-1]["stats"]["verdict"]
        self.assertEqual(verdict["rejects_sent"], 0, verdict)
        self.assertEqual(verdict["dropped"], 0, verdict)
        out = s.stdout()
        self.assertRegex(out, r"forwarded, [1-9]\d* would have been dropped \(.*filter", out)


if __name__ == "__main__":
    livenet.main()
