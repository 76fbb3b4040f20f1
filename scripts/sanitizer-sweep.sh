#!/usr/bin/env bash
# Builds sluice itself with ASan+UBSan (build-asan-app/: unity, -O1, no tests)
# and runs every capture of the shared corpus through it
# (scripts/sanitizer_sweep.py). Not part of test.sh: the build and the sweep
# take about 15 minutes on 2 cores. Findings land in build-asan-app/sweep/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
corpus=${SLUICE_CORPUS:-../shared/corpus}
if [[ ! -f build-asan-app/build.ninja ]]; then
  meson setup build-asan-app --buildtype=plain -Dcpp_args="['-O1','-g1','-fno-omit-frame-pointer']" \
    -Db_sanitize=address,undefined -Db_lundef=false -Dunity=on -Dtests=disabled >/dev/null
fi
ninja -C build-asan-app app/sluice
exec /usr/bin/python3 scripts/sanitizer_sweep.py build-asan-app/app/sluice "$corpus" build-asan-app/sweep "$@"
