#!/usr/bin/python3
"""Every metric family the binary exports is documented in docs/metrics.md.
Runs sluice on the demo capture in a loop with every detector on, scrapes
/metrics twice, and compares the family names with the document."""
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

BIN = os.environ.get("SLUICE_BINARY", "")
SRC = os.environ.get("SLUICE_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class MetricsDocumented(unittest.TestCase):
    def test_every_family_is_documented(self):
        port = free_port()
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [BIN, "--pcap", os.path.join(SRC, "data", "demo.pcap"), "--pcap-loop",
                   "--rules", os.path.join(SRC, "signatures", "rules", "sluice-default.rules"),
                   "--metrics", f"127.0.0.1:{port}", "--eve", os.path.join(tmp, "eve.json"),
                   "--control", os.path.join(tmp, "ctl.sock"), "--set", "capture.idle-sleep-us=100",
                   "--set", "eve.types=[alert,anomaly,drop,flow,stats,fileinfo,http,dns,tls,smb,modbus,s7comm,dnp3,iec104,enip]"]
            p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                text = ""
                for _ in range(100):
                    time.sleep(0.2)
                    try:
                        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
                        # Detectors' families come with the first detection
                        # snapshot, after the workers' own: wait for them too.
                        if "sluice_worker_packets_total" in text and "sluice_appid_events_total" in text:
                            break
                    except OSError:
                        pass
                self.assertIn("sluice_worker_packets_total", text, "no metrics served")
                self.assertIn("sluice_appid_events_total", text, "no detector metrics served")
            finally:
                p.terminate()
                out, err = p.communicate(timeout=60)
            self.assertEqual(p.returncode, 0, err)
        exported = set(re.findall(r"^# TYPE (\S+) ", text, re.M))
        with open(os.path.join(SRC, "docs", "metrics.md")) as f:
            documented = set(re.findall(r"`((?:sluice|exposer)_[a-z0-9_]+)`", f.read()))
        missing = sorted(exported - documented)
        self.assertFalse(missing, f"exported but not in docs/metrics.md: {missing}")
        self.assertGreater(len(exported), 40)


if __name__ == "__main__":
    if not BIN:
        print("SLUICE_BINARY is not set")
        sys.exit(1)
    unittest.main()
