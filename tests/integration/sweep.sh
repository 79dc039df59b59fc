#!/usr/bin/env bash
# Sweeps (make eval): a knob point is a plain `sluice sim --param` run (the default value run that
# way equals the run without it, and a second run gives the same figures), and scripts/frontier.py
# keeps only points no other beats on both axes, in GPU-hour order with attainment rising, and
# writes the table row and the chart.
set -uo pipefail
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
root=$(cd "$(dirname "$0")/../.." && pwd)

cat > "$d/cluster.yaml" <<'YAML'
slo_classes:
  chat: {ttft_ms: 1000, itl_ms: 50}
accelerators:
  H100: {count: 0, cost: 4}
models:
  - name: m
    shape: llama-3.1-8b
variants:
  - {id: llm/m-h100, model: m, accelerator: H100, slo_class: chat, min: 1, max: 40}
cold_start: {fixed: 20s}
YAML
gen="diurnal:mean=30,peak=60,period=600,duration=900"
sim() { "$SLUICE" sim --cluster "$d/cluster.yaml" --trace "$gen" --seed 2 "$@"; }

# The reference: the oracle and its quota.
sim --policy target --quota auto --json > "$d/ref.json" 2>/dev/null || fail "reference run"
quota=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["quota"]["gpus"])' "$d/ref.json")
mkdir "$d/pts"
for v in 2 4 8 16 32; do
  sim --policy target --quota "$quota" --oracle off --param "target.target=$v" --json \
    > "$d/pts/target@target=$v.json" 2>/dev/null || fail "point target=$v"
done
for v in 4 8 12; do
  sim --policy static --quota "$quota" --oracle off --param "static.replicas=$v" --json \
    > "$d/pts/static@replicas=$v.json" 2>/dev/null || fail "point replicas=$v"
done

# A point is the plain run: target's default (8) through --param is the run without it, and the
# same command again gives the same figures.
strip() { python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(json.dumps(j["runs"]))' "$1"; }
sim --policy target --quota "$quota" --oracle off --json > "$d/default.json" 2>/dev/null || fail "default"
[ "$(strip "$d/default.json")" = "$(strip "$d/pts/target@target=8.json")" ] ||
  fail "target=8 through --param differs from the default run"
sim --policy target --quota "$quota" --oracle off --param target.target=16 --json \
  > "$d/again.json" 2>/dev/null || fail "rerun"
[ "$(strip "$d/again.json")" = "$(strip "$d/pts/target@target=16.json")" ] || fail "a point is not reproducible"

python3 "$root/scripts/frontier.py" trace "$d/ref.json" "$d/sweep.md" "$d/sweep.html" \
  "$d/pts"/*.json || fail "frontier.py"
python3 - "$root/scripts" "$d" <<'PY' || fail "frontier: $(cat "$d/sweep.md")"
import glob, json, os, sys
sys.path.insert(0, sys.argv[1])
import frontier
pols = frontier.load(glob.glob(os.path.join(sys.argv[2], "pts", "*.json")))
assert sorted(pols) == ["static", "target"] and len(pols["target"]) == 5, pols
for name, pts in pols.items():
    fr = frontier.frontier(pts)
    assert fr, name
    # Monotone: GPU-hours and attainment both rise along it.
    assert all(a[0] <= b[0] and a[1] < b[1] for a, b in zip(fr, fr[1:])), fr
    # Nothing left out beats a frontier point on both axes, and every point left out is beaten.
    for p in pts:
        if p not in fr:
            assert any(q[0] <= p[0] and q[1] >= p[1] for q in fr), (p, fr)
    for p in fr:
        assert not any(q[0] <= p[0] and q[1] > p[1] for q in pts), (p, pts)
rows = open(os.path.join(sys.argv[2], "sweep.md")).read().splitlines()
assert len(rows) == 2 and rows[0].startswith("| trace | static |") and rows[1].startswith("| trace | target |"), rows
oracle = json.load(open(os.path.join(sys.argv[2], "ref.json")))["oracle"]["gpu_hours"]
for row, name in zip(rows, ["static", "target"]):
    cells = [c.strip() for c in row.strip("|").split("|")]
    fr = frontier.frontier(pols[name])
    ok = [p for p in fr if p[1] >= 0.99]
    if ok:
        assert cells[2] == "%.2f" % (ok[0][0] / oracle) and cells[5] == ok[0][2], (row, ok)
    else:
        assert cells[2].startswith("never"), row
page = open(os.path.join(sys.argv[2], "sweep.html")).read()
assert page.count("<path d=\"M") >= 2 and "oracle" in page and "<script" not in page
PY
echo "sweep: all cases behave"
