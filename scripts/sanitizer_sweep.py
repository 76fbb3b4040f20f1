#!/usr/bin/python3
"""Every capture of the shared corpus through a sanitizer-built sluice.

Usage: scripts/sanitizer_sweep.py BINARY CORPUS OUTDIR [EXTRA SLUICE ARGS...]

Runs BINARY (sluice built with ASan+UBSan, see scripts/sanitizer-sweep.sh) on
each .pcap/.pcapng/.cap under CORPUS, ids mode, every EVE type on, with the
rule files (*.rules) found beside the capture (suricata-verify's cases bring
their own, hostile ones included). A run whose stderr holds a sanitizer report,
that dies of a signal or that takes over 300 s is a finding: its stderr goes to
OUTDIR/<capture path>.txt. Exit status 1 when there is any. JOBS=N runs N at
once (default 2).
"""
import concurrent.futures as cf
import os
import pathlib
import subprocess
import sys
import tempfile

EVE_TYPES = "[alert, anomaly, flow, stats, fileinfo, drop, http, dns, tls, smb, modbus, s7comm, dnp3, iec104, enip]"
REPORTS = ("AddressSanitizer", "LeakSanitizer", "runtime error:")


def run(binary, cap, i, extra):
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [binary, "--pcap", str(cap), "--eve", f"{tmp}/eve.json", "--no-metrics", "--control", "",
               "--log-level", "warning", "--set", "capture.mbufs=2048", "--set", f"eve.types={EVE_TYPES}",
               f"--eal=--no-pci --no-huge -m 128 --file-prefix=sweep{os.getpid()}x{i} --log-level=error"]
        for r in sorted(cap.parent.glob("*.rules")):
            cmd += ["--rules", str(r)]
        cmd += extra
        env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
                   UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=0")
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=300, env=env, cwd=tmp)
        except subprocess.TimeoutExpired:
            return "timeout", ""
        if r.returncode < 0 or any(s in r.stderr for s in REPORTS):
            return f"exit {r.returncode}", r.stderr
        return f"exit {r.returncode}", None


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    binary, corpus, out = sys.argv[1], pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3])
    extra = sys.argv[4:]
    out.mkdir(parents=True, exist_ok=True)
    caps = sorted(p for p in corpus.rglob("*") if p.suffix in (".pcap", ".pcapng", ".cap") and p.is_file())
    findings = 0
    exits = {}
    with cf.ThreadPoolExecutor(int(os.environ.get("JOBS", "2"))) as ex:
        futures = {ex.submit(run, binary, cap, i, extra): cap for i, cap in enumerate(caps)}
        for fut in cf.as_completed(futures):
            cap = futures[fut]
            status, report = fut.result()
            exits[status] = exits.get(status, 0) + 1
            if report is not None or status == "timeout":
                findings += 1
                name = str(cap.relative_to(corpus)).replace("/", "__")
                (out / f"{name}.txt").write_text(f"{status}\n{report or ''}")
                print(f"FINDING ({status}): {cap}", flush=True)
    print(f"{len(caps)} captures, {findings} findings; exits: {dict(sorted(exits.items()))}")
    sys.exit(1 if findings else 0)


if __name__ == "__main__":
    main()
