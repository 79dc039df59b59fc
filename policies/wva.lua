-- WVA's saturation scaling as a canned policy: V2 (token capacity) with WVA's shipped
-- defaults, or V1 with `version = 1`. The algorithm is lua/sluice/wva.lua; this file fixes the
-- defaults, the HPA it goes through and how fresh the signals are that the simulator compares it
-- on.
local wva = require "sluice.wva"
local stage = require "sluice.hpa_stage"

-- The WVA algorithm's own params (everything but `actuation`).
local function algo(params)
  local q = {}
  for k, v in pairs(params) do
    if k ~= "actuation" then q[k] = v end
  end
  return q
end

return {
  name = "wva",
  params = {
    version = 2,
    kv_cache_threshold = 0.80,
    queue_length_threshold = 5,
    kv_spare_trigger = 0.10,
    queue_spare_trigger = 3,
    scale_up_threshold = 0.85,
    scale_down_boundary = 0.70,
    limiter = false,
    scale_to_zero = false,
    retention = 600,
    model_priority = {},
    metrics_window = 60,
    token_window = 300,
    -- "hpa": WVA's desired replicas go through an HPA on the External metric
    -- wva_desired_replicas (averageValue 1) with the behavior of WVA's own benchmark (scale-up
    -- 0 s, 10 pods per 150 s; scale-down 240 s window, 10 pods per 150 s), as in a deployment;
    -- "hpa-chart": the HPA of WVA's README and chart instead (60 s windows, 10 pods per 15 s,
    -- written for maxReplicas: 2); "direct": applied as they are.
    actuation = "hpa",
  },
  -- The knob a sweep turns (make eval): the scale-up threshold (RC's band; the scale-down
  -- boundary stays at 0.70).
  knob = { param = "scale_up_threshold", values = { 0.75, 0.8, 0.85, 0.9, 0.95 } },
  -- GLOBAL_OPT_INTERVAL 15s.
  period = 15,
  -- WVA reads Prometheus (15 s scrapes) through a 30 s metrics cache.
  signals = { scrape_interval = 15, lag = 30, window = 60 },
  -- WVA's scale-from-zero engine wakes a variant on the first request queued at the gateway.
  scale_from_zero = true,
  validate = function(params)
    if params.actuation ~= "hpa" and params.actuation ~= "hpa-chart"
        and params.actuation ~= "direct" then
      return "actuation must be \"hpa\", \"hpa-chart\" or \"direct\""
    end
    return wva.validate(algo(params))
  end,
  decide = function(view, params, state)
    state.wva = state.wva or {}
    local out = wva.decide(view, algo(params), state.wva)
    if params.actuation == "direct" then return out end
    state.hpa = state.hpa or {}
    local behavior = params.actuation == "hpa-chart" and stage.CHART or stage.BENCHMARK
    return stage.apply(view, behavior, out, state.hpa)
  end,
}
