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
