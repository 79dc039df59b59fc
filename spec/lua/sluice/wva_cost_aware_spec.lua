local wv = require "support.wvaview"
local wva = require "sluice.wva"
local variant, view_of = wv.variant, wv.view_of
local cost_aware = require "sluice.wva_cost_aware"

describe("wva V2 cost-aware optimizer", function()
  -- One replica: 160 000 KV tokens, k1 = floor(160 000 x 0.80) = 128 000. Derived k2 with
  -- B 8192, S 256, I 512, O 256: N = min(8192 x 256 / 768 = 2730.7, 256) = 256,
  -- k2 = 256 x (512 + 128) = 163 840, so capacity min(k1, k2) = 128 000; two replicas 256 000.
  it("adds several replicas in one cycle when the deficit is large", function()
    -- Replicas at 80%: 2 x 128 000 = 256 000. Gateway: 500 queued, no bytes: 500 x 512 = 256 000
    -- prompt + 500 x 256 = 128 000 generated. Demand 640 000, RC = 752 941.2 - 256 000 =
    -- 496 941.2, ceil(496 941.2 / 128 000) = 4: 2 -> 6.
    local view = view_of({ variant("llm/a", { kv = { 0.8, 0.8 } }) },
      { models = { m = { signals = { queue_size = 500 } } } })
    local d = wva.decide(view, nil, {})
    assert.are.equal(6, d["llm/a"].replicas)
  end)

  it("adds capacity where it is cheapest per token, not per replica", function()
    -- a: cost 10, capacity 128 000 (10 / 128 000 = 7.8e-5 per token).
    -- b: cost 15, 320 000 KV tokens, S 512: k1 = 256 000, k2 = 512 x 640 = 327 680, capacity
    -- 256 000 (15 / 256 000 = 5.9e-5): cheaper per token.
    -- Demand 0.9 x 160 000 + 0.9 x 320 000 = 432 000, supply 384 000:
    -- RC = 508 235.3 - 384 000 = 124 235.3, ceil(124 235.3 / 256 000) = 1 on b.
    local d = wva.decide(view_of({
      variant("llm/a", { kv = { 0.9 }, cost = 10 }),
      variant("llm/b", { kv = { 0.9 }, cost = 15, capacity = 320000,
        engine = { max_num_batched_tokens = 8192, max_num_seqs = 512 } }),
    }), nil, {})
    assert.are.equal(1, d["llm/a"].replicas)
    assert.are.equal(2, d["llm/b"].replicas)
  end)

  it("breaks cost-per-token ties by name", function()
    -- Identical variants at 90%: demand 288 000, supply 256 000, RC = 82 823.5: one replica, on a.
    local d = wva.decide(view_of({
      variant("llm/b", { kv = { 0.9 } }),
      variant("llm/a", { kv = { 0.9 } }),
    }), nil, {})
    assert.are.equal(2, d["llm/a"].replicas)
    assert.are.equal(1, d["llm/b"].replicas)
  end)

  it("removes capacity from the most expensive variant first", function()
    -- Four replicas at 31.25% = 50 000 each: demand 200 000, supply 512 000,
    -- SC = 512 000 - 285 714.3 = 226 285.7. b (cost 20) first: floor(1.77) = 1, leaving
    -- 98 285.7, less than a's 128 000: a keeps 2.
    local d = wva.decide(view_of({
      variant("llm/a", { kv = { 0.3125, 0.3125 }, cost = 10 }),
      variant("llm/b", { kv = { 0.3125, 0.3125 }, cost = 20 }),
    }), nil, {})
    assert.are.equal(2, d["llm/a"].replicas)
    assert.are.equal(1, d["llm/b"].replicas)
  end)

  it("keeps the cheapest variant at one replica when it would be the last", function()
    -- Idle: SC = 256 000 covers both replicas and min is 0, but the last variant serving keeps 1.
    -- Scale to zero is on with recent requests, so the enforcer neither zeroes nor keeps it.
    local v = variant("llm/a", { kv = { 0, 0 }, min = 0 })
    v.signals.request_rate = 1
    local d = wva.decide(view_of({ v }), { scale_to_zero = true }, {})
    assert.are.equal(1, d["llm/a"].replicas)
  end)

  it("sizes prefill and decode separately and grows them together", function()
    -- Both 125 000 KV tokens: k1 100 000, derived k2 163 840, capacity 100 000; one replica each.
    -- Replicas: prefill 62 500 + 2 x 512 = 63 524, decode 62 500 + 2 x 768 = 64 036.
    -- Gateway 100 queued, 400 000 bytes: prompt max(100 000, 51 200) = 100 000, generated 25 600.
    -- Prefill demand 163 524: RC = 192 381.2 - 100 000 = 92 381.2.
    -- Decode demand 189 636: RC = 223 101.2 - 100 000 = 123 101.2.
    -- Round 1: decode needs ceil(1.23) = 2 (covers 1.62), prefill 1 (covers 1.08); both commit at
    -- 1.08 of their deficit: decode max(floor(1.08 x 1.23), 1) = 1, prefill 1. Round 2: decode
    -- 23 101.2 left: +1. Prefill 1 -> 2, decode 1 -> 3.
    local view = view_of({
      variant("llm/p", { role = "prefill", kv = { 0.5 }, q = { 2 }, capacity = 125000 }),
      variant("llm/d", { role = "decode", kv = { 0.5 }, q = { 2 }, capacity = 125000 }),
    }, { models = { m = { signals = { queue_size = 100, queue_bytes = 400000 } } } })
    local d = wva.decide(view, nil, {})
    assert.are.equal(2, d["llm/p"].replicas)
    assert.are.equal(3, d["llm/d"].replicas)
    assert.matches("V2 prefill demand 163524", d["llm/p"].reason, 1, true)
  end)

  it("commits prefill and decode at the same fraction of their deficits", function()
    -- Capacity 100 000 each, replicas at 62 500. Gateway 166 queued, 940 000 bytes: prompt
    -- max(235 000, 84 992) = 235 000, generated 166 x 256 = 42 496.
    -- Prefill 297 500: RC = 350 000 - 100 000 = 250 000. Decode 339 996: RC = 299 995.3.
    -- Prefill is capped at max 2 (one more replica) and covers 100 000 / 250 000 = 0.4 of its
    -- deficit, so decode commits max(floor(0.4 x 2.99995), 1) = 1, not the 3 it needs alone.
    local view = view_of({
      variant("llm/p", { role = "prefill", kv = { 0.5 }, capacity = 125000, max = 2 }),
      variant("llm/d", { role = "decode", kv = { 0.5 }, capacity = 125000 }),
    }, { models = { m = { signals = { queue_size = 166, queue_bytes = 940000 } } } })
    local d = wva.decide(view, nil, {})
    assert.are.equal(2, d["llm/p"].replicas)
    assert.are.equal(2, d["llm/d"].replicas)
  end)
end)

