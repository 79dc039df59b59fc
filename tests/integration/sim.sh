#!/usr/bin/env bash
# sluice sim: flags, JSON keys, determinism by seed, and exit 2 naming the problem on bad input
# (flags, cluster files, trace files with the bad line, policies).
set -uo pipefail
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

expect_usage() {  # what, pattern the message must contain, args...
  local what=$1 pat=$2
  shift 2
  out=$("$SLUICE" sim "$@" 2>&1); rc=$?
  [ $rc -eq 2 ] || fail "$what: exit $rc, want 2 ($out)"
  echo "$out" | grep -q -- "$pat" || fail "$what: message '$out' lacks '$pat'"
}

cat > "$d/cluster.yaml" <<'YAML'
slo_classes:
  chat: {ttft_ms: 1000, itl_ms: 50}
accelerators:
  H100: {count: 4, cost: 4}
models:
  - name: m
    shape: llama-3.1-8b
variants:
  - {id: llm/m-h100, model: m, accelerator: H100, slo_class: chat, min: 1, max: 4}
cold_start: {fixed: 20s}
YAML
gen="poisson:rate=5,duration=600"

# JSON: exactly the keys of the contract, one run per policy, the oracle, the mean-sized estimate.
out=$("$SLUICE" sim --cluster "$d/cluster.yaml" --trace "$gen" --tokens fixed:in=300,out=50 \
      --policy target --seed 3 --json 2>"$d/err") || fail "json run: $(cat "$d/err")"
echo "$out" > "$d/a.json"
python3 - "$d/a.json" <<'PY' || fail "JSON shape: $out"
import json, sys
j = json.load(open(sys.argv[1]))
assert set(j) == {"runs", "oracle", "quota", "mean_sized", "simulated_requests_per_second"}, j.keys()
keys = {"policy", "requests", "completed", "dropped", "slo_attainment", "gpu_hours", "cost",
        "ttft_mean_ms", "ttft_p50_ms", "ttft_p90_ms", "ttft_p99_ms", "itl_mean_ms", "itl_p50_ms",
        "itl_p99_ms", "e2e_mean_ms", "e2e_p99_ms", "peak_replicas", "peak_gpus",
        "scale_events", "reaction_s", "prefix_hit_rate"}
assert len(j["runs"]) == 1 and set(j["runs"][0]) == keys, j["runs"]
r = j["runs"][0]
assert r["prefix_hit_rate"] is None, r  # a generator names no prompt blocks
assert r["policy"] == "target" and 2500 < r["requests"] < 3500, r
assert r["completed"] + r["dropped"] <= r["requests"]
assert 0 <= r["slo_attainment"] <= 1 and r["gpu_hours"] > 0 and r["cost"] > 0
assert r["ttft_p50_ms"] <= r["ttft_p90_ms"] <= r["ttft_p99_ms"]
assert r["e2e_mean_ms"] > r["ttft_mean_ms"] > 0 and r["e2e_p99_ms"] >= r["e2e_mean_ms"]
assert 1 <= r["peak_replicas"] <= 4 and r["peak_gpus"] == r["peak_replicas"]
assert set(j["mean_sized"]) == {"gpu_hours", "peak_replicas"}
assert j["mean_sized"]["peak_replicas"] >= 1
o = j["oracle"]
assert {"gpu_hours", "peak_replicas", "slo_attainment", "infeasible"} <= set(o), o
assert o["slo_attainment"] + o["infeasible"] >= 0.99 and o["short_bins"] == 0, o
assert o["run"]["requests"] == r["requests"] and o["gpu_hours"] == o["run"]["gpu_hours"]
assert j["quota"] is None  # no --peak-replicas, no --quota: the cluster file's inventory
PY

# A trace naming its prompt blocks: repeated prefixes hit the servers' prefix caches, the run's
# hit rate is what the per-request cached_tokens add up to, and the scorer mix holds at least as
# many hits as least-loaded.
python3 - "$d/p.jsonl" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(600):
        ids = [(i % 8) * 1000 + k for k in range(6)] + [100000 + i]  # 6 shared blocks, 1 own
        f.write('{"timestamp": %d, "input_length": %d, "output_length": 20, "hash_ids": %s}\n'
                % (i * 100, 6 * 512 + 300, ids))
