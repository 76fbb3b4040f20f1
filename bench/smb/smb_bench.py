#!/usr/bin/python3
"""SMB benchmark of issue 5 part 8 (worker side): per-core throughput of one
sluice worker on an SMB-heavy capture (SMB1 and SMB2 sessions uploading and
downloading files of mixed sizes) with SMB file extraction ON against the
same capture with SMB OFF, in the same run (docs/benchmarks.md). The scanner
side (ScanService against clamscan) is bench/malware/bench_malware_scan.

Configurations (same capture, same binary, one worker, ids mode, nDPI on in all):
  off       smb.enabled=false
  decode    smb.enabled=true  smb.file.enabled=false        (SMB decoded and logged, no file content)
  extract   smb.enabled=true  smb.file.enabled=true         (every file carved, SHA-256, fileinfo events)
  scan      extract + malware.db-dir=DIR (ClamAV's test signature, corpus clamav/clamav.hdb): every
            file also handed to the scanner thread; the worker's own cost is what is measured
The headline is the median over repetitions of extract/off (packets per
worker CPU-second); scan/off is reported beside it. Goal: extract/off >= 0.90.

The capture is made by gen_smb_pcap.py (deterministic seed) and cached in
--data-dir (/var/tmp/sluice-bench). The extract runs are checked: every file
of the capture must appear in a fileinfo event with its SHA-256.

  bench/smb/smb_bench.py --sluice build/app/sluice [--repeats 5] [--mbytes 300] [--perf]
Writes bench/results/smb-<date>.json unless --out says otherwise.
"""

import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import pcap_bench  # noqa: E402

GOAL = 0.90


def check_files(eve, meta):
    """(files in fileinfo events with the right SHA-256, files expected)."""
    want = {v["sha256"] for v in meta["files_sha256"].values()}
    seen = set()
    try:
        with open(eve) as fh:
            for line in fh:
                if '"fileinfo"' not in line:
                    continue
                ev = json.loads(line)
                sha = ev.get("fileinfo", {}).get("sha256")
                if sha in want:
                    seen.add(sha)
    except OSError:
        pass
    return len(seen), len(want)


