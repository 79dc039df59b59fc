#!/usr/bin/env bash
# sluice run with the fixture source and the log actuator keeps deciding with the last good
# policy while its file is replaced by a syntax error, a runtime error and an infinite loop, and
# picks up a fixed version at the next tick boundary.
set -uo pipefail
d=$(mktemp -d)
trap 'kill $pid 2>/dev/null; rm -rf "$d"' EXIT
fail() { echo "FAIL: $*"; echo "--- log:"; cat "$d/log"; exit 1; }
mkdir -p "$d/policies"
version() {  # $1 = tag, $2 = body before the return
  cat > "$d/policies/p.lua.tmp" <<LUA
return { name = "p", decide = function(view, params, state)
  $2
  return { ["llm/a"] = { replicas = 2, reason = "version $1" } }
end }
LUA
  mv "$d/policies/p.lua.tmp" "$d/policies/p.lua"
}
version good1 ""
printf 'frames:\n  - variants:\n      llm/a:\n        replicas: {spec: 2}\n        signals: {running: 5}\n' > "$d/views.yaml"
cat > "$d/sluice.yaml" <<'YAML'
interval: 200ms
source: {fixture: views.yaml}
policy_dir: policies
variants:
  - {id: llm/a, model: m, min: 1, max: 4}
policies: [p.lua]
YAML
"$SLUICE" run -c "$d/sluice.yaml" >"$d/log" 2>&1 &
pid=$!

wait_for() {  # pattern, timeout seconds
  for _ in $(seq $(( $2 * 10 ))); do grep -q -- "$1" "$d/log" && return 0; sleep 0.1; done
  return 1
}
count() { grep -c -- "$1" "$d/log"; }

wait_for "version good1" 20 || fail "first version never decided"
echo 'return { name = "p", decide = function( }' > "$d/policies/p.lua"
wait_for "rejected (version 2)" 20 || fail "syntax error not reported"
grep -q "rejected (version 2): .*p.lua:1:" "$d/log" || fail "syntax error lacks file:line"
n=$(count "version good1"); sleep 1
[ "$(count "version good1")" -gt "$n" ] || fail "old version stopped deciding after a syntax error"

version err 'error("runtime failure")'
# A runtime error fails the dry run: rejected, the old version keeps going.
wait_for "rejected (version 2): .*runtime failure" 20 || fail "runtime error not rejected"
n=$(count "version good1"); sleep 1
[ "$(count "version good1")" -gt "$n" ] || fail "old version stopped deciding after a runtime error"

version loop 'while true do end'
wait_for "instruction budget" 20 || fail "infinite loop not rejected by the budget"
n=$(count "version good1"); sleep 1
[ "$(count "version good1")" -gt "$n" ] || fail "old version stopped deciding after an infinite loop"

version good2 ""
wait_for "version good2" 20 || fail "fixed version never decided"
grep -q "swapped (version 2)" "$d/log" || fail "no swap reported"
kill -TERM $pid; wait $pid; rc=$?
[ $rc -eq 0 ] || fail "sluice run exited $rc on SIGTERM"
echo "run: kept deciding through 3 bad versions, then took the fix"
