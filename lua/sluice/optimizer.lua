-- WVA's model-based optimizer (the Inferno optimizer of WVA's earlier releases; WVA v0.9 removed
-- its model-based solver) on sluice's kernels. Per model group: a demand λ (gateway arrival rate, else what the variants finish plus
-- what is queued) and a token mix from the view. Per variant: λ*, the highest per-replica rate
-- that meets its SLO class under sluice.model's queue for its latency profile and max_num_seqs.
-- Then one sluice.alloc solve over every group picks replicas per variant: least cost with a
-- transition penalty on the current placement while GPUs suffice; under a GPU inventory that
-- cannot serve everyone, higher priority first and a fair share (leximin on the fraction of λ
-- served) within a priority. λ* is cached in `state` per (profile, max batch, token-mix bucket,
-- SLO), since one search costs a few tenths of a millisecond.
--
--   local opt = require "sluice.optimizer"
--   local err = opt.validate(params)           -- nil, or a message naming the field
--   local decisions = opt.decide(view, params, state)
local model = require "sluice.model"
local alloc = require "sluice.alloc"

local params_of = require "sluice.params"

local M = {}

local floor, ceil, max, min = math.floor, math.ceil, math.max, math.min
local log, huge = math.log, math.huge
local LOG2 = math.log(2)
local fmt = string.format

