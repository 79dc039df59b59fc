#!/usr/bin/env bash
# Runs every benchmark and prints its figures. Benchmarks measure; they never fail on a number.
# C benchmarks are build/bench_* executables; scripted ones are tests/bench/*.sh (given the
# build dir). Data-dependent benchmarks read ../shared/data and say so and skip when it is absent.
set -uo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
export SLUICE="$root/$build/sluice" BUILD="$root/$build" DATA="$root/../shared/data"
status=0
for bin in "$build"/bench_*; do
  [ -x "$bin" ] || continue
  echo "== $(basename "$bin") =="
  "$bin" || { echo "benchmark $(basename "$bin") failed to run"; status=1; }
done
for s in tests/bench/*.sh; do
  [ "$(basename "$s")" = run.sh ] && continue
  [ -e "$s" ] || continue
  echo "== $(basename "$s" .sh) =="
  bash "$s" || { echo "benchmark $(basename "$s") failed to run"; status=1; }
done
exit $status
