#!/usr/bin/env bash
# sluice plan through the CLI: WVA's test vectors to 4 significant figures, the JSON keys, the
# replicas arithmetic, and bad flags exiting 2 with the reason.
set -uo pipefail
: "${SLUICE:?SLUICE must point at the sluice binary}"
fail=0
ok() { echo "ok - $*"; }
bad() { echo "not ok - $*"; fail=1; }

# sig4 GOT WANT: GOT rounds to WANT at 4 significant figures.
sig4() {
  awk -v x="$1" -v w="$2" 'function fl(v) { return v == int(v) || v > 0 ? int(v) : int(v) - 1 }
    BEGIN { e = fl(log(w < 0 ? -w : w) / log(10)) - 3; s = 10 ^ e
            exit !(fl(x / s + 0.5) == fl(w / s + 0.5)) }'
}
check() { # NAME GOT WANT
  if sig4 "$2" "$3"; then ok "$1 = $3 (got $2)"; else bad "$1: got $2, want $3"; fi
}
field() { jq -r ".$2" <<<"$1"; }

P4=(--perf 4p:7.47,0.044,15.415,0.000337 --max-batch 64 --in 128 --out 128)
P3=(--perf 3p:12,0.05,0.0005 --max-batch 48 --max-queue 128 --in 128 --out 512)

out=$("$SLUICE" plan "${P4[@]}" --ttft 1000 --itl 10 --json) || bad "4p plan runs"
r=$(field "$out" max_rate)
check "4p max_rate" "$r" 44.11
[ "$(jq -c 'keys' <<<"$out")" = '["max_rate"]' ] && ok "only max_rate without --rate/--demand" \
  || bad "keys without --rate: $out"
out=$("$SLUICE" plan "${P4[@]}" --ttft 1000 --itl 10 --rate "$r" --json)
check "4p ttft_ms at max_rate" "$(field "$out" ttft_ms)" 92.48
check "4p itl_ms at max_rate" "$(field "$out" itl_ms)" 10.00
[ "$(jq -c 'keys' <<<"$out")" = '["itl_ms","max_rate","throughput","ttft_ms","utilization"]' ] \
  && ok "--rate adds ttft_ms, itl_ms, throughput, utilization" || bad "keys with --rate: $out"

out=$("$SLUICE" plan "${P3[@]}" --json) || bad "3p plan runs"
check "3p max_rate (no targets: stability limit)" "$(field "$out" max_rate)" 3.821
out=$("$SLUICE" plan "${P3[@]}" --rate 3 --json)
check "3p ttft_ms at 3 req/s" "$(field "$out" ttft_ms)" 75.32
check "3p itl_ms at 3 req/s" "$(field "$out" itl_ms)" 20.53
check "3p throughput at 3 req/s" "$(field "$out" throughput)" 3.000

out=$("$SLUICE" plan "${P4[@]}" --ttft 1000 --itl 10 --demand 100 --json)
[ "$(field "$out" replicas)" = 3 ] && ok "100 req/s at 44.11 per replica needs 3 replicas" \
  || bad "replicas: $out"
check "replicas_fractional" "$(field "$out" replicas_fractional)" 2.267
[ "$(jq -c 'keys' <<<"$out")" = '["max_rate","replicas","replicas_fractional"]' ] \
  && ok "--demand adds replicas and replicas_fractional" || bad "keys with --demand: $out"

# Percentile targets are stricter than the same targets on means.
p95=$("$SLUICE" plan "${P4[@]}" --ttft 1000 --itl 10 --percentile 0.95 --json | jq -r .max_rate)
awk -v a="$p95" -v b="$r" 'BEGIN { exit !(a < b && a > 0) }' \
  && ok "p95 targets give a lower max_rate ($p95 < $r)" || bad "p95 max_rate $p95 vs mean $r"

