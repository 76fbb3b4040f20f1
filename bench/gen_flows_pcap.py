#!/usr/bin/python3
"""Writes a capture of IPv4 TCP/UDP packets spread over N distinct 5-tuples,
for the forwarding benchmark (bench/forwarding_bench.py, docs/benchmarks.md).

Packet i belongs to flow i % N, so when the capture is replayed forever
(net_pcap infinite_rx) every flow comes back once per N packets: N flows are
concurrent and every lookup is spread over the whole flow table. Even flows
are TCP (ACK|PSH, picked up midstream, so the flow table tracks them as
established), odd flows UDP. Clients are in 198.18.0.0/16, servers in
198.19.0.0/16 (the RFC 2544 benchmark range); a client address and source
port pair is unique per flow, so up to 2^16 * 60000 flows are distinct.
--first-flow K numbers the file's flows from K: the multi-worker benchmark
writes one file per receive queue with disjoint flows (queue q gets flows
q*N .. q*N+N-1), as symmetric RSS would spread them over a NIC's queues.

Sizes are frame sizes on the wire including the 4-byte FCS, as in RFC 2544:
"64" gives 60-byte frames in the capture (what DPDK counts as pkt_len),
"imix" cycles 64/594/1518 in the 7:4:1 proportion (60/590/1514 in the file).
IP and TCP/UDP checksums are correct, so tshark and scapy read the packets as
valid. Plain struct packing, no scapy: 1M packets take a few seconds.
"""

import argparse
import struct

# 7:4:1, interleaved so that the large frames are spread out.
IMIX_WIRE = [64, 594, 64, 64, 594, 64, 1518, 64, 594, 64, 64, 594]
FCS = 4
CLIENT_NET = (198 << 24) | (18 << 16)
SERVER_NET = (198 << 24) | (19 << 16)
# Ports no protocol decoder claims, and a payload that is no protocol: the
# benchmark measures the base path (decode, flow tracking, verdict, transmit).
SERVER_PORTS = [5001, 5002, 5003, 5004, 5005, 5006, 5007, 5008]


def fold(s):
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def sum16(data):
    if len(data) % 2:
        data = data + b"\0"
    return sum(struct.unpack("!%dH" % (len(data) // 2), data))


def wire_sizes(spec):
    if spec == "imix":
        return IMIX_WIRE
    sizes = [int(x) for x in spec.split(",")]
    for s in sizes:
        if s < 64 or s > 1518:
            raise SystemExit(f"frame size {s} out of 64..1518")
    return sizes


def flow_tuple(f):
    client = CLIENT_NET | (f & 0xFFFF)
    sport = 1024 + (f >> 16)
    server = SERVER_NET | ((f * 40503) & 0xFFFF)
    tcp = f % 2 == 0
    dport = SERVER_PORTS[(f >> 1) % len(SERVER_PORTS)]
    return client, sport, server, dport, tcp


def build(flows, packets, sizes, out, first=0):
    if flows < 1 or first < 0 or first + flows > (1 << 16) * 60000:
        raise SystemExit("flows out of range")
    # Payload bytes and their 16-bit sums, one per frame size and protocol.
    eth = bytes.fromhex("020000000002" "020000000001" "0800")
    payloads = {}
    for wire in set(sizes):
        frame = wire - FCS
        for tcp in (True, False):
            plen = frame - 14 - 20 - (20 if tcp else 8)
            body = bytes((i * 7 + 13) & 0xFF for i in range(plen))
            payloads[(wire, tcp)] = (body, sum16(body))
    seqs = {}
    with open(out, "wb") as fh:
        fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        ts_sec, ts_usec = 1700000000, 0
        for i in range(packets):
            f = first + i % flows
            wire = sizes[i % len(sizes)]
            client, sport, server, dport, tcp = flow_tuple(f)
            body, body_sum = payloads[(wire, tcp)]
            l4_len = (20 if tcp else 8) + len(body)
            ip_len = 20 + l4_len
            proto = 6 if tcp else 17
            ip = struct.pack("!BBHHHBBHII", 0x45, 0, ip_len, i & 0xFFFF, 0x4000, 64, proto, 0, client, server)
            ip = ip[:10] + struct.pack("!H", 0xFFFF - fold(sum16(ip))) + ip[12:]
            pseudo = (client >> 16) + (client & 0xFFFF) + (server >> 16) + (server & 0xFFFF) + proto + l4_len
            if tcp:
                seq = seqs.get(f, (f * 2654435761) & 0xFFFFFFFF)
                seqs[f] = (seq + len(body)) & 0xFFFFFFFF
                hdr = struct.pack("!HHIIBBHHH", sport, dport, seq, 1, 0x50, 0x18, 65535, 0, 0)
                csum = 0xFFFF - fold(pseudo + sum16(hdr) + body_sum)
                hdr = hdr[:16] + struct.pack("!H", csum or 0xFFFF) + hdr[18:]
            else:
                hdr = struct.pack("!HHHH", sport, dport, l4_len, 0)
                csum = 0xFFFF - fold(pseudo + sum16(hdr) + body_sum)
                hdr = hdr[:6] + struct.pack("!H", csum or 0xFFFF)
            frame = eth + ip + hdr + body
            fh.write(struct.pack("<IIII", ts_sec, ts_usec, len(frame), len(frame)))
            fh.write(frame)
            ts_usec += 1
            if ts_usec == 1000000:
                ts_sec, ts_usec = ts_sec + 1, 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--flows", type=int, required=True, help="distinct 5-tuples")
    ap.add_argument("--packets", type=int, help="packets in the file (default: the number of flows)")
    ap.add_argument("--sizes", default="64", help='"64", "imix" or a comma list of wire sizes (64..1518)')
    ap.add_argument("--first-flow", type=int, default=0, help="number of the file's first flow (default 0)")
    ap.add_argument("--out", required=True, help="capture file to write")
    a = ap.parse_args()
    build(a.flows, a.packets or a.flows, wire_sizes(a.sizes), a.out, a.first_flow)


if __name__ == "__main__":
    main()
