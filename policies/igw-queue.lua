-- igw-queue: scale on the inference gateway's own signals, after llm-d's token-aware KEDA guide:
-- prompt tokens in flight and held in the flow-control queue, as seconds of prefill work against
-- a per-replica budget derived from the SLO class; wakes a model at zero on its first queued
-- request; scales down only to the peak need of the last five minutes. The algorithm and its
-- parameters are in lua/sluice/igw.lua.
local igw = require "sluice.igw"

local params = {}
for k, v in pairs(igw.defaults) do params[k] = v end

return {
  name = "igw-queue",
  params = params,
  -- The knob a sweep turns (make eval): the share of the SLO's prefill backlog allowed.
  knob = { param = "target", values = { 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0 } },
  -- The gateway's metrics scraped directly every second.
  period = 1,
  signals = { scrape_interval = 1, lag = 0, window = 30 },
  scale_from_zero = true,
  validate = function(p)
    return igw.validate(p)
  end,
  decide = function(view, p, state)
    return igw.decide(view, p, state)
  end,
}
