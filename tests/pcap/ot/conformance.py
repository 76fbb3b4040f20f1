#!/usr/bin/python3
"""OT decoder conformance through the real binary (issue 4 parts 7 and 8).

Each capture of the shared corpus below runs through
`sluice --pcap CAP --eve EVE` (EVE types modbus, s7comm, dnp3, iec104, enip
on) and through Debian's tshark (`-T json`, with `-d tcp.port==N,proto` where
the port is not the protocol's own). From both, the script counts the decoded
PDUs of the capture by their identifying fields:

  modbus  request/response + function code (+ exception), and the unit id,
          address and quantity of every read/write request (spot values);
  s7comm  ROSCTR + function (job, ack_data), ROSCTR alone (ack), userdata
          type + function group + subfunction;
  iec104  APCI type (I, S, U + U function) and ASDU type id + cause of
          transmission;
  dnp3    application function code, and function + object group/variation
          of every object header;
  enip    encapsulation command, and CIP service code + request/response
          (every service of a Multiple Service Packet too).

The two sides must agree exactly, apart from the differences listed in
EXCEPTIONS, each with its reason (a difference listed there that no longer
occurs fails too, so the list stays true). Where Zeek's baselines exist
(zeek/baseline/...modbus.*, ...dnp3.*: modbus.log and dnp3.log), the function
names and their counts are compared with Sluice's as well. Where
suricata-verify has rules and expected events for a Modbus, DNP3 or ENIP case,
the rules are loaded into sluice and every check of the case's test.yaml must
hold (alerts by sid and count, and the EVE fields the checks name); cases or
rules that use keywords Sluice does not have are listed in SV_SKIPPED.

Environment: SLUICE_BINARY (the binary), SLUICE_CORPUS (the shared corpus;
without it the test is skipped, exit 77). Needs tshark (Debian's 4.0).
"""
import collections
import concurrent.futures
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

EVE_TYPES = "alert,flow,stats,modbus,s7comm,dnp3,iec104,enip"

# (protocol, capture under SLUICE_CORPUS, tshark decode-as arguments).
CAPTURES = [
    ("modbus", "suricata-verify/tests/modbus/modbus.pcap", []),
    ("modbus", "zeek/traces/modbus/modbus-and-non-modbus-p502.pcap", []),
    ("modbus", "zeek/traces/modbus/modbusSmall.pcap", []),
    ("modbus", "zeek/traces/modbus/fuzz-72.pcap", []),
    ("modbus", "zeek/traces/modbus/fuzz-1011.pcap", []),
    ("modbus", "iti-ics/pcaps/ModbusTCP/modbus_test_data_part1.pcap", []),
    ("s7comm", "iti-ics/pcaps/s7/s7comm_downloading_block_db1.pcap", []),
    ("s7comm", "iti-ics/pcaps/s7/s7comm_reading_plc_status.pcap", []),
    ("s7comm", "iti-ics/pcaps/s7/s7comm_varservice_libnodavedemo.pcap", []),
    ("s7comm", "iti-ics/pcaps/s7/s7comm_program_blocklist_onlineview.pcap", []),
    ("s7comm", "iti-ics/pcaps/s7/snap7_s300_stop.pcapng", []),
    ("iec104", "iti-ics/pcaps/IEC60870-5-104/TestDissectIec104.pcap", []),
    ("iec104", "ndpi-4.2/pcap/IEC104.pcap", []),
    ("dnp3", "iti-ics/pcaps/dnp3/dnp3_test_data_part1.pcap", []),
    ("dnp3", "iti-ics/pcaps/dnp3/select_operate_and_responses.pcap", []),
    ("dnp3", "suricata-verify/tests/dnp3/dnp3-eve/input.pcap", []),
    ("dnp3", "zeek/traces/dnp3/dnp3_read.pcap", []),
    ("dnp3", "zeek/traces/dnp3/dnp3_select_operate.pcap", []),
    ("dnp3", "zeek/traces/dnp3/dnp3_file_read.pcap", []),
    ("dnp3", "zeek/traces/dnp3/dnp3_file_write.pcap", []),
    ("dnp3", "zeek/traces/dnp3/dnp3_udp_read.pcap", []),
    ("dnp3", "zeek/traces/dnp3/dnp3_udp_write.pcap", []),
    ("enip", "iti-ics/pcaps/EthernetIP/enip_test.pcap", []),
    ("enip", "iti-ics/pcaps/EthernetIP/cip-multiple-1.pcap", []),
    ("enip", "iti-ics/pcaps/EthernetIP/cip_start_plc.pcap", []),
    ("enip", "iti-ics/pcaps/EthernetIP/cip_stop_plc.pcap", []),
    ("enip", "suricata-verify/tests/enip-keywords/enip_cip_example.pcap", []),
]

