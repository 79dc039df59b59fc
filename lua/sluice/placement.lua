-- Replicas per variant for the demand of every model group, across accelerator types and within
-- the GPU inventory: the cheapest capacity first when there is enough; when there is not, higher
-- priority first and, within a priority, the group served the least (as a fraction of its
-- demand) next. sluice.alloc solves this exactly when it is built in; otherwise a greedy fill
-- that follows the same order is used.
--
--   local placement = require "sluice.placement"
--   local n, served, how = placement.place(view, {
--     { name = "m", demand = 105, priority = 0, cands = {
--       { id = "ns/a", rate = 25.4, cost = 10, gpus = 1, type = "H100", min = 0, max = 8,
--         current = 2 }, ... } }, ... })
--   -- n[id] replicas; served[name] capacity placed (req/s); how = "alloc" or "greedy"
local M = {}

local floor, ceil, max, min = math.floor, math.ceil, math.max, math.min
local MAX_REPLICAS = 100000   -- the allocator's bound per variant

-- GPUs each accelerator type can give the variants: the free ones plus those the variants already
-- hold. Types without inventory, or with a total of 0 (no count known: the simulator's unlimited
-- pool), are absent: no limit.
local function gpus_available(view, groups)
  local avail = {}
  for _, g in ipairs(groups) do
    for _, c in ipairs(g.cands) do
      local a = view.inventory and view.inventory[c.type]
      if a and (a.total or 0) > 0 and avail[c.type] == nil then
        avail[c.type] = max(a.free or 0, 0)
      end
    end
  end
  for _, g in ipairs(groups) do
    for _, c in ipairs(g.cands) do
      if avail[c.type] then avail[c.type] = avail[c.type] + c.current * c.gpus end
    end
  end
  return avail
end
M.gpus_available = gpus_available

local function fits(avail, c)
  return avail[c.type] == nil or avail[c.type] >= c.gpus
end

function M.greedy(view, groups)
  local avail = gpus_available(view, groups)
  local n, served = {}, {}
  for _, g in ipairs(groups) do
    served[g.name] = 0
    for _, c in ipairs(g.cands) do
      n[c.id] = c.min
      served[g.name] = served[g.name] + c.min * c.rate
      if avail[c.type] then avail[c.type] = avail[c.type] - c.min * c.gpus end
    end
    -- Cheapest per req/s first; ties by id so runs repeat.
    table.sort(g.cands, function(a, b)
      local ea, eb = a.cost / a.rate, b.cost / b.rate
      if ea ~= eb then return ea < eb end
      return a.id < b.id
    end)
  end
  local order = {}
  for i, g in ipairs(groups) do order[i] = g end
  table.sort(order, function(a, b)
    local pa, pb = a.priority or 0, b.priority or 0
    if pa ~= pb then return pa > pb end
    return a.name < b.name
  end)
  local i = 1
  while i <= #order do
    -- One priority level at a time.
    local level, j = {}, i
    while j <= #order and (order[j].priority or 0) == (order[i].priority or 0) do
      level[#level + 1] = order[j]
      j = j + 1
    end
    -- The group served the least fraction of its demand takes its next replica, on its cheapest
    -- variant that still has room and GPUs; when it is the only one short it takes all it needs.
    while true do
      local pick, frac, cand
      for _, g in ipairs(level) do
        if served[g.name] < g.demand then
          local c
          for _, x in ipairs(g.cands) do
            if n[x.id] < x.max and fits(avail, x) then
              c = x
              break
            end
          end
          local f = served[g.name] / g.demand
          if c and (pick == nil or f < frac or (f == frac and g.name < pick.name)) then
            pick, frac, cand = g, f, c
          end
        end
      end
      if not pick then break end
      local add = 1
      local short = 0
      for _, g in ipairs(level) do
        if served[g.name] < g.demand then short = short + 1 end
      end
      if short == 1 then
        add = ceil((pick.demand - served[pick.name]) / cand.rate - 1e-9)
        add = min(add, cand.max - n[cand.id])
        if avail[cand.type] then add = min(add, floor(avail[cand.type] / cand.gpus)) end
        add = max(add, 1)
      end
      n[cand.id] = n[cand.id] + add
      served[pick.name] = served[pick.name] + add * cand.rate
      if avail[cand.type] then avail[cand.type] = avail[cand.type] - add * cand.gpus end
    end
    i = j
  end
  return n, served
end

-- sluice.alloc when it is built in.
local alloc_ok, alloc = pcall(require, "sluice.alloc")
if not (alloc_ok and type(alloc) == "table" and type(alloc.solve) == "function") then
  alloc = nil
end

local function solve_alloc(view, groups)
  local avail = gpus_available(view, groups)
  local pg, pv, inv = {}, {}, {}
  for _, g in ipairs(groups) do
    pg[#pg + 1] = { name = g.name, demand = g.demand, priority = g.priority or 0 }
    for _, c in ipairs(g.cands) do
      pv[#pv + 1] = { id = c.id, group = g.name, accelerator = c.type, gpus = c.gpus,
        max_rate = c.rate, cost = c.cost, min = c.min,
        max = min(c.max, MAX_REPLICAS), current = min(c.current, MAX_REPLICAS) }
      inv[c.type] = avail[c.type] and floor(avail[c.type]) or "unlimited"
    end
  end
  -- The allocator's default transition penalty (0.1 of a replica's cost per replica moved) keeps
  -- placements from churning between variants that cost about the same.
  local ok, r = pcall(alloc.solve, { groups = pg, variants = pv, inventory = inv })
  if not (ok and type(r) == "table" and type(r.replicas) == "table") then return nil end
  local n, served = {}, {}
  for _, g in ipairs(groups) do
    served[g.name] = 0
    for _, c in ipairs(g.cands) do
      local k = r.replicas[c.id] or c.min
      n[c.id] = k
      served[g.name] = served[g.name] + k * c.rate
    end
  end
  return n, served
end

-- Replicas by variant id, capacity placed by group name, and which solver placed them.
function M.place(view, groups)
  local many = #groups > 1
  for _, g in ipairs(groups) do
    if #g.cands > 1 then many = true end
  end
  if alloc and many then
    local n, served = solve_alloc(view, groups)
    if n then return n, served, "alloc" end
  end
  local n, served = M.greedy(view, groups)
  return n, served, "greedy"
end

return M
