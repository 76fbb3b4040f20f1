#!/usr/bin/python3
"""Writes the SMB capture cases (tests/pcap/smb/carve_*.json) from the shared
corpus's ground truth: every file tshark 4.0.17 exports from an SMB capture
(ground-truth/smb-export-objects-tshark-4.0.17.tsv) must appear in a fileinfo
event with the same SHA-256 when the capture goes through the sluice binary.

tshark also exports named pipes (DCERPC over IPC$: srvsvc, samr, psexec's
pipes ...), which are not files: Sluice counts pipe data and carves nothing,
so those rows are left out (listed in each case's description). Captures in
Linux cooked (SLL) framing are left out too: the data path decodes Ethernet.

Files are scanned with tests/pcap/smb/clamav-db (EICAR's MD5 signature, made
by sigtool): EICAR must be alerted, every other file clean.

For a partial read (a preview of a larger file) tshark's object is the bytes
read, and Sluice's fileinfo.sha256 covers the same contiguous prefix (the file
is TRUNCATED), so the hash is the same.

Usage: SLUICE_CORPUS=../shared/corpus tests/pcap/smb/make_cases.py
(the cases are checked in; run this again when the ground truth changes).
"""
import collections
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TABLE = "ground-truth/smb-export-objects-tshark-4.0.17.tsv"
EICAR_SHA256 = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"
PIPES = ("srvsvc", "svcctl", "atsvc", "spoolss", "lsarpc", "samr", "netlogon", "wkssvc", "winreg")


def base_name(exported):
    """tshark's object name without %5c escapes, leading backslashes and the
    "(N)" it adds to make duplicates unique."""
    n = exported.replace("%5c", "\\").lstrip("\\")
    return re.sub(r"\(\d+\)(?=(\.[^.\\]*)?$)", "", n)


def is_pipe(exported):
    n = base_name(exported)
    # psexec's pipes (PSEXESVC, PSEXESVC-host-pid-stdout); PSEXESVC.exe is its service binary, a file.
    psexec = n.lower().startswith(("psexesvc", "psexecsvc")) and "." not in n
    return n in PIPES or psexec


def encapsulation(path):
    r = subprocess.run(["capinfos", "-E", "-T", path], capture_output=True, text=True)
    lines = [l for l in r.stdout.splitlines() if l.strip()]
    return lines[-1].split("\t")[-1] if lines else ""


def main():
    corpus = os.environ.get("SLUICE_CORPUS")
    if not corpus or not os.path.isdir(corpus):
        sys.exit("SLUICE_CORPUS is not set to the shared corpus")
    rows = collections.defaultdict(list)
    with open(os.path.join(corpus, TABLE)) as f:
        next(f)
        for line in f:
            cols = line.rstrip("\n").split("\t")
            if len(cols) >= 5:
                rows[cols[0]].append({"name": cols[2], "size": int(cols[3]), "sha256": cols[4]})
    files_total = pipes_total = 0
    for pcap, objs in sorted(rows.items()):
        files = [o for o in objs if not is_pipe(o["name"])]
        pipes = sorted({base_name(o["name"]) for o in objs if is_pipe(o["name"])})
        files_total += len(files)
        pipes_total += len(objs) - len(files)
        if not files:
            continue
        enc = encapsulation(os.path.join(corpus, pcap))
        if enc != "ether":
            print(f"left out (framing {enc}): {pcap}", file=sys.stderr)
            continue
        parts = pcap.split("/")
        label = ("sv_" + parts[-2]) if parts[0] == "suricata-verify" else ("zeek_" + parts[-1].rsplit(".", 1)[0])
        name = "carve_" + re.sub(r"[^a-z0-9]+", "_", label.lower())
        shas = []
        for o in files:
            if o["sha256"] not in shas:
                shas.append(o["sha256"])
        desc = (f"{pcap}: each of the {len(files)} files tshark 4.0.17 exports is carved with the same SHA-256 "
                f"({len(shas)} distinct contents)")
        if pipes:
            desc += f"; named pipes tshark also exports are not files: {', '.join(pipes)}"
        # Scanned with a database holding one signature (EICAR's MD5, made by
        # sigtool): EICAR is malicious and alerted, every other file clean.
        events = []
        for s in shas:
            verdict = "malicious" if s == EICAR_SHA256 else "clean"
            events.append({"event_type": "fileinfo", "app_proto": "smb", "fileinfo.sha256": s,
                           "fileinfo.clamav.result": verdict})
        eicars = sum(1 for s in shas if s == EICAR_SHA256)
        if eicars:
            desc += "; EICAR is alerted"
            events.append({"event_type": "alert", "alert.signature_id": 9500001,
                           "alert.signature": "ClamAV: Sluice.Test.EICAR.UNOFFICIAL", "alert.category": "malware",
                           "alert.action": "allowed"})
        case = {
            "description": desc,
            "pcap": "corpus:" + pcap,
            "args": ["--clamav-db", "{case_dir}/clamav-db", "--set", "eve.types=fileinfo,smb,alert,flow,stats"],
            "workers": [1, 2],
            "volatile": ["scan_time_us"],
            "expect": {"events": events},
        }
        if not eicars:
            case["expect"]["no_events"] = [{"event_type": "alert"}]
        with open(os.path.join(HERE, name + ".json"), "w") as out:
            json.dump(case, out, indent=2)
            out.write("\n")
        print(f"{name}: {len(files)} files, {len(pipes)} pipe names")
    print(f"table: {files_total} files, {pipes_total} named-pipe objects", file=sys.stderr)


if __name__ == "__main__":
    main()