# Zeek baselines: capture -> baseline log (zeek's btests name their traces).
ZEEK = {
    "zeek/traces/modbus/modbus-and-non-modbus-p502.pcap":
        "zeek/baseline/scripts.base.protocols.modbus.modbus_and_non_modbus_on_port_502/modbus.log",
    "zeek/traces/modbus/fuzz-72.pcap": "zeek/baseline/scripts.base.protocols.modbus.exception_handling/modbus.log",
    "zeek/traces/modbus/fuzz-1011.pcap": "zeek/baseline/scripts.base.protocols.modbus.register_parsing/modbus.log",
    "zeek/traces/dnp3/dnp3_read.pcap": "zeek/baseline/scripts.base.protocols.dnp3.dnp3_read/dnp3.log",
    "zeek/traces/dnp3/dnp3_select_operate.pcap": "zeek/baseline/scripts.base.protocols.dnp3.dnp3_select_operate/dnp3.log",
    "zeek/traces/dnp3/dnp3_file_read.pcap": "zeek/baseline/scripts.base.protocols.dnp3.dnp3_file_read/dnp3.log",
    "zeek/traces/dnp3/dnp3_file_write.pcap": "zeek/baseline/scripts.base.protocols.dnp3.dnp3_file_write/dnp3.log",
    "zeek/traces/dnp3/dnp3_udp_read.pcap": "zeek/baseline/scripts.base.protocols.dnp3.dnp3_udp_read/dnp3.log",
    "zeek/traces/dnp3/dnp3_udp_write.pcap": "zeek/baseline/scripts.base.protocols.dnp3.dnp3_udp_write/dnp3.log",
}

# suricata-verify cases whose rules and checks run here.
SV_CASES = [
    "suricata-verify/tests/modbus",
    "suricata-verify/tests/dnp3/dnp3-eve",
    "suricata-verify/tests/dnp3/dnp3-dnp3_func-alert",
    "suricata-verify/tests/dnp3/dnp3-dnp3_obj-alert",
    "suricata-verify/tests/enip-alert",
    "suricata-verify/tests/enip-keywords",
]
# Not run, with the reason.
SV_SKIPPED = {
    "dnp3/dnp3-dnp3_data-alert": "dnp3_data sticky buffer is not a Sluice keyword",
    "dnp3/dnp3-ind-keyword": "Suricata 9's dnp3.ind keyword (Sluice has dnp3_ind)",
    "dnp3/dnp3-lua": "Lua scripts",
    "dnp3/dnp3-flood, dnp3-max-objects, dnp3-max-points, dnp3-too-long-reassembly-*":
        "app-layer-event rules (Sluice counts these conditions as decoder counters, not rule events)",
    "enip-frames": "frame keyword",
    "enip-keywords-suricata8": "Suricata 8's enip.* keywords",
    "enip-log-identity": "needs Suricata 8's alert metadata; the same capture's identity is checked by enip-alert's run",
}

# Keys of suricata-verify checks that Sluice's EVE does not have, by design:
# pcap_cnt (Suricata's packet number), packet_info (Suricata 8's link type),
# DNP3 point values (`points`: docs/ot-protocols.md, not logged), and the
# flow event's Suricata-specific timing and flags (age, reason "shutdown",
# tcp flag summaries).
SV_IGNORED_KEY = re.compile(r"^(pcap_cnt|packet_info\.|flow\.(age|reason|state)|tcp\.)|\.points\[")

