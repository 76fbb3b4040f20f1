"""Live SMB bench (issue 5 part 6): Debian's Samba smbd in srv-ID, smbclient
and an impacket client in cli-ID, sluice --inline between them, and ClamAV test
content made in the test. Used by test_smb_ids.py and test_smb_ips.py.

- smbd runs as root with its own smb.conf in the bench's temp folder: private,
  lock, state, cache, pid and ncalrpc dirs there, a private tdbsam passdb with
  one user (root, password set with `smbpasswd -c CONF -a -s`), one writable
  share `share`, NT1 through SMB3, encryption off, no NetBIOS, bound to the
  server address only; no nmbd or winbindd. It is stopped by the bench (the
  process and anything else left in srv-ID, by pid) whatever happens.
- The payloads: a clean 1 MiB random file, EICAR (built from its 68-byte
  string) and a zip (deflated) holding clam.exe from Debian's clamav-testfiles.
- The ClamAV database is made in the test with `sigtool --md5` of EICAR and of
  clam.exe (names Sluice.Live.EICAR and Sluice.Live.ClamExe): the zip's own
  hash is not in it, so detecting the zip means ClamAV unpacked it.
"""

import atexit
import hashlib
import io
import json
import os
import subprocess
import time
import zipfile

import livenet
from livenet import SRV_V4

livenet.PACKAGES.update({"smbd": "samba", "smbpasswd": "samba-common-bin", "smbclient": "smbclient", "sigtool": "clamav",
                         "dumpcap": "wireshark-common"})

