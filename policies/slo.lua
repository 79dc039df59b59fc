-- slo: proactive SLO-driven scaling (sluice's own policy). Forecasts the arrival rate and token
-- mix over the time a new replica takes to become Ready, sizes every variant for that forecast
-- at the SLO's percentile with a latency profile learnt online, keeps saturation as a floor and
-- scales down only to the peak need of the last few minutes. The algorithm and its parameters are
-- in lua/sluice/slo.lua; docs/slo.md explains the method.
local slo = require "sluice.slo"

local params = {}
for k, v in pairs(slo.defaults) do params[k] = v end

return {
  name = "slo",
  params = params,
  -- The knob a sweep turns (make eval): the share of the ITL target the engines' mean ITL may
  -- reach. It binds before the TTFT percentile on most traffic, so it is what trades GPU-hours
  -- for attainment.
  knob = { param = "itl_share", values = { 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85 } },
  -- Reads pod and gateway metrics directly every second: the reaction time is the cold start,
  -- not the metrics pipeline.
  period = 1,
  signals = { scrape_interval = 1, lag = 0, window = 30 },
  scale_from_zero = true,
  validate = function(p)
    return slo.validate(p)
  end,
  decide = function(view, p, state)
    return slo.decide(view, p, state)
  end,
}
