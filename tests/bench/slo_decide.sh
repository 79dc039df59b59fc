#!/usr/bin/env bash
# Per-tick cost of the slo and igw-queue policies' decide() (see slo_decide.lua).
cd "$(dirname "$0")/../.." && luajit tests/bench/slo_decide.lua
