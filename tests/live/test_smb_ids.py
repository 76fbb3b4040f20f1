#!/usr/bin/python3
"""Live: SMB file carving and ClamAV scanning in ids mode, then the same
traffic replayed through `sluice --pcap` (issue 5 part 6).

Debian's smbd in srv-ID, smbclient in cli-ID (-m NT1 and -m SMB3), sluice
--inline --mode ids between them with a ClamAV database made by sigtool in the
test (smb_bench.py). Per dialect, one smbclient connection per transfer:
uploads of a clean 1 MiB random file, EICAR and a zip holding clam.exe, and
downloads of the same three. dumpcap records the traffic on the server's veth.

- every transfer succeeds (ids never blocks) and what lands on the share is the
  original;
- one fileinfo event per file and direction (12): COMPLETE, size and SHA-256
  of the original, clamav.result clean for the clean file and malicious for
  the others, with the database's names (the zip by its inner clam.exe: ClamAV
  unpacked it);
- one malware alert per malicious transfer (8): category "malware", action
  "allowed", signature "ClamAV: <name>";
- the quarantine holds EICAR and the zip once each (named by SHA-256, content
  equal to the original) with a JSON sidecar line per sighting (4 each: both
  dialects, both directions), and nothing clean; the final stats event counts
  8 malicious and 4 clean verdicts, none blocked;
- the capture replayed through `sluice --pcap` with the same config gives the
  same fileinfo (name, direction, SHA-256, state, size, scan result) and alert
  events, and quarantines the same two contents.

Needs root, iproute2, ethtool, ping, samba, smbclient, clamav (sigtool),
clamav-testfiles and wireshark-common (dumpcap).
"""

import collections
import json
import os
import subprocess
import time

import livenet
import smb_bench
from smb_bench import DIALECTS, base_name, file_key, alert_key, sha256


