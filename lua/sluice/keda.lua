-- KEDA ScaledObject semantics on top of sluice.hpa: the operator's scale loop every
-- pollingInterval (activation strictly above activationThreshold, 0 <-> 1 or idle <-> min,
-- cooldownPeriod and initialCooldownPeriod before scaling to zero or idle), the generated
-- HPA (External metrics, min = max(1, minReplicaCount)) for 1 <-> N, and fallback on failing
-- metrics as KEDA's metrics server does it. Also the trigger values of llm-d's KEDA guides.
-- Plain data in and out; the caller keeps `st` between ticks and passes the time in.
local hpa = require "sluice.hpa"

local M = {}

local fmt = string.format
local num = hpa.num

M.POLLING_INTERVAL = 30
M.COOLDOWN_PERIOD = 300
M.INITIAL_COOLDOWN_PERIOD = 0
M.MAX_REPLICA_COUNT = 100

local FALLBACK_BEHAVIORS = {
  static = true, currentReplicas = true, currentReplicasIfHigher = true,
  currentReplicasIfLower = true,
}

local function is_count(x, lo)
  return type(x) == "number" and x % 1 == 0 and x >= (lo or 0)
end

-- Checks a ScaledObject; nil when fine, else a message naming the field.
--   so = {triggers = {{name, metric_type = "AverageValue" | "Value", threshold,
--                      activation_threshold = 0, value}},
--         min_replica_count = 0, max_replica_count = 100, idle_replica_count = nil,
--         polling_interval = 30, cooldown_period = 300, initial_cooldown_period = 0,
--         fallback = nil | {failure_threshold, replicas, behavior = "static"},
--         behavior = nil | HPA behavior, use_cached_metrics = false,
--         tolerance = 0.1, downscale_window = 300}
function M.check(so)
  if type(so.triggers) ~= "table" or #so.triggers == 0 then
    return "triggers must list at least one trigger"
  end
  local seen = {}
  for i, t in ipairs(so.triggers) do
    local path = fmt("triggers[%d]", i)
    if type(t.name) ~= "string" or t.name == "" then return path .. ".name must be a string" end
    if seen[t.name] then return path .. ".name repeats " .. t.name end
    seen[t.name] = true
    local mt = t.metric_type or "AverageValue"
    if mt ~= "AverageValue" and mt ~= "Value" then
      return path .. ".metric_type must be AverageValue or Value"
    end
    if type(t.threshold) ~= "number" or t.threshold <= 0 then
      return path .. ".threshold must be a number > 0"
    end
    if t.activation_threshold ~= nil and type(t.activation_threshold) ~= "number" then
      return path .. ".activation_threshold must be a number"
    end
  end
  local min, max = so.min_replica_count or 0, so.max_replica_count or M.MAX_REPLICA_COUNT
  if not is_count(min) then return "min_replica_count must be a whole number >= 0" end
  if not is_count(max, 1) or max < min then
    return "max_replica_count must be a whole number >= max(1, min_replica_count)"
  end
  local idle = so.idle_replica_count
  if idle ~= nil and (not is_count(idle) or idle >= min) then
    return "idle_replica_count must be a whole number below min_replica_count"
  end
  for _, k in ipairs({ "polling_interval", "cooldown_period", "initial_cooldown_period" }) do
    if so[k] ~= nil and (type(so[k]) ~= "number" or so[k] < 0) then
      return k .. " must be a number of seconds >= 0"
    end
  end
  if (so.polling_interval or M.POLLING_INTERVAL) <= 0 then return "polling_interval must be > 0" end
  local fb = so.fallback
  if fb ~= nil then
    if not FALLBACK_BEHAVIORS[fb.behavior or "static"] then
      return "fallback.behavior must be static, currentReplicas, currentReplicasIfHigher or "
          .. "currentReplicasIfLower"
    end
    if not is_count(fb.failure_threshold) then
      return "fallback.failure_threshold must be a whole number >= 0"
    end
    if not is_count(fb.replicas) then return "fallback.replicas must be a whole number >= 0" end
  end
  return hpa.check(M.hpa_spec(so))
end

-- The HPA the operator generates: one External metric per trigger, named s<index>-<name>,
-- minReplicas = max(1, minReplicaCount), the ScaledObject's advanced behavior copied verbatim.
function M.hpa_spec(so)
  local min = so.min_replica_count or 0
  local metrics = {}
  for i, t in ipairs(so.triggers or {}) do
    local mt = t.metric_type or "AverageValue"
    local target = { type = mt }
    if mt == "Value" then target.value = t.threshold else target.average_value = t.threshold end
    metrics[i] = { name = t.name, type = "External", target = target, value = t.value,
                   trigger = i }
  end
  return {
    min_replicas = min > 0 and min or 1,
    max_replicas = so.max_replica_count or M.MAX_REPLICA_COUNT,
    metrics = metrics,
    behavior = so.behavior,
    tolerance = so.tolerance,
    downscale_window = so.downscale_window,
  }
