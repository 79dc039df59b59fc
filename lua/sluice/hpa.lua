-- The Kubernetes HorizontalPodAutoscaler (autoscaling/v2) on plain data: per-metric replica
-- proposals, the rules for missing metrics, unready pods and invalid metrics, `behavior`
-- (stabilization windows, Pods/Percent rate policies, selectPolicy) and the min/max and
-- scale-to-zero gates, with the controller's integer and rounding semantics (milli-values, int64
-- division, math.Ceil, int32 truncation). Nothing here reads a view: callers map their signals to
-- metrics, pass the time in, and keep `st` (plain data) between ticks.
local M = {}

local floor, ceil = math.floor, math.ceil
local fmt = string.format

local MAX_INT32 = 2147483647
local MIN_INT32 = -2147483648

M.TOLERANCE = 0.1             -- --horizontal-pod-autoscaler-tolerance
M.DOWNSCALE_WINDOW = 300      -- --horizontal-pod-autoscaler-downscale-stabilization (s)
M.SYNC_PERIOD = 15            -- --horizontal-pod-autoscaler-sync-period (s)

-- autoscaling/v2 defaults.go: applied direction by direction when `behavior` is set.
local DEFAULT_UP = {
  stabilization_window_seconds = 0,
  select_policy = "Max",
  policies = {
    { type = "Pods", value = 4, period_seconds = 15 },
    { type = "Percent", value = 100, period_seconds = 15 },
  },
}
local DEFAULT_DOWN = {
  stabilization_window_seconds = nil,  -- the controller's downscale flag fills it
  select_policy = "Max",
  policies = { { type = "Percent", value = 100, period_seconds = 15 } },
}

local TARGET_TYPES = {
  Resource = { Utilization = true, AverageValue = true },
  ContainerResource = { Utilization = true, AverageValue = true },
  Pods = { AverageValue = true },
  Object = { Value = true, AverageValue = true },
  External = { Value = true, AverageValue = true },
}

-- Go's int32(x) for a float: truncation toward zero. The controller caps at MaxInt32 before
-- converting where it can overflow; we cap both ends so the result is always defined.
local function int32(x)
  if x ~= x then return 0 end
  if x >= MAX_INT32 then return MAX_INT32 end
  if x <= MIN_INT32 then return MIN_INT32 end
  if x >= 0 then return floor(x) end
  return ceil(x)
end

local function ceil32(x) return int32(ceil(x)) end

-- int64 division (truncates toward zero).
local function idiv(a, b)
  local q = a / b
  if q >= 0 then return floor(q) end
  return ceil(q)
end

-- Quantities travel as milli-units (int64). Rounded to the nearest milli so that float noise in
-- the caller's arithmetic (0.1 * 3) cannot move a value across a boundary.
local function milli(x) return floor(x * 1000 + 0.5) end
M.milli = milli

local function copy(t)
  if type(t) ~= "table" then return t end
  local o = {}
  for k, v in pairs(t) do o[k] = copy(v) end
  return o
end

local function num(x)
  local s = fmt("%.2f", x)
  s = s:gsub("0+$", ""):gsub("%.$", "")
  if math.abs(x) >= 100 then s = fmt("%.0f", x) end
  return s
end
M.num = num

---------------------------------------------------------------------------------------------
-- Tolerance

-- Tolerances from behavior.scale{Up,Down}.tolerance (gate HPAConfigurableTolerance, on by
-- default since 1.35), else the cluster-wide tolerance for both directions.
function M.tolerances(behavior, cluster)
  cluster = cluster or M.TOLERANCE
  local t = { up = cluster, down = cluster }
  if behavior then
    if behavior.scale_up and behavior.scale_up.tolerance ~= nil then
      t.up = behavior.scale_up.tolerance
    end
    if behavior.scale_down and behavior.scale_down.tolerance ~= nil then
      t.down = behavior.scale_down.tolerance
    end
  end
  return t
end

-- Inclusive band: (1 - down) <= ratio <= (1 + up). NaN is never within.
function M.within(tol, ratio)
  return (1.0 - tol.down) <= ratio and ratio <= (1.0 + tol.up)
end
local within = M.within

---------------------------------------------------------------------------------------------
-- Pods