def main():
    ap = pcap_bench.argument_parser(__doc__)
    ap.add_argument("--mbytes", type=int, default=300, help="capture size in MiB of frames")
    ap.add_argument("--seed", type=int, default=5008)
    ap.add_argument("--corpus", default=os.environ.get("SLUICE_CORPUS",
                                                       os.path.join(pcap_bench.REPO, "..", "shared", "corpus")))
    ap.add_argument("--no-scan", action="store_true", help="leave out the scan configuration")
    ap.add_argument("--variant", action="append", default=[], metavar="LABEL:KEY=VALUE[,KEY=VALUE...]",
                    help="one more extract configuration with these keys (for experiments; checked like extract)")
    a = pcap_bench.parse_arguments(ap)

    os.makedirs(a.data_dir, exist_ok=True)
    pcap = os.path.join(a.data_dir, f"smb-{a.mbytes}M-s{a.seed}.pcap")
    if not os.path.exists(pcap + ".meta.json"):
        pcap_bench.log(f"generating {pcap}")
        subprocess.run([sys.executable, os.path.join(HERE, "gen_smb_pcap.py"), "--out", pcap, "--bytes",
                        str(a.mbytes << 20), "--seed", str(a.seed)], check=True)
    with open(pcap + ".meta.json") as fh:
        meta = json.load(fh)

    workdir = os.path.join(a.data_dir, "smb-run")
    base = list(a.set)
    configs = [("off", base + ["smb.enabled=false"]),
               ("decode", base + ["smb.enabled=true", "smb.file.enabled=false"]),
               ("extract", base + ["smb.enabled=true", "smb.file.enabled=true"])]
    for v in a.variant:
        label, _, kvs = v.partition(":")
        configs.append((label, base + ["smb.enabled=true", "smb.file.enabled=true"] + [kv for kv in kvs.split(",") if kv]))
    db = None
    if not a.no_scan:
        hdb = os.path.join(a.corpus, "clamav", "clamav.hdb")
        if os.path.exists(hdb):
            db = os.path.join(workdir, "clamdb")
            os.makedirs(db, exist_ok=True)
            shutil.copy(hdb, db)
            configs.append(("scan", base + ["smb.enabled=true", "smb.file.enabled=true", f"malware.db-dir={db}"]))
        else:
            pcap_bench.log(f"no {hdb}: scan configuration left out")
    host = pcap_bench.host_info()
    pcap_bench.log(f"capture {pcap}: {meta['packets']} packets, {meta['bytes']} bytes, {meta['connections']} "
                   f"connections ({meta['smb1_connections']} SMB1, {meta['smb2_connections']} SMB2), {meta['files']} "
                   f"files, {meta['file_bytes']} file bytes; {a.repeats} repeats of {', '.join(c for c, _ in configs)}")
    perf_dir = (a.perf_dir or os.path.join(pcap_bench.REPO, "build-bench-perf", "smb")) if a.perf else None
    runs = pcap_bench.interleaved(a.sluice, pcap, configs, a.repeats, workdir, perf_dir)
    # The last extract run's events are still there: check the carving.
    carved, expected = check_files(os.path.join(workdir, "eve-extract.json"), meta)
    variant_carved = {label: check_files(os.path.join(workdir, f"eve-{label}.json"), meta)[0]
                      for label, _ in configs[3:] if label != "scan"}

    for rs in runs.values():
        for r in rs:
            r["file_mbps_per_core"] = meta["file_bytes"] * 8 / r["worker_cpu_s"] / 1e6
    summary = {}
    for label, rs in runs.items():
        summary[label] = {k: pcap_bench.summarise([r[k] for r in rs])
                          for k in ("pps_per_core", "mbps_per_core", "file_mbps_per_core", "pps_wall", "worker_cpu_s",
                                    "worker_cpu_share")}
    ratio = {f"{l}/off": pcap_bench.summarise(pcap_bench.ratios(runs, l, "off")) for l in runs if l != "off"}
    med = ratio["extract/off"]["median"]
    met = med >= GOAL

    print(f"\nSMB capture: {meta['packets']} packets, {meta['bytes']} bytes, {meta['connections']} connections "
          f"({meta['smb1_connections']} SMB1, {meta['smb2_connections']} SMB2), {meta['files']} files of "
          f"{meta['file_bytes']} bytes")
    print(f"{'config':>8} | {'kpps/core':>10} {'Mbit/s/core':>12} | {'spread':>7} | {'ratio/off':>9} {'min':>6} "
          f"{'max':>6} | {'kpps wall':>9}")
    for label in runs:
        s = summary[label]
        rr = ratio.get(f"{label}/off")
        rtxt = f"{rr['median']:9.3f} {rr['min']:6.3f} {rr['max']:6.3f}" if rr else f"{'1':>9} {'':6} {'':6}"
        print(f"{label:>8} | {s['pps_per_core']['median'] / 1e3:10.1f} {s['mbps_per_core']['median']:12.1f} | "
              f"{s['pps_per_core']['spread_pct']:6.1f}% | {rtxt} | {s['pps_wall']['median'] / 1e3:9.1f}")
    print(f"files carved with the right SHA-256 (last extract run): {carved} of {expected}")
    for label, n in variant_carved.items():
        print(f"files carved with the right SHA-256 (last {label} run): {n} of {expected}")
    if "scan" in runs:
        print(f"fileinfo/alert events per scan run: {sorted(set((r['events'].get('fileinfo', 0), r['events'].get('alert', 0)) for r in runs['scan']))}")
    print(f"goal: extract/off >= {GOAL} (SMB extraction keeps 90% of the worker's throughput): "
          f"{'met' if met else 'NOT met'} (median {med:.3f}, min {ratio['extract/off']['min']:.3f}, "
          f"max {ratio['extract/off']['max']:.3f})")

    meta_out = {k: v for k, v in meta.items() if k != "files_sha256"}
    doc = {"benchmark": "smb", "issue": "5 part 8", "host": host, "sluice": os.path.abspath(a.sluice),
           "capture": dict(meta_out, path=pcap),
           "method": {"runner": "sluice --pcap, 1 worker, ids mode; figure = packets / worker lcore CPU seconds",
                      "repeats": a.repeats, "interleaved": True, "clamav_db": db},
           "configs": {l: s for l, s in configs}, "goal": {"ratio_extract_off": GOAL, "met": met},
           "carving_check": {"files_with_sha256": carved, "files": expected, "variants": variant_carved},
           "summary": summary, "ratios": ratio, "runs": runs}
    out = pcap_bench.write_json(doc, a.out, "smb")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
