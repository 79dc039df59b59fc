#!/usr/bin/env bash
# make eval: every canned policy (policies/*.lua) on each trace in ../shared/data/traces, scaled
# so the mean-sized estimate's busiest minute needs 20 replicas of Llama-3.1-8B on H100 (the
# calibrated reference, deploy/examples/sim-llama-8b-h100.yaml, SLO TTFT <= 500 ms and ITL <=
# 24 ms), with the shared GPU quota (twice the oracle's peak). Writes one markdown table, a row
# per (trace, policy) plus the oracle per trace, to out/eval.md and prints it; an HTML report per
# trace goes to out/eval/. ServeGen: the first day of each language model (m-large, m-mid,
# m-small); EVAL_FULL=1 replays their whole fortnight.
#
# Sweeps: each policy is also run over the values of its knob (the `knob` of policies/NAME.lua),
# one plain `sluice sim --param POLICY.KEY=VALUE` per point under the same quota, EVAL_JOBS at a
# time; scripts/frontier.py turns them into the sweep table (the fewest GPU-hours at which each
# policy reaches 99%, as a ratio to the oracle's) and a frontier chart per trace
# (out/eval/TRACE-sweep.html).
#
# Usage: scripts/eval.sh BUILD_DIR
# Environment: EVAL_FULL=1, EVAL_POLICIES=a,b (default: every canned policy), EVAL_SEED (1),
#              EVAL_PEAK_REPLICAS (20), EVAL_OUT (out/eval.md), EVAL_SWEEP (1; 0: no sweeps),
#              EVAL_JOBS (the number of cores), EVAL_TRACES=a,b (traces whose names contain
#              one of them), EVAL_SWEEP_SERVEGEN (6h)
set -uo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

data=../shared/data/traces
if [ ! -d "$data" ]; then
  echo "eval: ../shared/data/traces is absent; skipping (the evaluation replays the real traces)"
  exit 0
fi

sluice="$build/sluice"
[ -x "$sluice" ] || { echo "eval: $sluice not built (run make)" >&2; exit 1; }
base_cluster=deploy/examples/sim-llama-8b-h100.yaml
# The long-context trace is judged by a long-context SLO class (TTFT 500 ms + 50 ms per 1,000
# prompt tokens): a flat 500 ms would make four in ten of its prompts infeasible.
long_cluster=deploy/examples/sim-llama-8b-h100-long.yaml
peak=${EVAL_PEAK_REPLICAS:-20}
seed=${EVAL_SEED:-1}
out=${EVAL_OUT:-out/eval.md}
reports=$(dirname "$out")/eval
policies=${EVAL_POLICIES:-$(for f in policies/*.lua; do basename "$f" .lua; done | paste -sd, -)}
[ -n "$policies" ] || { echo "eval: no policies in policies/" >&2; exit 1; }
mkdir -p "$reports"

# name|trace|extra flags
traces=()
for f in "$data"/*.csv "$data"/*.jsonl; do
  [ -f "$f" ] || continue
  name=$(basename "$f")
  name=${name%.*}
  c=$base_cluster
  case $name in mooncake*) c=$long_cluster ;; esac
  traces+=("$name|$f||$c")
done
day="--duration 1d"
[ "${EVAL_FULL:-0}" = 1 ] && day=""
for d in "$data"/servegen/language/*/; do
  [ -d "$d" ] || continue
  m=$(basename "$d")
  traces+=("servegen-$m${day:+-day1}|${d%/}|$day|$base_cluster")
done

# EVAL_TRACES=a,b keeps the traces whose names contain one of them.
if [ -n "${EVAL_TRACES:-}" ]; then
  kept=()
  for t in "${traces[@]}"; do
    for w in ${EVAL_TRACES//,/ }; do
      case ${t%%|*} in *"$w"*) kept+=("$t"); break ;; esac
    done
  done
  traces=("${kept[@]}")
fi

# Fixed decimals in jq (1.6 has no printf); null (no data) prints as "-".
jq_lib='
def pad(n): if length < n then ("0" * (n - length)) + . else . end;
def fixed(n):
  if . == null then "-"
  elif n == 0 then (round | tostring)
  else (. < 0) as $neg | (fabs * pow(10; n) | round | tostring | pad(n + 1)) as $s
    | (if $neg then "-" else "" end) + $s[0:($s | length) - n] + "." + $s[($s | length) - n:]
  end;
'

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rows="$tmp/rows"
sweeps="$tmp/sweeps"
: > "$rows"
: > "$sweeps"
sweep=${EVAL_SWEEP:-1}
jobs=${EVAL_JOBS:-$(nproc 2>/dev/null || echo 2)}
knobs="$tmp/knobs"
if [ "$sweep" != 0 ]; then
  # shellcheck disable=SC2046  # one argument per policy
  luajit scripts/knobs.lua "$build" $(echo "$policies" | tr ',' ' ') > "$knobs" ||
    { echo "eval: cannot read the policies' knobs (luajit scripts/knobs.lua)" >&2; exit 1; }
fi
failed=0
swept=() # name|label|reference of each trace whose sweep is queued
# At most EVAL_JOBS commands at once in the background.
limited() {
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
  "$@" &
}
# One trace's run of every policy (its rc in NAME.rc), and for ServeGen the reference of its
# sweep window: all of them first, EVAL_JOBS at a time, since each is one process on one core.
main_run() { # name spec extra cluster
  local name=$1 spec=$2 extra=$3 cluster=$4
  # shellcheck disable=SC2086  # extra is a list of flags
  "$sluice" sim --cluster "$cluster" --trace "$spec" --peak-replicas "$peak" --seed "$seed" \
    --policy "$policies" --quota auto --json --report "$reports/$name.html" $extra \
    > "$tmp/$name.json" 2> "$tmp/$name.err"
  echo $? > "$tmp/$name.rc"
}
sweep_ref() { # name spec cluster
  # shellcheck disable=SC2086
  "$sluice" sim --cluster "$3" --trace "$2" --peak-replicas "$peak" --seed "$seed" \
    --policy static --quota auto --json --duration "${EVAL_SWEEP_SERVEGEN:-6h}" \
    > "$tmp/$1-sweepref.json" 2> "$tmp/$1-sweepref.json.err"
  echo $? > "$tmp/$1-sweepref.rc"
}
start=$(date +%s)
echo "eval: every trace with $policies, $jobs at a time ..." >&2
# The longest (ServeGen's days) first, so the short ones fill in at the end.
for t in "${traces[@]}"; do case $t in servegen-*) echo "$t" ;; esac; done > "$tmp/order"
for t in "${traces[@]}"; do case $t in servegen-*) ;; *) echo "$t" ;; esac; done >> "$tmp/order"
while read -r t; do
  IFS='|' read -r name spec extra cluster <<< "$t"
  limited main_run "$name" "$spec" "$extra" "$cluster"
  case $name in servegen-*) [ "$sweep" != 0 ] && limited sweep_ref "$name" "$spec" "$cluster" ;; esac
