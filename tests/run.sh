#!/usr/bin/env bash
# Runs every test suite against one build tree and prints one closing line over all of them:
#   C unit tests (ctest), busted specs (LuaJIT + the real C module), integration tests.
# Usage: tests/run.sh BUILD_DIR     (SANITIZE=1 in the environment for an ASan build)
set -uo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
passed=0 failed=0

section() { printf '\n== %s ==\n' "$*"; }

# --- C unit tests --------------------------------------------------------------------------
section "C unit tests (ctest)"
export LSAN_OPTIONS="suppressions=$root/tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
out=$(cd "$build" && ctest --output-on-failure 2>&1)
echo "$out" | grep -v -E '^\s+Start ' 
total=$(echo "$out" | sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\2/p')
nf=$(echo "$out" | sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\1/p')
if [ -z "$total" ]; then
  echo "ctest did not report a summary" >&2; failed=$((failed + 1))
else
  passed=$((passed + total - nf)); failed=$((failed + nf))
fi

# --- busted specs --------------------------------------------------------------------------
section "Lua specs (busted)"
export SLUICE_BUILD="$root/$build"
preload=""
if [ "${SANITIZE:-0}" = 1 ]; then
  # The module is ASan-built; luajit is not. Load the runtime first.
  preload="$(gcc -print-file-name=libasan.so)"
  export ASAN_OPTIONS="detect_leaks=1:verify_asan_link_order=0"
fi
if [ -d spec ] && [ -n "$(find spec -name '*_spec.lua' -print -quit)" ]; then
  out=$(LD_PRELOAD="$preload" busted --lua=luajit 2>&1)
  rc=$?
  echo "$out"
  ok=$(echo "$out" | sed -n 's/^\([0-9]*\) success.*/\1/p' | tail -1)
  bad=$(echo "$out" | sed -n 's/.* \([0-9]*\) failures\{0,1\} \/ \([0-9]*\) error.*/\1 \2/p' | tail -1)
  if [ -z "$ok" ]; then
    echo "busted did not report a summary (exit $rc)" >&2; failed=$((failed + 1))
  else
    set -- $bad
    passed=$((passed + ok)); failed=$((failed + ${1:-0} + ${2:-0}))
    [ $rc -ne 0 ] && [ $(( ${1:-0} + ${2:-0} )) -eq 0 ] && { echo "busted exited $rc" >&2; failed=$((failed + 1)); }
  fi
fi

# --- formatting ----------------------------------------------------------------------------
section "Formatting (clang-format)"
if command -v clang-format >/dev/null; then
  if out=$(scripts/format.sh --check 2>&1); then
    echo "ok - every C file is formatted"; passed=$((passed + 1))
  else
    echo "not ok - formatting"; echo "$out" | sed 's/^/    /' | head -20; failed=$((failed + 1))
  fi
else
  echo "not ok - clang-format is missing (make deps installs it)"; failed=$((failed + 1))
fi

# --- integration tests ---------------------------------------------------------------------
section "Integration tests"
for t in tests/integration/*.sh; do
  [ -e "$t" ] || continue
  name=$(basename "$t" .sh)
  if log=$(SLUICE="$root/$build/sluice" BUILD="$root/$build" bash "$t" 2>&1); then
    echo "ok - $name"; passed=$((passed + 1))
  else
    echo "not ok - $name"; echo "$log" | sed 's/^/    /' | tail -40; failed=$((failed + 1))
  fi
done

echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
