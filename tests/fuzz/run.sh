#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for FUZZ_SECONDS (default 20) from its
# seed corpus in tests/fuzz/seeds/<target>/. A crash fails the run and leaves the input behind.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
secs=${FUZZ_SECONDS:-20}
build=build-fuzz
CC=clang cmake -S . -B $build -DSLUICE_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build $build -j "$(nproc)" >/dev/null
export LSAN_OPTIONS="suppressions=$root/tests/lsan.supp:print_suppressions=0"
status=0
for bin in $build/fuzz_*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin")
  corpus=$build/corpus-$name
  mkdir -p "$corpus"
  seeds=tests/fuzz/seeds/${name#fuzz_}
  echo "fuzz: $name for ${secs}s"
  if ! "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=0 \
       -artifact_prefix="$build/$name-" "$corpus" ${seeds:+$( [ -d "$seeds" ] && echo "$seeds")} \
       >"$build/$name.log" 2>&1; then
    echo "fuzz: $name FAILED (log: $build/$name.log)"; tail -30 "$build/$name.log"; status=1
  else
    grep -E '^#[0-9]+.*DONE|Done [0-9]+ runs' "$build/$name.log" | tail -1 || true
  fi
done
exit $status
