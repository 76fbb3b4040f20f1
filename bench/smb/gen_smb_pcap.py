#!/usr/bin/python3
"""SMB-heavy capture for bench/smb/smb_bench.py (deterministic for a seed).

Clients 198.18.2.10-29 talk to file servers 198.19.3.10-13 on TCP 445, each
connection a full TCP connection (handshake, FIN teardown) holding one SMB
session: SMB2 (dialect 3.0.2, no signing, no encryption) in 2 of 3
connections, SMB1 (NT LM 0.12, unicode) in the others. A session negotiates,
sets up (no authentication blob), connects to a disk share and then uploads
(CREATE / WRITE ... / CLOSE; SMB1 NT_CREATE_ANDX / WRITE_ANDX / CLOSE) and
downloads (CREATE / READ ... / CLOSE; READ_ANDX) 2-12 files of mixed sizes
(log-uniform from 200 bytes to 4 MiB, pseudo-random content), 60 KiB per
WRITE/READ; the receiver ACKs every second TCP segment. `--active`
connections are open at once and their packets interleave. The messages are
built byte by byte after MS-SMB2 / MS-CIFS (tshark decodes them and exports
every file).

  gen_smb_pcap.py --out FILE [--bytes N] [--seed S]
writes the capture and FILE.meta.json (packets, connections, files, file
bytes, SHA-256 of every file by name).
"""

import argparse
import hashlib
import json
import math
import os
import random
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import pcapgen  # noqa: E402

CLIENTS = [f"198.18.2.{10 + i}" for i in range(20)]
SERVERS = [f"198.19.3.{10 + i}" for i in range(4)]
CHUNK = 61440  # fits SMB1's 16-bit ByteCount; smbclient's SMB1 write size
NB = lambda msg: struct.pack("!I", len(msg)) + msg  # noqa: E731  NetBIOS session message (type 0)


def u16(s):
    return s.encode("utf-16-le")


# ------------------------------------------------------------------ SMB2

def h2(cmd, mid, tree=0, sess=0, resp=False, status=0):
    return (b"\xfeSMB" + struct.pack("<HHIHHIIQIIQ", 64, 1, status, cmd, 1, 1 if resp else 0, 0, mid, 0xFEFF,
                                     tree, sess) + b"\0" * 16)


def smb2_session(rng, conn, files, counts, server):
    mid = 0
    sess = rng.getrandbits(63) | 1
    tree = rng.randint(1, 0xFFFF)

    def rt(req, resp, ack=True):
        yield from conn.send(True, NB(req), 2)
        yield from conn.send(False, NB(resp), 2)

    # NEGOTIATE
    req = h2(0, mid) + struct.pack("<HHHHI16sQ", 36, 2, 1, 0, 0x7F, rng.randbytes(16), 0) + struct.pack("<HH", 0x0202, 0x0302)
    resp = (h2(0, mid, resp=True) + struct.pack("<HHHH16sIIIIQQHHI", 65, 1, 0x0302, 0, rng.randbytes(16), 0x2F,
                                                8 << 20, 8 << 20, 8 << 20, 0, 0, 128, 0, 0) + b"\0")
    yield from rt(req, resp)
    mid += 1
    # SESSION_SETUP (no security blob)
    req = h2(1, mid) + struct.pack("<HBBIIHHQ", 25, 0, 1, 1, 0, 88, 0, 0) + b"\0"
    resp = h2(1, mid, sess=sess, resp=True) + struct.pack("<HHHH", 9, 0, 72, 0) + b"\0"
    yield from rt(req, resp)
    mid += 1
    # TREE_CONNECT
    path = u16(f"\\\\{server}\\data")
    req = h2(3, mid, sess=sess) + struct.pack("<HHHH", 9, 0, 72, len(path)) + path
    resp = h2(3, mid, tree=tree, sess=sess, resp=True) + struct.pack("<HBBIII", 16, 1, 0, 0, 0, 0x1F01FF)
    yield from rt(req, resp)
    mid += 1
    for name, data, upload in files:
        fid_p, fid_v = rng.getrandbits(64), rng.getrandbits(64)
        nm = u16(name)
        disposition, action = (5, 2) if upload else (1, 1)
        req = (h2(5, mid, tree, sess) + struct.pack("<HBBIQQIIIIIHHII", 57, 0, 0, 2, 0, 0, 0x12019F if upload else 0x120089,
                                                   0x80, 7, disposition, 0x40, 120, len(nm), 0, 0) + nm)
        eof = 0 if upload else len(data)
        resp = (h2(5, mid, tree, sess, resp=True) + struct.pack("<HBBIQQQQQQIIQQII", 89, 0, 0, action, 0, 0, 0, 0,
                                                                 eof, eof, 0x80, 0, fid_p, fid_v, 0, 0) + b"\0")
        yield from rt(req, resp)
        mid += 1
        for off in range(0, len(data), CHUNK):
            chunk = data[off:off + CHUNK]
            if upload:
                req = (h2(9, mid, tree, sess) + struct.pack("<HHIQQQIIHHI", 49, 112, len(chunk), off, fid_p, fid_v,
                                                           0, 0, 0, 0, 0) + chunk)
                resp = h2(9, mid, tree, sess, resp=True) + struct.pack("<HHIIHH", 17, 0, len(chunk), 0, 0, 0) + b"\0"
            else:
                req = (h2(8, mid, tree, sess) + struct.pack("<HBBIQQQIIIHH", 49, 0x50, 0, len(chunk), off, fid_p, fid_v,
                                                           len(chunk), 0, 0, 0, 0) + b"\0")
                resp = h2(8, mid, tree, sess, resp=True) + struct.pack("<HBBIII", 17, 80, 0, len(chunk), 0, 0) + chunk
            yield from rt(req, resp)
            mid += 1
        req = h2(6, mid, tree, sess) + struct.pack("<HHIQQ", 24, 0, 0, fid_p, fid_v)
        resp = h2(6, mid, tree, sess, resp=True) + struct.pack("<HHIQQQQQQI", 60, 0, 0, 0, 0, 0, 0, len(data),
                                                                 len(data), 0x80)
        yield from rt(req, resp)
        mid += 1
        counts["files"] += 1
        counts["file_bytes"] += len(data)