PY
sed 's/^cold_start:.*/&\ngateway: {routing: scorers}/' "$d/cluster.yaml" > "$d/mix.yaml"
for c in cluster mix; do
  "$SLUICE" sim --cluster "$d/$c.yaml" --trace "$d/p.jsonl" --policy target --seed 3 --json \
    --requests "$d/$c.csv" > "$d/$c.json" 2>"$d/err" || fail "prefix run ($c): $(cat "$d/err")"
done
python3 - "$d" <<'PY' || fail "prefix cache: $(cat "$d/cluster.json" "$d/mix.json")"
import csv, json, sys
d = sys.argv[1]
rate = {}
for c in ("cluster", "mix"):
    r = json.load(open(f"{d}/{c}.json"))["runs"][0]
    rows = [x for x in csv.DictReader(open(f"{d}/{c}.csv")) if x["outcome"] != "dropped"]
    cached = sum(int(x["cached_tokens"]) for x in rows)
    prompt = sum(int(x["input_tokens"]) for x in rows)
    assert all(int(x["cached_tokens"]) in (0, 6 * 512) for x in rows), "block-granular hits"
    assert abs(r["prefix_hit_rate"] - cached / prompt) < 1e-9, (r["prefix_hit_rate"], cached, prompt)
    rate[c] = r["prefix_hit_rate"]
assert rate["cluster"] > 0.1, rate
assert rate["mix"] >= rate["cluster"] and rate["mix"] > 0.8, rate
PY
"$SLUICE" sim --cluster "$d/mix.yaml" --trace "$d/p.jsonl" --policy target --seed 3 \
  > "$d/mix.txt" 2>&1 || fail "prefix table run"
grep -q "^target *prefix cache: [0-9.]*% of completed requests' prompt tokens hit" "$d/mix.txt" \
  || fail "table lacks the prefix cache line: $(cat "$d/mix.txt")"
grep -q "^gateway: scorer mix (prefix-cache 3, kv-cache-utilization 2, queue 2)" "$d/mix.txt" \
  || fail "table lacks the routing line: $(cat "$d/mix.txt")"
expect_usage "bad routing" "gateway.routing: expected least-loaded or scorers" \
  --cluster <(sed 's/^cold_start:.*/&\ngateway: {routing: prefix}/' "$d/cluster.yaml") --trace "$gen"

# The same seed gives identical JSON apart from the wall-clock rate; another seed does not.
"$SLUICE" sim --cluster "$d/cluster.yaml" --trace "$gen" --tokens fixed:in=300,out=50 \
  --policy target --seed 3 --json > "$d/b.json" 2>/dev/null || fail "second run"
"$SLUICE" sim --cluster "$d/cluster.yaml" --trace "$gen" --tokens fixed:in=300,out=50 \
  --policy target --seed 4 --json > "$d/c.json" 2>/dev/null || fail "third run"
strip() { sed 's/"simulated_requests_per_second":[0-9.e+]*//' "$1"; }
[ "$(strip "$d/a.json")" = "$(strip "$d/b.json")" ] || fail "same seed, different JSON"
[ "$(strip "$d/a.json")" != "$(strip "$d/c.json")" ] || fail "another seed, same JSON"

# Several policies: one row each, in the order given, on the same trace.
out=$("$SLUICE" sim --cluster "$d/cluster.yaml" --trace "$gen" --policy target,hpa --json \
      2>/dev/null) || fail "two policies"
python3 -c 'import json,sys; j=json.loads(sys.argv[1]); r=j["runs"];
assert [x["policy"] for x in r] == ["target","hpa"] and r[0]["requests"] == r[1]["requests"]' \
  "$out" || fail "two policies: $out"

# The table: a row per policy, the oracle and the mean-sized estimate; --duration, --rate-scale,
# --time-scale apply.
out=$("$SLUICE" sim --cluster "$d/cluster.yaml" --trace "$gen" --policy target --duration 300 \
      --rate-scale 2 --time-scale 1 2>/dev/null) || fail "table run"
echo "$out" | grep -q "^target " || fail "no target row: $out"
echo "$out" | grep -q "^oracle " || fail "no oracle row: $out"
echo "$out" | grep -q "^mean-sized " || fail "no mean-sized row: $out"
echo "$out" | grep -q "300 s simulated" || fail "duration not applied: $out"