-- groupPods for a non-CPU metric. A pod is {name, phase = "Running"|"Pending"|"Succeeded"|
-- "Failed", ready = bool, deleting = bool}. Deleting or terminal pods are ignored, Pending pods
-- are unready, pods without a sample are missing, and every other pod counts as ready: for
-- non-CPU metrics the controller does not look at the Ready condition of a pod that reports.
function M.group_pods(pods, values)
  local ready, unready, missing, ignored = 0, {}, {}, {}
  for _, p in ipairs(pods) do
    if p.deleting or p.phase == "Failed" or p.phase == "Succeeded" then
      ignored[#ignored + 1] = p.name
    elseif p.phase == "Pending" then
      unready[#unready + 1] = p.name
    elseif values[p.name] == nil then
      missing[#missing + 1] = p.name
    else
      ready = ready + 1
    end
  end
  return ready, unready, missing, ignored
end

-- getReadyPodsCount: Running and Ready; an error only when the selector matches no pod.
function M.ready_pods(pods)
  if #pods == 0 then
    return nil, "no pods returned by selector while calculating replica count"
  end
  local n = 0
  for _, p in ipairs(pods) do
    if p.phase == "Running" and p.ready and not p.deleting then n = n + 1 end
  end
  return n
end

local function usage_ratio(metrics, target)
  local total, n = 0, 0
  for _, v in pairs(metrics) do
    total, n = total + v, n + 1
  end
  local usage = idiv(total, n)
  return usage / target, usage
end

local function count(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n
end

-- Shared tail of calcPlainMetricReplicas and GetResourceReplicas: missing pods count as the
-- target on a scale-down and as zero on a scale-up, unready pods as zero on a scale-up, and the
-- result is dropped when the correction would reverse the direction or stay within tolerance.
local function corrected(current, ratio, tol, metrics, unready, missing, ready_count, fill_down,
                         recompute)
  local up_unready = #unready > 0 and ratio > 1.0
  if not up_unready and #missing == 0 then
    if within(tol, ratio) then return current end
    return ceil32(ratio * ready_count)
  end
  if #missing > 0 then
    if ratio < 1.0 then
      for _, name in ipairs(missing) do metrics[name] = fill_down(name) end
    elseif ratio > 1.0 then
      for _, name in ipairs(missing) do metrics[name] = 0 end
    end
  end
  if up_unready then
    for _, name in ipairs(unready) do metrics[name] = 0 end
  end
  local new_ratio = recompute(metrics)
  if within(tol, new_ratio) or (ratio < 1.0 and new_ratio > 1.0)
      or (ratio > 1.0 and new_ratio < 1.0) then
    return current
  end
  local n = ceil32(new_ratio * count(metrics))
  if (new_ratio < 1.0 and n > current) or (new_ratio > 1.0 and n < current) then
    return current
  end
  return n
end

local function pod_metrics(values, unready, ignored)
  local metrics = {}
  for name, v in pairs(values) do metrics[name] = milli(v) end
  for _, name in ipairs(ignored) do metrics[name] = nil end
  for _, name in ipairs(unready) do metrics[name] = nil end
  return metrics
end

-- calcPlainMetricReplicas: Pods metrics and Resource AverageValue. `values` maps pod name to the
-- pod's sample (absent = no sample). Returns replicas, average usage (in the metric's units).
function M.plain_metric_replicas(current, target, pods, values, tol)
  if #pods == 0 then
    return nil, "no pods returned by selector while calculating replica count"
  end
  local target_m = milli(target)
  local ready, unready, missing, ignored = M.group_pods(pods, values)
  local metrics = pod_metrics(values, unready, ignored)
  if next(metrics) == nil then
    return nil, "did not receive metrics for targeted pods (pods might be unready)"
  end
  local ratio, usage = usage_ratio(metrics, target_m)
  local n = corrected(current, ratio, tol, metrics, unready, missing, ready,
    function() return target_m end,
    function(m) return (usage_ratio(m, target_m)) end)
  return n, usage / 1000, ratio
end

-- GetResourceUtilizationRatio: utilization is an int32 percent of the summed requests (integer
-- division) before it is divided by the target.
local function utilization_ratio(metrics, requests, target_pct)
  local mt, rt, n = 0, 0, 0
  for name, v in pairs(metrics) do
    local r = requests[name]
    if r then mt, rt, n = mt + v, rt + r, n + 1 end
  end
  if rt == 0 then return nil, "no metrics returned matched known pods" end
  local util = int32(idiv(mt * 100, rt))
  return util / target_pct, util
end

-- GetResourceReplicas (Utilization) for a resource without the CPU start-up heuristics. `requests`
-- maps every pod name to its request (same units as `values`).
function M.utilization_replicas(current, target_pct, pods, values, requests, tol)
  if #pods == 0 then
    return nil, "no pods returned by selector while calculating replica count"
  end
  local req_m = {}
  for _, p in ipairs(pods) do
    local r = requests[p.name]
    if r == nil then return nil, "missing request for pod " .. tostring(p.name) end
    req_m[p.name] = milli(r)
  end
  local ready, unready, missing, ignored = M.group_pods(pods, values)
  local metrics = pod_metrics(values, unready, ignored)
  if next(metrics) == nil then return nil, "did not receive metrics for any ready pods" end
  local ratio, util = utilization_ratio(metrics, req_m, target_pct)
  if ratio == nil then return nil, util end
  local fill = math.max(100, target_pct)
  local n = corrected(current, ratio, tol, metrics, unready, missing, ready,
    function(name) return idiv(req_m[name] * fill, 100) end,
    function(m) return (utilization_ratio(m, req_m, target_pct)) end)
  return n, util, ratio
end

---------------------------------------------------------------------------------------------
-- Object and External

-- getUsageRatioReplicaCount: Value targets. From zero replicas, ceil(ratio) with no tolerance.
function M.usage_ratio_replicas(current, ratio, tol, pods)
  if current ~= 0 then
    if within(tol, ratio) then return current end
    local ready, err = M.ready_pods(pods)
    if not ready then return nil, err end
    local x = ratio * ready
    if x > MAX_INT32 then return MAX_INT32 end
    return ceil32(x)
  end
  return ceil32(ratio)
end

-- Get{Object,External}PerPodMetricReplicas: AverageValue targets divide the total by
-- status.replicas (which counts pods that are not Ready yet) for the tolerance test, and
-- propose ceil(total / target) whatever the pod count.
function M.per_pod_replicas(status, usage, target, tol)
  local usage_m, target_m = milli(usage), milli(target)
  local n = status
  local ratio = usage_m / (target_m * status)
  if not within(tol, ratio) then
    local x = usage_m / target_m
    n = x > MAX_INT32 and MAX_INT32 or ceil32(x)
  end
  local avg = status == 0 and 0 or ceil(usage_m / status) / 1000
  return n, avg, ratio
end

local function external_sum(m)
  if m.values then
    if #m.values == 0 then return nil end
    local s = 0
    for _, v in ipairs(m.values) do s = s + milli(v) end
    return s / 1000
  end
  return m.value
end

---------------------------------------------------------------------------------------------
-- One metric, all metrics

local function target_value(m)
  local t = m.target
  if t.type == "Utilization" then return t.average_utilization end
  if t.type == "AverageValue" then return t.average_value end
  return t.value
end

-- A metric is {name, type, target = {type, value | average_value | average_utilization}} plus
-- its sample: `values` (pod name -> sample) for Pods/Resource, `value` (or `values`, an array of
-- series summed as the external metrics API does) for Object/External, `requests` for
-- Utilization. A nil sample is a failed metric. Returns a proposal table.
function M.metric_replicas(m, ctx)
  local p = { name = m.name, type = m.type, target_type = m.target.type, target = target_value(m) }
  local tol = ctx.tolerances
  local n, cur, ratio
  if m.type == "Pods" or ((m.type == "Resource" or m.type == "ContainerResource")
      and m.target.type == "AverageValue") then
    if m.values == nil then
      p.error = "unable to get metric " .. m.name
      return p
    end
    n, cur, ratio = M.plain_metric_replicas(ctx.current, p.target, ctx.pods, m.values, tol)
  elseif m.type == "Resource" or m.type == "ContainerResource" then
    if m.values == nil then
      p.error = "unable to get metrics for resource " .. m.name
      return p
    end
    n, cur, ratio = M.utilization_replicas(ctx.current, p.target, ctx.pods, m.values,
      m.requests or {}, tol)
  else
    local usage = m.type == "External" and external_sum(m) or m.value
    if usage == nil then
      p.error = "unable to get " .. m.type .. " metric " .. m.name
      return p
    end
    if m.target.type == "Value" then
      ratio = milli(usage) / milli(p.target)
      n, cur = M.usage_ratio_replicas(ctx.current, ratio, tol, ctx.pods)
      if n then cur = usage end
    else
      n, cur, ratio = M.per_pod_replicas(ctx.status, usage, p.target, tol)
    end
  end
  if n == nil then
    p.error = cur
    return p
  end
  p.replicas, p.current, p.ratio = n, cur, ratio
  p.within = ratio ~= nil and within(tol, ratio)
  return p
end

-- computeReplicasForMetrics: the largest proposal over the valid metrics. A failed metric only
-- allows scaling up; when every metric failed, nothing is proposed. Returns replicas (or nil),
-- the driving proposal (or the first error), and all proposals.
function M.replicas_for_metrics(metrics, ctx)
  local replicas, driver, invalid, first_err = 0, nil, 0, nil
  local proposals = {}
  for i, m in ipairs(metrics) do
    local p = M.metric_replicas(m, ctx)
    proposals[i] = p
    if p.error then
      if invalid == 0 then first_err = p.name .. ": " .. p.error end
      invalid = invalid + 1
    elseif replicas == 0 or p.replicas > replicas then
      replicas, driver = p.replicas, p
    end
  end
  if invalid >= #metrics or (invalid > 0 and replicas < ctx.current) then
    return nil, first_err, proposals
  end
  return replicas, driver, proposals
end

---------------------------------------------------------------------------------------------
-- Behavior

local function rules(given, default)
  local r = copy(default)
  if given then
    for _, k in ipairs({ "stabilization_window_seconds", "select_policy", "policies",
                         "tolerance" }) do
      if given[k] ~= nil then r[k] = copy(given[k]) end
    end
  end
  return r
end

-- The API defaults (SetDefaults_HorizontalPodAutoscalerBehavior) plus the controller's downscale
-- window for an unset scaleDown window. Returns nil for a nil behavior: that HPA takes the legacy
-- path (max(2 x current, 4) scale-up cap, downscale window from the flag).
function M.behavior(b, downscale_window)
  if b == nil then return nil end
  local out = {
    scale_up = rules(b.scale_up, DEFAULT_UP),
    scale_down = rules(b.scale_down, DEFAULT_DOWN),
  }
  if out.scale_down.stabilization_window_seconds == nil then
    out.scale_down.stabilization_window_seconds = downscale_window or M.DOWNSCALE_WINDOW
  end
  return out
end

local SELECT = { Max = true, Min = true, Disabled = true }

local function check_rules(r, path)
  local w = r.stabilization_window_seconds
  if type(w) ~= "number" or w < 0 or w > 3600 or w % 1 ~= 0 then
    return path .. ".stabilization_window_seconds must be a whole number in 0..3600"
  end
  if not SELECT[r.select_policy] then
    return path .. ".select_policy must be Max, Min or Disabled"
  end
  if r.tolerance ~= nil and (type(r.tolerance) ~= "number" or r.tolerance < 0) then
    return path .. ".tolerance must be a number >= 0"
  end
  if type(r.policies) ~= "table" or #r.policies == 0 then
    return path .. ".policies must list at least one policy"
  end
  for i, p in ipairs(r.policies) do
    local pp = fmt("%s.policies[%d]", path, i)
    if p.type ~= "Pods" and p.type ~= "Percent" then
      return pp .. ".type must be Pods or Percent"
    end
    if type(p.value) ~= "number" or p.value <= 0 or p.value % 1 ~= 0 then
      return pp .. ".value must be a whole number > 0"
    end
    local s = p.period_seconds
    if type(s) ~= "number" or s <= 0 or s > 1800 or s % 1 ~= 0 then
      return pp .. ".period_seconds must be a whole number in 1..1800"
    end
  end
end

-- API validation of a (defaulted) behavior; nil when fine, else a message naming the field.
function M.check_behavior(b)
  if b == nil then return nil end
  return check_rules(b.scale_up, "behavior.scale_up")
      or check_rules(b.scale_down, "behavior.scale_down")
end

local function new_state(st)
  st.recommendations = st.recommendations or {}
  st.up_events = st.up_events or {}
  st.down_events = st.down_events or {}
  return st
end

-- stabilizeRecommendationWithBehaviors: the result is the current count pulled up to the lowest
-- recommendation of the scale-up window and down to the highest of the scale-down window
-- (windows include the new recommendation; samples count when strictly after the cutoff). The raw
-- recommendation is recorded, reusing the last slot older than both windows.
function M.stabilize(st, now, current, raw, up_window, down_window)
  new_state(st)
  local up_rec, down_rec = raw, raw
  local up_cut, down_cut = now - up_window, now - down_window
  local old
  for i, r in ipairs(st.recommendations) do
    if r.t > up_cut and r.n < up_rec then up_rec = r.n end
    if r.t > down_cut and r.n > down_rec then down_rec = r.n end
    if r.t < up_cut and r.t < down_cut then old = i end
  end
  local rec = current
  if rec < up_rec then rec = up_rec end
  if rec > down_rec then rec = down_rec end
  local sample = { n = raw, t = now }
  local recs = st.recommendations
  if old then recs[old] = sample else recs[#recs + 1] = sample end
  return rec
end

-- stabilizeRecommendation (no behavior): the highest recommendation not older than the window;
-- here a sample exactly at the cutoff still counts.
function M.stabilize_legacy(st, now, raw, window)
  new_state(st)
  local max_rec, cut, old = raw, now - window, nil
  for i, r in ipairs(st.recommendations) do
    if r.t < cut then
      old = i
    elseif r.n > max_rec then
      max_rec = r.n
    end
  end
  local sample = { n = raw, t = now }
  local recs = st.recommendations
  if old then recs[old] = sample else recs[#recs + 1] = sample end
  return max_rec
end

-- getReplicasChangePerPeriod: events strictly after now - period.
local function change_in_period(events, now, period)
  local cut, n = now - period, 0
  for _, e in ipairs(events) do
    if e.t > cut then n = n + e.change end
  end
  return n
end

-- calculateScaleUpLimitWithScalingRules. Percent rounds up (ceil of a float64 product, so
-- 50 x 1.1 gives 56 as in Go).
function M.scale_up_limit(st, now, current, r)
  new_state(st)
  if r.select_policy == "Disabled" then return current end
  local result, pick
  if r.select_policy == "Min" then
    result, pick = MAX_INT32, math.min
  else
    result, pick = MIN_INT32, math.max
  end
  for _, p in ipairs(r.policies) do
    local start = current - change_in_period(st.up_events, now, p.period_seconds)
        + change_in_period(st.down_events, now, p.period_seconds)
    local proposed
    if p.type == "Pods" then
      proposed = start + p.value
    else
      proposed = ceil32(start * (1 + p.value / 100))
    end
    result = pick(result, proposed)
  end
  return result
end

-- calculateScaleDownLimitWithBehaviors. Percent truncates the replicas that remain (int32 of a
-- float64 product, so 10 x (1 - 0.9) keeps 0, not 1).
function M.scale_down_limit(st, now, current, r)
  new_state(st)
  if r.select_policy == "Disabled" then return current end
  local result, pick
  if r.select_policy == "Min" then
    result, pick = MIN_INT32, math.max
  else
    result, pick = MAX_INT32, math.min
  end
  for _, p in ipairs(r.policies) do
    local start = current - change_in_period(st.up_events, now, p.period_seconds)
        + change_in_period(st.down_events, now, p.period_seconds)
    local proposed
    if p.type == "Pods" then
      proposed = start - p.value
    else
      proposed = int32(start * (1 - p.value / 100))
    end
    result = pick(result, proposed)
  end
  return result
end

-- convertDesiredReplicasWithBehaviorRate: rate limits, then min/max. Returns replicas and the
-- limiting reason (the controller's ScalingLimited reasons).
function M.rate_limit(st, now, current, desired, min, max, b)
  if desired > current then
    local limit = M.scale_up_limit(st, now, current, b.scale_up)
    if limit < current then limit = current end
    local allowed, why = max, "TooManyReplicas"
    if allowed > limit then allowed, why = limit, "ScaleUpLimit" end
    if desired > allowed then return allowed, why end
  elseif desired < current then
    local limit = M.scale_down_limit(st, now, current, b.scale_down)
    if limit > current then limit = current end
    local allowed, why = min, "TooFewReplicas"
    if allowed < limit then allowed, why = limit, "ScaleDownLimit" end
    if desired < allowed then return allowed, why end
  end
  return desired, "DesiredWithinRange"
end

-- convertDesiredReplicasWithRules (no behavior).
function M.rate_limit_legacy(current, desired, min, max)
  local up_limit = int32(math.max(2.0 * current, 4.0))
  local allowed, why = max, "TooManyReplicas"
  if max > up_limit then allowed, why = up_limit, "ScaleUpLimit" end
  if desired < min then return min, "TooFewReplicas" end
  if desired > allowed then return allowed, why end
  return desired, "DesiredWithinRange"
end

local function longest_period(r)
  local n = 0
  for _, p in ipairs(r.policies) do
    if p.period_seconds > n then n = p.period_seconds end
  end
  return n
end

-- storeScaleEvent: only with a behavior; events older than the direction's longest policy period
-- are marked outdated and the last outdated slot is reused.
function M.record_scale(st, b, prev, new, now)
  new_state(st)
  if b == nil or prev == new then return nil end
  local list, r, change
  if new > prev then
    list, r, change = st.up_events, b.scale_up, new - prev
  else
    list, r, change = st.down_events, b.scale_down, prev - new
  end
  local cut, old = now - longest_period(r), nil
  for i, e in ipairs(list) do
    if e.t < cut then e.outdated = true end
    if e.outdated then old = i end
  end
  local ev = { change = change, t = now, outdated = false }
  if old then list[old] = ev else list[#list + 1] = ev end
  return ev
end

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
