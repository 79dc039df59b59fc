#!/usr/bin/env bash
# make demo: the controller on recorded views, with one hot reload half way.
# Copies the example config, its fixture and the policy into a scratch directory, runs
# `sluice run` for 12 ticks, and rewrites the policy (a lower per-replica target) after tick 5:
# the decisions after the reload come from the new version, the state carries over.
set -euo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
sluice="$root/$build/sluice"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/policies"
cp "$root/deploy/examples/fixture-views.yaml" "$work/"
cp "$root/policies/target.lua" "$work/policies/"
sed -e 's#policy_dir: ../../policies#policy_dir: policies#' \
    "$root/deploy/examples/fixture.yaml" > "$work/fixture.yaml"

echo "== sluice run -c deploy/examples/fixture.yaml (12 ticks; the policy is edited after tick 5)"
"$sluice" run -c "$work/fixture.yaml" --ticks 12 &
pid=$!
sleep 5.5
echo "== editing policies/target.lua: target 8 -> 12 running requests per replica"
sed -i -e 's/target = 8, /target = 12,/' "$work/policies/target.lua"
wait $pid
