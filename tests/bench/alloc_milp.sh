#!/usr/bin/env bash
# The allocator against MILP solvers on the same seeded instances: each instance written as a
# MILP by bench_alloc is given to CBC and to glpsol with a time limit each (both run at once,
# one instance after another), and glpsol also solves its LP relaxation. Prints our objective
# against theirs per instance and the summary figures.
#
#   BENCH_QUICK=1   3 instances per set and 10 s limits instead of 20/10/10 and 60 s
#   BENCH_LIMIT=S   solver time limit in seconds
# Full mode takes about 40 minutes (the solvers run to their limit on most instances).
set -uo pipefail
build=${BUILD:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
bin="$build/bench_alloc"
[ -x "$bin" ] || bin="$root/build/bench_alloc"
for tool in cbc glpsol; do
  if ! command -v $tool >/dev/null; then
    echo "skipped: $tool not installed (scripts/deps.sh installs coinor-cbc and glpk-utils)"
    exit 0
  fi
done
if [ "${BENCH_QUICK:-0}" = 1 ]; then n=3 limit=${BENCH_LIMIT:-10}; else n=0 limit=${BENCH_LIMIT:-60}; fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/sluice-alloc-milp.XXXXXX")
trap 'rm -rf "$dir"' EXIT
"$bin" --lp "$dir" $n >/dev/null || { echo "bench_alloc failed"; exit 1; }

# cbc: "Optimal - objective value X" / "Stopped on time - objective value X" on the first line
# of its solution file; a max problem is reported as written (positive).
cbc_obj() { head -1 "$1" 2>/dev/null | sed -n 's/.*objective value *\([-0-9.e+]*\).*/\1/p'; }
cbc_status() { head -1 "$1" 2>/dev/null | sed 's/ - objective.*//; s/ *$//; s/ /_/g'; }
# glpsol: "Objective:  obj = X (MINimum)" and "Status:     INTEGER OPTIMAL" in its report.
glp_obj() { sed -n 's/^Objective: *obj = *\([-0-9.e+]*\).*/\1/p' "$1" 2>/dev/null; }
glp_status() { sed -n 's/^Status: *//p' "$1" 2>/dev/null | sed 's/ *$//; s/ /_/g'; }
# A value, or "-" when the solver has no solution to report.
val() { [ -n "$1" ] && echo "$1" || echo "-"; }

printf '%-8s %-4s %14s %14s %-16s %14s %-22s %14s %8s\n' instance kind ours cbc cbc_status \
  glpk glpk_status lp_relax ours_ms
tail -n +2 "$dir/ours.tsv" | while IFS=$'\t' read -r name kind obj cost fmin lpb bound fbound ms; do
  lp="$dir/$name.lp"
  ( cbc "$lp" sec "$limit" timeMode elapsed solve solu "$dir/$name.cbc" >"$dir/$name.cbclog" 2>&1 ) &
  c=$!
  ( glpsol --lp "$lp" --tmlim "$limit" -o "$dir/$name.glp" >"$dir/$name.glplog" 2>&1 ) &
  g=$!
  wait $c $g
  glpsol --lp "$lp" --nomip -o "$dir/$name.relax" >/dev/null 2>&1
  cs=$(cbc_status "$dir/$name.cbc") co=$(cbc_obj "$dir/$name.cbc")
  gs=$(glp_status "$dir/$name.glp") go=$(glp_obj "$dir/$name.glp")
  case "$cs" in Optimal|Stopped_on_time*) ;; *) co="" ;; esac
  case "$gs" in INTEGER_OPTIMAL|INTEGER_NON-OPTIMAL) ;; *) go="" ;; esac
  printf '%-8s %-4s %14s %14s %-16s %14s %-22s %14s %8s\n' "$name" "$kind" "$obj" "$(val "$co")" \
    "$(val "$cs")" "$(val "$go")" "$(val "$gs")" "$(val "$(glp_obj "$dir/$name.relax")")" "$ms"
done | tee "$dir/table.txt"

# Summary. Cost: gap of ours to CBC (positive = ours dearer) and to the LP relaxation.
# Fairness: lowest served fraction, ours against CBC's and GLPK's (positive = ours better).
awk -v limit="$limit" '
  function pct(x) { return sprintf("%.3f%%", 100 * x) }
  $2 == "cost" && $4 != "-" {
    set = substr($1, 1, 1); n[set]++; g = ($3 - $4) / $4; sum[set] += g
    if (!(set in mx) || g > mx[set]) mx[set] = g
    if ($5 == "Optimal") opt[set]++
    if ($8 != "-") lps[set] += ($3 - $8) / $3
    if ($6 != "-") { gg[set] += ($6 - $4) / $4; glpn[set]++ }
    t[set] += $NF; if ($NF > tm[set]) tm[set] = $NF
  }
  $2 == "fair" && $4 != "-" {
    nf++; d = $3 - $4; fsum += d; if (d < -1e-6) worse++
    if ($6 != "-") { dg += $3 - $6; ng++ }
    if ($8 != "-") lpf += $8 - $3
    ft += $NF; if ($NF > ftm) ftm = $NF
  }
  END {
    for (s in n) {
      label = s == "a" ? "(a) 20 groups x 6 types, ample" : "(b) 100 groups x 6 types, ample"
      printf "%s: %d instances, CBC proved %d optimal in %ds; ours vs CBC %s mean, %s max; " \
             "ours vs LP relaxation %s mean; GLPK vs CBC %s mean; ours %.2f ms mean, %.2f max\n",
             label, n[s], opt[s], limit, pct(sum[s] / n[s]), pct(mx[s]), pct(lps[s] / n[s]),
             glpn[s] ? pct(gg[s] / glpn[s]) : "-", t[s] / n[s], tm[s]
    }
    if (nf)
      printf "(b) 100 groups x 6 types, ~30%% short: %d instances; lowest served fraction ours " \
             "minus CBC %+.4f mean (ours worse on %d), minus GLPK %+.4f mean; LP relaxation " \
             "above ours by %.4f; ours %.2f ms mean, %.2f max\n",
             nf, fsum / nf, worse, ng ? dg / ng : 0, lpf / nf, ft / nf, ftm
  }' "$dir/table.txt"
