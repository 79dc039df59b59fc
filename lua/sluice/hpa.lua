-- The Kubernetes HorizontalPodAutoscaler (autoscaling/v2) on plain data: per-metric replica
-- proposals, the rules for missing metrics, unready pods and invalid metrics, `behavior`
-- (stabilization windows, Pods/Percent rate policies, selectPolicy) and the min/max and
-- scale-to-zero gates, with the controller's integer and rounding semantics (milli-values, int64
-- division, math.Ceil, int32 truncation). Nothing here reads a view: callers map their signals to
-- metrics, pass the time in, and keep `st` (plain data) between ticks.
--
-- One reconcile is here (spec checks, the gates, tick, reasons); its stages are modules of their
-- own, whose functions this module also exports:
--
--   sluice.hpa_replicas   the replica calculator: per-metric proposals, tolerance, pod grouping
--   sluice.hpa_behavior   behavior defaults and checks, stabilization, rate limits, scale events
--   sluice.hpa_int        the controller's int32 / int64 / milli-unit arithmetic
local int = require "sluice.hpa_int"
local calc = require "sluice.hpa_replicas"
local behavior = require "sluice.hpa_behavior"

local M = {}

local fmt = string.format

-- The controller's flags --horizontal-pod-autoscaler-tolerance, ...-downscale-stabilization (s)
-- and ...-sync-period (s).
M.TOLERANCE = calc.TOLERANCE
M.DOWNSCALE_WINDOW = behavior.DOWNSCALE_WINDOW
M.SYNC_PERIOD = 15

local TARGET_TYPES = {
  Resource = { Utilization = true, AverageValue = true },
  ContainerResource = { Utilization = true, AverageValue = true },
  Pods = { AverageValue = true },
  Object = { Value = true, AverageValue = true },
  External = { Value = true, AverageValue = true },
}

local target_value, new_state = calc.target_value, behavior.new_state

local function num(x)
  local s = fmt("%.2f", x)
  s = s:gsub("0+$", ""):gsub("%.$", "")
  if math.abs(x) >= 100 then s = fmt("%.0f", x) end
  return s
end
M.num = num

-- The stages' functions, under the names sluice.hpa has always had.
M.milli = int.milli
M.tolerances, M.within, M.group_pods, M.ready_pods = calc.tolerances, calc.within,
  calc.group_pods, calc.ready_pods
M.plain_metric_replicas, M.utilization_replicas = calc.plain_metric_replicas,
  calc.utilization_replicas
M.usage_ratio_replicas, M.per_pod_replicas = calc.usage_ratio_replicas, calc.per_pod_replicas
M.metric_replicas, M.replicas_for_metrics = calc.metric_replicas, calc.replicas_for_metrics
M.behavior, M.check_behavior = behavior.behavior, behavior.check_behavior
M.stabilize, M.stabilize_legacy = behavior.stabilize, behavior.stabilize_legacy
M.scale_up_limit, M.scale_down_limit = behavior.scale_up_limit, behavior.scale_down_limit
M.rate_limit, M.rate_limit_legacy = behavior.rate_limit, behavior.rate_limit_legacy
M.record_scale = behavior.record_scale

-- The controller records an event once its write succeeded; sluice's guard may hold or clamp a
-- decision, so the event recorded at decision time is trimmed on the next tick to the change the
-- target actually took (never more than asked, nothing if it moved the other way).
local function settle_last_write(st, current)
  local w = st.last_write
  st.last_write = nil
  if not w or current == w.to then return end
  local list = w.to > w.from and st.up_events or st.down_events
  local ev = list[w.slot]
  if not ev or ev.t ~= w.t then return end
  local moved = w.to > w.from and current - w.from or w.from - current
  if moved < 0 then moved = 0 end
  if moved < ev.change then ev.change = moved end
end

---------------------------------------------------------------------------------------------
-- One reconcile

local function has_object_or_external(metrics)
  for _, m in ipairs(metrics) do
    if m.type == "Object" or m.type == "External" then return true end
  end
  return false
end

-- Checks an HPA spec: nil when fine, else a message naming the field.
function M.check(spec)
  local min, max = spec.min_replicas or 1, spec.max_replicas
  if type(max) ~= "number" or max < 1 or max % 1 ~= 0 then
    return "max_replicas must be a whole number >= 1"
  end
  if type(min) ~= "number" or min < 0 or min % 1 ~= 0 or min > max then
    return "min_replicas must be a whole number in 0..max_replicas"
  end
  if type(spec.metrics) ~= "table" or #spec.metrics == 0 then
    return "metrics must list at least one metric"
  end
  for i, m in ipairs(spec.metrics) do
    local path = fmt("metrics[%d]", i)
    if type(m.name) ~= "string" then return path .. ".name must be a string" end
    local types = TARGET_TYPES[m.type]
    if not types then
      return path .. ".type must be Resource, ContainerResource, Pods, Object or External"
    end
    if type(m.target) ~= "table" or not types[m.target.type] then
      return path .. ".target.type is not valid for a " .. m.type .. " metric"
    end
    local tv = target_value(m)
    if type(tv) ~= "number" or tv <= 0 then return path .. ".target value must be a number > 0" end
  end
  if min == 0 and not (spec.scale_to_zero and has_object_or_external(spec.metrics)) then
    return "min_replicas 0 needs scale_to_zero and an Object or External metric"
  end
  for _, k in ipairs({ "tolerance" }) do
    if spec[k] ~= nil and (type(spec[k]) ~= "number" or spec[k] < 0) then
      return k .. " must be a number >= 0"
    end
  end
  return M.check_behavior(M.behavior(spec.behavior, spec.downscale_window))
