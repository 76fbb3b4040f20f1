#!/usr/bin/python3
"""Generates the synthetic captures under tests/pcap/ (committed; re-run this
script to regenerate them byte for byte: timestamps and payloads are fixed).

Every packet uses test addresses only (198.18.0.0/15, 2001:db8::/32).
Run: /usr/bin/python3 tests/pcap/make_captures.py
"""
import os
import struct

from scapy.all import (ARP, DNS, DNSQR, ICMP, IP, TCP, UDP, Dot1Q, Ether, ICMPv6EchoRequest,
                       IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop, Raw,
                       fragment, wrpcap)

HERE = os.path.dirname(os.path.abspath(__file__))
MAC_C = "02:00:00:00:00:01"
MAC_S = "02:00:00:00:00:02"
T0 = 1700000000.0


class Clock:
    def __init__(self, start=T0):
        self.t = start

    def stamp(self, pkt, dt=0.001):
        self.t += dt
        pkt.time = self.t
        return pkt


def tcp_session(clk, c, s, sport, dport, req, resp, v6=False, vlans=(), close="fin", isn_c=1000, isn_s=5000):
    """A complete TCP connection: handshake, one request, one response, close."""
    L3 = IPv6 if v6 else IP

    def l2(src_mac, dst_mac):
        e = Ether(src=src_mac, dst=dst_mac)
        for v in vlans:
            e = e / Dot1Q(vlan=v)
        return e

    cs = lambda: l2(MAC_C, MAC_S) / L3(src=c, dst=s)
    sc = lambda: l2(MAC_S, MAC_C) / L3(src=s, dst=c)
    out = []
    out.append(clk.stamp(cs() / TCP(sport=sport, dport=dport, flags="S", seq=isn_c)))
    out.append(clk.stamp(sc() / TCP(sport=dport, dport=sport, flags="SA", seq=isn_s, ack=isn_c + 1)))
    out.append(clk.stamp(cs() / TCP(sport=sport, dport=dport, flags="A", seq=isn_c + 1, ack=isn_s + 1)))
    out.append(clk.stamp(cs() / TCP(sport=sport, dport=dport, flags="PA", seq=isn_c + 1, ack=isn_s + 1) / Raw(req)))
    out.append(clk.stamp(sc() / TCP(sport=dport, dport=sport, flags="PA", seq=isn_s + 1, ack=isn_c + 1 + len(req)) / Raw(resp)))
    c_next, s_next = isn_c + 1 + len(req), isn_s + 1 + len(resp)
    if close == "fin":
        out.append(clk.stamp(cs() / TCP(sport=sport, dport=dport, flags="FA", seq=c_next, ack=s_next)))
        out.append(clk.stamp(sc() / TCP(sport=dport, dport=sport, flags="FA", seq=s_next, ack=c_next + 1)))
        out.append(clk.stamp(cs() / TCP(sport=sport, dport=dport, flags="A", seq=c_next + 1, ack=s_next + 1)))
    elif close == "rst":
        out.append(clk.stamp(cs() / TCP(sport=sport, dport=dport, flags="R", seq=c_next)))
    return out


def udp_exchange(clk, c, s, sport, dport, req, resp, v6=False):
    L3 = IPv6 if v6 else IP
    return [
        clk.stamp(Ether(src=MAC_C, dst=MAC_S) / L3(src=c, dst=s) / UDP(sport=sport, dport=dport) / Raw(req)),
        clk.stamp(Ether(src=MAC_S, dst=MAC_C) / L3(src=s, dst=c) / UDP(sport=dport, dport=sport) / Raw(resp)),
    ]


