local wv = require "support.wvaview"
local wva = require "sluice.wva"
local variant, view_of = wv.variant, wv.view_of
local inputs = require "sluice.wva_inputs"

local V1 = { version = 1 }

describe("wva inputs", function()
  it("reads each pod's KV usage as its maximum over the last minute", function()
    -- t=100: 0.75 and 0.50. t=130: 0.60 and 0.72. One-minute maxima 0.75 and 0.72, spares 0.05
    -- and 0.08, mean 0.065 < 0.10: +1. The latest values alone (spares 0.20, 0.08, mean 0.14)
    -- would hold.
    local state = {}
    wva.decide(view_of({ variant("llm/a", { kv = { 0.75, 0.50 } }) }, { time = 100 }), V1, state)
    local d = wva.decide(view_of({ variant("llm/a", { kv = { 0.60, 0.72 } }) }, { time = 130 }), V1,
      state)
    assert.are.equal(3, d["llm/a"].replicas)
    -- At t=161 the t=100 sample is outside (101, 161]: mean spare 0.14, hold.
    state = {}
    wva.decide(view_of({ variant("llm/a", { kv = { 0.75, 0.50 } }) }, { time = 100 }), V1, state)
    d = wva.decide(view_of({ variant("llm/a", { kv = { 0.60, 0.72 } }) }, { time = 161 }), V1,
      state)
    assert.are.equal(2, d["llm/a"].replicas)
  end)

  it("reads token lengths as 5-minute rate ratios when the view has them", function()
    -- 4 req/s, 4 096 prompt tokens/s, 1 024 generated/s: I = 1 024, O = 256. Derived k2:
    -- N = min(8192 x 256 / 1280 = 1638.4, 256) = 256, k2 = 256 x 1152 = 294 912 > k1: 128 000.
    -- Demand with 1 waiting: 0.5 x 160 000 + 1 x 1 280 = 81 280.
    local v = variant("llm/a", { kv = { 0.5 }, q = { 1 }, signals = {} })
    local view = view_of({ v }, { rates = { ["llm/a"] = { requests = 4, prompt_tokens = 4096,
      generation_tokens = 1024 } } })
    local a = wva.analyze(view, nil, {})
    assert.are.equal(81280, a.m.vcs[1].demand)
  end)
end)
