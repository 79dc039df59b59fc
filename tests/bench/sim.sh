#!/usr/bin/env bash
# sluice sim on real traces: wall time, simulated requests per second of wall time and peak RSS.
#   Azure conv at --peak-replicas 20 (targets: < 10 s, >= 1M req/s)
#   the same trace on a static fleet of 500 replicas (target: within 2x of the line above: the
#   cost per simulated request must not grow with the replica count)
#   one day of ServeGen m-large at --peak-replicas 50
#   the 14-day ServeGen m-large replay at --peak-replicas 10 (targets: < 10 min, < 1 GB RSS)
# One policy each (target, or static for the 500-replica fleet). Needs ../shared/data; says so
# and skips without it.
set -uo pipefail
data=${DATA:-../shared/data}
azure="$data/traces/azure2023_AzureLLMInferenceTrace_conv.csv"
servegen="$data/traces/servegen/language/m-large"
if [ ! -e "$azure" ] || [ ! -d "$servegen" ]; then
  echo "skip: $data/traces not found (the simulator benchmarks replay real traces)"
  exit 0
fi
if [ ! -x /usr/bin/time ]; then
  echo "skip: /usr/bin/time (Debian package 'time') is needed for peak RSS"
  exit 0
fi
out=$(mktemp)
trap 'rm -f "$out" "$out.t"' EXIT

run() {  # label, policy, sluice sim args...
  local label=$1 policy=$2
  shift 2
  if ! /usr/bin/time -f "%e %M %U" -o "$out.t" "$SLUICE" sim --policy "$policy" --json "$@" \
       > "$out" 2>/dev/null; then
    echo "$label: sluice sim failed"
    return 1
  fi
  read -r wall rss user < "$out.t"
  python3 - "$out" "$label" "$wall" "$rss" "$user" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
r = j["runs"][0]
wall, rss, user = float(sys.argv[3]), float(sys.argv[4]) / 1024, float(sys.argv[5])
print(f"{sys.argv[2]:<34} {r['requests']:>12,} requests  {wall:7.1f} s wall ({user:.1f} s CPU)  "
      f"{j['simulated_requests_per_second'] / 1e3:5.0f}k req/s ({r['requests'] / user / 1e3:.0f}k "
      f"per CPU-second)  {rss:5.0f} MB peak RSS  (SLO {r['slo_attainment'] * 100:.2f}%, "
      f"oracle peak {j['oracle']['peak_replicas']})")
PY
}

echo "req/s is simulated requests per second of wall time over the runs (not the --peak-replicas"
echo "pre-pass); wall and CPU time are the whole command's. On a shared machine, per CPU-second is"
echo "the steadier figure."
run "azure conv, peak 20 replicas" target --trace "$azure" --peak-replicas 20
run "azure conv, static fleet of 500" static --trace "$azure" --peak-replicas 20 \
  --param static.replicas=500 --quota 1000
run "servegen m-large 1 day, peak 50" target --trace "$servegen" --duration 1d --peak-replicas 50
run "servegen m-large 14 days, peak 10" target --trace "$servegen" --peak-replicas 10
