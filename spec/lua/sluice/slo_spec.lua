local fv = require "support.fakeview"
local cluster = require "support.cluster"
local ss = require "support.slospec"
local slo = require "sluice.slo"
local MODEL, SLO, H100, PER = ss.MODEL, ss.SLO, ss.H100, ss.PER
local kernel_rate, per_replica, params, view_at = ss.kernel_rate, ss.per_replica, ss.params,
  ss.view_at

local function is_plain(x, seen)
  seen = seen or {}
  local t = type(x)
  if t == "number" or t == "string" or t == "boolean" then return true end
  if t ~= "table" or getmetatable(x) ~= nil or seen[x] then return t == "table" and seen[x] end
  seen[x] = true
  for k, v in pairs(x) do
    if not is_plain(k, seen) or not is_plain(v, seen) then return false end
  end
  return true
end

describe("sluice.slo", function()
  describe("sizing", function()
    it("sizes for the forecast: ceil(rate / the rate one replica carries within the SLO)",
      function()
      -- With the defaults the mean ITL within 0.65 x 24 ms binds before the p99 TTFT within
      -- 500 ms: 4.7 replicas' worth of load -> 5.
      assert.is_true(kernel_rate(H100, { itl_ms = 24 * 0.65 })
        < kernel_rate(H100, { ttft_ms = 500, percentile = 0.99 }))
      local rate = 4.7 * PER
      local d = slo.decide(view_at(0, rate), params{ up_delay = 0 }, {})
      assert.are.equal(5, d["llm/a"].replicas)
      assert.matches(string.format("now %.1f req/s at 1155/211 tok; %.2f req/s per replica "
        .. "%%(llama%%-3.1%%-8b/h100, itl%%-bound%%) → 5", rate, PER), d["llm/a"].reason)
      -- The whole ITL target carries more per replica: fewer.
      d = slo.decide(view_at(0, rate), params{ up_delay = 0, itl_share = 1 }, {})
      local whole = math.ceil(rate / per_replica(1))
      assert.is_true(whole < 5)
      assert.are.equal(whole, d["llm/a"].replicas)
      -- A TTFT target tight enough to bind first: 45 ms at p99.
      local tight = per_replica(0.65, 45)
      assert.is_true(tight < PER)
      d = slo.decide(view_at(0, rate, { variant = { slo = { ttft_ms = 45, itl_ms = 24 } } }),
        params{ up_delay = 0 }, {})
      assert.are.equal(math.ceil(rate / tight), d["llm/a"].replicas)
      assert.matches(string.format("%.2f req/s per replica %%(llama%%-3.1%%-8b/h100, ttft%%-bound%%)",
        tight), d["llm/a"].reason)
    end)

    it("places across accelerator types cheapest per request first, within the GPU inventory",
      function()
        -- Same profile on both, A100 replicas cost 6, H100 10. 4.7 replicas' worth of load
        -- needs 5; only 2 A100 GPUs are free, so 2 there and the remaining 2.7 on H100: 3.
        local p = params{ up_delay = 0, profiles = { { profile = "llama-3.1-8b/h100" } } }
        local function variant(id, acc, cost)
          return { id = id, model = MODEL, accelerator = acc, cost = cost, slo = SLO, min = 0,
            max = 100, replicas = { spec = 0, ready = 0 },
            signals = { input_tokens_mean = 1155, output_tokens_mean = 211 } }
        end
        local view = fv.new{
          time = 0, period = 1, window = 30,
          variants = { variant("llm/h100", "H100", 10), variant("llm/a100", "A100", 6) },
          models = { [MODEL] = { signals = { queue_size = 0 } } },
          rates = { [MODEL] = { gateway_requests = 4.7 * PER } },
          inventory = { A100 = { total = 8, used = 6, cost = 6 },
            H100 = { total = 16, cost = 10 } },
        }
        local d = slo.decide(view, p, {})
        assert.are.equal(2, d["llm/a100"].replicas)
        assert.are.equal(3, d["llm/h100"].replicas)
        assert.matches("→ 3 %(alloc%)", d["llm/h100"].reason)
      end)
  end)

  describe("composing the stages", function()
    it("scales from zero at once on a queued request", function()
      local d = slo.decide(view_at(0, 0, { replicas = { spec = 0, ready = 0 }, queue = 3 }),
        params(), {})
      assert.are.equal(1, d["llm/a"].replicas)
      assert.matches("3 queued at zero replicas → 1", d["llm/a"].reason)
    end)

    it("bounds the rate a profile may claim by what saturated replicas finish", function()
      -- 30 waiting on 2 Ready replicas (more than 4 each) that finish 0.7 of what the profile
      -- says one carries, each: that is all one can do. 4.7 / 0.7 = 6.7 -> 7 for the forecast;
      -- the 30 queued grow by 3.3 replicas' worth a second for the 120-s cold start, and what is
      -- left then is drained in 60 s on top (with no runaway bound: it has a spec of its own).
      local p, state = params{ up_delay = 0, runaway = 0 }, {}
      local busy = { signals = { input_tokens_mean = 1155, output_tokens_mean = 211,
        request_rate = 1.4 * PER, running = 400, waiting = 30, kv_usage = 0.5 } }
      local d = slo.decide(view_at(0, 4.7 * PER, busy), p, state)
      local left = 30 + (4.7 - 1.4) * PER * 120
      local extra = math.ceil(left / (60 * 0.7 * PER) - 1e-9)
      assert.are.equal(7 + extra, d["llm/a"].replicas)
      assert.matches(string.format("backlog drain 30 queued, %.0f left in 120 s, cleared in 60 s "
        .. "→ %%+%d", left, extra), d["llm/a"].reason)
      assert.matches(string.format(
        "%.2f req/s per replica %%(llama%%-3.1%%-8b/h100, saturation%%-bound%%) → 7", 0.7 * PER),
        d["llm/a"].reason)
      -- The bound outlives the saturation by a down window, then the profile sizes again.
      local calm = { signals = { input_tokens_mean = 1155, output_tokens_mean = 211 } }
      d = slo.decide(view_at(299, 4.7 * PER, calm), p, state)
      assert.matches("saturation%-bound", d["llm/a"].reason)
      d = slo.decide(view_at(300, 4.7 * PER, calm), p, state)
      assert.matches(string.format("%.2f req/s per replica %%(llama%%-3.1%%-8b/h100, itl%%-bound%%)",
        PER), d["llm/a"].reason)
    end)
  end)

  it("keeps all its memory as plain data", function()
    local c = cluster.new{ rate = function(t) return 60 + 20 * math.sin(t / 60) end, replicas = 3 }
    local state = {}
    c:run({ decide = slo.decide }, params(), state, 900)
    assert.is_true(is_plain(state))
  end)

  it("validate names the field", function()
    assert.is_nil(slo.validate(params()))
    assert.matches("percentile", slo.validate(params{ percentile = 1 }))
    assert.matches("unknown parameter nope", slo.validate{ nope = 1 })
    assert.matches("profiles%[1%]%.profile: unknown profile 'x'",
      slo.validate(params{ profiles = { { profile = "x" } } }))
    assert.matches("trend_window", slo.validate(params{ trend_window = 5 }))
    assert.matches("runaway", slo.validate(params{ runaway = -1 }))
    assert.matches("drain", slo.validate(params{ drain = 0 }))
    assert.matches("help_load", slo.validate(params{ help_load = 2 }))
    assert.matches("upper", slo.validate(params{ upper = "yes" }))
  end)
end)
