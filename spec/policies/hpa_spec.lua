-- The canned "hpa" policy driven through fake views over several ticks. Numbers are worked by
-- hand from the HPA rules in the comments.
local fv = require "support.fakeview"

local function load_policy() return dofile("policies/hpa.lua") end

local function params(over)
  local p = {}
  for k, v in pairs(load_policy().params) do p[k] = v end
  for k, v in pairs(over or {}) do p[k] = v end
  return p
end

-- Pods named <name>-0.. with the given running counts; "starting"/"pending"/"draining" entries
-- add pods in that phase without samples (or with a table {phase, running}).
local function pods(name, list)
  local out = {}
  for i, x in ipairs(list) do
    local p = { name = name .. "-" .. (i - 1) }
    if type(x) == "number" then
      p.phase, p.signals = "ready", { running = x }
    elseif type(x) == "table" then
      p.phase, p.signals = x[1], { running = x[2] }
    else
      p.phase = x
    end
    out[i] = p
  end
  return out
end

local function variant(id, spec, podlist, over)
  local v = { id = id, model = "m",
              replicas = { spec = spec, ready = 0, starting = 0, pending = 0 },
              pods = pods(id:match("/(.*)"), podlist), signals = {} }
  local run = 0
  for _, p in ipairs(v.pods) do
    if p.phase == "ready" then
      v.replicas.ready = v.replicas.ready + 1
      run = run + (p.signals.running or 0)
    elseif p.phase == "starting" or p.phase == "pending" then
      v.replicas[p.phase] = v.replicas[p.phase] + 1
    end
  end
  v.signals.running = run
  for k, x in pairs(over or {}) do v[k] = x end
  return v
end

local function view(t, variants, queue)
  return fv.new{ time = t, variants = variants,
                 models = { m = { signals = { queue_size = queue } } } }
end

