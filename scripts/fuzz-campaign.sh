#!/usr/bin/env bash
# Coverage-guided fuzzing of the fuzz targets with libFuzzer (clang, ASan+UBSan).
#   scripts/fuzz-campaign.sh [SECONDS_PER_TARGET [TARGET...]]
# Builds build-fuzz/ (-Dlibfuzzer=true: every library instrumented for coverage,
# the targets linked with libFuzzer), then runs each target (default: all) for
# SECONDS (default 120), as many at once as there are CPUs. Each target grows a
# working corpus in build-fuzz/corpus/NAME, started from tests/fuzz/seeds/NAME
# and kept between campaigns. A crash, a sanitizer report, a leak, an input
# slower than 10 s or over 2 GB of memory stops that target and lands in
# build-fuzz/findings/NAME/ (the input and the log). Exit status non-zero when any
# target found something. Not part of test.sh: the test suite replays the
# seeds and bounded random inputs with GCC (tests/fuzz/driver.cpp); this finds
# the inputs that need coverage to reach. A finding's input, once fixed, goes
# into tests/fuzz/seeds/NAME so the test suite replays it from then on.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --fuzz
seconds=${1:-120}
shift || true
if [[ ! -f build-fuzz/build.ninja ]]; then
  CC=clang CXX=clang++ meson setup build-fuzz --buildtype=plain \
    -Dcpp_args="['-O1','-g','-fno-omit-frame-pointer']" -Db_sanitize=address,undefined -Db_lundef=false \
    -Dapp=false -Dlibfuzzer=true -Dwerror=false >/dev/null
fi
targets=("$@")
if ((${#targets[@]} == 0)); then
  mapfile -t targets < <(ls tests/fuzz/seeds)
fi
ninja -C build-fuzz "${targets[@]/#/tests/fuzz/fuzz_}"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$PWD/tests/fuzz/libfuzzer-lsan.supp
export TMPDIR=${TMPDIR:-/tmp}
run_one() {
  local name=$1 seconds=$2
  local corpus=build-fuzz/corpus/$name findings=build-fuzz/findings/$name
  mkdir -p "$corpus" "$findings"
  if build-fuzz/tests/fuzz/fuzz_"$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
       -artifact_prefix="$findings/" -print_final_stats=1 "$corpus" "tests/fuzz/seeds/$name" \
       >"$findings/last.log" 2>&1; then
    echo "$name: $(grep -m1 -o 'Done [0-9]* runs' "$findings/last.log" || echo 'done'), corpus $(ls "$corpus" | wc -l) inputs"
    rm -f "$findings/last.log"
  else
    cp "$findings/last.log" "$findings/finding-$(date +%s).log"
    echo "$name: FINDING, see $findings/ ($(grep -m1 -E 'ERROR: |runtime error|SUMMARY' "$findings/last.log" || echo 'exit status non-zero'))"
    return 1
  fi
}
export -f run_one
printf '%s\n' "${targets[@]}" | xargs -P "$(nproc)" -I{} bash -c 'run_one "$@"' _ {} "$seconds"
