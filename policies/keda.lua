-- Canned policy "keda": one KEDA ScaledObject per variant with the triggers of llm-d's KEDA
-- guides, set by the baseline rule (docs/policies-hpa-keda.md). KEDA's operator activates
-- (0 -> 1) and deactivates (-> 0 after the cooldown) on trigger activity at each poll; the HPA it
-- generates scales 1 <-> N on the same triggers as External metrics. The algorithm is
-- lua/sluice/keda.lua (on lua/sluice/hpa.lua); the trigger sets and how the view maps onto them
-- are lua/sluice/baseline.lua.
local baseline = require "sluice.baseline"

return {
  name = "keda",
  params = {
    triggers = "queue",             -- "queue", "saturation" or "token-aware" (llm-d's guides)
    running_target = "auto",        -- running requests per replica, or "auto" (baseline rule)
    queue_target = 1,               -- gateway queue per replica (baseline rule)
    saturation_target = 0.7,        -- pool saturation (llm-d's saturation guide)
    prefill_backlog_target = 1.5,   -- seconds of prefill backlog per replica (llm-d's token guide)
    prefill_tokens_per_s = 15928,   -- one replica's peak prefill throughput (llm-d's figure)
    kv_target = 0.8,                -- Ready pods' KV usage, summed, per replica (llm-d's token
                                    -- guide)
    activation_threshold = 0,       -- activationThreshold of every trigger
    ignore_null_values = true,      -- an absent series reads 0 (KEDA's Prometheus default)
    polling_interval = 15,          -- pollingInterval (s; baseline rule, KEDA's default is 30)
    cooldown_period = 300,          -- cooldownPeriod (s; KEDA's default)
    initial_cooldown_period = 0,    -- initialCooldownPeriod (s; KEDA's default)
    idle_replica_count = -1,        -- idleReplicaCount; -1 = unset
    use_cached_metrics = false,     -- triggers[].useCachedMetrics
    fallback_behavior = "none",     -- fallback.behavior; "none" = no fallback section
    fallback_replicas = 0,          -- fallback.replicas
    fallback_failure_threshold = 3, -- fallback.failureThreshold
    -- advanced.horizontalPodAutoscalerConfig.behavior (Kubernetes' defaults, as for hpa)
    scale_up_stabilization = 0,
    scale_up_select = "Max",
    scale_up_policies = {
      { type = "Pods", value = 4, period_seconds = 15 },
      { type = "Percent", value = 100, period_seconds = 15 },
    },
    scale_up_tolerance = 0.1,
    scale_down_stabilization = 300,
    scale_down_select = "Max",
    scale_down_policies = { { type = "Percent", value = 100, period_seconds = 15 } },
    scale_down_tolerance = 0.1,
  },
  period = 15,                      -- the generated HPA's sync period
  -- KEDA's Prometheus scaler reads Prometheus, which scrapes every 15 s.
  signals = { scrape_interval = 15, lag = 15, window = 60 },
  scale_from_zero = true,
  validate = function(p)
    return baseline.validate_keda(p)
  end,
  init = baseline.init,
  decide = function(view, p, state)
    return baseline.decide_keda(view, p, state)
  end,
}
