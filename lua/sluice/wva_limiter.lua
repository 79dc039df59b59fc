-- WVA's V1 GPU limiter (enableLimiter): after V1 has sized every model, scale-ups are granted
-- out of the GPUs the inventory has free (sluice.wva_inputs.gpu_available), most saturated model
-- first (least spare KV), then cheapest, then by id. A variant that gets less than it asked for
-- stops at what fits (never below its min) and says which accelerator limited it.
--
--   limiter.limit(view, groups, targets, notes, spare_of)
--
-- `targets` (id -> replicas) and `notes` (id -> text) are changed in place; `spare_of` maps a
-- model to the spare KV fraction V1 read for it. Nothing is limited when no accelerator type has
-- a known count.
local inputs = require "sluice.wva_inputs"

local M = {}

local floor = math.floor
local format = string.format
local gpus_of = inputs.gpus_of
local gpu_available = inputs.gpu_available

function M.limit(view, groups, targets, notes, spare_of)
  local avail = gpu_available(view, groups)
  if not avail then return end
  local cands = {}
  for _, g in ipairs(groups) do
    for _, v in ipairs(g.variants) do
      if targets[v.id] > v.replicas.spec then
        cands[#cands + 1] = { id = v.id, v = v, spare = spare_of[g.model] or 0, cost = v.cost or 0 }
      end
    end
  end
  -- Most saturated first (least spare), then cheapest.
  table.sort(cands, function(a, b)
    if a.spare ~= b.spare then return a.spare < b.spare end
    if a.cost ~= b.cost then return a.cost < b.cost end
    return a.id < b.id
  end)
  for _, c in ipairs(cands) do
    local v = c.v
    local want = targets[v.id] - v.replicas.spec
    local free = avail[v.accelerator] or 0
    local grant = math.min(want, floor(free / gpus_of(v)))
    if grant < want then
      targets[v.id] = math.max(v.replicas.spec + grant, v.min or 0)
      notes[v.id] = format("limited by %s: %d GPUs free, %d per replica", v.accelerator, free,
        gpus_of(v))
    end
    if avail[v.accelerator] then avail[v.accelerator] = free - grant * gpus_of(v) end
  end
end

return M
