local wv = require "support.wvaview"
local wva = require "sluice.wva"
local variant, view_of = wv.variant, wv.view_of
local v1 = require "sluice.wva_v1"

local V1 = { version = 1 }

-- Cases driven through sluice.wva with version = 1, which runs this stage.
describe("wva V1 (percentage analyzer)", function()
  it("reproduces the documented example: 65% and 72% hold, 65% and 76% scale up", function()
    -- Spare KV = 0.80 - usage: 0.15 and 0.08, mean 0.115 >= 0.10, queue spare 5 - 0 >= 3: no
    -- scale-up. Scale-down: load 0.80 - 0.115 = 0.685, x 2/1 = 1.37, spare 0.80 - 1.37 < 0.10:
    -- unsafe. So 2 holds.
    local d = wva.decide(view_of({ variant("llm/a", { kv = { 0.65, 0.72 } }) }), V1, {})
    assert.are.equal(2, d["llm/a"].replicas)
    -- Spares 0.15 and 0.04, mean 0.095 < 0.10: +1.
    d = wva.decide(view_of({ variant("llm/a", { kv = { 0.65, 0.76 } }) }), V1, {})
    assert.are.equal(3, d["llm/a"].replicas)
    assert.matches("spare kv 0.095 < 0.10", d["llm/a"].reason, 1, true)
  end)

  it("scales up on the queue spare trigger", function()
    -- Queue spare = 5 - waiting: 2 and 1, mean 1.5 < 3 (KV spare 0.5 is ample): +1.
    local d = wva.decide(view_of({ variant("llm/a", { kv = { 0.3, 0.3 }, q = { 3, 4 } }) }), V1, {})
    assert.are.equal(3, d["llm/a"].replicas)
  end)

  it("leaves saturated replicas out of the spare average", function()
    -- 0.99 is saturated (>= 0.80) and ignored; the other's spare 0.15 >= 0.10: no scale-up. Had it
    -- counted, the mean (-0.19 + 0.15) / 2 < 0.10 would scale up. One non-saturated replica is too
    -- few to scale down: 2 holds.
    local d = wva.decide(view_of({ variant("llm/a", { kv = { 0.99, 0.65 } }) }), V1, {})
    assert.are.equal(2, d["llm/a"].replicas)
  end)

  it("scales up when every replica is saturated", function()
    -- No non-saturated replica: spares read 0 < 0.10.
    local d = wva.decide(view_of({ variant("llm/a", { kv = { 0.9, 0.85 } }) }), V1, {})
    assert.are.equal(3, d["llm/a"].replicas)
  end)

  it("adds one replica to the cheapest variant, ties broken by name", function()
    -- Each pod at 0.76: spare 0.04 < 0.10. Cheapest cost 5 is shared by b and c; b sorts first.
    local d = wva.decide(view_of({
      variant("llm/c", { kv = { 0.76 }, cost = 5 }),
      variant("llm/a", { kv = { 0.76 }, cost = 10 }),
      variant("llm/b", { kv = { 0.76 }, cost = 5 }),
    }), V1, {})
    assert.are.equal(1, d["llm/a"].replicas)
    assert.are.equal(2, d["llm/b"].replicas)
    assert.are.equal(1, d["llm/c"].replicas)
  end)

  it("removes one replica from the most expensive variant above 1, ties by name last", function()
    -- Five pods at 0.10: spare 0.70; after removal load 0.10 x 5/4 = 0.125, spare 0.675 >= 0.10,
    -- queue spare stays 5 >= 3: safe. c (cost 20) has 1 replica and is skipped; a and b cost 10,
    -- b sorts last by name and is chosen.
    local d = wva.decide(view_of({
      variant("llm/a", { kv = { 0.1, 0.1 }, cost = 10 }),
      variant("llm/b", { kv = { 0.1, 0.1 }, cost = 10 }),
      variant("llm/c", { kv = { 0.1 }, cost = 20 }),
    }), V1, {})
    assert.are.equal(2, d["llm/a"].replicas)
    assert.are.equal(1, d["llm/b"].replicas)
    assert.are.equal(1, d["llm/c"].replicas)
  end)

  it("scales down only when spreading the load over N-1 replicas keeps the spare", function()
    -- Three at 0.45: load 0.45 x 3/2 = 0.675, spare 0.125 >= 0.10: safe, -1.
    local d = wva.decide(view_of({ variant("llm/a", { kv = { 0.45, 0.45, 0.45 } }) }), V1, {})
    assert.are.equal(2, d["llm/a"].replicas)
    -- Three at 0.50: load 0.75, spare 0.05 < 0.10: unsafe (spare now 0.30, so no scale-up either).
    d = wva.decide(view_of({ variant("llm/a", { kv = { 0.5, 0.5, 0.5 } }) }), V1, {})
    assert.are.equal(3, d["llm/a"].replicas)
    -- The queue must stay safe too: waiting 2 each, load 2 x 3/2 = 3, spare 5 - 3 = 2 < 3.
    d = wva.decide(view_of({ variant("llm/a", { kv = { 0.1, 0.1, 0.1 }, q = { 2, 2, 2 } }) }), V1,
      {})
    assert.are.equal(3, d["llm/a"].replicas)
  end)

  it("needs two non-saturated replicas to scale down", function()
    -- 0.05 and 0.95: one non-saturated replica (spare 0.75, no scale-up): hold.
    local d = wva.decide(view_of({ variant("llm/a", { kv = { 0.05, 0.95 } }) }), V1, {})
    assert.are.equal(2, d["llm/a"].replicas)
  end)

  it("freezes the whole model while a replica is starting", function()
    -- a is saturated (spare 0.01) but b's only replica is loading: every variant holds.
    local d = wva.decide(view_of({
      variant("llm/a", { kv = { 0.79, 0.79 }, cost = 5 }),
      variant("llm/b", { starting = 1 }),
    }), V1, {})
    assert.are.equal(2, d["llm/a"].replicas)
    assert.are.equal(1, d["llm/b"].replicas)
    assert.matches("llm/b 1 pending", d["llm/a"].reason, 1, true)
    -- A Ready pod that has not reported yet freezes it too: 1 of 2 reporting.
    local b = variant("llm/b", { kv = { 0.2 } })
    b.replicas.spec, b.replicas.ready = 2, 2
    b.pods[2] = { name = "b-2", signals = {} }
    d = wva.decide(view_of({ variant("llm/a", { kv = { 0.79, 0.79 }, cost = 5 }), b }), V1, {})
    assert.are.equal(2, d["llm/a"].replicas)
    assert.matches("llm/b 1 of 2 replicas reporting", d["llm/a"].reason, 1, true)
  end)

  it("holds at its last target until the workload reaches it, then moves again", function()
    local state = { desired = { ["llm/a"] = 3 } }
    -- Last target 3, workload still at 2: hold at 3, not 3 + 1.
    local d = wva.decide(view_of({ variant("llm/a", { kv = { 0.76, 0.76 } }) }), V1, state)
    assert.are.equal(3, d["llm/a"].replicas)
    -- At 3 with all 3 reporting (still spare 0.04): +1.
    d = wva.decide(view_of({ variant("llm/a", { kv = { 0.76, 0.76, 0.76 } }) }, { time = 1015 }),
      V1, state)
    assert.are.equal(4, d["llm/a"].replicas)
  end)
end)

