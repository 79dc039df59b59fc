-- WVA's saturation scaling (llm-d Workload Variant Autoscaler, v0.9), reproduced as WVA runs it so
-- that sluice can replay it as a baseline: the V1 analyzer (KV / queue thresholds, spare-capacity
-- triggers, one replica per cycle), the V2 token-capacity analyzer (k1 / k2 capacity, demand with
-- the queue charge, RC / SC thresholds), the cost-aware and GreedyByScore optimizers, the V1 GPU
-- limiter and the scale-to-zero enforcer. Everything WVA remembers between cycles (per-pod
-- 1-minute history, k2 history, capacity store, last activity) lives in the caller's `state`.
--
--   local wva = require "sluice.wva"
--   local err = wva.validate(params)            -- nil or a message naming the field
--   local decisions = wva.decide(view, params, state)
local params_of = require "sluice.params"

local M = {}

local floor, ceil, huge = math.floor, math.ceil, math.huge
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

local K2_WINDOW = 10                     -- observed k2 samples kept per history key
local K2_EVICT = 24 * 3600               -- k2 history unused this long is dropped
local CAPACITY_EVICT = 7 * 24 * 3600     -- live capacity records kept this long
local BYTES_PER_TOKEN = 4                -- gateway queue bytes to prompt tokens
local DEFAULT_COST = 10                  -- cost of a variant that reports none
local SHORT_OUTPUT, MEDIUM_OUTPUT = 100, 500
local MIN_NONSATURATED_FOR_DOWN = 2
local DEFAULT_BATCHED_TOKENS, DEFAULT_MAX_SEQS, DEFAULT_BLOCK = 8192, 256, 16

local function resolve(given)
  return params_of.resolve(M.defaults, given)
end

local function num(x)
  return format("%.0f", x)
end

