#!/usr/bin/env bash
# sluice run --record against `sluice emulate`, replayed offline with `sluice check --replay`:
# the replay of the recording with the same policy prints exactly the decision lines the run
# printed (time, variant, from, to, policy, reason), with no sluice.yaml given (the recording
# carries it and the discovered variants); another policy re-decides the same night; the file is
# rotated at its size bound and every piece replays; a recorder killed with SIGKILL leaves a
# recording whose whole frames replay.
set -u
command -v kubectl >/dev/null || { echo "kubectl not installed: skipped"; exit 0; }
. "$(dirname "$0")/lib/emu.bash"
start_emulator --start-delay 0.3
kubectl create namespace llm >/dev/null || fail "namespace"
for name in llama mistral; do managed_deployment "$name" "m/$name"; done
replicas() { kubectl get deploy "$1" -n llm -o jsonpath='{.spec.replicas}'; }
at() { test "$(replicas "$1")" = "$2"; }

# A policy that reads the view: one more replica while the ready pods have caught up with the
# spec, up to 6; its reason names what it saw.
mkdir -p "$d/policies"
cat > "$d/policies/step.lua" <<'LUA'
return { name = "step", decide = function(view)
  local out = {}
  for id, v in view:variants() do
    local r = v.replicas
    local want = r.spec
    if r.ready >= r.spec and r.spec < 6 then want = r.spec + 1 end
    out[id] = { replicas = want, reason = string.format("spec %d, ready %d, %d pods",
      r.spec, r.ready, #v.pods) }
  end
  return out
end }
LUA
cat > "$d/policies/double.lua" <<'LUA'
return { name = "double", decide = function(view)
  local out = {}
  for id, v in view:variants() do out[id] = { replicas = 2 * v.replicas.ready, reason = "twice" } end
  return out
end }
LUA
cat > "$d/sluice.yaml" <<'YAML'
interval: 400ms
source: {kubernetes: {}}
policy_dir: policies
guard: {stale_after: 0}
policies: [step.lua]
YAML
cd "$d"
"$SLUICE" run -c sluice.yaml --kubeconfig "$KUBECONFIG" --repl-socket '' --record rec.gz \
  >"$d/run.log" 2>&1 &
run=$!
pids+=("$run")
wait_for "llama at 6" at llama 6
wait_for "mistral at 6" at mistral 6
sleep 1
kill -TERM "$run"; wait "$run" 2>/dev/null
[ -s rec.gz ] || fail "no recording"
grep '^{"ts".*"from"' run.log > live.out
[ "$(wc -l < live.out)" -ge 10 ] || fail "the run applied only $(wc -l < live.out) changes"

# Replayed with the recorded sluice.yaml and policy: the same lines. (A rebuilt controller —
# discovery seeing a variant change — starts a new piece; the pieces replay oldest first.)
: > replay.out
for f in rec.gz.3 rec.gz.2 rec.gz.1 rec.gz; do
  [ -f "$f" ] || continue
  "$SLUICE" check --replay "$f" >> replay.out 2> replay.log || fail "the replay of $f failed"
done
grep -q "replayed [0-9]* frames" replay.log || fail "no summary"
diff live.out replay.out > diff.out || fail "the replay decided otherwise: $(head -5 diff.out)"

# Another policy re-decides the same views.
"$SLUICE" check --replay rec.gz policies/double.lua > double.out 2> double.log ||
  fail "replay with another policy failed"
grep -q '"policy":"double","reason":"twice"' double.out || fail "double.lua did not decide"

# A bad recording is refused with where and why.
printf 'frames:\n  - variants: {llm/nope: {replicas: {spec: x}}}\n' | gzip > bad.gz
out=$("$SLUICE" check --replay bad.gz 2>&1) && fail "a bad recording was accepted"
echo "$out" | grep -q "bad.gz" || fail "the error does not name the file: $out"

# Rotation at a small bound: pieces FILE, FILE.1, FILE.2, each a whole recording.
"$SLUICE" run -c sluice.yaml --kubeconfig "$KUBECONFIG" --repl-socket '' --record small.gz \
  --record-max-size 1k --record-keep 2 >"$d/run2.log" 2>&1 &
run2=$!
pids+=("$run2")
wait_for "three pieces" test -f small.gz.2
sleep 1
kill -KILL "$run2"; wait "$run2" 2>/dev/null
[ -f small.gz.3 ] && fail "more pieces kept than --record-keep"
for f in small.gz small.gz.1 small.gz.2; do
  "$SLUICE" check --replay "$f" >/dev/null 2>"$f.log" || fail "$f (after SIGKILL) does not replay: $(cat "$f.log")"
done
echo "record: a run's decisions replayed exactly; another policy re-decided; rotation and SIGKILL leave replayable pieces"
