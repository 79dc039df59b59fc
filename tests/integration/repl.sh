#!/usr/bin/env bash
# sluice repl against a running `sluice run` (fixture source, log actuator), through its socket
# with `sluice repl -e`: variants, explain, Lua on the live view, lines that loop or allocate
# forever (stopped, and the controller ticks on), dry-run (nothing actuated), set, pause and
# resume, errors after a broken reload, exit codes, the socket's mode and peer check, several
# clients at once, and clients that flood or vanish mid-line.
set -uo pipefail
d=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$d"' EXIT
fail() { echo "FAIL: $*"; echo "--- log (tail):"; tail -30 "$d/log"; exit 1; }
mkdir -p "$d/policies"
put() {  # file, text: written aside and renamed in, as an editor or a ConfigMap swap does
  printf '%s\n' "$2" > "$d/.put.tmp" && mv "$d/.put.tmp" "$1"
}
good='return { name = "p", params = { want = 3 },
  validate = function(p) if p.want > 6 then return "want must be at most 6" end end,
  decide = function(view, params, state)
    return { ["llm/alpha"] = { replicas = params.want, reason = "p wants " .. params.want,
                               inputs = { load = 27 } },
             ["llm/beta"] = { replicas = 2, reason = "steady" } }
  end }'
put "$d/policies/p.lua" "$good"
cat > "$d/views.yaml" <<'YAML'
frames:
  - variants:
      llm/alpha:
        replicas: {spec: 2, ready: 2}
        signals: {running: 5, kv_usage: 0.42}
      llm/beta:
        replicas: {spec: 2, ready: 2}
        signals: {running: 3}
    models:
      m: {signals: {queue_size: 3, arrival_rate: 4.5}}
YAML
cat > "$d/sluice.yaml" <<'YAML'
interval: 200ms
source: {fixture: views.yaml}
policy_dir: policies
variants:
  - {id: llm/alpha, model: m, min: 1, max: 8}
  - {id: llm/beta, model: m, min: 1, max: 8}
policies: [p.lua]
YAML
sock="$d/repl.sock"
"$SLUICE" run -c "$d/sluice.yaml" --repl-socket "$sock" >"$d/log" 2>&1 &
pid=$!

wait_for() {  # pattern, timeout seconds
  for _ in $(seq $(( $2 * 10 ))); do grep -q -- "$1" "$d/log" && return 0; sleep 0.1; done
  return 1
}
count() { grep -c -- "$1" "$d/log"; }
# Waits until the log has n more lines matching pattern than now (bounded).
more() {  # pattern, n
  local base; base=$(count "$1")
  for _ in $(seq 300); do [ "$(count "$1")" -ge $((base + $2)) ] && return 0; sleep 0.1; done
  return 1
}
repl() { "$SLUICE" repl --socket "$sock" "$@"; }
# Runs `sluice repl -e LINE`, keeping stdout, stderr and the exit code.
e() {
  repl -e "$1" >"$d/out" 2>"$d/err"; rc=$?
  out=$(cat "$d/out"); errout=$(cat "$d/err")
}
ticks() { repl -e 'controller.ticks'; }

wait_for "scale llm/alpha 2 -> 3" 20 || fail "the controller never actuated"
[ -S "$sock" ] || fail "no socket at $sock"
mode=$(stat -c %a "$sock")
[ "$mode" = 600 ] || fail "the socket's mode is $mode, not 600"
grep -q "repl: listening on $sock" "$d/log" || fail "the log does not say where the REPL is"

# variants, explain, Lua
e variants
[ $rc -eq 0 ] || fail "variants exited $rc: $errout"
echo "$out" | grep -q "llm/alpha  replicas 2 (ready 2, starting 0, pending 0)  running 5" ||
  fail "variants lacks replicas and signals: $out"
