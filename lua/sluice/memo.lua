-- A bounded memo for kernel results, kept as plain data in a policy's state. Sizing calls
-- sluice.model once per variant and tick; a solve costs about a millisecond, so inputs that
-- drift by a fraction of a per cent must not each pay for one. Inputs are snapped to a grid of
-- log steps (bucket) and the kernel is asked at the bucket's conservative edge, so a memo hit
-- returns exactly what a fresh solve for that bucket would, whichever value filled it.
--
--   local memo = require "sluice.memo"
--   vs.rates = vs.rates or memo.new(32)
--   local k, mid = memo.bucket(tokens, math.log(1.02))
--   local e = memo.get(vs.rates, key, now, 60) or memo.put(vs.rates, key, now, { rate = solve() })
local M = {}

local floor, log, exp, max = math.floor, math.log, math.exp, math.max

function M.new(cap)
  return { n = 0, cap = cap or 32, e = {} }
end

-- The entry stored under key, unless it is older than max_age seconds (nil: any age).
function M.get(m, key, now, max_age)
  local e = m.e[key]
  if e and (max_age == nil or now - e.at < max_age) then return e end
  return nil
end

-- Stores value (a table) under key and returns it. A full memo starts over: the working set
-- of a variant is a handful of neighbouring buckets, so this rarely costs anything.
function M.put(m, key, now, value)
  if m.e[key] == nil then
    if m.n >= m.cap then m.e, m.n = {}, 0 end
    m.n = m.n + 1
  end
  value.at = now
  m.e[key] = value
  return value
end

-- The log-step bucket of x > 0: its index and its centre (the geometric middle of its edges,
-- within half a step of x).
function M.bucket(x, step)
  local k = floor(log(max(x, 1e-9)) / step)
  return k, exp((k + 0.5) * step)
end

return M