class SmbIds(smb_bench.SmbLiveCase):
    tools = smb_bench.TOOLS + ("dumpcap",)
    tag = "smbids"

    def start_capture(self):
        b = self.bench
        self.pcap = b.path("smb.pcap")
        # -P: pcap, not pcapng; -B: a 64 MiB kernel buffer, so nothing is dropped.
        p = b.spawn(b.srv, ["dumpcap", "-q", "-P", "-B", "64", "-i", b.srv_if, "-f", "tcp port 445", "-w", self.pcap],
                    "dumpcap")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with open(b.path("dumpcap.err"), errors="replace") as f:
                if "Capturing on" in f.read():
                    return p
            if p.poll() is not None:
                self.fail(f"dumpcap exited with {p.returncode}:\n{b.log(p)}")
            time.sleep(0.1)
        self.fail(f"dumpcap did not start:\n{b.log(p)}")

    def stop_capture(self, p):
        livenet.stop_process(p, sig=2)
        with open(self.bench.path("dumpcap.err"), errors="replace") as f:
            err = f.read()
        # "Packets received/dropped on interface 'X': N/0 (pcap:0/dumpcap:0/flushed:0/ps_ifdrop:0) (100.0%)"
        self.assertRegex(err, r"dropped on interface '[^']+': \d+/0 ", f"dumpcap dropped packets:\n{err}")

    def replay(self):
        """sluice --pcap over the capture with the same config; returns its EVE events."""
        b = self.bench
        cfg = b.path("replay.yaml")
        with open(cfg, "w") as f:
            f.write(self.config(quarantine=b.path("quarantine-replay")))
        eve = b.path("replay-eve.json")
        r = subprocess.run([livenet.sluice_binary(), "--pcap", self.pcap, "--config", cfg, "--mode", "ids", "--eve", eve,
                            "--no-metrics", "--control", ""], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, f"replay failed:\n{r.stdout}\n{r.stderr}")
        with open(eve) as f:
            return [json.loads(l) for l in f if l.strip()]

    def test_ids_carves_scans_quarantines_and_replays(self):
        p = self.payloads
        cap = self.start_capture()
        s = self.sluice(mode="ids", config=self.config()).start()
        got = self.bench.path("got")
        os.makedirs(got)
        for d in DIALECTS:
            for kind in p.content:
                ok, out = self.put(d, kind)
                self.assertTrue(ok, f"ids: upload {d} {kind} failed:\n{out}\n{s.log()}")
                self.assertEqual(self.smbd.read(p.name(kind, d, "upload")), p.content[kind], f"{d} {kind} upload")
                dest = os.path.join(got, p.name(kind, d, "download"))
                ok, out = self.get(d, kind, dest)
                self.assertTrue(ok, f"ids: download {d} {kind} failed:\n{out}\n{s.log()}")
                with open(dest, "rb") as f:
                    self.assertEqual(f.read(), p.content[kind], f"{d} {kind} download")
        expected_files = len(DIALECTS) * len(p.content) * 2
        expected_alerts = len(DIALECTS) * 2 * sum(1 for k in p.content if p.malicious(k))
        self.assertTrue(self.wait_events(s, lambda ev: sum(e["event_type"] == "fileinfo" for e in ev) >= expected_files
                                         and sum(e["event_type"] == "alert" for e in ev) >= expected_alerts),
                        f"fileinfo/alert events missing:\n{s.events('fileinfo')}\n{s.log()}")
        s.stop()
        self.assert_clean_exit(s)
        self.stop_capture(cap)

        # fileinfo: one per file and direction, the original's hash, the right verdict.
        files = s.events("fileinfo")
        self.assertEqual(len(files), expected_files, files)
        by_name = {}
        for e in files:
            fi = e["fileinfo"]
            key = (base_name(fi["filename"]), fi["direction"])
            self.assertNotIn(key, by_name, f"two fileinfo events for {key}")
            by_name[key] = e
        for d in DIALECTS:
            for kind, data in p.content.items():
                for direction in ("upload", "download"):
                    key = (p.name(kind, d, direction), direction)
                    self.assertIn(key, by_name, f"no fileinfo for {key}: {sorted(by_name)}")
                    e = by_name[key]
                    fi = e["fileinfo"]
                    self.assertEqual(e["app_proto"], "smb", e)
                    self.assertEqual(fi["state"], "COMPLETE", e)
                    self.assertEqual(fi["size"], len(data), e)
                    self.assertEqual(fi["sha256"], sha256(data), f"{key}: carved hash differs from the original")
                    self.assertEqual(base_name(fi["share"]).lower(), smb_bench.SHARE, e)
                    want = "malicious" if p.malicious(kind) else "clean"
                    self.assertEqual(fi["clamav"]["result"], want, e)
                    if p.malicious(kind):
                        self.assertEqual(fi["clamav"]["name"], p.detection[kind], e)
                        self.assertTrue(fi["quarantined"], e)
                    else:
                        self.assertNotIn("name", fi["clamav"], e)
                        self.assertFalse(fi["quarantined"], e)

        # alerts: one per malicious transfer, category malware, allowed.
        alerts = s.events("alert")
        self.assertEqual(len(alerts), expected_alerts, alerts)
        names = collections.Counter(a["alert"]["signature"] for a in alerts)
        self.assertEqual(names, {f"ClamAV: {smb_bench.SIG_EICAR}": 4, f"ClamAV: {smb_bench.SIG_CLAM}": 4}, alerts)
        for a in alerts:
            self.assertEqual(a["alert"]["category"], "malware", a)
            self.assertEqual(a["alert"]["action"], "allowed", a)
            self.assertEqual(a["app_proto"], "smb", a)
            self.assertEqual(len(a["files"]), 1, a)
            self.assertEqual(a["files"][0]["clamav"]["result"], "malicious", a)
        self.assertEqual(s.events("drop"), [])
        stats = s.events("stats")[-1]
        self.assert_stats_event(s, stats)
        v = stats["stats"]["files"]["verdicts"]
        self.assertEqual((v["malicious"], v["clean"], v.get("blocked_malicious", 0)), (expected_alerts, expected_files - expected_alerts, 0), v)

        # quarantine: the two malicious contents, a sidecar line per sighting.
        q = self.quarantined()
        self.assertEqual(set(q), {sha256(p.content["eicar"]), sha256(p.content["zip"])}, sorted(q))
        for kind in ("eicar", "zip"):
            content, lines = q[sha256(p.content[kind])]
            self.assertEqual(content, p.content[kind], kind)
            self.assertEqual(len(lines), 4, lines)
            self.assertEqual(collections.Counter(l["fileinfo"]["direction"] for l in lines),
                             {"upload": 2, "download": 2}, lines)
            for l in lines:
                self.assertEqual(l["fileinfo"]["clamav"]["name"], p.detection[kind], l)
                self.assertEqual(l["stored_as"], sha256(p.content[kind]), l)

        # The capture through sluice --pcap: the same events.
        replay = self.replay()
        r_files = [e for e in replay if e["event_type"] == "fileinfo"]
        r_alerts = [e for e in replay if e["event_type"] == "alert"]
        def differences(replayed, live):
            r, l = collections.Counter(replayed), collections.Counter(live)
            return f"only in the replay: {list((r - l).elements())}\nonly live: {list((l - r).elements())}"

        self.assertEqual(collections.Counter(map(file_key, r_files)), collections.Counter(map(file_key, files)),
                         "replayed fileinfo events differ from the live run's:\n"
                         + differences(map(file_key, r_files), map(file_key, files)))
        self.assertEqual(collections.Counter(map(alert_key, r_alerts)), collections.Counter(map(alert_key, alerts)),
                         "replayed alerts differ from the live run's:\n"
                         + differences(map(alert_key, r_alerts), map(alert_key, alerts)))
        rq = self.quarantined(self.bench.path("quarantine-replay"))
        self.assertEqual(set(rq), set(q))


if __name__ == "__main__":
    livenet.main()
