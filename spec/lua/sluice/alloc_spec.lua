-- sluice.alloc: the allocator as policies call it.
local alloc = require "sluice.alloc"

-- Two models on two accelerator types.
local function problem(inventory)
  return {
    groups = {
      { name = "llama-8b", demand = 120, priority = 100, slo_class = "chat" },
      { name = "qwen-72b", demand = 20, priority = 50 },
    },
    variants = {
      { id = "llama-8b-h100", group = "llama-8b", accelerator = "H100", gpus = 1,
        max_rate = 30, cost = 4, max = 8, current = 2 },
      { id = "llama-8b-l40s", group = "llama-8b", accelerator = "L40S", gpus = 1,
        max_rate = 12, cost = 1.3, max = 16 },
      { id = "qwen-72b-h100", group = "qwen-72b", accelerator = "H100", gpus = 4,
        max_rate = 6, cost = 16, max = 4 },
    },
    inventory = inventory,
  }
end

local function sum_gpus(p, r, acc)
  local n = 0
  for _, v in ipairs(p.variants) do
    if v.accelerator == acc then n = n + r.replicas[v.id] * (v.gpus or 1) end
  end
  return n
end

describe("sluice.alloc.solve", function()
  it("serves every group at least cost when the inventory suffices", function()
    local p = problem({ H100 = 64, L40S = 64 })
    local r = assert(alloc.solve(p))
    assert.is_false(r.shortage)
    assert.are.equal(1, r.groups["llama-8b"].served)
    assert.are.equal(1, r.groups["qwen-72b"].served)
    -- qwen needs 20 req/s at 6 per replica: 4 replicas of 4 GPUs.
    assert.are.equal(4, r.replicas["qwen-72b-h100"])
    -- llama: L40S costs 1.3/12 per req/s against 4/30 on H100, so L40S carries it (10 x 12),
    -- but dropping its 2 current H100 replicas costs the transition penalty, which the L40S
    -- saving outweighs.
    assert.are.equal(10, r.replicas["llama-8b-l40s"])
    assert.are.equal(0, r.replicas["llama-8b-h100"])
    assert.is_true(r.optimal)
    assert.are.equal(r.objective, r.cost_bound)
    assert.is_true(r.lp_cost_bound <= r.cost_bound)
  end)

  it("puts the higher priority first when GPUs are short, and shares the rest", function()
    local p = problem({ H100 = 12, L40S = 4 })
    local r = assert(alloc.solve(p))
    assert.is_true(r.shortage)
    assert.are.equal(1, r.groups["llama-8b"].served)      -- priority 100
    assert.is_true(r.groups["qwen-72b"].served < 1)       -- priority 50 gets what is left
    assert.are.equal(50, r.fair_priority)
    assert.is_true(sum_gpus(p, r, "H100") <= 12)
    assert.is_true(sum_gpus(p, r, "L40S") <= 4)
    assert.are.equal(r.groups["qwen-72b"].served, r.groups["qwen-72b"].attainment)
    assert.are.equal(r.replicas["qwen-72b-h100"] * 6, r.groups["qwen-72b"].capacity)
  end)

  it("reads WVA's priority order (1 = most important) when asked", function()
    local p = problem({ H100 = 16, L40S = 4 })
    p.groups[1].priority, p.groups[2].priority = 2, 1  -- now qwen comes first
    p.priority_order = "wva"
    local r = assert(alloc.solve(p))
    assert.are.equal(1, r.groups["qwen-72b"].served)    -- all 16 H100 GPUs
    assert.are.equal(48 / 120, r.groups["llama-8b"].served)  -- 4 L40S replicas of 12 req/s
    assert.are.equal(2, r.fair_priority)
  end)

  it("shares equally by served fraction within a priority (max-min)", function()
    local r = assert(alloc.solve{
      groups = { a = { demand = 10 }, b = { demand = 20 } },
      variants = {
        ["a-x"] = { group = "a", accelerator = "x", max_rate = 1, cost = 1, max = 30 },
        ["b-x"] = { group = "b", accelerator = "x", max_rate = 1, cost = 1, max = 30 },
      },
      inventory = { x = 15 },
    })
    assert.are.equal(5, r.replicas["a-x"])
    assert.are.equal(10, r.replicas["b-x"])
    assert.are.equal(0.5, r.fair_min)
  end)

  it("gives the same answer for list and map forms, in any order", function()
    local p = problem({ H100 = 12, L40S = 4 })
    local a = assert(alloc.solve(p))
    local m = { groups = {}, variants = {}, inventory = p.inventory }
    for i = #p.groups, 1, -1 do m.groups[p.groups[i].name] = p.groups[i] end
    for i = #p.variants, 1, -1 do m.variants[p.variants[i].id] = p.variants[i] end
    local b = assert(alloc.solve(m))
    assert.are.same(a.replicas, b.replicas)
    assert.are.same(a.groups, b.groups)
    assert.are.equal(a.objective, b.objective)
  end)

  it("treats a missing inventory as unlimited and stops at max", function()
    local p = problem(nil)
    p.groups[2].demand = 1000
    local r = assert(alloc.solve(p))
    assert.are.equal(4, r.replicas["qwen-72b-h100"])
    assert.is_true(r.shortage)
  end)

  it("keeps minimums even beyond the inventory and says so", function()
    local p = problem({ H100 = 2, L40S = 0 })
    p.variants[3].min = 1
    local r = assert(alloc.solve(p))
    assert.are.equal(1, r.replicas["qwen-72b-h100"])
    assert.is_true(r.overcommitted)
  end)

  it("raises for malformed arguments, naming the field", function()
    local function err_of(arg)
      local ok, e = pcall(alloc.solve, arg)
      assert.is_false(ok)
      return e
    end
    assert.matches("table expected", err_of(nil))
    assert.matches("solve.groups: want a table", err_of({ variants = {} }))
    local p = problem({ H100 = 8 })
    assert.matches("variants%[2%]%.accelerator: 'L40S' not in inventory", err_of(p))
    p = problem({ H100 = 8, L40S = 8 })
    p.variants[1].group = "nope"
    assert.matches("variants%[1%]%.group: no group named 'nope'", err_of(p))
    p = problem({ H100 = 8, L40S = 8 })
    p.groups[2].name = "llama-8b"
    assert.matches("groups: duplicate name 'llama%-8b'", err_of(p))
    p = problem({ H100 = 8, L40S = 8 })
    p.variants[2].max = nil
    assert.matches("variants%[2%]%.max: missing", err_of(p))
    p = problem({ H100 = 8, L40S = 8 })
    p.variants[2].gpus = 1.5
    assert.matches("variants%[2%]%.gpus: 1.5 is not a whole number", err_of(p))
    p = problem({ H100 = "lots", L40S = 8 })
    assert.matches("inventory.H100: want a number of GPUs or 'unlimited'", err_of(p))
    p = problem({ H100 = 8, L40S = 8 })
    p.groups[1].demand = "high"
    assert.matches("groups%[1%]%.demand: want a number, got string", err_of(p))
    p = problem({ H100 = 8, L40S = 8 })
    p.priority_order = "random"
    assert.matches("priority_order", err_of(p))
    p = problem({ H100 = 8, L40S = 8 })
    p.effort = -1
    assert.matches("effort", err_of(p))
  end)

  it("returns nil and a message for values the allocator rejects", function()
    local p = problem({ H100 = 8, L40S = 8 })
    p.groups[2].demand = -3
    local r, e = alloc.solve(p)
    assert.is_nil(r)
    assert.matches("groups%[2%]%.demand: %-3, want a number >= 0", e)
    p = problem({ H100 = 8, L40S = 8 })
    p.variants[3].min, p.variants[3].max = 3, 2
    r, e = alloc.solve(p)
    assert.is_nil(r)
    assert.matches("variants%[3%]%.max: 2, want min %(3%)", e)
    p = problem({ H100 = 8, L40S = 8 })
    p.transition_penalty = 1.5
    r, e = alloc.solve(p)
    assert.is_nil(r)
    assert.matches("transition_penalty", e)
  end)

  it("does no work beyond its effort budget", function()
    local groups, variants = {}, {}
    for i = 1, 40 do
      groups[i] = { name = "g" .. i, demand = 10 + i }
      for _, acc in ipairs({ "a", "b", "c" }) do
        variants[#variants + 1] = { id = "g" .. i .. acc, group = "g" .. i, accelerator = acc,
          max_rate = ({ a = 3, b = 5, c = 8 })[acc] + i % 3, cost = ({ a = 1, b = 2, c = 4 })[acc],
          max = 20 }
      end
    end
    local p = { groups = groups, variants = variants, inventory = { a = 40, b = 40, c = 40 } }
    p.effort = 0
    local quick = assert(alloc.solve(p))
    p.effort = 200000
    local full = assert(alloc.solve(p))
    assert.is_true(quick.work < full.work)
    assert.is_true(full.objective <= quick.objective + 1e-9)
  end)
end)
