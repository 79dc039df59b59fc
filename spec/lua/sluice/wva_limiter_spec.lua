local wv = require "support.wvaview"
local wva = require "sluice.wva"
local variant, view_of = wv.variant, wv.view_of
local limiter = require "sluice.wva_limiter"

local V1 = { version = 1 }

describe("wva V1 GPU limiter", function()
  it("limits scale-up to free GPUs, most saturated model first", function()
    -- 5 H100, 4 held by the two variants: 1 free. y's spare 0.01 < x's 0.05, so y gets it
    -- although x sorts first by name.
    local vs = {
      variant("llm/x", { model = "m1", kv = { 0.75, 0.75 } }),
      variant("llm/y", { model = "m2", kv = { 0.79, 0.79 } }),
    }
    local inv = { H100 = { total = 5, cost = 3 } }
    local d = wva.decide(view_of(vs, { inventory = inv }), { version = 1, limiter = true }, {})
    assert.are.equal(2, d["llm/x"].replicas)
    assert.are.equal(3, d["llm/y"].replicas)
    assert.matches("limited by H100", d["llm/x"].reason, 1, true)
    -- Without the limiter both grow.
    d = wva.decide(view_of(vs, { inventory = inv }), V1, {})
    assert.are.equal(3, d["llm/x"].replicas)
  end)

  it("does not limit a type whose total is 0 (no count known)", function()
    local vs = {
      variant("llm/x", { model = "m1", kv = { 0.75, 0.75 } }),
      variant("llm/y", { model = "m2", kv = { 0.79, 0.79 } }),
    }
    local inv = { H100 = { total = 0, used = 4, cost = 3 } }
    local d = wva.decide(view_of(vs, { inventory = inv }), { version = 1, limiter = true }, {})
    assert.are.equal(3, d["llm/x"].replicas)
    assert.are.equal(3, d["llm/y"].replicas)
  end)
end)
