-- WVA's GreedyByScore optimizer, which replaces the cost-aware one when the limiter is on and the
-- inventory knows how many GPUs each accelerator type has. Models that need capacity share the
-- free GPUs: each round the most starved model (priority x remaining RC, model_priority's weight,
-- default 1) is brought down towards the mean of the others, on its cheapest variant per token
-- with GPUs free, prefill and decode in matched proportion (sluice.wva_cost_aware's rounds).
-- Models that need nothing scale down as the cost-aware optimizer does.
--
--   greedy.optimize(p, mrs, targets, available)   -- mrs from sluice.wva_v2.analyze, one a model
--
-- `targets` (id -> replicas) and `available` (accelerator type -> free GPUs, from
-- sluice.wva_inputs.gpu_available) are changed in place.
local inputs = require "sluice.wva_inputs"
local cost_aware = require "sluice.wva_cost_aware"

local M = {}

local floor, ceil, huge = math.floor, math.ceil, math.huge
local sorted_keys = inputs.sorted_keys
local role_state, role_variants = cost_aware.role_state, cost_aware.role_variants
local by_cost_efficiency, allocate_paired = cost_aware.by_cost_efficiency,
  cost_aware.allocate_paired
local scale_down = cost_aware.scale_down

function M.optimize(p, mrs, targets, available)
  local work, others = {}, {}
  local function fair_share_value(w, need)
    local s, mx = 0, 0
    for _, role in ipairs(w.roles) do
      s = s + need[role]
      if need[role] > mx then mx = need[role] end
    end
    local fsv = w.priority * s
    if fsv > 0 then return fsv end
    return mx
  end
  local function fresh_need(w)
    local roles, need = role_state(w.mr)
    if not w.mr.roles then need.both = w.model_rc end
    return roles, need
  end
  local priority = {}
  for _, e in ipairs(p.model_priority) do priority[e.model] = e.priority end
  for _, mr in ipairs(mrs) do
    local roles, need = role_state(mr)
    local pr = priority[mr.model] or 1.0
    local w = { mr = mr, roles = roles, priority = pr, model_rc = mr.rc }
    local any = false
    for _, role in ipairs(roles) do
      if need[role] > 0 then any = true end
    end
    w.remaining = fair_share_value(w, need)
    if any or w.remaining > 0 then work[#work + 1] = w else others[#others + 1] = mr end
  end

  local function pick_for(target)
    return function(mr, role, tg, avail)
      for _, vc in ipairs(by_cost_efficiency(role_variants(mr, role))) do
        if vc.prc > 0 then
          local free = avail[vc.v.accelerator] or 0
          if free >= vc.gpus then
            local capn = math.min(ceil(target / vc.prc), floor(free / vc.gpus))
            local head = (vc.v.max or huge) - tg[vc.id]
            if head > 0 then
              capn = math.min(capn, head)
              if capn > 0 then return vc, capn end
            end
          end
        end
      end
      return nil
    end
  end

  local rounds = 0
  while rounds < 10000 do
    rounds = rounds + 1
    local active = {}
    for _, w in ipairs(work) do
      if w.remaining > 0 then active[#active + 1] = w end
    end
    if #active == 0 then break end
    local total = 0
    for _, t in ipairs(sorted_keys(available)) do total = total + available[t] end
    if total <= 0 then break end
    local mean = 0
    for _, w in ipairs(active) do mean = mean + w.remaining end
    mean = mean / #active
    table.sort(active, function(a, b)
      if a.remaining ~= b.remaining then return a.remaining > b.remaining end
      return a.mr.model < b.mr.model
    end)
    local w = active[1]
    local alloc_mean = mean
    if #active == 1 then
      alloc_mean = 0
    elseif w.remaining <= mean then
      alloc_mean = mean - w.remaining / #active
    end
    local target = w.remaining - alloc_mean
    local allocated = false
    if target > 0 then
      local old = w.remaining
      local _, need = fresh_need(w)
      for _, role in ipairs(w.roles) do
        if need[role] > target then need[role] = target end
      end
      allocate_paired(w.mr, targets, need, w.roles, pick_for(target), available, w)
      if w.mr.roles then
        w.remaining = fair_share_value(w, need)
      else
        local _, fn = fresh_need(w)
        w.remaining = fair_share_value(w, fn)
      end
      allocated = w.remaining < old
    end
    if not allocated or w.remaining > mean then w.remaining = -1 end
  end

  for _, mr in ipairs(others) do
    local roles, _, spare = role_state(mr)
    scale_down(mr, targets, spare, roles)
  end
end

return M
