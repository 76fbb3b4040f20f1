#!/usr/bin/env bash
# Every test: installs what they need, builds the sluice binary in the release
# tree (build/) and the libraries, unit tests and fuzz targets in a sanitizer
# tree (build-asan/, ASan+UBSan at -O1, the test programs at -O0), runs the capture and live suites on the
# release binary and the unit and fuzz suites under the sanitizers, and ends
# with one line "N passed, N failed[, N skipped]". Live tests need root
# (network namespaces). Unit tests run only under the sanitizers: building them
# twice would double the build on a 2-core CI machine.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test || exit 1
jobs=$(nproc)

scripts/build.sh app/sluice || { echo "0 passed, 1 failed"; exit 1; }
if [[ ! -f build-asan/build.ninja ]]; then
  # -O1 and line tables only: half the compile time of -O2 -g, same findings.
  # A unity build (a library's files compiled together, 4 at a time): each
  # heavy header is parsed once per 4 files, not once per file.
  meson setup build-asan --buildtype=plain -Dcpp_args="['-O1','-g1','-fno-omit-frame-pointer']" \
    -Db_sanitize=address,undefined -Db_lundef=false -Dapp=false -Dunity=on >/dev/null \
    || { echo "0 passed, 1 failed"; exit 1; }
fi
ninja -C build-asan || { echo "0 passed, 1 failed"; exit 1; }

status=0
meson test -C build --no-rebuild --num-processes "$jobs" --print-errorlogs \
  --suite pcap --suite live || status=1
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  meson test -C build-asan --no-rebuild --num-processes "$jobs" --print-errorlogs --suite unit --suite fuzz || status=1

/usr/bin/python3 - build/meson-logs/testlog.json build-asan/meson-logs/testlog.json <<'PY'
import json, sys
passed = failed = skipped = 0
for path in sys.argv[1:]:
    try:
        lines = open(path).read().splitlines()
    except OSError:
        failed += 1
        continue
    for line in lines:
        r = json.loads(line).get("result")
        if r in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif r == "SKIP":
            skipped += 1
        else:
            failed += 1
print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
sys.exit(1 if failed else 0)
PY
py=$?
exit $(( status || py ))
