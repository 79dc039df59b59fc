local fv = require "support.fakeview"
local igw = require "sluice.igw"
local model = require "sluice.model"
local profiles = require "sluice.profiles"

local MODEL = "meta-llama/Llama-3.1-8B-Instruct"

local function params(over)
  local p = {}
  for k, v in pairs(igw.defaults) do p[k] = v end
  for k, v in pairs(over or {}) do p[k] = v end
  return p
end

-- One variant on H100 with the calibrated profile and the {500 ms, 24 ms} SLO class; gateway
-- signals from `gw`.
local function view_at(t, gw, o)
  o = o or {}
  return fv.new{
    time = t, period = 1, window = 30,
    variants = { {
      id = "llm/a", model = MODEL, accelerator = "H100", profile = "llama-3.1-8b/h100",
      slo = { ttft_ms = 500, itl_ms = 24 }, min = 0, max = 100,
      replicas = o.replicas or { spec = 2, ready = 2 },
      signals = o.signals or { input_tokens_mean = 1155, output_tokens_mean = 211 },
    } },
    models = { [MODEL] = { signals = gw } },
  }
end

-- The auto budget from the kernel igw sizes with (`sluice plan --perf llama-3.1-8b/h100
-- --max-batch 256 --in 1155 --out 211 --ttft 500 --itl 24 --percentile 0.99`, then --rate at
-- that limit): 80% of the requests in service at the SLO limit, in prompt tokens. The specs put
-- their tokens in flight in these units, so they test igw's arithmetic, not the calibration.
local H100 = profiles.plain(model.builtin("llama-3.1-8b/h100"))
-- igw solves at the centre of the 5% bucket the token mix falls in.
local memo = require "sluice.memo"
local _, I = memo.bucket(1155, igw.MIX_STEP)
local _, O = memo.bucket(211, igw.MIX_STEP)
local SHAPE = { max_batch = 256, in_tokens = I, out_tokens = O }
local LIMIT = model.max_rate(H100, SHAPE, { ttft_ms = 500, itl_ms = 24, percentile = 0.99 })
local IN_SERVICE = model.predict(H100, SHAPE, LIMIT).in_service
local BUDGET = 0.8 * IN_SERVICE * I

describe("sluice.igw", function()
  it("sizes the prompt tokens in flight against the budget one replica carries at its SLO",
    function()
    -- 3.25 budgets in flight -> 4.
    local d = igw.decide(view_at(0, { inflight_tokens = 3.25 * BUDGET, queue_size = 0 }),
      params(), {})
    assert.are.equal(4, d["llm/a"].replicas)
    assert.matches(string.format("over %%d%%.%%d+ s per replica %%(80%%%% of %.1f requests in "
      .. "flight at the SLO limit %.2f req/s, llama%%-3.1%%-8b/h100%%) → 4", IN_SERVICE, LIMIT),
      d["llm/a"].reason)
  end)

  it("takes a budget in seconds and a prefill rate as llm-d's guide configures them", function()
    -- 100 000 tokens / 15 928 tok/s = 6.28 s of backlog; at 1.5 s per replica: 4.19 -> 5.
    local p = params{ backlog_budget = 1.5, prefill_tokens_per_s = 15928 }
    local d = igw.decide(view_at(0, { inflight_tokens = 100000, queue_size = 0 }), p, {})
    assert.are.equal(5, d["llm/a"].replicas)
    assert.matches("^backlog 6.28 s %(100000 tokens in flight at 15928 tok/s, configured%) over "
      .. "1.50 s per replica %(configured%) → 5", d["llm/a"].reason)
  end)

  it("wakes a model at zero on its first queued request", function()
    local d = igw.decide(view_at(0, { inflight_tokens = 0, queue_size = 1 },
      { replicas = { spec = 0, ready = 0 } }), params(), {})
    assert.are.equal(1, d["llm/a"].replicas)
  end)

  it("adds what clears a growing gateway queue within queue_drain, nothing for a draining one",
    function()
      -- Budget 1.5 s at 15 928 tok/s: 23 892 tokens per replica; 47 784 in flight is 2 of them.
      -- 200 queued prompts of 1000 tokens = 200 000 tokens, worth 1.5 / 60 of a token in flight
      -- each: 5000 more, 52 784 in all: 2.2 -> 3.
      local p = params{ backlog_budget = 1.5, prefill_tokens_per_s = 15928 }
      local sig = { input_tokens_mean = 1000, output_tokens_mean = 200 }
      local state = {}
      igw.decide(view_at(0, { inflight_tokens = 47784, queue_size = 100 }, { signals = sig }), p,
        state)
      local d = igw.decide(view_at(1, { inflight_tokens = 47784, queue_size = 200 },
        { signals = sig }), p, state)
      assert.are.equal(3, d["llm/a"].replicas)
      assert.matches("%+ 200 queued growing, 12.6 s of prefill to clear in 60 s", d["llm/a"].reason)
      state = {}
      igw.decide(view_at(0, { inflight_tokens = 47784, queue_size = 200 }, { signals = sig }), p,
        state)
      d = igw.decide(view_at(1, { inflight_tokens = 47784, queue_size = 100 }, { signals = sig }),
        p, state)
      assert.are.equal(2, d["llm/a"].replicas)
      assert.matches("%+ 100 queued draining", d["llm/a"].reason)
    end)

  it("holds replicas that queued requests are waiting for", function()
    local d = igw.decide(view_at(0, { inflight_tokens = 10000, queue_size = 50 },
      { replicas = { spec = 4, ready = 2, starting = 2 } }), params{ down_window = 0 }, {})
    assert.are.equal(4, d["llm/a"].replicas)
    assert.matches("hold 4: 50 queued wait for 2 starting", d["llm/a"].reason)
  end)

  it("keeps the KV cache under kv_target as a floor", function()
    -- ceil(2 x 0.95 / 0.8) = 3, above the 1 the tokens in flight ask for.
    local d = igw.decide(view_at(0, { inflight_tokens = 50000, queue_size = 0 }, {
      signals = { input_tokens_mean = 1155, output_tokens_mean = 211, kv_usage = 0.95 } }),
      params(), {})
    assert.are.equal(3, d["llm/a"].replicas)
    assert.matches("kv 0.95 on 2 → 3 at 0.80", d["llm/a"].reason)
  end)

  it("scales down only after down_window, to the peak need over it", function()
    local p, state, spec = params{ down_window = 60 }, {}, 4
    local function tick(t, tokens)
      local d = igw.decide(view_at(t, { inflight_tokens = tokens, queue_size = 0 },
        { replicas = { spec = spec, ready = spec } }), p, state)
      spec = d["llm/a"].replicas
      return d["llm/a"]
    end
    tick(0, 3.25 * BUDGET)                        -- 4
    for t = 1, 59 do tick(t, 1.1 * BUDGET) end    -- needs 2: the 4 of t = 0 is the peak
    assert.are.equal(4, spec)
    -- The peak is kept per 10-s bucket: [0, 10) leaves the window (t - 60, t] at t = 60.
    local d = tick(60, 1.1 * BUDGET)
    assert.are.equal(2, spec)
    assert.matches("down to 2, the peak need over 60 s", d.reason)
  end)

  it("validate names the field", function()
    assert.is_nil(igw.validate(params()))
    assert.matches("backlog_budget", igw.validate(params{ backlog_budget = "soon" }))
    assert.matches("queue_drain", igw.validate(params{ queue_drain = 0 }))
    assert.matches("unknown parameter x", igw.validate{ x = 1 })
  end)
end)
