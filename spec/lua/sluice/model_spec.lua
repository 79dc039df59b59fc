-- sluice.model: the latency-model kernels as policies see them.
local model = require "sluice.model"

local H100_4P = { kind = "4p", alpha = 7.47, beta = 0.044, gamma = 15.415, delta = 0.000337 }
local SHAPE_4P = { max_batch = 64, in_tokens = 128, out_tokens = 128 }
local P3 = { kind = "3p", alpha = 12, beta = 0.05, gamma = 0.0005 }
local SHAPE_3P = { max_batch = 48, max_queue = 128, in_tokens = 128, out_tokens = 512 }

-- x rounds to `want` at 4 significant figures, as WVA's vectors are given.
local function sig4(x, want)
  local e = math.floor(math.log10(math.abs(want))) - 3
  return math.floor(x / 10 ^ e + 0.5) == math.floor(want / 10 ^ e + 0.5)
end

local function plain(v, seen)
  local t = type(v)
  if t == "number" or t == "string" or t == "boolean" then return true end
  if t ~= "table" or getmetatable(v) ~= nil then return false end
  seen = seen or {}
  if seen[v] then return false end
  seen[v] = true
  for k, x in pairs(v) do
    if not plain(k, seen) or not plain(x, seen) then return false end
  end
  return true
end

local function deepcopy(v)
  if type(v) ~= "table" then return v end
  local c = {}
  for k, x in pairs(v) do c[k] = deepcopy(x) end
  return c
end

