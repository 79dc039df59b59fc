-- What capacity can do, on fixture views: the backlog of a ramp, a burst's backlog the Ready
-- replicas clear before a new one could help, latency tails more replicas do not shorten, prompts
-- no replica can serve in time, and the runaway bound. Rates are in replicas' worth (ss.PER).
local ss = require "support.slospec"
local slo = require "sluice.slo"
local model = require "sluice.model"
local PER, params, view_at = ss.PER, ss.params, ss.view_at

local function signals(extra)
  local s = { input_tokens_mean = 1155, output_tokens_mean = 211 }
  for k, x in pairs(extra or {}) do s[k] = x end
  return s
end

describe("sluice.slo limits", function()
  describe("backlog", function()
    it("a ramp that outran the Ready replicas: sized for the forecast plus draining what will "
      .. "have queued by the time new replicas are Ready", function()
      -- 2 Ready finish the 2 replicas' worth they carry while 4.7 arrive, with 300 queued: by
      -- the 120-s cold start 300 + 2.7 x 120 replicas' worth wait, cleared in 60 s on top of the
      -- 5 the forecast needs.
      local v = view_at(0, 4.7 * PER, { signals = signals{ request_rate = 2 * PER,
        waiting = 300, running = 400, kv_usage = 0.5 } })
      local d = slo.decide(v, params{ up_delay = 0 }, {})
      local left = 300 + (4.7 - 2) * PER * 120
      local extra = math.ceil(left / (60 * PER) - 1e-9)
      assert.is_true(extra >= 2)
      assert.are.equal(5 + extra, d["llm/a"].replicas)
      assert.matches(string.format("→ 5; cold start 120 s %%(default%%); backlog drain 300 queued, "
        .. "%.0f left in 120 s, cleared in 60 s → %%+%d", left, extra), d["llm/a"].reason)
      -- A longer drain budget asks for fewer.
      local slow = slo.decide(v, params{ up_delay = 0, drain = 600 }, {})
      assert.is_true(slow["llm/a"].replicas < 5 + extra)
    end)

    it("a burst's backlog the Ready replicas clear before a new replica could be Ready adds "
      .. "nothing", function()
      -- 4 Ready carry 4 replicas' worth; 1.5 arrive, 15 queued: gone in well under a second.
      local v = view_at(0, 1.5 * PER, { replicas = { spec = 4, ready = 4 },
        signals = signals{ request_rate = 1.5 * PER, waiting = 15, running = 100 } })
      local d = slo.decide(v, params{ up_delay = 0 }, {})
      assert.are.equal(4, d["llm/a"].replicas)
      assert.matches(string.format("backlog 15 drains in %.0f s on 4 Ready, before a new replica "
        .. "%%(120 s%%)", 15 / (4 * PER - 1.5 * PER)), d["llm/a"].reason)
      assert.is_nil(d["llm/a"].reason:find("backlog drain", 1, true))
    end)
  end)

  describe("capacity cannot help", function()
    it("mean ITL over the SLO at light load adds no replica, and says what to change", function()
      -- 4 Ready carry 4 replicas' worth; 1 arrives; the engines' mean ITL is 30 ms of 24.
      local light = view_at(0, 1 * PER, { replicas = { spec = 4, ready = 4 },
        signals = signals{ request_rate = 1 * PER, itl_mean = 0.030, waiting = 0, running = 20 } })
      local d = slo.decide(light, params{ up_delay = 0 }, {})
      assert.are.equal(4, d["llm/a"].replicas)
      assert.matches("capacity cannot help: mean ITL 30%.0 ms of 24 at 25%% of what 4 Ready carry "
        .. "within the SLO %(prefill chunks in decode steps: lower max_num_batched_tokens, 8192 "
        .. "now%)", d["llm/a"].reason)
      -- The control: the same ITL with the replicas near what they carry asks for one more.
      local busy = view_at(0, 3.8 * PER, { replicas = { spec = 4, ready = 4 },
        signals = signals{ request_rate = 3.8 * PER, itl_mean = 0.030, waiting = 0,
          running = 80 } })
      d = slo.decide(busy, params{ up_delay = 0 }, {})
      assert.are.equal(5, d["llm/a"].replicas)
      assert.matches("mean ITL 30%.0 ms of 24 over the SLO with none starting → 5",
        d["llm/a"].reason)
    end)

    it("names prompts whose prefill alone exceeds the TTFT target, and still sizes for the "
      .. "requests behind them", function()
      local pr = model.builtin(ss.H100)
      local alone = model.predict(pr, { max_batch = 256, in_tokens = 60000, out_tokens = 211 },
        1e-3).ttft_ms
      assert.is_true(alone > 500)
      local v = view_at(0, 2.5 * PER, { replicas = { spec = 4, ready = 4 },
        signals = signals{ request_rate = 2.5 * PER, ttft_p99 = 2.0, waiting = 0, running = 50 },
        quantiles = { request_prompt_tokens = { [0.99] = 60000, [0.98] = 40000,
          [0.95] = 3000 } } })
      local d = slo.decide(v, params{ up_delay = 0 }, {})
      -- p99 TTFT over the SLO with none starting: one more, as before.
      assert.are.equal(5, d["llm/a"].replicas)
      assert.matches("p99 TTFT 2000 ms of 500 over the SLO with none starting → 5",
        d["llm/a"].reason)
      assert.matches(string.format("p99 prompt 60000 tokens takes %.0f ms to prefill alone, over "
        .. "its 500: this SLO class cannot be met for such prompts %%(2–5%%%% of the last 30 "
        .. "s's%%)", alone),
        d["llm/a"].reason)
      -- With only the 99th percentile known, the share is a lower bound.
      v = view_at(0, 2.5 * PER, { replicas = { spec = 4, ready = 4 },
        signals = signals{ request_rate = 2.5 * PER, ttft_p99 = 2.0, waiting = 0, running = 50 },
        quantiles = { request_prompt_tokens = { [0.99] = 60000 } } })
      d = slo.decide(v, params{ up_delay = 0 }, {})
      assert.matches("cannot be met for such prompts %(at least 1%% of the last 30 s's%)",
        d["llm/a"].reason)
      -- Prompts that fit are not named.
      v = view_at(0, 1 * PER, { replicas = { spec = 4, ready = 4 },
        signals = signals{ request_rate = 1 * PER, ttft_p99 = 2.0, waiting = 0, running = 20 },
        quantiles = { request_prompt_tokens = { [0.99] = 2000 } } })
      d = slo.decide(v, params{ up_delay = 0 }, {})
      assert.is_nil(d["llm/a"].reason:find("cannot be met", 1, true))
    end)
  end)

  describe("runaway bound", function()
    it("caps a floor at the stated multiple of what the model sizes for the forecast", function()
      -- 2 Ready with a queue, finishing a tenth of a replica's worth each (a burst that has just
      -- hit them): the queue floor scales by arrivals over that, 2 x 4.7 / 0.2 = 47. The model
      -- says 4.7 replicas' worth needs 5; with a bound of 3 times that, 15.
      -- (What the saturated replicas finish also bounds the profile's rate, so the placement
      -- alone would ask for 47 too, and the backlog's drain more.)
      local v = view_at(0, 4.7 * PER, {
        signals = signals{ request_rate = 0.2 * PER, waiting = 40, running = 400,
          kv_usage = 0.5 } })
      local p = params{ up_delay = 0, runaway = 3 }
      local d = slo.decide(v, p, {})
      assert.are.equal(15, d["llm/a"].replicas)
      assert.matches("runaway bound 15 %(3× the 5 the model sizes for the forecast%) binds",
        d["llm/a"].reason)
      -- Off, the floor stands.
      p.runaway = 0
      d = slo.decide(v, p, {})
      assert.is_true(d["llm/a"].replicas > 15)
    end)
  end)
end)
