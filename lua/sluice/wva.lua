-- WVA's saturation scaling (llm-d Workload Variant Autoscaler, v0.9), reproduced as WVA runs it so
-- that sluice can replay it as a baseline. This module holds its params and composes its stages,
-- each in a module of its own:
--
--   sluice.wva_inputs      what WVA's PromQL would return, rebuilt from the view
--   sluice.wva_v1          V1 analyzer: KV / queue thresholds, spare triggers, one replica a cycle
--   sluice.wva_limiter     V1's GPU limiter
--   sluice.wva_v2          V2 analyzer: k1 / k2 token capacity, demand with the queue charge, RC/SC
--   sluice.wva_cost_aware  V2's cost-aware optimizer (no limiter)
--   sluice.wva_greedy      V2's GreedyByScore optimizer (limiter on, GPU counts known)
--   sluice.wva_zero        the scale-to-zero enforcer, after every analyzer and optimizer
--
-- Everything WVA remembers between cycles (per-pod 1-minute history, k2 history, capacity store,
-- last activity, last targets) lives in the caller's `state`.
--
--   local wva = require "sluice.wva"
--   local err = wva.validate(params)            -- nil or a message naming the field
--   local decisions = wva.decide(view, params, state)
local params_of = require "sluice.params"
local inputs = require "sluice.wva_inputs"
local v1 = require "sluice.wva_v1"
local limiter = require "sluice.wva_limiter"
local v2 = require "sluice.wva_v2"
local cost_aware = require "sluice.wva_cost_aware"
local greedy = require "sluice.wva_greedy"
local zero = require "sluice.wva_zero"

local M = {}

local format = string.format

