#!/usr/bin/python3
"""Modbus-heavy capture for bench/ot/ot_bench.py (deterministic for a seed).

Hosts in 198.18.0.0/15: three HMIs (198.18.1.10-12), two engineering
stations (198.18.1.50-51), one host not in the policy (198.18.7.66) and eight
PLCs (198.18.5.20-27, units 1-3). Each connection is a full TCP connection
(handshake, Modbus/TCP transactions, FIN teardown) from a client to a PLC on
port 502, 5-60 transactions long; `--active` connections are open at once and
their packets interleave. A transaction is the request in one segment and the
response in the next, with a delayed pure ACK from the client now and then.

Request mix: HMIs read holding registers (FC 3), input registers (FC 4),
coils (FC 1) and discrete inputs (FC 2) inside the policy's ranges, and
now and then break the policy (a write, a read outside the allowed range, a
read of unit 3); engineering stations read and write (FC 5, 6, 15, 16) on any
unit; the rogue host reads. About 2 % of responses are exceptions.

  gen_modbus_pcap.py --out FILE [--packets N] [--seed S] [--policy FILE]
writes the capture, FILE.meta.json (counts: packets, connections, PDUs,
requests expected to be denied) and, with --policy, the policy file
(docs/ot-policy.md) the benchmark enforces.
"""

import argparse
import json
import os
import random
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import pcapgen  # noqa: E402

HMIS = ["198.18.1.10", "198.18.1.11", "198.18.1.12"]
ENGINEERING = ["198.18.1.50", "198.18.1.51"]
ROGUE = "198.18.7.66"
PLCS = [f"198.18.5.{20 + i}" for i in range(8)]

POLICY = """\
# OT policy of the Modbus benchmark (bench/ot/ot_bench.py): the HMIs may read
# registers and bits in fixed ranges of units 1 and 2, the engineering
# stations may read and write everything; anything else is alerted.
version: 1
default-action: alert
assets:
  hmis: [198.18.1.10, 198.18.1.11, 198.18.1.12]
  engineering: [198.18.1.50, 198.18.1.51]
  plcs: 198.18.5.0/24
zones:
  - name: cell
    addresses: plcs
    action: alert
rules:
  - name: hmi-read-holding
    clients: hmis
    servers: plcs
    protocol: modbus
    functions: read_holding_registers
    units: [1, 2]
    addresses: 0-199
  - name: hmi-read-input
    clients: hmis
    servers: plcs
    protocol: modbus
    functions: read_input_registers
    units: [1, 2]
    addresses: 0-99
  - name: hmi-read-bits
    clients: hmis
    servers: plcs
    protocol: modbus
    functions: [read_coils, read_discrete_inputs]
    units: [1, 2]
    addresses: 0-63
  - name: engineering
    clients: engineering
    servers: plcs
    protocol: modbus
    access: [read, write, diagnostic, other]
"""


def request(rng, role):
    """(function, unit, address, quantity, write_values, denied)"""
    x = rng.random()
    if role == "hmi":
        unit = 1 if rng.random() < 0.6 else 2
        if x < 0.55:
            q = rng.randint(1, 20)
            return 3, unit, rng.randint(0, 200 - q), q, None, False
        if x < 0.72:
            q = rng.randint(1, 10)
            return 4, unit, rng.randint(0, 100 - q), q, None, False
        if x < 0.82:
            q = rng.randint(1, 16)
            return 1, unit, rng.randint(0, 64 - q), q, None, False
        if x < 0.90:
            q = rng.randint(1, 16)
            return 2, unit, rng.randint(0, 64 - q), q, None, False
        if x < 0.94:  # a write from an HMI
            return 6, unit, rng.randint(0, 199), 1, [rng.randint(0, 65535)], True
        if x < 0.97:  # outside the allowed range
            return 3, unit, rng.randint(1000, 1100), rng.randint(1, 10), None, True
        return 3, 3, rng.randint(0, 100), rng.randint(1, 10), None, True  # unit 3
    if role == "engineering":
        unit = rng.randint(1, 3)
        if x < 0.5:
            q = rng.randint(1, 60)
            return 3, unit, rng.randint(0, 1000), q, None, False
        if x < 0.65:
            return 6, unit, rng.randint(0, 999), 1, [rng.randint(0, 65535)], False
        if x < 0.85:
            q = rng.randint(1, 20)
            return 16, unit, rng.randint(0, 999), q, [rng.randint(0, 65535) for _ in range(q)], False
        if x < 0.92:
            return 5, unit, rng.randint(0, 63), 1, [0xFF00 if rng.random() < 0.5 else 0], False
        q = rng.randint(1, 32)
        return 15, unit, rng.randint(0, 63 - 0), q, [rng.randint(0, 1) for _ in range(q)], False
    q = rng.randint(1, 10)  # rogue host: reads, never allowed
    return 3, 1, rng.randint(0, 199), q, None, True


