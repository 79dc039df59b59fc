-- Proactive SLO-driven scaling. Per model group, every tick:
--
--   1. forecast the arrival rate and token mix over the horizon a new replica needs to become
--      Ready (measured cold starts, an upper quantile of them): burst-aware (an upper quantile of
--      10-s rates around a robust trend) and seasonal once a daily cycle has shown itself
--      (sluice.forecast);
--   2. per variant, the highest rate one replica sustains within its SLO class at the target
--      percentile (sluice.model.max_rate) under a latency profile chosen by how well it has
--      predicted what the replicas show: a prior (configured, or the built-in profile for the
--      model and accelerator) or the profile fitted online (sluice.model.fit_update);
--   3. replicas per variant for the forecast, cheapest per request first within the GPU inventory
--      (sluice.alloc when present, else a greedy fill);
--   4. a saturation floor (KV cache and queues against their targets) that only ever adds, and is
--      all there is while no profile is trusted;
--   5. hysteresis: a higher need must hold for `up_delay` seconds and then scales to its peak over
--      them; replicas already starting or pending count as capacity (a further scale-up while
--      they start must add at least `up_step` of the current size); scale-down goes only to the
--      peak need over the last `down_window` seconds.
--
-- Reasons name the numbers that drove each decision. All memory lives in `state` as plain data.
-- This module holds the params, what each model group observes and the composition of the steps,
-- each in a module of its own: the forecast (sluice.forecast) over the cold-start horizon
-- (sluice.slo_coldstart), profiles and max rates (sluice.slo_profile), the placement
-- (sluice.placement), the saturation floor (sluice.slo_floor) and hysteresis
-- (sluice.slo_hysteresis).
--
--   local slo = require "sluice.slo"
--   local err = slo.validate(params)
--   local decisions = slo.decide(view, params, state)
local model = require "sluice.model"
local forecast = require "sluice.forecast"
local w = require "sluice.window"
local placement = require "sluice.placement"
local profile = require "sluice.slo_profile"
local coldstart = require "sluice.slo_coldstart"
local saturation = require "sluice.slo_floor"
local hysteresis = require "sluice.slo_hysteresis"
local limits = require "sluice.slo_limits"

local params_of = require "sluice.params"
local plain_profile = require("sluice.profiles").plain

local M = {}

local max, abs, ceil = math.max, math.abs, math.ceil
local format = string.format

M.defaults = {
  -- SLO
  percentile = 0.99,         -- the TTFT target holds for this percentile of requests (0 = mean)
  itl_share = 0.65,          -- share of the ITL target the engines' mean ITL may reach (the
                             -- requests' own mean ITLs spread above it)
  ttft_ms = 0,               -- TTFT target when a variant has no SLO class (0 = none)
  itl_ms = 0,                -- ITL target when a variant has no SLO class (0 = none)
  -- forecast (sluice.forecast)
  quantile = 0.95,           -- upper quantile of 10-s rates (burst factor, daily profile)
  bucket = 10,               -- seconds per bucket of the rate history
  trend_window = 600,        -- seconds of history the trend and burst factor are drawn from
  trend_min = 180,           -- seconds of history before the trend may slope
  fast_window = 10,          -- seconds the level right now is averaged over
  season = true,             -- learn a daily profile and use it once it beats persistence
  season_bin = 300,          -- seconds per bin of the daily profile
  upper = true,              -- also the line plus the upper quantile of the 10-s rates above it
                             -- over the horizon (bursts the median does not see)
  -- horizon
  cold_start = 120,          -- seconds a new replica takes to become Ready, until measured
  cold_start_quantile = 0.9, -- of the measured cold starts: the forecast horizon
  -- hysteresis
  up_delay = 10,             -- seconds a higher need must hold before scaling up to its peak
  up_step = 0.1,             -- while replicas start, a further scale-up adds this share (>= 1)
  panic = 2,                 -- a need this many times the replicas set skips up_delay
  down_window = 300,         -- seconds: scale down only to the peak need over this window
  -- latency profile
  profiles = {},             -- priors before the variant's own `profile`: { {model = "substr",
                             --   accelerator = "H100", profile = "builtin" | {kind = ...}}, ... }
  catalog = true,            -- else the built-in profile for the model and accelerator
  fit = true,                -- fit a profile online from what the replicas show
  fit_every = 10,            -- seconds between observations folded into a variant's fit
  fit_min = 30,              -- observations before a fitted profile may size
  fit_tolerance = 0.15,      -- a profile sizes only while its mean relative error is below this
  -- saturation floor
  kv_target = 0.8,           -- KV-cache usage per replica the floor sizes for
  queue_per_replica = 4,     -- requests waiting (engine + gateway) per replica the floor allows
  fallback_down = 0.5,       -- without a trusted profile, scale down only while observed latency
                             -- is below this share of the SLO
  -- limits (sluice.slo_limits)
  drain = 60,                -- seconds a backlog left when new replicas are Ready is cleared in
  help_load = 0.7,           -- latency over the SLO at or below this share of what the Ready
                             -- replicas carry within it is not for more replicas to fix
  runaway = 10,              -- never ask for more than this multiple of what the model sizes for
                             -- the forecast (0 = no bound)
}