# --peak-replicas scales the rate so the mean-sized estimate peaks at that many replicas, and
# sets the quota to twice the oracle's peak (the cluster file's count 4 no longer applies).
cat > "$d/big.yaml" <<'YAML'
slo_classes:
  chat: {ttft_ms: 1000, itl_ms: 50}
accelerators:
  H100: {count: 0, cost: 4}
models:
  - name: m
    shape: llama-3.1-8b
variants:
  - {id: llm/m-h100, model: m, accelerator: H100, slo_class: chat, min: 1, max: 100}
cold_start: {fixed: 20s}
YAML
out=$("$SLUICE" sim --cluster "$d/big.yaml" --trace "$gen" --policy target,static \
      --peak-replicas 3 --json 2>/dev/null) || fail "peak-replicas run"
python3 -c 'import json,sys; j=json.loads(sys.argv[1]);
assert 2 <= j["mean_sized"]["peak_replicas"] <= 4, j
o, q = j["oracle"], j["quota"]
assert q["rule"] == "auto" and q["gpus"] == 2 * o["peak_gpus"] == q["by_type"]["H100"], j
st = j["runs"][1]
assert st["policy"] == "static" and st["peak_replicas"] == o["peak_replicas"], st
assert all(r["peak_gpus"] <= q["gpus"] for r in j["runs"]), j' "$out" || fail "peak replicas: $out"

# The quota binds: a static fleet asking for more than it holds only what fits (the rest stays
# Pending), and with the quota off gets all it asks for.
for q in 3 off; do
  out=$("$SLUICE" sim --cluster "$d/big.yaml" --trace "$gen" --policy static \
        --param static.replicas=6 --quota $q --decisions "$d/dec" --json 2>"$d/err") ||
    fail "quota $q: $(cat "$d/err")"
  python3 -c 'import json,sys; j=json.loads(sys.argv[1]); r=j["runs"][0]; q=sys.argv[2]
want = 3 if q == "3" else 6
assert r["peak_replicas"] == want and r["peak_gpus"] == want, r
assert (j["quota"] is None) if q == "off" else (j["quota"]["gpus"] == 3 and j["quota"]["rule"] == "set"), j' \
    "$out" $q || fail "quota $q: $out"
  grep -q "static t=60.0 llm/m-h100 1 -> 6: static fleet of 6" "$d/dec" || fail "quota $q: $(cat "$d/dec")"
done

# The baselines' running target comes from the token mix declared for the variant: without one
# the reason says what it assumed, with one it does not.
"$SLUICE" sim --cluster "$d/big.yaml" --trace "$gen" --policy hpa --peak-replicas 3 \
  --decisions "$d/dec" > /dev/null 2>&1 || fail "hpa without a declared mix"
grep -q "no token mix declared for the variant" "$d/dec" || fail "undeclared mix: $(head -3 "$d/dec")"
sed 's/min: 1, max: 100}/min: 1, max: 100, tokens: {input: 300, output: 50}}/' "$d/big.yaml" > "$d/tok.yaml"
"$SLUICE" sim --cluster "$d/tok.yaml" --trace "$gen" --policy hpa --peak-replicas 3 \
  --decisions "$d/dec" > /dev/null 2>&1 || fail "hpa with a declared mix"
[ -s "$d/dec" ] && ! grep -q "no token mix declared" "$d/dec" || fail "declared mix: $(head -3 "$d/dec")"

# --param reaches the policy; a bad one is refused before anything runs, naming it.
expect_usage "param syntax" "--param: expected POLICY.KEY=VALUE" --param nodot
expect_usage "param policy" "no policy 'hpa' in this run" --trace "$gen" --policy target \
  --param hpa.queue_target=2
expect_usage "param key" "'nope' is not a parameter" --trace "$gen" --policy target \
  --param target.nope=2
expect_usage "param value" "static" --trace "$gen" --policy static --param static.replicas=-1
expect_usage "quota" "--quota: expected auto, off or a whole number" --quota 2.5
expect_usage "oracle target" "--oracle-target: expected a share" --oracle-target 99