# Known, explained differences: (capture, key) -> reason. Key is the counter
# key as printed in a mismatch; the values must differ exactly as recorded
# (sluice count, tshark/zeek count).
#
# A key "*" covers every difference of that capture: used only for captures
# that are malformed by construction, where per-PDU agreement with a dissector
# that decodes each segment on its own is not expected; the capture still
# runs (no crash, the rest of its events are produced) and must still differ
# (so the entry stays true).
EXCEPTIONS = {
    # Zeek's fuzzed Modbus traces: the TCP sequence numbers jump (Sluice's
    # reassembly reports gaps: modbus gap_dropped_pdu 8, resync_bytes 125 on
    # fuzz-72), tshark and Zeek decode each 12-byte segment on its own. After a
    # gap Sluice resynchronises only on an MBAP header with a public function
    # code (docs/ot-protocols.md, "Gaps"), so the fuzzed requests with
    # reserved codes 29-71 and their exceptions are skipped.
    ("zeek/traces/modbus/fuzz-72.pcap", "*"): (None, None, "fuzzed trace with sequence gaps; strict resync skips reserved function codes"),
    ("zeek/traces/modbus/fuzz-72.pcap [zeek]", "*"): (None, None, "as above, against Zeek's modbus.log"),
    ("zeek/traces/modbus/fuzz-1011.pcap [zeek]", "*"): (None, None,
        "fuzzed trace: Zeek logs 3 READ_INPUT_REGISTERS responses, tshark and Sluice decode 2 (they agree; the "
        "third is in segments with fuzzed sequence numbers, not examined further)"),
    # Wireshark's IEC-104 dissector regression capture: APDUs split across
    # segments, APDU lengths below 4, an invalid U function (0x05 = STARTDT
    # act + STOPDT act) and truncated ASDUs. Sluice's strict APCI check
    # resynchronises after them; tshark decodes the broken APDUs it can.
    ("iti-ics/pcaps/IEC60870-5-104/TestDissectIec104.pcap", "*"): (None, None,
        "dissector regression capture with deliberately malformed APDUs"),
    # dnp3_test_data_part1: requests whose last object header has an invalid
    # qualifier (0xED): tshark lists g60v4 before failing on the qualifier,
    # Sluice reports the headers before it and `complete: false`.
    ("iti-ics/pcaps/dnp3/dnp3_test_data_part1.pcap", "('object', 21, 60, 4)"): (5, 7,
        "object header with invalid qualifier 0xED: tshark counts it, Sluice stops before it (complete: false)"),
    # The same capture's STOP_APPL (18) requests: tshark 4.0 does not dissect
    # the object headers of function 18; Sluice does (g60v2, g1v7, then the
    # invalid 0xED qualifier).
    ("iti-ics/pcaps/dnp3/dnp3_test_data_part1.pcap", "('object', 18, 1, 7)"): (4, 0,
        "tshark 4.0 does not decode object headers of STOP_APPL"),
    ("iti-ics/pcaps/dnp3/dnp3_test_data_part1.pcap", "('object', 18, 60, 2)"): (4, 0,
        "tshark 4.0 does not decode object headers of STOP_APPL"),
}
# suricata-verify checks that do not hold by design (case, sid or match text).
SV_EXCEPTIONS = {
    ("suricata-verify/tests/modbus", "modbus.response.category"):
        "Sluice raises a Modbus alert on the request, before its response exists, so the alert's modbus object has "
        "the request only (Suricata 7 logs the transaction as it is when the alert is written, with the response)",
}


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def skip(msg):
    print("SKIP:", msg)
    sys.exit(77)


_run_ids = itertools.count()


