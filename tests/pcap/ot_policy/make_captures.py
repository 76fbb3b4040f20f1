#!/usr/bin/python3
"""Generates the synthetic Modbus/TCP captures of the OT policy cases
(committed; re-run to regenerate them byte for byte: times and payloads fixed).

plant_modbus.pcap: a cell's normal day. Two HMIs (198.18.5.10, .12) read
holding registers 0-9 and 100-119 of unit 1 from the PLC 198.18.5.20; the
engineering station 198.18.5.11 reads 0-9, writes register 10 and registers
20-21, and asks the diagnostics echo (subfunction 0, no address).

plant_modbus_intruder.pcap: the same day plus two writes nobody learned: a
new host 198.18.5.99 writes register 10, then the HMI 198.18.5.10 writes
register 11 on a connection of its own; both connections go on with a read
after the write (which an ips drops with the flow).

Addresses only from 198.18.0.0/15. Run: /usr/bin/python3 tests/pcap/ot_policy/make_captures.py
"""
import os
import struct

from scapy.all import IP, TCP, Ether, Raw, wrpcap

HERE = os.path.dirname(os.path.abspath(__file__))
T0 = 1700000000.0
PLC = "198.18.5.20"
MACS = {"198.18.5.10": "02:00:00:00:05:10", "198.18.5.11": "02:00:00:00:05:11", "198.18.5.12": "02:00:00:00:05:12",
        "198.18.5.20": "02:00:00:00:05:20", "198.18.5.99": "02:00:00:00:05:99"}


class Clock:
    def __init__(self, start=T0):
        self.t = start

    def stamp(self, pkt, dt=0.001):
        self.t += dt
        pkt.time = self.t
        return pkt


def mbap(tid, unit, pdu):
    return struct.pack(">HHHB", tid, 0, len(pdu) + 1, unit) + pdu


def read_hr(tid, addr, qty, unit=1):
    req = mbap(tid, unit, struct.pack(">BHH", 3, addr, qty))
    resp = mbap(tid, unit, struct.pack(">BB", 3, 2 * qty) + b"".join(struct.pack(">H", addr + i) for i in range(qty)))
    return req, resp


def write_reg(tid, addr, value, unit=1):
    req = mbap(tid, unit, struct.pack(">BHH", 6, addr, value))
    return req, req  # the echo


def write_regs(tid, addr, values, unit=1):
    body = b"".join(struct.pack(">H", v) for v in values)
    req = mbap(tid, unit, struct.pack(">BHHB", 16, addr, len(values), len(body)) + body)
    resp = mbap(tid, unit, struct.pack(">BHH", 16, addr, len(values)))
    return req, resp


def echo(tid, unit=1):
    req = mbap(tid, unit, struct.pack(">BHH", 8, 0, 0xA5A5))
    return req, req


def session(clk, client, sport, exchanges):
    """A TCP connection to the PLC's port 502: handshake, request/response pairs, FIN."""
    mc, ms = MACS[client], MACS[PLC]
    cs = lambda: Ether(src=mc, dst=ms) / IP(src=client, dst=PLC)
    sc = lambda: Ether(src=ms, dst=mc) / IP(src=PLC, dst=client)
    c_seq, s_seq = 1000 + sport, 9000 + sport
    out = [clk.stamp(cs() / TCP(sport=sport, dport=502, flags="S", seq=c_seq)),
           clk.stamp(sc() / TCP(sport=502, dport=sport, flags="SA", seq=s_seq, ack=c_seq + 1)),
           clk.stamp(cs() / TCP(sport=sport, dport=502, flags="A", seq=c_seq + 1, ack=s_seq + 1))]
    c_seq += 1
    s_seq += 1
    for req, resp in exchanges:
        out.append(clk.stamp(cs() / TCP(sport=sport, dport=502, flags="PA", seq=c_seq, ack=s_seq) / Raw(req), 0.01))
        c_seq += len(req)
        out.append(clk.stamp(sc() / TCP(sport=502, dport=sport, flags="PA", seq=s_seq, ack=c_seq) / Raw(resp)))
        s_seq += len(resp)
    out.append(clk.stamp(cs() / TCP(sport=sport, dport=502, flags="FA", seq=c_seq, ack=s_seq)))
    out.append(clk.stamp(sc() / TCP(sport=502, dport=sport, flags="FA", seq=s_seq, ack=c_seq + 1)))
    out.append(clk.stamp(cs() / TCP(sport=sport, dport=502, flags="A", seq=c_seq + 1, ack=s_seq + 1)))
    return out


def normal_day(clk):
    pkts = []
    for hmi, port in (("198.18.5.10", 41000), ("198.18.5.12", 42000)):
        pkts += session(clk, hmi, port, [read_hr(1, 0, 10), read_hr(2, 100, 20), read_hr(3, 0, 10), read_hr(4, 105, 5)])
    pkts += session(clk, "198.18.5.11", 43000,
                    [read_hr(1, 0, 10), write_reg(2, 10, 1234), write_regs(3, 20, [1, 2]), echo(4)])
    return pkts


def main():
    clk = Clock()
    day = normal_day(clk)
    wrpcap(os.path.join(HERE, "plant_modbus.pcap"), day)
    clk = Clock()
    intruded = normal_day(clk)
    intruded += session(clk, "198.18.5.99", 44000, [write_reg(1, 10, 666), read_hr(2, 0, 10)])
    intruded += session(clk, "198.18.5.10", 41001, [write_reg(1, 11, 7), read_hr(2, 0, 10)])
    wrpcap(os.path.join(HERE, "plant_modbus_intruder.pcap"), intruded)


if __name__ == "__main__":
    main()
