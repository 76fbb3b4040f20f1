#!/usr/bin/python3
"""Live: rules reloaded on a running inline sluice (issue 3 part 5).

A 20 MiB download, throttled so it spans every reload, runs while the rules
are reloaded three times: by SIGHUP, by `sluice ctl reload`, and once with a
rule set that cannot load (the old one must stay). The download must arrive
byte-identical and nothing may be dropped; a rule added by a reload fires on
traffic after it and not before; the reload counters say what happened."""

import hashlib
import os
import signal
import time

import livenet
from livenet import SRV_V4
from test_verdicts import HttpPortsCase

SIZE = 20 * 1024 * 1024


def rules_text(with_new_rule):
    text = 'alert http any any -> any any (msg:"LIVE old rule"; http.uri; content:"/old-marker"; sid:4100001; rev:1;)\n'
    if with_new_rule:
        text += 'alert http any any -> any any (msg:"LIVE new rule"; http.uri; content:"/new-marker"; sid:4100002; rev:1;)\n'
    return text


class RuleReload(HttpPortsCase):
    tag = "rreload"

    def get(self, path, port=8080):
        b = self.bench
        return b.run(b.cli, "curl", "-s", "-o", "/dev/null", "--max-time", "10", f"http://{SRV_V4}:{port}{path}",
                     check=False, timeout=20)

    def alerts(self, s, sid):
        return [e for e in s.events("alert") if e["alert"]["signature_id"] == sid]

    def test_reload_under_traffic_loses_nothing(self):
        b = self.bench
        www = b.path("www")
        big = os.path.join(www, "big.bin")
        livenet.random_file(big, SIZE)
        with open(big, "rb") as f:
            want = hashlib.sha256(f.read()).hexdigest()
        rules = b.path("live.rules")
        with open(rules, "w") as f:
            f.write(rules_text(False))
        cfg = f"mode: ips\nrules:\n  files:\n    - {rules}\neve:\n  types: [alert, flow, drop, stats, http]\n"
        s = self.sluice(mode="ips", config=cfg).start()
        cfg_path = s.args[s.args.index("--config") + 1]

        self.get("/new-marker-before")  # no rule for it yet
        out = b.path("got.bin")
        dl = b.spawn(b.cli, ["curl", "-sS", "--fail", "--limit-rate", "4M", "-o", out, f"http://{SRV_V4}:8080/big.bin"], "download")
        time.sleep(1.0)

        # 1: SIGHUP with the new rule.
        with open(rules, "w") as f:
            f.write(rules_text(True))
        os.kill(s.proc.pid, signal.SIGHUP)
        time.sleep(1.0)
        # 2: a rule set that cannot load: the running one stays.
        livenet.write_yaml_config(cfg_path, cfg.replace(rules, b.path("missing.rules")))
        r = s.ctl("reload")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("NOK", r.stdout)
        self.assertIn("rules", r.stdout)
        time.sleep(0.5)
        # 3: back to the good file, through the control socket.
        livenet.write_yaml_config(cfg_path, cfg)
        r = s.ctl("reload")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn('"generation"', r.stdout)

        self.assertEqual(dl.wait(timeout=60), 0, b.log(dl))
        with open(out, "rb") as f:
            self.assertEqual(hashlib.sha256(f.read()).hexdigest(), want, "the download changed across the reloads")
        self.get("/new-marker-after")
        self.get("/old-marker")

        stats = s.ctl("stats").stdout
        s.stop(signal.SIGINT)
        self.assert_clean_exit(s)
        self.assertIn('"reloads_ok":2', stats, stats)
        self.assertIn('"reloads_failed":1', stats, stats)
        self.assertIn('"dropped":0', stats, stats)
        new = self.alerts(s, 4100002)
        self.assertEqual(len(new), 1, new)
        self.assertIn("/new-marker-after", new[0]["http"]["url"])
        self.assertEqual(len(self.alerts(s, 4100001)), 1, s.events("alert"))
        self.assertFalse(s.events("drop"), s.events("drop"))
        final = s.events("stats")[-1]["stats"]
        self.assertEqual(final["verdict"]["dropped"], 0, final)


if __name__ == "__main__":
    livenet.main()
