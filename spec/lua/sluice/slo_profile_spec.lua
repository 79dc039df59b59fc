local cluster = require "support.cluster"
local ss = require "support.slospec"
local slo = require "sluice.slo"
local model = require "sluice.model"
local PER, kernel_rate, params, view_at = ss.PER, ss.kernel_rate, ss.params, ss.view_at
local profile = require "sluice.slo_profile"

describe("sluice.slo latency profiles", function()
  it("takes the prior from the variant's own profile before the built-in catalog", function()
    -- The WVA 4-parameter chart profile is far more optimistic (`sluice plan --perf
    -- llama-3.1-8b/h100:4p ... --itl 15.6`): 2 for what the calibrated profile needs 5.
    local rate = 4.7 * PER
    local wva = kernel_rate("llama-3.1-8b/h100:4p", { itl_ms = 24 * 0.65 })
    assert.are.equal(2, math.ceil(rate / wva))
    local d = slo.decide(view_at(0, rate, { variant = { profile = "llama-3.1-8b/h100:4p" } }),
      params{ up_delay = 0 }, {})
    assert.matches(string.format(
      "%.2f req/s per replica %%(llama%%-3.1%%-8b/h100:4p, itl%%-bound%%) → 2", wva),
      d["llm/a"].reason)
    -- ... and `profiles` in the params before both.
    d = slo.decide(view_at(0, rate, { variant = { profile = "llama-3.1-8b/h100:4p" } }),
      params{ up_delay = 0,
        profiles = { { accelerator = "h100", profile = "llama-3.1-8b/h100" } } }, {})
    assert.are.equal(5, d["llm/a"].replicas)
  end)

  it("drops a prior that mispredicts and sizes with the online fit once it predicts well",
    function()
      -- The replicas behave as the calibrated H100 step profile; the prior given is WVA's
      -- 3-parameter H100 fit with its KV-memory term doubled, which predicts higher latencies,
      -- and more so the busier a replica is. While load is light its error is a steady factor
      -- (a correction it may take); as replicas get busier its observed/predicted latency falls
      -- below the 0.67 the correction allows and it is dropped for the fit, which started from
      -- it. (WVA's own fit tracks the step profile within a few per cent at these loads.)
      local wva = model.builtin("llama-3.1-8b/h100:3p")
      local p = params{ profiles = { { profile = { kind = "3p", alpha = wva.alpha,
        beta = wva.beta, gamma = 2 * wva.gamma } } } }
      local c = cluster.new{ rate = function(t) return 100 + 40 * math.sin(t / 300) end,
        replicas = 5 }
      local state = {}
      c:run({ decide = slo.decide }, p, state, 3000)
      local vs = state.variants["llm/a"]
      -- Dropped for good: at lighter load the prior may look right again, but the choice only
      -- changes when the profile in use fails.
      assert.are.equal("fit", vs.use)
      assert.is_true(vs.fit_score.err < p.fit_tolerance)
      local out = slo.decide(c:view(), p, state)
      assert.matches("req/s per replica %(fitted 3p, itl%-bound", out["llm/a"].reason)
      -- Sized (before hysteresis holds it) within one replica of what the true profile needs.
      local sized = tonumber(out["llm/a"].reason:match("→ (%d+)"))
      assert.is_true(math.abs(sized - c:need(c.time)) <= 1, sized .. " vs " .. c:need(c.time))
    end)
end)

describe("sluice.slo latency profiles, on their own", function()
  local profiles = require "sluice.profiles"
  local memo = require "sluice.memo"
  local W = "meta-llama/Llama-3.1-8B-Instruct"
  local function plain(name) return profiles.plain(model.builtin(name)) end

  it("slo_of takes the variant's SLO class over the params', and is nil when neither sets one",
    function()
      local p = params{ ttft_ms = 800, itl_ms = 0 }
      assert.are.same({ ttft_ms = 500, itl_ms = 24, percentile = 0.99 },
        profile.slo_of(p, { slo = { ttft_ms = 500, itl_ms = 24 } }))
      assert.are.same({ ttft_ms = 800, itl_ms = 0, percentile = 0.99 }, profile.slo_of(p, {}))
      assert.are.same({ ttft_ms = 800, itl_ms = 0 }, profile.slo_of(params{ ttft_ms = 800,
        percentile = 0 }, {}))
      assert.is_nil(profile.slo_of(params(), {}))
    end)

  it("prior_of: the policy's profiles first, then the variant's own, then the catalog", function()
    local v = { model = W, accelerator = "H100", profile = "llama-3.1-8b/h100:3p" }
    local p = params{ profiles = { { model = "LLAMA", accelerator = "h100",
      profile = "llama-3.1-8b/h100:4p" } } }
    assert.are.same({ name = "llama-3.1-8b/h100:4p", profile = plain("llama-3.1-8b/h100:4p") },
      profile.prior_of(p, v))
    -- The accelerator must match whole: the entry does not apply on an H100-80GB.
    local v80 = { model = W, accelerator = "H100-80GB", profile = "llama-3.1-8b/h100:3p" }
    assert.are.equal("llama-3.1-8b/h100:3p", profile.prior_of(p, v80).name)
    assert.are.equal("llama-3.1-8b/h100", profile.prior_of(params(), { model = W,
      accelerator = "H100" }).name)
    assert.is_nil(profile.prior_of(params{ catalog = false }, { model = W, accelerator = "H100" }))
  end)

  it("prior_of names a configured profile table by its kind", function()
    local pr = { kind = "3p", alpha = 6, beta = 0.02, gamma = 5e-5 }
    local prior = profile.prior_of(params{ profiles = { { profile = pr } } }, { model = W })
    assert.are.same({ name = "configured 3p", profile = pr }, prior)
  end)

  it("fit_guess starts the fit from a fittable prior, else the pair's 3p, else WVA's defaults",
    function()
      local v = { model = W, accelerator = "H100" }
      local p3 = { kind = "3p", alpha = 1, beta = 2, gamma = 3 }
      assert.are.equal(p3, profile.fit_guess({ profile = p3 }, v))
      assert.are.same(plain("llama-3.1-8b/h100:3p"),
        profile.fit_guess({ profile = plain("llama-3.1-8b/h100") }, v))
      -- WVA's tuner starts from alpha 5, beta 0.05, gamma 5e-5.
      assert.are.same({ kind = "3p", alpha = 5.0, beta = 0.05, gamma = 5e-5 },
        profile.fit_guess(nil, { model = "Qwen/Qwen3-8B", accelerator = "H100" }))
    end)

  it("choose keeps the prior while its error is unknown or within tolerance", function()
    local prior = { name = "llama-3.1-8b/h100", profile = plain("llama-3.1-8b/h100") }
    local p = params{ fit = false }
    local vs = { prior = prior }
    assert.are.same({ "prior", "llama-3.1-8b/h100" }, { profile.choose(p, vs).key,
      profile.choose(p, vs).name })
    vs.prior_score = { err = 0.1, ttft = 1.2, itl = 0.9 }
    assert.are.equal("prior", profile.choose(p, vs).key)
    -- Too wrong, or off by more than the correction may take: nothing trusted.
    vs.prior_score = { err = 0.2 }
    assert.is_nil(profile.choose(p, vs))
    vs.prior_score = { err = 0.01, ttft = profile.CORRECTION_MIN - 0.01, itl = 1 }
    assert.is_nil(profile.choose(p, vs))
  end)

  it("choose moves to the fit once the prior fails and the fit has enough good observations, "
    .. "and stays there", function()
    local p = params()
    local fit = model.fit_new(plain("llama-3.1-8b/h100:3p"))
    local vs = { prior = { name = "x", profile = plain("llama-3.1-8b/h100") },
      prior_score = { err = 0.5 }, fit = fit, fit_score = { err = 0.05 } }
    fit.updates = p.fit_min - 1
    assert.is_nil(profile.choose(p, vs))
    fit.updates = p.fit_min
    local prof = profile.choose(p, vs)
    assert.are.same({ "fit", "fitted 3p" }, { prof.key, prof.name })
    assert.are.same(profiles.plain(model.fit_params(fit)), prof.profile)
    -- The prior looks right again: the choice sticks while the fit holds.
    vs.prior_score = { err = 0.01 }
    assert.are.equal("fit", profile.choose(p, vs).key)
    vs.fit_score = { err = 0.5 }
    assert.are.equal("prior", profile.choose(p, vs).key)
  end)

  it("max_rate needs an SLO, and solves at the centre of the token bucket", function()
    local vs = {}
    local prof = { key = "prior", profile = plain("llama-3.1-8b/h100") }
    local v = { model = W, accelerator = "H100", engine = { max_num_seqs = 256 } }
    assert.are.same({ nil, "no SLO class" },
      { profile.max_rate({ time = 0 }, params(), vs, v, prof, 1155, 211) })
    v.slo = { ttft_ms = 500, itl_ms = 24 }
    -- 1155 and 1160 prompt tokens fall in one 5% bucket: one rate for both.
    assert.are.equal(memo.bucket(1155, slo.grid.tokens), memo.bucket(1160, slo.grid.tokens))
    local r1 = profile.max_rate({ time = 0 }, params(), vs, v, prof, 1155, 211)
    local r2 = profile.max_rate({ time = 1 }, params(), vs, v, prof, 1160, 211)
    assert.are.equal(r1, r2)
    assert.are.equal(PER, r1)
  end)

  it("observe_latency folds in only a steady picture, every fit_every seconds", function()
    local p = params()
    local v = { model = W, accelerator = "H100", engine = { max_num_seqs = 256 },
      replicas = { ready = 2 }, signals = { request_rate = 4, ttft_mean = 0.1,
        itl_mean = 0.015, input_tokens_mean = 1000, output_tokens_mean = 200, running = 20,
        waiting = 0 } }
    local vs = { prior = false, fit = model.fit_new(plain("llama-3.1-8b/h100:3p")) }
    local function at(t, gw_queue)
      profile.observe_latency({ time = t, window = 30 }, p, vs, v, gw_queue or 0)
      return vs.fit.updates
    end
    -- Replicas just changed: wait a signal window.
    assert.are.equal(0, at(0))
    assert.are.equal(0, at(29))
    assert.are.equal(1, at(30))
    assert.are.equal(1, at(39))                       -- within fit_every of the last
    assert.are.equal(1, at(40, 3))                    -- requests held at the gateway
    v.signals.waiting = 2 * p.queue_per_replica + 1
    assert.are.equal(1, at(50))                       -- the engines are queueing
    v.signals.waiting = 0
    assert.are.equal(2, at(60))
  end)
end)