def sluice(binary, pcap, tmp, rules=(), sets=()):
    """Runs sluice over a capture; returns its EVE events. A small EAL memory
    (the default reserves 512 MiB, slow to set up on a loaded machine)."""
    n = next(_run_ids)
    eve = os.path.join(tmp, f"eve-{n}.json")
    cpus = sorted(os.sched_getaffinity(0))
    lcores = f"0@{cpus[0]},1@{cpus[1 % len(cpus)]}"
    cmd = [binary, "--pcap", pcap, "--eve", eve, "--workers", "1", "--no-metrics", "--control", "",
           "--set", "capture.mbufs=2048", "--set", "eve.types=" + EVE_TYPES,
           f"--eal=--no-pci --no-huge -m 128 --file-prefix=sluiceconf{os.getpid()}x{n} --lcores={lcores} --log-level=error"]
    for r in rules:
        cmd += ["--rules", r]
    for s in sets:
        cmd += ["--set", s]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        fail(f"exit {r.returncode}: {' '.join(cmd)}\n{r.stdout}\n{r.stderr}")
    with open(eve) as f:
        return [json.loads(line) for line in f if line.strip()]


def tshark(pcap, decode_as, display_filter):
    cmd = ["tshark", "-r", pcap, "-T", "json", "--no-duplicate-keys", "-Y", display_filter]
    for d in decode_as:
        cmd += ["-d", d]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        fail(f"tshark failed on {pcap}: {r.stderr}")
    return [p["_source"]["layers"] for p in json.loads(r.stdout or "[]")]


def as_list(v):
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def walk(node, key):
    """Values of `key` anywhere under node, in document order."""
    out = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key:
                out.extend(as_list(v))
            else:
                out.extend(walk(v, key))
    elif isinstance(node, list):
        for v in node:
            out.extend(walk(v, key))
    return out


def first(node, key):
    v = walk(node, key)
    return v[0] if v else None


def num(s):
    return int(s, 0) if isinstance(s, str) else int(s)


def ports(layers):
    tcp = layers.get("tcp") or layers.get("udp") or {}
    return num(first(tcp, "tcp.srcport") or first(tcp, "udp.srcport") or 0), \
        num(first(tcp, "tcp.dstport") or first(tcp, "udp.dstport") or 0)


# ---- Modbus ----------------------------------------------------------------

def modbus_tshark(frames):
    counts, spots = collections.Counter(), []
    for l in frames:
        sport, dport = ports(l)
        mbtcp, modbus = as_list(l.get("mbtcp")), as_list(l.get("modbus"))
        for m, h in zip(modbus, mbtcp):
            fc = num(first(m, "modbus.func_code"))
            exc = first(m, "modbus.exception_code")
            request = dport == 502
            if request:
                counts[("request", fc)] += 1
                if fc in (1, 2, 3, 4, 15, 16):
                    qty = first(m, "modbus.bit_cnt") if fc in (1, 2, 15) else first(m, "modbus.word_cnt")
                    spots.append((num(first(h, "mbtcp.unit_id")), fc, num(first(m, "modbus.reference_num")), num(qty)))
                elif fc in (5, 6):
                    spots.append((num(first(h, "mbtcp.unit_id")), fc, num(first(m, "modbus.reference_num")), 1))
            else:
                counts[("response", fc, "exception") if exc is not None else ("response", fc)] += 1
    return counts, spots


def modbus_sluice(events):
    counts, spots = collections.Counter(), []
    for e in events:
        if e["event_type"] != "modbus":
            continue
        req, rsp = e["modbus"].get("request"), e["modbus"].get("response")
        if req:
            fc = req["function_raw"]
            counts[("request", fc)] += 1
            if fc in (1, 2, 3, 4, 5, 6, 15, 16):
                acc = req.get("write") if fc in (5, 6, 15, 16) else req.get("read")
                if acc:
                    spots.append((req["unit_id"], fc, acc["address"], acc.get("quantity", 1)))
                else:
                    spots.append((req["unit_id"], fc, None, None))
        if rsp:
            fc = rsp["function_raw"]
            counts[("response", fc & 0x7F, "exception") if fc & 0x80 else ("response", fc)] += 1
    return counts, spots


