-- Short-horizon forecasts of a request rate and its token mix, for sizing capacity that takes a
-- cold start to arrive. The caller feeds one observation per tick; the forecaster keeps compact
-- aggregates in a plain table (fit for a policy's `state`, bounded in size):
--
--   * the last few seconds of raw observations, for the level right now;
--   * rate and token means per bucket (10 s) over a trend window (10 min), split into a smooth
--     level (a running median as wide as the horizon) and bursts (each bucket's ratio to it): a
--     robust line through the level gives the trend, an upper quantile of the ratios the burst
--     factor, so a burst shorter than the horizon shows up as a factor, a longer rise as a level
--     change, and neither as a trend;
--   * a daily profile: per bin of the day (5 min) the upper quantile of that bin's buckets, kept
--     as an average over the days seen, and how well it has predicted each bin compared with
--     plain persistence. It is used only once it predicts better than persistence ("the history
--     shows a daily cycle").
--
-- The forecast for a horizon H is the largest of: the level now, the line at now and at now + H
-- times the burst factor, and (when on) the profile's bins over [now, now + H] scaled by how
-- today compares with the days before.
--
--   local forecast = require "sluice.forecast"
--   local fc = forecast.new{ quantile = 0.95 }         -- options: see forecast.defaults
--   forecast.observe(fc, view.time, rate, in_tokens, out_tokens)
--   local f = forecast.predict(fc, view.time, 120)
--   -- f.rate (req/s), f.source ("now", "trend" or "season"), f.in_tokens, f.out_tokens, ...
local w = require "sluice.window"

local M = {}

local floor, max, min, log, abs = math.floor, math.max, math.min, math.log, math.abs
local DAY = 86400

M.defaults = {
  bucket = 10,          -- seconds per bucket of the rate history
  trend_window = 600,   -- seconds of buckets the line and the burst factor are drawn from
  trend_min = 180,      -- seconds of buckets before the line may slope (a flat level before)
  quantile = 0.95,      -- upper quantile: burst factor over the line, bins of the daily profile
  fast_window = 10,     -- seconds the level right now is averaged over
  season = true,        -- learn a daily profile and use it once it predicts better
  season_bin = 300,     -- seconds per bin of the daily profile
  season_weight = 0.5,  -- weight of the newest day in a bin's value
  season_match = 6,     -- recent bins today's level is compared over with the profile's
  season_min = 12,      -- bins compared with persistence before the profile may be used
  upper = true,         -- also the upper quantile of the buckets over the last horizon
}

local function resolve(opts)
  local o = {}
  for k, v in pairs(M.defaults) do o[k] = v end
  for k, v in pairs(opts or {}) do o[k] = v end
  return o
end

-- nil when the options are fine, else a message naming the field.
function M.validate(opts)
  for k in pairs(opts or {}) do
    if M.defaults[k] == nil then return "unknown forecast option " .. tostring(k) end
  end
  local o = resolve(opts)
  for _, k in ipairs({ "bucket", "trend_window", "fast_window", "season_bin" }) do
    if type(o[k]) ~= "number" or not (o[k] > 0) then return k .. " must be a number > 0" end
  end
  if type(o.trend_min) ~= "number" or not (o.trend_min >= 0) then
    return "trend_min must be a number >= 0"
  end
  if o.trend_window < 2 * o.bucket then return "trend_window must hold at least 2 buckets" end
  if type(o.quantile) ~= "number" or not (o.quantile >= 0.5 and o.quantile <= 1) then
    return "quantile must be in [0.5, 1]"
  end
  if type(o.season) ~= "boolean" then return "season must be true or false" end
  if type(o.upper) ~= "boolean" then return "upper must be true or false" end
  if o.season_bin < o.bucket or DAY % o.season_bin ~= 0 then
    return "season_bin must be at least one bucket and divide a day"
  end
  if type(o.season_weight) ~= "number" or not (o.season_weight > 0 and o.season_weight <= 1) then
    return "season_weight must be in (0, 1]"
  end
  for _, k in ipairs({ "season_match", "season_min" }) do
    if type(o[k]) ~= "number" or not (o[k] >= 1) or o[k] ~= floor(o[k]) then
      return k .. " must be an integer >= 1"
    end
  end
  return nil
end

function M.new(opts)
  local err = M.validate(opts)
  if err then error("forecast.new: " .. err, 2) end
  local o = resolve(opts)
  local bins = DAY / o.season_bin
  return {
    opts = o,
    fast = w.ring(64),                                  -- {t, rate}
    open = nil,                                         -- the bucket being filled
    hist = w.ring(floor(o.trend_window / o.bucket)),    -- {k, rate, in, out}
    line = nil,                                         -- {ref, slope, level, burst, in, out}
    season = {
      mean = {}, upper = {}, day = {},                  -- [bin + 1], `bins` entries at most
      bins = bins,
      open = nil,                                       -- {bin, day, rates = {...}}
      recent = w.ring(o.season_match),                  -- {today, stored|false} of closed bins
      err_season = 0, err_persist = 0, compared = 0,
    },
  }
end

---------------------------------------------------------------------------------------------------
-- Daily profile

local function close_bin(fc, s)
  local o, b = fc.opts, s.open
  local rates = b.rates
  if #rates == 0 then return end
  local sum = 0
  for i = 1, #rates do sum = sum + rates[i] end
  local today, upper = sum / #rates, w.quantile(rates, o.quantile)
  local i = b.bin + 1
  local stored_day = s.day[i]
  local stored = (stored_day and stored_day < b.day) and s.mean[i] or nil
  if stored then
    -- Score the profile against persistence (this bin = the previous bin's mean) in squared log
    -- error, over about a day of bins, so a once-a-day ramp still weighs in a day later.
    local prev = w.last(s.recent)
    local ratio = M.season_ratio(s)
    if prev and ratio then
      local eps = 1e-3
      local a = log(max(today, eps))
      local es = a - log(max(stored * ratio, eps))
      local ep = a - log(max(prev.today, eps))
      local k = 1 / s.bins
      s.err_season = (1 - k) * s.err_season + k * es * es
      s.err_persist = (1 - k) * s.err_persist + k * ep * ep
      s.compared = s.compared + 1
    end
    local a = o.season_weight
    s.mean[i] = a * today + (1 - a) * stored
    s.upper[i] = a * upper + (1 - a) * s.upper[i]
  else
    s.mean[i], s.upper[i] = today, upper
  end
  s.day[i] = b.day
  w.push(s.recent, { today = today, stored = stored or false })
end

-- How today's traffic compares with the profile over the last closed bins: sum of today's means
-- over sum of the profile's, within [0.5, 2]; nil when too few bins had a profile.
function M.season_ratio(s)
  local num, den, n = 0, 0, 0
  for i = 1, s.recent.n do
    local e = w.at(s.recent, i)
    if e.stored then
      num, den, n = num + e.today, den + e.stored, n + 1
    end
  end
  if n < 2 then return nil end
  if den <= 0 then return num > 0 and 2 or 1 end
  return w.clamp(num / den, 0.5, 2)
end

local function season_add(fc, k, rate)
  local o, s = fc.opts, fc.season
  local t = (k + 0.5) * o.bucket
  local day = floor(t / DAY)
  local bin = floor((t - day * DAY) / o.season_bin)
  local b = s.open
  if b and (b.bin ~= bin or b.day ~= day) then
    close_bin(fc, s)
    b = nil
  end
  if not b then
    b = { bin = bin, day = day, rates = {} }
    s.open = b
  end
  b.rates[#b.rates + 1] = rate
end

-- Is the profile predicting better than persistence?
function M.season_on(fc)
  local s = fc.season
  return fc.opts.season and s.compared >= fc.opts.season_min and s.err_season <= s.err_persist
end

-- The profile's upper value over [t, t + horizon], scaled to today's level; nil when off or when
-- some bin in the span has no profile from an earlier day.
local function season_upper(fc, t, horizon)
  if not M.season_on(fc) then return nil end
  local s, o = fc.season, fc.opts
  local ratio = M.season_ratio(s)
  if not ratio then return nil end
  local best
  local first = floor(t / o.season_bin)
  local last = floor((t + horizon) / o.season_bin)
  for g = first, last do
    local day = floor(g * o.season_bin / DAY)
    local i = g - day * s.bins + 1
    local d = s.day[i]
    if not d or d >= day or d < day - 3 then return nil end
    if best == nil or s.upper[i] > best then best = s.upper[i] end
  end
  if best == nil then return nil end
  return best * ratio, ratio
end

---------------------------------------------------------------------------------------------------
-- Buckets and the line

-- At every bucket close: the token mix and the busiest bucket of the window.
local function refit(fc, now)
  local o, h = fc.opts, fc.hist
  if h.n == 0 then
    fc.line = nil
    return
  end
  -- The token mix is the mean over the window's requests: how heavy the work is on average.
  -- Burstiness is the rate's to carry; short windows of long prompts average out within the
  -- horizon, and an upper quantile of 10-s means would count every heavy-tailed prompt twice.
  local n, isum, osum, peak = 0, 0, 0, 0
  for i = 1, h.n do
    local e = w.at(h, i)
    if e["in"] and e.n and e.n > 0 then
      n, isum, osum = n + e.n, isum + e["in"] * e.n, osum + e.out * e.n
    end
    peak = max(peak, e.rate)
  end
  fc.line = {
    ref = now, peak = peak, k = w.last(h).k,
    ["in"] = n > 0 and isum / n or nil, out = n > 0 and osum / n or nil,
  }
end

-- For a horizon, the window is split into a smooth level and bursts. The smooth level is a
-- running median of the buckets, the neighbourhood as wide as the horizon: a rise that lasts
-- longer than the horizon moves the median with it (a level change, for the line to follow); one
-- shorter than the horizon leaves it be and stands out as a burst — one new replicas could not
-- arrive in time for, so headroom must cover it. The burst factor is an upper quantile of each
-- bucket's ratio to its median. The line is drawn through the medians: a robust slope over the
-- whole window, kept only when the most recent half slopes the same way (a step in the middle of
-- the window looks like a ramp to the long view, not to the recent one), and the smaller of the
-- two; its level is the median offset. Cached per closed bucket and width.
local function shape_for(fc, horizon)
  local o, h, l = fc.opts, fc.hist, fc.line
  local R = max(1, floor(horizon / o.bucket / 2 + 0.5))
  if l.r == R then return l end
  local rs, ts = {}, {}
  for i = 1, h.n do
    local e = w.at(h, i)
    rs[i], ts[i] = e.rate, (e.k + 0.5) * o.bucket - l.ref
  end
  local n = #rs
  -- The neighbourhood slides one bucket at a time: kept sorted, updated in place. At the ends it
  -- is cut short, so on a ramp the newest medians lag a little and read as a small burst (a few
  -- percent): kept, as it errs towards capacity.
  local ms, ratios = {}, {}
  local sorted, lo, hi = {}, 1, 0
  for i = 1, n do
    local want_lo, want_hi = max(1, i - R), min(n, i + R)
    while hi < want_hi do
      hi = hi + 1
      w.sorted_insert(sorted, rs[hi])
    end
    while lo < want_lo do
      w.sorted_remove(sorted, rs[lo])
      lo = lo + 1
    end
    local c = #sorted
    local m = (c % 2 == 1) and sorted[(c + 1) / 2] or 0.5 * (sorted[c / 2] + sorted[c / 2 + 1])
    ms[i] = m
    if m > 0 then ratios[#ratios + 1] = rs[i] / m end
  end
  -- The line uses the medians of whole neighbourhoods only: cut short, they flatten a ramp.
  local its, ims = {}, {}
  for i = R + 1, n - R do
    its[#its + 1], ims[#ims + 1] = ts[i], ms[i]
  end
  if #its < 4 then its, ims = ts, ms end
  local m = #its
  local span = ts[n] - ts[1] + o.bucket
  local slope = 0
  if span >= o.trend_min and m >= 4 then
    local long = w.line(its, ims)
    local half = floor(m / 2)
    local rts, rms = {}, {}
    for i = m - half + 1, m do
      rts[#rts + 1], rms[#rms + 1] = its[i], ims[i]
    end
    local recent = w.line(rts, rms)
    if long and recent and long * recent > 0 then
      slope = abs(long) < abs(recent) and long or recent
    end
  end
  local rest = {}
  for i = 1, m do rest[i] = ims[i] - slope * its[i] end
  l.r, l.slope, l.level = R, slope, w.median(rest)
  l.burst = max(1, w.quantile(ratios, o.quantile) or 1)
  return l
end

local function close_bucket(fc)
  local b = fc.open
  if not b or b.w <= 0 then return end
  local rate = b.r / b.w
  local e = { k = b.k, rate = rate }
  if b.n > 0 then
    e["in"] = b.i / b.n
    e.out = b.o / b.n
    e.n = b.n
  end
  w.push(fc.hist, e)
  if fc.opts.season then season_add(fc, b.k, rate) end
  refit(fc, (b.k + 1) * fc.opts.bucket)
end

-- One observation at time t: the arrival rate (req/s) over the last tick, and optionally the
-- mean prompt and output tokens of the requests behind it. A time that does not move forward is
-- taken as a repeat of the last tick (ignored).
function M.observe(fc, t, rate, in_tokens, out_tokens)
  if type(rate) ~= "number" or rate ~= rate or rate < 0 then
    error("forecast.observe: rate must be a number >= 0 (got " .. tostring(rate) .. ")", 2)
  end
  local o = fc.opts
  local last = fc.last_t
  if last and t <= last then return end
  -- The tick stands for the interval since the last one, at most a bucket (after a gap the
  -- missing time is not invented).
  local dt = last and min(t - last, o.bucket) or min(1, o.bucket)
  fc.last_t = t
  w.push(fc.fast, { t = t, rate = rate })
  local k = floor(t / o.bucket)
  if fc.open and fc.open.k ~= k then
    close_bucket(fc)
    fc.open = nil
  end
  local b = fc.open
  if not b then
    b = { k = k, w = 0, r = 0, i = 0, o = 0, n = 0 }
    fc.open = b
  end
  b.w = b.w + dt
  b.r = b.r + rate * dt
  if in_tokens and out_tokens and rate > 0 then
    local n = rate * dt
    b.n = b.n + n
    b.i = b.i + in_tokens * n
    b.o = b.o + out_tokens * n
  end
end

-- The level right now: the mean of the observations in the last fast_window seconds.
function M.now(fc, t)
  local sum, n = 0, 0
  for i = fc.fast.n, 1, -1 do
    local e = w.at(fc.fast, i)
    if e.t <= t - fc.opts.fast_window then break end
    sum, n = sum + e.rate, n + 1
  end
  if n == 0 then return nil end
  return sum / n
end

-- The forecast over [t, t + horizon]:
--   rate       the upper forecast (req/s): max of now, trend, upper and season
--   source     which of them it is ("now", "trend", "season")
--   now        level over the last fast_window seconds
--   level      the line at t (nil before the first bucket closes)
--   slope      req/s per second of the line
--   trend      max(line(t), line(t + horizon)) * burst
--   burst      upper quantile of the buckets' ratio to their running median (>= 1)
--   upper      the line plus the upper quantile of the last horizon's buckets above it
--   season     the daily profile's forecast (nil when off or unknown), season_ratio its scale
--   in_tokens, out_tokens   mean prompt and output tokens of the window's requests (nil when none)
function M.predict(fc, t, horizon)
  horizon = max(horizon or 0, 0)
  local f = { now = M.now(fc, t), burst = 1 }
  local best, source = f.now, "now"
  local l = fc.line
  if l then
    shape_for(fc, horizon)
    local at0 = max(0, l.level + l.slope * (t - l.ref))
    local at1 = max(0, l.level + l.slope * (t + horizon - l.ref))
    f.level, f.slope, f.burst = at0, l.slope, l.burst
    if at0 > 0 or at1 > 0 then
      f.trend = max(at0, at1) * f.burst
    else
      -- A line at zero has no ratio to scale by: the busiest recent bucket stands in.
      f.trend = l.peak
    end
    f.in_tokens, f.out_tokens = l["in"], l.out
    if best == nil or f.trend > best then best, source = f.trend, "trend" end
  end
  -- Bursty arrivals (interarrival CVs of 10 and more) leave the median of the buckets near zero,
  -- and a burst factor over it says nothing. Additively, the line plus the upper quantile of how
  -- far the last horizon's buckets rose above it is what the next may well bring: on smooth
  -- traffic about the line, on bursts about their peaks. A burst leaves it a horizon later.
  if fc.opts.upper and l and fc.hist.n > 0 then
    local rs, from = {}, t - max(horizon, 2 * fc.opts.bucket)
    for i = fc.hist.n, 1, -1 do
      local e = w.at(fc.hist, i)
      local tk = (e.k + 0.5) * fc.opts.bucket
      if tk + 0.5 * fc.opts.bucket <= from then break end
      rs[#rs + 1] = e.rate - max(0, l.level + l.slope * (tk - l.ref))
    end
    local q = w.quantile(rs, fc.opts.quantile)
    if q then
      f.upper = max(f.level, max(0, l.level + l.slope * (t + horizon - l.ref))) + max(q, 0)
      if best == nil or f.upper > best then best, source = f.upper, "upper" end
    end
  end
  local s, ratio = season_upper(fc, t, horizon)
  if s then
    f.season, f.season_ratio = s, ratio
    if best == nil or s > best then best, source = s, "season" end
  end
  if not f.in_tokens and fc.open and fc.open.n > 0 then
    f.in_tokens, f.out_tokens = fc.open.i / fc.open.n, fc.open.o / fc.open.n
  end
  f.rate, f.source = best, best and source or nil
  return f
end

-- Fraction of a day and the bin a time falls in (for reasons and specs).
function M.bin_of(fc, t)
  local day = floor(t / DAY)
  return floor((t - day * DAY) / fc.opts.season_bin), day
end

return M
