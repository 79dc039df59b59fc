local wv = require "support.wvaview"
local wva = require "sluice.wva"
local variant, view_of = wv.variant, wv.view_of
local greedy = require "sluice.wva_greedy"
local two_models = wv.two_models

-- Cases driven through sluice.wva with limiter = true and an inventory with GPU counts, which
-- runs this optimizer. two_models (spec/support/wvaview.lua): RC 330 000 for ma, 120 000 for mb,
-- capacity 100 000 a replica, 4 GPUs held.
describe("wva GreedyByScore under a GPU limit", function()
  it("shares free GPUs by bringing the most starved model to the mean", function()
    -- 8 GPUs, 4 held: 4 free.
    -- 1: mean(330 000, 120 000) = 225 000; a gets 105 000 worth: 2 replicas, a left 130 000.
    -- 2: mean 125 000; a gets 5 000 worth: 1 replica, a left 30 000.
    -- 3: mean 75 000; b (120 000) gets 45 000 worth: 1 replica. No GPU left.
    local d = wva.decide(two_models(8), { limiter = true }, {})
    assert.are.equal(5, d["llm/a"].replicas)
    assert.are.equal(3, d["llm/b"].replicas)
    assert.matches("fair share", d["llm/a"].reason, 1, true)
    -- Unlimited (cost-aware): a +ceil(3.3) = 4, b +ceil(1.2) = 2.
    d = wva.decide(two_models(8), nil, {})
    assert.are.equal(6, d["llm/a"].replicas)
    assert.are.equal(4, d["llm/b"].replicas)
  end)

  it("weights each model's need by its priority", function()
    -- 6 GPUs, 2 free. Equal priority: a gets 105 000 worth = 2 replicas, nothing left for b.
    local d = wva.decide(two_models(6), { limiter = true }, {})
    assert.are.same({ 4, 2 }, { d["llm/a"].replicas, d["llm/b"].replicas })
    -- mb priority 3: b's value 360 000 > a's 330 000, mean 345 000: b gets 15 000 worth =
    -- 1 replica (left 20 000, value 60 000). Then a: mean 195 000, 135 000 worth, 1 GPU left:
    -- 1 replica.
    local p = { limiter = true, model_priority = { { model = "mb", priority = 3 } } }
    d = wva.decide(two_models(6), p, {})
    assert.are.same({ 3, 3 }, { d["llm/a"].replicas, d["llm/b"].replicas })
  end)

  it("splits evenly between equally starved models", function()
    -- Both RC 150 000: demand (150 000 + 200 000) x 0.85 = 297 500 = 125 000 + 25 600 +
    -- 146 900 prompt tokens from 587 600 bytes. 6 GPUs, 2 free.
    -- 1: mean 150 000 and a (first by name) is at it: target 150 000 - 150 000 / 2 = 75 000,
    --    1 replica, a left 50 000. 2: b 150 000 above mean 100 000: 1 replica. No GPU left.
    local view = two_models(6)
    view.models.ma.signals.queue_bytes = 587600
    view.models.mb.signals.queue_bytes = 587600
    local d = wva.decide(view, { limiter = true }, {})
    assert.are.same({ 3, 3 }, { d["llm/a"].replicas, d["llm/b"].replicas })
  end)

  it("gives a lone model all it needs, up to the free GPUs", function()
    -- a alone needs ceil(330 000 / 100 000) = 4; with 8 GPUs (6 free) it gets 4, with 4 (2 free)
    -- it gets 2.
    local function alone(total)
      local view = view_of({ variant("llm/a", { model = "ma", kv = { 0.5, 0.5 },
        capacity = 125000 }) }, {
        models = { ma = { signals = { queue_size = 100, queue_bytes = 1199600 } } },
        inventory = { H100 = { total = total, cost = 3 } } })
      return wva.decide(view, { limiter = true }, {})["llm/a"].replicas
    end
    assert.are.equal(6, alone(8))
    assert.are.equal(4, alone(4))
  end)
end)

describe("wva GreedyByScore, on its own", function()
  local P = { model_priority = {} }
  local function model(name, o)
    local c = { id = "llm/" .. name, prc = o.prc or 100000, cost = 10, role = "both",
      current = o.current or 1, gpus = o.gpus or 1, v = { accelerator = "H100", min = o.min } }
    return { model = name, rc = o.rc or 0, sc = o.sc or 0, vcs = { c } }
  end

  it("adds nothing when no GPU is free", function()
    local t = { ["llm/a"] = 1 }
    greedy.optimize(P, { model("a", { rc = 300000 }) }, t, { H100 = 0 })
    assert.are.same({ ["llm/a"] = 1 }, t)
  end)

  it("spends free GPUs in whole replicas of a variant's GPUs per replica", function()
    -- RC 300 000 wants 3 replicas of 2 GPUs; 3 free GPUs hold one.
    local t, avail = { ["llm/a"] = 1 }, { H100 = 3 }
    greedy.optimize(P, { model("a", { rc = 300000, gpus = 2 }) }, t, avail)
    assert.are.same({ ["llm/a"] = 2 }, t)
    assert.are.same({ H100 = 1 }, avail)
  end)

  it("scales a model that needs nothing down as the cost-aware optimizer does", function()
    -- SC 150 000 over replicas of 100 000: -1, while the other model takes the free GPUs.
    local t = { ["llm/a"] = 3, ["llm/b"] = 1 }
    greedy.optimize(P, { model("a", { sc = 150000, current = 3 }), model("b", { rc = 100000 }) },
      t, { H100 = 4 })
    assert.are.same({ ["llm/a"] = 2, ["llm/b"] = 2 }, t)
  end)
end)
