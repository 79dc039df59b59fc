-- The HPA's replica calculator (the controller's replica_calculator.go and
-- computeReplicasForMetrics): per-metric replica proposals for Pods, Resource (AverageValue and
-- Utilization), Object and External metrics, with the rules for missing metrics, unready pods and
-- the tolerance band, and the largest proposal over all metrics. Plain data in and out; the
-- reconcile that calls it is sluice.hpa.
local int = require "sluice.hpa_int"

local M = {}

local ceil = math.ceil

local MAX_INT32 = int.MAX_INT32
local int32, ceil32, idiv, milli = int.int32, int.ceil32, int.idiv, int.milli

M.TOLERANCE = 0.1             -- --horizontal-pod-autoscaler-tolerance

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

local function target_value(m)
  local t = m.target
  if t.type == "Utilization" then return t.average_utilization end
  if t.type == "AverageValue" then return t.average_value end
  return t.value
end

M.target_value = target_value

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

return M