# ---- S7comm ----------------------------------------------------------------

ROSCTR = {"job": 1, "ack": 2, "ack_data": 3, "userdata": 7}
UD_TYPE = {"push": 0, "request": 4, "response": 8}


def s7_tshark(frames):
    counts = collections.Counter()
    for l in frames:
        for s in as_list(l.get("s7comm")):
            rosctr = num(first(s, "s7comm.header.rosctr"))
            if rosctr == 7:
                counts[("userdata", num(first(s, "s7comm.param.userdata.type")),
                        num(first(s, "s7comm.param.userdata.funcgroup")),
                        num(first(s, "s7comm.param.userdata.subfunc")))] += 1
            else:
                f = first(s, "s7comm.param.func")
                counts[(rosctr, num(f) if f is not None else None)] += 1
    return counts, None


def s7_sluice(events):
    counts = collections.Counter()
    for e in events:
        if e["event_type"] != "s7comm":
            continue
        s = e["s7comm"]
        if s.get("protocol_id") == 114 or s.get("item_index", 0) != 0:
            continue  # S7comm-plus (tshark 4.0 has no dissector); later items of one PDU
        rosctr = ROSCTR[s["rosctr"]]
        if rosctr == 7:
            u = s["userdata"]
            counts[("userdata", UD_TYPE.get(u["type"], u["type"]), u["group"], u["subfunction"])] += 1
        else:
            counts[(rosctr, s.get("function_code"))] += 1
    return counts, None


# ---- IEC 60870-5-104 ---------------------------------------------------------

# tshark's iec60870_104.utype: the U function bits of the first octet, shifted
# right by 2.
U_FUNCS = {"startdt_act": 0x01, "startdt_con": 0x02, "stopdt_act": 0x04, "stopdt_con": 0x08,
           "testfr_act": 0x10, "testfr_con": 0x20}


def iec104_tshark(frames):
    counts = collections.Counter()
    for l in frames:
        for a in as_list(l.get("104apci")) + as_list(l.get("iec60870_104")):
            t = first(a, "iec60870_104.type")
            if t is None:
                counts[("malformed_apdu",)] += 1  # tshark's "APDU less than 4 bytes"
                continue
            t = num(t)
            key = {0: "I", 1: "S", 3: "U"}.get(t, t)
            if key == "U":
                counts[("U", num(first(a, "iec60870_104.utype")))] += 1
            elif key == "S":
                continue  # acknowledgements only: Sluice counts them, reports none (docs/ot-protocols.md)
            else:
                counts[(key,)] += 1
        for a in as_list(l.get("104asdu")) + as_list(l.get("iec60870_asdu")):
            tid, cot = first(a, "iec60870_asdu.typeid"), first(a, "iec60870_asdu.causetx")
            if tid is None or cot is None:
                counts[("malformed_asdu",)] += 1
                continue
            counts[("asdu", num(tid), num(cot))] += 1
    return counts, None


def iec104_sluice(events):
    counts = collections.Counter()
    for e in events:
        if e["event_type"] != "iec104":
            continue
        apci = e["iec104"]["apci"]
        if apci["format"] == "U":
            counts[("U", U_FUNCS.get(apci.get("function"), apci.get("function")))] += 1
        else:
            counts[(apci["format"],)] += 1
        asdu = e["iec104"].get("asdu")
        if asdu:
            counts[("asdu", asdu["type_id"], asdu["cause"])] += 1
    return counts, None


# ---- DNP3 --------------------------------------------------------------------

def dnp3_tshark(frames):
    counts = collections.Counter()
    for l in frames:
        for d in as_list(l.get("dnp3")):
            funcs = walk(d, "dnp3.al.func")
            if not funcs:
                continue
            fc = num(funcs[0])
            if fc == 0:
                continue  # application confirm: no record in Sluice (as in Suricata)
            counts[("function", fc)] += 1
            for o in walk(d, "dnp3.al.obj"):
                o = num(o)
                counts[("object", fc, o >> 8, o & 0xFF)] += 1
    return counts, None


