-- Fixtures shared by the specs of sluice.hpa and its stages (spec/lua/sluice/hpa*_spec.lua).
--
--   local hs = require "support.hpaspec"
--   hs.running(3)                         -- pods p1..p3, Running and Ready
--   hs.queue_spec(200, 10)                -- an HPA on one External AverageValue metric
--   hs.tick(st, spec, now, current)       -- one hpa.tick with `current` Running pods
local hpa = require "sluice.hpa"

local M = {}

M.TOL = { up = 0.1, down = 0.1 }

-- n Running pods p1..pn; `extra` pods appended as given.
function M.running(n, extra)
  local pods = {}
  for i = 1, n do pods[i] = { name = "p" .. i, phase = "Running", ready = true } end
  for _, p in ipairs(extra or {}) do pods[#pods + 1] = p end
  return pods
end

function M.queue_spec(value, target, over)
  local spec = {
    min_replicas = 1, max_replicas = 100, behavior = {},
    metrics = { { name = "queue", type = "External", value = value,
                  target = { type = "AverageValue", average_value = target } } },
  }
  for k, v in pairs(over or {}) do spec[k] = v end
  return spec
end

function M.tick(st, spec, now, current, status)
  return hpa.tick(st, spec, { now = now, current = current, status = status or current,
                              pods = M.running(status or current) })
end

return M
