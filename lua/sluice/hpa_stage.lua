-- An HPA between an algorithm and the replicas: how WVA's decisions reach a deployment. WVA does
-- not scale anything itself; it publishes `wva_desired_replicas` per variant and an HPA (or the
-- HPA a KEDA ScaledObject creates) targets it as an External metric with averageValue 1, under
-- its own tolerance, stabilization windows and rate limits. Comparing WVA without that stage
-- would compare a system nobody runs.
--
--   local stage = require "sluice.hpa_stage"
--   local out = wva.decide(view, p, state.wva)
--   out = stage.apply(view, stage.CHART, out, state.hpa)
--
-- `behavior` is an HPA behavior (sluice.hpa's field names); BENCHMARK is the one WVA's own
-- benchmark runs with (docs/benchmark.md of WVA v0.9), CHART the one its README and Helm chart
-- ship, written for `maxReplicas: 2`. A variant the algorithm has no opinion on keeps the metric's last value, as the
-- published gauge does.
local hpa = require "sluice.hpa"

local M = {}

-- WVA's benchmark (docs/benchmark.md, v0.9): scale up at once, at most 10 pods per 150 s; scale
-- down over a 240 s stabilization window, at most 10 pods per 150 s.
M.BENCHMARK = {
  scale_up = { stabilization_window_seconds = 0,
    policies = { { type = "Pods", value = 10, period_seconds = 150 } } },
  scale_down = { stabilization_window_seconds = 240,
    policies = { { type = "Pods", value = 10, period_seconds = 150 } } },
}

-- charts/workload-variant-autoscaler: 60 s stabilization each way, at most 10 pods per 15 s.
M.CHART = {
  scale_up = { stabilization_window_seconds = 60,
    policies = { { type = "Pods", value = 10, period_seconds = 15 } } },
  scale_down = { stabilization_window_seconds = 60,
    policies = { { type = "Pods", value = 10, period_seconds = 15 } } },
}

local function spec_for(v, behavior)
  local lo, hi = v.min or 1, v.max or 2147483647
  if hi < 1 then hi = 1 end
  return {
    min_replicas = math.min(lo, hi), max_replicas = hi, behavior = behavior,
    -- The HPA may only go to zero on an External metric with the alpha gate on; a variant
    -- whose minimum is 0 is taken to have it.
    scale_to_zero = lo == 0 or nil,
    metrics = { { type = "External", name = "wva_desired_replicas",
      target = { type = "AverageValue", average_value = 1 } } },
  }
end

-- Returns the decisions the HPA makes from the algorithm's `out` ({[id] = {replicas, reason}}).
-- `state` is plain data kept across ticks.
function M.apply(view, behavior, out, state)
  state.desired = state.desired or {}
  state.hpa = state.hpa or {}
  local res = {}
  for id, v in view:variants() do
    local d = out[id]
    if d and d.replicas then state.desired[id] = { n = d.replicas, why = d.reason } end
    local last = state.desired[id]
    if last then
      local spec = spec_for(v, behavior)
      spec.metrics[1].value = last.n
      local st = state.hpa[id] or {}
      state.hpa[id] = st
      local current = v.replicas.spec
      local n, info = hpa.tick(st, spec, { now = view.time, current = current })
      local why = last.why or ""
      if n ~= last.n or n ~= current then
        why = string.format("%s; HPA: %s", why, info.reason or info.action)
      end
      res[id] = { replicas = n, reason = why }
    end
  end
  return res
end

return M
