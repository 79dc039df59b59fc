local placement = require "sluice.placement"

local function view(inventory)
  local inv = {}
  for t, a in pairs(inventory or {}) do
    inv[t] = { type = t, total = a.total, used = a.used or 0, free = a.total - (a.used or 0) }
  end
  return { inventory = inv }
end

local function cand(id, type, rate, cost, o)
  o = o or {}
  return { id = id, type = type, rate = rate, cost = cost, gpus = o.gpus or 1, min = o.min or 0,
    max = o.max or 100, current = o.current or 0 }
end

describe("sluice.placement (greedy)", function()
  it("fills the cheapest capacity per req/s first", function()
    -- b: 6 per 20 req/s = 0.3; a: 10 per 25 = 0.4. 70 req/s: ceil(70 / 20) = 4 on b.
    local n, served = placement.greedy(view(), { { name = "m", demand = 70, cands = {
      cand("a", "H100", 25, 10), cand("b", "A100", 20, 6) } } })
    assert.are.same({ a = 0, b = 4 }, n)
    assert.are.equal(80, served.m)
  end)

  it("stays within max and the free GPUs, counting those the variants hold", function()
    -- A100: 8 in total, 6 used, 2 of them by b itself: b may have 2 + 2 = 4 (2 GPUs each: 2).
    local n = placement.greedy(view{ A100 = { total = 8, used = 6 } }, { { name = "m",
      demand = 100, cands = { cand("a", "H100", 25, 10), cand("b", "A100", 20, 6,
        { gpus = 2, current = 1 }) } } })
    -- b: 2 replicas (40 req/s); the other 60 on a: ceil(60 / 25) = 3.
    assert.are.same({ a = 3, b = 2 }, n)
  end)

  it("under shortage serves higher priority first, then the least-served group", function()
    -- 6 H100 GPUs, 10 req/s per replica. hi (priority 1) wants 30: 3. lo1 and lo2 (priority 0)
    -- want 40 and 20 with 3 GPUs left: each replica goes to the least-served fraction: both at
    -- 0, by name lo1 (now 0.25); lo2 (0 → 0.5); lo1 (0.25 → 0.5); no GPU left.
    local inv = view{ H100 = { total = 6 } }
    local n = placement.greedy(inv, {
      { name = "lo1", demand = 40, priority = 0, cands = { cand("lo1/a", "H100", 10, 1) } },
      { name = "hi", demand = 30, priority = 1, cands = { cand("hi/a", "H100", 10, 1) } },
      { name = "lo2", demand = 20, priority = 0, cands = { cand("lo2/a", "H100", 10, 1) } },
    })
    assert.are.same({ ["hi/a"] = 3, ["lo1/a"] = 2, ["lo2/a"] = 1 }, n)
  end)

  it("places minimums even past the demand", function()
    local n = placement.greedy(view(), { { name = "m", demand = 0, cands = {
      cand("a", "H100", 25, 10, { min = 2 }) } } })
    assert.are.same({ a = 2 }, n)
  end)
end)

describe("sluice.placement.place", function()
  it("solves with sluice.alloc when there is a choice, and agrees with the greedy fill", function()
    local inv = view{ H100 = { total = 6 } }
    local function groups()
      return {
        { name = "lo1", demand = 40, priority = 0, cands = { cand("lo1/a", "H100", 10, 1) } },
        { name = "hi", demand = 30, priority = 1, cands = { cand("hi/a", "H100", 10, 1) } },
        { name = "lo2", demand = 20, priority = 0, cands = { cand("lo2/a", "H100", 10, 1) } },
      }
    end
    local n, served, how = placement.place(inv, groups())
    assert.are.equal("alloc", how)
    -- Leximin within priority 0: (2, 1) serves both halves; (1, 2) leaves lo1 at a quarter.
    assert.are.same({ ["hi/a"] = 3, ["lo1/a"] = 2, ["lo2/a"] = 1 }, n)
    assert.are.equal(20, served.lo1)
    assert.are.same(n, (placement.greedy(inv, groups())))
  end)

  it("fills one group with one variant without the solver", function()
    local n, _, how = placement.place(view(), { { name = "m", demand = 70, cands = {
      cand("a", "H100", 25, 10) } } })
    assert.are.equal("greedy", how)
    assert.are.same({ a = 3 }, n)
  end)
end)
