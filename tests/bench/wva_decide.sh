#!/usr/bin/env bash
# Per-tick cost of the wva policy's decide() (see wva_decide.lua).
cd "$(dirname "$0")/../.." && luajit tests/bench/wva_decide.lua