def dnp3_sluice(events):
    counts = collections.Counter()
    for e in events:
        if e["event_type"] != "dnp3":
            continue
        app = e["dnp3"]["application"]
        fc = app["function_code"]
        counts[("function", fc)] += 1
        for o in app.get("objects", []):
            counts[("object", fc, o["group"], o["variation"])] += 1
    return counts, None


# ---- EtherNet/IP + CIP ---------------------------------------------------------

def enip_tshark(frames):
    counts = collections.Counter()
    for l in frames:
        for e in as_list(l.get("enip")):
            c = first(e, "enip.command")
            if c is not None:
                counts[("command", num(c))] += 1
        for name in ("cip", "cipcm", "cipcls", "cipmb", "cipsafety", "cipcco"):
            for c in as_list(l.get(name)):
                scs, rrs = walk(c, "cip.sc"), walk(c, "cip.rr")
                for sc, rr in zip(scs, rrs):
                    counts[("cip", num(sc) & 0x7F, "response" if num(rr) else "request")] += 1
    return counts, None


ENIP_COMMANDS = {"nop": 0x00, "list_services": 0x04, "list_identity": 0x63, "list_interfaces": 0x64,
                 "register_session": 0x65, "unregister_session": 0x66, "send_rr_data": 0x6F,
                 "send_unit_data": 0x70, "indicate_status": 0x72, "cancel": 0x73}


def enip_sluice(events):
    counts = collections.Counter()
    for e in events:
        if e["event_type"] != "enip":
            continue
        for side in ("request", "response"):
            m = e["enip"].get(side)
            if not m:
                continue
            cmd = m.get("command_code", m.get("command"))
            counts[("command", ENIP_COMMANDS.get(cmd, cmd))] += 1
            cip = m.get("cip")
            if cip and "service_code" in cip:
                counts[("cip", cip["service_code"] & 0x7F, side)] += 1
                for s in cip.get("multiple", []):
                    if "service_code" in s:
                        counts[("cip", s["service_code"] & 0x7F, side)] += 1
    return counts, None


PROTOCOLS = {
    "modbus": ("modbus", modbus_tshark, modbus_sluice),
    "s7comm": ("s7comm", s7_tshark, s7_sluice),
    "iec104": ("iec60870_104", iec104_tshark, iec104_sluice),
    "dnp3": ("dnp3", dnp3_tshark, dnp3_sluice),
    "enip": ("enip || cip", enip_tshark, enip_sluice),
}


# ---- Zeek ----------------------------------------------------------------------

MODBUS_NAMES = {
    "READ_COILS": 1, "READ_DISCRETE_INPUTS": 2, "READ_HOLDING_REGISTERS": 3, "READ_INPUT_REGISTERS": 4,
    "WRITE_SINGLE_COIL": 5, "WRITE_SINGLE_REGISTER": 6, "READ_EXCEPTION_STATUS": 7, "DIAGNOSTICS": 8,
    "GET_COMM_EVENT_COUNTER": 11, "GET_COMM_EVENT_LOG": 12, "WRITE_MULTIPLE_COILS": 15,
    "WRITE_MULTIPLE_REGISTERS": 16, "REPORT_SLAVE_ID": 17, "READ_FILE_RECORD": 20, "WRITE_FILE_RECORD": 21,
    "MASK_WRITE_REGISTER": 22, "READ_WRITE_MULTIPLE_REGISTERS": 23, "READ_FIFO_QUEUE": 24,
    "ENCAP_INTERFACE_TRANSPORT": 43,
}


def zeek_log(path):
    rows, fields = [], None
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("#fields"):
                fields = line.split("\t")[1:]
            elif line and not line.startswith("#"):
                rows.append(dict(zip(fields, line.split("\t"))))
    return rows