local FORECAST_KEYS = { "quantile", "bucket", "trend_window", "trend_min", "fast_window",
  "season", "season_bin", "upper" }
-- The buckets sizing's kernel inputs are snapped to (log steps), for specs and tools that redo it.
M.grid = profile.grid

local function resolve(given)
  return params_of.resolve(M.defaults, given)
end

local function forecast_opts(p)
  local o = {}
  for _, k in ipairs(FORECAST_KEYS) do o[k] = p[k] end
  return o
end

function M.validate(params)
  local unknown = params_of.unknown(M.defaults, params)
  if unknown then return unknown end
  local p = resolve(params)
  local function number(name, lo, hi, open_lo)
    local x = p[name]
    if type(x) ~= "number" or x ~= x or x < lo or (open_lo and x == lo) or (hi and x > hi) then
      return format("%s must be a number in %s%g, %s], got %s", name, open_lo and "(" or "[", lo,
        hi and format("%g", hi) or "inf", tostring(x))
    end
  end
  local err = number("percentile", 0, 0.999) or number("itl_share", 0, 1, true)
    or number("ttft_ms", 0) or number("itl_ms", 0)
    or number("cold_start", 0, nil, true) or number("cold_start_quantile", 0, 1)
    or number("up_delay", 0) or number("up_step", 0, 1) or number("down_window", 0)
    or number("panic", 1)
    or number("fit_every", 0, nil, true) or number("fit_min", 1)
    or number("fit_tolerance", 0, nil, true) or number("kv_target", 0, 1, true)
    or number("queue_per_replica", 0, nil, true) or number("fallback_down", 0, 1)
    or number("drain", 0, nil, true) or number("help_load", 0, 1) or number("runaway", 0)
  if err then return err end
  err = forecast.validate(forecast_opts(p))
  if err then return err end
  for _, k in ipairs({ "catalog", "fit", "upper" }) do
    if type(p[k]) ~= "boolean" then return k .. " must be true or false" end
  end
  if type(p.profiles) ~= "table" then return "profiles must be a list" end
  for i, e in ipairs(p.profiles) do
    if type(e) ~= "table" then return format("profiles[%d] must be a table", i) end
    if e.model ~= nil and type(e.model) ~= "string" then
      return format("profiles[%d].model must be a string", i)
    end
    if e.accelerator ~= nil and type(e.accelerator) ~= "string" then
      return format("profiles[%d].accelerator must be a string", i)
    end
    if type(e.profile) == "string" then
      local ok, why = model.builtin(e.profile)
      if not ok then return format("profiles[%d].profile: %s", i, why) end
    elseif type(e.profile) == "table" then
      local ok, why = pcall(model.profile, e.profile)
      if not ok then return format("profiles[%d].profile: %s", i, tostring(why)) end
    else
      return format("profiles[%d].profile must be a built-in name or a profile table", i)
    end
  end
  return nil