describe("policy hpa", function()
  local policy, state
  before_each(function()
    policy, state = load_policy(), {}
    policy.init(policy.params, state)
  end)

  it("hpa scales a variant on running requests per pod", function()
    -- (10 + 9.2) / 2 = 9.6 per pod against 8 -> 1.2 -> ceil(2.4) = 3; queue 0 proposes 0
    local out = policy.decide(view(0, { variant("llm/a", 2, { 10, 9.2 }) }, 0),
      params({ running_target = 8 }), state)
    assert.are.same({ replicas = 3, reason = "running/pod 9.6 > target 8 → 3" }, out["llm/a"])
  end)

  it("hpa scales on the gateway queue at one per replica, at the default rate", function()
    local p = params({ running_target = 8 })
    -- t=0: queue 12 over status 2 -> ceil(12 / 1) = 12; running 4 / 8 -> 1.
    -- Limit max(2 + 4, ceil(2 x 2)) = 6.
    local out = policy.decide(view(0, { variant("llm/a", 2, { 4, 4 }) }, 12), p, state)
    assert.are.equal(6, out["llm/a"].replicas)
    assert.are.equal("queue/replica 6 > target 1 → 12; held to 6 by scale-up rate limit",
      out["llm/a"].reason)
    -- t=15: 6 replicas, 4 still starting. queue 12 / 6 = 2 -> 12. running: 4 missing pods are
    -- filled at the target on a scale-down: (4 + 4 + 4 x 8) / 6 = 6666m -> 0.833 -> 5.
    -- max 12; the +4 at t=0 is not after 15 - 15 -> limit max(6 + 4, 12) = 12.
    local v = variant("llm/a", 6, { 4, 4, "starting", "starting", "starting", "starting" })
    out = policy.decide(view(15, { v }, 12), p, state)
    assert.are.equal(12, out["llm/a"].replicas)
  end)

  it("hpa counts starting pods without samples as idle on a scale-up", function()
    -- 13, 13 and a starting pod, target 8: 1.625 -> the starting pod counts 0:
    -- 26000m / 3 = 8666m -> 1.083 within 10% -> stays 3 (Ready pods alone: ceil(3.25) = 4)
    local v = variant("llm/a", 3, { 13, 13, "starting" })
    local out = policy.decide(view(0, { v }, 0), params({ running_target = 8 }), state)
    assert.are.equal(3, out["llm/a"].replicas)
  end)

  it("hpa ignores pending pods on a scale-down", function()
    -- 2, 2 and a pending pod, target 8, no window: 0.25 -> ceil(0.25 x 2) = 1.
    -- Counted as a pod without a sample it would be filled at 8: 12000m / 3 = 4 -> ceil(1.5) = 2.
    local v = variant("llm/a", 3, { 2, 2, "pending" })
    local out = policy.decide(view(0, { v }, 0),
      params({ running_target = 8, scale_down_stabilization = 0 }), state)
    assert.are.equal(1, out["llm/a"].replicas)
  end)

  it("hpa keeps at least one replica of a variant whose min is 0", function()
    -- idle, no window: proposals 0 -> min 1 (an HPA without HPAScaleToZero cannot go below 1)
    local v = variant("llm/a", 2, { 0, 0 }, { min = 0 })
    local out = policy.decide(view(0, { v }, 0),
      params({ running_target = 8, scale_down_stabilization = 0 }), state)
    assert.are.equal(1, out["llm/a"].replicas)
  end)

  it("hpa ignores draining pods", function()
    -- the draining pod's 40 is dropped: 16 / 8 = 2 -> ceil(2 x 2) = 4 (counted: ceil(3 x 3) = 9)
    local v = variant("llm/a", 2, { 16, 16, { "draining", 40 } })
    local out = policy.decide(view(0, { v }, 0), params({ running_target = 8 }), state)
    assert.are.equal(4, out["llm/a"].replicas)
  end)

  it("hpa scales down only after the 300 s stabilization window", function()
    local p = params({ running_target = 8 })
    -- t=0: 8 per pod on 4 -> ratio 1 -> 4. From t=15: 2 per pod -> 0.25 -> ceil(1) = 1, held at
    -- 4 while the t=0 recommendations are inside the window (after t - 300).
    policy.decide(view(0, { variant("llm/a", 4, { 8, 8, 8, 8 }) }, 0), p, state)
    local out
    for t = 15, 285, 15 do
      out = policy.decide(view(t, { variant("llm/a", 4, { 2, 2, 2, 2 }) }, 0), p, state)
      assert.are.equal(4, out["llm/a"].replicas)
    end
    assert.are.equal("running/pod 2 < target 8 → 1; stabilized at 4", out["llm/a"].reason)
    -- t=300: the t=0 samples are not after 0 -> 1; limit int32(4 x 0) = 0, min 1 -> 1
    out = policy.decide(view(300, { variant("llm/a", 4, { 2, 2, 2, 2 }) }, 0), p, state)
    assert.are.equal(1, out["llm/a"].replicas)
  end)

  it("hpa scales each variant of a model on its own pods and all on the model's queue", function()
    local p = params({ running_target = 8 })
    -- a: 16 / 8 = 2 -> 4; b: 4 / 8 = 0.5 -> 1, held at 2 by the window. Queue 0.
    local out = policy.decide(view(0, { variant("llm/a", 2, { 16, 16 }),
                                        variant("llm/b", 2, { 4, 4 }) }, 0), p, state)
    assert.are.equal(4, out["llm/a"].replicas)
    assert.are.equal(2, out["llm/b"].replicas)
    -- queue 10 seen by both: ceil(10 / 1) = 10 each, limited to max(2 + 4, 4) = 6 for b and
    -- 4 + 4 = 8 for a (a's +2 at t=0 is not after 0)
    out = policy.decide(view(15, { variant("llm/a", 4, { 4, 4, 4, 4 }),
                                   variant("llm/b", 2, { 4, 4 }) }, 10), p, state)
    assert.are.equal(8, out["llm/a"].replicas)
    assert.are.equal(6, out["llm/b"].replicas)
  end)

  it("hpa uses 8 running requests per pod for auto when the variant has no SLO", function()
    local out = policy.decide(view(0, { variant("llm/a", 2, { 10, 9.2 }) }, 0), params(), state)
    assert.are.equal(3, out["llm/a"].replicas)
    assert.are.equal("running/pod 9.6 > target 8 → 3; running target 8 (auto: no SLO class)",
      out["llm/a"].reason)
  end)

  it("hpa takes the concurrency at 0.8 x the highest rate one replica carries under the SLO",
    function()
    -- The rule, computed here from the kernels: the mean requests in service at 0.8 x the
    -- highest rate one replica sustains under TTFT 500 ms / ITL 24 ms, for the variant's
    -- profile, max_num_seqs 256, and its declared token mix (1024 in, 256 out, with spreads).
    local model = require "sluice.model"
    local prof = model.builtin("llama-3.1-8b/h100")
    local shape = { max_batch = 256, in_tokens = 1024, out_tokens = 256, in_cv = 0.6,
      out_cv = 0.9 }
    local rate = assert(model.max_rate(prof, shape, { ttft_ms = 500, itl_ms = 24 }))
    local target = model.predict(prof, shape, 0.8 * rate).in_service
    -- 2 pods running 1.2 x target each: ratio 1.2 > 1.1 tolerance -> ceil(2 x 1.2) = 3
    local per = 1.2 * target
    local v = variant("llm/auto", 2, { per, per },
      { slo = { ttft_ms = 500, itl_ms = 24 }, profile = "llama-3.1-8b/h100",
        engine = { max_num_seqs = 256 },
        tokens = { input = 1024, output = 256, input_cv = 0.6, output_cv = 0.9 } })
    v.signals.input_tokens_mean, v.signals.output_tokens_mean = 3000, 20
    local out = policy.decide(view(0, { v }, 0), params(), state)
    assert.are.equal(3, out["llm/auto"].replicas)
    assert.matches(string.format("> target %s ", require("sluice.hpa").num(target)), out["llm/auto"].reason, 1, true)
  end)

  it("hpa falls back to 8 per pod for auto when the profile is unknown, and says why", function()
    local v = variant("llm/noprof", 2, { 10, 9.2 },
      { slo = { ttft_ms = 500, itl_ms = 24 }, profile = "no-such-profile" })
    local out = policy.decide(view(0, { v }, 0), params(), state)
    assert.are.equal(3, out["llm/noprof"].replicas)
    assert.matches("running target 8 %(auto: unknown profile 'no%-such%-profile'", out["llm/noprof"].reason)
  end)

  it("hpa leaves a variant at zero alone (no HPAScaleToZero)", function()
    local v = variant("llm/a", 0, {}, { min = 0 })
    local out = policy.decide(view(0, { v }, 5), params(), state)
    assert.are.equal(0, out["llm/a"].replicas)
    assert.matches("disabled", out["llm/a"].reason)
    assert.is_false(policy.scale_from_zero)
  end)

  it("hpa holds when every metric fails", function()
    -- no pod samples (all starting) and no queue series: nothing valid -> current
    local v = variant("llm/a", 2, { "starting", "starting" })
    local out = fv.new{ time = 0, variants = { v } }
    out = policy.decide(out, params(), state)
    assert.are.equal(2, out["llm/a"].replicas)
    assert.matches("^no change", out["llm/a"].reason)
  end)

  it("hpa carries its windows across a reload as plain data", function()
    local p = params({ running_target = 8 })
    policy.decide(view(0, { variant("llm/a", 4, { 8, 8, 8, 8 }) }, 0), p, state)
    policy.decide(view(15, { variant("llm/a", 4, { 2, 2, 2, 2 }) }, 0), p, state)
    local function copy(t)
      assert.are_not.equal("function", type(t))
      if type(t) ~= "table" then return t end
      assert.is_nil(getmetatable(t))
      local o = {}
      for k, x in pairs(t) do o[copy(k)] = copy(x) end
      return o
    end
    local reloaded, moved = load_policy(), copy(state)
    -- the 300 s window still holds 4 in the new instance
    local out = reloaded.decide(view(30, { variant("llm/a", 4, { 2, 2, 2, 2 }) }, 0), p, moved)
    assert.are.equal(4, out["llm/a"].replicas)
    out = reloaded.decide(view(300, { variant("llm/a", 4, { 2, 2, 2, 2 }) }, 0), p, moved)
    assert.are.equal(1, out["llm/a"].replicas)
  end)

  it("hpa forgets variants that left the view", function()
    local p = params({ running_target = 8 })
    policy.decide(view(0, { variant("llm/a", 2, { 8, 8 }), variant("llm/b", 2, { 8, 8 }) }, 0),
      p, state)
    assert.is_not_nil(state.variants["llm/b"])
    local out = policy.decide(view(15, { variant("llm/a", 2, { 8, 8 }) }, 0), p, state)
    assert.is_nil(out["llm/b"])
    assert.is_nil(state.variants["llm/b"])
  end)

  it("hpa validates its params naming the field", function()
    assert.is_nil(policy.validate(params()))
    assert.matches("^running_target", policy.validate(params({ running_target = "lots" })))
    assert.is_nil(policy.validate(params({ running_target = "9.5" })))
    assert.matches("^queue_target", policy.validate(params({ queue_target = 0 })))
    assert.matches("^scale_up_policies%[1%]%.period_seconds", policy.validate(params({
      scale_up_policies = { { type = "Pods", value = 4, period_seconds = 0 } } })))
    assert.matches("^scale_down_select", policy.validate(params({ scale_down_select = "Most" })))
    assert.matches("^scale_down_stabilization", policy.validate(params({
      scale_down_stabilization = 4000 })))
  end)
end)
