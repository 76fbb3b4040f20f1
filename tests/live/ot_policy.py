#!/usr/bin/python3
"""Live: the OT allow-list policy on real Modbus/TCP through `sluice --inline`
(issue 4 part 8).

A Modbus server (Debian's python3-pymodbus 3.0) listens on 198.18.1.2:502 in
srv-ID; pymodbus clients in cli-ID speak from three addresses of the client
namespace: the HMI 198.18.1.1, the engineering station 198.18.1.3 and a host
nobody knows, 198.18.1.4. Each request is its own connection.

- ids: the HMI's reads pass; its write reaches the PLC and is one alert
  ("action":"allowed") naming the zone; after the policy file is edited and
  `sluice ctl reload` runs, the same write passes without an alert.
- ips: reads pass; the HMI's write is dropped with its flow: the client sees a
  timeout, the register keeps its value, EVE has the alert ("blocked") and a
  drop event. `sluice ctl assets` lists both ends with the veths' MACs, and
  the metrics endpoint counts them (sluice_ot_assets) and the denial.
- learn, then enforce: sluice --learn watches the HMI read and the engineering
  station write; the learned file (reviewed: default-action drop-flow) is
  enforced in ips mode on a new sluice: the same traffic passes without one
  alert, a write from the unknown host is denied (the client times out).

Needs root, iproute2, ethtool, ping, curl and python3-pymodbus (with
python3-serial and python3-serial-asyncio, which pymodbus imports).
"""

import json
import os
import signal
import time

import livenet
from livenet import SRV_V4

HMI, ENG, STRANGER = "198.18.1.1", "198.18.1.3", "198.18.1.4"

SERVER = r"""
import logging, sys
from pymodbus.server import StartTcpServer
from pymodbus.datastore import ModbusSequentialDataBlock, ModbusSlaveContext, ModbusServerContext
logging.basicConfig(level=logging.CRITICAL)
blocks = lambda: ModbusSequentialDataBlock(0, [0] * 300)
store = ModbusSlaveContext(di=blocks(), co=blocks(), hr=ModbusSequentialDataBlock(0, list(range(300))), ir=blocks())
StartTcpServer(context=ModbusServerContext(slaves={1: store}, single=False), address=(sys.argv[1], 502))
"""

# One request on its own connection: prints {"ok": bool, "values"|"error": ...}.
CLIENT = r"""
import json, sys
from pymodbus.client import ModbusTcpClient
src, server, op, addr, arg = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
c = ModbusTcpClient(server, port=502, source_address=(src, 0), timeout=2, retries=0)
if not c.connect():
    print(json.dumps({"ok": False, "error": "connect"}))
    sys.exit(0)
try:
    r = c.read_holding_registers(addr, arg, slave=1) if op == "read" else c.write_register(addr, arg, slave=1)
    if r.isError():
        print(json.dumps({"ok": False, "error": str(r)}))
    else:
        print(json.dumps({"ok": True, "values": getattr(r, "registers", None)}))
except Exception as e:
    print(json.dumps({"ok": False, "error": type(e).__name__ + ": " + str(e)}))
finally:
    c.close()
"""

POLICY = """\
default-action: alert
assets:
  hmi: 198.18.1.1
  engineering: 198.18.1.3
  plc: 198.18.1.2
zones:
  - name: cell
    addresses: plc
    action: drop-flow
rules:
  - name: hmi-reads
    clients: hmi
    servers: plc
    protocol: modbus
    functions: read_holding_registers
    units: 1
    addresses: 0-199
  - name: engineering-writes
    clients: engineering
    servers: plc
    protocol: modbus
    access: [read, write]
"""


def have_pymodbus():
    r = os.system("/usr/bin/python3 -c 'import pymodbus.client, pymodbus.server' >/dev/null 2>&1")
    return r == 0


