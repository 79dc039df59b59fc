-- WVA's inputs, rebuilt from the view: what its PromQL queries would return (each Ready pod's
-- 1-minute max KV usage and queue length, a variant's token shape over 5 minutes, the GPUs its
-- limiter counts free) and the activity its scale-to-zero enforcer keys on, plus how WVA reads a
-- variant (GPUs per replica, engine settings, default cost). The per-pod history and last
-- activity live in the caller's `state` (`state.pods`, `state.active`). Shared by the stages of
-- sluice.wva; nothing here decides.
local M = {}

local format = string.format

M.DEFAULT_COST = 10                      -- cost of a variant that reports none
local DEFAULT_BATCHED_TOKENS, DEFAULT_MAX_SEQS, DEFAULT_BLOCK = 8192, 256, 16
M.DEFAULT_BATCHED_TOKENS, M.DEFAULT_MAX_SEQS = DEFAULT_BATCHED_TOKENS, DEFAULT_MAX_SEQS

-- Whole numbers in reasons.
function M.num(x)
  return format("%.0f", x)
end

function M.sorted_keys(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = k end
  table.sort(ks)
  return ks
end
local sorted_keys = M.sorted_keys

function M.gpus_of(v)
  local g = v.gpus_per_replica or 1
  if g <= 0 then g = 1 end
  return g
end
local gpus_of = M.gpus_of

-- max_num_batched_tokens, max_num_seqs and block_size, with the defaults for a variant that
-- gives none.
function M.engine_params(v)
  local e = v.engine or {}
  return e.max_num_batched_tokens or DEFAULT_BATCHED_TOKENS, e.max_num_seqs or DEFAULT_MAX_SEQS,
    e.block_size or DEFAULT_BLOCK
end

-- Go's sort.Slice is not stable; ties fall back to the variant id so runs are repeatable.
function M.by_id(a, b)
  return a.id < b.id
end

-- Remember each Ready pod's latest KV usage and queue length, stamped with the time of its sample,
-- so that the 1-minute max WVA queries (max_over_time(...[1m]) per pod) can be taken over them.
function M.observe_pods(view, state, window)
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
function M.replica_metrics(view, state, v, window)
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
function M.token_shape(view, v, window)
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

function M.model_groups(view)
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
function M.observe_activity(view, state, groups)
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
function M.gpu_available(view, groups)
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

return M