TOOLS = ("ip", "ethtool", "ping", "smbd", "smbpasswd", "smbclient", "sigtool")
USER, PASSWORD = "root", "Sluice-live-1"
SHARE = "share"
DIALECTS = ("NT1", "SMB3")
CLAMAV_TESTFILES = "/usr/share/clamav-testfiles"
# The standard EICAR test string (68 bytes), split so that this file is not
# itself a test virus to a scanner looking at the source tree.
EICAR = (b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*")
SIG_EICAR = "Sluice.Live.EICAR.UNOFFICIAL"
SIG_CLAM = "Sluice.Live.ClamExe.UNOFFICIAL"

# One upload on its own connection, as Windows Explorer copies a file: CREATE,
# set the end of file to the final size (SMB2 SET_INFO FileEndOfFileInformation,
# SMB1 TRANS2 SET_FILE_INFORMATION), WRITEs (as impacket splits them: 65000
# bytes over SMB1, the negotiated maximum over SMB3), CLOSE. Prints one
# JSON line {"ok": bool, "stage": ..., "error": ...}.
EXPLORER_PUT = r"""
import json, struct, sys
from impacket import smb
from impacket.smbconnection import SMBConnection, SMB_DIALECT
from impacket.smb3structs import (SMB2_DIALECT_30, SMB2_0_INFO_FILE, SMB2_FILE_END_OF_FILE_INFO, FILE_WRITE_DATA,
                                  FILE_READ_DATA, FILE_OVERWRITE_IF, FILE_NON_DIRECTORY_FILE, FILE_SHARE_READ)
server, user, password, share, dialect, local, remote = sys.argv[1:8]
data = open(local, "rb").read()
stage = "connect"
try:
    c = SMBConnection(server, server, preferredDialect=SMB_DIALECT if dialect == "NT1" else SMB2_DIALECT_30, timeout=10)
    stage = "login"
    c.login(user, password)
    stage = "tree"
    tid = c.connectTree(share)
    stage = "create"
    fid = c.createFile(tid, remote, desiredAccess=FILE_WRITE_DATA | FILE_READ_DATA, shareMode=FILE_SHARE_READ,
                       creationOption=FILE_NON_DIRECTORY_FILE, creationDisposition=FILE_OVERWRITE_IF)
    stage = "set_eof"
    s = c.getSMBServer()
    if dialect == "NT1":
        p = smb.SMBSetFileInformation_Parameters()
        p["FID"], p["InformationLevel"], p["Reserved"] = fid, smb.SMB_SET_FILE_END_OF_FILE_INFO, 0
        s.send_trans2(tid, smb.SMB.TRANS2_SET_FILE_INFORMATION, "\x00", p.getData(),
                      struct.pack("<q", len(data)))
        r = s.recvSMB()
        if not r.isValidAnswer(smb.SMB.SMB_COM_TRANSACTION2):
            raise RuntimeError("TRANS2 SET_FILE_INFORMATION refused")
    else:
        s.setInfo(tid, fid, inputBlob=struct.pack("<q", len(data)), infoType=SMB2_0_INFO_FILE,
                  fileInfoClass=SMB2_FILE_END_OF_FILE_INFO)
    stage = "write"
    c.writeFile(tid, fid, data, 0)
    stage = "close"
    c.closeFile(tid, fid)
    c.logoff()
    print(json.dumps({"ok": True, "stage": "done"}))
except Exception as e:
    print(json.dumps({"ok": False, "stage": stage, "error": type(e).__name__ + ": " + str(e)}))
"""


def have_impacket():
    return os.system("/usr/bin/python3 -c 'import impacket.smbconnection' >/dev/null 2>&1") == 0


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def file_sha256(path):
    with open(path, "rb") as f:
        return sha256(f.read())


class Payloads:
    """The three test files and the ClamAV database, in DIR."""

    def __init__(self, directory):
        clam_exe = os.path.join(CLAMAV_TESTFILES, "clam.exe")
        if not os.path.exists(clam_exe):
            livenet.skip(f"{clam_exe} is missing: install Debian package clamav-testfiles")
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        zbuf = io.BytesIO()
        with zipfile.ZipFile(zbuf, "w", compression=zipfile.ZIP_DEFLATED) as z:
            with open(clam_exe, "rb") as f:
                z.writestr("tools/clam.exe", f.read())
        self.content = {"clean": os.urandom(1 << 20), "eicar": EICAR, "zip": zbuf.getvalue()}
        self.ext = {"clean": "bin", "eicar": "com", "zip": "zip"}
        # What ClamAV must say about each (None: clean).
        self.detection = {"clean": None, "eicar": SIG_EICAR, "zip": SIG_CLAM}
        for kind, data in self.content.items():
            with open(self.local(kind), "wb") as f:
                f.write(data)
        self.db = os.path.join(directory, "clamav-db")
        os.makedirs(self.db)
        lines = []
        for path, name in ((self.local("eicar"), "Sluice.Live.EICAR"), (clam_exe, "Sluice.Live.ClamExe")):
            r = subprocess.run(["sigtool", "--md5", path], capture_output=True, text=True, check=True)
            md5, size, _ = r.stdout.strip().split(":", 2)
            lines.append(f"{md5}:{size}:{name}")
        with open(os.path.join(self.db, "live.hdb"), "w") as f:
            f.write("\n".join(lines) + "\n")
        # The zip is not in the database: only its inner file is.
        self.zip_md5 = hashlib.md5(self.content["zip"]).hexdigest()
        assert all(not l.startswith(self.zip_md5) for l in lines)

    def local(self, kind):
        return os.path.join(self.dir, f"{kind}.{self.ext[kind]}")

    def name(self, kind, dialect, direction):
        """Remote file name of one transfer: up-NT1-eicar.com, dl-SMB3-zip.zip ..."""
        return f"{'up' if direction == 'upload' else 'dl'}-{dialect}-{kind}.{self.ext[kind]}"

    def malicious(self, kind):
        return self.detection[kind] is not None


_running_servers = []


@atexit.register
def _stop_running_servers():
    # Registered after livenet's hook, so it runs first (atexit is LIFO):
    # smbd's children are stopped while srv-ID still exists (meson's SIGTERM).
    for srv in list(_running_servers):
        srv.stop()


class SmbServer:
    """Debian's smbd in srv-ID with a config of its own in the bench folder."""

    def __init__(self, bench):
        self.bench = bench
        self.root = bench.path("samba")
        self.share = os.path.join(self.root, "share")
        self.conf = os.path.join(self.root, "smb.conf")
        self.proc = None
        dirs = {d: os.path.join(self.root, d) for d in ("private", "lock", "state", "cache", "pid", "ncalrpc")}
        for d in list(dirs.values()) + [self.share]:
            os.makedirs(d)
        os.chmod(dirs["private"], 0o700)
        with open(self.conf, "w") as f:
            f.write(f"""[global]
netbios name = SLUICELIVE
workgroup = SLUICE
server role = standalone server
interfaces = {SRV_V4}/24
bind interfaces only = yes
smb ports = 445
disable netbios = yes
server min protocol = NT1
server max protocol = SMB3
server smb encrypt = off
server signing = auto
ntlm auth = ntlmv2-only
private dir = {dirs['private']}
lock directory = {dirs['lock']}
state directory = {dirs['state']}
cache directory = {dirs['cache']}
pid directory = {dirs['pid']}
ncalrpc dir = {dirs['ncalrpc']}
passdb backend = tdbsam:{dirs['private']}/passdb.tdb
map to guest = never
log file = {self.root}/log.smbd
max log size = 0
log level = 1
load printers = no
printing = bsd
printcap name = /dev/null
disable spoolss = yes
kernel oplocks = no
usershare path =
[{SHARE}]
path = {self.share}
read only = no
valid users = {USER}
""")
        r = subprocess.run(["smbpasswd", "-c", self.conf, "-a", "-s", USER], input=f"{PASSWORD}\n{PASSWORD}\n",
                           capture_output=True, text=True, timeout=20)
        if r.returncode != 0:
            raise RuntimeError(f"smbpasswd: {r.stdout} {r.stderr}")

    def start(self, timeout=20):
        b = self.bench
        _running_servers.append(self)
        self.proc = b.spawn(b.srv, ["smbd", "--foreground", "--no-process-group", "--debug-stdout", "-s", self.conf],
                            "smbd")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if b.run(b.srv, "ss", "-Htln", "sport = :445", check=False).stdout.strip():
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"smbd exited with {self.proc.returncode}:\n{b.log(self.proc)}")
            time.sleep(0.1)
        raise RuntimeError(f"smbd did not listen on {SRV_V4}:445 within {timeout} s:\n{b.log(self.proc)}")

    def stop(self):
        """Stops smbd, then anything still in srv-ID (its children, samba-dcerpcd), by pid."""
        if self in _running_servers:
            _running_servers.remove(self)
        if self.proc is not None:
            livenet.stop_process(self.proc)
        b = self.bench
        if b.srv in b.namespaces:
            r = subprocess.run(["ip", "netns", "pids", b.srv], capture_output=True, text=True)
            for pid in r.stdout.split():
                try:
                    os.kill(int(pid), 9)
                except (ProcessLookupError, ValueError):
                    pass

    def put(self, name, data):
        path = os.path.join(self.share, name)
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, 0o644)

    def read(self, name):
        try:
            with open(os.path.join(self.share, name), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def log(self):
        try:
            with open(os.path.join(self.root, "log.smbd"), errors="replace") as f:
                return f.read()[-3000:]
        except OSError:
            return ""


class SmbLiveCase(livenet.LiveTestCase):
    """A bench with smbd running and the payloads made; smbd stops at clean-up."""

    tools = TOOLS

    def setUp(self):
        self.timings = []
        super().setUp()
        self.payloads = Payloads(self.bench.path("payloads"))
        self.smbd = SmbServer(self.bench)
        # Runs before the bench's own clean-up (added earlier, so run later).
        self.addCleanup(self.smbd.stop)
        # The files the clients download, one per kind and dialect.
        for kind, data in self.payloads.content.items():
            for d in DIALECTS:
                self.smbd.put(self.payloads.name(kind, d, "download"), data)
        self.smbd.start()
        self.quarantine = self.bench.path("quarantine")
        self.spill = self.bench.path("spill")
        os.makedirs(self.spill)

    def config(self, quarantine=None):
        return f"""\
eve:
  types: [alert, fileinfo, drop, flow, stats, smb]
malware:
  db-dir: {self.payloads.db}
  quarantine:
    dir: {quarantine or self.quarantine}
smb:
  file:
    spill-dir: {self.spill}
"""

    def smbclient(self, dialect, command, timeout=60):
        """One smbclient run in cli-ID; returns (ok, output)."""
        b = self.bench
        args = ["smbclient", f"//{SRV_V4}/{SHARE}", "-U", f"{USER}%{PASSWORD}", "-m", dialect,
                "--option=client min protocol=NT1", "--option=client max protocol=SMB3",
                "--option=client smb encrypt=off", "-t", "15", "-c", command]
        t0 = time.monotonic()
        r = b.run(b.cli, *args, check=False, timeout=timeout)
        out = r.stdout + r.stderr
        self.timings.append((command.split()[0], dialect, round(time.monotonic() - t0, 2)))
        # smbclient -c exits 0 even when a command failed in some versions:
        # an NT_STATUS error or a lost connection in its output counts too.
        failed = r.returncode != 0 or "NT_STATUS_" in out or "Connection reset" in out
        return (not failed), out

    def put(self, dialect, kind):
        name = self.payloads.name(kind, dialect, "upload")
        return self.smbclient(dialect, f"put {self.payloads.local(kind)} {name}")

    def get(self, dialect, kind, dest):
        name = self.payloads.name(kind, dialect, "download")
        if os.path.exists(dest):
            os.unlink(dest)
        return self.smbclient(dialect, f"get {name} {dest}")

    def explorer_put(self, dialect, kind):
        """impacket upload that announces the size first (as Windows does)."""
        b = self.bench
        script = b.path("explorer_put.py")
        if not os.path.exists(script):
            with open(script, "w") as f:
                f.write(EXPLORER_PUT)
        name = "ex-" + self.payloads.name(kind, dialect, "upload")
        t0 = time.monotonic()
        r = b.run(b.cli, "/usr/bin/python3", script, SRV_V4, USER, PASSWORD, SHARE, dialect, self.payloads.local(kind),
                  name, check=False, timeout=60)
        self.timings.append(("explorer_put", dialect, kind, round(time.monotonic() - t0, 2)))
        try:
            return json.loads(r.stdout.strip().splitlines()[-1]), name
        except (IndexError, ValueError):
            self.fail(f"impacket client gave no result: {r.stdout} {r.stderr}")

    def wait_events(self, s, predicate, timeout=15):
        """Waits until predicate(events so far) holds. sluice's EVE thread may
        be half way through a line: only whole lines are read."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with open(s.eve) as f:
                    text = f.read()
            except FileNotFoundError:
                text = ""
            events = [json.loads(l) for l in text[:text.rfind("\n") + 1].splitlines() if l.strip()]
            if predicate(events):
                return True
            time.sleep(0.2)
        return False

    def quarantined(self, directory=None):
        """{sha256: (content, [sidecar lines as dicts])} of a quarantine folder."""
        directory = directory or self.quarantine
        out = {}
        if not os.path.isdir(directory):
            return out
        for name in os.listdir(directory):
            if len(name) == 64 and all(c in "0123456789abcdef" for c in name):
                with open(os.path.join(directory, name), "rb") as f:
                    content = f.read()
                lines = []
                try:
                    with open(os.path.join(directory, name + ".json")) as f:
                        lines = [json.loads(l) for l in f if l.strip()]
                except FileNotFoundError:
                    pass
                out[name] = (content, lines)
        return out


def base_name(filename):
    """SMB1 names carry the leading backslash, SMB2 names do not."""
    return filename.replace("\\", "/").rsplit("/", 1)[-1]


def file_key(ev):
    """What two runs over the same traffic must agree on for one fileinfo event."""
    fi = ev["fileinfo"]
    cl = fi.get("clamav", {})
    return (fi.get("filename"), fi.get("direction"), fi.get("sha256"), fi.get("state"), fi.get("size"),
            cl.get("result"), cl.get("name") or cl.get("malware"), ev.get("src_ip"), ev.get("dest_ip"))


def alert_key(ev):
    a = ev["alert"]
    files = tuple((f.get("filename"), f.get("direction"), f.get("sha256")) for f in ev.get("files", []))
    return (a.get("signature_id"), a.get("signature"), a.get("category"), a.get("action"), ev.get("src_ip"),
            ev.get("dest_ip"), ev.get("dest_port"), files)


