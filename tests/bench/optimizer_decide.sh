#!/usr/bin/env bash
# Per-tick cost of the wva-optimizer policy's decide() (see optimizer_decide.lua).
cd "$(dirname "$0")/../.." && luajit tests/bench/optimizer_decide.lua
