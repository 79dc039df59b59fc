local wv = require "support.wvaview"
local wva = require "sluice.wva"
local variant, view_of = wv.variant, wv.view_of
local v2 = require "sluice.wva_v2"

describe("wva V2 (token analyzer)", function()
  -- One replica: 160 000 KV tokens, k1 = floor(160 000 x 0.80) = 128 000. Derived k2 with
  -- B 8192, S 256, I 512, O 256: N = min(8192 x 256 / 768 = 2730.7, 256) = 256,
  -- k2 = 256 x (512 + 128) = 163 840, so capacity min(k1, k2) = 128 000; two replicas 256 000.
  it("reproduces the worked example: hold, +1, -1", function()
    -- KV 60% and queue 3 per replica: 96 000 + 3 x 768 = 98 304, two = 196 608.
    -- RC = 196 608 / 0.85 - 256 000 < 0, SC = 256 000 - 196 608 / 0.70 < 0: hold.
    local v = variant("llm/a", { kv = { 0.6, 0.6 }, q = { 3, 3 } })
    local d = wva.decide(view_of({ v }), nil, {})
    assert.are.equal(2, d["llm/a"].replicas)
    -- KV 71.875% = 115 000 per replica, 230 000: RC = 270 588.2 - 256 000 = 14 588.2,
    -- ceil(14 588.2 / 128 000) = 1: +1.
    d = wva.decide(view_of({ variant("llm/a", { kv = { 0.71875, 0.71875 } }) }), nil, {})
    assert.are.equal(3, d["llm/a"].replicas)
    assert.matches("V2 demand 230000 > 0.85 × anticipated supply 256000: RC 14588 → +1 on llm/a",
      d["llm/a"].reason, 1, true)
    -- KV 25% = 40 000 per replica, 80 000: SC = 256 000 - 114 285.7 = 141 714.3,
    -- floor(141 714.3 / 128 000) = 1: -1.
    d = wva.decide(view_of({ variant("llm/a", { kv = { 0.25, 0.25 } }) }), nil, {})
    assert.are.equal(1, d["llm/a"].replicas)
    assert.matches("SC 141714", d["llm/a"].reason, 1, true)
  end)

  describe("k2 priority chain", function()
    local function prc(state, o, time)
      local a = wva.analyze(view_of({ variant("llm/a", o) }, { time = time or 1000 }), nil, state)
      local vc = a.m.vcs[1]
      return vc.prc, vc.reps[1].k2_source
    end

    it("derives k2 from engine settings when nothing was observed", function()
      assert.are.same({ 128000, "derived" }, { prc({}, { kv = { 0.5 } }) })
      -- B 2048, S 64, I = O = 1000: N = min(2048 x 1000 / 2000 = 1024, 64) = 64,
      -- k2 = 64 x 1500 = 96 000 < k1 128 000.
      local o = { kv = { 0.5 }, engine = { max_num_batched_tokens = 2048, max_num_seqs = 64 },
        signals = { input_tokens_mean = 1000, output_tokens_mean = 1000 } }
      assert.are.same({ 96000, "derived" }, { prc({}, o) })
    end)

    it("falls back to k1 when k2 cannot be derived", function()
      -- No generated tokens known: k2 = k1 = 128 000.
      local o = { kv = { 0.5 }, signals = { input_tokens_mean = 512 } }
      assert.are.same({ 128000, "k1" }, { prc({}, o) })
    end)

    it("observes k2 when the queue reaches its threshold and remembers the average", function()
      local state = {}
      -- Waiting 5 >= 5 with 0.5 x 160 000 = 80 000 tokens in use: k2 = 80 000.
      assert.are.same({ 80000, "observed" }, { prc(state, { kv = { 0.5 }, q = { 5 } }, 1000) })
      -- A minute later the queue is gone (ticks are 100 s apart so that the 1-minute max no
      -- longer sees the earlier sample): the history average 80 000 still applies.
      assert.are.same({ 80000, "history" }, { prc(state, { kv = { 0.2 } }, 1100) })
      -- A second observation 0.375 x 160 000 = 60 000; then the average (80 000 + 60 000) / 2.
      prc(state, { kv = { 0.375 }, q = { 6 } }, 1200)
      assert.are.same({ 70000, "history" }, { prc(state, { kv = { 0.2 } }, 1300) })
      -- History is kept per output-length bucket: 600 generated tokens is "long", where nothing
      -- was observed. Derived: N = min(8192 x 600 / 1112, 256) = 256, k2 = 256 x 812 = 207 872,
      -- above k1, so 128 000.
      local long = { kv = { 0.2 }, signals = { input_tokens_mean = 512, output_tokens_mean = 600 } }
      assert.are.same({ 128000, "derived" }, { prc(state, long, 1400) })
    end)

    it("forgets k2 history unused for a day", function()
      local state = {}
      -- Observed at t=1000; read (not refreshed) a day later; gone a second after that.
      prc(state, { kv = { 0.5 }, q = { 5 } }, 1000)
      assert.are.same({ 80000, "history" }, { prc(state, { kv = { 0.2 } }, 1000 + 86400) })
      assert.are.same({ 128000, "derived" }, { prc(state, { kv = { 0.2 } }, 1001 + 86400) })
    end)
  end)

  it("charges queued requests by role: prefill its prompt, decode and both the whole context",
    function()
      -- 125 000 KV tokens at 50% = 62 500 in use, 2 waiting. Prefill: 62 500 + 2 x 512 = 63 524.
      -- Decode: 62 500 + 2 x (512 + 256) = 64 036.
      local a = wva.analyze(view_of({
        variant("llm/d", { role = "decode", kv = { 0.5 }, q = { 2 }, capacity = 125000 }),
        variant("llm/p", { role = "prefill", kv = { 0.5 }, q = { 2 }, capacity = 125000 }),
      }), nil, {})
      assert.are.equal(64036, a.m.vcs[1].demand)
      assert.are.equal(63524, a.m.vcs[2].demand)
    end)

  it("adds the gateway queue's demand: bytes / 4 or count x prompt, less prefix hits", function()
    local function demand(signals, qs)
      local v = variant("llm/a", { kv = { 0.5, 0.5 }, signals = signals })
      return wva.analyze(view_of({ v }, { models = { m = { signals = qs } } }), nil, {}).m.demand
    end
    local shape = { input_tokens_mean = 512, output_tokens_mean = 256 }
    -- Replicas 2 x 80 000 = 160 000. Queue 10 requests, 40 000 bytes: prompt tokens
    -- max(40 000 / 4, 10 x 512) = 10 000, generated 10 x 256 = 2 560: 172 560.
    assert.are.equal(172560, demand(shape, { queue_size = 10, queue_bytes = 40000 }))
    -- 8 000 bytes: max(2 000, 5 120) = 5 120 + 2 560: 167 680.
    assert.are.equal(167680, demand(shape, { queue_size = 10, queue_bytes = 8000 }))
    -- Half the prompt tokens hit the prefix cache: 10 000 x 0.5 + 2 560: 167 560.
    local hit = { input_tokens_mean = 512, output_tokens_mean = 256, prefix_hit_rate = 0.5 }
    assert.are.equal(167560, demand(hit, { queue_size = 10, queue_bytes = 40000 }))
  end)

  it("counts starting replicas as supply for scale-up, so it does not add twice", function()
    local state = {}
    -- 230 000 demand on 2 replicas: +1 (worked example).
    local d = wva.decide(view_of({ variant("llm/a", { kv = { 0.71875, 0.71875 } }) }), nil, state)
    assert.are.equal(3, d["llm/a"].replicas)
    -- Same demand with the third replica loading: anticipated 3 x 128 000 = 384 000,
    -- RC = 270 588.2 - 384 000 < 0; SC counts Ready only: 256 000 - 328 571.4 < 0. Hold.
    d = wva.decide(view_of({ variant("llm/a", { kv = { 0.71875, 0.71875 }, starting = 1 }) },
      { time = 1015 }), nil, state)
    assert.are.equal(3, d["llm/a"].replicas)
  end)

  it("reads a variant's cost from its replicas, so one at zero is picked first (as WVA)", function()
    -- b reports no replicas, so WVA sees cost 0 for it: 0 per token beats a's 5. Its capacity is
    -- derived (163 840) and capped by a's live 128 000. Demand 144 000 on supply 128 000:
    -- RC = 169 411.8 - 128 000 = 41 411.8: one replica, on b.
    local b = variant("llm/b", { cost = 50, spec = 0, min = 0 })
    local d = wva.decide(view_of({ variant("llm/a", { kv = { 0.9 }, cost = 5 }), b }), nil, {})
    assert.are.equal(1, d["llm/a"].replicas)
    assert.are.equal(1, d["llm/b"].replicas)
  end)
end)
