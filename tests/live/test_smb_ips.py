#!/usr/bin/python3
"""Live: malicious SMB files stopped inline in ips mode (issue 5 parts 5 and 6).

Debian's smbd in srv-ID; smbclient (-m NT1 and -m SMB3) and an impacket client
in cli-ID; sluice --inline --mode ips between them with a ClamAV database made
by sigtool in the test (smb_bench.py). Each transfer is its own connection.
Per dialect, malicious transfers first, then clean ones:

- smbclient uploads of EICAR and of the zip holding clam.exe fail on the client
  (sluice holds the CLOSE until the verdict, then resets the flow: smbclient
  never announces the size, so its data has reached the server by then);
- uploads as Windows Explorer makes them (impacket: the end of file set to the
  final size before the WRITEs) fail on the client and the file does not land
  complete on the share: the WRITE that completes it is the one held and
  dropped;
- downloads of EICAR and of the zip fail and the client does not get the file
  (the READ response that completes it is held and dropped);
- after all that, on new connections, the clean 1 MiB file goes up with
  smbclient and with impacket and comes down with smbclient, identical (share
  contents and downloaded file compared with the original);
- EVE: a blocked malware alert per malicious transfer (6 per dialect),
  fileinfo with the original's SHA-256 and the verdict for every file,
  clean ones COMPLETE; both malicious contents are quarantined;
- sluice's stats count the malicious verdicts that blocked a file.

Needs root, iproute2, ethtool, ping, samba, smbclient, clamav (sigtool),
clamav-testfiles and python3-impacket.
"""

import collections
import os

import livenet
import smb_bench
from smb_bench import DIALECTS, base_name, sha256