end


local prior_of, fit_guess = profile.prior_of, profile.fit_guess
local observe_latency, choose_profile, max_rate = profile.observe_latency, profile.choose,
  profile.max_rate
local observe_pods, horizon_of = coldstart.observe, coldstart.horizon
local saturation_need, latency_ratio = saturation.saturation_need, saturation.latency_ratio
local settle = hysteresis.settle


---------------------------------------------------------------------------------------------------
-- The decision

local function variant_state(state, v, view, p)
  local vs = state.variants[v.id]
  if not vs then
    vs = { first = view.time, tick = 0, seen = {}, cold = w.ring(coldstart.SAMPLES),
      peak = w.peak(p.bucket), ready_at = view.time }
    state.variants[v.id] = vs
  end
  vs.tick = vs.tick + 1
  vs.live = view.time
  if vs.prior == nil then vs.prior = prior_of(p, v) or false end
  if p.fit and not vs.fit then vs.fit = model.fit_new(fit_guess(vs.prior or nil, v)) end
  return vs
end

local function group_state(state, name, p)
  local gs = state.groups[name]
  local opts = forecast_opts(p)
  local same = gs ~= nil
  if gs then
    for k, x in pairs(opts) do
      if gs.fc.opts[k] ~= x then same = false end
    end
  end
  if not same then
    gs = { fc = forecast.new(opts) }
    state.groups[name] = gs
  end
  return gs
end

-- Arrival rate at the gateway over the last tick (finer windows first), else the windowed rate,
-- else what the variants finished.
local function arrivals(view, m, vars)
  if m then
    local dt = view.period or 1
    for _, win in ipairs({ dt, 2 * dt, view.window }) do
      if win and win > 0 then
        local r = view:rate(m, "gateway_requests", win)
        if r then return r, "gateway" end
      end
    end
    local a = m.signals and m.signals.arrival_rate
    if a then return a, "gateway" end
  end
  local sum, any = 0, false
  for _, v in ipairs(vars) do
    local r = v.signals and v.signals.request_rate
    if r then sum, any = sum + r, true end
  end
  if any then return sum, "variants" end
  return nil
end

-- Mean prompt and output tokens over the group, weighted by what each variant finishes (equally
-- when none reports a rate).
local function token_mix(vars)
  local wsum, isum, osum, n, iall, oall = 0, 0, 0, 0, 0, 0
  for _, v in ipairs(vars) do
    local s = v.signals or {}
    local I, O = s.input_tokens_mean, s.output_tokens_mean
    if I and O then
      local r = s.request_rate or 0
      if r > 0 then
        wsum, isum, osum = wsum + r, isum + r * I, osum + r * O
      end
      n, iall, oall = n + 1, iall + I, oall + O
    end
  end
  if wsum > 0 then return isum / wsum, osum / wsum end
  if n > 0 then return iall / n, oall / n end
  return nil
end

local function describe_forecast(f, H, p)
  if f.source == "season" then
    return format("season %.1f req/s (day profile ×%.2f over %.0f s)", f.rate, f.season_ratio, H)
  elseif f.source == "upper" then
    return format("upper %.1f req/s (p%.0f of %.0f-s rates over %.0f s)", f.rate,
      p.quantile * 100, p.bucket, H)
  elseif f.source == "trend" then
    return format("trend %.1f req/s (level %.1f%+.3f/s ×burst %.2f over %.0f s)", f.rate,
      f.level or 0, f.slope or 0, f.burst or 1, H)
  end
  return format("now %.1f req/s", f.rate or 0)
end


-- The rate one replica carries within the SLO under the prior (else the fit) as it stands, with
-- no correction: what the runaway bound measures against while no profile is trusted.
local function raw_rate(view, p, vs, v, I, O)
  local prof
  if vs.prior then
    prof = { name = vs.prior.name, profile = vs.prior.profile, key = "prior" }
  elseif p.fit and vs.fit and vs.fit.updates >= p.fit_min then
    prof = { name = "fit", profile = plain_profile(model.fit_params(vs.fit)), key = "fit" }
  end
  if not prof then return nil end
  local r = max_rate(view, p, vs, v, prof, I, O)
  return r and r > 0 and r or nil
