-- WVA's scale-to-zero enforcer, which runs after every analyzer and optimizer. With scale to
-- zero on, a model with no request activity for `retention` seconds goes to zero on every
-- variant; with it off, a model the analysis left at zero keeps one replica on its cheapest
-- variant (cost as the stage read it, DEFAULT_COST when none or <= 0; ties by id).
--
--   zero.enforce(view, p, state, g, targets, costs, notes)
--
-- `g` is a model group ({model, variants}); `targets` (id -> replicas) is changed in place and
-- `notes` (id -> text) gains the reason for every variant it changed. Activity comes from
-- `state.active` (sluice.wva_inputs.observe_activity).
local inputs = require "sluice.wva_inputs"

local M = {}

local format = string.format
local num = inputs.num
local DEFAULT_COST = inputs.DEFAULT_COST

function M.enforce(view, p, state, g, targets, costs, notes)
  if p.scale_to_zero then
    local last = state.active[g.model]
    if last and view.time - last >= p.retention then
      for _, v in ipairs(g.variants) do
        targets[v.id] = 0
        notes[v.id] = format("scale-to-zero: no requests for %s s (retention %s s)",
          num(view.time - last), num(p.retention))
      end
    end
    return
  end
  local sum = 0
  for _, v in ipairs(g.variants) do sum = sum + targets[v.id] end
  if sum > 0 then return end
  local best, best_cost
  for _, v in ipairs(g.variants) do
    local c = costs[v.id]
    if not c or c <= 0 then c = DEFAULT_COST end
    if not best or c < best_cost or (c == best_cost and v.id < best.id) then
      best, best_cost = v, c
    end
  end
  if best then
    targets[best.id] = 1
    notes[best.id] = format("keep 1 replica on the cheapest variant %s (cost %g; scale to zero "
      .. "off)", best.id, best_cost)
  end
end

return M
