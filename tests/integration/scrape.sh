#!/usr/bin/env bash
# sluice run scraping sluice emulate's simulated pods, which serve live vLLM and EPP /metrics:
# every Ready model-server pod and EPP the cluster names is scraped (sluice_scrape_up 1 on
# sluice's /metrics, samples counted, /readyz 200); a pod switched to serve garbage is rejected
# page after page, its variant held on stale data while the other targets stay up; once the
# fault clears the pod is up again.
set -u
command -v kubectl >/dev/null || { echo "kubectl not installed: skipped"; exit 0; }
d=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$d"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for f in "$d"/*.log; do echo "--- $f"; tail -15 "$f"; done
  exit 1
}
export HOME="$d" KUBECONFIG="$d/kubeconfig"
wait_for() { # what, command...
  local what=$1; shift
  for _ in $(seq 600); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  fail "timed out waiting for $what"
}

"$SLUICE" emulate --port 0 --kubeconfig "$KUBECONFIG" --speed 10 --start-delay 1 --seed 5 \
  >"$d/emu.log" 2>&1 &
pids+=("$!")
wait_for "the kubeconfig" test -f "$KUBECONFIG"
url=$(sed -n 's/^ *server: //p' "$KUBECONFIG")
faults() { curl -fsS -X POST -H 'Content-Type: application/json' -d "$1" "$url/_emu/faults" >/dev/null; }

cat > "$d/sluice.yaml" <<YAML
interval: 500ms
source:
  kubernetes: {}
  scrape: {interval: 500ms, timeout: 400ms, backoff_max: 1s}
guard: {stale_after: 3s}
actuator: metric
metrics_bind_address: 127.0.0.1:0
repl_socket: $d/repl.sock
accelerators: {H100: {count: 16, cost: 4}, A100: {count: 16, cost: 2}}
policies: [target]
YAML
"$SLUICE" run -c "$d/sluice.yaml" --kubeconfig "$KUBECONFIG" >"$d/run.log" 2>&1 &
pids+=("$!")
wait_for "/metrics" grep -q "serving /metrics" "$d/run.log"
port=$(sed -n 's/.*serving \/metrics.* on port \([0-9]*\).*/\1/p' "$d/run.log" | head -1)
m() { curl -fsS -m 5 "http://127.0.0.1:$port/metrics"; }
val() { m | awk -v k="$1" 'index($0, k) == 1 {print $NF; exit}'; } # first line starting with k

up_pods() { test "$(m | grep -c '^sluice_scrape_up{.*kind="pod".*} 1$')" -ge 2; }
wait_for "two model-server pods scraped" up_pods
wait_for "the gateway scraped" sh -c "curl -fsS -m 5 http://127.0.0.1:$port/metrics |
  grep -q '^sluice_scrape_up{.*kind=\"gateway\".*} 1$'"
wait_for "/readyz" curl -fsS -m 5 "http://127.0.0.1:$port/readyz"
[ "$(val 'sluice_scrape_samples_total ')" -gt 0 ] 2>/dev/null || fail "no samples counted"
m | grep -q '^sluice_scrape_duration_seconds_count [1-9]' || fail "no scrape durations"

# One pod serves garbage: rejected, down, its variant held; the others stay up.
line=$(m | grep '^sluice_scrape_up{.*kind="pod".*} 1$' | head -1)
pod=$(echo "$line" | sed 's/.*pod="\([^"]*\)".*/\1/')
variant=$(echo "$line" | sed 's/.*variant="\([^"]*\)".*/\1/')
labels=$(echo "$line" | sed 's/^sluice_scrape_up\({[^}]*}\).*/\1/')
n0=$(wc -l <"$d/run.log")
faults "{\"pods\":{\"$pod\":{\"mode\":\"garbage\"}}}" || fail "garbage fault"
rejected() { test "$(val "sluice_scrape_rejected_total$labels ")" -ge 1 2>/dev/null; }
wait_for "$pod's pages rejected" rejected
[ "$(val "sluice_scrape_up$labels ")" = 0 ] || fail "$pod still up while serving garbage"
[ "$(val 'sluice_scrape_targets{state="up"} ')" -ge 2 ] 2>/dev/null || fail "the other targets went down"
grep -q "scrape $pod: GET .*line [0-9]*: " "$d/run.log" || fail "the rejection was not logged with its line"
targets() { "$SLUICE" repl --socket "$d/repl.sock" -e targets; }
targets | grep -q "^  pod $pod ($variant): DOWN, .* failed (.* in a row, next try in .*): GET .*line [0-9]*" ||
  fail "the REPL's targets does not show $pod down with why: $(targets 2>&1)"
targets | grep -q "^  gateway .*: up, last page [0-9.]* s ago" || fail "targets: no gateway up: $(targets 2>&1)"
held() { tail -n +"$n0" "$d/run.log" | grep -q "hold $variant at [0-9]*: hold: stale data"; }
wait_for "$variant held on stale data" held

# The fault clears: up again.
faults "{\"pods\":{\"$pod\":{\"mode\":\"ok\"}}}" || fail "clearing the fault"
back() { test "$(val "sluice_scrape_up$labels ")" = 1; }
wait_for "$pod up again" back
targets | grep -q "^  pod $pod ($variant): up" || fail "targets: $pod not up again: $(targets 2>&1)"
grep -q "scrape .*($pod): up again" "$d/run.log" || fail "the recovery was not logged"
echo "scrape: emulated pods scraped, garbage rejected and held, recovery"