def pdus(rng, fc, addr, qty, values):
    """(request PDU, response PDU) without the MBAP header."""
    if fc in (1, 2, 3, 4):
        req = struct.pack("!BHH", fc, addr, qty)
        if fc in (1, 2):
            data = bytes(rng.getrandbits(8) for _ in range((qty + 7) // 8))
        else:
            data = b"".join(struct.pack("!H", rng.getrandbits(16)) for _ in range(qty))
        resp = struct.pack("!BB", fc, len(data)) + data
    elif fc in (5, 6):
        req = struct.pack("!BHH", fc, addr, values[0])
        resp = req
    elif fc == 16:
        req = struct.pack("!BHHB", fc, addr, qty, 2 * qty) + b"".join(struct.pack("!H", v) for v in values)
        resp = struct.pack("!BHH", fc, addr, qty)
    else:  # 15
        packed = bytearray((qty + 7) // 8)
        for i, v in enumerate(values):
            if v:
                packed[i // 8] |= 1 << (i % 8)
        req = struct.pack("!BHHB", fc, addr, qty, len(packed)) + bytes(packed)
        resp = struct.pack("!BHH", fc, addr, qty)
    if rng.random() < 0.02:
        resp = struct.pack("!BB", fc | 0x80, 2)  # illegal data address
    return req, resp


def connection(w, rng, counts, client, role, server, cport):
    conn = pcapgen.TcpConn(w, client, server, cport, 502, rng.getrandbits(32), rng.getrandbits(32))
    yield from conn.handshake()
    tid = rng.getrandbits(16)
    for _ in range(rng.randint(5, 60)):
        fc, unit, addr, qty, values, denied = request(rng, role)
        req, resp = pdus(rng, fc, addr, qty, values)
        tid = (tid + 1) & 0xFFFF
        counts["requests"] += 1
        counts["denied_expected"] += denied
        yield from conn.send(True, struct.pack("!HHHB", tid, 0, len(req) + 1, unit) + req)
        yield from conn.send(False, struct.pack("!HHHB", tid, 0, len(resp) + 1, unit) + resp)
        counts["responses"] += 1
        if rng.random() < 0.3:
            yield conn.ack(True)
    yield from conn.close()
    counts["connections"] += 1


def generate(out, packets, seed, active=48):
    rng = random.Random(seed)
    w = pcapgen.PcapWriter(out)
    counts = {"connections": 0, "requests": 0, "responses": 0, "denied_expected": 0}
    ports = {}

    def conns():
        while w.packets < packets:
            x = rng.random()
            if x < 0.75:
                client, role = rng.choice(HMIS), "hmi"
            elif x < 0.98:
                client, role = rng.choice(ENGINEERING), "engineering"
            else:
                client, role = ROGUE, "rogue"
            ports[client] = ports.get(client, 49151) % 65535 + 1
            yield connection(w, rng, counts, client, role, rng.choice(PLCS), max(ports[client], 1024))

    pcapgen.interleave(w, rng, conns(), active, gap_us=100)
    w.close()
    meta = dict(counts, packets=w.packets, bytes=w.bytes, seed=seed, pdus=counts["requests"] + counts["responses"])
    with open(out + ".meta.json", "w") as fh:
        json.dump(meta, fh, indent=1)
    return meta


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--packets", type=int, default=600000)
    ap.add_argument("--seed", type=int, default=4009)
    ap.add_argument("--active", type=int, default=48)
    ap.add_argument("--policy")
    a = ap.parse_args()
    if a.policy:
        with open(a.policy, "w") as fh:
            fh.write(POLICY)
    print(json.dumps(generate(a.out, a.packets, a.seed, a.active)))


if __name__ == "__main__":
    main()