describe("sluice.model profiles", function()
  it("validates a profile and returns it as plain data with units", function()
    local p = model.profile(H100_4P)
    assert.is_true(plain(p))
    assert.are.equal("4p", p.kind)
    assert.are.equal(7.47, p.alpha)
    assert.are.equal("ms", p.units.alpha)
    assert.are.equal("ms/seq", p.units.beta)
    -- and a profile table is accepted back as input
    assert.are.same(p, model.profile(p))
  end)

  it("names the field in errors", function()
    assert.has_error(function() model.profile { kind = "5p" } end,
      'model.profile: profile.kind must be "4p", "3p" or "step" (got 5p)')
    assert.has_error(function() model.profile { kind = "3p", alpha = 1, beta = 1 } end,
      "model.profile: profile.gamma must be a number (got nil)")
    assert.has_error(function() model.profile { kind = "3p", alpha = 1, beta = -1, gamma = 0 } end,
      "model.profile: profile.beta: must be >= 0 ms/token (got -1)")
    assert.has_error(function()
      model.profile { kind = "3p", alpha = 1, beta = 1, gamma = 0, gamme = 1 }
    end, "model.profile: profile has an unknown field 'gamme'")
    assert.has_error(function() model.profile "4p" end,
      "model.profile: profile must be a table (got string)")
  end)

  it("has a calibrated built-in for Llama-3.1-8B on H100", function()
    local p = model.builtin "llama-3.1-8b/h100"
    assert.are.equal("step", p.kind)
    assert.are.equal("llama-3.1-8b/h100", p.name)
    assert.truthy(p.source:find("calibration", 1, true))
    assert.is_true(plain(p))
    -- the decode-step facts it was fitted to, within the fit's 0.5 ms (plus host overhead)
    local gpu = model.step_ms(p, 64, 64 * 2048, 0) - p.overhead_ms
    assert.is_true(math.abs(gpu - 14.08) < 0.5)
    local names = model.builtins()
    assert.are.equal("llama-3.1-8b/h100", names[1])
    local none, err = model.builtin "llama-9/tpu"
    assert.is_nil(none)
    assert.truthy(err:find("unknown profile 'llama-9/tpu'", 1, true))
    assert.truthy(err:find("llama-3.1-8b/h100:4p", 1, true))
  end)

  it("grows a step with batch, context and prefill tokens", function()
    local p = model.builtin "llama-3.1-8b/h100"
    local base = model.step_ms(p, 32, 32 * 1024, 0)
    assert.is_true(model.step_ms(p, 64, 32 * 1024, 0) > base)
    assert.is_true(model.step_ms(p, 32, 32 * 4096, 0) > base)
    assert.is_true(model.step_ms(p, 32, 32 * 1024, 2048) > base + 40) -- compute-bound prefill
    assert.has_error(function() model.step_ms(model.profile(H100_4P), 1, 1, 0) end,
      'model.step_ms: profile.kind must be "step"')
  end)

  it("derives the reference profile back from the reference model and GPU", function()
    local p = model.derive {
      weight_bytes = 16060522496, kv_bytes_per_token = 131072, params = 8030261248,
      attn_flops_per_pair = 524288, mem_bw = 3.35e12, flops = 989.4e12, name = "again",
    }
    local ref = model.builtin "llama-3.1-8b/h100"
    -- with the layers and width too (they only matter under tensor parallelism)
    local full = model.derive {
      weight_bytes = 16060522496, kv_bytes_per_token = 131072, params = 8030261248,
      attn_flops_per_pair = 524288, layers = 32, hidden = 4096, mem_bw = 3.35e12,
      flops = 989.4e12, link_bw = 360e9,
    }
    for _, k in ipairs { "a_ms", "b_ms", "c_ms_per_ktok", "prefill_tok_s", "attn_ms_per_mpair",
                         "overhead_ms", "request_ms" } do
      assert.is_true(math.abs(p[k] / ref[k] - 1) < 1e-9, k)
      assert.is_true(math.abs(full[k] / ref[k] - 1) < 1e-9, k)
    end
    assert.are.equal("again", p.name)
    -- an H100-class GPU with half the bandwidth reads weights half as fast
    local slow = model.derive {
      weight_bytes = 16060522496, kv_bytes_per_token = 131072, params = 8030261248,
      attn_flops_per_pair = 524288, mem_bw = 1.675e12, flops = 989.4e12,
    }
    assert.is_true(math.abs(slow.a_ms / ref.a_ms - 2) < 1e-9)
    assert.has_error(function() model.derive { weight_bytes = 1 } end,
      "model.derive: spec.kv_bytes_per_token must be a number (got nil)")
  end)

  -- Llama-2-70B (BF16) on A100s: 138 GB of weights, 80 layers of width 8192.
  local function l70(tp, extra)
    local spec = {
      weight_bytes = 2 * 68976648192, kv_bytes_per_token = 2 * 80 * 8 * 128 * 2,
      params = 68976648192, attn_flops_per_pair = 4 * 80 * 64 * 128, layers = 80, hidden = 8192,
      mem_bw = 2.039e12, flops = 312e12, link_bw = 240e9, tp = tp,
    }
    for k, v in pairs(extra or {}) do spec[k] = v end
    return model.derive(spec)
  end
  local function decode1(p) return model.step_ms(p, 1, 576, 0) end

  it("costs tensor parallelism two all-reduces per layer", function()
    -- Physics at TP 4, one decode token: each GPU reads a quarter of the weights at the
    -- reference's achieved bandwidth (72.3% of the datasheet), then 160 all-reduces wait 2
    -- rounds of 51 us each and move 1.5 x 16 KiB over 240 GB/s; plus the host's 0.48 ms.
    local weights = 2 * 68976648192 / 4 / (0.7234 * 2.039e12) * 1e3
    local allreduce = 160 * (2 * 0.051 + 1.5 * 16384 / 240e9 * 1e3)
    local expect = weights + allreduce + 0.48
    local got = decode1(l70(4))
    assert.is_true(math.abs(got / expect - 1) < 0.02, ("%.2f ms, expected %.2f"):format(got, expect))
    -- Ideal scaling (no shape for the all-reduces) misses that by about 40%.
    local ideal = decode1(l70(4, { layers = 0, hidden = 0 }))
    assert.is_true(ideal < 0.65 * expect)
    assert.is_true(math.abs(ideal * 4 - decode1(l70(1, { layers = 0, hidden = 0 })) - 3 * 0.48) < 1e-6)
  end)

  it("scales decode sublinearly with tensor parallelism and stops gaining past TP 4", function()
    local t = {}
    for _, tp in ipairs { 1, 2, 4, 8 } do t[tp] = decode1(l70(tp)) end
    assert.is_true(t[2] < t[1] and t[4] < t[2])
    for _, tp in ipairs { 2, 4, 8 } do
      assert.is_true(t[tp] > 1.1 * t[1] / tp, ("TP %d: %.2f ms vs %.2f at TP 1"):format(tp, t[tp], t[1]))
    end
    assert.is_true(t[8] > 0.85 * t[4]) -- the all-reduce rounds eat the halved weight read
    -- prefill: per-token all-reduce bytes keep 8 GPUs from 8 times the throughput
    local one, eight = l70(1), l70(8)
    assert.is_true(eight.prefill_tok_s < 0.9 * 8 * one.prefill_tok_s)
    assert.is_true(eight.prefill_tok_s > 4 * one.prefill_tok_s)
  end)

  it("needs the link bandwidth for tensor parallelism, and checks it", function()
    assert.has_error(function() l70(2, { link_bw = 0 }) end,
      "model.derive: spec.link_bw: needed for tp 2 (the bytes/s one GPU's all-reduce reaches)")
    assert.has_error(function() l70(2, { link_bw = -1 }) end,
      "model.derive: spec.link_bw: must be >= 0 bytes/s")
    assert.has_error(function() l70(2, { ar_hop_us = "fast" }) end,
      "model.derive: spec.ar_hop_us must be a number (got string)")
    -- a slower all-reduce round costs 160 x log2(tp) times the difference per step
    local d = l70(4, { ar_hop_us = 101 }).overhead_ms - l70(4).overhead_ms
    assert.is_true(math.abs(d - 160 * 2 * 0.050) < 1e-9)
  end)
end)

