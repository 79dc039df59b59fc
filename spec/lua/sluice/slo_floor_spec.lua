local ss = require "support.slospec"
local slo = require "sluice.slo"
local PER, params, view_at = ss.PER, ss.params, ss.view_at
local saturation = require "sluice.slo_floor"

describe("sluice.slo saturation floor", function()
  it("is all there is while no latency profile is trusted", function()
    local p = params{ up_delay = 0, catalog = false, fit = false }
    local full = { signals = { kv_usage = 0.9, running = 100, waiting = 0 } }
    local d = slo.decide(view_at(0, 40, full),
      p, {})
    -- ceil(2 x 0.9 / 0.8) = 3
    assert.are.equal(3, d["llm/a"].replicas)
    assert.matches("^no trusted latency profile; saturation kv 0.90 on 2 → 3 at 0.80",
      d["llm/a"].reason)
  end)

  it("scales down without a profile only while latency is well inside the SLO", function()
    local p, state = params{ catalog = false, fit = false, down_window = 0 }, {}
    local function sig(itl)
      return { kv_usage = 0.2, running = 20, waiting = 0, ttft_p99 = 0.1, itl_mean = itl }
    end
    -- KV alone says 1 (ceil(4 x 0.2 / 0.8)), but a mean ITL of 20 ms of 24 is not below half:
    -- hold.
    local four = { spec = 4, ready = 4 }
    local d = slo.decide(view_at(0, 40, { replicas = four, signals = sig(0.020) }),
      p, state)
    assert.are.equal(4, d["llm/a"].replicas)
    assert.matches("hold 4: mean ITL 20.0 ms of 24 not below 50%% of the SLO", d["llm/a"].reason)
    d = slo.decide(view_at(1, 40, { replicas = { spec = 4, ready = 4 }, signals = sig(0.010) }),
      p, state)
    assert.are.equal(1, d["llm/a"].replicas)
  end)

  it("is a floor under the model: it only ever adds", function()
    -- The model says 2 for 1.8 replicas' worth; KV at 0.95 on 2 says 3.
    local d = slo.decide(view_at(0, 1.8 * PER, { signals = { input_tokens_mean = 1155,
      output_tokens_mean = 211, kv_usage = 0.95, running = 150, waiting = 0 } }),
      params{ up_delay = 0 }, {})
    assert.are.equal(3, d["llm/a"].replicas)
    assert.matches("→ 2; .*; saturation floor kv 0.95 on 2 → 3 at 0.80", d["llm/a"].reason)
    -- KV at 0.5 says 2: the model's 2 stands.
    d = slo.decide(view_at(0, 1.8 * PER, { signals = { input_tokens_mean = 1155,
      output_tokens_mean = 211, kv_usage = 0.5, running = 80, waiting = 0 } }),
      params{ up_delay = 0 }, {})
    assert.are.equal(2, d["llm/a"].replicas)
  end)

  it("adds one when observed latency breaks the SLO with nothing starting", function()
    local d = slo.decide(view_at(0, 1.8 * PER, { signals = { input_tokens_mean = 1155,
      output_tokens_mean = 211, kv_usage = 0.3, running = 60, waiting = 0, ttft_p99 = 0.2,
      itl_mean = 0.030, itl_p99 = 0.090 } }), params{ up_delay = 0 }, {})
    assert.are.equal(3, d["llm/a"].replicas)
    assert.matches("mean ITL 30.0 ms of 24 over the SLO with none starting → 3",
      d["llm/a"].reason)
    -- A single-token tail far over the target with a mean inside it is no breach.
    d = slo.decide(view_at(0, 1.8 * PER, { signals = { input_tokens_mean = 1155,
      output_tokens_mean = 211, kv_usage = 0.3, running = 60, waiting = 0, ttft_p99 = 0.2,
      itl_mean = 0.012, itl_p99 = 0.130 } }), params{ up_delay = 0 }, {})
    assert.are.equal(2, d["llm/a"].replicas)
  end)
end)