# --requests: a CSV row per request and policy run, with the outcome.
"$SLUICE" sim --cluster "$d/cluster.yaml" --trace "$gen" --policy target,hpa --seed 3 \
  --requests "$d/req.csv" --json > "$d/r.json" 2>/dev/null || fail "requests run"
python3 - "$d/req.csv" "$d/r.json" <<'PY' || fail "requests CSV"
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
j = json.load(open(sys.argv[2]))
assert list(rows[0]) == ["policy", "arrival_s", "model", "variant", "replica", "input_tokens",
                         "output_tokens", "cached_tokens", "ttft_ms", "itl_ms", "e2e_ms", "outcome"]
for run in j["runs"]:
    mine = [r for r in rows if r["policy"] == run["policy"]]
    assert len(mine) == run["requests"], (run["policy"], len(mine), run["requests"])
    met = sum(r["outcome"] == "met" for r in mine)
    assert abs(met / len(mine) - run["slo_attainment"]) < 1e-9, (met, run)
    done = [r for r in mine if r["ttft_ms"]]
    assert len(done) == run["completed"]
    assert all(float(r["e2e_ms"]) >= float(r["ttft_ms"]) for r in done)
assert {r["outcome"] for r in rows} <= {"met", "ttft", "itl", "both", "dropped", "cut"}
PY

# Bad flags.
expect_usage "unknown flag" "unknown option '--bogus'" --bogus
expect_usage "missing value" "--seed needs a value" --seed
expect_usage "bad seed" "--seed: expected a whole number" --seed x
expect_usage "bad duration" "--duration: expected a positive duration" --duration -5
expect_usage "bad rate scale" "--rate-scale: expected a number" --rate-scale abc
expect_usage "bad tokens" "fixed" --trace "$gen" --tokens fixed:in=0
expect_usage "unknown generator" "unknown generator 'poison'" --trace poison:rate=1
expect_usage "generator param" "unknown parameter 'rat'" --trace poisson:rat=1
expect_usage "missing trace file" "$d/nope.csv" --trace "$d/nope.csv"
expect_usage "unknown policy" "--policy nope" --trace "$gen" --policy nope

# Bad trace lines name the file and line.
printf 'TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.6805900,374,44\n2023-11-16 18:15:47.1,abc,44\n' > "$d/bad.csv"
expect_usage "bad azure line" "bad.csv:3" --cluster "$d/cluster.yaml" --trace "$d/bad.csv"
printf '{"timestamp": 0, "input_length": 10, "output_length": 5}\n{"timestamp": 5, "input_length": -3}\n' > "$d/bad.jsonl"
expect_usage "bad mooncake line" "bad.jsonl:2" --cluster "$d/cluster.yaml" --trace "$d/bad.jsonl"

# Bad cluster files name file:line and the field.
printf 'variants:\n  - {id: llm/a, model: m, accelerator: H100, maxx: 3}\n' > "$d/typo.yaml"
expect_usage "cluster typo" "typo.yaml:2: variants\[0\].maxx: unknown field" \
  --cluster "$d/typo.yaml" --trace "$gen"
printf 'variants:\n  - {id: llm/a, model: m, accelerator: A100}\n' > "$d/noprof.yaml"
expect_usage "no profile" "no step profile for model 'm' on A100" \
  --cluster "$d/noprof.yaml" --trace "$gen"
printf 'models:\n  - name: m\n    shape: llama-9b\nvariants:\n  - {id: llm/a, model: m}\n' > "$d/shape.yaml"
expect_usage "unknown shape" "shape.yaml:3: models\[0\].shape: unknown shape 'llama-9b'" \
  --cluster "$d/shape.yaml" --trace "$gen"
printf 'cold_start: {median: 10s, p95: 5s}\nvariants:\n  - {id: llm/a, model: m, accelerator: H100}\n' > "$d/cold.yaml"
expect_usage "cold start" "cold.yaml:1: cold_start: p95 5s is below the median 10s" \
  --cluster "$d/cold.yaml" --trace "$gen"
expect_usage "no trace" "has no trace" --cluster "$d/cluster.yaml"
expect_usage "missing cluster" "nope.yaml" --cluster "$d/nope.yaml"

"$SLUICE" sim --help | grep -q -- "--peak-replicas" || fail "--help lists the flags"
echo "sim: all cases behave"
