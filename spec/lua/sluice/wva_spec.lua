local fv = require "support.fakeview"
local wva = require "sluice.wva"

-- A variant whose Ready pods report the given KV usages (and queue lengths, default 0), plus
-- `starting` pods that do not report yet. Token shape defaults to 512 prompt / 256 generated.
local function variant(id, o)
  local short = id:match("/(.*)$")
  local pods = {}
  for i, kv in ipairs(o.kv or {}) do
    pods[i] = { name = short .. "-" .. i, signals = { kv_usage = kv, waiting = o.q and o.q[i] or 0,
      kv_capacity_tokens = o.capacity or 160000 } }
  end
  local ready = #pods
  for i = 1, o.starting or 0 do
    pods[#pods + 1] = { name = short .. "-s" .. i, phase = "starting", signals = {} }
  end
  return {
    id = id, model = o.model or "m", cost = o.cost or 10, role = o.role, min = o.min, max = o.max,
    accelerator = o.accelerator, gpus_per_replica = o.gpus, engine = o.engine,
    replicas = { spec = o.spec or (ready + (o.starting or 0)), ready = ready,
      starting = o.starting or 0 },
    signals = o.signals or { input_tokens_mean = 512, output_tokens_mean = 256 },
    pods = pods,
  }
end

local function view_of(variants, extra)
  local spec = { time = (extra and extra.time) or 1000, variants = variants }
  for k, x in pairs(extra or {}) do spec[k] = x end
  return fv.new(spec)
end

local V1 = { version = 1 }

describe("wva V1 (percentage analyzer)", function()
  it("reproduces the documented example: 65% and 72% hold, 65% and 76% scale up", function()
    -- Spare KV = 0.80 - usage: 0.15 and 0.08, mean 0.115 >= 0.10, queue spare 5 - 0 >= 3: no
    -- scale-up. Scale-down: load 0.80 - 0.115 = 0.685, x 2/1 = 1.37, spare 0.80 - 1.37 < 0.10:
    -- unsafe. So 2 holds.
    local d = wva.decide(view_of({ variant("llm/a", { kv = { 0.65, 0.72 } }) }), V1, {})
    assert.are.equal(2, d["llm/a"].replicas)
    -- Spares 0.15 and 0.04, mean 0.095 < 0.10: +1.
    d = wva.decide(view_of({ variant("llm/a", { kv = { 0.65, 0.76 } }) }), V1, {})
    assert.are.equal(3, d["llm/a"].replicas)
    assert.matches("spare kv 0.095 < 0.10", d["llm/a"].reason, 1, true)
  end)

  it("scales up on the queue spare trigger", function()
    -- Queue spare = 5 - waiting: 2 and 1, mean 1.5 < 3 (KV spare 0.5 is ample): +1.
    local d = wva.decide(view_of({ variant("llm/a", { kv = { 0.3, 0.3 }, q = { 3, 4 } }) }), V1, {})
    assert.are.equal(3, d["llm/a"].replicas)
  end)

  it("leaves saturated replicas out of the spare average", function()
    -- 0.99 is saturated (>= 0.80) and ignored; the other's spare 0.15 >= 0.10: no scale-up. Had it
    -- counted, the mean (-0.19 + 0.15) / 2 < 0.10 would scale up. One non-saturated replica is too
    -- few to scale down: 2 holds.
    local d = wva.decide(view_of({ variant("llm/a", { kv = { 0.99, 0.65 } }) }), V1, {})
    assert.are.equal(2, d["llm/a"].replicas)
  end)

  it("scales up when every replica is saturated", function()
    -- No non-saturated replica: spares read 0 < 0.10.
    local d = wva.decide(view_of({ variant("llm/a", { kv = { 0.9, 0.85 } }) }), V1, {})
    assert.are.equal(3, d["llm/a"].replicas)
  end)

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

  it("adds one replica to the cheapest variant, ties broken by name", function()
    -- Each pod at 0.76: spare 0.04 < 0.10. Cheapest cost 5 is shared by b and c; b sorts first.
    local d = wva.decide(view_of({
      variant("llm/c", { kv = { 0.76 }, cost = 5 }),
      variant("llm/a", { kv = { 0.76 }, cost = 10 }),
      variant("llm/b", { kv = { 0.76 }, cost = 5 }),
    }), V1, {})
    assert.are.equal(1, d["llm/a"].replicas)
    assert.are.equal(2, d["llm/b"].replicas)
    assert.are.equal(1, d["llm/c"].replicas)
  end)

  it("removes one replica from the most expensive variant above 1, ties by name last", function()
    -- Five pods at 0.10: spare 0.70; after removal load 0.10 x 5/4 = 0.125, spare 0.675 >= 0.10,
    -- queue spare stays 5 >= 3: safe. c (cost 20) has 1 replica and is skipped; a and b cost 10,
    -- b sorts last by name and is chosen.
    local d = wva.decide(view_of({
      variant("llm/a", { kv = { 0.1, 0.1 }, cost = 10 }),
      variant("llm/b", { kv = { 0.1, 0.1 }, cost = 10 }),
      variant("llm/c", { kv = { 0.1 }, cost = 20 }),
    }), V1, {})
    assert.are.equal(2, d["llm/a"].replicas)
    assert.are.equal(1, d["llm/b"].replicas)
    assert.are.equal(1, d["llm/c"].replicas)
  end)

  it("scales down only when spreading the load over N-1 replicas keeps the spare", function()
    -- Three at 0.45: load 0.45 x 3/2 = 0.675, spare 0.125 >= 0.10: safe, -1.
    local d = wva.decide(view_of({ variant("llm/a", { kv = { 0.45, 0.45, 0.45 } }) }), V1, {})
    assert.are.equal(2, d["llm/a"].replicas)
    -- Three at 0.50: load 0.75, spare 0.05 < 0.10: unsafe (spare now 0.30, so no scale-up either).
    d = wva.decide(view_of({ variant("llm/a", { kv = { 0.5, 0.5, 0.5 } }) }), V1, {})
    assert.are.equal(3, d["llm/a"].replicas)
    -- The queue must stay safe too: waiting 2 each, load 2 x 3/2 = 3, spare 5 - 3 = 2 < 3.
    d = wva.decide(view_of({ variant("llm/a", { kv = { 0.1, 0.1, 0.1 }, q = { 2, 2, 2 } }) }), V1,
      {})
    assert.are.equal(3, d["llm/a"].replicas)
  end)

  it("needs two non-saturated replicas to scale down", function()
    -- 0.05 and 0.95: one non-saturated replica (spare 0.75, no scale-up): hold.
    local d = wva.decide(view_of({ variant("llm/a", { kv = { 0.05, 0.95 } }) }), V1, {})
    assert.are.equal(2, d["llm/a"].replicas)
  end)

  it("freezes the whole model while a replica is starting", function()
    -- a is saturated (spare 0.01) but b's only replica is loading: every variant holds.
    local d = wva.decide(view_of({
      variant("llm/a", { kv = { 0.79, 0.79 }, cost = 5 }),
      variant("llm/b", { starting = 1 }),
    }), V1, {})
    assert.are.equal(2, d["llm/a"].replicas)
    assert.are.equal(1, d["llm/b"].replicas)
    assert.matches("llm/b 1 pending", d["llm/a"].reason, 1, true)
    -- A Ready pod that has not reported yet freezes it too: 1 of 2 reporting.
    local b = variant("llm/b", { kv = { 0.2 } })
    b.replicas.spec, b.replicas.ready = 2, 2
    b.pods[2] = { name = "b-2", signals = {} }
    d = wva.decide(view_of({ variant("llm/a", { kv = { 0.79, 0.79 }, cost = 5 }), b }), V1, {})
    assert.are.equal(2, d["llm/a"].replicas)
    assert.matches("llm/b 1 of 2 replicas reporting", d["llm/a"].reason, 1, true)
  end)

  it("holds at its last target until the workload reaches it, then moves again", function()
    local state = { desired = { ["llm/a"] = 3 } }
    -- Last target 3, workload still at 2: hold at 3, not 3 + 1.
    local d = wva.decide(view_of({ variant("llm/a", { kv = { 0.76, 0.76 } }) }), V1, state)
    assert.are.equal(3, d["llm/a"].replicas)
    -- At 3 with all 3 reporting (still spare 0.04): +1.
    d = wva.decide(view_of({ variant("llm/a", { kv = { 0.76, 0.76, 0.76 } }) }, { time = 1015 }),
      V1, state)
    assert.are.equal(4, d["llm/a"].replicas)
  end)

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

  it("reads a variant's cost from its replicas, so one at zero is picked first (as WVA)", function()
    -- b reports no replicas, so WVA sees cost 0 for it: 0 per token beats a's 5. Its capacity is
    -- derived (163 840) and capped by a's live 128 000. Demand 144 000 on supply 128 000:
    -- RC = 169 411.8 - 128 000 = 41 411.8: one replica, on b.
    local b = variant("llm/b", { cost = 50, spec = 0, min = 0 })
    local d = wva.decide(view_of({ variant("llm/a", { kv = { 0.9 }, cost = 5 }), b }), nil, {})
    assert.are.equal(1, d["llm/a"].replicas)
    assert.are.equal(1, d["llm/b"].replicas)
  end)

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

  describe("GreedyByScore under a GPU limit", function()
    -- Two models, one variant each: 2 replicas of 125 000 KV tokens at 50% (62 500 each),
    -- capacity 100 000, supply 200 000. Gateway 100 queued (generated 100 x 256 = 25 600):
    --   ma: 1 199 600 bytes -> 299 900 prompt tokens: demand 125 000 + 325 500 = 450 500,
    --       RC = 530 000 - 200 000 = 330 000.
    --   mb: 485 600 bytes -> 121 400: demand 272 000, RC = 320 000 - 200 000 = 120 000.
    local function two_models(total)
      return view_of({
        variant("llm/a", { model = "ma", kv = { 0.5, 0.5 }, capacity = 125000 }),
        variant("llm/b", { model = "mb", kv = { 0.5, 0.5 }, capacity = 125000 }),
      }, {
        models = { ma = { signals = { queue_size = 100, queue_bytes = 1199600 } },
                   mb = { signals = { queue_size = 100, queue_bytes = 485600 } } },
        inventory = { H100 = { total = total, cost = 3 } },
      })
    end

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

    it("falls back to the cost-aware optimizer without an inventory", function()
      local view = two_models(8)
      view.inventory = {}
      local d = wva.decide(view, { limiter = true }, {})
      assert.are.same({ 6, 4 }, { d["llm/a"].replicas, d["llm/b"].replicas })
    end)
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
