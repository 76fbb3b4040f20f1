"""Small deterministic pcap writer for the detector benchmarks: Ethernet /
IPv4 / TCP connections with real handshakes, sequence and acknowledgement
numbers, MSS-sized segments and correct checksums, written with struct (scapy
builds a few thousand packets a second; these captures hold hundreds of
thousands). Used by bench/ot/gen_modbus_pcap.py and bench/smb/gen_smb_pcap.py.
"""

import struct

ETH_IP = 0x0800
SYN, FIN, RST, PSH, ACK = 0x02, 0x01, 0x04, 0x08, 0x10


def checksum(data):
    if len(data) & 1:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ip4(text):
    return bytes(int(x) for x in text.split("."))


def mac_of(addr):
    return b"\x02\x00" + addr


class PcapWriter:
    def __init__(self, path, start_ts=1767225600.0):
        self.fh = open(path, "wb")
        self.fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        self.ts = start_ts
        self.packets = 0
        self.bytes = 0
        self.ip_id = 1

    def write(self, frame, gap_us=50):
        self.ts += gap_us / 1e6
        sec = int(self.ts)
        usec = int(round((self.ts - sec) * 1e6))
        if usec >= 1000000:
            sec, usec = sec + 1, usec - 1000000
        self.fh.write(struct.pack("<IIII", sec, usec, len(frame), len(frame)))
        self.fh.write(frame)
        self.packets += 1
        self.bytes += len(frame)

    def close(self):
        self.fh.close()


def tcp_frame(w, src, dst, sport, dport, seq, ack, flags, payload=b"", options=b""):
    """An Ethernet/IPv4/TCP frame with correct checksums."""
    thl = 20 + len(options)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, (thl // 4) << 4, flags,
                      64240, 0, 0) + options
    pseudo = src + dst + struct.pack("!BBH", 0, 6, thl + len(payload))
    csum = checksum(pseudo + tcp + payload)
    tcp = tcp[:16] + struct.pack("!H", csum) + tcp[18:]
    total = 20 + thl + len(payload)
    w.ip_id = (w.ip_id + 1) & 0xFFFF
    iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, w.ip_id, 0x4000, 64, 6, 0, src, dst)
    iph = iph[:10] + struct.pack("!H", checksum(iph)) + iph[12:]
    return mac_of(dst) + mac_of(src) + struct.pack("!H", ETH_IP) + iph + tcp + payload


class TcpConn:
    """One TCP connection's packets, produced step by step (a generator of
    (frame-builder) calls), so several connections can be interleaved."""

    MSS = 1448

    def __init__(self, w, client, server, cport, sport, isn_c, isn_s):
        self.w = w
        self.c, self.s = ip4(client), ip4(server)
        self.cport, self.sport = cport, sport
        self.cseq, self.sseq = isn_c, isn_s

    def handshake(self):
        mss = struct.pack("!BBH", 2, 4, self.MSS)
        yield tcp_frame(self.w, self.c, self.s, self.cport, self.sport, self.cseq, 0, SYN, options=mss)
        self.cseq += 1
        yield tcp_frame(self.w, self.s, self.c, self.sport, self.cport, self.sseq, self.cseq, SYN | ACK, options=mss)
        self.sseq += 1
        yield tcp_frame(self.w, self.c, self.s, self.cport, self.sport, self.cseq, self.sseq, ACK)

    def send(self, to_server, data, ack_every=0):
        """data split in MSS segments (PSH on the last); ack_every > 0: a pure
        ACK from the receiver after every ack_every segments and at the end."""
        n = 0
        for off in range(0, len(data), self.MSS):
            chunk = data[off:off + self.MSS]
            last = off + self.MSS >= len(data)
            flags = ACK | (PSH if last else 0)
            if to_server:
                yield tcp_frame(self.w, self.c, self.s, self.cport, self.sport, self.cseq, self.sseq, flags, chunk)
                self.cseq += len(chunk)
            else:
                yield tcp_frame(self.w, self.s, self.c, self.sport, self.cport, self.sseq, self.cseq, flags, chunk)
                self.sseq += len(chunk)
            n += 1
            if ack_every and (n % ack_every == 0 or last):
                yield self.ack(not to_server)

    def ack(self, from_client):
        if from_client:
            return tcp_frame(self.w, self.c, self.s, self.cport, self.sport, self.cseq, self.sseq, ACK)
        return tcp_frame(self.w, self.s, self.c, self.sport, self.cport, self.sseq, self.cseq, ACK)

    def close(self):
        yield tcp_frame(self.w, self.c, self.s, self.cport, self.sport, self.cseq, self.sseq, FIN | ACK)
        self.cseq += 1
        yield tcp_frame(self.w, self.s, self.c, self.sport, self.cport, self.sseq, self.cseq, FIN | ACK)
        self.sseq += 1
        yield tcp_frame(self.w, self.c, self.s, self.cport, self.sport, self.cseq, self.sseq, ACK)


def interleave(w, rng, conns, active, gap_us=50):
    """Write the frames of the connection generators in `conns` (an iterator),
    `active` of them open at once, advancing a random open one each step."""
    live = []
    it = iter(conns)
    exhausted = False
    while True:
        while not exhausted and len(live) < active:
            try:
                live.append(next(it))
            except StopIteration:
                exhausted = True
        if not live:
            return
        i = rng.randrange(len(live))
        try:
            w.write(next(live[i]), gap_us)
        except StopIteration:
            live[i] = live[-1]
            live.pop()
