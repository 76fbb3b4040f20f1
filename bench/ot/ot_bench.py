#!/usr/bin/python3
"""OT benchmark of issue 4 part 9: per-core throughput of one sluice worker on
a Modbus-heavy capture (many connections, many small PDUs) with
classification (nDPI), OT decoding and the OT policy ON, against the same
capture with all three OFF, in the same run (docs/benchmarks.md).

Configurations (same capture, same binary, one worker, ids mode):
  off       appid.enabled=false ot.enabled=false               (no policy)
  on        appid.enabled=true  ot.enabled=true  ot-policy.file=POLICY
and with --breakdown (default) two more to see where the cost goes:
  appid     appid.enabled=true  ot.enabled=false
  decode    appid.enabled=true  ot.enabled=true                (no policy)

The capture and policy are made by gen_modbus_pcap.py (deterministic seed)
and cached in --data-dir (/var/tmp/sluice-bench). Runs are interleaved
(pcap_bench.py); the headline is the median over repetitions of the ratio
on/off of packets per worker CPU-second. Goal: on/off >= 0.70.

  bench/ot/ot_bench.py --sluice build/app/sluice [--repeats 5] [--packets 600000] [--perf]
Writes bench/results/ot-<date>.json unless --out says otherwise.
"""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import pcap_bench  # noqa: E402

GOAL = 0.70


def main():
    ap = pcap_bench.argument_parser(__doc__)
    ap.add_argument("--packets", type=int, default=600000)
    ap.add_argument("--seed", type=int, default=4009)
    ap.add_argument("--no-breakdown", action="store_true", help="measure only on and off")
    a = pcap_bench.parse_arguments(ap)

    os.makedirs(a.data_dir, exist_ok=True)
    pcap = os.path.join(a.data_dir, f"modbus-{a.packets}-s{a.seed}.pcap")
    policy = os.path.join(a.data_dir, "modbus-bench-policy.yaml")
    if not os.path.exists(pcap + ".meta.json"):
        pcap_bench.log(f"generating {pcap}")
        subprocess.run([sys.executable, os.path.join(HERE, "gen_modbus_pcap.py"), "--out", pcap, "--packets",
                        str(a.packets), "--seed", str(a.seed), "--policy", policy], check=True)
    elif not os.path.exists(policy):
        subprocess.run([sys.executable, os.path.join(HERE, "gen_modbus_pcap.py"), "--out", os.devnull + ".x",
                        "--packets", "0", "--policy", policy], check=False)
    with open(pcap + ".meta.json") as fh:
        meta = json.load(fh)
    with open(policy) as fh:
        policy_text = fh.read()

    base = list(a.set)
    configs = [("off", base + ["appid.enabled=false", "ot.enabled=false"]),
               ("on", base + ["appid.enabled=true", "ot.enabled=true", f"ot-policy.file={policy}"])]
    if not a.no_breakdown:
        configs += [("appid", base + ["appid.enabled=true", "ot.enabled=false"]),
                    ("decode", base + ["appid.enabled=true", "ot.enabled=true"])]
    host = pcap_bench.host_info()
    pcap_bench.log(f"capture {pcap}: {meta['packets']} packets, {meta['connections']} connections, "
                   f"{meta['pdus']} Modbus PDUs; {a.repeats} repeats of {', '.join(c for c, _ in configs)}")
    workdir = os.path.join(a.data_dir, "ot-run")
    perf_dir = (a.perf_dir or os.path.join(pcap_bench.REPO, "build-bench-perf", "ot")) if a.perf else None
    runs = pcap_bench.interleaved(a.sluice, pcap, configs, a.repeats, workdir, perf_dir)

    for label, rs in runs.items():
        for r in rs:
            r["pdus_per_core"] = meta["pdus"] / r["worker_cpu_s"]
    summary = {}
    for label, rs in runs.items():
        summary[label] = {k: pcap_bench.summarise([r[k] for r in rs])
                          for k in ("pps_per_core", "mbps_per_core", "pdus_per_core", "pps_wall", "worker_cpu_s",
                                    "worker_cpu_share")}
    ratio = {f"{l}/off": pcap_bench.summarise(pcap_bench.ratios(runs, l, "off")) for l in runs if l != "off"}
    alerts_on = [r["events"].get("alert", 0) for r in runs["on"]]
    on_median = ratio["on/off"]["median"]
    met = on_median >= GOAL

    print(f"\nModbus capture: {meta['packets']} packets, {meta['bytes']} bytes, {meta['connections']} connections, "
          f"{meta['pdus']} PDUs ({meta['requests']} requests, {meta['denied_expected']} not allowed by the policy)")
    print(f"{'config':>8} | {'kpps/core':>10} {'Mbit/s/core':>12} {'kPDU/s/core':>12} | {'spread':>7} | "
          f"{'ratio/off':>9} {'min':>6} {'max':>6} | {'kpps wall':>9}")
    for label in runs:
        s = summary[label]
        rr = ratio.get(f"{label}/off")
        rtxt = f"{rr['median']:9.3f} {rr['min']:6.3f} {rr['max']:6.3f}" if rr else f"{'1':>9} {'':6} {'':6}"
        print(f"{label:>8} | {s['pps_per_core']['median'] / 1e3:10.1f} {s['mbps_per_core']['median']:12.1f} "
              f"{s['pdus_per_core']['median'] / 1e3:12.1f} | {s['pps_per_core']['spread_pct']:6.1f}% | {rtxt} | "
              f"{s['pps_wall']['median'] / 1e3:9.1f}")
    print(f"policy alerts per ON run: {sorted(set(alerts_on))} (requests not allowed: {meta['denied_expected']})")
    print(f"goal: on/off >= {GOAL} (classification + OT decoding + policy cost under 30%): "
          f"{'met' if met else 'NOT met'} (median {on_median:.3f}, min {ratio['on/off']['min']:.3f}, "
          f"max {ratio['on/off']['max']:.3f})")

    doc = {"benchmark": "ot", "issue": "4 part 9", "host": host, "sluice": os.path.abspath(a.sluice),
           "capture": dict(meta, path=pcap), "policy": policy_text,
           "method": {"runner": "sluice --pcap, 1 worker, ids mode; figure = packets / worker lcore CPU seconds",
                      "repeats": a.repeats, "interleaved": True},
           "configs": {l: s for l, s in configs}, "goal": {"ratio_on_off": GOAL, "met": met},
           "summary": summary, "ratios": ratio, "runs": runs}
    out = pcap_bench.write_json(doc, a.out, "ot")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
