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

describe("sluice.slo saturation floor, on its own", function()
  local P = { kv_target = 0.8, queue_per_replica = 4, percentile = 0.99, ttft_ms = 0, itl_ms = 0 }
  local function with(p, over)
    local q = {}
    for k, x in pairs(p) do q[k] = x end
    for k, x in pairs(over) do q[k] = x end
    return q
  end
  local function v(ready, signals, slo_class)
    return { replicas = { ready = ready }, signals = signals, slo = slo_class }
  end

  it("asks nothing of a variant with no Ready replica or no signals", function()
    assert.is_nil(saturation.saturation_need(P, v(0, { kv_usage = 0.9, waiting = 50 }), 0, 1))
    assert.is_nil(saturation.saturation_need(P, v(2, {}), 0, 1))
    -- Reporting queues that trigger nothing is a need of 0, not no opinion.
    assert.are.same({ 0 }, { saturation.saturation_need(P, v(2, { waiting = 1 }), 0, 1) })
  end)

  it("scales KV usage to kv_target per replica, a usage exactly at it needing no more", function()
    local n, why = saturation.saturation_need(P, v(3, { kv_usage = 0.5 }), 0, 1)
    assert.are.equal(math.ceil(3 * 0.5 / 0.8), n)
    assert.are.equal("kv 0.50 on 3 → 2 at 0.80", why)
    assert.are.equal(4, (saturation.saturation_need(P, v(4, { kv_usage = 0.8 }), 0, 1)))
  end)

  it("reads queues over queue_per_replica as saturation: demand over what they finish", function()
    -- 5 waiting in the engines + 4 of the gateway's > 4 x 2: the 2 finish 3 req/s of 6.
    local n, why = saturation.saturation_need(P, v(2, { waiting = 5, request_rate = 3 }), 4, 6)
    assert.are.equal(math.ceil(2 * 6 / 3), n)
    assert.are.equal("9 waiting on 2 finishing 3.0 req/s of 6.0 → 4", why)
    -- Without a finishing rate: one more.
    assert.are.equal(3, (saturation.saturation_need(P, v(2, { waiting = 9 }), 0, 6)))
    -- Never fewer than the Ready replicas, and the larger of the KV and queue needs.
    assert.are.equal(2,
      (saturation.saturation_need(P, v(2, { waiting = 9, request_rate = 9 }), 0, 1)))
    assert.are.equal(5, (saturation.saturation_need(P, v(2, { waiting = 9, request_rate = 3,
      kv_usage = 1.9 }), 0, 6)))
  end)

  it("latency_ratio is the worse of TTFT at the percentile and mean ITL over their targets",
    function()
      local class = { ttft_ms = 500, itl_ms = 24 }
      local r, why = saturation.latency_ratio({}, P, v(2, { ttft_p99 = 0.4 }, class))
      assert.are.equal(0.4 * 1000 / 500, r)
      assert.are.equal("p99 TTFT 400 ms of 500", why)
      r, why = saturation.latency_ratio({}, P, v(2, { ttft_p99 = 0.4, itl_mean = 0.03 }, class))
      assert.are.equal(0.03 * 1000 / 24, r)
      assert.are.equal("mean ITL 30.0 ms of 24", why)
      -- The mean (percentile 0) reads the median TTFT.
      r = saturation.latency_ratio({}, with(P, { percentile = 0 }),
        v(2, { ttft_p50 = 0.1, ttft_p99 = 9 }, class))
      assert.are.equal(0.1 * 1000 / 500, r)
    end)

  it("latency_ratio asks the view for a percentile the signals do not carry, and is nil "
    .. "without an SLO", function()
    local view = { window = 30, quantile_over = function(_, _, hist, q, win)
      assert.are.same({ "ttft", 0.95, 30 }, { hist, q, win })
      return 0.25
    end }
    assert.are.equal(0.25 * 1000 / 500, (saturation.latency_ratio(view,
      with(P, { percentile = 0.95 }), v(2, {}, { ttft_ms = 500 }))))
    assert.is_nil(saturation.latency_ratio({}, P, v(2, { ttft_p99 = 1 })))
  end)
end)