def zeek_counts(proto, path):
    counts = collections.Counter()
    for r in zeek_log(path):
        if proto == "modbus":
            name = r["func"]
            code = int(name[len("unknown-"):]) if name.startswith("unknown-") else MODBUS_NAMES[name]
            kind = "request" if r["pdu_type"] == "REQ" else "response"
            exc = r["exception"] != "-"
            counts[(kind, code & 0x7F, "exception") if exc else (kind, code & 0x7F)] += 1
        else:
            if r["fc_request"] != "-":
                counts[("request", r["fc_request"].lower())] += 1
            if r["fc_reply"] != "-":
                counts[("response", r["fc_reply"].lower())] += 1
    return counts


def sluice_zeek_counts(proto, events):
    if proto == "modbus":
        c, _ = modbus_sluice(events)
        return c
    counts = collections.Counter()
    for e in events:
        if e["event_type"] == "dnp3":
            app = e["dnp3"]["application"]
            counts[("request" if app["function_code"] < 128 else "response", app["function"])] += 1
    return counts


# ---- comparison ------------------------------------------------------------------

def compare(name, ours, theirs, other, problems, used):
    keys = sorted(set(ours) | set(theirs), key=str)
    wild = EXCEPTIONS.get((name, "*"))
    for k in keys:
        a, b = ours.get(k, 0), theirs.get(k, 0)
        if a == b:
            continue
        if wild:
            used.add((name, "*"))
            print(f"  known: {name} {k}: sluice {a}, {other} {b}: {wild[2]}")
            continue
        exc = EXCEPTIONS.get((name, str(k)))
        if exc and exc[0] == a and exc[1] == b:
            used.add((name, str(k)))
            print(f"  known: {name} {k}: sluice {a}, {other} {b}: {exc[2]}")
            continue
        problems.append(f"{name} {k}: sluice {a}, {other} {b}")


# ---- suricata-verify -------------------------------------------------------------

PATH_PART = re.compile(r"([^.\[\]]+)((?:\[\d+\])*)")


def sv_lookup(event, dotted):
    cur = event
    for part in dotted.split("."):
        m = PATH_PART.fullmatch(part)
        if not m or not isinstance(cur, dict) or m.group(1) not in cur:
            return KeyError
        cur = cur[m.group(1)]
        for idx in re.findall(r"\[(\d+)\]", m.group(2)):
            if not isinstance(cur, list) or int(idx) >= len(cur):
                return KeyError
            cur = cur[int(idx)]
    return cur


def sv_case(binary, corpus, case, tmp, problems):
    import yaml
    d = os.path.join(corpus, case)
    with open(os.path.join(d, "test.yaml")) as f:
        spec = yaml.safe_load(f)
    pcap = os.path.join(d, spec["pcap"]) if spec.get("pcap") else \
        next(os.path.join(d, f) for f in sorted(os.listdir(d)) if f.endswith(".pcap"))
    rules = [os.path.join(d, f) for f in sorted(os.listdir(d)) if f.endswith(".rules")]
    events = sluice(binary, pcap, tmp, rules=rules)
    # Filters that name a Suricata version are alternatives for the same match:
    # one of them must hold.
    plain, versioned = [], collections.defaultdict(list)
    for c in spec.get("checks", []):
        flt = c.get("filter")
        if flt is None:
            continue
        if "requires" in flt:
            versioned[json.dumps(flt["match"], sort_keys=True)].append(flt)
        else:
            plain.append(flt)

    def count(match):
        kept = {k: v for k, v in match.items() if not SV_IGNORED_KEY.search(k)}
        return sum(1 for e in events if all(sv_lookup(e, k) == v for k, v in kept.items())), len(kept) < len(match)

    def agrees(got, stripped, want):
        # Without the keys Sluice lacks, identical PDUs (told apart only by
        # pcap_cnt) may match together: then at least the expected number.
        return got in want or (stripped and got >= min(want) and (got > 0) == (min(want) > 0))

    def excused(match):
        for (c, text), why in SV_EXCEPTIONS.items():
            if c == case and text in json.dumps(match):
                print(f"  known: {case}: {json.dumps(match)[:120]}: {why}")
                return True
        return False

    n = 0
    for flt in plain:
        got, stripped = count(flt["match"])
        n += 1
        if not agrees(got, stripped, [flt["count"]]) and not excused(flt["match"]):
            problems.append(f"{case}: {got} events match {flt['match']}, suricata-verify expects {flt['count']}")
    for alts in versioned.values():
        got, stripped = count(alts[0]["match"])
        n += 1
        want = sorted({a["count"] for a in alts})
        if not agrees(got, stripped, want) and not excused(alts[0]["match"]):
            problems.append(f"{case}: {got} events match {alts[0]['match']}, suricata-verify expects one of {want}")
    sids = collections.Counter(e["alert"]["signature_id"] for e in events if e["event_type"] == "alert")
    print(f"{case}: {n} checks, alerts by sid {dict(sorted(sids.items()))}")


