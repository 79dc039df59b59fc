-- The Inferno optimizer of WVA's earlier releases (WVA v0.9 removed its model-based solver) as a
-- canned policy: replicas = ⌈λ/λ*⌉ with λ* from each variant's latency profile, SLO class and
-- the token-length spread declared for it, placed across accelerator types by the allocator (least cost;
-- priority and fair share when GPUs are short). The algorithm is lua/sluice/optimizer.lua; this
-- file fixes its defaults and how fresh the signals are that the simulator compares it on.
local opt = require "sluice.optimizer"

return {
  name = "wva-optimizer",
  params = {
    in_tokens = 1024,
    out_tokens = 256,
    token_cv = "declared",
    percentile = 0,
    transition_penalty = 0.1,
    limited = true,
    queue_drain = 60,
    token_grid = 32,
    scale_to_zero = false,
    retention = 600,
  },
  -- The knob a sweep turns (make eval): the percentile the SLO is sized at (0 = means), its
  -- headroom over the mean-sized λ*.
  knob = { param = "percentile", values = { 0, 0.5, 0.8, 0.9, 0.95, 0.99 } },
  -- GLOBAL_OPT_INTERVAL 15s.
  period = 15,
  -- WVA reads Prometheus (15 s scrapes) through a 30 s metrics cache, rates over 1 minute.
  signals = { scrape_interval = 15, lag = 30, window = 60 },
  -- WVA's scale-from-zero engine wakes a variant on the first request queued at the gateway.
  scale_from_zero = true,
  validate = function(params)
    return opt.validate(params)
  end,
  decide = function(view, params, state)
    return opt.decide(view, params, state)
  end,
}