describe("wva V1, the stage on its own", function()
  local params = require "sluice.params"
  local inputs = require "sluice.wva_inputs"
  -- WVA's defaults: thresholds 0.80 / 5, triggers 0.10 / 3.
  local P = params.resolve(wva.defaults, { version = 1 })

  local function near(want, got)
    assert.is_true(math.abs(want - got) < 1e-9, string.format("want %.12g, got %.12g", want, got))
  end

  it("analyze averages spare KV and queue over the non-saturated replicas of every variant",
    function()
      -- 0.9 is saturated. Spares: KV (0.30 + 0.20) / 2 = 0.25, queue (4 + 2) / 2 = 3: neither is
      -- below its trigger (0.10, 3), so no scale-up.
      local a = v1.analyze(P, { { { kv = 0.5, q = 1 } },
        { { kv = 0.9, q = 0 }, { kv = 0.6, q = 3 } } })
      assert.are.equal(3, a.replicas)
      assert.are.equal(2, a.nonsaturated)
      near(0.25, a.spare_kv)
      near(3, a.spare_q)
      assert.is_false(a.up)
      -- Without one of the two: KV 0.80 - (0.80 - 0.25) x 2 < 0.10: unsafe.
      near(0.8 - 0.55 * 2, a.after_kv)
      assert.is_false(a.down_safe)
    end)

  it("analyze counts a replica at the queue threshold as saturated whatever its KV", function()
    -- Waiting 5 >= 5 leaves one non-saturated replica: too few to scale down.
    local a = v1.analyze(P, { { { kv = 0.1, q = 5 }, { kv = 0.1, q = 0 } } })
    assert.are.equal(1, a.nonsaturated)
    assert.is_false(a.down_safe)
  end)

  it("analyze allows a scale-down when both spares survive spreading the load over N-1",
    function()
      -- Three at 0.2, no queue: load 0.2 x 3/2 = 0.3, spare KV 0.5 >= 0.10; queue spare 5 >= 3.
      local a = v1.analyze(P, { { { kv = 0.2, q = 0 }, { kv = 0.2, q = 0 }, { kv = 0.2, q = 0 } } })
      near(0.5, a.after_kv)
      near(5, a.after_q)
      assert.is_true(a.down_safe)
      assert.is_false(a.up)
    end)

  it("analyze neither scales up nor down without replica metrics", function()
    local a = v1.analyze(P, {})
    assert.are.same({ 0, false, false }, { a.replicas, a.up, a.down_safe })
  end)

  local function decide(variants)
    local view = view_of(variants)
    local state = { pods = {}, desired = {} }
    inputs.observe_pods(view, state, P.metrics_window)
    local targets, reasons, costs = {}, {}, {}
    local a = v1.decide(view, P, state, inputs.model_groups(view)[1], targets, reasons, costs)
    return targets, reasons, costs, a
  end

  it("decide keeps every target inside the variant's [min, max]", function()
    -- All saturated wants +1, but max is 2.
    local targets = decide({ variant("llm/a", { kv = { 0.9, 0.9 }, max = 2 }) })
    assert.are.equal(2, targets["llm/a"])
    -- A safe scale-down (three at 0.1) wants -1, but min is 3.
    targets = decide({ variant("llm/a", { kv = { 0.1, 0.1, 0.1 }, min = 3 }) })
    assert.are.equal(3, targets["llm/a"])
    -- Without the bounds the same inputs move.
    assert.are.equal(3, (decide({ variant("llm/a", { kv = { 0.9, 0.9 } }) }))["llm/a"])
    assert.are.equal(2, (decide({ variant("llm/a", { kv = { 0.1, 0.1, 0.1 } }) }))["llm/a"])
  end)

  it("decide reads costs only from variants with replica metrics and returns the analysis",
    function()
      local targets, reasons, costs, a = decide({
        variant("llm/a", { kv = { 0.5 }, cost = 7 }),
        variant("llm/b", { spec = 0, min = 0, cost = 3 }),
      })
      assert.are.same({ ["llm/a"] = 7 }, costs)
      assert.are.equal(1, a.replicas)
      assert.are.same({ 1, 0 }, { targets["llm/a"], targets["llm/b"] })
      assert.matches("^V1 ", reasons["llm/b"])
    end)
end)
