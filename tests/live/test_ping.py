#!/usr/bin/python3
"""Live: ping (IPv4 and IPv6, so ARP and neighbour discovery too) crosses
`sluice --inline` in ids and in ips mode; without sluice nothing crosses;
SIGINT ends the run with exit 0, the summary and a final stats event."""

import signal

import livenet
from livenet import SRV_V4, SRV_V6


class PingThroughSluice(livenet.LiveTestCase):
    tag = "ping"

    def check_mode(self, mode):
        b = self.bench
        # The bench alone does not connect the two sides: whatever crosses
        # below crosses through sluice.
        self.assertFalse(b.ping(SRV_V4), "ping crossed mid-ID without sluice")
        s = self.sluice(mode=mode).start()
        self.assertTrue(b.ping(SRV_V4, count=5), f"IPv4 ping through sluice ({mode}) failed:\n{s.log()}")
        self.assertTrue(b.ping(SRV_V6, count=5, wait=2), f"IPv6 ping through sluice ({mode}) failed:\n{s.log()}")
        # And back: the server side reaches the client side too.
        self.assertTrue(b.ping(livenet.CLI_V6, ns=b.srv, count=2, wait=2), s.log())
        s.stop(signal.SIGINT)
        self.assert_clean_exit(s)
        out = s.stdout()
        self.assertIn(f"inline {b.mid_a}<->{b.mid_b}", out)
        self.assertRegex(out, r"icmp [1-9]", f"summary counts no ICMP flow:\n{out}")
        stats = s.events("stats")
        self.assertTrue(stats, f"no stats event in {s.eve}")
        self.assertEqual(stats[-1]["stats"]["decoder"]["pkts"], stats[-1]["stats"]["verdict"]["forwarded"], stats[-1])
        self.assertGreaterEqual(stats[-1]["stats"]["decoder"]["non_ip"], 1, "no ARP seen")
        flows = s.events("flow")
        icmp = [f for f in flows if f.get("proto") in ("ICMP", "IPv6-ICMP")]
        protos = {f["proto"] for f in icmp}
        self.assertIn("ICMP", protos, f"no ICMP flow event: {flows}")
        self.assertIn("IPv6-ICMP", protos, f"no ICMPv6 flow event: {flows}")
        echo4 = [f for f in icmp if f["proto"] == "ICMP" and f["dest_ip"] == SRV_V4]
        self.assertTrue(echo4, f"no flow event for the IPv4 echo to {SRV_V4}: {icmp}")
        # The start-up probes are echo exchanges of their own (other identifiers):
        # the five-echo ping is the largest, whatever order flows end in.
        ping = max(echo4, key=lambda f: f["flow"]["pkts_toserver"])
        self.assertGreaterEqual(ping["flow"]["pkts_toserver"], 5, echo4)
        self.assertGreaterEqual(ping["flow"]["pkts_toclient"], 5, echo4)
        # Nothing was dropped or would have been.
        self.assertFalse(s.events("drop"), f"unexpected drop events: {s.events('drop')}")
        # Once sluice is gone, the wire is cut again.
        self.assertFalse(b.ping(SRV_V4), "ping crossed after sluice stopped")
        self.assert_stats_event(s, stats[-1])

    def test_ids(self):
        self.check_mode("ids")

    def test_ips(self):
        self.check_mode("ips")


if __name__ == "__main__":
    livenet.main()