# ------------------------------------------------------------------ SMB1

def h1(cmd, mid, tid=0, uid=0, resp=False):
    flags = 0x98 if resp else 0x18
    return b"\xffSMB" + struct.pack("<BIBHH8sHHHHH", cmd, 0, flags, 0xC807, 0, b"\0" * 8, 0, tid, 0xFEFF, uid, mid)


def w1(words, data=b""):
    return struct.pack("<B", len(words) // 2) + words + struct.pack("<H", len(data)) + data


def smb1_session(rng, conn, files, counts, server):
    mid = 1
    uid = rng.randint(1, 0xFFFE)
    tid = rng.randint(1, 0xFFFE)

    def rt(req, resp):
        yield from conn.send(True, NB(req), 2)
        yield from conn.send(False, NB(resp), 2)

    req = h1(0x72, mid) + w1(b"", b"\x02NT LM 0.12\0")
    resp = h1(0x72, mid, resp=True) + w1(struct.pack("<HBHHIIIIQHB", 0, 3, 50, 1, 16644, 65536, 0, 0x8000E3FC, 0, 0, 0))
    yield from rt(req, resp)
    mid += 1
    req = h1(0x73, mid) + w1(struct.pack("<BBHHHHIHII", 0xFF, 0, 0, 16644, 50, 0, 0, 0, 0, 0x800000D4),
                             b"\0" + u16("Unix\0Samba\0"))
    resp = h1(0x73, mid, uid=uid, resp=True) + w1(struct.pack("<BBHHH", 0xFF, 0, 0, 0, 0))
    yield from rt(req, resp)
    mid += 1
    path = u16(f"\\\\{server}\\DATA\0")
    req = h1(0x75, mid, uid=uid) + w1(struct.pack("<BBHHH", 0xFF, 0, 0, 0, 1), b"\0" + path + b"?????\0")
    resp = h1(0x75, mid, tid=tid, uid=uid, resp=True) + w1(struct.pack("<BBHH", 0xFF, 0, 0, 1), b"A:\0")
    yield from rt(req, resp)
    mid += 1
    for name, data, upload in files:
        fid = rng.randint(1, 0xFFFE)
        nm = u16("\\" + name + "\0")
        disposition, action = (5, 2) if upload else (1, 1)
        req = h1(0xA2, mid, tid, uid) + w1(struct.pack("<BBHBHIIIQIIIIIB", 0xFF, 0, 0, 0, len(nm) - 2, 0x16, 0,
                                                       0x12019F if upload else 0x120089, 0, 0x80, 7, disposition,
                                                       0x40, 2, 0), b"\0" + nm)
        eof = 0 if upload else len(data)
        resp = h1(0xA2, mid, tid, uid, resp=True) + w1(struct.pack("<BBHBHIQQQQIQQHHB", 0xFF, 0, 0, 0, fid, action, 0, 0,
                                                                   0, 0, 0x80, eof, eof, 0, 0, 0))
        yield from rt(req, resp)
        mid += 1
        for off in range(0, len(data), CHUNK):
            chunk = data[off:off + CHUNK]
            if upload:
                req = h1(0x2F, mid, tid, uid) + w1(struct.pack("<BBHHIIHHHHHI", 0xFF, 0, 0, fid, off, 0, 0, 0, 0,
                                                               len(chunk), 64, 0), b"\0" + chunk)
                resp = h1(0x2F, mid, tid, uid, resp=True) + w1(struct.pack("<BBHHHI", 0xFF, 0, 0, len(chunk), 0, 0))
            else:
                req = h1(0x2E, mid, tid, uid) + w1(struct.pack("<BBHHIHHIHI", 0xFF, 0, 0, fid, off, len(chunk),
                                                               len(chunk), 0, 0, 0))
                resp = h1(0x2E, mid, tid, uid, resp=True) + w1(struct.pack("<BBHHHHHHH8s", 0xFF, 0, 0, 0xFFFF, 0, 0,
                                                                           len(chunk), 60, 0, b"\0" * 8), b"\0" + chunk)
            yield from rt(req, resp)
            mid = mid % 0xFFFF + 1
        req = h1(0x04, mid, tid, uid) + w1(struct.pack("<HI", fid, 0))
        resp = h1(0x04, mid, tid, uid, resp=True) + w1(b"")
        yield from rt(req, resp)
        mid = mid % 0xFFFF + 1
        counts["files"] += 1
        counts["file_bytes"] += len(data)


def connection(w, rng, counts, hashes, index):
    client, server = rng.choice(CLIENTS), rng.choice(SERVERS)
    conn = pcapgen.TcpConn(w, client, server, 49152 + index % 16000, 445, rng.getrandbits(32), rng.getrandbits(32))
    smb2 = rng.random() < 2 / 3
    files = []
    for i in range(rng.randint(2, 12)):
        size = int(math.exp(rng.uniform(math.log(200), math.log(4 << 20))))
        data = rng.randbytes(size)
        upload = rng.random() < 0.5
        name = f"plant{index:05d}\\{'upload' if upload else 'download'}-{i:02d}.bin"
        files.append((name, data, upload))
        hashes[name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": size, "smb": 2 if smb2 else 1,
                        "direction": "upload" if upload else "download"}
    yield from conn.handshake()
    yield from (smb2_session if smb2 else smb1_session)(rng, conn, files, counts, server)
    yield from conn.close()
    counts["connections"] += 1
    counts["smb2_connections" if smb2 else "smb1_connections"] += 1


def generate(out, total_bytes, seed, active=8):
    rng = random.Random(seed)
    w = pcapgen.PcapWriter(out)
    counts = {"connections": 0, "smb1_connections": 0, "smb2_connections": 0, "files": 0, "file_bytes": 0}
    hashes = {}

    def conns():
        i = 0
        while w.bytes < total_bytes:
            yield connection(w, rng, counts, hashes, i)
            i += 1

    pcapgen.interleave(w, rng, conns(), active, gap_us=20)
    w.close()
    meta = dict(counts, packets=w.packets, bytes=w.bytes, seed=seed, files_sha256=hashes)
    with open(out + ".meta.json", "w") as fh:
        json.dump(meta, fh, indent=1)
    return meta


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--bytes", type=int, default=400 << 20, help="capture size to reach (bytes of frames)")
    ap.add_argument("--seed", type=int, default=5008)
    ap.add_argument("--active", type=int, default=8)
    a = ap.parse_args()
    meta = generate(a.out, a.bytes, a.seed, a.active)
    meta.pop("files_sha256")
    print(json.dumps(meta))


if __name__ == "__main__":
    main()
