-- Small pieces for policies that remember a stretch of the past in `state`: a fixed-size ring, a
-- sliding maximum kept per time bucket, quantiles, and a robust straight line through a series.
-- Every structure is a plain table of numbers (no closures, no metatables), so it survives the
-- copy a hot reload makes of `state`, and every one is bounded in size whatever the input.
--
--   local w = require "sluice.window"
--   local r = w.ring(60); w.push(r, x); for i = 1, r.n do local x = w.at(r, i) end
--   local p = w.peak(10); w.peak_add(p, t, v); w.peak_max(p, t, 300)
--   w.quantile({...}, 0.9); w.line(ts, ys) --> slope, intercept
local M = {}

local floor = math.floor

---------------------------------------------------------------------------------------------------
-- Ring: the last `cap` values pushed, oldest first.

function M.ring(cap)
  assert(type(cap) == "number" and cap >= 1 and cap == floor(cap),
    "window.ring: cap must be an integer >= 1")
  return { cap = cap, n = 0, head = 0, v = {} }
end

function M.push(r, x)
  r.head = r.head % r.cap + 1
  r.v[r.head] = x
  if r.n < r.cap then r.n = r.n + 1 end
end

-- The i-th value, 1 = oldest, r.n = newest.
function M.at(r, i)
  return r.v[(r.head - r.n + i - 1) % r.cap + 1]
end

function M.last(r)
  if r.n == 0 then return nil end
  return r.v[r.head]
end

-- The values as a fresh array, oldest first.
function M.list(r)
  local out = {}
  for i = 1, r.n do out[i] = M.at(r, i) end
  return out
end

---------------------------------------------------------------------------------------------------
-- Peak: the maximum of values added over a sliding span of time, kept as one maximum per bucket
-- of `width` seconds, so memory is span / width entries however often values arrive. A value
-- stays visible until its whole bucket has left the span (up to `width` seconds longer).

function M.peak(width)
  assert(type(width) == "number" and width > 0, "window.peak: width must be > 0")
  return { width = width, k = {}, v = {} }
end

function M.peak_add(p, t, v)
  local k = floor(t / p.width)
  local n = #p.k
  if n > 0 and p.k[n] == k then
    if v > p.v[n] then p.v[n] = v end
  elseif n > 0 and p.k[n] > k then
    -- Time went backwards (a clock reset): start over rather than keep entries from the future.
    p.k, p.v = { k }, { v }
  else
    p.k[n + 1], p.v[n + 1] = k, v
  end
end

-- The largest value added in (t - span, t], counted by bucket; nil when none. Also drops buckets
-- older than the span, so a peak that is queried keeps only what it needs.
function M.peak_max(p, t, span)
  local oldest = floor((t - span) / p.width) + 1
  local drop = 0
  while drop < #p.k and p.k[drop + 1] < oldest do drop = drop + 1 end
  if drop > 0 then
    local n = #p.k
    for i = 1, n - drop do
      p.k[i], p.v[i] = p.k[i + drop], p.v[i + drop]
    end
    for i = n - drop + 1, n do
      p.k[i], p.v[i] = nil, nil
    end
  end
  local best
  for i = 1, #p.v do
    if best == nil or p.v[i] > best then best = p.v[i] end
  end
  return best
end

---------------------------------------------------------------------------------------------------
-- Order statistics

-- The q-quantile (0..1) of an array of numbers, interpolating between order statistics (the
-- usual "type 7" definition: the median of {1, 2, 3, 4} is 2.5). nil for an empty array. The
-- array is not modified.
function M.quantile(xs, q)
  local n = #xs
  if n == 0 then return nil end
  local s = {}
  for i = 1, n do s[i] = xs[i] end
  table.sort(s)
  if q <= 0 then return s[1] end
  if q >= 1 then return s[n] end
  local h = (n - 1) * q + 1
  local lo = floor(h)
  local frac = h - lo
  if lo >= n then return s[n] end
  return s[lo] + frac * (s[lo + 1] - s[lo])
end

-- Inserts x into an ascending array, keeping it ascending.
function M.sorted_insert(a, x)
  local lo, hi = 1, #a + 1
  while lo < hi do
    local mid = floor((lo + hi) / 2)
    if a[mid] < x then lo = mid + 1 else hi = mid end
  end
  table.insert(a, lo, x)
end

-- Removes one element equal to x from an ascending array (no-op when absent).
function M.sorted_remove(a, x)
  local lo, hi = 1, #a + 1
  while lo < hi do
    local mid = floor((lo + hi) / 2)
    if a[mid] < x then lo = mid + 1 else hi = mid end
  end
  if a[lo] == x then table.remove(a, lo) end
end

function M.median(xs)
  return M.quantile(xs, 0.5)
end

---------------------------------------------------------------------------------------------------
-- Robust line: slope = median of the slopes between each point and the one half the series
-- later, intercept = median of y - slope * t. A burst that covers less than about a quarter of
-- the series moves neither, where least squares would bend towards it; the work is n log n.
-- Returns slope, intercept (y = intercept + slope * t); nil for fewer than 2 points.
function M.line(ts, ys)
  local n = #ts
  if n < 2 then return nil end
  local lag = floor(n / 2)
  local slopes = {}
  for i = 1, n - lag do
    local dt = ts[i + lag] - ts[i]
    if dt > 0 then slopes[#slopes + 1] = (ys[i + lag] - ys[i]) / dt end
  end
  local slope = M.median(slopes) or 0
  local rest = {}
  for i = 1, n do rest[i] = ys[i] - slope * ts[i] end
  return slope, M.median(rest)
end

-- Bounds a number to [lo, hi].
function M.clamp(x, lo, hi)
  if x < lo then return lo end
  if x > hi then return hi end
  return x
end

return M
