-- Canned policy "hpa": one Kubernetes HorizontalPodAutoscaler per variant, set by the baseline
-- rule (docs/policies-hpa-keda.md): a Pods metric on running requests per pod
-- (AverageValue = running_target) and an External metric on the model's gateway queue
-- (AverageValue = queue_target per replica), Kubernetes' default behavior, no scale to zero.
-- Variants of one model each scale on their own pods and all read the model's queue, as separate
-- HPAs on the same external metric would.
local hpa = require "sluice.hpa"
local baseline = require "sluice.baseline"

local function spec_for(view, v, params)
  local target, note = baseline.running_target(view, v, params.running_target)
  local pods, values = baseline.pods(v, "running")
  local m = view.models[v.model]
  local min, max = baseline.bounds(v, params.scale_to_zero)
  local spec = {
    min_replicas = min, max_replicas = max,
    metrics = {
      { name = "running", type = "Pods", values = values,
        target = { type = "AverageValue", average_value = target } },
      { name = "queue", type = "External",
        value = m and baseline.finite(m.signals.queue_size),
        target = { type = "AverageValue", average_value = tonumber(params.queue_target) } },
    },
    behavior = baseline.behavior(params),
    scale_to_zero = params.scale_to_zero,
  }
  local obs = { now = view.time, current = v.replicas.spec, status = baseline.status(v),
                pods = pods }
  return spec, obs, note
end

return {
  name = "hpa",
  params = {
    running_target = "auto",        -- running requests per pod, or "auto" (baseline rule)
    queue_target = 1,               -- gateway queue per replica
    scale_up_stabilization = 0,     -- behavior.scaleUp.stabilizationWindowSeconds
    scale_up_select = "Max",        -- behavior.scaleUp.selectPolicy
    scale_up_policies = {           -- behavior.scaleUp.policies
      { type = "Pods", value = 4, period_seconds = 15 },
      { type = "Percent", value = 100, period_seconds = 15 },
    },
    scale_up_tolerance = 0.1,       -- behavior.scaleUp.tolerance
    scale_down_stabilization = 300,
    scale_down_select = "Max",
    scale_down_policies = { { type = "Percent", value = 100, period_seconds = 15 } },
    scale_down_tolerance = 0.1,
    scale_to_zero = false,          -- the HPAScaleToZero gate: lets minReplicas be 0
  },
  period = 15,                      -- the controller's sync period
  -- Prometheus scrapes every 15 s and the metrics adapter serves what it last read.
  signals = { scrape_interval = 15, lag = 15, window = 60 },
  scale_from_zero = false,
  validate = function(p)
    if type(p.scale_to_zero) ~= "boolean" then return "scale_to_zero must be true or false" end
    return baseline.check_target("running_target", p.running_target, true)
        or baseline.check_target("queue_target", p.queue_target)
        or baseline.check_behavior(p)
  end,
  init = function(params, state) state.variants = state.variants or {} end,
  decide = function(view, params, state)
    state.variants = state.variants or {}
    local out, seen = {}, {}
    for id, v in view:variants() do
      seen[id] = true
      local st = state.variants[id] or {}
      state.variants[id] = st
      local spec, obs, note = spec_for(view, v, params)
      local desired, info = hpa.tick(st, spec, obs)
      out[id] = { replicas = desired, reason = info.reason .. note }
    end
    for id in pairs(state.variants) do
      if not seen[id] then state.variants[id] = nil end
    end
    return out
  end,
}