describe("sluice.model queue", function()
  it("reproduces WVA's 4-parameter vector", function()
    local rate, limit = model.max_rate(H100_4P, SHAPE_4P, { ttft_ms = 1000, itl_ms = 10 })
    assert.is_true(sig4(rate, 44.11))
    assert.are.equal("itl", limit)
    local o = model.predict(H100_4P, SHAPE_4P, rate)
    assert.is_true(sig4(o.ttft_ms, 92.48))
    assert.is_true(sig4(o.itl_ms, 10.00))
    assert.is_nil(o.ttft_p_ms)
  end)

  it("reproduces WVA's 3-parameter vector", function()
    local rate, limit = model.max_rate(P3, SHAPE_3P)
    assert.is_true(sig4(rate, 3.821))
    assert.are.equal("stability", limit)
    local o = model.predict(P3, SHAPE_3P, 3)
    assert.is_true(sig4(o.ttft_ms, 75.32))
    assert.is_true(sig4(o.itl_ms, 20.53))
    assert.is_true(sig4(o.throughput, 3.000))
    assert.is_true(math.abs(o.utilization - o.in_service / 48) < 1e-12)
  end)

  it("adds percentiles when asked, above the means under load", function()
    local o = model.predict(H100_4P, SHAPE_4P, 44, 0.95)
    assert.are.equal(0.95, o.percentile)
    assert.is_true(o.ttft_p_ms > o.ttft_ms)
    assert.is_true(o.itl_p_ms >= o.itl_ms)
    local slo95 = { ttft_ms = 1000, itl_ms = 10, percentile = 0.95 }
    local r95 = model.max_rate(H100_4P, SHAPE_4P, slo95)
    local rmean = model.max_rate(H100_4P, SHAPE_4P, { ttft_ms = 1000, itl_ms = 10 })
    assert.is_true(r95 < rmean)
  end)

  it("never lowers the max rate for a looser target", function()
    local last = 0
    for t = 50, 2000, 50 do
      local r = model.max_rate(H100_4P, SHAPE_4P, { ttft_ms = t }) or 0
      assert.is_true(r >= last)
      last = r
    end
    assert.is_true(last > 40)
  end)

  it("returns nil and the reason when no rate meets a target", function()
    local r, err = model.max_rate(H100_4P, SHAPE_4P, { ttft_ms = 5 })
    assert.is_nil(r)
    assert.truthy(err:find("ttft_ms target 5 is below", 1, true))
  end)

  it("takes a step profile's length spread, KV cache and token budget from the shape", function()
    local p = model.builtin "llama-3.1-8b/h100"
    local base = { max_batch = 256, in_tokens = 1155, out_tokens = 211 }
    local spread = { max_batch = 256, in_tokens = 1155, out_tokens = 211, in_cv = 0.67,
      out_cv = 0.96 }
    -- long outputs keep more context resident and long prompts make longer steps
    assert.is_true(model.predict(p, spread, 15).itl_ms > model.predict(p, base, 15).itl_ms)
    -- a KV cache that holds 100 such requests is the limit, not the 256 seats
    local kv = { max_batch = 256, in_tokens = 1155, out_tokens = 211, kv_tokens = 100 * 1260 }
    local o = model.predict(p, kv, 10)
    assert.is_true(o.utilization > model.predict(p, base, 10).utilization * 2)
    assert.is_true(model.max_rate(p, kv) < model.max_rate(p, base))
    -- a smaller token budget splits long prompts over more steps
    local long = { max_batch = 256, in_tokens = 8000, out_tokens = 200 }
    local chunked = { max_batch = 256, in_tokens = 8000, out_tokens = 200,
      max_batched_tokens = 2048 }
    assert.is_true(model.predict(p, chunked, 2).ttft_ms > model.predict(p, long, 2).ttft_ms)
    -- the 4p kind sees means alone
    assert.are.same(model.predict(H100_4P, SHAPE_4P, 30),
      model.predict(H100_4P, { max_batch = 64, in_tokens = 128, out_tokens = 128, in_cv = 2,
        out_cv = 2, kv_tokens = 1000, max_batched_tokens = 512 }, 30))
    assert.has_error(function() model.predict(p, { max_batch = 8, in_tokens = 1, out_tokens = 1,
      in_cv = -1 }, 1) end, "model.predict: shape.in_cv: must be 0..100 (got -1)")
    assert.has_error(function() model.predict(p, { max_batch = 8, in_tokens = 1, out_tokens = 1,
      max_batched_tokens = 0.5 }, 1) end,
      "model.predict: shape.max_batched_tokens must be an integer in 0..16777216 (got 0.5)")
  end)

  it("sizes replicas for a demand", function()
    local n, f = model.replicas(100, 44.11)
    assert.are.equal(3, n)
    assert.is_true(math.abs(f - 100 / 44.11) < 1e-12)
    assert.are.equal(2, (model.replicas(88.22, 44.11)))
    assert.are.equal(0, (model.replicas(0, 44.11)))
    assert.has_error(function() model.replicas(10, 0) end,
      "model.replicas: max_rate: must be > 0 req/s (got 0)")
  end)

  it("refuses bad arguments, naming them", function()
    assert.has_error(function() model.predict(H100_4P, SHAPE_4P, 0) end,
      "model.predict: rate must be a positive number of req/s (got 0)")
    assert.has_error(function() model.predict(H100_4P, SHAPE_4P, 3, 1) end,
      "model.predict: percentile must be in (0, 1), e.g. 0.95, or nil for means (got 1)")
    assert.has_error(function()
      model.predict(H100_4P, { max_batch = 6.5, in_tokens = 1, out_tokens = 1 }, 3)
    end, "model.predict: shape.max_batch must be an integer in 1..16384 (got 6.5)")
    assert.has_error(function()
      model.predict(H100_4P, { max_batch = 8, in_tokens = 1, out_tokens = 0 }, 3)
    end, "model.predict: shape.out_tokens: must be 1..1e7 (got 0)")
    assert.has_error(function()
      model.max_rate(H100_4P, SHAPE_4P, { ttft = 100 })
    end, "model.max_rate: slo has an unknown field 'ttft'")
    assert.has_error(function()
      model.max_rate(H100_4P, SHAPE_4P, { itl_ms = -1 })
    end, "model.max_rate: slo.itl_ms must be >= 0 (got -1)")
  end)
end)

