-- WVA's V1 saturation analyzer (the percentage analyzer) for one model group: a replica is
-- saturated at kv_cache_threshold KV usage or queue_length_threshold waiting; the mean spare KV
-- and queue over the non-saturated replicas trigger a scale-up of one replica on the cheapest
-- variant when either falls below its spare trigger; one replica comes off the most expensive
-- variant when spreading the non-saturated load over one replica fewer keeps both spares. A model
-- with any variant mid-change holds entirely.
--
--   local a = v1.analyze(p, reps_by_variant)      -- spares, triggers and scale-down safety
--   local a = v1.decide(view, p, state, g, targets, reasons, costs)
--
-- `decide` sets `targets` (id -> replicas, within each variant's min/max), `reasons` (id -> text)
-- and `costs` (id -> cost as V1 reads it) for the group's variants and returns its analysis. The
-- scale-to-zero enforcer and the limiter run after it (sluice.wva composes them).
local inputs = require "sluice.wva_inputs"

local M = {}

local format = string.format
local replica_metrics = inputs.replica_metrics
local DEFAULT_COST = inputs.DEFAULT_COST

M.MIN_NONSATURATED_FOR_DOWN = 2
local MIN_NONSATURATED_FOR_DOWN = M.MIN_NONSATURATED_FOR_DOWN

-- `reps_by_variant` lists, per variant, its replicas' {kv, q} (1-minute maxima).
function M.analyze(p, reps_by_variant)
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

function M.up_reason(p, a)
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

function M.decide(view, p, state, g, targets, reasons, costs)
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
  local a = M.analyze(p, reps_list)

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
      reasons[pick.id] = format("%s → +1 on %s (cheapest, cost %g)", M.up_reason(p, a), pick.id,
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
  return a
end

return M
