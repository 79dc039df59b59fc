-- The baseline policies (policies/hpa.lua, policies/keda.lua) on a view: one HPA or one KEDA
-- ScaledObject per variant, set by the baseline rule (docs/policies-hpa-keda.md). This module maps
-- the view onto sluice.hpa's and sluice.keda's plain-data inputs (the "auto" running target, pods
-- and replica bounds, the flat behavior params, the trigger sets of llm-d's KEDA guides), keeps one
-- controller state per variant and checks the policies' params.
--
--   local baseline = require "sluice.baseline"
--   local out = baseline.decide_hpa(view, params, state)     -- or decide_keda
--   local err = baseline.validate_hpa(params)                -- or validate_keda
local hpa = require "sluice.hpa"
local keda = require "sluice.keda"

local M = {}

-- A number a metrics API would serve; anything else (nil, NaN, inf) is no sample.
function M.finite(x)
  if type(x) == "number" and x == x and x ~= math.huge and x ~= -math.huge then return x end
  return nil
end

-- The baseline rule's running target is AUTO_FRACTION x the concurrency at which one replica of
-- the variant just meets its SLO: the mean requests in service (sluice.model's queue) at the
-- highest per-replica rate that meets the SLO class, for the variant's latency profile, its
-- max_num_seqs, and the token mix it serves (the view's input/output means when known, else
-- AUTO_TOKENS). It is computed once per variant and then kept, as an operator sets an HPA target
-- once from a load test. Without an SLO class or a profile the target is AUTO_FALLBACK, and the
-- reason says so.
M.AUTO_FRACTION = 0.8
M.AUTO_FALLBACK = 8
M.AUTO_TOKENS = { in_tokens = 1024, out_tokens = 256 }

-- Memo: the target is computed once per variant and configuration (rebuilt after a reload).
local auto_memo = {}

local function compute_auto(v)
  if v.slo == nil then return M.AUTO_FALLBACK, "no SLO class" end  -- a proxy in the real view
  if type(v.profile) ~= "string" then return M.AUTO_FALLBACK, "no latency profile" end
  local ok, model = pcall(require, "sluice.model")
  if not ok then return M.AUTO_FALLBACK, "sluice.model unavailable" end
  local prof, perr = model.builtin(v.profile)
  if not prof then return M.AUTO_FALLBACK, perr end
  local s = v.signals
  local shape = {
    max_batch = v.engine.max_num_seqs,
    in_tokens = M.finite(s.input_tokens_mean) or M.AUTO_TOKENS.in_tokens,
    out_tokens = M.finite(s.output_tokens_mean) or M.AUTO_TOKENS.out_tokens,
  }
  local rate, why = model.max_rate(prof, shape, { ttft_ms = v.slo.ttft_ms, itl_ms = v.slo.itl_ms })
  if not rate then return M.AUTO_FALLBACK, why end
  local pred = model.predict(prof, shape, rate)
  local conc = M.finite(pred.in_service)
  if not conc or conc <= 0 then return M.AUTO_FALLBACK, "no concurrency from the model" end
  return M.AUTO_FRACTION * conc
end

local function auto_running_target(view, v)
  local slo = v.slo or {}
  local key = table.concat({ v.id, tostring(v.profile), tostring(slo.ttft_ms), tostring(slo.itl_ms),
                             tostring(v.engine and v.engine.max_num_seqs) }, "|")
  local m = auto_memo[key]
  if not m then
    local n, why = compute_auto(v)
    m = { n, why }
    auto_memo[key] = m
  end
  return m[1], m[2]
end

-- The running target for a variant: a number (or numeric string) as given, or "auto". Returns the
-- target and a note for the reason ("" unless the auto fallback was used).
function M.running_target(view, v, value)
  if value == "auto" then
    local n, why = auto_running_target(view, v)
    if why then return n, string.format("; running target %s (auto: %s)", hpa.num(n), why) end
    return n, ""
  end
  return tonumber(value), ""
end

function M.check_target(name, x, allow_auto)
  if allow_auto and x == "auto" then return nil end
  local n = tonumber(x)
  if not n or n <= 0 or n ~= n or n == math.huge then
    return name .. " must be a number > 0" .. (allow_auto and ' or "auto"' or "")
  end
  return nil
end

-- View pod phases as the controller sees pods: starting pods are Running but not Ready, pending
-- pods are Pending, draining pods are being deleted. Pods without the signal are absent from
-- `values` (the controller's "missing" pods).
local PHASES = {
  ready = "Running", starting = "Running", pending = "Pending", draining = "Running",
}

function M.pods(v, signal)
  local pods, values = {}, {}
  for i, p in ipairs(v.pods or {}) do
    pods[i] = { name = p.name, phase = PHASES[p.phase] or "Running", ready = p.phase == "ready",
                deleting = p.phase == "draining" }
    local x = p.signals and M.finite(p.signals[signal])
    if x ~= nil then values[p.name] = x end
  end
  return pods, values
end

-- Values of a pod signal over Ready pods, in pod order.
function M.ready_values(v, signal)
  local out = {}
  for _, p in ipairs(v.pods or {}) do
    local x = p.phase == "ready" and p.signals and M.finite(p.signals[signal])
    if x then out[#out + 1] = x end
  end
  return out
end

-- HPA bounds from the variant's: minReplicas 0 only where scale to zero is allowed.
function M.bounds(v, zero_ok)
  local min, max = v.min or 1, v.max or 1
  if min < 1 and not zero_ok then min = 1 end
  if max < 1 then max = 1 end
  if min > max then min = max end
  return min, max
end

-- status.replicas: every pod of the workload that is not terminating.
function M.status(v)
  local r = v.replicas
  return r.ready + r.starting + r.pending
end

-- Flat params <-> an HPA behavior.
function M.behavior(p)
  return {
    scale_up = {
      stabilization_window_seconds = p.scale_up_stabilization, select_policy = p.scale_up_select,
      policies = p.scale_up_policies, tolerance = p.scale_up_tolerance,
    },
    scale_down = {
      stabilization_window_seconds = p.scale_down_stabilization,
      select_policy = p.scale_down_select, policies = p.scale_down_policies,
      tolerance = p.scale_down_tolerance,
    },
  }
end

local PARAM_OF = {
  stabilization_window_seconds = "stabilization", select_policy = "select",
  policies = "policies", tolerance = "tolerance",
}

-- The behavior's API validation, with errors naming the flat param.
function M.check_behavior(p)
  local err = hpa.check_behavior(hpa.behavior(M.behavior(p)))
  if not err then return nil end
  return (err:gsub("^behavior%.(scale_%a+)%.([%a_]+)", function(dir, field)
    return dir .. "_" .. (PARAM_OF[field] or field)
  end))
end

---------------------------------------------------------------------------------------------------
-- One controller per variant

function M.init(params, state) state.variants = state.variants or {} end

-- Decides every variant with `one(view, v, st, params)`, which returns its {replicas, reason},
-- and its own controller state `st`: kept in state.variants across ticks (and reloads) as plain
-- data, and forgotten once the variant leaves the view.
function M.per_variant(view, params, state, one)
  state.variants = state.variants or {}
  local out, seen = {}, {}
  for id, v in view:variants() do
    seen[id] = true
    local st = state.variants[id] or {}
    state.variants[id] = st
    out[id] = one(view, v, st, params)
  end
  for id in pairs(state.variants) do
    if not seen[id] then state.variants[id] = nil end
  end
  return out
end

---------------------------------------------------------------------------------------------------
-- hpa: a Pods metric on running requests per pod (AverageValue = running_target) and an External
-- metric on the model's gateway queue (AverageValue = queue_target per replica). Variants of one
-- model each scale on their own pods and all read the model's queue, as separate HPAs on the same
-- external metric would.

local function hpa_spec_for(view, v, params)
  local target, note = M.running_target(view, v, params.running_target)
  local pods, values = M.pods(v, "running")
  local m = view.models[v.model]
  local min, max = M.bounds(v, params.scale_to_zero)
  local spec = {
    min_replicas = min, max_replicas = max,
    metrics = {
      { name = "running", type = "Pods", values = values,
        target = { type = "AverageValue", average_value = target } },
      { name = "queue", type = "External",
        value = m and M.finite(m.signals.queue_size),
        target = { type = "AverageValue", average_value = tonumber(params.queue_target) } },
    },
    behavior = M.behavior(params),
    scale_to_zero = params.scale_to_zero,
  }
  local obs = { now = view.time, current = v.replicas.spec, status = M.status(v),
                pods = pods }
  return spec, obs, note
end

local function hpa_variant(view, v, st, params)
  local spec, obs, note = hpa_spec_for(view, v, params)
  local desired, info = hpa.tick(st, spec, obs)
  return { replicas = desired, reason = info.reason .. note }
end

-- One tick of an HPA per variant.
function M.decide_hpa(view, params, state)
  return M.per_variant(view, params, state, hpa_variant)
end

-- The hpa policy's params; nil when fine, else a message naming the param.
function M.validate_hpa(p)
  if type(p.scale_to_zero) ~= "boolean" then return "scale_to_zero must be true or false" end
  return M.check_target("running_target", p.running_target, true)
      or M.check_target("queue_target", p.queue_target)
      or M.check_behavior(p)
end

---------------------------------------------------------------------------------------------------
-- keda: the triggers of llm-d's KEDA guides, per `triggers`:
--   "queue"        gateway queue (per model) + running requests (the variant's pods)
--   "saturation"   pool saturation (per model) + running requests
--   "token-aware"  prefill backlog seconds (per model) + KV usage summed over the variant's Ready
--                  pods
-- Gateway signals are per model, so variants of one model share them, as separate ScaledObjects
-- querying the same series would.

local TRIGGER_SETS = { queue = true, saturation = true, ["token-aware"] = true }
local FALLBACKS = {
  none = true, static = true, currentReplicas = true, currentReplicasIfHigher = true,
  currentReplicasIfLower = true,
}

local function keda_triggers_for(view, v, p)
  local ms = (view.models[v.model] or {}).signals or {}
  local ignore = p.ignore_null_values
  local list
  if p.triggers == "token-aware" then
    list = {
      keda.llmd.prefill_backlog(ms.inflight_tokens, p.prefill_tokens_per_s,
        p.prefill_backlog_target, ignore),
      keda.llmd.kv_utilization(M.ready_values(v, "kv_usage"), p.kv_target, ignore),
    }
    return list, ""
  end
  local target, note = M.running_target(view, v, p.running_target)
  local first
  if p.triggers == "saturation" then
    first = keda.llmd.saturation(ms.saturation, p.saturation_target, ignore)
  else
    first = keda.llmd.queue(ms.queue_size, tonumber(p.queue_target), ignore)
  end
  list = { first, keda.llmd.running(v.signals.running, target, ignore) }
  return list, note
end

local function keda_scaled_object(view, v, p)
  local triggers, note = keda_triggers_for(view, v, p)
  for _, t in ipairs(triggers) do t.activation_threshold = p.activation_threshold end
  local min, max = M.bounds(v, true)
  local so = {
    triggers = triggers,
    min_replica_count = min, max_replica_count = max,
    idle_replica_count = p.idle_replica_count >= 0 and p.idle_replica_count or nil,
    polling_interval = p.polling_interval, cooldown_period = p.cooldown_period,
    initial_cooldown_period = p.initial_cooldown_period,
    behavior = M.behavior(p),
    use_cached_metrics = p.use_cached_metrics,
  }
  if p.fallback_behavior ~= "none" then
    so.fallback = { behavior = p.fallback_behavior, replicas = p.fallback_replicas,
                    failure_threshold = p.fallback_failure_threshold }
  end
  return so, note
end

-- The keda policy's params; nil when fine, else a message naming the param.
function M.validate_keda(p)
  if not TRIGGER_SETS[p.triggers] then
    return 'triggers must be "queue", "saturation" or "token-aware"'
  end
  if not FALLBACKS[p.fallback_behavior] then
    return "fallback_behavior must be none, static, currentReplicas, currentReplicasIfHigher "
        .. "or currentReplicasIfLower"
  end
  for _, k in ipairs({ "polling_interval" }) do
    if type(p[k]) ~= "number" or p[k] <= 0 then return k .. " must be a number > 0" end
  end
  for _, k in ipairs({ "cooldown_period", "initial_cooldown_period" }) do
    if type(p[k]) ~= "number" or p[k] < 0 then return k .. " must be a number >= 0" end
  end
  for _, k in ipairs({ "idle_replica_count", "fallback_replicas", "fallback_failure_threshold" }) do
    local x = p[k]
    if type(x) ~= "number" or x % 1 ~= 0 or (x < 0 and k ~= "idle_replica_count") or x < -1 then
      return k .. " must be a whole number >= 0" .. (k == "idle_replica_count" and " (or -1)" or "")
    end
  end
  if type(p.activation_threshold) ~= "number" then
    return "activation_threshold must be a number"
  end
  return M.check_target("running_target", p.running_target, true)
      or M.check_target("queue_target", p.queue_target)
      or M.check_target("saturation_target", p.saturation_target)
      or M.check_target("prefill_backlog_target", p.prefill_backlog_target)
      or M.check_target("prefill_tokens_per_s", p.prefill_tokens_per_s)
      or M.check_target("kv_target", p.kv_target)
      or M.check_behavior(p)
end

local function keda_variant(view, v, st, params)
  local so, note = keda_scaled_object(view, v, params)
  local desired, info = keda.tick(st, so, {
    now = view.time, current = v.replicas.spec, status = M.status(v),
    pods = (M.pods(v, "running")),
  })
  return { replicas = desired, reason = info.reason .. note }
end

-- One tick of a ScaledObject (and the HPA KEDA generates) per variant.
function M.decide_keda(view, params, state)
  return M.per_variant(view, params, state, keda_variant)
end

return M
