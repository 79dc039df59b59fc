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

  it("runs V1 or V2 by version and remembers every target it returns in state.desired",
    function()
      local view = view_of({ variant("llm/a", { kv = { 0.76, 0.76 } }) })
      local state = {}
      local d = wva.decide(view, { version = 1 }, state)
      assert.matches("^V1 ", d["llm/a"].reason)
      assert.are.equal(d["llm/a"].replicas, state.desired["llm/a"])
      state = {}
      d = wva.decide(view, nil, state)
      assert.matches("^V2 ", d["llm/a"].reason)
      assert.are.equal(d["llm/a"].replicas, state.desired["llm/a"])
    end)

  it("keeps what WVA remembers as plain tables in the caller's state", function()
    local state = {}
    wva.decide(view_of({ variant("llm/a", { kv = { 0.5 }, q = { 5 } }) }), nil, state)
    for _, k in ipairs({ "pods", "k2", "cap", "desired", "active" }) do
      assert.are.equal("table", type(state[k]), k)
    end
    assert.is_not_nil(state.pods["llm/a#a-1"])
    assert.is_not_nil(next(state.k2))          -- waiting 5 at the threshold: k2 observed
    assert.is_not_nil(state.cap["llm/a"])
    assert.are.equal(1000, state.active.m)
  end)

  it("analyze returns V2's analysis by model and decides nothing", function()
    local state = {}
    local a = wva.analyze(view_of({ variant("llm/a", { kv = { 0.5 } }),
      variant("llm/b", { model = "m2", kv = { 0.5 } }) }), { version = 1 }, state)
    assert.are.same({ "llm/a", "llm/b" }, { a.m.vcs[1].id, a.m2.vcs[1].id })
    assert.is_nil(next(state.desired))
    assert.are.equal(require("sluice.wva_v2").derived_k2, wva.derived_k2)
  end)

  it("applies the scale-to-zero enforcer after either analyzer and appends its note", function()
    local P = { scale_to_zero = true, retention = 600 }
    for _, version in ipairs({ 1, 2 }) do
      local state = {}
      local function tick(t, rate)
        local v = variant("llm/a", { kv = { 0 }, min = 0 })
        v.signals.request_rate = rate
        P.version = version
        return wva.decide(view_of({ v }, { time = t }), P, state)["llm/a"]
      end
      tick(1000, 1)
      local d = tick(1600, 0)
      assert.are.equal(0, d.replicas)
      assert.matches("^V" .. version .. " .*scale%-to%-zero: no requests for 600 s", d.reason)
    end
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