describe("wva V2 cost-aware optimizer, on its own", function()
  -- A model as sluice.wva_v2.analyze returns it, reduced to what the optimizer reads.
  local function vc(id, o)
    return { id = id, prc = o.prc, cost = o.cost or 10, role = o.role or "both",
      current = o.current or 1, gpus = 1, v = { min = o.min, max = o.max } }
  end
  local function targets_of(mr)
    local t = {}
    for _, c in ipairs(mr.vcs) do t[c.id] = c.current end
    return t
  end

  it("treats a model without roles as one unit, 'both', carrying the model's RC and SC", function()
    local roles, need, spare = cost_aware.role_state({ rc = 5, sc = 3 })
    assert.are.same({ { "both" }, { both = 5 }, { both = 3 } }, { roles, need, spare })
    roles, need = cost_aware.role_state({ roles = { prefill = { rc = 1, sc = 0 },
      decode = { rc = 2, sc = 0 } } })
    assert.are.same({ { "decode", "prefill" }, { decode = 2, prefill = 1 } }, { roles, need })
  end)

  it("adds ceil(RC / capacity) replicas on the variant cheapest per token", function()
    -- a: 10 / 100 000 per token; b: 30 / 200 000 is dearer per token although it holds more.
    local mr = { rc = 250000, sc = 0, vcs = { vc("a", { prc = 100000, cost = 10 }),
      vc("b", { prc = 200000, cost = 30 }) } }
    local t = targets_of(mr)
    cost_aware.optimize(mr, t)
    assert.are.same({ a = 1 + 3, b = 1 }, t)
  end)

  it("moves on to the next cheapest when the cheapest reaches its max", function()
    -- a takes 1 (to its max 2), covering 100 000; the 150 000 left is one replica of b.
    local mr = { rc = 250000, sc = 0, vcs = { vc("a", { prc = 100000, cost = 10, max = 2 }),
      vc("b", { prc = 200000, cost = 30 }) } }
    local t = targets_of(mr)
    cost_aware.optimize(mr, t)
    assert.are.same({ a = 2, b = 2 }, t)
  end)

  it("never picks a variant with no capacity", function()
    local mr = { rc = 250000, sc = 0, vcs = { vc("a", { prc = 0, cost = 0 }) } }
    local t = targets_of(mr)
    cost_aware.optimize(mr, t)
    assert.are.same({ a = 1 }, t)
  end)

  it("removes floor(SC / capacity) replicas, most expensive first, down to each min", function()
    -- SC 250 000: b (cost 30) can lose 1 above its min, leaving 150 000: one replica of a.
    local mr = { rc = 0, sc = 250000, vcs = { vc("a", { prc = 100000, cost = 10, current = 3 }),
      vc("b", { prc = 100000, cost = 30, current = 2, min = 1 }) } }
    local t = targets_of(mr)
    cost_aware.optimize(mr, t)
    assert.are.same({ a = 2, b = 1 }, t)
  end)

  it("keeps one replica on the last variant when no other serves, even below what SC allows",
    function()
      local mr = { rc = 0, sc = 1e9, vcs = {
        vc("a", { prc = 100000, cost = 10, current = 2, min = 0 }),
        vc("b", { prc = 100000, cost = 30, current = 0, min = 0 }) } }
      local t = targets_of(mr)
      cost_aware.optimize(mr, t)
      assert.are.same({ a = 1, b = 0 }, t)
      -- With b serving, a may go to zero.
      mr.vcs[2].current = 1
      mr.vcs[2].v.min = 1
      t = targets_of(mr)
      cost_aware.optimize(mr, t)
      assert.are.same({ a = 0, b = 1 }, t)
    end)
end)
