#!/usr/bin/env bash
# sluice run with two policies: while the good one decides llm/b, the file of the other is
# replaced by a metamethod bomb, a C-time bomb, a FIFO, a flood of output and a policy whose state
# is not plain data. The controller keeps ticking, the good policy keeps deciding, and each bad
# file is reported with why.
set -uo pipefail
d=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$d"' EXIT
fail() { echo "FAIL: $*"; echo "--- log (tail):"; tail -40 "$d/log"; exit 1; }
mkdir -p "$d/policies"
put() {  # file, text: written aside and renamed in, as an editor or a ConfigMap swap does
  printf '%s\n' "$2" > "$d/policies/.$1.tmp" && mv "$d/policies/.$1.tmp" "$d/policies/$1"
}
put p.lua 'return { name = "p", decide = function() return { ["llm/a"] = { replicas = 2, reason = "p first" } } end }'
put good.lua 'return { name = "good", decide = function() return { ["llm/b"] = { replicas = 5, reason = "good wants 5" } } end }'
cat > "$d/views.yaml" <<'YAML'
frames:
  - variants:
      llm/a:
        replicas: {spec: 2}
        signals: {running: 5}
      llm/b:
        replicas: {spec: 3}
        signals: {running: 5}
YAML
cat > "$d/sluice.yaml" <<'YAML'
interval: 200ms
source: {fixture: views.yaml}
policy_dir: policies
variants:
  - {id: llm/a, model: m, min: 1, max: 4}
  - {id: llm/b, model: m, min: 1, max: 8}
policies:
  - {file: p.lua, variants: [llm/a], time_limit: 250ms}
  - {file: good.lua, variants: [llm/b]}
YAML
"$SLUICE" run -c "$d/sluice.yaml" >"$d/log" 2>&1 &
pid=$!

wait_for() {  # pattern, timeout seconds
  for _ in $(seq $(( $2 * 10 ))); do grep -q -- "$1" "$d/log" && return 0; sleep 0.1; done
  return 1
}
count() { grep -c -- "$1" "$d/log"; }
# The good policy must keep deciding: more of its decisions within a few seconds.
still_deciding() {
  local n; n=$(count "good wants 5")
  for _ in $(seq 50); do [ "$(count "good wants 5")" -ge $((n + 3)) ] && return 0; sleep 0.1; done
  fail "the good policy stopped deciding after $1"
}
kill -0 $pid 2>/dev/null || fail "sluice run did not start"
wait_for "good wants 5" 20 || fail "the good policy never decided"
wait_for "p first" 20 || fail "p never decided"

put p.lua 'return setmetatable({ name = "x", decide = function() return {} end }, { __index = function() error("boom") end })'
wait_for "the policy table must not have a metatable" 20 || fail "metamethod bomb not reported"
still_deciding "a metamethod bomb"

put p.lua 'return { name = "p", decide = function() local t = {} for i = 1, 1000000 do t[i] = -i end for _ = 1, 1000 do table.sort(t) end return {} end }'
wait_for "time limit exceeded (250 ms per call)" 20 || fail "C-time bomb not stopped at its bound"
still_deciding "a C-time bomb"

rm -f "$d/policies/p.lua"; mkfifo "$d/policies/p.lua"
wait_for "is a FIFO, not a regular file" 20 || fail "FIFO not reported"
still_deciding "a FIFO"
rm -f "$d/policies/p.lua"

put p.lua 'return { name = "p", decide = function() for i = 1, 1e6 do print("flood", i) end return { ["llm/a"] = { replicas = 2, reason = "flooder" } } end }'
wait_for "lines of output suppressed in one call" 20 || fail "flood not capped"
still_deciding "an output flood"
[ "$(count "flood")" -lt 2000 ] || fail "the flood reached the log: $(count flood) lines"

put p.lua 'return { name = "p", decide = function(v, p, s) s.f = function() end return { ["llm/a"] = { replicas = 3, reason = "leaky" } } end }'
wait_for "state.f: function values cannot be kept in state" 20 || fail "non-plain state not reported"
still_deciding "non-plain state"

put p.lua 'return { name = "p", decide = function() return { ["llm/a"] = { replicas = 3, reason = "p fixed" } } end }'
wait_for "p fixed" 20 || fail "a correct version was not taken after the bombs"
kill -0 $pid 2>/dev/null || fail "sluice run died"
kill -TERM $pid; wait $pid; rc=$?; pid=
[ $rc -eq 0 ] || fail "sluice run exited $rc on SIGTERM"
echo "isolation: 5 bad versions reported, the good policy kept deciding, the fix was taken"
