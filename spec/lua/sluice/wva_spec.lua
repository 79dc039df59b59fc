local wv = require "support.wvaview"
local wva = require "sluice.wva"
local variant, view_of = wv.variant, wv.view_of
local two_models = wv.two_models

describe("wva composition of its stages", function()
  it("falls back to the cost-aware optimizer without an inventory", function()
    -- two_models (spec/support/wvaview.lua) with the limiter on but no GPU counts: cost-aware
    -- adds a +ceil(3.3) = 4 and b +ceil(1.2) = 2, as without the limiter.
    local view = two_models(8)
    view.inventory = {}
    local d = wva.decide(view, { limiter = true }, {})
    assert.are.same({ 6, 4 }, { d["llm/a"].replicas, d["llm/b"].replicas })
  end)
end)

describe("wva.validate", function()
  it("accepts WVA's defaults", function()
    assert.is_nil(wva.validate({}))
    assert.is_nil(wva.validate({ version = 1, limiter = true }))
  end)

  it("rejects bad values, naming the field", function()
    assert.matches("version", wva.validate({ version = 3 }))
    assert.matches("scale_up_threshold", wva.validate({ scale_up_threshold = 0.6 }))
    assert.matches("kv_cache_threshold", wva.validate({ kv_cache_threshold = 1.5 }))
    assert.matches("retention", wva.validate({ retention = 0 }))
    assert.matches("model_priority%[1%].priority",
      wva.validate({ model_priority = { { model = "m", priority = "high" } } }))
    assert.matches("model_priority%[1%].model", wva.validate({ model_priority = { { priority = 2 } } }))
    assert.matches("unknown parameter kv", wva.validate({ kv = 0.8 }))
  end)
end)
