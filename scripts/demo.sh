#!/usr/bin/env bash
# The main job on the bundled default: the demo capture (data/demo.pcap, a
# plant boundary with ordinary traffic and one of each thing the rules look for)
# through sluice with the bundled rule set (signatures/rules/sluice-default.rules).
# Prints sluice's summary and the alerts, and where they went.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh app/sluice >/dev/null
out=out/demo
mkdir -p "$out"
rm -f "$out/eve.json"
build/app/sluice --config config/demo.yaml
echo
echo "alerts (from $out/eve.json):"
/usr/bin/python3 - "$out/eve.json" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e.get("event_type") != "alert":
        continue
    a = e["alert"]
    src = e["src_ip"] + (f":{e['src_port']}" if "src_port" in e else "")
    dst = e["dest_ip"] + (f":{e['dest_port']}" if "dest_port" in e else "")
    print(f"  [{a['gid']}:{a['signature_id']}:{a['rev']}] {a['signature']}  {src} -> {dst} ({e.get('app_proto', e['proto'])})")
PY
echo "every event (alerts, flows, http, dns, stats) is in $out/eve.json"
