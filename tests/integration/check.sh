#!/usr/bin/env bash
# sluice check: exit 0 with a summary line per valid policy; exit 2 naming file:line and the
# reason for each kind of invalid policy.
set -uo pipefail
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

expect_invalid() {  # name, policy text, pattern the message must contain
  printf '%s\n' "$2" > "$d/$1.lua"
  out=$("$SLUICE" check "$d/$1.lua" 2>&1); rc=$?
  [ $rc -eq 2 ] || fail "$1: exit $rc, want 2 ($out)"
  echo "$out" | grep -q -- "$3" || fail "$1: message '$out' lacks '$3'"
}

out=$("$SLUICE" check policies/target.lua policies/wva.lua policies/wva-optimizer.lua 2>&1) ||
  fail "canned policies rejected: $out"
[ "$(echo "$out" | grep -c '^ok ')" -eq 3 ] || fail "want one ok line per policy: $out"
# The built-in fixture's variants carry a latency profile, so the optimizer sizes them (with
# sluice.alloc inside the sandbox) rather than holding.
echo "$out" | grep "wva-optimizer" | grep -q 'λ\* [0-9.]* (itl) → ' ||
  fail "wva-optimizer did not size the built-in fixture: $out"

expect_invalid syntax 'return { name = "x", decide = function( }' "syntax.lua:1:"
expect_invalid nodecide 'return { name = "x" }' "missing decide"
expect_invalid noname 'return { decide = function() return {} end }' "needs a name"
# A knob names one of the params and lists numbers to sweep.
expect_invalid knobparam 'return { name = "x", params = { n = 1 }, knob = { param = "m", values = { 1 } },
  decide = function() return {} end }' "knob.param is not one of the policy's params"
expect_invalid knobvalues 'return { name = "x", params = { n = 1 }, knob = { param = "n", values = { "a" } },
  decide = function() return {} end }' "knob.values must be numbers"
expect_invalid knobempty 'return { name = "x", params = { n = 1 }, knob = { param = "n", values = {} },
  decide = function() return {} end }' "knob.values must be a non-empty list"
expect_invalid knobscale 'return { name = "x", params = { n = 1 }, knob = { param = "n", values = { 1 }, scale = "x" },
  decide = function() return {} end }' "knob.scale must be"
expect_invalid badparams 'return { name = "x", params = { n = 1 },
  validate = function(p) if p.n < 5 then return "n must be at least 5" end end,
  decide = function() return {} end }' "bad params: n must be at least 5"
expect_invalid errors 'return { name = "x",
  decide = function() error("kaput") end }' "errors.lua:2: kaput"
expect_invalid loops 'return { name = "x",
  decide = function() while true do end end }' "loops.lua:2: instruction budget exceeded"
expect_invalid garbage 'return { name = "x", decide = function() return 7 end }' "malformed decision"
expect_invalid unknownfield 'return { name = "x", decid = function() end, decide = function() return {} end }' "unknown field 'decid'"

# Params from a config are checked too: a wrong type is "bad params" naming config file:line.
cat > "$d/c.yaml" <<'YAML'
variants:
  - {id: llm/a, model: m}
policies:
  - file: target.lua
    params: {target: "eight"}
YAML
printf 'frames:\n  - variants:\n      llm/a: {replicas: {spec: 1}}\n' > "$d/f.yaml"
out=$("$SLUICE" check -c "$d/c.yaml" --fixture "$d/f.yaml" target.lua 2>&1); rc=$?
[ $rc -eq 2 ] || fail "bad config params: exit $rc ($out)"
echo "$out" | grep -q "c.yaml:5: bad params: 'target' must be a number" || fail "bad config params message: $out"

out=$("$SLUICE" check 2>&1); [ $? -eq 2 ] || fail "no files: want exit 2"
out=$("$SLUICE" check "$d/nope.lua" 2>&1); [ $? -eq 2 ] || fail "missing file: want exit 2"
echo "$out" | grep -q "no such file" || fail "missing file message: $out"
# A directory named like a canned policy does not shadow it.
mkdir -p "$d/cwd/slo"
out=$(cd "$d/cwd" && "$SLUICE" check slo 2>&1) || fail "canned slo beside a slo/ directory: $out"
echo "$out" | grep -q "^ok policies/slo.lua" || fail "canned slo beside a slo/ directory: $out"
echo "check: all cases behave"
