-- sluice.slo's latency profiles (step 2 of sluice.slo): the prior of a variant (the policy's
-- `profiles`, the variant's own `profile`, the built-in catalog), the profile fitted online from
-- what its replicas show (sluice.model.fit_update), running scores of how well each predicts,
-- which one sizes now, and the highest rate one replica sustains within its SLO under it. All
-- memory lives in the variant's state `vs` (plain data) that sluice.slo keeps.
--
--   local prior = profile.prior_of(p, v)              -- {name, profile} or nil
--   profile.observe_latency(view, p, vs, v, gw_queue) -- fold a steady picture into the scores
--   local prof = profile.choose(p, vs)                -- {name, profile, key, score} or nil
--   local rate, limit = profile.max_rate(view, p, vs, v, prof, I, O)
local model = require "sluice.model"
local w = require "sluice.window"
local profiles = require "sluice.profiles"
local memo = require "sluice.memo"

local M = {}

local max, abs, log = math.max, math.abs, math.log
local format = string.format

local RATE_REFRESH = 60          -- seconds a fitted profile's max_rate is reused
local TOKEN_STEP = log(1.05)     -- token means are bucketed in 5% steps for the max_rate memo
local TARGET_STEP = log(1.02)    -- and corrected latency targets in 5% steps
-- The buckets sizing's kernel inputs are snapped to (log steps), for specs and tools that redo it.
M.grid = { tokens = TOKEN_STEP, targets = TARGET_STEP }
local ERR_WEIGHT = 0.1           -- weight of the newest observation in a profile's scores
local CORRECTION_MIN, CORRECTION_MAX = 0.67, 1.5  -- bounds of the observed/predicted latency
-- Where a fit starts without a better guess: WVA's tuner defaults.
local GENERIC_GUESS = { kind = "3p", alpha = 5.0, beta = 0.05, gamma = 5e-5 }

local plain_profile, lower, catalog_match = profiles.plain, profiles.lower,
  profiles.catalog_match

-- The prior of a variant: {name, profile} or nil. In order: the policy's `profiles`, the
-- variant's own `profile`, the built-in catalog.
local function prior_of(p, v)
  for _, e in ipairs(p.profiles) do
    local mm = e.model == nil or lower(v.model):find(lower(e.model), 1, true)
    local am = e.accelerator == nil or lower(v.accelerator) == lower(e.accelerator)
    if mm and am then
      if type(e.profile) == "string" then
        return { name = e.profile, profile = plain_profile(model.builtin(e.profile)) }
      end
      return { name = "configured " .. tostring(e.profile.kind),
        profile = plain_profile(e.profile) }
    end
  end
  if type(v.profile) == "string" then
    local pr = model.builtin(v.profile)
    if pr then return { name = v.profile, profile = plain_profile(pr) } end
  end
  if p.catalog then
    local name = catalog_match(v)
    if name then return { name = name, profile = plain_profile(model.builtin(name)) } end
  end
  return nil
end

-- Where the online fit starts: the prior when it can be fitted, else the built-in 3p for the
-- pair, else a generic guess.
local function fit_guess(prior, v)
  if prior and (prior.profile.kind == "3p" or prior.profile.kind == "4p") then
    return prior.profile
  end
  local name = catalog_match(v, "3p")
  if name then return plain_profile(model.builtin(name)) end
  return GENERIC_GUESS
end

-- One observation against a profile: observed over predicted mean TTFT and ITL, or `blocked`
-- when the profile says the replica could not carry what it does.
local function score(pr, shape, obs)
  local ok, pred = pcall(model.predict, pr, shape, obs.rate)
  if not ok or not pred then return nil end
  if pred.blocking > 0.01 then return "blocked" end
  return obs.ttft_ms / pred.ttft_ms, obs.itl_ms / pred.itl_ms
end

local function ewma(old, x)
  if x == nil then return old end
  if old == nil then return x end
  return (1 - ERR_WEIGHT) * old + ERR_WEIGHT * x
end

local function correction(x)
  return w.clamp(x or 1, CORRECTION_MIN, CORRECTION_MAX)
end

