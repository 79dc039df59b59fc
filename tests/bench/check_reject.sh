#!/usr/bin/env bash
# How long `sluice check` takes to reject a policy that loops forever (the instruction budget
# stops it), averaged over 10 runs of the whole process.
set -euo pipefail
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
cat > "$d/loop.lua" <<'LUA'
return { name = "loop", decide = function(view, params, state) while true do end end }
LUA
runs=10
start=$(date +%s.%N)
for _ in $(seq $runs); do
  if "$SLUICE" check "$d/loop.lua" >/dev/null 2>"$d/err"; then echo "check accepted a looping policy"; exit 1; fi
done
end=$(date +%s.%N)
echo "sluice check rejecting a looping policy: $(awk -v a="$start" -v b="$end" -v n=$runs 'BEGIN { printf "%.0f", (b - a) * 1000 / n }') ms per run (exit 2: $(cat "$d/err"))"