-- Defaults are WVA's shipped saturation-scaling-config and scale-to-zero config.
M.defaults = {
  version = 2,                    -- 1 = percentage analyzer, 2 = token analyzer (WVA's default)
  kv_cache_threshold = 0.80,      -- kvCacheThreshold (V1 saturation, V2 k1)
  queue_length_threshold = 5,     -- queueLengthThreshold (V1 saturation, V2 k2 observation)
  kv_spare_trigger = 0.10,        -- kvSpareTrigger (V1)
  queue_spare_trigger = 3,        -- queueSpareTrigger (V1)
  scale_up_threshold = 0.85,      -- scaleUpThreshold (V2)
  scale_down_boundary = 0.70,     -- scaleDownBoundary (V2)
  limiter = false,                -- enableLimiter: GPU inventory limits scale-up
  scale_to_zero = false,          -- WVA_SCALE_TO_ZERO / enable_scale_to_zero
  retention = 600,                -- retention_period, seconds without requests before zero
  model_priority = {},            -- { {model = id, priority = x}, ... }: GreedyByScore weight
                                  -- of a model (WVA's per-model `priority`, default 1.0)
  metrics_window = 60,            -- the [1m] of max_over_time on KV usage and queue length
  token_window = 300,             -- the [5m] of the token-length and prefix-hit rate ratios
}

local function resolve(given)
  return params_of.resolve(M.defaults, given)
end

function M.validate(params)
  local p = resolve(params)
  local unknown = params_of.unknown(M.defaults, params)
  if unknown then return unknown end
  if p.version ~= 1 and p.version ~= 2 then
    return "version must be 1 or 2, got " .. tostring(p.version)
  end
  local function fraction(name, open_low)
    local x = p[name]
    if type(x) ~= "number" or x ~= x or x > 1 or x < 0 or (open_low and x == 0) then
      return format("%s must be in %s0, 1], got %s", name, open_low and "(" or "[", tostring(x))
    end
  end
  local err = fraction("kv_cache_threshold") or fraction("kv_spare_trigger")
    or fraction("scale_up_threshold", true) or fraction("scale_down_boundary", true)
  if err then return err end
  if p.kv_cache_threshold < p.kv_spare_trigger then
    return "kv_cache_threshold must be at least kv_spare_trigger"
  end
  if p.scale_up_threshold <= p.scale_down_boundary then
    return format("scale_up_threshold (%g) must be greater than scale_down_boundary (%g)",
      p.scale_up_threshold, p.scale_down_boundary)
  end
  for _, name in ipairs({ "queue_length_threshold", "queue_spare_trigger" }) do
    if type(p[name]) ~= "number" or not (p[name] >= 0) then
      return name .. " must be a number >= 0"
    end
  end
  for _, name in ipairs({ "retention", "metrics_window", "token_window" }) do
    if type(p[name]) ~= "number" or not (p[name] > 0) then
      return name .. " must be a number of seconds > 0"
    end
  end
  if type(p.limiter) ~= "boolean" then return "limiter must be true or false" end
  if type(p.scale_to_zero) ~= "boolean" then return "scale_to_zero must be true or false" end
  -- A list rather than a map keyed by model: configuration merges a map into the default key by
  -- key, so an empty default map could never gain a model; a list replaces it whole.
  if type(p.model_priority) ~= "table" then return "model_priority must be a list" end
  for i, e in ipairs(p.model_priority) do
    if type(e) ~= "table" or type(e.model) ~= "string" then
      return format("model_priority[%d].model must be a model id", i)
    end
    if type(e.priority) ~= "number" or not (e.priority >= 0) then
      return format("model_priority[%d].priority must be a number >= 0", i)
    end
  end
  return nil
end

---------------------------------------------------------------------------------------------------
-- The two pipelines

-- V1: analyze each model, hold it while it changes, the enforcer; then the limiter over all.
local function decide_v1(view, p, state, groups, out)
  local targets, notes, reasons, costs, spare_of = {}, {}, {}, {}, {}
  for _, g in ipairs(groups) do
    local a = v1.decide(view, p, state, g, targets, reasons, costs)
    spare_of[g.model] = a.spare_kv
    zero.enforce(view, p, state, g, targets, costs, notes)
  end
  if p.limiter then limiter.limit(view, groups, targets, notes, spare_of) end
  for _, g in ipairs(groups) do
    for _, v in ipairs(g.variants) do
      local r = reasons[v.id]
      if notes[v.id] then r = r .. "; " .. notes[v.id] end
      out[v.id] = { replicas = targets[v.id], reason = r }
    end
  end
end

-- V2: analyze each model, one optimizer over all of them, then the enforcer per model.
local function decide_v2(view, p, state, groups, out)
  local mrs, targets = {}, {}
  for _, g in ipairs(groups) do
    local mr = v2.analyze(view, p, state, g)
    mrs[#mrs + 1] = mr
    for _, vc in ipairs(mr.vcs) do targets[vc.id] = vc.current end
  end
  local optimizer = "cost-aware"
  local available = p.limiter and inputs.gpu_available(view, groups) or nil
  if available then
    optimizer = "greedy-by-score"
    greedy.optimize(p, mrs, targets, available)
  else
    for _, mr in ipairs(mrs) do cost_aware.optimize(mr, targets) end
  end
  for i, g in ipairs(groups) do
    local mr, notes, costs = mrs[i], {}, {}
    for _, vc in ipairs(mr.vcs) do costs[vc.id] = vc.cost end
    zero.enforce(view, p, state, g, targets, costs, notes)
    for _, vc in ipairs(mr.vcs) do
      out[vc.id] = { replicas = targets[vc.id],
        reason = v2.reason(p, mr, vc, targets[vc.id], optimizer, notes[vc.id]) }
    end
  end
end

---------------------------------------------------------------------------------------------------

local function housekeeping(state, now)
  state.pods = state.pods or {}
  state.k2 = state.k2 or {}
  state.cap = state.cap or {}
  state.desired = state.desired or {}
  state.active = state.active or {}
  v2.forget(state, now)
end

local function prepare(view, params, state)
  local p = resolve(params)
  housekeeping(state, view.time)
  inputs.observe_pods(view, state, p.metrics_window)
  local groups = inputs.model_groups(view)
  inputs.observe_activity(view, state, groups)
  return p, groups
end

-- Compute-bound k2 from engine settings and the token shape (sluice.wva_v2).
M.derived_k2 = v2.derived_k2

-- The V2 analysis decide would act on, by model: supply, anticipated supply, demand, queue
-- demand, RC and SC in tokens (and `roles` for a disaggregated model), and per variant (`vcs`, in
-- id order) its per-replica capacity `prc`, demand, ready and pending counts, cost as WVA reads it,
-- and each replica's k1, k2, k2_source and effective capacity (`reps`). Updates `state` as a tick
-- does (k2 history, capacity store).
function M.analyze(view, params, state)
  local p, groups = prepare(view, params, state)
  local out = {}
  for _, g in ipairs(groups) do out[g.model] = v2.analyze(view, p, state, g) end
  return out
end

function M.decide(view, params, state)
  state = state or {}
  local p, groups = prepare(view, params, state)
  local out = {}
  if p.version == 1 then
    decide_v1(view, p, state, groups, out)
  else
    decide_v2(view, p, state, groups, out)
  end
  for id, d in pairs(out) do state.desired[id] = d.replicas end
  return out
end

return M
