#!/usr/bin/env bash
# The prefix cache and the EPP's scorer mix against least-loaded routing, one policy (slo), no
# oracle, no quota: per run the prefix-cache hit rate, SLO attainment and the simulator's speed.
#   Mooncake (hash_ids) at --peak-replicas 20 and 200 (the scorer mix visits every endpoint)
#   Azure conv (no blocks) at --peak-replicas 20: what the scorer mix costs without a cache
# Needs ../shared/data; says so and skips without it.
set -uo pipefail
data=${DATA:-../shared/data}
root=$(cd "$(dirname "$0")/../.." && pwd)
mooncake="$data/traces/mooncake_synthetic_trace.jsonl"
azure="$data/traces/azure2023_AzureLLMInferenceTrace_conv.csv"
mix="$root/deploy/examples/sim-llama-8b-h100-prefix.yaml"
if [ ! -e "$mooncake" ] || [ ! -e "$azure" ]; then
  echo "skip: $data/traces not found (the prefix-cache benchmarks replay real traces)"
  exit 0
fi
if [ ! -x /usr/bin/time ]; then
  echo "skip: /usr/bin/time (Debian package 'time') is needed for CPU time"
  exit 0
fi
out=$(mktemp)
trap 'rm -f "$out" "$out.t"' EXIT

run() {  # label, sluice sim args...
  local label=$1
  shift
  if ! /usr/bin/time -f "%U" -o "$out.t" "$SLUICE" sim --policy slo --oracle off --quota off \
       --json "$@" > "$out" 2>/dev/null; then
    echo "$label: sluice sim failed"
    return 1
  fi
  python3 - "$out" "$label" "$(cat "$out.t")" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
r = j["runs"][0]
cpu = float(sys.argv[3])
hit = r["prefix_hit_rate"]
hit = "-" if hit is None else f"{hit * 100:.2f}%"
print(f"{sys.argv[2]}: {r['requests']:,} requests, prefix hits {hit}, "
      f"SLO {r['slo_attainment'] * 100:.2f}%, {r['gpu_hours']:.1f} GPU-h, "
      f"{j['simulated_requests_per_second'] / 1e3:.0f}k req/s wall, {cpu:.2f} s CPU")
PY
}

run "mooncake peak 20, least-loaded" --trace "$mooncake" --peak-replicas 20
run "mooncake peak 20, scorer mix" --trace "$mooncake" --peak-replicas 20 --cluster "$mix"
run "mooncake peak 200, least-loaded" --trace "$mooncake" --peak-replicas 200
run "mooncake peak 200, scorer mix" --trace "$mooncake" --peak-replicas 200 --cluster "$mix"
run "azure conv peak 20, least-loaded" --trace "$azure" --peak-replicas 20
run "azure conv peak 20, scorer mix" --trace "$azure" --peak-replicas 20 --cluster "$mix"