def main():
    binary = os.environ.get("SLUICE_BINARY")
    if not binary or not os.access(binary, os.X_OK):
        fail("SLUICE_BINARY is not set to the sluice binary")
    corpus = os.environ.get("SLUICE_CORPUS", "")
    if not corpus or not os.path.isdir(corpus):
        skip("corpus not available (SLUICE_CORPUS)")
    if not shutil.which("tshark"):
        skip("tshark is not installed")
    problems, used = [], set()
    with tempfile.TemporaryDirectory(prefix="sluice-otconf-") as tmp:
        def one(item):
            proto, rel, decode_as = item
            pcap = os.path.join(corpus, rel)
            if not os.path.exists(pcap):
                return item, None, None
            flt, from_tshark, _ = PROTOCOLS[proto]
            return item, tshark(pcap, decode_as, flt), sluice(binary, pcap, tmp)

        only = os.environ.get("CONFORMANCE_ONLY", "")  # a protocol or part of a path, for debugging
        with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
            results = list(pool.map(one, [c for c in CAPTURES if only in c[1] or only == c[0]]))
        for (proto, rel, _), frames, events in results:
            if frames is None:
                fail(f"capture missing from the corpus: {rel}")
            _, from_tshark, from_sluice = PROTOCOLS[proto]
            theirs, their_spots = from_tshark(frames)
            ours, our_spots = from_sluice(events)
            before = len(problems)
            if not theirs:
                problems.append(f"{rel}: tshark decodes no {proto} PDU (wrong capture?)")
            compare(rel, ours, theirs, "tshark", problems, used)
            if their_spots is not None and sorted(our_spots, key=str) != sorted(their_spots, key=str):
                diff = collections.Counter(our_spots)
                diff.subtract(collections.Counter(their_spots))
                problems.append(f"{rel}: request unit/function/address/quantity differ (sluice - tshark): "
                                f"{ {k: v for k, v in diff.items() if v} }")
            line = f"{rel}: {sum(theirs.values())} decoded fields counted over {len(theirs)} keys"
            if rel in ZEEK:
                zeek = zeek_counts(proto, os.path.join(corpus, ZEEK[rel]))
                compare(rel + " [zeek]", sluice_zeek_counts(proto, events), zeek, "zeek", problems, used)
                line += f"; zeek: {sum(zeek.values())} PDUs"
            print(("ok: " if len(problems) == before else "MISMATCH: ") + line)
        for case in (c for c in SV_CASES if only in c):
            sv_case(binary, corpus, case, tmp, problems)
    stale = set(EXCEPTIONS) - used
    for k in sorted(stale):
        problems.append(f"listed exception no longer occurs: {k}")
    for case, why in SV_SKIPPED.items():
        print(f"not run: suricata-verify {case}: {why}")
    if problems:
        fail(f"{len(problems)} differences:\n  " + "\n  ".join(problems))
    print(f"ok: {len(CAPTURES)} captures agree with tshark (and Zeek's logs where present), "
          f"{len(SV_CASES)} suricata-verify cases pass, {len(used)} known differences")


if __name__ == "__main__":
    main()
