#!/usr/bin/env bash
# clang-format over every C file of the project (.clang-format at the root).
#   scripts/format.sh          rewrite files in place (make format)
#   scripts/format.sh --check  list files that differ and exit 1 (make test runs this)
set -uo pipefail
cd "$(dirname "$0")/.."
mode=${1:-apply}
mapfile -t files < <(git ls-files 'core/*.c' 'core/*.h' 'tests/*.c' 'tests/*.h' 2>/dev/null ||
  find core tests -name '*.[ch]')
if [ "$mode" = --check ]; then
  bad=0
  for f in "${files[@]}"; do
    [ -f "$f" ] || continue
    if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
      echo "not formatted: $f (run make format)"; bad=1
    fi
  done
  exit $bad
fi
for f in "${files[@]}"; do [ -f "$f" ] && clang-format -i "$f"; done