end

-- Steps 1-3 for one model group: forecast, horizon, per-variant profiles, max rates and floors.
-- Returns the group as the placement sees it plus what the finish step needs.
local function prepare_group(view, p, state, name, m, vars)
  local gs = group_state(state, name, p)
  local states = {}
  for i, v in ipairs(vars) do states[i] = variant_state(state, v, view, p) end

  -- 1. What arrives, fed to the forecast.
  local rate_now = arrivals(view, m, vars)
  local I_now, O_now = token_mix(vars)
  if rate_now then forecast.observe(gs.fc, view.time, rate_now, I_now, O_now) end

  -- 2. The horizon: how long a replica ordered now takes to be Ready.
  for i, v in ipairs(vars) do observe_pods(view, states[i], v) end
  local cold, samples = horizon_of(p, states)
  local H = cold + p.up_delay
  local f = forecast.predict(gs.fc, view.time, H)
  local demand = f.rate or rate_now
  local I = f.in_tokens or I_now
  local O = f.out_tokens or O_now
  local gw = m and m.signals or {}
  local gw_queue = gw.queue_size or 0
  -- Is the gateway queue growing? Compared with its low over the last fast_window seconds.
  gs.queue = gs.queue or w.ring(64)
  local qlow
  for k = gs.queue.n, 1, -1 do
    local e = w.at(gs.queue, k)
    if e.t < view.time - p.fast_window then break end
    if qlow == nil or e.q < qlow then qlow = e.q end
  end
  w.push(gs.queue, { t = view.time, q = gw_queue })
  local queue_growing = gw_queue >= 1 and qlow ~= nil and gw_queue > qlow

  -- 3. Per variant: latency fit, the profile that sizes it, its max rate, its saturation floor.
  local ready_total = 0
  for _, v in ipairs(vars) do ready_total = ready_total + v.replicas.ready end
  local cands, info = {}, {}
  for i, v in ipairs(vars) do
    local vs = states[i]
    observe_latency(view, p, vs, v, gw_queue)
    local it = {}
    info[v.id] = it
    local share = 0
    if gw_queue > 0 then
      if ready_total > 0 then share = gw_queue * v.replicas.ready / ready_total
      elseif i == 1 then share = gw_queue end
    end
    -- Saturated replicas finish what one replica can do at most: no profile may claim more
    -- within the SLO. The bound holds for a down window after the last time it was seen.
    local s, r0 = v.signals or {}, v.replicas
    if r0.ready > 0 and (s.request_rate or 0) > 0
        and (s.waiting or 0) + share > p.queue_per_replica * r0.ready then
      local x = s.request_rate / r0.ready
      local c = vs.sat_cap
      if not c or view.time - c.at >= p.down_window or x < c.rate then
        vs.sat_cap = { rate = x, at = view.time }
      else
        c.at = view.time
      end
    end
    if vs.sat_cap and view.time - vs.sat_cap.at >= p.down_window then vs.sat_cap = nil end
    local prof = choose_profile(p, vs)
    it.prof = prof
    if prof and I and O and demand then
      local r, limit = max_rate(view, p, vs, v, prof, I, O)
      it.mrate = r
      if r and vs.sat_cap and vs.sat_cap.rate < r then
        r, limit = vs.sat_cap.rate, "saturation"
      end
      if r and r > 0 then
        it.rate, it.limit = r, limit
        cands[#cands + 1] = { id = v.id, rate = r, cost = v.cost or 0,
          gpus = max(v.gpus_per_replica or 1, 1),
          type = v.accelerator, min = v.min or 0, max = v.max or math.huge,
          current = v.replicas.spec }
      else
        it.why_no_rate = limit
      end
    end
    -- The arrivals it compares with what the replicas finish: the level over fast_window, not
    -- one tick's count, which swings by a third at a few hundred requests per second.
    local level = f.now or rate_now
    local now_share, demand_share = level, demand
    if ready_total > 0 then
      local k = v.replicas.ready / ready_total
      if level then now_share = level * k end
      if demand then demand_share = demand * k end
    elseif i > 1 then
      demand_share = 0
    end
    -- What the model says the forecast needs, for the runaway bound: under the profile that
    -- sizes (before what saturated replicas finished bounds it: that is a floor too), else the
    -- prior (or the fit) as it stands, uncorrected, while none is trusted.
    it.mrate = it.mrate or (I and O and raw_rate(view, p, vs, v, I, O)) or nil
    if it.mrate and demand_share then it.need = ceil(demand_share / it.mrate - 1e-9) end
    -- A backlog: the engines' queues and this variant's share of the gateway's.
    it.drain, it.drain_why = limits.drain(p, v, it.rate, now_share, (s.waiting or 0) + share, H)
    it.sat, it.sat_why = saturation_need(p, v, share, now_share)
    -- The gateway holds requests only when every endpoint is saturated: a queue that is not
    -- draining, with nothing on its way, asks for one more.
    local idle = v.replicas.ready > 0 and v.replicas.starting + v.replicas.pending == 0
    if queue_growing and idle and (it.sat or 0) <= v.replicas.ready then
      it.sat = v.replicas.ready + 1
      it.sat_why = format("gateway queue %.0f with none starting → %d", gw_queue, it.sat)
    end
    -- Latency over the SLO at its percentile, with nothing on its way, asks for one more too:
    -- the one check that needs no model at all.
    it.lat, it.lat_why = latency_ratio(view, p, v)
    if it.lat and it.lat > 1 then
      it.cannot = limits.cannot_help(p, v, it.rate, now_share, it.lat_why)
      it.infeasible = limits.infeasible(view, p, v, prof, it.lat_why, O)
    end
    if it.lat and it.lat > 1 and not it.cannot and idle and (it.sat or 0) <= v.replicas.ready then
      it.sat = v.replicas.ready + 1
      it.sat_why = format("%s over the SLO with none starting → %d", it.lat_why, it.sat)
    end
  end

  local fdesc = describe_forecast(f, H, p)

  if f.rate == nil and rate_now then fdesc = format("now %.1f req/s", rate_now) end
  local hz
  if samples >= 3 then
    hz = format("cold start p%.0f %.0f s of %d", p.cold_start_quantile * 100, cold, samples)
  elseif samples > 0 then
    hz = format("cold start %.0f s (%d measured)", cold, samples)
  else
    hz = format("cold start %.0f s (default)", cold)
  end

  local priority = 0
  for _, v in ipairs(vars) do priority = max(priority, v.priority or 0) end
  return {
    name = name, demand = demand or 0, priority = priority, cands = cands, vars = vars,
    states = states, info = info, I = I, O = O, fdesc = fdesc, hz = hz, gw_queue = gw_queue,
    rate_now = rate_now,
  }