-- Running scores of a profile: {ttft, itl} the observed-over-predicted ratios of the means (the
-- correction sizing applies), and err the mean relative error of its predictions once corrected
-- by the ratios so far: a profile off by a steady factor is calibrated, not wrong; one whose
-- error moves with the load, or is off by more than the correction may take, is wrong.
local function rescore(sc, pr, shape, obs)
  local rt, ri = score(pr, shape, obs)
  if rt == nil then return sc end
  sc = sc or {}
  if rt == "blocked" then
    sc.err = ewma(sc.err, 1)
    return sc
  end
  local e = 0.5 * (abs(rt / correction(sc.ttft) - 1) + abs(ri / correction(sc.itl) - 1))
  sc.err = ewma(sc.err, e)
  sc.ttft, sc.itl = ewma(sc.ttft, rt), ewma(sc.itl, ri)
  return sc
end

-- Folds what the variant's replicas show into its fit, when the picture is steady: the same Ready
-- replicas for a whole signal window, nothing held at the gateway, the engines not queueing.
local function observe_latency(view, p, vs, v, gw_queue)
  local r, s = v.replicas, v.signals or {}
  if r.ready ~= vs.ready_n then
    vs.ready_n, vs.ready_at = r.ready, view.time
  end
  if not p.fit and not vs.prior then return end
  if vs.obs_at and view.time - vs.obs_at < p.fit_every then return end
  -- Saturated replicas show queueing the load alone does not explain: such a picture would
  -- teach the profiles the wrong curve. Replicas still starting serve nothing and do not matter.
  if r.ready < 1 or (gw_queue or 0) > 0 then return end
  if (s.waiting or 0) > p.queue_per_replica * r.ready then return end
  if view.time - vs.ready_at < (view.window or 0) then return end
  local rate, ttft, itl = s.request_rate, s.ttft_mean, s.itl_mean
  local I, O = s.input_tokens_mean, s.output_tokens_mean
  if not (rate and rate > 0 and ttft and ttft > 0 and itl and itl > 0 and I and O and O >= 1) then
    return
  end
  vs.obs_at = view.time
  local N = (v.engine and v.engine.max_num_seqs) or 256
  local obs = { rate = rate / r.ready, in_tokens = I, out_tokens = O, ttft_ms = ttft * 1000,
    itl_ms = itl * 1000, max_batch = N }
  local running = s.running
  if running and running > 0 and running / r.ready <= N then obs.batch = running / r.ready end
  local shape = { max_batch = N, in_tokens = I, out_tokens = O }
  if vs.prior then vs.prior_score = rescore(vs.prior_score, vs.prior.profile, shape, obs) end
  if p.fit then
    if vs.fit.updates > 0 then
      vs.fit_score = rescore(vs.fit_score, model.fit_params(vs.fit), shape, obs)
    end
    local nf = model.fit_update(vs.fit, obs)
    if nf then vs.fit = nf end
  end
end

-- The profile that sizes this variant now: {name, profile, key, score} or nil. The prior first,
-- while its error is unknown, or within tolerance with a correction in bounds: its shape holds
-- beyond the loads seen so far. The fit once the prior fails, when it has enough observations
-- and predicts within tolerance (near the loads it has seen it does; far above them it may not,
-- hence second).
local function usable(sc, tol)
  if sc == nil or sc.err == nil then return true end
  if sc.err > tol then return false end
  -- Off by more than the correction may take: the profile is wrong, not uncalibrated.
  local function inside(x) return x == nil or (x >= CORRECTION_MIN and x <= CORRECTION_MAX) end
  return inside(sc.ttft) and inside(sc.itl)
end

