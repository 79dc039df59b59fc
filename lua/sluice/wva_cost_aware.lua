-- WVA's cost-aware optimizer (its default, without the limiter) over the V2 analysis, and the
-- allocation pieces GreedyByScore (sluice.wva_greedy) reuses. Capacity is added where it is
-- cheapest per token (cost / per-replica capacity, ties by id) with room under its max, several
-- replicas in one cycle when the deficit needs them, prefill and decode grown in matched
-- proportion; when no role needs capacity, SC is removed from the most expensive variant first,
-- the last variant serving keeping one replica.
--
--   cost_aware.optimize(mr, targets)              -- mr from sluice.wva_v2.analyze
--
-- `targets` (id -> replicas, starting at the current counts) is changed in place.
local inputs = require "sluice.wva_inputs"

local M = {}

local floor, ceil, huge = math.floor, math.ceil, math.huge
local sorted_keys, by_id = inputs.sorted_keys, inputs.by_id

-- The (model, role) units the optimizers allocate over: each role of a disaggregated model, or
-- one synthetic "both" carrying the model-level RC and SC.
local function role_state(mr)
  local roles, need, spare = {}, {}, {}
  if mr.roles then
    for _, role in ipairs(sorted_keys(mr.roles)) do
      roles[#roles + 1] = role
      need[role], spare[role] = mr.roles[role].rc, mr.roles[role].sc
    end
  else
    roles[1] = "both"
    need.both, spare.both = mr.rc, mr.sc
  end
  return roles, need, spare
end

local function role_variants(mr, role)
  local out = {}
  for _, vc in ipairs(mr.vcs) do
    if vc.role == role then out[#out + 1] = vc end
  end
  return out
end

local function cost_per_token(vc)
  if vc.prc <= 0 then return huge end
  return vc.cost / vc.prc
end

local function by_cost_efficiency(vcs)
  local s = {}
  for i, vc in ipairs(vcs) do s[i] = vc end
  table.sort(s, function(a, b)
    local ea, eb = cost_per_token(a), cost_per_token(b)
    if ea ~= eb then return ea < eb end
    return by_id(a, b)
  end)
  return s
end

-- Cost-aware pick: the cheapest variant per token of the role with replicas left under its max.
local function cost_pick(mr, role, targets)
  for _, vc in ipairs(by_cost_efficiency(role_variants(mr, role))) do
    if vc.prc > 0 then
      local head = (vc.v.max or huge) - targets[vc.id]
      if head > 0 then return vc, head end
    end
  end
  return nil
end

-- Add replicas while any role still needs capacity. Each round picks one variant per role, sizes
-- each role's step from its own deficit and commits every role at the smallest fraction of its
-- deficit the steps cover, so prefill and decode grow in matched proportion.
local function allocate_paired(mr, targets, need, roles, pick, available, work)
  local guard = 0
  while true do
    local any = false
    for _, role in ipairs(roles) do
      if need[role] > 0 then any = true end
    end
    if not any then return end
    guard = guard + 1
    if guard > 10000 then return end
    local chosen, cap = {}, {}
    for _, role in ipairs(roles) do
      local vc, c = pick(mr, role, targets, available)
      if not vc then return end
      chosen[role], cap[role] = vc, c
    end
    local n, util, delta = {}, {}, huge
    for _, role in ipairs(roles) do
      local prc, d = chosen[role].prc, need[role]
      local b = d > 0 and ceil(d / prc) or 0
      n[role] = math.min(b, cap[role])
      util[role] = d <= 0 and 1 or n[role] * prc / d
      if util[role] < delta then delta = util[role] end
    end
    if delta <= 0 then return end
    local k, positive = {}, false
    for _, role in ipairs(roles) do
      local prc, d = chosen[role].prc, need[role]
      k[role] = 0
      if prc > 0 and d > 0 then k[role] = math.max(floor(delta * d / prc), math.min(1, n[role])) end
      if k[role] > 0 then positive = true end
    end
    if not positive then return end
    for _, role in ipairs(roles) do
      local vc = chosen[role]
      targets[vc.id] = targets[vc.id] + k[role]
      need[role] = math.max(0, need[role] - k[role] * vc.prc)
      if available and k[role] > 0 then
        local t = vc.v.accelerator
        available[t] = (available[t] or 0) - k[role] * vc.gpus
      end
    end
    if work then
      local anchor = chosen.prefill and "prefill" or (chosen.both and "both" or nil)
      if anchor then
        work.model_rc = math.max(0, work.model_rc - k[anchor] * chosen[anchor].prc)
      end
    end
  end
end

-- Remove replicas role by role, most expensive first, each by as many whole replicas as the
-- role's spare covers; the cheapest variant keeps one replica when it is the last one serving.
local function scale_down(mr, targets, spare, roles)
  for _, role in ipairs(roles) do
    if spare[role] and spare[role] > 0 then
      local vcs = role_variants(mr, role)
      table.sort(vcs, function(a, b)
        if a.cost ~= b.cost then return a.cost > b.cost end
        if a.prc ~= b.prc then return a.prc < b.prc end
        return by_id(a, b)
      end)
      for i, vc in ipairs(vcs) do
        if vc.prc > 0 then
          local current = targets[vc.id]
          local removable = current - (vc.v.min or 0)
          if removable > 0 then
            local n = math.min(math.max(0, floor(spare[role] / vc.prc)), removable)
            if i == #vcs and current - n < 1 then
              local others = false
              for j = 1, i - 1 do
                if targets[vcs[j].id] > 0 then others = true end
              end
              if not others then n = current - 1 end
            end
            if n > 0 then
              targets[vc.id] = current - n
              spare[role] = math.max(0, spare[role] - n * vc.prc)
            end
          end
        end
      end
    end
  end
end

function M.optimize(mr, targets)
  local roles, need, spare = role_state(mr)
  local up = false
  for _, role in ipairs(roles) do
    if need[role] > 0 then up = true end
  end
  if up then
    allocate_paired(mr, targets, need, roles, cost_pick, nil, nil)
  else
    scale_down(mr, targets, spare, roles)
  end
end

-- For GreedyByScore, which allocates with the same rounds under a GPU budget.
M.role_state, M.role_variants, M.by_cost_efficiency = role_state, role_variants, by_cost_efficiency
M.allocate_paired, M.scale_down = allocate_paired, scale_down

return M
