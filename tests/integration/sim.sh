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

# JSON: exactly the keys of the contract, one run per policy, a clairvoyant.
out=$("$SLUICE" sim --cluster "$d/cluster.yaml" --trace "$gen" --tokens fixed:in=300,out=50 \
      --policy target --seed 3 --json 2>"$d/err") || fail "json run: $(cat "$d/err")"
echo "$out" > "$d/a.json"
python3 - "$d/a.json" <<'PY' || fail "JSON shape: $out"
import json, sys
j = json.load(open(sys.argv[1]))
assert set(j) == {"runs", "clairvoyant", "simulated_requests_per_second"}, j.keys()
keys = {"policy", "requests", "completed", "dropped", "slo_attainment", "gpu_hours", "cost",
        "ttft_p50_ms", "ttft_p90_ms", "ttft_p99_ms", "itl_p50_ms", "itl_p99_ms",
        "scale_events", "reaction_s"}
assert len(j["runs"]) == 1 and set(j["runs"][0]) == keys, j["runs"]
r = j["runs"][0]
assert r["policy"] == "target" and 2500 < r["requests"] < 3500, r
assert r["completed"] + r["dropped"] <= r["requests"]
assert 0 <= r["slo_attainment"] <= 1 and r["gpu_hours"] > 0 and r["cost"] > 0
assert r["ttft_p50_ms"] <= r["ttft_p90_ms"] <= r["ttft_p99_ms"]
assert set(j["clairvoyant"]) == {"gpu_hours", "peak_replicas"}
assert j["clairvoyant"]["peak_replicas"] >= 1
PY

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

# The table: a row per policy and the clairvoyant; --duration, --rate-scale, --time-scale apply.
out=$("$SLUICE" sim --cluster "$d/cluster.yaml" --trace "$gen" --policy target --duration 300 \
      --rate-scale 2 --time-scale 1 2>/dev/null) || fail "table run"
echo "$out" | grep -q "^target " || fail "no target row: $out"
echo "$out" | grep -q "^clairvoyant " || fail "no clairvoyant row: $out"
echo "$out" | grep -q "300 s simulated" || fail "duration not applied: $out"

# --peak-replicas scales the rate so the clairvoyant peaks at that many replicas.
out=$("$SLUICE" sim --cluster "$d/cluster.yaml" --trace "$gen" --policy target \
      --peak-replicas 3 --json 2>/dev/null) || fail "peak-replicas run"
python3 -c 'import json,sys; j=json.loads(sys.argv[1]);
assert 2 <= j["clairvoyant"]["peak_replicas"] <= 4, j' "$out" || fail "peak replicas: $out"

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
