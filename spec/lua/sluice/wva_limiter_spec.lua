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

describe("wva V1 GPU limiter, on its own", function()
  local inputs = require "sluice.wva_inputs"

  -- Runs the limiter over `targets` for the given variants and H100 total; returns targets, notes.
  local function limit(variants, total, targets, spare_of)
    local view = view_of(variants, { inventory = total and { H100 = { total = total } } or {} })
    local notes = {}
    limiter.limit(view, inputs.model_groups(view), targets, notes, spare_of or {})
    return targets, notes
  end

  it("grants equally saturated models cheapest first, and stops the other at what fits",
    function()
      -- 6 GPUs, 4 held: 2 free. x wants +2, y +1; spare is equal, y is cheaper: y gets 1, x the
      -- last one.
      local targets, notes = limit({
        variant("llm/x", { model = "m1", spec = 2, cost = 10 }),
        variant("llm/y", { model = "m2", spec = 2, cost = 5 }),
      }, 6, { ["llm/x"] = 4, ["llm/y"] = 3 }, { m1 = 0.05, m2 = 0.05 })
      assert.are.same({ 3, 3 }, { targets["llm/x"], targets["llm/y"] })
      assert.are.equal("limited by H100: 1 GPUs free, 1 per replica", notes["llm/x"])
      assert.is_nil(notes["llm/y"])
    end)

  it("grants whole replicas of GPUs per replica", function()
    -- 5 GPUs, 2 held (1 replica x 2): 3 free, floor(3 / 2) = 1 replica of the 2 wanted.
    local targets, notes = limit({ variant("llm/a", { spec = 1, gpus = 2 }) }, 5,
      { ["llm/a"] = 3 })
    assert.are.equal(2, targets["llm/a"])
    assert.are.equal("limited by H100: 3 GPUs free, 2 per replica", notes["llm/a"])
  end)

  it("never limits a variant below its min", function()
    -- No GPU free: the grant is 0, but min 3 stands.
    local targets = limit({ variant("llm/a", { spec = 1, min = 3 }) }, 1, { ["llm/a"] = 4 })
    assert.are.equal(3, targets["llm/a"])
  end)

  it("leaves holds and scale-downs alone, and everything when no type has a count", function()
    local vs = { variant("llm/a", { spec = 3 }), variant("llm/b", { spec = 2 }) }
    local targets, notes = limit(vs, 1, { ["llm/a"] = 3, ["llm/b"] = 1 })
    assert.are.same({ 3, 1 }, { targets["llm/a"], targets["llm/b"] })
    assert.is_nil(next(notes))
    targets, notes = limit(vs, nil, { ["llm/a"] = 9, ["llm/b"] = 9 })
    assert.are.same({ 9, 9 }, { targets["llm/a"], targets["llm/b"] })
    assert.is_nil(next(notes))
  end)
end)
