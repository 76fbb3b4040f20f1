#!/usr/bin/python3
"""Runs one capture case through the real sluice binary and checks what it
must produce (DESIGN habit 8: captures are the main tests).

A case is a JSON file next to its capture:
  {
    "description": "...",
    "pcap": "name.pcap" | "corpus:<path under SLUICE_CORPUS>",
    "rules": ["test.rules"],              rule files (next to the case, or "corpus:...",
                                          or "bundled:<name>" under signatures/rules)
    "args": ["--mode", "ips"],            extra command-line arguments
                                          ("{case_dir}" stands for the case's folder)
    "config": "yaml text",                optional configuration file contents
    "workers": [1, 2],                    run once per count; events must not differ
    "volatile": ["scan_time_us"],         keys (at any depth) that measure time, left out of that comparison
    "expect": {
      "exit": 0,
      "counts": {"flow": 9, "alert": 0},  exact number of events per event_type
      "events": [{"event_type": "flow", "src_port": 40001, "flow.pkts_toserver": 4, "count": 1}],
                                          each must match exactly "count" events (default: at least one)
      "no_events": [{...}],               none may match
      "stats": {"decoder.pkts": 38},      fields of the final stats event
      "tshark": ["packets", "tcp_flows", "udp_flows"],  equal to what tshark counts
      "output": "identical" | {"drop_ports": [8081]} | {"count": 8} |
                {"drop_flow_from": {"port": 8081, "packet": 5}}
                                          the written capture: the input, the input without
                                          packets to/from those ports, that many packets, or
                                          the input without that flow's packets from the n-th on
      "stdout": ["text", ...], "stderr": ["text", ...]   substrings that must appear
    }
  }
Environment: SLUICE_BINARY (the binary), SLUICE_CORPUS (the shared corpus).
"""
import json
import os
import subprocess
import sys
import tempfile


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def skip(msg):
    print("SKIP:", msg)
    sys.exit(77)


def lookup(event, dotted):
    cur = event
    for part in dotted.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return KeyError
        cur = cur[part]
    return cur


def matches(event, pattern):
    return all(lookup(event, k) == v for k, v in pattern.items() if k != "count")


def read_packets(path):
    """Raw frame bytes of a capture (pcap or pcapng), via scapy."""
    import scapy.all  # noqa: F401 (registers the link layers)
    from scapy.utils import PcapReader
    with PcapReader(path) as r:
        return [bytes(p) for p in r]


def ports_of(frame):
    from scapy.all import Ether, IP, IPv6, TCP, UDP
    p = Ether(frame)
    for layer in (TCP, UDP):
        if layer in p:
            return {p[layer].sport, p[layer].dport}
    return set()


def tshark_counts(pcap):
    out = {}
    r = subprocess.run(["tshark", "-r", pcap, "-T", "fields", "-e", "frame.number"], capture_output=True, text=True)
    out["packets"] = len([l for l in r.stdout.splitlines() if l.strip()])
    for proto in ("tcp", "udp"):
        r = subprocess.run(["tshark", "-r", pcap, "-q", "-z", "conv," + proto], capture_output=True, text=True)
        out[proto + "_flows"] = sum(1 for l in r.stdout.splitlines() if "<->" in l)
    return out


def without_keys(value, keys):
    if isinstance(value, dict):
        return {k: without_keys(v, keys) for k, v in value.items() if k not in keys}
    if isinstance(value, list):
        return [without_keys(v, keys) for v in value]
    return value


def normalized(events, volatile=()):
    """Events that must be identical for any number of workers (stats excluded,
    and the case's volatile keys: measured times)."""
    return sorted(json.dumps(without_keys(e, set(volatile)), sort_keys=True) for e in events
                  if e.get("event_type") != "stats")


def run(case, case_dir, binary, workers, tmp):
    pcap = case["pcap"]
    if pcap.startswith("corpus:"):
        corpus = os.environ.get("SLUICE_CORPUS", "")
        if not corpus or not os.path.isdir(corpus):
            skip("corpus not available (SLUICE_CORPUS)")
        pcap = os.path.join(corpus, pcap[len("corpus:"):])
    else:
        pcap = os.path.join(case_dir, pcap)
    eve = os.path.join(tmp, f"eve-{workers}.json")
    out_pcap = os.path.join(tmp, f"out-{workers}.pcap")
    cmd = [binary, "--pcap", pcap, "--eve", eve, "--workers", str(workers), "--no-metrics",
           "--control", os.path.join(tmp, "ctl.sock")]
    expect = case.get("expect", {})
    if "output" in expect:
        cmd += ["--write-pcap", out_pcap]
    if "config" in case:
        cfg = os.path.join(tmp, "sluice.yaml")
        with open(cfg, "w") as f:
            f.write(case["config"])
        cmd += ["--config", cfg]
    for rf in case.get("rules", []):
        if rf.startswith("corpus:"):
            rf = os.path.join(os.environ.get("SLUICE_CORPUS", ""), rf[len("corpus:"):])
        elif rf.startswith("bundled:"):
            rf = os.path.join(os.environ.get("SLUICE_SOURCE_ROOT", ""), "signatures", "rules", rf[len("bundled:"):])
        else:
            rf = os.path.join(case_dir, rf)
        cmd += ["--rules", rf]
    cmd += [a.replace("{case_dir}", case_dir) for a in case.get("args", [])]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if r.returncode != expect.get("exit", 0):
        fail(f"exit {r.returncode}, expected {expect.get('exit', 0)}\ncmd: {' '.join(cmd)}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}")
    for s in expect.get("stdout", []):
        if s not in r.stdout:
            fail(f"stdout lacks {s!r}:\n{r.stdout}")
    for s in expect.get("stderr", []):
        if s not in r.stderr:
            fail(f"stderr lacks {s!r}:\n{r.stderr}")
    events = []
    if os.path.exists(eve):
        with open(eve) as f:
            for n, line in enumerate(f, 1):
                try:
                    events.append(json.loads(line))
                except json.JSONDecodeError as e:
                    fail(f"{eve}:{n}: not JSON ({e}): {line[:200]}")
    return pcap, events, out_pcap, r


