#!/usr/bin/python3
"""Learn, then enforce, through the real binary (issue 4 part 5).

For each capture (the synthetic plant cell beside this script, and real ones
from the shared corpus: Zeek's Modbus traces, iti-ics Modbus, S7comm, DNP3,
IEC-104 and EtherNet/IP):
  1. `sluice --pcap CAP --learn L` with 1 and with 2 workers: the two learned
     files are identical (workers learn apart, the management side merges);
  2. `sluice --pcap CAP --policy L`: no alert, no denial, every request allowed.
Then the plant cell: the policy learned from its normal day, enforced on the
day with intruders, alerts on exactly the three requests nobody learned (the
new host's write and read, the HMI's write); after the operator's review
(default-action: drop-flow) an ips run drops both intruding flows.

Environment: SLUICE_BINARY, SLUICE_CORPUS (corpus cases are skipped without it).
"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS_CAPTURES = [
    "zeek/traces/modbus/modbusBig.pcap",
    "zeek/traces/modbus/modbusSmall.pcap",
    "iti-ics/pcaps/ModbusTCP/modbus_test_data_part1.pcap",
    "iti-ics/pcaps/ModbusTCP/modbus_test_data_part2.pcap",
    "iti-ics/pcaps/s7/s7comm_downloading_block_db1.pcap",
    "iti-ics/pcaps/s7/s7comm_reading_plc_status.pcap",
    "iti-ics/pcaps/s7/s7-1200-hmi.pcap",
    "iti-ics/pcaps/dnp3/dnp3_test_data_part1.pcap",
    "iti-ics/pcaps/IEC60870-5-104/TestDissectIec104.pcap",
    "iti-ics/pcaps/EthernetIP/enip_test.pcap",
]


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def sluice(binary, tmp, pcap, *args, workers=1):
    eve = os.path.join(tmp, "eve.json")
    if os.path.exists(eve):
        os.remove(eve)
    cmd = [binary, "--pcap", pcap, "--eve", eve, "--workers", str(workers), "--no-metrics",
           "--control", os.path.join(tmp, "ctl.sock"), *args]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        fail(f"exit {r.returncode}: {' '.join(cmd)}\n{r.stdout}\n{r.stderr}")
    events = [json.loads(l) for l in open(eve) if l.strip()]
    stats = [e for e in events if e["event_type"] == "stats"]
    if not stats:
        fail(f"no stats event: {' '.join(cmd)}")
    return events, stats[-1]["stats"]


def learn_enforce(binary, tmp, pcap, name):
    learned = {}
    for w in (1, 2):
        path = os.path.join(tmp, f"learned-{w}.yaml")
        _, stats = sluice(binary, tmp, pcap, "--learn", path, workers=w)
        learned[w] = open(path).read()
        requests = stats["ot_policy"]["requests"]
        if stats["ot_policy"]["learned"] != requests:
            fail(f"{name}: {requests} requests but {stats['ot_policy']['learned']} learned ({w} workers)")
    if learned[1] != learned[2]:
        fail(f"{name}: the policy learned with 2 workers differs from 1 worker's:\n{learned[1]}\n---\n{learned[2]}")
    if requests == 0:
        fail(f"{name}: no OT request seen")
    events, stats = sluice(binary, tmp, pcap, "--policy", os.path.join(tmp, "learned-1.yaml"))
    alerts = [e for e in events if e["event_type"] == "alert"]
    op = stats["ot_policy"]
    if alerts or op["denied"] or op["allowed"] != op["requests"] or op["requests"] != requests:
        fail(f"{name}: the learned policy does not allow its own traffic: {len(alerts)} alerts, stats {op}\n"
             + "\n".join(a["alert"]["signature"] for a in alerts[:5]))
    rules = learned[1].count("- name: learned-")
    print(f"ok: {name}: {requests} requests learned into {rules} rules; enforced: all allowed")
    return os.path.join(tmp, "learned-1.yaml")


def main():
    binary = os.environ.get("SLUICE_BINARY")
    if not binary or not os.access(binary, os.X_OK):
        fail("SLUICE_BINARY is not set to the sluice binary")
    corpus = os.environ.get("SLUICE_CORPUS", "")
    with tempfile.TemporaryDirectory(prefix="sluice-otlearn-") as tmp:
        plant = learn_enforce(binary, tmp, os.path.join(HERE, "plant_modbus.pcap"), "plant_modbus.pcap")
        policy = os.path.join(tmp, "plant.yaml")
        os.rename(plant, policy)
        intruder = os.path.join(HERE, "plant_modbus_intruder.pcap")
        events, stats = sluice(binary, tmp, intruder, "--policy", policy)
        got = sorted(e["alert"]["signature"] for e in events if e["event_type"] == "alert")
        want = sorted([
            "OT policy: modbus write_single_register from 198.18.5.99 to 198.18.5.20 unit 1 address 10 not allowed",
            "OT policy: modbus read_holding_registers from 198.18.5.99 to 198.18.5.20 unit 1 address 0-9 not allowed",
            "OT policy: modbus write_single_register from 198.18.5.10 to 198.18.5.20 unit 1 address 11 not allowed",
        ])
        if got != want:
            fail(f"learned plant policy on the intruders' day: alerts {got}, expected {want}")
        if stats["verdict"]["would_drop"] != 0:
            fail(f"default-action alert must not drop: {stats['verdict']}")
        print("ok: plant: the learned policy alerts on the 3 requests nobody learned")
        # The operator's review: enforce inline.
        text = open(policy).read()
        if "default-action: alert\n" not in text:
            fail("the learned policy has no default-action line")
        with open(policy, "w") as f:
            f.write(text.replace("default-action: alert\n", "default-action: drop-flow\n"))
        events, stats = sluice(binary, tmp, intruder, "--policy", policy, "--mode", "ips", "--set", "capture.burst=1")
        drops = sorted((e["src_ip"], e["src_port"]) for e in events if e["event_type"] == "drop")
        if drops != [("198.18.5.10", 41001), ("198.18.5.99", 44000)]:
            fail(f"ips with the reviewed policy: drop events {drops}")
        if stats["verdict"]["drop_reasons"] != {"policy": 2, "flow": 12}:
            fail(f"ips with the reviewed policy: {stats['verdict']}")
        print("ok: plant: reviewed to drop-flow, ips drops both intruding flows")

        if not corpus or not os.path.isdir(corpus):
            print("SKIP: corpus captures (SLUICE_CORPUS not available)")
            return
        for rel in CORPUS_CAPTURES:
            path = os.path.join(corpus, rel)
            if not os.path.exists(path):
                print(f"skip: {rel} not in the corpus")
                continue
            learn_enforce(binary, tmp, path, rel)


if __name__ == "__main__":
    main()