end

-- Trigger activity over the live values: active when a value is strictly above its activation
-- threshold; a nil value is a failed query.
function M.activity(triggers)
  local active, failed, names = false, false, {}
  for _, t in ipairs(triggers) do
    if t.value == nil then
      failed = true
    elseif t.value > (t.activation_threshold or 0) then
      active = true
      names[#names + 1] = t.name
    end
  end
  return active, failed, names
end

-- RequestScale of the operator's scale loop. Returns the replicas KEDA writes (or nil) and what it
-- concluded. Updates st.last_active as status.lastActiveTime.
function M.request_scale(st, so, now, current, active, failed)
  local min = so.min_replica_count or 0
  local idle = so.idle_replica_count
  if active then
    if (idle ~= nil and current < min) or current == 0 then
      st.last_active = now
      return min > 0 and min or 1, "activated"
    elseif failed then
      return nil, "partial trigger error"   -- lastActiveTime is not refreshed
    end
    st.last_active = now
    return nil, "active"
  end
  local fb = so.fallback
  if failed and fb ~= nil and fb.replicas ~= 0 then
    return nil, "trigger error, fallback keeps replicas"
  elseif failed and fb == nil then
    return nil, "trigger error"
  elseif (idle ~= nil and current > idle) or (current > 0 and min == 0) then
    local cooled
    if st.last_active == nil then
      cooled = st.created + (so.initial_cooldown_period or M.INITIAL_COOLDOWN_PERIOD) < now
    else
      cooled = st.last_active + (so.cooldown_period or M.COOLDOWN_PERIOD) < now
    end
    if cooled then return idle or min, "deactivated" end
    return nil, "cooldown"
  elseif idle == nil and current < min then
    return min, "below min"
  end
  return nil, "inactive"
end

local function trunc(x)
  if x >= 0 then return math.floor(x) end
  return math.ceil(x)
end

-- doFallback: the metric value that makes the HPA compute the fallback replicas,
-- target x replicas (AverageValue) or target x replicas / ready (Value), in milli-units.
function M.fallback_value(fb, metric_type, target, current, ready)
  local b, want = fb.behavior or "static", fb.replicas
  local replicas = want
  if b == "currentReplicas" then
    replicas = current
  elseif b == "currentReplicasIfHigher" then
    replicas = current > want and current or want
  elseif b == "currentReplicasIfLower" then
    replicas = current < want and current or want
  end
  if metric_type == "Value" then
    if not ready or ready == 0 then return nil, "readyReplicas is zero, cannot do fallback" end
    replicas = replicas / ready
  end
  return trunc(target * 1000 * replicas) / 1000
end

-- GetMetricsWithFallback for each metric the HPA queries: failures are counted per metric
-- (only with a fallback configured), reset on success, and past failure_threshold (strictly
-- greater) the failing metric is replaced by the fallback value.
local function apply_fallback(st, so, metrics, current, pods)
  local fb = so.fallback
  local used = {}
  if fb == nil then return used end
  for _, m in ipairs(metrics) do
    local h = st.health[m.name] or { failures = 0, status = "Happy" }
    st.health[m.name] = h
    if m.value ~= nil then
      h.failures, h.status = 0, "Happy"
    else
      h.failures, h.status = h.failures + 1, "Failing"
      if h.failures > fb.failure_threshold then
        local target = m.target.value or m.target.average_value
        local v = M.fallback_value(fb, m.target.type, target, current, hpa.ready_pods(pods))
        if v ~= nil then
          m.value = v
          used[#used + 1] = m.name
        end
      end
    end
  end
  return used
end

local function copy_triggers(triggers)
  local out = {}
  for i, t in ipairs(triggers) do
    local c = {}
    for k, v in pairs(t) do c[k] = v end
    out[i] = c
  end
  return out
end

local function describe_activity(so, names)
  for _, t in ipairs(so.triggers) do
    if t.name == names[1] then
      return fmt("%s %s > activation %s", t.name, num(t.value), num(t.activation_threshold or 0))
    end
  end
  return "trigger active"
end

-- One tick (an HPA sync, normally 15 s): the operator's scale loop when a poll is due, then
-- the generated HPA unless the operator wrote the scale this tick.
--   obs = {now, current = spec.replicas, status = status.replicas, pods = {...}}
-- Returns the replicas and {action, polled, active, failed, keda, hpa, fallback, reason}.
function M.tick(st, so, obs)
  local now, current = obs.now, obs.current
  st.created = st.created or so.created_at or now
  st.health = st.health or {}
  st.hpa = st.hpa or {}
  local info = { current = current }
  local interval = so.polling_interval or M.POLLING_INTERVAL
  local triggers = so.triggers
  if st.last_poll == nil or now - st.last_poll >= interval - 1e-9 then
    st.last_poll = now
    local active, failed, names = M.activity(triggers)
    info.polled, info.active, info.failed, info.active_triggers = true, active, failed, names
    if so.use_cached_metrics then
      st.cache = {}
      for _, t in ipairs(triggers) do st.cache[t.name] = t.value == nil and false or t.value end
    end
    local write, note = M.request_scale(st, so, now, current, active, failed)
    info.keda = note
    if write ~= nil and write ~= current then
      info.action = note
      if note == "activated" then
        info.reason = fmt("activated: %s → %d", describe_activity(so, names), write)
      elseif note == "deactivated" then
        info.reason = fmt("deactivated: no trigger above its activation threshold for %s s → %d",
          num(st.last_active and (so.cooldown_period or M.COOLDOWN_PERIOD)
            or (so.initial_cooldown_period or M.INITIAL_COOLDOWN_PERIOD)), write)
      else
        info.reason = fmt("below min_replica_count → %d", write)
      end
      return write, info
    end
  end

  if so.use_cached_metrics and st.cache then
    triggers = copy_triggers(triggers)
    for _, t in ipairs(triggers) do
      local c = st.cache[t.name]
      if c == false then t.value = nil elseif c ~= nil then t.value = c end
    end
  end
  local spec = M.hpa_spec({
    triggers = triggers, min_replica_count = so.min_replica_count,
    max_replica_count = so.max_replica_count, behavior = so.behavior,
    tolerance = so.tolerance, downscale_window = so.downscale_window,
  })
  if hpa.gate(st.hpa, spec, current) == "compute" then
    info.fallback = apply_fallback(st, so, spec.metrics, current, obs.pods or {})
  end
  local desired, hinfo = hpa.tick(st.hpa, spec, obs)
  info.hpa, info.action = hinfo, "hpa"
  local reason = hinfo.reason
  if info.fallback and #info.fallback > 0 then
    reason = reason .. fmt("; fallback for %s", table.concat(info.fallback, ", "))
  end
  if info.keda == "cooldown" then
    reason = reason .. "; inactive, cooling down before scale to zero"
  end
  info.reason = reason
  return desired, info
end

---------------------------------------------------------------------------------------------
-- Triggers of llm-d's KEDA guides (Prometheus scaler). A query that returns no series reads 0
-- (ignoreNullValues, KEDA's default, or the guides' `or vector(0)`); with ignore_null_values =
-- false an absent value stays nil, which is a failed trigger.

local function value_or_zero(x, ignore_null)
  if x == nil or x ~= x or x == math.huge or x == -math.huge then
    if ignore_null == false then return nil end
    return 0
  end
  return x
end

M.llmd = {}

-- Queue overlay: sum(llm_d_epp_flow_control_queue_size{model_name}), AverageValue, threshold 1.
function M.llmd.queue(queue_size, threshold, ignore_null)
  return { name = "epp-queue-size", metric_type = "AverageValue", threshold = threshold or 1,
           activation_threshold = 0, value = value_or_zero(queue_size, ignore_null) }
end

-- Running requests, AverageValue (the guides' second trigger; 16 there).
function M.llmd.running(running, threshold, ignore_null)
  return { name = "running-requests", metric_type = "AverageValue", threshold = threshold or 16,
           activation_threshold = 0, value = value_or_zero(running, ignore_null) }
end

-- Saturation overlay: max(llm_d_epp_flow_control_pool_saturation{inference_pool}), AverageValue,
-- threshold 0.7. Bounded near 1 with AverageValue, so it proposes at most ceil(sat / 0.7).
function M.llmd.saturation(saturation, threshold, ignore_null)
  return { name = "pool-saturation", metric_type = "AverageValue", threshold = threshold or 0.7,
           activation_threshold = 0, value = value_or_zero(saturation, ignore_null) }
end

-- Token-aware: prefill backlog in seconds = in-flight tokens / one replica's peak prefill
-- throughput (tokens/s); threshold 1.5 s of prefill wait per replica.
function M.llmd.prefill_backlog(inflight_tokens, prefill_tokens_per_s, threshold, ignore_null)
  local v = inflight_tokens
  if v ~= nil then v = v / prefill_tokens_per_s end
  return { name = "prefill-backlog-seconds", metric_type = "AverageValue",
           threshold = threshold or 1.5, activation_threshold = 0,
           value = value_or_zero(v, ignore_null) }
end

-- Token-aware: sum (not avg) of the pods' KV-cache usage, threshold 0.8 pods' worth. A sum
-- grows with the pool, so ceil(sum / 0.8) is not capped the way ceil(avg / 0.8) is.
function M.llmd.kv_utilization(kv_usages, threshold, ignore_null)
  local v
  for _, x in ipairs(kv_usages or {}) do v = (v or 0) + x end
  return { name = "decode-kv-utilization", metric_type = "AverageValue",
           threshold = threshold or 0.8, activation_threshold = 0,
           value = value_or_zero(v, ignore_null) }
end

return M
