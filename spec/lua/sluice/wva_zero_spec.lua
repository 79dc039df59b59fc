local wv = require "support.wvaview"
local wva = require "sluice.wva"
local variant, view_of = wv.variant, wv.view_of
local zero = require "sluice.wva_zero"

describe("scale-to-zero enforcer", function()
  local P = { scale_to_zero = true, retention = 600 }
  local function tick(state, time, opts)
    local v = variant("llm/a", { kv = { 0 }, min = 0 })
    v.signals.request_rate = opts.rate or 0
    return wva.decide(view_of({ v }, { time = time, models = opts.models }), P, state)["llm/a"]
  end

  it("scales the model to zero after a retention window without requests", function()
    local state = {}
    assert.are.equal(1, tick(state, 1000, { rate = 2 }).replicas)
    assert.are.equal(1, tick(state, 1599, {}).replicas)
    local d = tick(state, 1600, {})
    assert.are.equal(0, d.replicas)
    assert.matches("no requests for 600 s", d.reason, 1, true)
  end)

  it("counts requests queued at the gateway as activity", function()
    local state = {}
    tick(state, 1000, { rate = 2 })
    local d = tick(state, 1600, { models = { m = { signals = { queue_size = 1 } } } })
    assert.are.equal(1, d.replicas)
  end)

  it("keeps one replica on the cheapest variant when scale to zero is off", function()
    -- Neither variant reports replicas, so both read WVA's default cost 10; a wins by name.
    local d = wva.decide(view_of({
      variant("llm/b", { cost = 5, spec = 0, min = 0 }),
      variant("llm/a", { cost = 20, spec = 0, min = 0 }),
    }), nil, {})
    assert.are.equal(1, d["llm/a"].replicas)
    assert.are.equal(0, d["llm/b"].replicas)
  end)
end)

describe("scale-to-zero enforcer, on its own", function()
  local function group(...)
    local vs = {}
    for i, id in ipairs({ ... }) do vs[i] = { id = id } end
    return { model = "m", variants = vs }
  end
  local OFF = { scale_to_zero = false }
  local ON = { scale_to_zero = true, retention = 600 }

  it("with scale to zero off, leaves a model that keeps any replica alone", function()
    local targets, notes = { ["llm/a"] = 0, ["llm/b"] = 2 }, {}
    zero.enforce({ time = 1000 }, OFF, { active = {} }, group("llm/a", "llm/b"), targets,
      { ["llm/a"] = 1, ["llm/b"] = 9 }, notes)
    assert.are.same({ ["llm/a"] = 0, ["llm/b"] = 2 }, targets)
    assert.is_nil(next(notes))
  end)

  it("with scale to zero off, keeps one replica on the cheapest variant, ties by id", function()
    local targets, notes = { ["llm/a"] = 0, ["llm/b"] = 0 }, {}
    zero.enforce({ time = 1000 }, OFF, { active = {} }, group("llm/a", "llm/b"), targets,
      { ["llm/a"] = 20, ["llm/b"] = 5 }, notes)
    assert.are.same({ ["llm/a"] = 0, ["llm/b"] = 1 }, targets)
    assert.matches("cheapest variant llm/b (cost 5;", notes["llm/b"], 1, true)
    -- No cost and cost 0 both read as the default cost: a tie, so the first id.
    targets = { ["llm/a"] = 0, ["llm/b"] = 0 }
    zero.enforce({ time = 1000 }, OFF, { active = {} }, group("llm/b", "llm/a"), targets,
      { ["llm/b"] = 0 }, {})
    assert.are.same({ ["llm/a"] = 1, ["llm/b"] = 0 }, targets)
  end)

  it("with scale to zero on, zeroes every variant once the retention has passed, not sooner",
    function()
      local state = { active = { m = 1000 } }
      local targets = { ["llm/a"] = 2, ["llm/b"] = 1 }
      zero.enforce({ time = 1599 }, ON, state, group("llm/a", "llm/b"), targets, {}, {})
      assert.are.same({ ["llm/a"] = 2, ["llm/b"] = 1 }, targets)
      local notes = {}
      zero.enforce({ time = 1600 }, ON, state, group("llm/a", "llm/b"), targets, {}, notes)
      assert.are.same({ ["llm/a"] = 0, ["llm/b"] = 0 }, targets)
      assert.are.equal("scale-to-zero: no requests for 600 s (retention 600 s)", notes["llm/b"])
    end)

  it("with scale to zero on, keeps no replica back for a model the analysis left at zero",
    function()
      local targets, notes = { ["llm/a"] = 0 }, {}
      zero.enforce({ time = 1000 }, ON, { active = { m = 990 } }, group("llm/a"), targets,
        { ["llm/a"] = 5 }, notes)
      assert.are.equal(0, targets["llm/a"])
      assert.is_nil(next(notes))
    end)
end)