class OtPolicyLive(livenet.LiveTestCase):
    tools = ("ip", "ethtool", "ping", "curl")
    tag = "otpolicy"

    def setUp(self):
        if not have_pymodbus():
            livenet.skip("python3-pymodbus (with python3-serial, python3-serial-asyncio) is not installed")
        super().setUp()
        b = self.bench
        for extra in (ENG, STRANGER):
            b.run(b.cli, "ip", "addr", "add", f"{extra}/24", "dev", b.cli_if)
        with open(b.path("server.py"), "w") as f:
            f.write(SERVER)
        with open(b.path("client.py"), "w") as f:
            f.write(CLIENT)
        self.server = b.spawn(b.srv, ["/usr/bin/python3", b.path("server.py"), SRV_V4], "modbus-server")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if b.run(b.srv, "ss", "-Htln", "sport = :502", check=False).stdout.strip():
                break
            if self.server.poll() is not None:
                self.fail(f"the Modbus server exited:\n{b.log(self.server)}")
            time.sleep(0.1)
        else:
            self.fail(f"the Modbus server did not listen:\n{b.log(self.server)}")

    def modbus(self, src, op, addr, arg):
        b = self.bench
        r = b.run(b.cli, "/usr/bin/python3", b.path("client.py"), src, SRV_V4, op, str(addr), str(arg), check=False, timeout=20)
        try:
            return json.loads(r.stdout.strip().splitlines()[-1])
        except (IndexError, ValueError):
            self.fail(f"client gave no result: {r.stdout} {r.stderr}")

    def write_policy(self, name, text):
        path = self.bench.path(name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def ot_alerts(self, s):
        return [e for e in s.events("alert") if "ot_policy" in e]

    def wait_events(self, s, predicate, timeout=10):
        """EVE is written by a thread: waits until `predicate(events)` holds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(s.events()):
                return True
            time.sleep(0.2)
        return False

    def mac_of(self, ns, dev):
        r = self.bench.run(ns, "cat", f"/sys/class/net/{dev}/address")
        return r.stdout.strip()

    def test_ids_alerts_and_reload(self):
        policy = self.write_policy("policy.yaml", POLICY)
        s = self.sluice(mode="ids", extra=("--policy", policy)).start()
        self.assertTrue(self.modbus(HMI, "read", 0, 10)["ok"])
        self.assertTrue(self.modbus(HMI, "read", 100, 20)["ok"])
        w = self.modbus(HMI, "write", 10, 4242)
        self.assertTrue(w["ok"], f"ids must not drop: {w}\n{s.log()}")
        self.assertEqual(self.modbus(ENG, "read", 10, 1)["values"], [4242])
        self.assertTrue(self.wait_events(s, lambda ev: any("ot_policy" in e for e in ev if e["event_type"] == "alert")),
                        s.log())
        alerts = self.ot_alerts(s)
        self.assertEqual(len(alerts), 1, alerts)
        a = alerts[0]
        self.assertEqual(a["alert"]["signature"],
                         f"OT policy: modbus write_single_register from {HMI} to {SRV_V4} unit 1 address 10 not allowed")
        self.assertEqual(a["alert"]["action"], "allowed")
        self.assertEqual(a["alert"]["signature_id"], 9100001)
        self.assertEqual(a["ot_policy"]["zone"], "cell")
        self.assertEqual(a["modbus"]["request"]["write"]["address"], 10)
        # The policy changes on disk; a reload takes it: the same write passes.
        self.write_policy("policy.yaml", POLICY.replace("    functions: read_holding_registers\n",
                                                        "    access: [read, write]\n"))
        r = s.ctl("reload")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        time.sleep(0.5)
        self.assertTrue(self.modbus(HMI, "write", 11, 7)["ok"])
        time.sleep(1)
        self.assertEqual(len(self.ot_alerts(s)), 1, self.ot_alerts(s))
        s.stop()
        self.assert_clean_exit(s)

    def test_ips_drops_the_hmis_write(self):
        policy = self.write_policy("policy.yaml", POLICY)
        s = self.sluice(mode="ips", extra=("--policy", policy), metrics="127.0.0.1:9987").start()
        r = self.modbus(HMI, "read", 0, 10)
        self.assertTrue(r["ok"], f"{r}\n{s.log()}")
        self.assertEqual(r["values"], list(range(1, 11)))
        w = self.modbus(HMI, "write", 10, 4242)
        self.assertFalse(w["ok"], f"the HMI's write got through: {w}\n{s.log()}")
        # The register kept its value; the engineering station may write.
        self.assertEqual(self.modbus(ENG, "read", 10, 1)["values"], [11])
        self.assertTrue(self.modbus(ENG, "write", 10, 5)["ok"])
        self.assertEqual(self.modbus(HMI, "read", 10, 1)["values"], [5])
        self.assertTrue(self.wait_events(s, lambda ev: any(e["event_type"] == "drop" for e in ev)), s.log())
        alerts = self.ot_alerts(s)
        self.assertEqual(len(alerts), 1, alerts)
        self.assertEqual(alerts[0]["alert"]["action"], "blocked")
        self.assertEqual(alerts[0]["src_ip"], HMI)
        drops = [e for e in s.events("drop") if e["drop"]["reason"] == "policy"]
        self.assertEqual(len(drops), 1, drops)
        self.assertEqual(drops[0]["src_ip"], HMI)
        # The inventory: both ends, their roles and the veths' MACs.
        r = s.ctl("assets")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        assets = {a["address"]: a for a in json.loads(r.stdout)["message"]}
        self.assertEqual(set(assets), {HMI, ENG, SRV_V4}, assets)
        self.assertEqual(assets[HMI]["roles"]["client"], ["modbus"])
        self.assertEqual(assets[SRV_V4]["roles"]["server"], ["modbus"])
        self.assertEqual(assets[HMI]["mac"], self.mac_of(self.bench.cli, self.bench.cli_if))
        self.assertEqual(assets[SRV_V4]["mac"], self.mac_of(self.bench.srv, self.bench.srv_if))
        # The same in Prometheus: assets by role, the denial by function.
        m = self.bench.run(self.bench.mid, "curl", "-sS", "--max-time", "5", "http://127.0.0.1:9987/metrics").stdout
        ot = "\n".join(l for l in m.splitlines() if l.startswith("sluice_ot_"))
        for line in ('sluice_ot_assets{role="client",proto="modbus"} 2', 'sluice_ot_assets{role="server",proto="modbus"} 1',
                     'sluice_ot_policy_denials_total{worker="0",proto="modbus",function="write_single_register"} 1'):
            self.assertIn(line, ot.splitlines(), ot)
        s.stop()
        self.assert_clean_exit(s)
        self.assertIn("dropped (", s.stdout())

    def test_learn_then_enforce(self):
        learned = self.bench.path("learned.yaml")
        s = self.sluice(mode="ids", name="learner", extra=("--learn", learned)).start()
        for _ in range(2):
            self.assertTrue(self.modbus(HMI, "read", 0, 10)["ok"])
            self.assertTrue(self.modbus(HMI, "read", 100, 10)["ok"])
        self.assertTrue(self.modbus(ENG, "write", 10, 99)["ok"])
        self.assertEqual(self.modbus(ENG, "read", 10, 1)["values"], [99])
        s.stop()
        self.assert_clean_exit(s)
        self.assertTrue(os.path.exists(learned), s.log())
        with open(learned) as f:
            text = f.read()
        self.assertIn(f"clients: {HMI}", text)
        self.assertIn(f"clients: {ENG}", text)
        self.assertIn("default-action: alert\n", text)
        # The operator's review: enforce it inline.
        with open(learned, "w") as f:
            f.write(text.replace("default-action: alert\n", "default-action: drop-flow\n"))
        e = self.sluice(mode="ips", name="enforcer", extra=("--policy", learned)).start()
        for _ in range(2):
            self.assertTrue(self.modbus(HMI, "read", 0, 10)["ok"])
            self.assertTrue(self.modbus(HMI, "read", 100, 10)["ok"])
        self.assertTrue(self.modbus(ENG, "write", 10, 98)["ok"], e.log())
        time.sleep(1)
        self.assertEqual(self.ot_alerts(e), [], "the learned traffic raised alerts")
        w = self.modbus(STRANGER, "write", 10, 666)
        self.assertFalse(w["ok"], f"the unknown host's write got through: {w}\n{e.log()}")
        self.assertEqual(self.modbus(ENG, "read", 10, 1)["values"], [98])
        self.assertTrue(self.wait_events(e, lambda ev: any("ot_policy" in x for x in ev if x["event_type"] == "alert")))
        alerts = self.ot_alerts(e)
        self.assertEqual(len(alerts), 1, alerts)
        self.assertEqual(alerts[0]["src_ip"], STRANGER)
        self.assertEqual(alerts[0]["alert"]["action"], "blocked")
        e.stop(signal.SIGTERM)
        self.assert_clean_exit(e, "SIGTERM")


if __name__ == "__main__":
    livenet.main()