end

-- What the controller does before metrics: "compute", "disabled" (at zero replicas and not
-- allowed to leave it), "above_max" or "below_min".
function M.gate(st, spec, current)
  local min = spec.min_replicas or 1
  if current == 0 then
    local mode = spec.scale_to_zero
    if mode == "condition" then
      -- 1.37 trees: only an HPA-driven scale to zero (condition ScaledToZero) may come back.
      local cond = st.scaled_to_zero == true
      if (min ~= 0 and cond) or (cond and has_object_or_external(spec.metrics)) then
        return "compute"
      end
      return "disabled"
    end
    if min ~= 0 or not mode then return "disabled" end
    return "compute"
  end
  if current > spec.max_replicas then return "above_max" end
  if current < min then return "below_min" end
  return "compute"
end

-- One reconcileAutoscaler pass.
--   st    plain table kept by the caller between ticks (recommendations, scale events, ...)
--   spec  {min_replicas = 1, max_replicas, metrics = {...},
--          behavior = nil | {scale_up, scale_down}, tolerance = 0.1, downscale_window = 300,
--          scale_to_zero = false | true | "condition"}
--   obs   {now, current = spec.replicas, status = status.replicas (default current), pods = {...}}
--         and the metric samples inside spec.metrics (see metric_replicas)
-- Returns the desired replicas (the current count when the controller would not write) and an
-- info table: {action, raw, stabilized, limit, driver, proposals, error, reason}.
function M.tick(st, spec, obs)
  new_state(st)
  local now, current = obs.now, obs.current
  local min, max = spec.min_replicas or 1, spec.max_replicas
  local behavior = M.behavior(spec.behavior, spec.downscale_window)
  settle_last_write(st, current)
  if st.seeded == nil then
    -- recordInitialRecommendation: a new controller re-arms the scale-down window.
    st.seeded = true
    st.recommendations[#st.recommendations + 1] = { n = current, t = now }
  end
  local info = { action = M.gate(st, spec, current), current = current }
  local desired = current
  if info.action == "disabled" then
    info.reason = "scaling is disabled since the replica count of the target is zero"
    return current, info
  elseif info.action == "above_max" then
    desired = max
    info.reason = fmt("current replicas %d above max %d", current, max)
  elseif info.action == "below_min" then
    desired = min
    info.reason = fmt("current replicas %d below min %d", current, min)
  else
    local ctx = {
      current = current, status = obs.status or current, pods = obs.pods or {},
      tolerances = M.tolerances(behavior, spec.tolerance),
    }
    local raw, driver, proposals = M.replicas_for_metrics(spec.metrics, ctx)
    info.proposals = proposals
    if raw == nil then
      info.error = driver
      info.reason = "no change: " .. tostring(driver)
      return current, info
    end
    info.raw, info.driver = raw, driver
    local stab, limit
    if behavior == nil then
      stab = M.stabilize_legacy(st, now, raw, spec.downscale_window or M.DOWNSCALE_WINDOW)
      desired, limit = M.rate_limit_legacy(current, stab, min, max)
    else
      stab = M.stabilize(st, now, current, raw,
        behavior.scale_up.stabilization_window_seconds,
        behavior.scale_down.stabilization_window_seconds)
      desired, limit = M.rate_limit(st, now, current, stab, min, max, behavior)
    end
    if current == 0 and min ~= 0 and st.scaled_to_zero and desired < min then desired = min end
    info.stabilized, info.limit = stab, limit
    info.reason = M.reason(info, desired)
  end
  if desired ~= current then
    local ev = M.record_scale(st, behavior, current, desired, now)
    if ev then
      local list = desired > current and st.up_events or st.down_events
      for i, e in ipairs(list) do
        if e == ev then st.last_write = { from = current, to = desired, t = now, slot = i } end
      end
    end
    st.scaled_to_zero = current > 0 and desired == 0 and min == 0
        and has_object_or_external(spec.metrics)
  end
  return desired, info
end

-- A short account of a computed decision: the driving metric with its numbers, then what
-- stabilization or the limits changed.
function M.describe(p)
  if p.error then return p.name .. ": " .. p.error end
  local r = p.ratio
  local cmp = "="
  if p.within then
    cmp = "≈"
  elseif r ~= nil and r == r then
    if r > 1 then cmp = ">" elseif r < 1 then cmp = "<" end
  end
  local what = p.name
  if p.target_type == "AverageValue" then
    what = p.name .. ((p.type == "Object" or p.type == "External") and "/replica" or "/pod")
  end
  if p.target_type == "Utilization" then
    return fmt("%s %d%% %s target %d%% → %d", p.name, p.current, cmp, p.target, p.replicas)
  end
  return fmt("%s %s %s target %s → %d", what, num(p.current), cmp, num(p.target), p.replicas)
end

local LIMITS = {
  ScaleUpLimit = "scale-up rate limit", ScaleDownLimit = "scale-down rate limit",
  TooManyReplicas = "max", TooFewReplicas = "min",
}

function M.reason(info, desired)
  local s = M.describe(info.driver)
  if info.stabilized ~= info.raw then
    s = s .. fmt("; stabilized at %d", info.stabilized)
  end
  if desired ~= info.stabilized and LIMITS[info.limit] then
    s = s .. fmt("; held to %d by %s", desired, LIMITS[info.limit])
  end
  return s
end

return M