local function sorted_keys(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = k end
  table.sort(ks)
  return ks
end

local function gpus_of(v)
  local g = v.gpus_per_replica or 1
  if g <= 0 then g = 1 end
  return g
end

local function engine_params(v)
  local e = v.engine or {}
  return e.max_num_batched_tokens or DEFAULT_BATCHED_TOKENS, e.max_num_seqs or DEFAULT_MAX_SEQS,
    e.block_size or DEFAULT_BLOCK
end

-- Go's sort.Slice is not stable; ties fall back to the variant id so runs are repeatable.
local function by_id(a, b)
  return a.id < b.id
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
-- Inputs: what WVA's PromQL would return, rebuilt from the view

-- Remember each Ready pod's latest KV usage and queue length, stamped with the time of its sample,
-- so that the 1-minute max WVA queries (max_over_time(...[1m]) per pod) can be taken over them.
local function observe_pods(view, state, window)
  local hist = state.pods
  local live = {}
  local horizon = view.time - window
  for id, v in view:variants() do
    local pods = v.pods or {}
    for i = 1, #pods do
      local pod = pods[i]
      local key = id .. "#" .. pod.name
      local s = pod.signals or {}
      live[key] = true
      local t = view.time - (pod.age or 0)
      if pod.phase == "ready" and (s.kv_usage ~= nil or s.waiting ~= nil) and t > horizon then
        local h = hist[key] or {}
        hist[key] = h
        local last = h[#h]
        if not (last and last.t == t) then h[#h + 1] = { t = t, kv = s.kv_usage, q = s.waiting } end
      end
    end
  end
  -- Deleted pods drop out at once: WVA maps a series to its variant through the pod's owner,
  -- which a deleted pod no longer has.
  for key, h in pairs(hist) do
    if not live[key] then
      hist[key] = nil
    else
      local kept = {}
      for _, smp in ipairs(h) do
        if smp.t > horizon then kept[#kept + 1] = smp end
      end
      hist[key] = #kept > 0 and kept or nil
    end
  end
end

-- Per-replica metrics of one variant: 1-minute max KV usage and queue length of each pod that has
-- reported in the window (a pod without KV usage has no replica metrics, as in WVA).
local function replica_metrics(view, state, v, window)
  local horizon = view.time - window
  local reps = {}
  local pods = v.pods or {}
  for i = 1, #pods do
    local pod = pods[i]
    local h = state.pods[v.id .. "#" .. pod.name]
    if h then
      local kv, q
      for _, smp in ipairs(h) do
        if smp.t > horizon then
          if smp.kv and (kv == nil or smp.kv > kv) then kv = smp.kv end
          if smp.q and (q == nil or smp.q > q) then q = smp.q end
        end
      end
      if kv then
        local cap = pod.signals and pod.signals.kv_capacity_tokens
        reps[#reps + 1] = { pod = pod.name, kv = kv, q = q or 0, capacity = cap }
      end
    end
  end
  table.sort(reps, function(a, b) return a.pod < b.pod end)
  return reps
end

-- Mean prompt and generation lengths and prefix-cache hit rate of a variant over WVA's 5-minute
-- window (rate ratios), falling back to the view's own window when the store holds less.
local function token_shape(view, v, window)
  local s = v.signals or {}
  local I, O, hit
  local r = view:rate(v, "requests", window)
  if r and r > 0 then
    local pt = view:rate(v, "prompt_tokens", window)
    local gt = view:rate(v, "generation_tokens", window)
    if pt then I = pt / r end
    if gt then O = gt / r end
  end
  local hq = view:rate(v, "prefix_queries", window)
  local hh = view:rate(v, "prefix_hits", window)
  if hq and hq > 0 and hh then hit = hh / hq end
  I = I or s.input_tokens_mean or 0
  O = O or s.output_tokens_mean or 0
  return I, O, hit or s.prefix_hit_rate or 0
end

local function model_groups(view)
  local by, names = {}, {}
  for _, v in view:variants() do
    local g = by[v.model]
    if not g then
      g = { model = v.model, variants = {} }
      by[v.model] = g
      names[#names + 1] = v.model
    end
    g.variants[#g.variants + 1] = v
  end
  table.sort(names)
  local out = {}
  for i, n in ipairs(names) do out[i] = by[n] end
  return out
end

-- Last time a model showed any request activity. WVA's enforcer counts finished requests over the
-- retention window; requests in flight or queued at the gateway count here too, because in WVA the
-- scale-from-zero engine and KEDA's cooldown keep such a model up while they are served.
local function observe_activity(view, state, groups)
  for _, g in ipairs(groups) do
    local busy = false
    for _, v in ipairs(g.variants) do
      local s = v.signals or {}
      if (s.request_rate or 0) > 0 or (s.running or 0) > 0 or (s.waiting or 0) > 0 then
        busy = true
      end
    end
    local m = view.models and view.models[g.model]
    local ms = m and m.signals or {}
    if (ms.queue_size or 0) > 0 or (ms.running or 0) > 0 then busy = true end
    if busy or state.active[g.model] == nil then state.active[g.model] = view.time end
  end
end

-- GPUs free per accelerator type as WVA's limiter counts them: the inventory's total less what the
-- managed variants' current replicas hold. Types with a total of 0 (no count known, docs/view.md)
-- are not limited; nil when no type is (no limiting).
local function gpu_available(view, groups)
  local avail, any = {}, false
  for t, a in view:accelerators() do
    if (a.total or 0) > 0 then
      avail[t] = a.total
      any = true
    end
  end
  if not any then return nil end
  for _, g in ipairs(groups) do
    for _, v in ipairs(g.variants) do
      local t = v.accelerator
      if avail[t] then avail[t] = avail[t] - (v.replicas.spec or 0) * gpus_of(v) end
    end
  end
  for _, t in ipairs(sorted_keys(avail)) do
    if avail[t] < 0 then avail[t] = 0 end
  end
  return avail
end

---------------------------------------------------------------------------------------------------
-- Scale-to-zero enforcer (runs after every analyzer and optimizer)

local function enforce(view, p, state, g, targets, costs, notes)
  if p.scale_to_zero then
    local last = state.active[g.model]
    if last and view.time - last >= p.retention then
      for _, v in ipairs(g.variants) do
        targets[v.id] = 0
        notes[v.id] = format("scale-to-zero: no requests for %s s (retention %s s)",
          num(view.time - last), num(p.retention))
      end
    end
    return
  end
  local sum = 0
  for _, v in ipairs(g.variants) do sum = sum + targets[v.id] end
  if sum > 0 then return end
  local best, best_cost
  for _, v in ipairs(g.variants) do
    local c = costs[v.id]
    if not c or c <= 0 then c = DEFAULT_COST end
    if not best or c < best_cost or (c == best_cost and v.id < best.id) then
      best, best_cost = v, c
    end
  end
  if best then
    targets[best.id] = 1
    notes[best.id] = format("keep 1 replica on the cheapest variant %s (cost %g; scale to zero "
      .. "off)", best.id, best_cost)
  end
end

---------------------------------------------------------------------------------------------------
-- V1: percentage analyzer

local function v1_analyze(p, reps_by_variant)
  local tkv, tq = p.kv_cache_threshold, p.queue_length_threshold
  local a = { replicas = 0, nonsaturated = 0, spare_kv = 0, spare_q = 0 }
  local skv, sq = 0, 0
  for _, reps in ipairs(reps_by_variant) do
    for _, r in ipairs(reps) do
      a.replicas = a.replicas + 1
      if not (r.kv >= tkv or r.q >= tq) then
        a.nonsaturated = a.nonsaturated + 1
        skv = skv + (tkv - r.kv)
        sq = sq + (tq - r.q)
      end
    end
  end
  local n = a.nonsaturated
  if n > 0 then
    a.spare_kv, a.spare_q = skv / n, sq / n
  end
  if a.replicas == 0 then
    a.up, a.down_safe = false, false
    return a
  end
  a.kv_low = a.spare_kv < p.kv_spare_trigger
  a.q_low = a.spare_q < p.queue_spare_trigger
  a.up = a.kv_low or a.q_low
  a.down_safe = false
  if n >= MIN_NONSATURATED_FOR_DOWN then
    -- Spread the non-saturated load over one replica fewer: load grows by N/(N-1).
    local f = n / (n - 1)
    a.after_kv = tkv - (tkv - a.spare_kv) * f
    a.after_q = tq - (tq - a.spare_q) * f
    a.down_safe = a.after_kv >= p.kv_spare_trigger and a.after_q >= p.queue_spare_trigger
  end
  return a
end

local function v1_up_reason(p, a)
  if a.nonsaturated == 0 then
    return format("V1 all %d replicas saturated (kv >= %.2f or queue >= %g)", a.replicas,
      p.kv_cache_threshold, p.queue_length_threshold)
  end
  local parts = {}
  if a.kv_low then
    parts[#parts + 1] = format("spare kv %.3f < %.2f", a.spare_kv, p.kv_spare_trigger)
  end
  if a.q_low then
    parts[#parts + 1] = format("spare queue %.2f < %g", a.spare_q, p.queue_spare_trigger)
  end
  return format("V1 %s over %d non-saturated of %d replicas", table.concat(parts, " and "),
    a.nonsaturated, a.replicas)
end

local function v1_limit(view, p, groups, targets, notes, spare_of)
  local avail = gpu_available(view, groups)
  if not avail then return end
  local cands = {}
  for _, g in ipairs(groups) do
    for _, v in ipairs(g.variants) do
      if targets[v.id] > v.replicas.spec then
        cands[#cands + 1] = { id = v.id, v = v, spare = spare_of[g.model] or 0, cost = v.cost or 0 }
      end
    end
  end
  -- Most saturated first (least spare), then cheapest.
  table.sort(cands, function(a, b)
    if a.spare ~= b.spare then return a.spare < b.spare end
    if a.cost ~= b.cost then return a.cost < b.cost end
    return a.id < b.id
  end)
  for _, c in ipairs(cands) do
    local v = c.v
    local want = targets[v.id] - v.replicas.spec
    local free = avail[v.accelerator] or 0
    local grant = math.min(want, floor(free / gpus_of(v)))
    if grant < want then
      targets[v.id] = math.max(v.replicas.spec + grant, v.min or 0)
      notes[v.id] = format("limited by %s: %d GPUs free, %d per replica", v.accelerator, free,
        gpus_of(v))
    end
    if avail[v.accelerator] then avail[v.accelerator] = free - grant * gpus_of(v) end
  end
end

local function decide_v1(view, p, state, groups, out)
  local targets, notes, reasons, costs, spare_of = {}, {}, {}, {}, {}
  for _, g in ipairs(groups) do
    local analyzed, reps_list = {}, {}
    for _, v in ipairs(g.variants) do
      targets[v.id] = v.replicas.spec
      local reps = replica_metrics(view, state, v, p.metrics_window)
      if #reps > 0 then
        analyzed[#analyzed + 1] = { id = v.id, v = v, count = #reps, cost = v.cost or DEFAULT_COST }
        reps_list[#reps_list + 1] = reps
        costs[v.id] = v.cost or DEFAULT_COST
      end
    end
    local a = v1_analyze(p, reps_list)
    spare_of[g.model] = a.spare_kv

    -- A model with any variant mid-change (our last target not reached, or pods not all
    -- reporting) holds entirely: capacity data is incomplete until it settles.
    local transition, count = {}, {}
    for _, c in ipairs(analyzed) do count[c.id] = c.count end
    for _, v in ipairs(g.variants) do
      local spec, desired = v.replicas.spec, state.desired[v.id]
      local pend = (v.replicas.starting or 0) + (v.replicas.pending or 0)
      if desired and desired ~= 0 and desired ~= spec then
        transition[#transition + 1] = format("%s desired %d != current %d", v.id, desired, spec)
      elseif pend > 0 then
        transition[#transition + 1] = format("%s %d pending", v.id, pend)
      elseif count[v.id] and count[v.id] ~= spec then
        transition[#transition + 1] = format("%s %d of %d replicas reporting", v.id, count[v.id],
          spec)
      end
    end

    local base = format("V1 spare kv %.3f, spare queue %.2f over %d non-saturated of %d replicas",
      a.spare_kv, a.spare_q, a.nonsaturated, a.replicas)
    if a.replicas == 0 then
      base = "V1 no replica metrics"
    elseif a.nonsaturated < MIN_NONSATURATED_FOR_DOWN then
      base = base .. "; too few non-saturated replicas to scale down"
    elseif not a.down_safe then
      base = base .. format("; without one of them spare kv %.3f, queue %.2f (unsafe)", a.after_kv,
        a.after_q)
    end
    for _, v in ipairs(g.variants) do reasons[v.id] = base .. " → hold" end

    if #transition > 0 then
      local why = "V1 model in transition (" .. table.concat(transition, "; ") .. ")"
      for _, v in ipairs(g.variants) do
        local desired = state.desired[v.id]
        if desired and desired ~= 0 and desired ~= v.replicas.spec then targets[v.id] = desired end
        reasons[v.id] = why .. " → hold at " .. targets[v.id]
      end
    elseif a.up then
      local pick
      for _, c in ipairs(analyzed) do
        local pend = (c.v.replicas.starting or 0) + (c.v.replicas.pending or 0)
        local cheaper = not pick or c.cost < pick.cost or (c.cost == pick.cost and c.id < pick.id)
        if pend == 0 and cheaper then pick = c end
      end
      if pick then
        targets[pick.id] = pick.count + 1
        reasons[pick.id] = format("%s → +1 on %s (cheapest, cost %g)", v1_up_reason(p, a), pick.id,
          pick.cost)
      end
    elseif a.down_safe then
      local pick
      for _, c in ipairs(analyzed) do
        if targets[c.id] > 1 and (not pick or c.cost > pick.cost
            or (c.cost == pick.cost and c.id > pick.id)) then
          pick = c
        end
      end
      if pick then
        targets[pick.id] = targets[pick.id] - 1
        reasons[pick.id] = format("V1 scale-down safe: after removing 1 of %d non-saturated "
          .. "replicas spare kv %.3f >= %.2f and spare queue %.2f >= %g → -1 on %s "
          .. "(most expensive, cost %g)", a.nonsaturated, a.after_kv, p.kv_spare_trigger,
          a.after_q, p.queue_spare_trigger, pick.id, pick.cost)
      end
    end
    for _, v in ipairs(g.variants) do
      local t = targets[v.id]
      if v.min and t < v.min then t = v.min end
      if v.max and t > v.max then t = v.max end
      targets[v.id] = t
    end
    enforce(view, p, state, g, targets, costs, notes)
  end
  if p.limiter then v1_limit(view, p, groups, targets, notes, spare_of) end
  for _, g in ipairs(groups) do
    for _, v in ipairs(g.variants) do
      local r = reasons[v.id]
      if notes[v.id] then r = r .. "; " .. notes[v.id] end
      out[v.id] = { replicas = targets[v.id], reason = r }
    end
  end
end

---------------------------------------------------------------------------------------------------
-- V2: token-capacity analyzer

local function output_bucket(O)
  if O < SHORT_OUTPUT then return "short" end
  if O < MEDIUM_OUTPUT then return "medium" end
  return "long"
end

-- Compute-bound capacity derived from engine settings: the steady batch N = min(B·O/(I+O), S)
-- holds N·(I + O/2) tokens on average. 0 when it cannot be derived.
function M.derived_k2(engine, I, O)
  local e = engine or {}
  local B = e.max_num_batched_tokens or DEFAULT_BATCHED_TOKENS
  local S = e.max_num_seqs or DEFAULT_MAX_SEQS
  if B <= 0 or not O or O <= 0 then return 0 end
  local n = B * O / (I + O)
  if n > S then n = S end
  local k2 = floor(n * (I + O / 2))
  if k2 > 0 then return k2 end
  return 0
end

-- k2 priority chain: observed (queue at threshold), history (rolling average of observations),
-- derived (engine settings), k1.
local function compute_k2(state, now, key, q, tokens, I, O, engine, k1, tq)
  local h = state.k2[key]
  if q >= floor(tq) and tokens > 0 then
    if not h then
      h = { vals = {}, at = now }
      state.k2[key] = h
    end
    h.vals[#h.vals + 1] = tokens
    if #h.vals > K2_WINDOW then table.remove(h.vals, 1) end
    h.at = now
    return tokens, "observed"
  end
  if h and #h.vals > 0 then
    local s = 0
    for _, x in ipairs(h.vals) do s = s + x end
    local avg = s / #h.vals
    if avg > 0 then return floor(avg), "history" end
  end
  local d = M.derived_k2(engine, I, O)
  if d > 0 then return d, "derived" end
  return k1, "k1"
end

local function median(xs)
  local s = {}
  for i, x in ipairs(xs) do s[i] = x end
  table.sort(s)
  local n = #s
  if n == 0 then return 0 end
  if n % 2 == 0 then return floor((s[n / 2] + s[n / 2 + 1]) / 2) end
  return s[(n + 1) / 2]
end

local function live_record(state, id, now)
  local rec = state.cap[id]
  if rec and now - rec.at <= CAPACITY_EVICT and rec.eff > 0 then return rec end
  return nil
end

-- A live record of another variant on the same hardware and engine settings.
local function compatible_record(state, v, now)
  local B, S, blk = engine_params(v)
  for _, id in ipairs(sorted_keys(state.cap)) do
    local rec = live_record(state, id, now)
    if rec and rec.model == v.model and rec.accelerator == v.accelerator
        and rec.gpus == gpus_of(v) and rec.B == B and rec.S == S and rec.block == blk then
      return rec
    end
  end
  return nil
end

-- One model's supply, demand, RC and SC, in tokens (model level and per role).
local function v2_analyze(view, p, state, g)
  local now = view.time
  local tkv, tq = p.kv_cache_threshold, p.queue_length_threshold
  local vcs = {}
  local sum_i, sum_o, sum_h, cnt = 0, 0, 0, 0
  for _, v in ipairs(g.variants) do
    local I, O, hit = token_shape(view, v, p.token_window)
    local reps = replica_metrics(view, state, v, p.metrics_window)
    if I > 0 or O > 0 then
      sum_i, sum_o, sum_h, cnt = sum_i + I * #reps, sum_o + O * #reps, sum_h + hit * #reps,
        cnt + #reps
    end
    vcs[#vcs + 1] = { id = v.id, v = v, I = I, O = O, hit = hit, reps = reps,
      role = v.role or "both", current = v.replicas.spec }
  end
  local avg_i = cnt > 0 and sum_i / cnt or 0
  local avg_o = cnt > 0 and sum_o / cnt or 0
  local avg_h = cnt > 0 and sum_h / cnt or 0

  for _, vc in ipairs(vcs) do
    local v = vc.v
    local B, S, blk = engine_params(v)
    -- A queued request will hold its prompt on a prefill server and its whole context elsewhere.
    local charge = vc.role == "prefill" and floor(vc.I) or floor(vc.I + vc.O)
    local caps, live_caps, demand = {}, {}, 0
    local key = table.concat({ v.model, v.accelerator, tostring(gpus_of(v)), output_bucket(vc.O) },
      "|")
    for _, r in ipairs(vc.reps) do
      local C = r.capacity
      if C and C > 0 then
        local tokens = floor(r.kv * C)
        local k1 = floor(C * tkv)
        local k2, src = compute_k2(state, now, key, r.q, tokens, vc.I, vc.O, v.engine, k1, tq)
        local eff = math.min(k1, k2)
        caps[#caps + 1], live_caps[#live_caps + 1] = eff, eff
        r.demand = tokens + r.q * charge
        demand = demand + r.demand
        r.k1, r.k2, r.k2_source, r.eff = k1, k2, src, eff
      end
    end
    if #live_caps > 0 then
      state.cap[vc.id] = { eff = median(live_caps), at = now, model = v.model,
        accelerator = v.accelerator, gpus = gpus_of(v), B = B, S = S, block = blk }
    end
    -- Without the KV capacity (no cache_config_info), size from the capacity store and read
    -- demand as a share of it.
    for _, r in ipairs(vc.reps) do
      if not (r.capacity and r.capacity > 0) then
        local rec = live_record(state, vc.id, now)
        local eff = floor((rec and rec.eff or B) * tkv)
        if eff > 0 then
          caps[#caps + 1] = eff
          r.demand = floor(r.kv * eff) + r.q * charge
          r.eff, r.k2_source = eff, "store"
          demand = demand + r.demand
        end
      end
    end

    local prc
    if #caps > 0 then
      prc = median(caps)
    else
      local rec = live_record(state, vc.id, now)
      if rec then
        prc = rec.eff
      else
        -- Never seen live: the deployment's estimate, derived from the model's token shape and
        -- capped by a sibling's live capacity, else its per-step token budget.
        prc = B
        if avg_o > 0 then
          local d = M.derived_k2(v.engine, avg_i, avg_o)
          if d > 0 then
            local comp = compatible_record(state, v, now)
            if comp and comp.eff < d then d = comp.eff end
            prc = d
          end
        end
      end
    end
    vc.prc = prc
    vc.demand = demand
    vc.ready = v.replicas.ready or 0
    vc.pending = (v.replicas.starting or 0) + (v.replicas.pending or 0)
    -- WVA reads a variant's cost from its replicas' metrics: a variant with none costs 0.
    vc.cost = #vc.reps > 0 and (v.cost or DEFAULT_COST) or 0
    vc.gpus = gpus_of(v)
  end

  local mr = { model = g.model, vcs = vcs, supply = 0, anticipated = 0, demand = 0 }
  local disagg = false
  for _, vc in ipairs(vcs) do
    mr.supply = mr.supply + vc.ready * vc.prc
    mr.anticipated = mr.anticipated + (vc.ready + vc.pending) * vc.prc
    mr.demand = mr.demand + vc.demand
    if vc.role ~= "both" then disagg = true end
  end

  -- Requests held in the gateway's flow-control queue have not reached a server yet.
  local m = view.models and view.models[g.model]
  local ms = m and m.signals or {}
  local Q, Bq = ms.queue_size or 0, ms.queue_bytes or 0
  local q_in, q_out = 0, 0
  if Q > 0 or Bq > 0 then
    q_in = math.max(Bq / BYTES_PER_TOKEN, Q * avg_i) * (1 - avg_h)
    q_out = Q * avg_o
  end
  mr.queue_demand = q_in + q_out
  mr.demand = mr.demand + mr.queue_demand

  local up, down = p.scale_up_threshold, p.scale_down_boundary
  local function thresholds(t)
    t.rc = math.max(0, t.demand / up - t.anticipated)
    t.sc = math.max(0, t.supply - t.demand / down)
  end
  thresholds(mr)
  if disagg then
    mr.roles = {}
    for _, vc in ipairs(vcs) do
      local t = mr.roles[vc.role]
      if not t then
        local qd = vc.role == "prefill" and q_in or (q_in + q_out)
        t = { supply = 0, anticipated = 0, demand = qd }
        mr.roles[vc.role] = t
      end
      t.supply = t.supply + vc.ready * vc.prc
      t.anticipated = t.anticipated + (vc.ready + vc.pending) * vc.prc
      t.demand = t.demand + vc.demand
    end
    for _, role in ipairs(sorted_keys(mr.roles)) do thresholds(mr.roles[role]) end
  end
  return mr
end

-- The (model, role) units the optimizers allocate over: each role of a disaggregated model, or
-- one synthetic "both" carrying the model-level RC and SC.
local function role_state(mr)
  local roles, need, spare = {}, {}, {}
  if mr.roles then
    for _, role in ipairs(sorted_keys(mr.roles)) do
      roles[#roles + 1] = role
      need[role], spare[role] = mr.roles[role].rc, mr.roles[role].sc
    end
  else
    roles[1] = "both"
    need.both, spare.both = mr.rc, mr.sc
  end
  return roles, need, spare
end

local function role_variants(mr, role)
  local out = {}
  for _, vc in ipairs(mr.vcs) do
    if vc.role == role then out[#out + 1] = vc end
  end
  return out
end

local function cost_per_token(vc)
  if vc.prc <= 0 then return huge end
  return vc.cost / vc.prc
end

local function by_cost_efficiency(vcs)
  local s = {}
  for i, vc in ipairs(vcs) do s[i] = vc end
  table.sort(s, function(a, b)
    local ea, eb = cost_per_token(a), cost_per_token(b)
    if ea ~= eb then return ea < eb end
    return by_id(a, b)
  end)
  return s
end

-- Cost-aware pick: the cheapest variant per token of the role with replicas left under its max.
local function cost_pick(mr, role, targets)
  for _, vc in ipairs(by_cost_efficiency(role_variants(mr, role))) do
    if vc.prc > 0 then
      local head = (vc.v.max or huge) - targets[vc.id]
      if head > 0 then return vc, head end
    end
  end
  return nil
end

-- Add replicas while any role still needs capacity. Each round picks one variant per role, sizes
-- each role's step from its own deficit and commits every role at the smallest fraction of its
-- deficit the steps cover, so prefill and decode grow in matched proportion.
local function allocate_paired(mr, targets, need, roles, pick, available, work)
  local guard = 0
  while true do
    local any = false
    for _, role in ipairs(roles) do
      if need[role] > 0 then any = true end
    end
    if not any then return end
    guard = guard + 1
    if guard > 10000 then return end
    local chosen, cap = {}, {}
    for _, role in ipairs(roles) do
      local vc, c = pick(mr, role, targets, available)
      if not vc then return end
      chosen[role], cap[role] = vc, c
    end
    local n, util, delta = {}, {}, huge
    for _, role in ipairs(roles) do
      local prc, d = chosen[role].prc, need[role]
      local b = d > 0 and ceil(d / prc) or 0
      n[role] = math.min(b, cap[role])
      util[role] = d <= 0 and 1 or n[role] * prc / d
      if util[role] < delta then delta = util[role] end
    end
    if delta <= 0 then return end
    local k, positive = {}, false
    for _, role in ipairs(roles) do
      local prc, d = chosen[role].prc, need[role]
      k[role] = 0
      if prc > 0 and d > 0 then k[role] = math.max(floor(delta * d / prc), math.min(1, n[role])) end
      if k[role] > 0 then positive = true end
    end
    if not positive then return end
    for _, role in ipairs(roles) do
      local vc = chosen[role]
      targets[vc.id] = targets[vc.id] + k[role]
      need[role] = math.max(0, need[role] - k[role] * vc.prc)
      if available and k[role] > 0 then
        local t = vc.v.accelerator
        available[t] = (available[t] or 0) - k[role] * vc.gpus
      end
    end
    if work then
      local anchor = chosen.prefill and "prefill" or (chosen.both and "both" or nil)
      if anchor then
        work.model_rc = math.max(0, work.model_rc - k[anchor] * chosen[anchor].prc)
      end
    end
  end
end

-- Remove replicas role by role, most expensive first, each by as many whole replicas as the
-- role's spare covers; the cheapest variant keeps one replica when it is the last one serving.
local function scale_down(mr, targets, spare, roles)
  for _, role in ipairs(roles) do
    if spare[role] and spare[role] > 0 then
      local vcs = role_variants(mr, role)
      table.sort(vcs, function(a, b)
        if a.cost ~= b.cost then return a.cost > b.cost end
        if a.prc ~= b.prc then return a.prc < b.prc end
        return by_id(a, b)
      end)
      for i, vc in ipairs(vcs) do
        if vc.prc > 0 then
          local current = targets[vc.id]
          local removable = current - (vc.v.min or 0)
          if removable > 0 then
            local n = math.min(math.max(0, floor(spare[role] / vc.prc)), removable)
            if i == #vcs and current - n < 1 then
              local others = false
              for j = 1, i - 1 do
                if targets[vcs[j].id] > 0 then others = true end
              end
              if not others then n = current - 1 end
            end
            if n > 0 then
              targets[vc.id] = current - n
              spare[role] = math.max(0, spare[role] - n * vc.prc)
            end
          end
        end
      end
    end
  end
end

local function cost_aware(mr, targets)
  local roles, need, spare = role_state(mr)
  local up = false
  for _, role in ipairs(roles) do
    if need[role] > 0 then up = true end
  end
  if up then
    allocate_paired(mr, targets, need, roles, cost_pick, nil, nil)
  else
    scale_down(mr, targets, spare, roles)
  end
end

-- GreedyByScore: share free GPUs across models that need capacity, repeatedly bringing the most
-- starved model (priority × remaining tokens) down to the mean of the others.
local function greedy_by_score(p, mrs, targets, available)
  local work, others = {}, {}
  local function fair_share_value(w, need)
    local s, mx = 0, 0
    for _, role in ipairs(w.roles) do
      s = s + need[role]
      if need[role] > mx then mx = need[role] end
    end
    local fsv = w.priority * s
    if fsv > 0 then return fsv end
    return mx
  end
  local function fresh_need(w)
    local roles, need = role_state(w.mr)
    if not w.mr.roles then need.both = w.model_rc end
    return roles, need
  end
  local priority = {}
  for _, e in ipairs(p.model_priority) do priority[e.model] = e.priority end
  for _, mr in ipairs(mrs) do
    local roles, need = role_state(mr)
    local pr = priority[mr.model] or 1.0
    local w = { mr = mr, roles = roles, priority = pr, model_rc = mr.rc }
    local any = false
    for _, role in ipairs(roles) do
      if need[role] > 0 then any = true end
    end
    w.remaining = fair_share_value(w, need)
    if any or w.remaining > 0 then work[#work + 1] = w else others[#others + 1] = mr end
  end

  local function pick_for(target)
    return function(mr, role, tg, avail)
      for _, vc in ipairs(by_cost_efficiency(role_variants(mr, role))) do
        if vc.prc > 0 then
          local free = avail[vc.v.accelerator] or 0
          if free >= vc.gpus then
            local capn = math.min(ceil(target / vc.prc), floor(free / vc.gpus))
            local head = (vc.v.max or huge) - tg[vc.id]
            if head > 0 then
              capn = math.min(capn, head)
              if capn > 0 then return vc, capn end
            end
          end
        end
      end
      return nil
    end
  end

  local rounds = 0
  while rounds < 10000 do
    rounds = rounds + 1
    local active = {}
    for _, w in ipairs(work) do
      if w.remaining > 0 then active[#active + 1] = w end
    end
    if #active == 0 then break end
    local total = 0
    for _, t in ipairs(sorted_keys(available)) do total = total + available[t] end
    if total <= 0 then break end
    local mean = 0
    for _, w in ipairs(active) do mean = mean + w.remaining end
    mean = mean / #active
    table.sort(active, function(a, b)
      if a.remaining ~= b.remaining then return a.remaining > b.remaining end
      return a.mr.model < b.mr.model
    end)
    local w = active[1]
    local alloc_mean = mean
    if #active == 1 then
      alloc_mean = 0
    elseif w.remaining <= mean then
      alloc_mean = mean - w.remaining / #active
    end
    local target = w.remaining - alloc_mean
    local allocated = false
    if target > 0 then
      local old = w.remaining
      local _, need = fresh_need(w)
      for _, role in ipairs(w.roles) do
        if need[role] > target then need[role] = target end
      end
      allocate_paired(w.mr, targets, need, w.roles, pick_for(target), available, w)
      if w.mr.roles then
        w.remaining = fair_share_value(w, need)
      else
        local _, fn = fresh_need(w)
        w.remaining = fair_share_value(w, fn)
      end
      allocated = w.remaining < old
    end
    if not allocated or w.remaining > mean then w.remaining = -1 end
  end

  for _, mr in ipairs(others) do
    local roles, _, spare = role_state(mr)
    scale_down(mr, targets, spare, roles)
  end
end

local function v2_reason(p, mr, vc, target, optimizer)
  local t = mr.roles and mr.roles[vc.role] or mr
  local tag = mr.roles and (vc.role .. " ") or ""
  if target > vc.current then
    local how = optimizer == "greedy-by-score" and "cheapest per token with free GPUs, fair share"
      or "cheapest per token"
    return format("V2 %sdemand %s > %.2f × anticipated supply %s: RC %s → +%d on %s (%s)", tag,
      num(t.demand), p.scale_up_threshold, num(t.anticipated), num(t.rc), target - vc.current,
      vc.id, how)
  elseif target < vc.current then
    return format("V2 %sdemand %s < %.2f × supply %s: SC %s → -%d on %s (most expensive)", tag,
      num(t.demand), p.scale_down_boundary, num(t.supply), num(t.sc), vc.current - target, vc.id)
  end
  local why = "hold"
  if t.rc > 0 then
    why = optimizer == "greedy-by-score" and "no free GPUs for it" or "added elsewhere"
  elseif t.sc > 0 then
    why = "removed elsewhere or at its floor"
  end
  return format("V2 %sdemand %s, supply %s (anticipated %s): RC %s, SC %s → %s at %d", tag,
    num(t.demand), num(t.supply), num(t.anticipated), num(t.rc), num(t.sc), why, target)
end

local function decide_v2(view, p, state, groups, out)
  local mrs, targets = {}, {}
  for _, g in ipairs(groups) do
    local mr = v2_analyze(view, p, state, g)
    mrs[#mrs + 1] = mr
    for _, vc in ipairs(mr.vcs) do targets[vc.id] = vc.current end
  end
  local optimizer = "cost-aware"
  local available = p.limiter and gpu_available(view, groups) or nil
  if available then
    optimizer = "greedy-by-score"
    greedy_by_score(p, mrs, targets, available)
  else
    for _, mr in ipairs(mrs) do cost_aware(mr, targets) end
  end
  for i, g in ipairs(groups) do
    local mr, notes, costs = mrs[i], {}, {}
    for _, vc in ipairs(mr.vcs) do costs[vc.id] = vc.cost end
    enforce(view, p, state, g, targets, costs, notes)
    for _, vc in ipairs(mr.vcs) do
      local r
      if notes[vc.id] then
        local t = mr.roles and mr.roles[vc.role] or mr
        r = format("V2 demand %s, supply %s: %s", num(t.demand), num(t.supply), notes[vc.id])
      else
        r = v2_reason(p, mr, vc, targets[vc.id], optimizer)
      end
      out[vc.id] = { replicas = targets[vc.id], reason = r }
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
  for _, key in ipairs(sorted_keys(state.k2)) do
    if now - state.k2[key].at > K2_EVICT then state.k2[key] = nil end
  end
  for _, id in ipairs(sorted_keys(state.cap)) do
    if now - state.cap[id].at > CAPACITY_EVICT then state.cap[id] = nil end
  end
end

local function prepare(view, params, state)
  local p = resolve(params)
  housekeeping(state, view.time)
  observe_pods(view, state, p.metrics_window)
  local groups = model_groups(view)
  observe_activity(view, state, groups)
  return p, groups
end

-- The V2 analysis decide would act on, by model: supply, anticipated supply, demand, queue
-- demand, RC and SC in tokens (and `roles` for a disaggregated model), and per variant (`vcs`, in
-- id order) its per-replica capacity `prc`, demand, ready and pending counts, cost as WVA reads it,
-- and each replica's k1, k2, k2_source and effective capacity (`reps`). Updates `state` as a tick
-- does (k2 history, capacity store).
function M.analyze(view, params, state)
  local p, groups = prepare(view, params, state)
  local out = {}
  for _, g in ipairs(groups) do out[g.model] = v2_analyze(view, p, state, g) end
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
