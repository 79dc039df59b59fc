#!/usr/bin/env bash
# make demo: `sluice sim` with no flags, its built-in scenario: two models (Llama-3.1-8B and
# Llama-3.2-3B) on H100s and A100s with limited inventory, a compressed diurnal day with bursts
# for each, every built-in policy side by side on the same traffic, and the clairvoyant reference.
set -euo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
sluice="$root/$build/sluice"

echo "== sluice sim  (built-in scenario: 4 h of traffic for two models, every built-in policy)"
"$sluice" sim
echo
echo "Replay your own traffic: sluice sim --trace FILE|GENERATOR --cluster FILE --policy P,P"
echo "(sluice sim --help; docs/simulator.md)"