done < "$tmp/order"
wait
echo "eval: the runs of every policy: $(($(date +%s) - start)) s" >&2
for t in "${traces[@]}"; do
  IFS='|' read -r name spec extra cluster <<< "$t"
  if [ "$(cat "$tmp/$name.rc" 2>/dev/null)" != 0 ]; then
    echo "eval: $name failed: $(grep -v '^report:' "$tmp/$name.err" | tail -3)" >&2
    echo "| $name | (failed: $(grep -v '^report:' "$tmp/$name.err" | tail -1 | tr '|' '/')) |||||||||||" >> "$rows"
    failed=1
    continue
  fi
  jq -r --arg t "$name" "$jq_lib"'
    .oracle.gpu_hours as $c | .oracle.infeasible as $inf
    | def row($p): "| \($t) | \($p) | \(.requests) | \(.dropped) | \(.slo_attainment * 100
        | fixed(2))% | \(.ttft_mean_ms | fixed(0)) | \(.ttft_p99_ms | fixed(0)) | \(.itl_mean_ms
        | fixed(1)) | \(.itl_p99_ms | fixed(1)) | \(if .e2e_p99_ms then .e2e_p99_ms / 1000 else null end | fixed(1)) | \(.gpu_hours
        | fixed(1)) | \(if $c > 0 then .gpu_hours / $c | fixed(2) else "-" end) | \(
        .peak_replicas) | \(.scale_events) | \(.reaction_s | fixed(0)) |";
      (.oracle.run | row("*oracle* (infeasible \($inf * 100 | fixed(2))%)")),
      (.runs[] | row(.policy)),
      "| \($t) | *quota* \(.quota.gpus) GPUs | | | | | | | | | | | | | |"' "$tmp/$name.json" >> "$rows"
  [ "$sweep" != 0 ] || continue

  # The sweep: every knob value of every policy, one plain sluice sim each, under this trace's
  # quota (no oracle: the one above is the reference). ServeGen's day is swept over its first
  # EVAL_SWEEP_SERVEGEN (6h), against an oracle of its own for that window.
  sweep_extra=$extra
  ref="$tmp/$name.json"
  case $name in
    servegen-*)
      sweep_extra="--duration ${EVAL_SWEEP_SERVEGEN:-6h}"
      ref="$tmp/$name-sweepref.json"
      [ "$(cat "$tmp/$name-sweepref.rc" 2>/dev/null)" = 0 ] ||
        { echo "eval: $name: sweep reference failed: $(tail -1 "$ref.err")" >&2; failed=1; continue; }
      ;;
  esac
  quota=$(jq -r '.quota.gpus' "$ref")
  peakr=$(jq -r '.oracle.peak_replicas' "$ref")
  mkdir -p "$tmp/sweep-$name"
  : > "$tmp/jobs-$name"
  while read -r pol param scale values; do
    for v in $values; do
      x=$v
      [ "$scale" = oracle_peak ] && x=$(awk -v v="$v" -v p="$peakr" \
        'BEGIN { n = int(v * p + 0.5); print n < 1 ? 1 : n }')
      out_json="$tmp/sweep-$name/$pol@$param=$x.json"
      [ -e "$out_json" ] && continue  # two shares rounding to one count
      : > "$out_json"
      printf '%s\n' "$sluice sim --cluster $cluster --trace $spec --peak-replicas $peak --seed $seed --quota $quota --oracle off --policy $pol --param $pol.$param=$x --json $sweep_extra > $out_json 2> $out_json.err" >> "$tmp/jobs-$name"
    done
  done < "$knobs"
  label=$name
  [ "$sweep_extra" = "$extra" ] || label="$name (first ${EVAL_SWEEP_SERVEGEN:-6h})"
  swept+=("$name|$label|$ref")