local function choose_profile(p, vs)
  local fs, ps = vs.fit_score, vs.prior_score
  local prior_ok = vs.prior and usable(ps, p.fit_tolerance)
  local fit_ok = p.fit and vs.fit.updates >= p.fit_min and fs ~= nil and fs.err ~= nil
    and usable(fs, p.fit_tolerance)
  -- The choice sticks until the profile in use fails: a prior that proved wrong at one load may
  -- look right again at another, and flapping between two profiles is worse than either.
  if vs.use == "fit" and not fit_ok and prior_ok then vs.use = "prior" end
  if vs.use ~= "fit" and not prior_ok and fit_ok then vs.use = "fit" end
  if vs.use == "fit" and fit_ok then
    return { name = format("fitted %s", vs.fit.kind), key = "fit", score = fs,
      profile = plain_profile(model.fit_params(vs.fit)) }
  end
  if prior_ok then
    return { name = vs.prior.name, profile = vs.prior.profile, key = "prior", score = ps }
  end
  return nil
end

local function slo_of(p, v)
  local s = v.slo or {}
  local ttft, itl = s.ttft_ms or p.ttft_ms, s.itl_ms or p.itl_ms
  if (ttft or 0) <= 0 and (itl or 0) <= 0 then return nil end
  local t = { ttft_ms = ttft or 0, itl_ms = itl or 0 }
  if p.percentile > 0 then t.percentile = p.percentile end
  return t
end

-- Highest req/s one replica of v sustains within its SLO for the token mix: the lower of the rate
-- whose TTFT at the SLO's percentile meets the TTFT target and the rate whose mean ITL stays
-- within itl_share of the ITL target. Each request's ITL is the mean of its gaps, and those means
-- spread around the engine's mean (short outputs that catch a step carrying someone's prefill sit
-- far above it), while the model's percentile is that of the batch size; itl_share keeps the
-- mean low enough for the tail of requests. Where the profile's means run above (below) what the
-- replicas show, the targets are tightened (loosened) by that factor. Memoised per bucket of
-- token mix and corrected targets (sluice.memo). Returns rate, limit | nil, why.
local function max_rate(view, p, vs, v, prof, I, O)
  local slo = slo_of(p, v)
  if not slo then return nil, "no SLO class" end
  local sc = prof.score or {}
  local ttft = slo.ttft_ms / correction(sc.ttft)
  local itl = slo.itl_ms * p.itl_share / correction(sc.itl)
  local N = (v.engine and v.engine.max_num_seqs) or 256
  -- Solved at the centres of the inputs' buckets (M.grid). A fitted profile moves with every
  -- observation, so its entries age out.
  local kI, hiI = memo.bucket(I, TOKEN_STEP)
  local kO, hiO = memo.bucket(max(O, 1), TOKEN_STEP)
  local kt, lot = 0, 0
  if ttft > 0 then kt, lot = memo.bucket(ttft, TARGET_STEP) end
  local ki, loi = 0, 0
  if itl > 0 then ki, loi = memo.bucket(itl, TARGET_STEP) end
  local key = format("%s|%d|%d|%d|%d|%d|%g", prof.key, kI, kO, N, kt, ki, p.percentile)
  vs.rates = vs.rates or memo.new(256)
  local e = memo.get(vs.rates, key, view.time, prof.key == "fit" and RATE_REFRESH or nil)
  if not e then
    local shape = { max_batch = N, in_tokens = hiI, out_tokens = hiO }
    local rate, limit, why
    if ttft > 0 then
      local t = { ttft_ms = lot }
      if p.percentile > 0 then t.percentile = p.percentile end
      local r, l = model.max_rate(prof.profile, shape, t)
      if r then rate, limit = r, (l == "stability" and l or "ttft") else why = l end
    end
    if itl > 0 and not why then
      local r, l = model.max_rate(prof.profile, shape, { itl_ms = loi })
      if r then
        if not rate or r < rate then rate, limit = r, (l == "stability" and l or "itl") end
      else
        why = l
      end
    end
    if why then rate, limit = nil, why end
    e = memo.put(vs.rates, key, view.time, { rate = rate or false, limit = limit })
  end
  if not e.rate then return nil, e.limit end
  return e.rate, e.limit
end

M.prior_of, M.fit_guess, M.observe_latency = prior_of, fit_guess, observe_latency
M.choose, M.slo_of, M.max_rate = choose_profile, slo_of, max_rate
M.CORRECTION_MIN, M.CORRECTION_MAX = CORRECTION_MIN, CORRECTION_MAX

return M
