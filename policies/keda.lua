-- Canned policy "keda": one KEDA ScaledObject per variant with the triggers of llm-d's KEDA
-- guides, set by the baseline rule (docs/policies-hpa-keda.md). KEDA's operator
-- activates (0 -> 1) and deactivates (-> 0 after the cooldown) on trigger activity at each poll;
-- the HPA it generates scales 1 <-> N on the same triggers as External metrics.
--   triggers = "queue"        gateway queue (per model) + running requests (the variant's pods)
--              "saturation"   pool saturation (per model) + running requests
--              "token-aware"  prefill backlog seconds (per model) + KV usage summed over the
--                             variant's Ready pods
-- Gateway signals are per model, so variants of one model share them, as separate
-- ScaledObjects querying the same series would.
local keda = require "sluice.keda"
local baseline = require "sluice.baseline"

local TRIGGER_SETS = { queue = true, saturation = true, ["token-aware"] = true }
local FALLBACKS = {
  none = true, static = true, currentReplicas = true, currentReplicasIfHigher = true,
  currentReplicasIfLower = true,
}

local function triggers_for(view, v, p)
  local ms = (view.models[v.model] or {}).signals or {}
  local ignore = p.ignore_null_values
  local list
  if p.triggers == "token-aware" then
    list = {
      keda.llmd.prefill_backlog(ms.inflight_tokens, p.prefill_tokens_per_s,
        p.prefill_backlog_target, ignore),
      keda.llmd.kv_utilization(baseline.ready_values(v, "kv_usage"), p.kv_target, ignore),
    }
    return list, ""
  end
  local target, note = baseline.running_target(view, v, p.running_target)
  local first
  if p.triggers == "saturation" then
    first = keda.llmd.saturation(ms.saturation, p.saturation_target, ignore)
  else
    first = keda.llmd.queue(ms.queue_size, tonumber(p.queue_target), ignore)
  end
  list = { first, keda.llmd.running(v.signals.running, target, ignore) }
  return list, note
end

local function scaled_object(view, v, p)
  local triggers, note = triggers_for(view, v, p)
  for _, t in ipairs(triggers) do t.activation_threshold = p.activation_threshold end
  local min, max = baseline.bounds(v, true)
  local so = {
    triggers = triggers,
    min_replica_count = min, max_replica_count = max,
    idle_replica_count = p.idle_replica_count >= 0 and p.idle_replica_count or nil,
    polling_interval = p.polling_interval, cooldown_period = p.cooldown_period,
    initial_cooldown_period = p.initial_cooldown_period,
    behavior = baseline.behavior(p),
    use_cached_metrics = p.use_cached_metrics,
  }
  if p.fallback_behavior ~= "none" then
    so.fallback = { behavior = p.fallback_behavior, replicas = p.fallback_replicas,
                    failure_threshold = p.fallback_failure_threshold }
  end
  return so, note
end

local function validate(p)
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
  return baseline.check_target("running_target", p.running_target, true)
      or baseline.check_target("queue_target", p.queue_target)
      or baseline.check_target("saturation_target", p.saturation_target)
      or baseline.check_target("prefill_backlog_target", p.prefill_backlog_target)
      or baseline.check_target("prefill_tokens_per_s", p.prefill_tokens_per_s)
      or baseline.check_target("kv_target", p.kv_target)
      or baseline.check_behavior(p)
end

return {
  name = "keda",
  params = {
    triggers = "queue",             -- "queue", "saturation" or "token-aware" (llm-d's guides)
    running_target = "auto",        -- running requests per replica, or "auto" (baseline rule)
    queue_target = 1,               -- gateway queue per replica
    saturation_target = 0.7,        -- pool saturation
    prefill_backlog_target = 1.5,   -- seconds of prefill backlog per replica
    prefill_tokens_per_s = 15928,   -- one replica's peak prefill throughput (llm-d's figure)
    kv_target = 0.8,                -- Ready pods' KV usage, summed, per replica
    activation_threshold = 0,       -- activationThreshold of every trigger
    ignore_null_values = true,      -- an absent series reads 0 (KEDA's Prometheus default)
    polling_interval = 15,          -- pollingInterval (s)
    cooldown_period = 300,          -- cooldownPeriod (s)
    initial_cooldown_period = 0,    -- initialCooldownPeriod (s)
    idle_replica_count = -1,        -- idleReplicaCount; -1 = unset
    use_cached_metrics = false,     -- triggers[].useCachedMetrics
    fallback_behavior = "none",     -- fallback.behavior; "none" = no fallback section
    fallback_replicas = 0,          -- fallback.replicas
    fallback_failure_threshold = 3, -- fallback.failureThreshold
    -- advanced.horizontalPodAutoscalerConfig.behavior (Kubernetes' defaults)
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
  validate = validate,
  init = function(params, state) state.variants = state.variants or {} end,
  decide = function(view, params, state)
    state.variants = state.variants or {}
    local out, seen = {}, {}
    for id, v in view:variants() do
      seen[id] = true
      local st = state.variants[id] or {}
      state.variants[id] = st
      local so, note = scaled_object(view, v, params)
      local desired, info = keda.tick(st, so, {
        now = view.time, current = v.replicas.spec, status = baseline.status(v),
        pods = (baseline.pods(v, "running")),
      })
      out[id] = { replicas = desired, reason = info.reason .. note }
    end
    for id in pairs(state.variants) do
      if not seen[id] then state.variants[id] = nil end
    end
    return out
  end,
}