done

# Every trace's sweep points in one pool, the longest traces' first (ServeGen's windows), so
# both cores stay busy to the end instead of waiting at each trace's last run.
if [ "${#swept[@]}" -gt 0 ]; then
  start=$(date +%s)
  for t in "${swept[@]}"; do case ${t%%|*} in servegen-*) cat "$tmp/jobs-${t%%|*}" ;; esac; done > "$tmp/jobs"
  for t in "${swept[@]}"; do case ${t%%|*} in servegen-*) ;; *) cat "$tmp/jobs-${t%%|*}" ;; esac; done >> "$tmp/jobs"
  echo "eval: sweeps, $(wc -l < "$tmp/jobs") runs, $jobs at a time ..." >&2
  if ! xargs -P "$jobs" -I CMD sh -c CMD < "$tmp/jobs"; then
    echo "eval: a sweep run failed: $(cat "$tmp"/sweep-*/*.err | grep -v '^sim:' | tail -3)" >&2
    failed=1
  fi
  echo "eval: sweeps: $(($(date +%s) - start)) s" >&2
  for t in "${swept[@]}"; do
    IFS='|' read -r name label ref <<< "$t"
    python3 scripts/frontier.py "$label" "$ref" "$tmp/sweep-$name.md" \
      "$reports/$name-sweep.html" "$tmp/sweep-$name"/*.json &&
      cat "$tmp/sweep-$name.md" >> "$sweeps" || failed=1
  done
fi

version=$("$sluice" version | head -1)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD 2>/dev/null || commit="$commit (modified)"
{
  echo "# sluice eval"
  echo
  echo "Policies $(echo "$policies" | sed 's/,/, /g') on each trace in \`../shared/data/traces\`," \
       "rate-scaled so the mean-sized estimate's busiest minute needs $peak replicas of" \
       "Llama-3.1-8B on H100, every run under the same GPU quota (twice the oracle's peak)" \
       "(\`$base_cluster\`: SLO TTFT ≤ 500 ms and ITL ≤ 24 ms, cold start median 110 s, p95" \
       "300 s; the Mooncake trace on \`$long_cluster\`: TTFT ≤ 500 ms + 50 ms per 1,000 prompt" \
       "tokens)," \
       "seed $seed. ServeGen: $([ -n "$day" ] && echo "the first day" || echo "all 14 days")" \
       "of each language model. $version, commit $commit. HTML reports: \`$reports/\`."
  echo
  echo "| trace | policy | requests | dropped | SLO | TTFT mean (ms) | TTFT p99 (ms) |" \
       "ITL mean (ms) | ITL p99 (ms) | E2E p99 (s) | GPU-h | × oracle | peak | scale events |" \
       "reaction (s) |"
  echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  cat "$rows"
  echo
  if [ -s "$sweeps" ]; then
    echo
    echo "## Sweeps"
    echo
    echo "Each policy over the values of its knob (\`knob\` in \`policies/NAME.lua\`), each point a" \
         "plain \`sluice sim --param POLICY.KEY=VALUE\` under the trace's quota. × oracle: the fewest" \
         "GPU-hours at which the policy reaches 99% on its frontier, over the oracle's; \"never\"" \
         "gives its best attainment and that point's ratio instead. Frontier charts:" \
         "\`$reports/TRACE-sweep.html\`."
    echo
    echo "| trace | policy | × oracle to reach 99% | GPU-h | SLO | knob | points |"
    echo "| --- | --- | ---: | ---: | ---: | --- | ---: |"
    cat "$sweeps"
  fi
  echo
  echo "SLO: share of requests with TTFT and mean ITL within the targets (dropped and cut requests" \
       "miss). Oracle: per minute, the fewest replicas whose simulated servers, given that" \
       "minute's requests, the in-flight work carried over and zero cold start, keep 99% of the" \
       "minute's requests within the SLO; found by search with the simulator and replayed as a" \
       "run of its own (its SLO is what the replay reached; infeasible: the share of requests" \
       "that miss even alone on an idle server). × oracle: GPU-hours over the oracle's. Peak:" \
       "the most replicas holding GPUs at once (draining included). Quota: the GPUs every run" \
       "could hold. Reaction: mean time from load first outrunning the Ready replicas to enough" \
       "being Ready."
} > "$out"
cat "$out"
exit $failed
