-- Canned policy "hpa": one Kubernetes HorizontalPodAutoscaler (autoscaling/v2) per variant, on
-- running requests per pod and the model's gateway queue, set by the baseline rule
-- (docs/policies-hpa-keda.md), no scale to zero. The algorithm is lua/sluice/hpa.lua; how the
-- view maps onto it is lua/sluice/baseline.lua.
local baseline = require "sluice.baseline"

return {
  name = "hpa",
  params = {
    running_target = "auto",        -- Pods metric averageValue: running requests per pod, or
                                    -- "auto" (the baseline rule: 0.8 x the SLO concurrency)
    queue_target = 1,               -- External metric averageValue: gateway queue per replica
    -- behavior: Kubernetes' defaults (autoscaling/v2 SetDefaults_HorizontalPodAutoscalerBehavior,
    -- the controller's 300 s downscale stabilization and 10% tolerance)
    scale_up_stabilization = 0,     -- behavior.scaleUp.stabilizationWindowSeconds
    scale_up_select = "Max",        -- behavior.scaleUp.selectPolicy
    scale_up_policies = {           -- behavior.scaleUp.policies
      { type = "Pods", value = 4, period_seconds = 15 },
      { type = "Percent", value = 100, period_seconds = 15 },
    },
    scale_up_tolerance = 0.1,       -- behavior.scaleUp.tolerance
    scale_down_stabilization = 300, -- behavior.scaleDown.stabilizationWindowSeconds
    scale_down_select = "Max",      -- behavior.scaleDown.selectPolicy
    scale_down_policies = { { type = "Percent", value = 100, period_seconds = 15 } },
    scale_down_tolerance = 0.1,     -- behavior.scaleDown.tolerance
    scale_to_zero = false,          -- the HPAScaleToZero gate: lets minReplicas be 0
  },
  period = 15,                      -- the controller's sync period
  -- Prometheus scrapes every 15 s and the metrics adapter serves what it last read.
  signals = { scrape_interval = 15, lag = 15, window = 60 },
  scale_from_zero = false,
  validate = function(p)
    return baseline.validate_hpa(p)
  end,
  init = baseline.init,
  decide = function(view, p, state)
    return baseline.decide_hpa(view, p, state)
  end,
}
