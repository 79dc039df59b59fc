-- WVA's saturation scaling as a canned policy: V2 (token capacity) with WVA's shipped
-- defaults, or V1 with `version = 1`. The algorithm is lua/sluice/wva.lua; this file fixes the
-- defaults and how fresh the signals are that the simulator compares it on.
local wva = require "sluice.wva"

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
  },
  -- GLOBAL_OPT_INTERVAL 15s.
  period = 15,
  -- WVA reads Prometheus (15 s scrapes) through a 30 s metrics cache.
  signals = { scrape_interval = 15, lag = 30, window = 60 },
  -- WVA's scale-from-zero engine wakes a variant on the first request queued at the gateway.
  scale_from_zero = true,
  validate = function(params)
    return wva.validate(params)
  end,
  decide = function(view, params, state)
    return wva.decide(view, params, state)
  end,
}
