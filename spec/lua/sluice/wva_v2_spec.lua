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

describe("wva V2, the stage on its own", function()
  it("derives k2 as N x (I + O/2) for the steady batch N = min(B x O / (I + O), S)", function()
    -- Capped by S: N = min(4096 x 1000 / 2000 = 2048, 512) = 512, k2 = 512 x 1500.
    assert.are.equal(512 * 1500, v2.derived_k2({ max_num_batched_tokens = 4096,
      max_num_seqs = 512 }, 1000, 1000))
    -- Set by the token budget: N = 1024 x 1000 / 4000 = 256 < 512, k2 = 256 x 3500.
    assert.are.equal(256 * 3500, v2.derived_k2({ max_num_batched_tokens = 1024,
      max_num_seqs = 512 }, 3000, 1000))
    -- No engine settings: B 8192, S 256 (the header's 163 840 for I 512, O 256).
    assert.are.equal(163840, v2.derived_k2(nil, 512, 256))
    -- Nothing to derive from: no generated tokens, or no token budget.
    assert.are.equal(0, v2.derived_k2(nil, 512, 0))
    assert.are.equal(0, v2.derived_k2({ max_num_batched_tokens = 0 }, 512, 256))
  end)

  it("observes k2 once the queue reaches the whole part of queue_length_threshold", function()
    local function source(q)
      local a = wva.analyze(view_of({ variant("llm/a", { kv = { 0.5 }, q = { q } }) }),
        { queue_length_threshold = 4.5 }, {})
      return a.m.vcs[1].reps[1].k2_source, a.m.vcs[1].prc
    end
    -- floor(4.5) = 4: waiting 4 is at the threshold, k2 = 0.5 x 160 000 = 80 000 < k1.
    assert.are.same({ "observed", 80000 }, { source(4) })
    assert.are.same({ "derived", 128000 }, { source(3) })
  end)

  it("sizes a replica without a reported KV capacity from the variant's stored capacity x "
    .. "kv_cache_threshold", function()
    local function bare(kv)
      local v = variant("llm/a", { kv = { kv } })
      v.pods[1].signals.kv_capacity_tokens = nil
      return v
    end
    local state = {}
    -- t=1000 reports its capacity: the store keeps its effective capacity, 128 000.
    wva.analyze(view_of({ variant("llm/a", { kv = { 0.5 } }) }, { time = 1000 }), nil, state)
    assert.are.equal(128000, state.cap["llm/a"].eff)
    -- t=1100 (the earlier sample out of the 1-minute window) reports none: 0.8 x 128 000.
    local vc = wva.analyze(view_of({ bare(0.5) }, { time = 1100 }), nil, state).m.vcs[1]
    assert.are.equal("store", vc.reps[1].k2_source)
    assert.are.equal(math.floor(0.8 * 128000), vc.prc)
    assert.are.equal(math.floor(0.5 * math.floor(0.8 * 128000)), vc.demand)
    -- Nothing stored: the per-step token budget B = 8192 stands in, x 0.8.
    vc = wva.analyze(view_of({ bare(0.5) }), nil, {}).m.vcs[1]
    assert.are.equal(math.floor(8192 * 0.8), vc.prc)
  end)

  it("sizes a variant never seen live from the derived k2, capped by a live sibling on the same "
    .. "hardware", function()
    local function prc_of_b(b)
      local a = wva.analyze(view_of({ variant("llm/a", { kv = { 0.5 } }), b }), nil, {})
      return a.m.vcs[2].prc
    end
    -- Derived 163 840 (header), capped by a's live 128 000.
    assert.are.equal(128000, prc_of_b(variant("llm/b", { spec = 0, min = 0 })))
    -- On other hardware a's capacity says nothing about b's.
    assert.are.equal(163840,
      prc_of_b(variant("llm/b", { spec = 0, min = 0, accelerator = "A100" })))
  end)

  it("forgets k2 history unused for more than a day and capacity records older than a week",
    function()
      local state = { k2 = { old = { at = 0, vals = { 1 } }, new = { at = 100, vals = { 1 } } },
                      cap = { old = { at = 0, eff = 1 }, new = { at = 100, eff = 1 } } }
      v2.forget(state, 86400)
      assert.is_not_nil(state.k2.old)
      v2.forget(state, 86401)
      assert.are.same({ false, true, true, true }, { state.k2.old ~= nil, state.k2.new ~= nil,
        state.cap.old ~= nil, state.cap.new ~= nil })
      v2.forget(state, 7 * 86400 + 1)
      assert.are.same({ false, true }, { state.cap.old ~= nil, state.cap.new ~= nil })
      assert.is_nil(next(state.k2))
    end)

  it("says why a variant held: capacity added elsewhere, no free GPUs, or removed elsewhere",
    function()
      local p = { scale_up_threshold = 0.85, scale_down_boundary = 0.70 }
      local vc = { id = "llm/a", current = 2, role = "both" }
      local mr = { demand = 230000, supply = 256000, anticipated = 256000, rc = 14588.2, sc = 0 }
      assert.matches("RC 14588, SC 0 → added elsewhere at 2$",
        v2.reason(p, mr, vc, 2, "cost-aware"))
      assert.matches("→ no free GPUs for it at 2$", v2.reason(p, mr, vc, 2, "greedy-by-score"))
      mr.rc, mr.sc = 0, 1000
      assert.matches("→ removed elsewhere or at its floor at 2$",
        v2.reason(p, mr, vc, 2, "cost-aware"))
      mr.sc = 0
      assert.matches("→ hold at 2$", v2.reason(p, mr, vc, 2, "cost-aware"))
    end)

  it("words a role's reason with the role's numbers, and a later stage's note over its own",
    function()
      local p = { scale_up_threshold = 0.85, scale_down_boundary = 0.70 }
      local vc = { id = "llm/p", current = 1, role = "prefill" }
      local mr = { demand = 1, supply = 1, anticipated = 1, rc = 0, sc = 0, roles = {
        prefill = { demand = 163524, supply = 100000, anticipated = 100000, rc = 92381.2,
          sc = 0 } } }
      assert.are.equal("V2 prefill demand 163524 > 0.85 × anticipated supply 100000: RC 92381 → +1 "
        .. "on llm/p (cheapest per token)", v2.reason(p, mr, vc, 2, "cost-aware"))
      assert.are.equal("V2 demand 163524, supply 100000: scaled", v2.reason(p, mr, vc, 0,
        "cost-aware", "scaled"))
    end)
end)