echo "$out" | grep -q "scaled 2 -> 3 by p: p wants 3" || fail "variants lacks the decision: $out"
e "explain llm/alpha"
[ $rc -eq 0 ] || fail "explain exited $rc: $errout"
for want in "decided by: p" "signals   running 5, kv_usage 0.42" \
            "gateway   queue_size 3, arrival_rate 4.5" "load = 27" "\* p  *wants 3"; do
  echo "$out" | grep -q -- "$want" || fail "explain lacks '$want': $out"
done
e "explain llm/nope"
[ $rc -eq 1 ] && echo "$errout" | grep -q "no variant 'llm/nope'" || fail "explain of nothing: $rc $errout"
e 'view.variants["llm/alpha"].signals.running + view.models.m.signals.queue_size'
[ $rc -eq 0 ] && [ "$out" = 8 ] || fail "a Lua expression on the live view gave '$out' ($rc): $errout"
e 'policies.p.params.want, decisions["llm/alpha"].p.inputs.load, outcomes["llm/alpha"].target'
[ "$out" = "$(printf '3\t27\t3')" ] || fail "policies/decisions/outcomes gave '$out': $errout"

# Lines that never end: stopped, reported, and the controller goes on ticking.
t0=$(ticks)
e 'while true do end'
[ $rc -eq 1 ] || fail "an endless loop exited $rc"
echo "$errout" | grep -Eq "instruction budget exceeded|time limit exceeded" ||
  fail "the loop's error names no limit: $errout"
e 'local s = "x" while true do s = s .. s end'
[ $rc -eq 1 ] && echo "$errout" | grep -q "memory cap exceeded" ||
  fail "unbounded allocation: $rc $errout"
e 'local a, b = ("x"):rep(65536), ("x"):rep(65535) .. "y" while true do local _ = a < b end'
[ $rc -eq 1 ] && echo "$errout" | grep -q "time limit exceeded" ||
  fail "a loop of long C calls: $rc $errout"
advanced=
for _ in $(seq 100); do
  t1=$(ticks); [ -n "$t1" ] && [ "$t1" -gt "$t0" ] && { advanced=1; break; }; sleep 0.1
done
[ -n "$advanced" ] || fail "the tick counter did not advance after those lines ($t0)"
more "scale llm/alpha 2 -> 3" 2 || fail "the controller stopped actuating after those lines"

# dry-run: decisions beside the running policy's, nothing actuated.
put "$d/try.lua" 'return { name = "p", params = { want = 3 }, decide = function()
  return { ["llm/alpha"] = { replicas = 6, reason = "try wants 6" } } end }'
e "dry-run $d/try.lua"
[ $rc -eq 0 ] || fail "dry-run exited $rc: $errout"
echo "$out" | grep -q "dry-run  6      try wants 6   <- differs" || fail "dry-run's decision: $out"
echo "$out" | grep -q "running  3      p wants 3" || fail "dry-run lacks the running one: $out"
(cd "$d" && "$SLUICE" repl --socket "$sock" -e "dry-run try.lua" | grep -q "try wants 6") ||
  fail "dry-run of a path relative to the client's directory"
more "scale llm/alpha 2 -> 3" 3 || fail "no more ticks after the dry run"
[ "$(count "-> 6")" -eq 0 ] || fail "the dry run was actuated"

# set
e "set p.want 4"
[ $rc -eq 0 ] || fail "a valid set exited $rc: $errout"
wait_for "scale llm/alpha 2 -> 4: p wants 4" 20 || fail "the set parameter did not take effect"
e "set p.want 9"
[ $rc -eq 1 ] && echo "$errout" | grep -q "want must be at most 6" || fail "validate(): $rc $errout"
e "set p.want lots"
[ $rc -eq 1 ] && echo "$errout" | grep -q "'want' must be a number, got a string" ||
  fail "a mistyped set: $rc $errout"
e "set p.nope 1"
[ $rc -eq 1 ] && echo "$errout" | grep -q "'nope' is not a parameter" || fail "unknown param: $errout"