M.defaults = {
  in_tokens = 1024,          -- prompt tokens per request until the view reports a mix
  out_tokens = 256,          -- output tokens per request, likewise
  token_cv = "declared",     -- token-length spread in λ*: "declared" (the variant's `tokens:`
                             -- input_cv/output_cv, 0 when none is declared) or "none" (the
                             -- means alone, as Inferno sized: about 5% optimistic on Azure chat)
  percentile = 0,            -- 0: SLO targets are means, as WVA compares them; else e.g. 0.95
  transition_penalty = 0.1,  -- per replica added or removed, as a fraction of its cost
                             -- (WVA's AccelPenaltyFactor)
  limited = true,            -- respect the GPU inventory (false: WVA's Unlimited mode)
  queue_drain = 60,          -- s: fallback demand clears what is queued over this long
  token_grid = 32,           -- token-mix grid points per doubling for the λ* cache (0: exact)
  scale_to_zero = false,     -- let an idle model go to 0 replicas
  retention = 600,           -- s without requests before an idle model goes to 0
}

-- Entries of the λ* cache before it is emptied: bounds what `state` carries.
M.CACHE_MAX = 256

local ALLOC_MAX_REPLICAS = 100000

local function resolve(given)
  return params_of.resolve(M.defaults, given)
end

-- A number the view reported; nil for no data, NaN or infinities.
local function finite(x)
  if type(x) == "number" and x == x and x ~= huge and x ~= -huge then return x end
  return nil
end

function M.validate(params)
  local unknown = params_of.unknown(M.defaults, params)
  if unknown then return unknown end
  local p = resolve(params)
  local function number(name, lo, lo_open, hi, hi_open)
    local x = p[name]
    if type(x) ~= "number" or x ~= x or x < lo or (lo_open and x == lo) or x > hi
        or (hi_open and x == hi) then
      return fmt("%s must be a number in %s%g, %s%s, got %s", name, lo_open and "(" or "[", lo,
        hi == huge and "∞" or fmt("%g", hi), (hi_open or hi == huge) and ")" or "]", tostring(x))
    end
  end
  if p.token_cv ~= "declared" and p.token_cv ~= "none" then
    return fmt("token_cv must be \"declared\" or \"none\", got %s", tostring(p.token_cv))
  end
  local err = number("in_tokens", 0, false, 1e6) or number("out_tokens", 1, false, 1e6)
    or number("percentile", 0, false, 1, true)
    or number("transition_penalty", 0, false, 1, true)
    or number("queue_drain", 0, true, huge, true) or number("token_grid", 0, false, 1024)
    or number("retention", 0, false, huge, true)
  if err then return err end
  if p.token_grid ~= floor(p.token_grid) then
    return "token_grid must be a whole number, got " .. tostring(p.token_grid)
  end
  if type(p.limited) ~= "boolean" then return "limited must be true or false" end
  if type(p.scale_to_zero) ~= "boolean" then return "scale_to_zero must be true or false" end
  return nil
end

---------------------------------------------------------------------------------------------------
-- Demand and token mix of a model group

-- λ in req/s for a group, where it came from (a note for the reason, "" for the gateway) and the
-- requests queued (gateway queue and engine queues), which also mark the model as active. nil
-- and why when replicas are running but nothing reports a rate: no data is not zero demand.
function M.demand(m, variants, p)
  p = p or M.defaults
  local s = m and m.signals or {}
  local queued = finite(s.queue_size) or 0
  local served, known, running = 0, false, false
  for _, v in ipairs(variants) do
    local vs = v.signals
    local r = finite(vs.request_rate)
    queued = queued + (finite(vs.waiting) or 0)
    served = served + (r or 0)
    known = known or r ~= nil
    running = running or v.replicas.ready > 0
  end
  local arrival = finite(s.arrival_rate)
  if arrival then return max(arrival, 0), "", queued end
  if running and not known then
    return nil, "no demand signal (no gateway arrival_rate, no request_rate)", queued
  end
  local lambda = served + queued / p.queue_drain
  return lambda, fmt(" (served %.1f + %d queued over %g s)", served, floor(queued + 0.5),
    p.queue_drain), queued
end

-- Mean prompt and output tokens per request of a group: the variants' means weighted by the
-- requests each finished (a plain mean where no rate is known), else the params.
function M.token_mix(variants, p)
  p = p or M.defaults
  local wi, wo, w, ui, uo, n = 0, 0, 0, 0, 0, 0
  for _, v in ipairs(variants) do
    local s = v.signals
    local i, o = finite(s.input_tokens_mean), finite(s.output_tokens_mean)
    if i and o then
      local r = finite(s.request_rate)
      if r and r > 0 then wi, wo, w = wi + r * i, wo + r * o, w + r end
      ui, uo, n = ui + i, uo + o, n + 1
    end
  end
  local in_t, out_t = p.in_tokens, p.out_tokens
  if w > 0 then in_t, out_t = wi / w, wo / w
  elseif n > 0 then in_t, out_t = ui / n, uo / n end
  return max(in_t, 0), max(out_t, 1)
end

-- The nearest point to x on a geometric grid of `per_doubling` points per doubling (32: about
-- 2.2% apart, so within 1.1% of x), anchored on the powers of two so that round token counts
-- are their own grid points. A mix drifting between two points reuses one λ*.
function M.bucket(x, per_doubling)
  if per_doubling <= 0 or x <= 0 then return x end
  return 2 ^ (floor(log(x) / LOG2 * per_doubling + 0.5) / per_doubling)
end

---------------------------------------------------------------------------------------------------
-- λ* per variant

-- Built-in profiles by name (they never change while the binary runs).
local profiles = {}

local function profile_of(name)
  local e = profiles[name]
  if not e then
    local prof, err = model.builtin(name)
    e = { prof or false, err }
    profiles[name] = e
  end
  if e[1] then return e[1] end
  return nil, e[2]
end

-- What keeps a variant out of the model-based sizing, or nil.
local function missing(v)
  if v.role ~= nil and v.role ~= "both" then
    return fmt("%s role not modelled (the optimizer sizes whole requests)", v.role)
  end
  if v.profile == nil then return "no latency profile (set `profile`, e.g. llama-3.1-8b/h100)" end
  local _, err = profile_of(v.profile)
  if err then return err end
  if v.slo == nil then return "no SLO class" end
  return nil
end

-- λ* (req/s) and the binding limit, or nil and why no rate meets the SLO. Cached in state.
local function lambda_star(state, v, in_t, out_t, p)
  local slo = v.slo
  local ttft, itl = finite(slo.ttft_ms), finite(slo.itl_ms)
  -- A long-context class's TTFT allowance, at the mix's mean prompt.
  if ttft then ttft = ttft + (finite(slo.ttft_ms_per_1k_in) or 0) * in_t / 1000 end
  local batch = floor(finite(v.engine and v.engine.max_num_seqs) or 256)
  batch = min(max(batch, 1), 16384)
  local t = p.token_cv == "declared" and v.tokens or nil
  local shape = { max_batch = batch, in_tokens = M.bucket(in_t, p.token_grid),
                  out_tokens = max(M.bucket(out_t, p.token_grid), 1),
                  in_cv = t and t.input_cv or 0, out_cv = t and t.output_cv or 0 }
  local key = fmt("%s|%d|%.17g|%.17g|%.17g|%.17g|%.17g|%.17g|%.17g", v.profile, batch,
    shape.in_tokens, shape.out_tokens, shape.in_cv, shape.out_cv, ttft or -1, itl or -1,
    p.percentile)
  local cache = state.lambda_star
  local e = cache.entries[key]
  if not e then
    if cache.n >= M.CACHE_MAX then cache.entries, cache.n = {}, 0 end
    local target = { ttft_ms = ttft, itl_ms = itl }
    if p.percentile > 0 then target.percentile = p.percentile end
    local rate, limit = model.max_rate(assert(profile_of(v.profile)), shape, target)
    e = { rate or false, limit }
    cache.entries[key] = e
    cache.n = cache.n + 1
  end
  if e[1] then return e[1], e[2] end
  return nil, e[2]
end

---------------------------------------------------------------------------------------------------
-- Placement

local function acc_of(v)
  return v.accelerator or "unknown"
end

local function gpus_of(v)
  local g = floor(finite(v.gpus_per_replica) or 1)
  return min(max(g, 1), 4096)
end

local function bounds(v)
  local lo = floor(finite(v.min) or 0)
  local hi = floor(finite(v.max) or lo)
  lo = min(max(lo, 0), ALLOC_MAX_REPLICAS)
  hi = min(max(hi, lo), ALLOC_MAX_REPLICAS)
  return lo, hi
end

-- GPUs per accelerator type the sized variants may hold between them: what is free plus what
-- their scheduled replicas hold now. Types missing from the inventory, or with a total of 0, are
-- not limited; nil when no type is limited or limiting is off.
local function budget(view, sized, p)
  if not p.limited then return nil end
  local inv, any = {}, false
  for t, a in view:accelerators() do
    -- A total of 0 is no count known (docs/view.md): that type is not limited.
    if (finite(a.total) or 0) > 0 then
      local free = finite(a.free) or (finite(a.total) - (finite(a.used) or 0))
      inv[t] = max(floor(free), 0)
      any = true
    end
  end
  if not any then return nil end
  for _, sv in ipairs(sized) do
    local v = sv.v
    local t = acc_of(v)
    if inv[t] == nil then
      inv[t] = "unlimited"
    elseif inv[t] ~= "unlimited" then
      inv[t] = inv[t] + (v.replicas.ready + v.replicas.starting) * gpus_of(v)
    end
  end
  return inv
end

-- The variant that keeps one replica when an idle model may not go to zero: one running now,
-- then the cheapest, then by id.
local function keeper(g)
  local best
  for _, sv in ipairs(g.sized) do
    local v = sv.v
    if sv.hi >= 1 then
      local run = v.replicas.spec > 0
      if not best or (run and not best.run) or (run == best.run and (sv.cost < best.sv.cost
          or (sv.cost == best.sv.cost and v.id < best.sv.v.id))) then
        best = { sv = sv, run = run }
      end
    end
  end
  return best and best.sv
end

local function num1(x)
  return fmt("%.1f", x)
end

local function placement(g, reps)
  local parts, cost = {}, 0
  for _, sv in ipairs(g.sized) do
    local n = reps[sv.v.id]
    if n > 0 then parts[#parts + 1] = fmt("%d × %s", n, sv.v.id) end
    cost = cost + n * sv.cost
  end
  if #parts == 0 then return "0 replicas", cost end
  return table.concat(parts, " + "), cost
end

local function star_text(sv)
  if sv.rate then return fmt("%s (%s)", num1(sv.rate), sv.limit) end
  return fmt("none (%s)", sv.limit)
end

local function hold(v, why)
  return { replicas = v.replicas.spec, reason = fmt("holds at %d: %s", v.replicas.spec, why) }
end

function M.decide(view, params, state)
  local p = resolve(params)
  state.lambda_star = state.lambda_star or { entries = {}, n = 0 }
  state.idle_since = state.idle_since or {}
  local out = {}

  -- Groups by model, variants in id order.
  local groups, names = {}, {}
  for _, v in view:variants() do
    local g = groups[v.model]
    if not g then
      g = { name = v.model, all = {}, sized = {} }
      groups[v.model] = g
      names[#names + 1] = v.model
    end
    g.all[#g.all + 1] = v
  end
  table.sort(names)

  local pg, pv, sized_all = {}, {}, {}
  for _, name in ipairs(names) do
    local g = groups[name]
    g.lambda, g.src, g.queued = M.demand(view.models[name], g.all, p)
    g.in_tokens, g.out_tokens = M.token_mix(g.all, p)
    local prio
    for _, v in ipairs(g.all) do
      local why = missing(v) or (not g.lambda and g.src)
      if why then
        out[v.id] = hold(v, why)
      else
        local rate, limit = lambda_star(state, v, g.in_tokens, g.out_tokens, p)
        local lo, hi = bounds(v)
        local sv = { v = v, rate = rate, limit = limit, lo = lo, hi = hi,
                     cost = max(finite(v.cost) or 0, 0) }
        g.sized[#g.sized + 1] = sv
        sized_all[#sized_all + 1] = sv
        local pr = floor(finite(v.priority) or 0)
        if not prio or pr > prio then prio = pr end
        pv[#pv + 1] = { id = v.id, group = name, accelerator = acc_of(v), gpus = gpus_of(v),
                        max_rate = rate or 0, cost = sv.cost, min = lo, max = hi,
                        current = min(v.replicas.spec, ALLOC_MAX_REPLICAS) }
      end
    end
    if #g.sized > 0 then
      g.priority = prio
      pg[#pg + 1] = { name = name, demand = g.lambda, in_tokens = g.in_tokens,
                      out_tokens = g.out_tokens, priority = prio }
    end
  end

  -- Idle clocks: a model is active while it has demand or anything queued.
  local seen = {}
  for _, name in ipairs(names) do
    local g = groups[name]
    seen[name] = true
    if not g.lambda then
      -- No data: the idle clock neither starts nor resets.
    elseif g.lambda > 0 or g.queued > 0 then
      state.idle_since[name] = nil
    elseif not state.idle_since[name] then
      state.idle_since[name] = view.time
    end
  end
  for name in pairs(state.idle_since) do
    if not seen[name] then state.idle_since[name] = nil end
  end

  if #pv == 0 then return out end
  local r, err = alloc.solve{ groups = pg, variants = pv, inventory = budget(view, sized_all, p),
                              transition_penalty = p.transition_penalty }
  if not r then
    for _, sv in ipairs(sized_all) do out[sv.v.id] = hold(sv.v, "allocator: " .. err) end
    return out
  end

  for _, name in ipairs(names) do
    local g = groups[name]
    if #g.sized > 0 then
      local reps = {}
      for _, sv in ipairs(g.sized) do reps[sv.v.id] = r.replicas[sv.v.id] end
      local gr = r.groups[name]
      local notes = {}
      local total = 0
      for _, sv in ipairs(g.sized) do total = total + reps[sv.v.id] end
      if total == 0 and gr.served >= 1 then
        -- Idle: WVA keeps one replica on a model unless scale to zero is on and it has been idle
        -- for the retention period.
        local idle = view.time - (state.idle_since[name] or view.time)
        local zero_ok = p.scale_to_zero and idle >= p.retention
        local k = not zero_ok and keeper(g)
        if k then
          reps[k.v.id] = 1
          if p.scale_to_zero then
            notes[#notes + 1] = fmt("; keeps 1 while idle %d s < retention %g s", floor(idle),
              p.retention)
          else
            notes[#notes + 1] = "; keeps 1 while idle (scale_to_zero off)"
          end
        end
      end
      if gr.served < 1 then
        local gpu_bound, any_rate = false, false
        for _, sv in ipairs(g.sized) do
          if sv.rate and sv.rate > 0 then
            any_rate = true
            if reps[sv.v.id] < sv.hi then gpu_bound = true end
          end
        end
        if not any_rate then
          notes[#notes + 1] = "; no variant meets the SLO"
        elseif not gpu_bound then
          notes[#notes + 1] = fmt("; short: %.0f%% of λ served at max replicas", gr.served * 100)
        else
          local higher, peers = false, false
          for _, other in ipairs(pg) do
            if other.priority > g.priority then higher = true end
            if other.priority == g.priority and other.name ~= name then peers = true end
          end
          notes[#notes + 1] = fmt("; GPU shortage: %.0f%% of λ served%s%s", gr.served * 100,
            higher and " after higher priorities" or "",
            peers and fmt(", fair share at priority %d", g.priority) or "")
        end
      end
      if r.overcommitted then
        for _, sv in ipairs(g.sized) do
          if sv.lo > 0 and reps[sv.v.id] == sv.lo then
            notes[#notes + 1] = "; minimum replicas exceed the GPU inventory"
            break
          end
        end
      end
      local where, cost = placement(g, reps)
      local tail = table.concat(notes)
      for _, sv in ipairs(g.sized) do
        out[sv.v.id] = {
          replicas = reps[sv.v.id],
          reason = fmt("λ %s req/s%s, λ* %s → %s (cost %s/h)%s", num1(g.lambda), g.src,
            star_text(sv), where, num1(cost), tail),
        }
      end
    end
  end
  return out
end

return M