describe("sluice.model fitting", function()
  local truth = model.profile(P3)
  local mixes = { { 128, 128 }, { 1024, 128 }, { 4096, 256 }, { 256, 1024 } }

  local function observation(i)
    local mix = mixes[(i - 1) % #mixes + 1]
    local shape = { max_batch = 64, in_tokens = mix[1], out_tokens = mix[2] }
    local limit = model.max_rate(truth, shape)
    local rate = limit * (0.2 + 0.7 * ((i * 0.618034) % 1))
    local o = model.predict(truth, shape, rate)
    -- a deterministic +-4% wobble stands in for measurement noise
    local wobble = 1 + 0.04 * math.sin(i * 1.7)
    return { rate = rate, in_tokens = mix[1], out_tokens = mix[2], ttft_ms = o.ttft_ms * wobble,
      itl_ms = o.itl_ms / wobble, max_batch = 64 }
  end

  it("keeps its state as plain data that survives a reload", function()
    local st = model.fit_new { kind = "3p", alpha = 24, beta = 0.1, gamma = 0.001 }
    assert.is_true(plain(st))
    for i = 1, 20 do st = assert(model.fit_update(st, observation(i))) end
    -- a hot reload copies state as plain data; the copy must carry on exactly alike
    local copy = deepcopy(st)
    for i = 21, 150 do
      st = assert(model.fit_update(st, observation(i)))
      copy = assert(model.fit_update(copy, observation(i)))
    end
    assert.are.same(st, copy)
    local p = model.fit_params(st)
    assert.are.equal("3p", p.kind)
    for _, k in ipairs { "alpha", "beta", "gamma" } do
      assert.is_true(math.abs(p[k] / truth[k] - 1) < 0.05, k .. " " .. p[k])
    end
  end)

  it("returns a new table and leaves the old state alone", function()
    local st = model.fit_new(truth)
    local before = deepcopy(st)
    local st2, accepted = model.fit_update(st, observation(1))
    assert.are_not.equal(st, st2)
    assert.are.same(before, st)
    assert.is_true(accepted)
    assert.are.equal(1, st2.updates)
  end)

  it("rejects an outlier without moving", function()
    local st = model.fit_new(truth)
    for i = 1, 30 do st = model.fit_update(st, observation(i)) end
    local o = observation(31)
    o.ttft_ms = o.ttft_ms * 5
    local st2, accepted = model.fit_update(st, o)
    assert.is_false(accepted)
    assert.are.same(st.theta, st2.theta)
    assert.are.equal(st.rejected + 1, st2.rejected)
  end)

  it("returns nil and the reason for an unusable observation", function()
    local st = model.fit_new(truth)
    local o = observation(1)
    o.itl_ms = 0 -- no traffic in the window
    local r, err = model.fit_update(st, o)
    assert.is_nil(r)
    assert.truthy(err:find("itl_ms", 1, true))
  end)

  it("raises on malformed state or observation fields", function()
    local st = model.fit_new(truth)
    local bad = deepcopy(st)
    bad.cov = { 1, 2 }
    assert.has_error(function() model.fit_update(bad, observation(1)) end,
      "model.fit_update: state.cov must have 9 entries")
    bad = deepcopy(st)
    bad.kind = "step"
    assert.has_error(function() model.fit_update(bad, observation(1)) end,
      'model.fit_update: state.kind must be "4p" or "3p" (got step)')
    local o = observation(1)
    o.rate = "fast"
    assert.has_error(function() model.fit_update(st, o) end,
      "model.fit_update: obs.rate must be a number (got string)")
    assert.has_error(function() model.fit_new(model.builtin "llama-3.1-8b/h100") end,
      "model.fit_new: kind: the fitter handles 4p and 3p profiles, not step")
  end)
end)
