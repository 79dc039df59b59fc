local fv = require "support.fakeview"
local wva = require "sluice.wva"

local policy = dofile("policies/wva.lua")

local function two_replicas(kv, q)
  local pods = {}
  for i = 1, 2 do
    pods[i] = { name = "a-" .. i, signals = { kv_usage = kv, waiting = q or 0,
      kv_capacity_tokens = 160000 } }
  end
  return fv.new{ time = 1000, variants = { {
    id = "llm/a", model = "m", cost = 10, replicas = { spec = 2, ready = 2 },
    signals = { input_tokens_mean = 512, output_tokens_mean = 256 }, pods = pods } } }
end

-- The algorithm alone, without the HPA that actuates it in a deployment.
local function direct(over)
  local params = {}
  for k, v in pairs(policy.params) do params[k] = v end
  params.actuation = "direct"
  for k, v in pairs(over or {}) do params[k] = v end
  return params
end

describe("policies/wva.lua", function()
  it("is WVA V2 with WVA's shipped defaults, actuated through the HPA of WVA's benchmark",
    function()
    assert.are.equal("wva", policy.name)
    assert.are.equal(2, policy.params.version)
    local algo = {}
    for k, v in pairs(policy.params) do
      if k ~= "actuation" then algo[k] = v end
    end
    assert.are.same(wva.defaults, algo)
    assert.are.equal("hpa", policy.params.actuation)
    assert.is_nil(policy.validate(policy.params))
    assert.matches("actuation", policy.validate(direct{ actuation = "keda" }))
  end)

  it("passes WVA's count through the benchmark's HPA at once; the chart's 60-s window holds it",
    function()
    local d = policy.decide(two_replicas(0.71875), policy.params, {})
    assert.are.equal(3, d["llm/a"].replicas)
    assert.matches("; HPA: wva_desired_replicas/replica 1.5 > target 1 → 3", d["llm/a"].reason)
    local state = {}
    local chart = direct{ actuation = "hpa-chart" }
    assert.is_nil(policy.validate(chart))
    d = policy.decide(two_replicas(0.71875), chart, state)
    assert.are.equal(2, d["llm/a"].replicas)
    assert.matches("^V2 demand 230000 .* → %+1 on llm/a %(cheapest per token%); HPA: "
      .. "wva_desired_replicas/replica 1.5 > target 1 → 3; stabilized at 2", d["llm/a"].reason)
  end)

  it("ticks every 15 s on Prometheus-fed signals and wakes on a queued request", function()
    assert.are.equal(15, policy.period)
    assert.are.same({ scrape_interval = 15, lag = 30, window = 60 }, policy.signals)
    assert.is_true(policy.scale_from_zero)
  end)

  it("decides the V2 worked example with reasons that name the numbers", function()
    -- Two 160 000-token replicas at 71.875% (115 000 each): demand 230 000 against capacity
    -- 2 x 128 000 = 256 000, RC = 230 000 / 0.85 - 256 000 = 14 588.2: +1.
    local d = policy.decide(two_replicas(0.71875), direct(), {})
    assert.are.same({ "llm/a" }, (function()
      local ids = {}
      for id in pairs(d) do ids[#ids + 1] = id end
      return ids
    end)())
    assert.are.equal(3, d["llm/a"].replicas)
    assert.are.equal("V2 demand 230000 > 0.85 × anticipated supply 256000: RC 14588 → +1 on llm/a "
      .. "(cheapest per token)", d["llm/a"].reason)
  end)

  it("runs V1 when configured with version = 1", function()
    -- V1 on the same replicas: spare kv 0.80 - 0.71875 = 0.08125 < 0.10: +1, with a V1 reason.
    local params = direct{ version = 1 }
    assert.is_nil(policy.validate(params))
    local d = policy.decide(two_replicas(0.71875), params, {})
    assert.are.equal(3, d["llm/a"].replicas)
    assert.matches("^V1 spare kv 0.081 < 0.10", d["llm/a"].reason)
    -- At 60% with 3 waiting per replica the KV spare 0.20 is ample but the queue spare
    -- 5 - 3 = 2 < 3: V1 adds one, while V2 holds on the same replicas (demand 196 608).
    assert.are.equal(3, policy.decide(two_replicas(0.6, 3), params, {})["llm/a"].replicas)
    assert.are.equal(2, policy.decide(two_replicas(0.6, 3), direct(), {})["llm/a"].replicas)
  end)

  it("rejects inconsistent thresholds", function()
    local params = {}
    for k, v in pairs(policy.params) do params[k] = v end
    params.scale_down_boundary = 0.9
    assert.matches("scale_up_threshold %(0.85%) must be greater than scale_down_boundary %(0.9%)",
      policy.validate(params))
  end)
end)
