#!/usr/bin/python3
"""The sluice command line through the real binary: --check-rules on good and
bad rule files, --version/--help, mistakes on the command line (exit 2, one
line), and `sluice ctl` when nothing listens. SLUICE_BINARY names the binary."""
import os
import subprocess
import sys
import tempfile
import unittest

BIN = os.environ.get("SLUICE_BINARY", "")
SRC = os.environ.get("SLUICE_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
HERE = os.path.dirname(os.path.abspath(__file__))


def run(*args, timeout=120):
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=timeout)


class CheckRules(unittest.TestCase):
    def test_bundled_rules_are_clean(self):
        r = run("--check-rules", os.path.join(SRC, "signatures", "rules", "sluice-default.rules"))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("12 loaded", r.stdout)

    def test_syntax_error_fails_and_names_file_line_sid(self):
        r = run("--check-rules", os.path.join(HERE, "bad.rules"))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("1 loaded", r.stdout)
        self.assertRegex(r.stdout, r"bad\.rules:3: sid 2: ")
        self.assertRegex(r.stdout, r"bad\.rules:4: sid 3: .*xbits")

    def test_missing_file(self):
        r = run("--check-rules", "/nonexistent/x.rules")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("/nonexistent/x.rules", r.stdout + r.stderr)


class CommandLine(unittest.TestCase):
    def test_version_and_help(self):
        r = run("--version")
        self.assertEqual(r.returncode, 0)
        self.assertIn("sluice", r.stdout)
        r = run("--help")
        self.assertEqual(r.returncode, 0)
        for opt in ("--pcap", "--inline", "--mode", "--workers", "--eve", "--metrics", "--eal", "--rules", "--check-rules"):
            self.assertIn(opt, r.stdout)

    def test_mistakes_exit_2_with_one_line(self):
        for args in (["--workers", "0", "--pcap", "x.pcap"], ["--mode", "ipx"], ["--no-such-option"],
                     ["--pcap", "a.pcap", "--inline", "a,b"], ["--inline", "onlyone"], ["--metrics", "nonsense"]):
            r = run(*args)
            self.assertEqual(r.returncode, 2, f"{args}: {r.stdout}{r.stderr}")
            lines = [l for l in r.stderr.splitlines() if l.strip()]
            self.assertEqual(len(lines), 1, f"{args}: {r.stderr}")
            self.assertNotIn("terminate called", r.stderr)

    def test_ctl_without_a_running_sluice(self):
        with tempfile.TemporaryDirectory() as d:
            r = run("ctl", "--socket", os.path.join(d, "none.sock"), "stats")
            self.assertEqual(r.returncode, 1)
            self.assertIn("cannot connect", r.stderr)


if __name__ == "__main__":
    if not BIN or not os.access(BIN, os.X_OK):
        print("SLUICE_BINARY is not set")
        sys.exit(1)
    unittest.main()
