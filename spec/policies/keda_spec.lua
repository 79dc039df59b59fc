-- The canned "keda" policy driven through fake views over several ticks, with hand-worked
-- numbers in the comments.
local fv = require "support.fakeview"

local function load_policy() return dofile("policies/keda.lua") end

local function params(over)
  local p = {}
  for k, v in pairs(load_policy().params) do p[k] = v end
  for k, v in pairs(over or {}) do p[k] = v end
  return p
end

-- A variant with `ready` Ready pods, each with the given pod signals; v.signals.running is the
-- sum over them, as the view aggregates it.
local function variant(id, spec, ready, podsig, over)
  local v = { id = id, model = "m", replicas = { spec = spec, ready = ready }, pods = {},
              signals = {} }
  for i = 1, ready do
    local s = {}
    for k, x in pairs(podsig or {}) do s[k] = x end
    v.pods[i] = { name = id:match("/(.*)") .. "-" .. i, phase = "ready", signals = s }
    if s.running then v.signals.running = (v.signals.running or 0) + s.running end
  end
  for k, x in pairs(over or {}) do v[k] = x end
  return v
end

local function view(t, variants, msig)
  return fv.new{ time = t, variants = variants, models = { m = { signals = msig or {} } } }
end

describe("policy keda", function()
  local policy, state
  before_each(function()
    policy, state = load_policy(), {}
    policy.init(policy.params, state)
  end)

  it("keda activates a variant at zero on the first queued request", function()
    local p = params({ running_target = 8 })
    local out = policy.decide(view(0, { variant("llm/a", 0, 0, nil, { min = 0 }) },
      { queue_size = 2 }), p, state)
    assert.are.same({ replicas = 1, reason = "activated: epp-queue-size 2 > activation 0 → 1" },
      out["llm/a"])
    assert.is_true(policy.scale_from_zero)
  end)

  it("keda hands 1..N to its HPA and goes to zero after the cooldown", function()
    local p = params({ running_target = 8 })
    local function tick(t, spec, queue, running)
      local v = variant("llm/a", spec, spec, { running = running }, { min = 0 })
      return policy.decide(view(t, { v }, { queue_size = queue }), p, state)["llm/a"]
    end
    assert.are.equal(1, tick(0, 0, 2, 0).replicas)
    -- t=15 at 1: queue 6 / (1 x 1) -> ceil(6) = 6, running 0 -> 0; limit max(1 + 4, 2) = 5
    local d = tick(15, 1, 6, 0)
    assert.are.equal(5, d.replicas)
    assert.are.equal("epp-queue-size/replica 6 > target 1 → 6; held to 5 by scale-up rate limit",
      d.reason)
    -- last active at t=15; idle from t=30. The HPA keeps 1 (its min); KEDA waits until
    -- 15 + 300 < t, i.e. the poll at t=330.
    for t = 30, 315, 15 do assert.are.equal(1, tick(t, 1, 0, 0).replicas) end
    d = tick(330, 1, 0, 0)
    assert.are.equal(0, d.replicas)
    assert.matches("^deactivated", d.reason)
  end)

  it("keda's token-aware triggers size on summed KV usage and prefill backlog", function()
    -- 4 Ready pods at kv 0.9: sum 3.6 -> ceil(3.6 / 0.8) = 5.
    -- 47784 in-flight tokens / 15928 tokens/s = 3 s -> 3 / (1.5 x 4) = 0.5 -> ceil(2) = 2.
    -- max 5; limit max(4 + 4, 8) -> 5.
    local v = variant("llm/a", 4, 4, { kv_usage = 0.9, running = 3 })
    local out = policy.decide(view(0, { v }, { inflight_tokens = 47784 }),
      params({ triggers = "token-aware" }), state)
    assert.are.same({ replicas = 5, reason = "decode-kv-utilization/replica 0.9 > target 0.8 → 5" },
      out["llm/a"])
  end)

  it("keda's saturation trigger proposes ceil(saturation / 0.7)", function()
    -- 0.95 / 0.7 -> ceil(1.357) = 2; running 4 / 8 -> ceil(0.5) = 1 -> 2
    local v = variant("llm/a", 1, 1, { running = 4 })
    local out = policy.decide(view(0, { v }, { saturation = 0.95 }),
      params({ triggers = "saturation", running_target = 8 }), state)
    assert.are.same({ replicas = 2, reason = "pool-saturation/replica 0.95 > target 0.7 → 2" },
      out["llm/a"])
  end)

  it("keda scales a model's variants on their own running requests and the shared queue",
    function()
    -- a: running 24 / 8 -> ceil(3) = 3; b: running 0. Both read queue 2 -> ceil(2 / 1) = 2.
    -- a -> max(3, 2) = 3; b -> 2.
    local p = params({ running_target = 8 })
    local out = policy.decide(view(0, { variant("llm/a", 1, 1, { running = 24 }),
                                        variant("llm/b", 1, 1, { running = 0 }) },
      { queue_size = 2 }), p, state)
    assert.are.equal(3, out["llm/a"].replicas)
    assert.are.equal(2, out["llm/b"].replicas)
  end)

  it("keda falls back to fixed replicas when its triggers keep failing", function()
    -- ignore_null_values off: no queue series and no running samples are failed queries.
    -- t=0: failures 1, not > 1 -> no valid metric -> hold 2.
    -- t=15: failures 2 > 1 -> queue := 1 x 4 = 4 -> ceil(4 / 1) = 4; running := 8 x 4 = 32 ->
    -- ceil(32 / 8) = 4; limit max(2 + 4, 4) -> 4.
    local p = params({ running_target = 8, ignore_null_values = false,
                       fallback_behavior = "static", fallback_replicas = 4,
                       fallback_failure_threshold = 1 })
    local v = variant("llm/a", 2, 2)
    local out = policy.decide(view(0, { v }), p, state)
    assert.are.equal(2, out["llm/a"].replicas)
    assert.matches("^no change", out["llm/a"].reason)
    out = policy.decide(view(15, { v }), p, state)
    assert.are.equal(4, out["llm/a"].replicas)
    assert.matches("fallback for epp%-queue%-size, running%-requests", out["llm/a"].reason)
  end)

  it("keda reads absent series as zero by default", function()
    -- no queue, no samples: both triggers read 0 -> proposals 0; the seed 2 holds in the window
    local out = policy.decide(view(0, { variant("llm/a", 2, 2) }), params(), state)
    assert.are.equal(2, out["llm/a"].replicas)
    assert.is_nil(out["llm/a"].reason:match("^no change"))
  end)

  it("keda validates its params naming the field", function()
    assert.is_nil(policy.validate(params()))
    assert.matches("^triggers", policy.validate(params({ triggers = "gpu" })))
    assert.matches("^fallback_behavior",
      policy.validate(params({ fallback_behavior = "modifiers" })))
    assert.matches("^idle_replica_count", policy.validate(params({ idle_replica_count = -2 })))
    assert.matches("^polling_interval", policy.validate(params({ polling_interval = 0 })))
    assert.matches("^kv_target", policy.validate(params({ kv_target = -1 })))
    assert.matches("^scale_up_select", policy.validate(params({ scale_up_select = "Any" })))
  end)
end)