def mixed():
    """Several protocols and encapsulations, each flow with a known shape."""
    clk = Clock()
    pkts = []
    pkts += tcp_session(clk, "198.18.0.10", "198.18.5.20", 40001, 80, b"GET / HTTP/1.1\r\nHost: plant\r\n\r\n",
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    pkts += tcp_session(clk, "2001:db8::10", "2001:db8::20", 40002, 443, b"\x16\x03\x01hello", b"\x16\x03\x03world", v6=True)
    pkts += tcp_session(clk, "198.18.0.11", "198.18.5.21", 40003, 502, b"\x00\x01\x00\x00\x00\x06\x01\x03\x00\x00\x00\x02",
                        b"\x00\x01\x00\x00\x00\x07\x01\x03\x04\x00\x01\x00\x02", vlans=(100,))
    pkts += tcp_session(clk, "198.18.0.12", "198.18.5.22", 40004, 102, b"\x03\x00\x00\x16", b"\x03\x00\x00\x16",
                        vlans=(200, 300), close="rst")
    dns_q = Ether(src=MAC_C, dst=MAC_S) / IP(src="198.18.0.10", dst="198.18.0.53") / UDP(sport=53000, dport=53) / DNS(rd=1, qd=DNSQR(qname="plc.plant.test"))
    pkts.append(clk.stamp(dns_q))
    pkts.append(clk.stamp(Ether(src=MAC_S, dst=MAC_C) / IP(src="198.18.0.53", dst="198.18.0.10") / UDP(sport=53, dport=53000) / DNS(id=0, qr=1, qd=DNSQR(qname="plc.plant.test"))))
    pkts.append(clk.stamp(Ether(src=MAC_C, dst=MAC_S) / IP(src="198.18.0.10", dst="198.18.5.20") / ICMP(type=8, id=7, seq=1) / Raw(b"ping")))
    pkts.append(clk.stamp(Ether(src=MAC_S, dst=MAC_C) / IP(src="198.18.5.20", dst="198.18.0.10") / ICMP(type=0, id=7, seq=1) / Raw(b"ping")))
    pkts.append(clk.stamp(Ether(src=MAC_C, dst=MAC_S) / IPv6(src="2001:db8::10", dst="2001:db8::20") / ICMPv6EchoRequest(id=9, seq=1)))
    pkts.append(clk.stamp(Ether(src=MAC_C, dst="ff:ff:ff:ff:ff:ff") / ARP(psrc="198.18.0.10", pdst="198.18.5.20")))
    # IPv4 with options (record route + NOP padding) on a UDP datagram.
    opt = IP(src="198.18.0.13", dst="198.18.5.23", options=[b"\x07\x07\x04\x00\x00\x00\x00\x01"])
    pkts.append(clk.stamp(Ether(src=MAC_C, dst=MAC_S) / opt / UDP(sport=47000, dport=161) / Raw(b"snmp")))
    # IPv6 with hop-by-hop and destination options before UDP.
    pkts.append(clk.stamp(Ether(src=MAC_C, dst=MAC_S) / IPv6(src="2001:db8::13", dst="2001:db8::23") / IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt() / UDP(sport=47001, dport=162) / Raw(b"trap")))
    wrpcap(os.path.join(HERE, "dataplane", "mixed.pcap"), pkts)


def fragments():
    """IPv4 and IPv6 datagrams split into fragments, in order, reversed, more than
    eight pieces, overlapping with conflicting bytes, and one never completed."""
    clk = Clock()
    pkts = []
    big = IP(src="198.18.0.20", dst="198.18.5.30", id=111) / UDP(sport=41000, dport=5000) / Raw(bytes(range(256)) * 12)
    for f in fragment(big, fragsize=256):  # 13 fragments
        pkts.append(clk.stamp(Ether(src=MAC_C, dst=MAC_S) / f))
    rev = IP(src="198.18.0.21", dst="198.18.5.31", id=222) / UDP(sport=41001, dport=5001) / Raw(b"R" * 1200)
    for f in reversed(fragment(rev, fragsize=400)):
        pkts.append(clk.stamp(Ether(src=MAC_C, dst=MAC_S) / f))
    # Overlap: a forged middle fragment first, then the genuine ones.
    ovl = IP(src="198.18.0.22", dst="198.18.5.32", id=333) / UDP(sport=41002, dport=5002) / Raw(b"A" * 64)
    frs = fragment(ovl, fragsize=24)
    forged = frs[1].copy()
    forged[Raw].load = b"Z" * len(forged[Raw].load)
    for f in [forged] + list(frs):
        pkts.append(clk.stamp(Ether(src=MAC_C, dst=MAC_S) / f))
    # Incomplete: the last fragment never comes.
    inc = IP(src="198.18.0.23", dst="198.18.5.33", id=444) / UDP(sport=41003, dport=5003) / Raw(b"I" * 900)
    for f in fragment(inc, fragsize=400)[:-1]:
        pkts.append(clk.stamp(Ether(src=MAC_C, dst=MAC_S) / f))
    # IPv6: fragment header right after the fixed header.
    v6 = UDP(sport=41004, dport=5004) / Raw(b"6" * 3000)
    raw = bytes(v6)
    off = 0
    while off < len(raw):
        chunk = raw[off:off + 1232]
        more = 1 if off + 1232 < len(raw) else 0
        p = Ether(src=MAC_C, dst=MAC_S) / IPv6(src="2001:db8::20", dst="2001:db8::30") / IPv6ExtHdrFragment(nh=17, offset=off // 8, m=more, id=555) / Raw(chunk)
        pkts.append(clk.stamp(p))
        off += 1232
    # The reply of the first datagram's flow, unfragmented: same flow as the reassembled datagram.
    pkts.append(clk.stamp(Ether(src=MAC_S, dst=MAC_C) / IP(src="198.18.5.30", dst="198.18.0.20") / UDP(sport=5000, dport=41000) / Raw(b"ack")))
    wrpcap(os.path.join(HERE, "dataplane", "fragments.pcap"), pkts)


def malformed():
    """One well-formed flow with a malformed packet of each kind between its
    packets: they must be counted by reason, reported, and forwarded or dropped
    by policy, never crash anything or disturb the flow."""
    clk = Clock()
    good = tcp_session(clk, "198.18.0.30", "198.18.5.40", 42000, 80, b"GET /a HTTP/1.0\r\n\r\n", b"HTTP/1.0 200 OK\r\n\r\n")
    base = bytes(Ether(src=MAC_C, dst=MAC_S) / IP(src="198.18.0.31", dst="198.18.5.41") / TCP(sport=42001, dport=80, flags="PA") / Raw(b"payload!"))
    ip = 14
    bad = []

    def mangle(fn):
        b = bytearray(base)
        b = fn(b) or b
        return bytes(b)

    bad.append(("eth_truncated", base[:10]))
    bad.append(("ipv4_truncated", base[:ip + 12]))
    bad.append(("ipv4_bad_version", mangle(lambda b: b.__setitem__(ip, 0x55))))
    bad.append(("ipv4_bad_ihl", mangle(lambda b: b.__setitem__(ip, 0x43))))
    bad.append(("ipv4_bad_total_length", mangle(lambda b: b.__setitem__(ip + 2, 0x40))))
    bad.append(("ipv4_bad_options", bytes(Ether(src=MAC_C, dst=MAC_S) / IP(src="198.18.0.31", dst="198.18.5.41", options=[b"\x07\x20\x00\x00"]) / TCP(sport=42001, dport=80))))
    bad.append(("tcp_bad_offset", mangle(lambda b: b.__setitem__(ip + 20 + 12, 0xF0))))
    bad.append(("tcp_truncated", mangle(lambda b: b.__setitem__(slice(ip + 2, ip + 4), struct.pack(">H", 30))) [:ip + 30]))
    udp = bytearray(bytes(Ether(src=MAC_C, dst=MAC_S) / IP(src="198.18.0.31", dst="198.18.5.41") / UDP(sport=42002, dport=53) / Raw(b"abc")))
    udp[ip + 20 + 4:ip + 20 + 6] = struct.pack(">H", 4000)
    bad.append(("udp_bad_length", bytes(udp)))
    v6 = bytearray(bytes(Ether(src=MAC_C, dst=MAC_S) / IPv6(src="2001:db8::31", dst="2001:db8::41") / UDP(sport=42003, dport=53) / Raw(b"abc")))
    v6[ip + 4:ip + 6] = struct.pack(">H", 9000)
    bad.append(("ipv6_bad_payload_length", bytes(v6)))
    bad.append(("vlan_too_deep", bytes(Ether(src=MAC_C, dst=MAC_S) / Dot1Q(vlan=1) / Dot1Q(vlan=2) / Dot1Q(vlan=3) / IP(src="198.18.0.31", dst="198.18.5.41") / UDP())))
    pkts = []
    for i, g in enumerate(good):
        pkts.append(g)
        if i < len(bad):
            name, data = bad[i]
            p = Ether(data) if len(data) >= 14 else Raw(data)
            pkts.append(clk.stamp(p))
    for name, data in bad[len(good):]:
        p = Ether(data) if len(data) >= 14 else Raw(data)
        pkts.append(clk.stamp(p))
    # Raw() packets would get the wrong link type: write bytes with the Ethernet link type.
    from scapy.utils import PcapWriter
    with PcapWriter(os.path.join(HERE, "dataplane", "malformed.pcap"), linktype=1, sync=True) as w:
        for p in pkts:
            w.write(p)


def filtered():
    """Flows between the office (198.18.0.0/24) and the plant (198.18.5.0/24)
    for the L3/L4 filter cases: Modbus 502, HTTP 8080 and 8081, SSH 22, DNS, ping."""
    clk = Clock()
    pkts = []
    pkts += tcp_session(clk, "198.18.0.10", "198.18.5.20", 43001, 502, b"\x00\x01\x00\x00\x00\x06\x01\x03\x00\x00\x00\x01", b"\x00\x01\x00\x00\x00\x05\x01\x03\x02\x00\x2a")
    pkts += tcp_session(clk, "198.18.0.10", "198.18.5.20", 43002, 8080, b"GET /ok HTTP/1.0\r\n\r\n", b"HTTP/1.0 200 OK\r\n\r\nok")
    pkts += tcp_session(clk, "198.18.0.10", "198.18.5.20", 43003, 8081, b"GET /no HTTP/1.0\r\n\r\n", b"HTTP/1.0 200 OK\r\n\r\nno")
    pkts += tcp_session(clk, "198.18.0.66", "198.18.5.20", 43004, 22, b"SSH-2.0-client\r\n", b"SSH-2.0-server\r\n")
    pkts += udp_exchange(clk, "198.18.0.10", "198.18.0.53", 53001, 53, b"\x12\x34query", b"\x12\x34answer")
    pkts.append(clk.stamp(Ether(src=MAC_C, dst=MAC_S) / IP(src="198.18.0.10", dst="198.18.5.20") / ICMP(type=8, id=1, seq=1)))
    pkts.append(clk.stamp(Ether(src=MAC_S, dst=MAC_C) / IP(src="198.18.5.20", dst="198.18.0.10") / ICMP(type=0, id=1, seq=1)))
    pkts.append(clk.stamp(Ether(src=MAC_C, dst="ff:ff:ff:ff:ff:ff") / ARP(psrc="198.18.0.10", pdst="198.18.5.20")))
    wrpcap(os.path.join(HERE, "dataplane", "filter.pcap"), pkts)


def timeouts():
    """Flow lifetimes: a UDP flow silent for longer than its timeout (two flows),
    a TCP connection reopened with a new SYN after a reset (two flows), and a
    long-lived established TCP flow that must stay one flow."""
    clk = Clock()
    pkts = []
    pkts += udp_exchange(clk, "198.18.0.40", "198.18.5.50", 44000, 5000, b"one", b"one")
    clk.t += 45  # UDP established timeout is 300 s, but this flow saw both sides: stays one flow
    pkts += udp_exchange(clk, "198.18.0.40", "198.18.5.50", 44000, 5000, b"two", b"two")
    pkts.append(clk.stamp(Ether(src=MAC_C, dst=MAC_S) / IP(src="198.18.0.41", dst="198.18.5.51") / UDP(sport=44001, dport=5001) / Raw(b"lonely")))
    clk.t += 40  # UDP new timeout is 30 s: the next datagram starts a new flow
    pkts.append(clk.stamp(Ether(src=MAC_C, dst=MAC_S) / IP(src="198.18.0.41", dst="198.18.5.51") / UDP(sport=44001, dport=5001) / Raw(b"again")))
    pkts += tcp_session(clk, "198.18.0.42", "198.18.5.52", 44002, 80, b"GET / HTTP/1.0\r\n\r\n", b"HTTP/1.0 200 OK\r\n\r\n", close="rst")
    pkts += tcp_session(clk, "198.18.0.42", "198.18.5.52", 44002, 80, b"GET /2 HTTP/1.0\r\n\r\n", b"HTTP/1.0 200 OK\r\n\r\n", isn_c=90000, isn_s=70000)
    wrpcap(os.path.join(HERE, "dataplane", "timeouts.pcap"), pkts)




# ---- signatures: stream matching across segment boundaries ------------------

PATTERN = b"EVIL-PAYLOAD-7f3a9c"


def tcp_stream(clk, c, s, sport, dport, segments, v6=False, vlans=(), isn_c=2000, isn_s=9000, reply=b"OK"):
    """A connection whose client sends `segments` ([(offset, bytes)] in stream
    offsets, in the order given: reordered, overlapping or one byte at a time),
    then the server answers and both close."""
    L3 = IPv6 if v6 else IP

    def l2(a, b):
        e = Ether(src=a, dst=b)
        for v in vlans:
            e = e / Dot1Q(vlan=v)
        return e

    cs = lambda: l2(MAC_C, MAC_S) / L3(src=c, dst=s)
    sc = lambda: l2(MAC_S, MAC_C) / L3(src=s, dst=c)
    out = [clk.stamp(cs() / TCP(sport=sport, dport=dport, flags="S", seq=isn_c)),
           clk.stamp(sc() / TCP(sport=dport, dport=sport, flags="SA", seq=isn_s, ack=isn_c + 1)),
           clk.stamp(cs() / TCP(sport=sport, dport=dport, flags="A", seq=isn_c + 1, ack=isn_s + 1))]
    total = max(off + len(data) for off, data in segments)
    for off, data in segments:
        out.append(clk.stamp(cs() / TCP(sport=sport, dport=dport, flags="PA", seq=isn_c + 1 + off, ack=isn_s + 1) / Raw(data)))
    c_next = isn_c + 1 + total
    out.append(clk.stamp(sc() / TCP(sport=dport, dport=sport, flags="PA", seq=isn_s + 1, ack=c_next) / Raw(reply)))
    s_next = isn_s + 1 + len(reply)
    out.append(clk.stamp(cs() / TCP(sport=sport, dport=dport, flags="FA", seq=c_next, ack=s_next)))
    out.append(clk.stamp(sc() / TCP(sport=dport, dport=sport, flags="FA", seq=s_next, ack=c_next + 1)))
    out.append(clk.stamp(cs() / TCP(sport=sport, dport=dport, flags="A", seq=c_next + 1, ack=s_next + 1)))
    return out


def chunks(data, size):
    return [(i, data[i:i + size]) for i in range(0, len(data), size)]


def signatures():
    body = b"GET /x HTTP/1.1\r\nHost: plc\r\nX-Data: " + PATTERN + b"\r\n\r\n"
    at = body.index(PATTERN)
    d = os.path.join(HERE, "signatures")
    os.makedirs(d, exist_ok=True)
    # Split inside the pattern, in order.
    clk = Clock()
    segs = [(0, body[:at + 5]), (at + 5, body[at + 5:at + 12]), (at + 12, body[at + 12:])]
    wrpcap(os.path.join(d, "split.pcap"), tcp_stream(clk, "198.18.0.10", "198.18.5.20", 45001, 8080, segs))
    # The same three segments out of order.
    clk = Clock()
    wrpcap(os.path.join(d, "reordered.pcap"), tcp_stream(clk, "198.18.0.10", "198.18.5.20", 45002, 8080, [segs[2], segs[0], segs[1]]))
    # One byte per segment.
    clk = Clock()
    wrpcap(os.path.join(d, "one_byte.pcap"), tcp_stream(clk, "198.18.0.10", "198.18.5.20", 45003, 8080, chunks(body, 1)))
    # Overlaps, first copy wins: the pattern arrives first, a later overlapping
    # copy with other bytes must not erase it (one alert); in a second flow the
    # benign bytes arrive first and a later copy carrying the pattern must not
    # match (no alert): what the receiving host keeps is what is inspected.
    clk = Clock()
    benign = body.replace(PATTERN, b"x" * len(PATTERN))
    n = len(PATTERN)
    first_evil = [(at, body[at:at + n]), (0, body[:at]), (at - 4, benign[at - 4:at + n]), (at + n, body[at + n:])]
    first_benign = [(at, benign[at:at + n]), (0, body[:at]), (at - 4, body[at - 4:at + n]), (at + n, body[at + n:])]
    pk = tcp_stream(clk, "198.18.0.11", "198.18.5.20", 45004, 8080, first_evil)
    pk += tcp_stream(clk, "198.18.0.12", "198.18.5.20", 45005, 8080, first_benign)
    wrpcap(os.path.join(d, "overlap.pcap"), pk)
    # IPv6 and QinQ, split inside the pattern.
    clk = Clock()
    pk = tcp_stream(clk, "2001:db8::10", "2001:db8::20", 45006, 8080, segs, v6=True)
    pk += tcp_stream(clk, "198.18.0.13", "198.18.5.20", 45007, 8080, segs, vlans=(100, 200))
    wrpcap(os.path.join(d, "ipv6_vlan.pcap"), pk)
    # Three flows; the middle one carries the pattern in its second data segment
    # (an ips drop rule stops it there, the others must pass byte for byte).
    clk = Clock()
    pk = tcp_stream(clk, "198.18.0.20", "198.18.5.30", 46001, 8080, chunks(benign, 20))
    pk += tcp_stream(clk, "198.18.0.21", "198.18.5.30", 46002, 8081, chunks(body, 40))
    pk += tcp_stream(clk, "198.18.0.22", "198.18.5.30", 46003, 8080, chunks(benign, 30))
    wrpcap(os.path.join(d, "ips_drop.pcap"), pk)


# ---- the demo: what `scripts/demo.sh` runs the bundled rules on -------------

def demo():
    """A short plant-boundary capture: ordinary traffic plus one of each thing
    the bundled rules (signatures/rules/sluice-default.rules) look for."""
    clk = Clock()
    pk = []
    pk += tcp_session(clk, "198.18.0.10", "198.18.5.20", 47001, 80,
                      b"GET /status HTTP/1.1\r\nHost: hmi.plant.test\r\nUser-Agent: Mozilla/5.0\r\n\r\n",
                      b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    pk += tcp_session(clk, "198.18.0.66", "198.18.5.20", 47002, 80,
                      b"GET /admin HTTP/1.1\r\nHost: hmi.plant.test\r\nUser-Agent: sluice-test/1.0\r\n\r\n",
                      b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
    eicar = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
    pk += tcp_session(clk, "198.18.0.66", "198.18.5.21", 47003, 80,
                      b"GET /tool.com HTTP/1.1\r\nHost: updates.example\r\n\r\n",
                      b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: "
                      + str(len(eicar)).encode() + b"\r\n\r\n" + eicar)
    pk += udp_exchange(clk, "198.18.0.10", "198.18.0.53", 53010, 53,
                       bytes(DNS(id=7, rd=1, qd=DNSQR(qname="update.sluice-test.example"))),
                       bytes(DNS(id=7, qr=1, qd=DNSQR(qname="update.sluice-test.example"))))
    pk += udp_exchange(clk, "198.18.0.10", "198.18.0.53", 53011, 53,
                       bytes(DNS(id=8, rd=1, qd=DNSQR(qname="historian.plant.test"))),
                       bytes(DNS(id=8, qr=1, qd=DNSQR(qname="historian.plant.test"))))
    # Modbus: the HMI reads holding registers, then someone writes one.
    pk += tcp_session(clk, "198.18.5.10", "198.18.5.20", 47004, 502,
                      b"\x00\x01\x00\x00\x00\x06\x01\x03\x00\x00\x00\x0a",
                      b"\x00\x01\x00\x00\x00\x17\x01\x03\x14" + b"\x00\x01" * 10)
    pk += tcp_session(clk, "198.18.0.66", "198.18.5.20", 47005, 502,
                      b"\x00\x02\x00\x00\x00\x06\x01\x06\x00\x10\x00\xff",
                      b"\x00\x02\x00\x00\x00\x06\x01\x06\x00\x10\x00\xff")
    # S7comm PLC STOP job (TPKT + COTP DT + S7 job with function 0x29).
    s7 = bytes.fromhex("0300002102f0803201000005000010000029000000000009505f50524f4752414d")
    pk += tcp_session(clk, "198.18.0.66", "198.18.5.30", 47006, 102, s7, bytes.fromhex("0300001302f08032030000050000020000000029"))
    # Telnet attempt into the plant.
    pk.append(clk.stamp(Ether(src=MAC_C, dst=MAC_S) / IP(src="198.18.0.66", dst="198.18.5.20") / TCP(sport=47007, dport=23, flags="S", seq=1)))
    pk.append(clk.stamp(Ether(src=MAC_S, dst=MAC_C) / IP(src="198.18.5.20", dst="198.18.0.66") / TCP(sport=23, dport=47007, flags="RA", seq=0, ack=2)))
    # A large ping.
    pk.append(clk.stamp(Ether(src=MAC_C, dst=MAC_S) / IP(src="198.18.0.66", dst="198.18.5.20") / ICMP(type=8, id=3, seq=1) / Raw(b"A" * 1200)))
    pk.append(clk.stamp(Ether(src=MAC_S, dst=MAC_C) / IP(src="198.18.5.20", dst="198.18.0.66") / ICMP(type=0, id=3, seq=1) / Raw(b"A" * 1200)))
    wrpcap(os.path.join(HERE, "..", "..", "data", "demo.pcap"), pk)


if __name__ == "__main__":
    os.makedirs(os.path.join(HERE, "dataplane"), exist_ok=True)
    mixed()
    fragments()
    malformed()
    filtered()
    timeouts()
    signatures()
    demo()
    print("captures written under", HERE, "and data/demo.pcap")
