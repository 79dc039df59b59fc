#!/usr/bin/env bash
# reaction: from a load step at the emulated gateway to the scale request arriving at the API
# server, with 1 s scrapes and 1 s ticks. `sluice emulate` serves one simulated vLLM variant and
# its gateway; `sluice run` scrapes them and decides with the slo policy. Each round starts both
# afresh, holds the load low at one replica until sluice has held for a while, steps the arrival
# rate up (POST /_emu/load, which answers with the time the step took effect), and reads the time
# the emulator stored sluice's scale of the Deployment (GET /_emu/scales). Both times are the
# emulator's clock.
set -uo pipefail
SLUICE=${SLUICE:-build/sluice}
rounds=${ROUNDS:-5}
d=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  if [ -n "${KEEP:-}" ]; then echo "kept $d" >&2; else rm -rf "$d"; fi
}
trap cleanup EXIT
die() {
  echo "reaction: $*"
  for f in "$d"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -8 "$f"; }; done
  exit 1
}
wait_for() { # what, command...
  local what=$1; shift
  for _ in $(seq 300); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  die "timed out waiting for $what"
}

# One 8B variant on H100s that starts at one replica; Poisson arrivals of 5 req/s (about a fifth
# of what one replica sustains within the SLO), stepped to 12x (about twice one replica's worth).
cat >"$d/cluster.yaml" <<'YAML'
slo_classes:
  interactive: {ttft_ms: 1000, itl_ms: 50}
accelerators:
  H100: {count: 16, cost: 4.0}
models:
  - name: meta-llama/Llama-3.1-8B-Instruct
    shape: llama-3.1-8b
    trace: "poisson:rate=5,duration=100000000"
variants:
  - {id: llm/llama-8b-h100, model: meta-llama/Llama-3.1-8B-Instruct, accelerator: H100,
     profile: llama-3.1-8b/h100, slo_class: interactive, min: 1, max: 12}
cold_start: {median: 2s, p95: 3s}
drain_grace: 1s
gateway: {drop_timeout: 60s, queue_threshold: 5, kv_threshold: 0.8}
YAML
cat >"$d/sluice.yaml" <<'YAML'
interval: 1s
source:
  kubernetes: {}
  scrape: {interval: 1s}
slo_classes:
  interactive: {ttft_ms: 1000, itl_ms: 50}
policies: [slo]
metrics_bind_address: 127.0.0.1:0
repl_socket: ''
YAML
export HOME="$d"
load() { curl -fsS -X POST -H 'Content-Type: application/json' -d "{\"load\": $1}" "$url/_emu/load"; }
# The time of the first scale up stored after time $1, or nothing yet.
scaled_after() {
  curl -fsS "$url/_emu/scales" | python3 -c '
import json, sys
t0 = float(sys.argv[1])
ups = [s["time"] for s in json.load(sys.stdin)["scales"] if s["time"] > t0 and s["to"] > s["from"]]
if ups: print("%.6f" % min(ups))' "$1"
}
stop_round() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  pids=()
}

# One round: a fresh emulator and a fresh sluice, so no round inherits another's history.
round() {
  export KUBECONFIG="$d/kubeconfig.$1"
  "$SLUICE" emulate --port 0 --kubeconfig "$KUBECONFIG" --cluster "$d/cluster.yaml" \
    --start-delay 1 --seed "$((10 + $1))" >"$d/emu.log" 2>&1 &
  pids+=("$!")
  wait_for "the emulator's kubeconfig" test -f "$KUBECONFIG"
  url=$(sed -n 's/^ *server: //p' "$KUBECONFIG")
  "$SLUICE" run -c "$d/sluice.yaml" --kubeconfig "$KUBECONFIG" >"$d/run.log" 2>&1 &
  pids+=("$!")
  # Steady: deciding for 12 s (more than the slo policy's 10 s level window) without a scale.
  wait_for "sluice to decide" grep -q "hold llm/llama-8b-h100 at 1:" "$d/run.log"
  sleep 12
  [ -z "$(scaled_after 0)" ] || die "sluice scaled at the low load"
  t0=$(load 12 | python3 -c 'import json, sys; print("%.6f" % json.load(sys.stdin)["time"])') ||
    die "stepping the load"
  local t1=""
  for _ in $(seq 300); do
    t1=$(scaled_after "$t0") || die "reading the scales"
    [ -n "$t1" ] && break
    sleep 0.1
  done
  [ -n "$t1" ] || die "no scale within 30 s of the step"
  stop_round
  times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')")
}

times=()
for i in $(seq "$rounds"); do round "$i"; done
printf '%s\n' "${times[@]}" | sort -g | awk -v n="$rounds" '
  { v[NR] = $1 }
  END {
    med = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
    printf "reaction: median %.2f s, max %.2f s over %d steps (1 s scrapes, 1 s ticks; HPA on Prometheus: >= 30 s)\n", med, v[n], n
  }'
echo "  steps (s): ${times[*]}" >&2
