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
