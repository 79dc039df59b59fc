-- sluice.slo's cold starts (the horizon of step 1): when each pod of a variant appeared and how
-- long it took to turn Ready, and from those the seconds a replica ordered now takes to be Ready,
-- pooled over a model group's variants. The samples live in the variant's state `vs`
-- (`vs.seen`, `vs.cold`, a sluice.window ring of SAMPLES).
--
--   coldstart.observe(view, vs, v)
--   local seconds, samples = coldstart.horizon(p, states)
local w = require "sluice.window"

local M = {}

local max = math.max

M.SAMPLES = 32                   -- cold starts remembered per variant

-- Notes when each pod appeared and, when it turns Ready, how long that took.
local function observe_pods(view, vs, v)
  local pods = v.pods
  local n = pods and #pods or 0
  local live = {}
  for i = 1, n do
    local pod = pods[i]
    local name, phase = pod.name, pod.phase
    live[name] = true
    if phase == "ready" then
      local t0 = vs.seen[name]
      if t0 then w.push(vs.cold, view.time - t0) end
      vs.seen[name] = nil
    elseif phase == "pending" or phase == "starting" then
      -- A pod already starting when we first look has an unknown start: false, never sampled.
      if vs.seen[name] == nil then vs.seen[name] = vs.tick > 1 and view.time or false end
    end
  end
  for name in pairs(vs.seen) do
    if not live[name] then vs.seen[name] = nil end
  end
end

-- Seconds from ordering a replica to its being Ready, pooled over a group's variants.
local function horizon_of(p, states)
  local xs = {}
  for _, vs in ipairs(states) do
    for i = 1, vs.cold.n do xs[#xs + 1] = w.at(vs.cold, i) end
  end
  if #xs >= 3 then return w.quantile(xs, p.cold_start_quantile), #xs end
  local m = p.cold_start
  for _, x in ipairs(xs) do m = max(m, x) end
  return m, #xs
end

M.observe, M.horizon = observe_pods, horizon_of

return M
