#!/usr/bin/env bash
# The interactive `sluice repl` on a real terminal (a tmux pane): line editing (Ctrl-A, Backspace),
# Tab completion of a variant id from the server, history recalled with the up arrow within a
# session and, through ~/.sluice_repl_history (mode 0600), in the next one.
set -uo pipefail
command -v tmux >/dev/null || { echo "skip: tmux is not installed (make deps installs it)"; exit 0; }
d=$(mktemp -d)
pid=
tsock="$d/tmux.sock"
tm() { tmux -S "$tsock" -f /dev/null "$@"; }
trap 'tmux -S "$d/tmux.sock" kill-server 2>/dev/null; tmux -S "$d/tmux2.sock" kill-server 2>/dev/null; [ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$d"' EXIT
fail() {
  echo "FAIL: $*"; echo "--- pane:"; tm capture-pane -p -S - 2>/dev/null | grep -v '^$' | tail -30
  exit 1
}
mkdir -p "$d/policies" "$d/home"
cat > "$d/policies/p.lua" <<'LUA'
return { name = "p", decide = function()
  return { ["llm/alpha"] = { replicas = 3, reason = "p wants 3" } } end }
LUA
cat > "$d/views.yaml" <<'YAML'
frames:
  - variants:
      llm/alpha:
        replicas: {spec: 2}
        signals: {running: 5}
      llm/beta:
        replicas: {spec: 1}
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
for _ in $(seq 200); do "$SLUICE" repl --socket "$sock" -e 'explain llm/alpha' >/dev/null 2>&1 &&
  break; sleep 0.1; done

export TERM=${TERM:-xterm}
session() {
  tm new-session -d -x 120 -y 50 \
    "env HOME='$d/home' '$SLUICE' repl --socket '$sock'; echo REPL-EXITED-\$?; sleep 60" ||
    fail "tmux could not start a session"
}
pane() { tm capture-pane -p -S - | grep -v '^$'; }
wait_pane() {  # pattern (grep -E), what
  for _ in $(seq 200); do pane | grep -Eq -- "$1" && return 0; sleep 0.1; done
  fail "$2"
}
keys() { tm send-keys "$@"; }
lines() { pane | grep -cE -- "$1"; }

session
wait_pane "sluice run \(pid [0-9]+\)" "no banner"
wait_pane "^sluice>" "no prompt"

# Line editing: the line is typed without its first letter, which Ctrl-A then inserts, and a
# stray character is taken back with Backspace.
keys -l 'eturn 40 + 2x'
keys BSpace C-a
keys -l 'r'
keys Enter
wait_pane "^42$" "the edited line 'return 40 + 2' did not give 42"

# Completion: the server completes a variant id.
keys -l 'explain llm/al'
keys Tab
wait_pane "^sluice> explain llm/alpha" "Tab did not complete llm/alpha"
keys Enter
wait_pane "decided by: p" "the completed explain did not run"

# History: the up arrow twice brings back 'return 40 + 2', which is edited and run again.
# (The pane still shows that line where it was first run: wait for one more of it.)
n=$(lines "^sluice> return 40 \+ 2$")
keys Up Up
for _ in $(seq 200); do [ "$(lines "^sluice> return 40 \+ 2$")" -gt "$n" ] && break; sleep 0.1; done
[ "$(lines "^sluice> return 40 \+ 2$")" -gt "$n" ] || fail "the up arrow did not recall the earlier line"
keys -l ' + 1'
keys Enter
wait_pane "^43$" "the recalled line, edited, did not give 43"

keys C-d
wait_pane "REPL-EXITED-0" "Ctrl-D did not end the session with exit 0"
hist="$d/home/.sluice_repl_history"
[ -f "$hist" ] || fail "no history file"
[ "$(stat -c %a "$hist")" = 600 ] || fail "the history file is $(stat -c %a "$hist"), not 600"
grep -q 'explain' "$hist" || fail "the history file lacks the lines: $(cat "$hist")"

# A new session starts with that history. (On a server of its own: a killed tmux server can
# still be going away when the next command looks for it.)
tm kill-server
tsock="$d/tmux2.sock"
session
wait_pane "^sluice>" "no prompt in the second session"
keys Up
wait_pane "^sluice> return 40 \+ 2 \+ 1$" "the last line of the previous session was not recalled"
keys Enter
wait_pane "^43$" "the recalled line did not run"
keys C-d
wait_pane "REPL-EXITED-0" "the second session did not end"
echo "repl_pty: editing, completion and history (within and across sessions) work on a terminal"
