-- WVA's V2 saturation analyzer (the token-capacity analyzer) for one model group. Per replica,
-- capacity is min(k1, k2): k1 the KV tokens below kv_cache_threshold, k2 the tokens a replica
-- holds when its queue reaches queue_length_threshold, from the first of: observed now, the
-- rolling history of observations, derived from the engine settings, k1. Demand is the tokens in
-- use plus each queued request's charge, plus the gateway's flow-control queue. RC (tokens to
-- add) = demand / scale_up_threshold - anticipated supply (Ready and starting replicas); SC
-- (tokens to remove) = supply - demand / scale_down_boundary; per role as well for a
-- disaggregated (prefill/decode) model. What the optimizers then do with RC and SC is
-- sluice.wva_cost_aware and sluice.wva_greedy.
--
--   local mr = v2.analyze(view, p, state, g)      -- see sluice.wva.analyze for the fields
--   v2.forget(state, now)                         -- drop stale k2 history and capacity records
--   local why = v2.reason(p, mr, vc, target, optimizer[, note])
--
-- The k2 history (`state.k2`) and the capacity store (`state.cap`, per-replica capacity by
-- variant, for replicas that do not report their KV capacity) live in the caller's `state`.
local inputs = require "sluice.wva_inputs"

local M = {}

local floor = math.floor
local format = string.format
local num, sorted_keys, gpus_of = inputs.num, inputs.sorted_keys, inputs.gpus_of
local engine_params, token_shape = inputs.engine_params, inputs.token_shape
local replica_metrics = inputs.replica_metrics
local DEFAULT_COST = inputs.DEFAULT_COST
local DEFAULT_BATCHED_TOKENS, DEFAULT_MAX_SEQS = inputs.DEFAULT_BATCHED_TOKENS,
  inputs.DEFAULT_MAX_SEQS

local K2_WINDOW = 10                     -- observed k2 samples kept per history key
local K2_EVICT = 24 * 3600               -- k2 history unused this long is dropped
local CAPACITY_EVICT = 7 * 24 * 3600     -- live capacity records kept this long
local BYTES_PER_TOKEN = 4                -- gateway queue bytes to prompt tokens
local SHORT_OUTPUT, MEDIUM_OUTPUT = 100, 500

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
function M.analyze(view, p, state, g)
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


-- Forgets k2 history unused for a day and capacity records older than a week.
function M.forget(state, now)
  for _, key in ipairs(sorted_keys(state.k2)) do
    if now - state.k2[key].at > K2_EVICT then state.k2[key] = nil end
  end
  for _, id in ipairs(sorted_keys(state.cap)) do
    if now - state.cap[id].at > CAPACITY_EVICT then state.cap[id] = nil end
  end
end

-- The reason for one variant's target: the model's (or the variant's role's) demand against
-- supply and the RC or SC that moved it, or why it held. `note`, when given, is what a later stage
-- (the scale-to-zero enforcer) did instead.
function M.reason(p, mr, vc, target, optimizer, note)
  local t = mr.roles and mr.roles[vc.role] or mr
  if note then
    return format("V2 demand %s, supply %s: %s", num(t.demand), num(t.supply), note)
  end
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

return M