class SmbIps(smb_bench.SmbLiveCase):
    tag = "smbips"

    def setUp(self):
        if not smb_bench.have_impacket():
            livenet.skip("python3-impacket is not installed")
        super().setUp()

    def test_ips_stops_malicious_files(self):
        p = self.payloads
        s = self.sluice(mode="ips", config=self.config()).start()
        got = self.bench.path("got")
        os.makedirs(got)
        bad = [k for k in p.content if p.malicious(k)]
        report = []
        for d in DIALECTS:
            for kind in bad:
                name = p.name(kind, d, "upload")
                ok, out = self.put(d, kind)
                self.assertFalse(ok, f"ips: smbclient upload of {kind} over {d} succeeded:\n{out}\n{s.log()}")
                report.append((d, kind, "smbclient put", out.strip().splitlines()[-1:],
                               self.smbd.read(name) == p.content[kind]))
                r, ex_name = self.explorer_put(d, kind)
                self.assertFalse(r["ok"], f"ips: impacket upload of {kind} over {d} succeeded: {r}\n{s.log()}")
                # It failed because sluice stopped it, not before it wrote.
                self.assertIn(r["stage"], ("write", "close"), f"impacket upload of {kind} over {d}: {r}")
                on_share = self.smbd.read(ex_name)
                self.assertNotEqual(on_share, p.content[kind],
                                    f"ips: {kind} landed complete on the share over {d} ({r})")
                # Its one WRITE was the held one: the share has only the size
                # the client set, zeros.
                self.assertTrue(on_share is None or set(on_share) <= {0},
                                f"ips: bytes of {kind} reached the share over {d}: {on_share[:16]!r}")
                report.append((d, kind, "impacket put", r, None if on_share is None else len(on_share)))
                dest = os.path.join(got, p.name(kind, d, "download"))
                ok, out = self.get(d, kind, dest)
                self.assertFalse(ok, f"ips: download of {kind} over {d} succeeded:\n{out}\n{s.log()}")
                if os.path.exists(dest):
                    with open(dest, "rb") as f:
                        self.assertNotEqual(f.read(), p.content[kind], f"ips: the client got all of {kind} over {d}")
            # Clean files on fresh connections still pass, whole.
            ok, out = self.put(d, "clean")
            self.assertTrue(ok, f"ips: clean upload over {d} failed:\n{out}\n{s.log()}")
            self.assertEqual(self.smbd.read(p.name("clean", d, "upload")), p.content["clean"], d)
            r, ex_name = self.explorer_put(d, "clean")
            self.assertTrue(r["ok"], f"ips: clean impacket upload over {d} failed: {r}\n{s.log()}")
            self.assertEqual(self.smbd.read(ex_name), p.content["clean"], d)
            dest = os.path.join(got, p.name("clean", d, "download"))
            ok, out = self.get(d, "clean", dest)
            self.assertTrue(ok, f"ips: clean download over {d} failed:\n{out}\n{s.log()}")
            with open(dest, "rb") as f:
                self.assertEqual(f.read(), p.content["clean"], d)
        print("\n".join(map(str, report + self.timings)))

        n_blocked = len(DIALECTS) * len(bad) * 3
        n_clean = len(DIALECTS) * 3
        self.assertTrue(self.wait_events(s, lambda ev: sum(e["event_type"] == "alert" for e in ev) >= n_blocked
                                         and sum(e["event_type"] == "fileinfo" for e in ev) >= n_blocked + n_clean),
                        f"alerts/fileinfo missing:\n{s.events('alert')}\n{s.log()}")
        s.stop()
        self.assert_clean_exit(s)

        alerts = s.events("alert")
        self.assertEqual(len(alerts), n_blocked, alerts)
        self.assertEqual(collections.Counter(a["alert"]["signature"] for a in alerts),
                         {f"ClamAV: {smb_bench.SIG_EICAR}": n_blocked // 2, f"ClamAV: {smb_bench.SIG_CLAM}": n_blocked // 2},
                         alerts)
        for a in alerts:
            self.assertEqual(a["alert"]["action"], "blocked", a)
            self.assertEqual(a["alert"]["category"], "malware", a)

        files = s.events("fileinfo")
        self.assertEqual(len(files), n_blocked + n_clean, files)
        for e in files:
            fi = e["fileinfo"]
            name = base_name(fi["filename"])
            kind = name.rsplit("-", 1)[-1].split(".")[0]
            self.assertIn(kind, p.content, e)
            self.assertEqual(fi["sha256"], sha256(p.content[kind]), f"{name}: carved hash differs from the original")
            self.assertEqual(fi["size"], len(p.content[kind]), e)
            if p.malicious(kind):
                self.assertEqual(fi["clamav"]["result"], "malicious", e)
                self.assertEqual(fi["clamav"]["name"], p.detection[kind], e)
                self.assertTrue(fi["quarantined"], e)
            else:
                self.assertEqual(fi["state"], "COMPLETE", e)
                self.assertEqual(fi["clamav"]["result"], "clean", e)
        seen = collections.Counter((base_name(e["fileinfo"]["filename"]), e["fileinfo"]["direction"]) for e in files)
        for d in DIALECTS:
            for kind in p.content:
                self.assertEqual(seen[(p.name(kind, d, "upload"), "upload")], 1, seen)
                self.assertEqual(seen[("ex-" + p.name(kind, d, "upload"), "upload")], 1, seen)
                self.assertEqual(seen[(p.name(kind, d, "download"), "download")], 1, seen)

        q = self.quarantined()
        self.assertEqual(set(q), {sha256(p.content[k]) for k in bad}, sorted(q))
        for k in bad:
            self.assertEqual(q[sha256(p.content[k])][0], p.content[k], k)
        self.assertIn("dropped (", s.stdout())
        # The final stats: every file scanned, each malicious one blocked.
        stats = s.events("stats")[-1]
        self.assert_stats_event(s, stats)
        v = stats["stats"]["files"]["verdicts"]
        self.assertEqual((v["malicious"], v["blocked_malicious"], v["clean"], v["released_clean"]),
                         (n_blocked, n_blocked, n_clean, n_clean), v)


if __name__ == "__main__":
    livenet.main()
