#!/bin/sh
# Runs every libFuzzer target of a CFX_FUZZ build for SECONDS each with SEED (make fuzz; CI
# runs a short smoke time with a fixed seed). Each target starts from its seed corpus in
# fuzz/corpus/<name> (kept as it is in the repo) plus what earlier runs found, in
# BUILD/fuzz-corpus/<name>. A crash, a sanitizer report, a leak, a slow input (> 10 s) or
# > 2 GB of memory stops with exit 1 and leaves the input in BUILD/fuzz-findings/. Prints executions and coverage per target.
set -eu
BUILD=${1:?usage: scripts/fuzz.sh BUILD SECONDS [SEED]}
SECONDS_EACH=${2:-60}
# 0: a new random seed each run (finds new inputs); CI passes a fixed seed so that its smoke
# run replays the same inputs on the same code.
SEED=${3:-0}
SRC=$(cd "$(dirname "$0")/.." && pwd)
# libtorch is not instrumented: vectors it fills look overflowed to ASan's container check.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_container_overflow=0:detect_odr_violation=0}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$SRC/fuzz/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export OMP_NUM_THREADS=1
mkdir -p "$BUILD/fuzz-findings"
status=0
for target in "$BUILD"/fuzz/fuzz_*; do
  name=$(basename "$target"); name=${name#fuzz_}
  work="$BUILD/fuzz-corpus/$name"
  mkdir -p "$work"
  log="$BUILD/fuzz-findings/$name.log"
  if "$target" -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -timeout=10 \
       -print_final_stats=1 -seed="$SEED" -artifact_prefix="$BUILD/fuzz-findings/$name-" \
       "$work" "$SRC/fuzz/corpus/$name" >"$log" 2>&1; then
    result=ok
  else
    result=FAILED; status=1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  printf '%-18s %-6s %10s executions in %s s, coverage %s edges, corpus %s files\n' \
    "$name" "$result" "${runs:-?}" "$SECONDS_EACH" "${cov:-?}" "$(ls "$work" | wc -l)"
  if [ "$result" = FAILED ]; then tail -40 "$log"; fi
done
exit $status