text=$("$SLUICE" plan "${P4[@]}" --ttft 1000 --itl 10 --rate 40)
grep -Eq '^max_rate +44\.11[0-9]* req/s' <<<"$text" && grep -Eq '^ttft_ms ' <<<"$text" \
  && ok "text output names max_rate and ttft_ms" || bad "text output: $text"

# Step profiles: spread-out lengths and a KV cache that holds fewer requests than the seats
# both lower the rate a replica sustains.
PS=(--perf llama-3.1-8b/h100 --max-batch 256 --in 4096 --out 256 --itl 50)
plain=$("$SLUICE" plan "${PS[@]}" --json | jq -r .max_rate)
spread=$("$SLUICE" plan "${PS[@]}" --in-cv 0.65 --out-cv 0.65 --json | jq -r .max_rate)
kv=$("$SLUICE" plan "${PS[@]}" --in-cv 0.65 --out-cv 0.65 --kv-tokens 440000 --json |
  jq -r .max_rate)
awk -v a="$plain" -v b="$spread" -v c="$kv" 'BEGIN { exit !(c < b && b < a && c > 0) }' \
  && ok "step profile: KV cache $kv < spread $spread < means alone $plain req/s" \
  || bad "step profile rates: $plain, $spread, $kv"

# Bad flags: exit 2, with the reason on stderr.
usage() { # NAME EXPECTED-SUBSTRING ARGS...
  local name=$1 want=$2
  shift 2
  local err rc
  err=$("$SLUICE" plan "$@" 2>&1 >/dev/null)
  rc=$?
  if [ $rc -eq 2 ] && grep -qF -- "$want" <<<"$err"; then ok "$name exits 2"
  else bad "$name: exit $rc, stderr: $err"; fi
}
usage "missing --perf" "missing --perf" --max-batch 8 --in 1 --out 1
usage "missing --max-batch" "missing --max-batch" --perf 3p:1,1,1 --in 1 --out 1
usage "missing --out" "missing --out" --perf 3p:1,1,1 --max-batch 8 --in 1
usage "unknown flag" "unknown flag '--bogus'" "${P4[@]}" --bogus 1
usage "flag without value" "--rate needs a value" "${P4[@]}" --rate
usage "wrong parameter count" "takes 4 numbers" --perf 4p:1,2,3 --max-batch 8 --in 1 --out 1
usage "non-numeric parameter" "beta 'x' is not a number" \
  --perf 3p:1,x,1 --max-batch 8 --in 1 --out 1
usage "negative parameter" "beta: must be >= 0" --perf 3p:1,-1,1 --max-batch 8 --in 1 --out 1
usage "unknown profile" "neither 4p" --perf 5p:1 --max-batch 8 --in 1 --out 1
usage "fractional max batch" "--max-batch must be a whole number" \
  --perf 3p:1,1,1 --max-batch 2.5 --in 1 --out 1
usage "zero output tokens" "--out must be 1..1e7" --perf 3p:1,1,1 --max-batch 8 --in 1 --out 0
usage "negative spread" "--in-cv must be 0..100" "${P4[@]}" --in-cv -1
usage "fractional budget" "--max-batched-tokens must be a whole number" "${P4[@]}" \
  --max-batched-tokens 10.5
usage "percentile 1" "--percentile must be a fraction" "${P4[@]}" --ttft 100 --percentile 1
usage "non-numeric rate" "--rate: 'fast' is not a number" "${P4[@]}" --rate fast
usage "negative demand" "--demand must be in [0, 1e9]" "${P4[@]}" --demand -5
usage "absurd demand" "--demand must be in [0, 1e9]" "${P4[@]}" --demand 1e300

# A target no rate can meet is not a usage error: exit 1 and say why.
err=$("$SLUICE" plan "${P4[@]}" --ttft 5 2>&1 >/dev/null)
[ $? -eq 1 ] && grep -q "ttft_ms target 5 is below" <<<"$err" && ok "unreachable target exits 1" \
  || bad "unreachable target: $err"

exit $fail