# pause, resume
e pause
[ $rc -eq 0 ] || fail "pause exited $rc"
wait_for "hold llm/alpha at 2: paused" 20 || fail "pause did not hold"
n=$(count "scale llm/alpha")
more "hold llm/alpha at 2: paused" 3 || fail "no ticks while paused"
[ "$(count "scale llm/alpha")" -eq "$n" ] || fail "something was actuated while paused"
e resume
[ $rc -eq 0 ] || fail "resume exited $rc"
more "scale llm/alpha 2 -> 4" 1 || fail "actuation did not resume"

# A broken reload, and errors
put "$d/policies/p.lua" 'return { name = "p", decide = function( }'
e reload
echo "$out" | grep -q "rejected (version 2)" || [ $rc -eq 0 ] || fail "reload: $rc $out $errout"
wait_for "rejected (version 2)" 20 || fail "the broken file was not rejected"
e errors
[ $rc -eq 0 ] || fail "errors exited $rc"
echo "$out" | grep -q "p.lua: rejected (version 2): .*p.lua:1:" || fail "errors: $out"
more "scale llm/alpha 2 -> 4" 1 || fail "the running version stopped after the broken reload"
put "$d/policies/p.lua" "$good"

# Exit codes: 0 done above; 1 for a failed line; 2 for usage and for no connection.
e 'error("boom")'
[ $rc -eq 1 ] && echo "$errout" | grep -q "repl:1: boom" || fail "a failing line: $rc $errout"
"$SLUICE" repl --socket "$d/none.sock" -e 1 2>"$d/err"; rc=$?
[ $rc -eq 2 ] && grep -q "no REPL socket there" "$d/err" || fail "no server: exit $rc $(cat "$d/err")"
"$SLUICE" repl --bogus 2>/dev/null; rc=$?
[ $rc -eq 2 ] || fail "bad usage exited $rc"
printf 'return 1 + 1\nerror("x")\nreturn 3\n' | repl >"$d/out" 2>"$d/err"; rc=$?
[ $rc -eq 1 ] && [ "$(cat "$d/out")" = "$(printf '2\n3')" ] || fail "lines from stdin: $rc $(cat "$d/out")"

# Several clients at once
for i in 1 2 3 4 5 6; do repl -e "return $i * 10" >"$d/c$i" 2>&1 & done
wait_rc=0
for job in $(jobs -p); do [ "$job" = "$pid" ] && continue; wait "$job" || wait_rc=1; done
[ $wait_rc -eq 0 ] || fail "a concurrent client failed"
for i in 1 2 3 4 5 6; do [ "$(cat "$d/c$i")" = "$((i * 10))" ] || fail "client $i: $(cat "$d/c$i")"; done

# A client that floods without reading, one that sends a line far over the cap, one that
# vanishes mid-line: none stops the others or the ticks.
python3 - "$sock" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.setblocking(False)
line = b'{"op":"line","text":"variants"}\n'
end = time.time() + 3
while time.time() < end:
    try: s.send(line * 64)
    except BlockingIOError: time.sleep(0.01)
s.close()
PY
flood=$!
python3 - "$sock" >"$d/big" <<'PY'
import socket, sys
big = socket.socket(socket.AF_UNIX); big.connect(sys.argv[1]); big.recv(4096)
try: big.sendall(b"x" * (200 << 10))
except OSError: pass
print(big.recv(4096).decode().strip())
half = socket.socket(socket.AF_UNIX); half.connect(sys.argv[1]); half.recv(4096)
half.sendall(b'{"op":"line","text":"while true do')
half.close()
PY
[ $? -eq 0 ] && grep -q '"error":"bad request: a line is longer than 65536 bytes"' "$d/big" ||
  fail "the oversize line was not refused: $(cat "$d/big")"
t0=$(ticks)
e 'return 6 * 7'
[ "$out" = 42 ] || fail "a client while another floods got '$out' ($rc): $errout"
advanced=
for _ in $(seq 100); do
  t1=$(ticks); [ -n "$t1" ] && [ "$t1" -gt "$t0" ] && { advanced=1; break; }; sleep 0.1
done
[ -n "$advanced" ] || fail "ticks stalled while a client flooded ($t0)"
wait $flood

