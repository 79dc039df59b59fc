#!/usr/bin/env bash
# The two ways sluice reads the model servers agree: against `sluice emulate --speed 10` (the
# built-in scenario's load steps up), sluice A scrapes the pods directly and scales; sluice B,
# in dry run, reads the same series from a real Prometheus server that scrapes the same pods
# (file service discovery kept current from kubectl). Both run the `target` policy; every
# second, each one's wva_desired_replicas per variant is sampled from its /metrics. Once
# Prometheus' lag has passed, the desired counts agree at >= 95% of the samples and never differ
# by more than one replica. "Once the lag has passed": B's count at a sample is compared with
# A's within LAG seconds either side (either may lead: A acts on its own scrapes, B on
# Prometheus', which scrapes every second, is polled every second and finds a new pod through
# file discovery), so a change one sees a few seconds before the other counts as agreement, and
# a difference that outlasts the lag does not.
set -u
command -v kubectl >/dev/null || { echo "kubectl not installed: skipped"; exit 0; }
command -v prometheus >/dev/null || { echo "prometheus not installed (make deps installs it): skipped"; exit 0; }
"$SLUICE" emulate --help 2>&1 | grep -q -- '--speed' || { echo "no simulated pods in this emulator: skipped"; exit 0; }
# A comparison of two live timelines: it runs in the plain pass, where timing is the real one.
[ "${SANITIZE:-0}" = 1 ] && { echo "under the sanitizers: skipped (it runs in the plain pass)"; exit 0; }
. "$(dirname "$0")/lib/emu.bash"
start_emulator --speed 10

# Prometheus' targets: every Ready pod that publishes a metrics port, labelled as a
# kubernetes_sd relabelling would label it (namespace, pod). Rewritten whenever pods change.
targets() {
  kubectl get pods -A -o json | jq -c '[.items[]
    | select(.status.conditions[]? | select(.type=="Ready" and .status=="True"))
    | select(.metadata.annotations["prometheus.io/port"] != null)
    | {targets: ["127.0.0.1:" + .metadata.annotations["prometheus.io/port"]],
       labels: {namespace: .metadata.namespace, pod: .metadata.name}}]' > "$d/targets.tmp" &&
    { cmp -s "$d/targets.tmp" "$d/targets.json" || mv "$d/targets.tmp" "$d/targets.json"; }
}
wait_for "pods with metrics ports" sh -c "kubectl get pods -A -o json | jq -e '[.items[] |
  select(.metadata.annotations[\"prometheus.io/port\"] != null)] | length > 0'"
targets
( while sleep 1; do targets; done ) >/dev/null 2>&1 &
pids+=("$!")

prom_port=$(free_port)
cat > "$d/prometheus.yml" <<YAML
global: {scrape_interval: 1s, scrape_timeout: 800ms}
scrape_configs:
  - job_name: pods
    file_sd_configs: [{files: ['$d/targets.json'], refresh_interval: 1s}]
YAML
prometheus --config.file="$d/prometheus.yml" --storage.tsdb.path="$d/tsdb" \
  --web.listen-address="127.0.0.1:$prom_port" >"$d/prometheus.log" 2>&1 &
pids+=("$!")
wait_for "Prometheus ready" curl -fsS "http://127.0.0.1:$prom_port/-/ready"

common='interval: 1s
window: 30s
guard: {stale_after: 10s, max_step: 1}   # one step a tick: a lagging view lags by steps
policies: [target]
repl_socket: ""'
cat > "$d/direct.yaml" <<YAML
source: {kubernetes: {}, scrape: {interval: 1s}}
$common
YAML
cat > "$d/prom.yaml" <<YAML
source: {kubernetes: {}, prometheus: {url: "http://127.0.0.1:$prom_port", interval: 1s}}
$common
YAML
"$SLUICE" run -c "$d/direct.yaml" --kubeconfig "$KUBECONFIG" --metrics-bind-address 127.0.0.1:0 \
  >"$d/direct.log" 2>&1 &
pids+=("$!")
"$SLUICE" run -c "$d/prom.yaml" --kubeconfig "$KUBECONFIG" --metrics-bind-address 127.0.0.1:0 \
  --dry-run >"$d/prom.log" 2>&1 &
pids+=("$!")
wait_for "both metrics ports" sh -c "grep -q 'on port' '$d/direct.log' && grep -q 'on port' '$d/prom.log'"
pa=$(metrics_port "$d/direct.log"); pb=$(metrics_port "$d/prom.log")
desired() { curl -fsS "http://127.0.0.1:$1/metrics" | cat |
  sed -n 's/^wva_desired_replicas{variant_name="\([^"]*\)",namespace="\([^"]*\)".*} \([0-9]*\)$/\2\/\1 \3/p' | sort; }
wait_for "both deciding" sh -c "[ -n \"\$(curl -fsS http://127.0.0.1:$pa/metrics | cat | grep '^wva_desired_replicas')\" ] &&
  [ -n \"\$(curl -fsS http://127.0.0.1:$pb/metrics | cat | grep '^wva_desired_replicas')\" ]"

# Let the lag pass (Prometheus' first scrapes, the windows filling), then sample for 60 s,
# through the load step.
sleep 8
: > "$d/samples"
for i in $(seq 60); do
  a=$(desired "$pa"); b=$(desired "$pb")
  join <(echo "$a") <(echo "$b") | sed "s/^/$i /" >> "$d/samples"
  sleep 1
done
LAG=${LAG:-8}
read -r n agree worst moved bad < <(python3 - "$d/samples" "$LAG" <<'PY'
import sys, collections
lag = int(sys.argv[2])
a, b = collections.defaultdict(dict), collections.defaultdict(dict)
for line in open(sys.argv[1]):
    t, v, x, y = line.split()
    a[v][int(t)], b[v][int(t)] = int(x), int(y)
n = agree = worst = 0
bad, moved = [], set()
for v in a:
    for t, y in sorted(b[v].items()):
        if t <= lag:
            continue
        past = [a[v][s] for s in range(t - lag, t + lag + 1) if s in a[v]]
        moved.add((v, a[v][t]))
        n += 1
        gap = min(abs(y - x) for x in past)
        agree += gap == 0
        worst = max(worst, gap)
        if gap:
            bad.append("%s@%d:%d/%d" % (v, t, past[-1], y))
print(n, agree, worst, len(moved), ",".join(bad[:5]) or "-")
PY
)
pct=$((100 * agree / (n > 0 ? n : 1)))
echo "prometheus_agree: $agree of $n samples agree within ${LAG}s ($pct%), largest difference $worst"
[ "$n" -ge 100 ] || fail "only $n samples"
[ "$moved" -ge 4 ] || fail "the desired counts hardly moved: little was compared"
[ "$pct" -ge 95 ] || fail "the two sources agree at only $pct% of samples: $bad"
[ "$worst" -le 1 ] || fail "they differ by $worst replicas: $bad"
