#!/usr/bin/env bash
# run.sh [SECONDS [TARGET ...]] — build the libFuzzer targets (clang-14, ASan + UBSan, in
# build-fuzz, or CIM_FUZZ_BUILD) and run each (or the TARGETs named: jwt text config rest
# media ws) for SECONDS (20) from its seed corpus, tests/fuzz/corpus/NAME/, which also
# holds every crash ever found (so each is re-run first: the regression suite). New
# inputs go to a scratch copy; a crash's input is kept in tests/out/fuzz/ (or CIM_FUZZ_OUT)
# and fails the run. The long run is this script with a longer time (docs/FUZZING.md):
# tests/fuzz/run.sh 600, or two at once on two cores, each with its own TARGETs and
# CIM_FUZZ_OUT (then copy what it found worth keeping into corpus/).
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SECONDS_EACH=${1:-20}
BUILD=${CIM_FUZZ_BUILD:-$ROOT/build-fuzz}
OUT=${CIM_FUZZ_OUT:-$ROOT/tests/out/fuzz}
TARGETS=(jwt text config rest media ws)
[ $# -gt 1 ] && TARGETS=("${@:2}")
mkdir -p "$OUT"
missing=()
for p in clang-14 libfuzzer-14-dev; do   # test-only tools: not in deploy/local/deps.sh
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || exit 1
fi
CC=clang-14 cmake -S "$ROOT" -B "$BUILD" -G Ninja -DIM_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || exit 1
cmake --build "$BUILD" -j"$(nproc)" --target "${TARGETS[@]/#/fuzz_}" || exit 1
failed=0
for t in "${TARGETS[@]}"; do
  scratch=$(mktemp -d /tmp/cim-fuzz-XXXXXX)
  cp "$ROOT/tests/fuzz/corpus/$t/"* "$scratch/"
  if UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
     "$BUILD/tests/fuzz/fuzz_$t" -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -timeout=10 \
       -artifact_prefix="$OUT/$t-" -print_final_stats=1 "$scratch" >"$OUT/$t.log" 2>&1; then
    done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$OUT/$t.log" | tail -1)
    echo "fuzz_$t: ok, $(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$OUT/$t.log" | grep -o '[0-9]*$') inputs in ${SECONDS_EACH} s;" \
      "$(grep -o 'exec/s: [0-9]*' <<<"$done_line"), $(grep -o 'cov: [0-9]* ft: [0-9]* corp: [0-9]*' <<<"$done_line")"
  else
    failed=1
    echo "fuzz_$t: FAILED, see $OUT/$t.log and $OUT/$t-*"
    grep -m3 -E "ERROR|SUMMARY|runtime error" "$OUT/$t.log"
  fi
  rm -rf "$scratch"
done
exit $failed