# A client that shuts down its side after sending (`printf ... | socat`) still gets its answers.
python3 - "$sock" >"$d/half" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b'{"op":"line","id":1,"text":"1 + 1"}\n{"op":"line","id":2,"text":"variants"}\n{"op":"li')
s.shutdown(socket.SHUT_WR)
data = b""
while True:
    c = s.recv(65536)
    if not c: break
    data += c
sys.stdout.write(data.decode())
PY
[ "$(grep -c '"ok":true' "$d/half")" -eq 3 ] && grep -q '"id":1,"out":"2\\n"' "$d/half" ||
  fail "a half-closed client's lines: $(cat "$d/half")"

# The socket refuses other users.
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
  cp "$SLUICE" "$d/sluice-other" && chmod 755 "$d" "$d/sluice-other"
  as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$d/sluice-other" repl "$@"; }
  as_nobody --socket "$sock" -e 1 >/dev/null 2>"$d/err"; rc=$?
  [ $rc -eq 2 ] && grep -q "permission denied" "$d/err" ||
    fail "uid 65534 through a 0600 socket: exit $rc $(cat "$d/err")"
  # With the file mode opened up, the server's own check still refuses the peer.
  chmod 666 "$sock"
  as_nobody --socket "$sock" -e 1 >/dev/null 2>"$d/err"; rc=$?
  chmod 600 "$sock"
  [ $rc -eq 2 ] && grep -q "refused: uid 65534" "$d/err" ||
    fail "uid 65534 was not refused by the server: exit $rc $(cat "$d/err")"
  grep -q "repl: refused a connection from uid 65534" "$d/log" || fail "the refusal is not logged"
  chmod 700 "$d"
else
  echo "skip: connecting as another user needs root and setpriv (running as uid $(id -u))"
fi

# One socket, one controller; '' switches the socket off.
"$SLUICE" run -c "$d/sluice.yaml" --repl-socket "$sock" --ticks 2 >"$d/log2" 2>&1; rc=$?
[ $rc -eq 1 ] && grep -q "another controller is listening there" "$d/log2" ||
  fail "a second controller on the same socket: exit $rc $(cat "$d/log2")"
"$SLUICE" run -c "$d/sluice.yaml" --repl-socket '' --ticks 2 >"$d/log2" 2>&1; rc=$?
[ $rc -eq 0 ] && ! grep -q "repl: listening" "$d/log2" || fail "--repl-socket '': $(cat "$d/log2")"

# The default socket ($XDG_RUNTIME_DIR/sluice/repl.sock here): `sluice repl` finds it, and a
# second controller that finds it taken runs on without a REPL.
mkdir -m 700 "$d/xdg"
XDG_RUNTIME_DIR="$d/xdg" "$SLUICE" run -c "$d/sluice.yaml" >"$d/log3" 2>&1 &
pid3=$!
for _ in $(seq 200); do [ -S "$d/xdg/sluice/repl.sock" ] && break; sleep 0.1; done
XDG_RUNTIME_DIR="$d/xdg" "$SLUICE" repl -e 'controller.interval' >"$d/out" 2>&1 ||
  fail "sluice repl did not find the default socket: $(cat "$d/out")"
XDG_RUNTIME_DIR="$d/xdg" "$SLUICE" run -c "$d/sluice.yaml" --ticks 5 >"$d/log2" 2>&1; rc=$?
kill $pid3; wait $pid3
[ $rc -eq 0 ] && grep -q "another controller is listening there; running without a REPL" "$d/log2" &&
  [ "$(grep -c "scale llm/alpha" "$d/log2")" -ge 4 ] ||
  fail "a controller whose default socket is taken: exit $rc $(tail -5 "$d/log2")"

kill -0 $pid 2>/dev/null || fail "sluice run died"
kill -TERM $pid; wait $pid; rc=$?; pid=
[ $rc -eq 0 ] || fail "sluice run exited $rc on SIGTERM"
[ ! -e "$sock" ] || fail "the socket was left behind"
echo "repl: commands, Lua, limits, dry-run, set, pause, errors, exit codes and peers all held"