end

-- Step 5 for one group: the placement combined with the floors, then hysteresis.
local function finish_group(view, p, g, placed, how, out)
  local vars, states, info, I, O = g.vars, g.states, g.info, g.I, g.O
  local fdesc, hz, gw_queue, rate_now, cands = g.fdesc, g.hz, g.gw_queue, g.rate_now, g.cands
  for i, v in ipairs(vars) do
    local vs, it = states[i], info[v.id]
    local want, why
    if placed[v.id] then
      want = placed[v.id]
      local sc, note = it.prof.score, ""
      if sc and sc.err then
        note = format(", err %.0f%%", sc.err * 100)
        if sc.ttft and (abs(sc.ttft - 1) > 0.02 or abs(sc.itl - 1) > 0.02) then
          note = note .. format(", observed/predicted TTFT ×%.2f ITL ×%.2f", sc.ttft, sc.itl)
        end
      end
      why = format("%s at %.0f/%.0f tok; %.2f req/s per replica (%s, %s-bound%s) → %d%s; %s",
        fdesc, I, O, it.rate, it.prof.name, it.limit or "?", note, want,
        (#cands > 1) and format(" (%s)", how) or "", hz)
      -- The backlog on top of the forecast: the forecast sizes for what arrives, not for what
      -- has already queued (a start-up ramp, a burst the cold start outran).
      if it.drain then
        want = want + it.drain
        why = format("%s; %s", why, it.drain_why)
      end
      if it.cannot then why = format("%s; %s", why, it.cannot) end
      if it.infeasible then why = format("%s; %s", why, it.infeasible) end
    end
    if it.sat and (want == nil or it.sat > want) then
      if want then
        why = format("%s; saturation floor %s", why, it.sat_why)
      else
        local no = it.prof and (it.why_no_rate or "no forecast yet")
          or "no trusted latency profile"
        why = format("%s; saturation %s", no, it.sat_why or format("→ %d", it.sat))
      end
      want = it.sat
      -- Saturation alone cannot tell how much capacity the SLO needs, only when there is too
      -- little: without a model it scales down only while latency is well inside the SLO.
      if not placed[v.id] and want < v.replicas.spec
          and not (it.lat and it.lat <= p.fallback_down) then
        want = v.replicas.spec
        why = format("%s; hold %d: %s", why, want, it.lat_why
          and format("%s not below %.0f%% of the SLO", it.lat_why, p.fallback_down * 100)
          or "no latency to confirm a scale-down")
      end
    end
    if v.replicas.spec == 0 and (want == nil or want < 1)
        and (gw_queue > 0 or (rate_now or 0) > 0) then
      want = 1
      why = format("%s at zero replicas → 1", gw_queue > 0 and format("%.0f queued", gw_queue)
        or format("%.2f req/s arriving", rate_now))
    end
    -- No floor may run away from the model: a queue that the replicas finish slowly only while a
    -- burst lasts, or a latency tail more replicas do not shorten, would otherwise ask for many
    -- times what the forecast needs, and hold it.
    local need = it.need
    -- Placed, the variant's share is the placement's count, at the model's own rate.
    if placed[v.id] and it.rate and it.mrate then
      need = ceil(placed[v.id] * it.rate / it.mrate - 1e-9)
    end
    if want and need then
      local bound, bwhy = limits.runaway(p, need)
      -- It stops a rise, never forces a fall below what is set: scale-down is hysteresis' call.
      if bound and want > max(bound, v.replicas.spec) then
        want, why = max(bound, v.replicas.spec), format("%s; %s binds", why, bwhy)
      end
    end
    if want then
      local lo, hi = v.min or 0, v.max or math.huge
      if want > hi then
        want, why = hi, format("%s; capped at max %d", why, hi)
      end
      if want < lo then want = lo end
      local n, reason = settle(view, p, vs, v, want, why)
      out[v.id] = { replicas = n, reason = reason }
    end
  end
end

-- Forgets variants no longer seen for a day (state stays bounded as variants come and go).
local function housekeeping(state, now)
  for id, vs in pairs(state.variants) do
    if now - (vs.live or now) > 86400 then state.variants[id] = nil end
  end
end

function M.decide(view, params, state)
  local p = resolve(params)
  state.variants = state.variants or {}
  state.groups = state.groups or {}
  local by, names = {}, {}
  for _, v in view:variants() do
    local g = by[v.model]
    if not g then
      g = {}
      by[v.model] = g
      names[#names + 1] = v.model
    end
    g[#g + 1] = v
  end
  table.sort(names)
  local groups, placing = {}, {}
  for _, name in ipairs(names) do
    local m = view.models and view.models[name]
    local g = prepare_group(view, p, state, name, m, by[name])
    groups[#groups + 1] = g
    if #g.cands > 0 then placing[#placing + 1] = g end
  end
  -- 4. One placement over every group: they share the GPU inventory.
  local placed, how = {}, nil
  if #placing > 0 then
    local _
    placed, _, how = placement.place(view, placing)
  end
  local out = {}
  for _, g in ipairs(groups) do finish_group(view, p, g, placed, how, out) end
  housekeeping(state, view.time)
  return out
end


return M