def check(case, pcap, events, out_pcap):
    expect = case.get("expect", {})
    by_type = {}
    for e in events:
        by_type[e.get("event_type")] = by_type.get(e.get("event_type"), 0) + 1
        for k in ("timestamp", "event_type"):
            if k not in e:
                fail(f"event without {k}: {e}")
    for t, n in expect.get("counts", {}).items():
        if by_type.get(t, 0) != n:
            fail(f"{by_type.get(t, 0)} {t} events, expected {n}; all counts: {by_type}")
    for pattern in expect.get("events", []):
        hits = [e for e in events if matches(e, pattern)]
        want = pattern.get("count")
        if (want is None and not hits) or (want is not None and len(hits) != want):
            near = [e for e in events if e.get("event_type") == pattern.get("event_type")][:5]
            fail(f"{len(hits)} events match {pattern}, expected {want or '>= 1'}; some of that type:\n" +
                 "\n".join(json.dumps(e) for e in near))
    for pattern in expect.get("no_events", []):
        hits = [e for e in events if matches(e, pattern)]
        if hits:
            fail(f"unexpected event matching {pattern}: {json.dumps(hits[0])}")
    stats = [e for e in events if e.get("event_type") == "stats"]
    if expect.get("stats"):
        if not stats:
            fail("no stats event")
        last = stats[-1]["stats"]
        for k, v in expect["stats"].items():
            got = lookup(last, k)
            if got != v:
                fail(f"stats.{k} = {got}, expected {v}")
    if expect.get("tshark"):
        ts = tshark_counts(pcap)
        last = stats[-1]["stats"] if stats else {}
        ours = {"packets": lookup(last, "decoder.pkts"), "tcp_flows": lookup(last, "flow.tcp"), "udp_flows": lookup(last, "flow.udp")}
        for k in expect["tshark"]:
            if ours[k] != ts[k]:
                fail(f"{k}: sluice counted {ours[k]}, tshark counts {ts[k]}")
    out = expect.get("output")
    if out:
        inp = read_packets(pcap)
        got = read_packets(out_pcap)
        if out == "identical":
            want = inp
        elif "count" in out:
            if len(got) != out["count"]:
                fail(f"written capture has {len(got)} packets, expected {out['count']}")
            want = got
        elif "drop_flow_from" in out:
            # The flow using that port loses its packets from the n-th on (1-based).
            port, first = out["drop_flow_from"]["port"], out["drop_flow_from"]["packet"]
            want, n = [], 0
            for p in inp:
                if port in ports_of(p):
                    n += 1
                    if n >= first:
                        continue
                want.append(p)
        else:
            drop = set(out.get("drop_ports", []))
            want = [p for p in inp if not (ports_of(p) & drop)]
        if got != want:
            first = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
            fail(f"written capture differs: {len(got)} packets, expected {len(want)}; first difference at packet {first}")


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    case_path = os.path.abspath(sys.argv[1])
    binary = os.environ.get("SLUICE_BINARY")
    if not binary or not os.access(binary, os.X_OK):
        fail("SLUICE_BINARY is not set to the sluice binary")
    with open(case_path) as f:
        case = json.load(f)
    baseline = None
    with tempfile.TemporaryDirectory(prefix="sluice-case-") as tmp:
        for workers in case.get("workers", [1]):
            pcap, events, out_pcap, _ = run(case, os.path.dirname(case_path), binary, workers, tmp)
            check(case, pcap, events, out_pcap)
            norm = normalized(events, case.get("volatile", []))
            if baseline is None:
                baseline = (workers, norm)
            elif norm != baseline[1]:
                diff = set(norm) ^ set(baseline[1])
                fail(f"events with {workers} workers differ from {baseline[0]} worker(s):\n" + "\n".join(list(diff)[:6]))
    print("ok:", case.get("description", os.path.basename(case_path)))


if __name__ == "__main__":
    main()
