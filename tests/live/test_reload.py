#!/usr/bin/python3
"""Live: `sluice ctl reload` changes the filter verdicts of new flows on a
running inline sluice, and refuses a broken file without harm."""

import os
import signal

import livenet
from livenet import SRV_V4
from test_verdicts import CURL_TIMEOUT, HttpPortsCase


class ReloadFilter(HttpPortsCase):
    tag = "reload"

    def test_reload_changes_verdicts_of_new_flows(self):
        """`sluice ctl reload` re-reads the config file: a new rule dropping
        8080 stops new downloads from 8080; a broken file is refused with its
        location and the running rules stay; a fixed file opens 8080 again."""
        s = self.sluice(mode="ips", config="filter:\n  default-action: allow\n").start()
        cfg = s.args[s.args.index("--config") + 1]
        r, _ = self.curl(8080)
        self.assertEqual(r.returncode, 0, r.stderr)

        livenet.write_yaml_config(cfg, "filter:\n  rules:\n    - name: no-web\n      action: drop\n      proto: tcp\n"
                                       "      dst-port: 8080\n")
        r = s.ctl("reload")
        self.assertEqual(r.returncode, 0, f"{r.stdout} {r.stderr}")
        self.assertIn('"return":"OK"', r.stdout)
        r, _ = self.curl(8080, connect_timeout=2)
        self.assertEqual(r.returncode, CURL_TIMEOUT, f"8080 still open after the reload: {r.stderr}\n{s.log()}")

        livenet.write_yaml_config(cfg, "filter:\n  rules:\n    - name: no-web\n      action: dorp\n")
        r = s.ctl("reload")
        self.assertEqual(r.returncode, 1, f"a broken config was accepted: {r.stdout}")
        self.assertIn("NOK", r.stdout)
        self.assertIn(f"{os.path.basename(cfg)}:4:", r.stdout, "the refusal does not name file and line")
        self.assertIn("filter.rules[0].action", r.stdout)
        self.assertTrue(s.alive(), s.log())
        r, _ = self.curl(8080, connect_timeout=2)
        self.assertEqual(r.returncode, CURL_TIMEOUT, "the refused reload changed the running rules")
        self.assertTrue(self.bench.ping(SRV_V4), "a refused reload broke forwarding")

        livenet.write_yaml_config(cfg, "filter:\n  default-action: allow\n")
        self.assertEqual(s.ctl("reload").returncode, 0)
        r, _ = self.curl(8080)
        self.assertEqual(r.returncode, 0, f"8080 still closed after the second reload: {r.stderr}")
        s.stop(signal.SIGINT)
        self.assert_clean_exit(s)
        rules = {e["drop"].get("filter_rule") for e in self.drop_events(s, 8080)}
        self.assertEqual(rules, {"no-web"}, s.events("drop"))



if __name__ == "__main__":
    livenet.main()
