local fv = require "support.fakeview"
local baseline = require "sluice.baseline"
local hpa = require "sluice.hpa"
local model = require "sluice.model"

-- The policies' params as flat tables (the values of policies/hpa.lua and policies/keda.lua are
-- not assumed: each spec states what it relies on).
local BEHAVIOR = {
  scale_up_stabilization = 0, scale_up_select = "Max",
  scale_up_policies = { { type = "Pods", value = 4, period_seconds = 15 },
                        { type = "Percent", value = 100, period_seconds = 15 } },
  scale_up_tolerance = 0.1,
  scale_down_stabilization = 300, scale_down_select = "Max",
  scale_down_policies = { { type = "Percent", value = 100, period_seconds = 15 } },
  scale_down_tolerance = 0.1,
}
local function with(base, over)
  local p = {}
  for k, v in pairs(base) do p[k] = v end
  for k, v in pairs(over or {}) do p[k] = v end
  return p
end
local HPA = with(BEHAVIOR, { running_target = 8, queue_target = 1, scale_to_zero = false })
local KEDA = with(BEHAVIOR, {
  triggers = "queue", running_target = 8, queue_target = 1, saturation_target = 0.7,
  prefill_backlog_target = 1.5, prefill_tokens_per_s = 15928, kv_target = 0.8,
  activation_threshold = 0, ignore_null_values = true, polling_interval = 15,
  cooldown_period = 300, initial_cooldown_period = 0, idle_replica_count = -1,
  use_cached_metrics = false, fallback_behavior = "none", fallback_replicas = 0,
  fallback_failure_threshold = 3,
})

-- A variant with Ready pods running the given requests.
local function variant(id, running, over)
  local pods, sum = {}, 0
  for i, r in ipairs(running) do
    pods[i] = { name = id:match("/(.*)") .. "-" .. i, phase = "ready", signals = { running = r } }
    sum = sum + r
  end
  local v = { id = id, model = "m", min = 1, max = 20, pods = pods, signals = { running = sum },
              replicas = { spec = #pods, ready = #pods, starting = 0, pending = 0 } }
  for k, x in pairs(over or {}) do v[k] = x end
  return v
end

describe("baseline: reading the view", function()
  it("finite passes numbers and turns nil, NaN and infinities into no sample", function()
    assert.are.equal(2.5, baseline.finite(2.5))
    assert.are.equal(0, baseline.finite(0))
    for _, x in ipairs({ 0 / 0, math.huge, -math.huge, "3" }) do
      assert.is_nil(baseline.finite(x))
    end
    assert.is_nil(baseline.finite(nil))
  end)

  it("pods maps view phases onto the HPA's pod states, and keeps only finite samples", function()
    local v = { pods = {
      { name = "a", phase = "ready", signals = { running = 3 } },
      { name = "b", phase = "starting", signals = {} },
      { name = "c", phase = "pending" },
      { name = "d", phase = "draining", signals = { running = 1 } },
      { name = "e", phase = "ready", signals = { running = 0 / 0 } },
    } }
    local pods, values = baseline.pods(v, "running")
    assert.are.same({
      { name = "a", phase = "Running", ready = true, deleting = false },
      { name = "b", phase = "Running", ready = false, deleting = false },
      { name = "c", phase = "Pending", ready = false, deleting = false },
      { name = "d", phase = "Running", ready = false, deleting = true },
      { name = "e", phase = "Running", ready = true, deleting = false },
    }, pods)
    assert.are.same({ a = 3, d = 1 }, values)
  end)

  it("ready_values lists a signal over Ready pods only, in pod order", function()
    local v = { pods = {
      { name = "a", phase = "ready", signals = { kv_usage = 0.5 } },
      { name = "b", phase = "starting", signals = { kv_usage = 0.9 } },
      { name = "c", phase = "ready", signals = {} },
      { name = "d", phase = "ready", signals = { kv_usage = 0.25 } },
    } }
    assert.are.same({ 0.5, 0.25 }, baseline.ready_values(v, "kv_usage"))
  end)

  it("bounds lifts min 0 to 1 unless scale to zero is allowed, and keeps min <= max >= 1",
    function()
      assert.are.same({ 1, 5 }, { baseline.bounds({ min = 0, max = 5 }, false) })
      assert.are.same({ 0, 5 }, { baseline.bounds({ min = 0, max = 5 }, true) })
      assert.are.same({ 0, 1 }, { baseline.bounds({ min = 0, max = 0 }, true) })
      assert.are.same({ 1, 1 }, { baseline.bounds({ min = 0, max = 0 }, false) })
      assert.are.same({ 3, 3 }, { baseline.bounds({ min = 7, max = 3 }, false) })
      assert.are.same({ 1, 1 }, { baseline.bounds({}, false) })
    end)

  it("status counts every pod that is not terminating: Ready, starting and pending", function()
    assert.are.equal(6, baseline.status({ replicas = { spec = 9, ready = 3, starting = 2,
      pending = 1 } }))
  end)

  it("behavior nests the flat params as an HPA behavior", function()
    local b = baseline.behavior(BEHAVIOR)
    assert.are.same({ stabilization_window_seconds = 0, select_policy = "Max",
      policies = BEHAVIOR.scale_up_policies, tolerance = 0.1 }, b.scale_up)
    assert.are.same({ stabilization_window_seconds = 300, select_policy = "Max",
      policies = BEHAVIOR.scale_down_policies, tolerance = 0.1 }, b.scale_down)
  end)
end)

describe("baseline: the running target", function()
  it("takes a number or numeric string as given, with no note", function()
    assert.are.same({ 6, "" }, { baseline.running_target(nil, {}, 6) })
    assert.are.same({ 2.5, "" }, { baseline.running_target(nil, {}, "2.5") })
  end)

  it("auto is AUTO_FRACTION x the requests in service at the highest rate meeting the SLO",
    function()
      -- The rule, computed from the kernels for the variant's profile, max_num_seqs and the
      -- token mix it serves.
      local v = { id = "spec/auto-mix", slo = { ttft_ms = 500, itl_ms = 24 },
        profile = "llama-3.1-8b/h100", engine = { max_num_seqs = 128 },
        signals = { input_tokens_mean = 2000, output_tokens_mean = 100 } }
      local prof = model.builtin("llama-3.1-8b/h100")
      local shape = { max_batch = 128, in_tokens = 2000, out_tokens = 100 }
      local rate = assert(model.max_rate(prof, shape, { ttft_ms = 500, itl_ms = 24 }))
      local want = baseline.AUTO_FRACTION * model.predict(prof, shape, rate).in_service
      assert.are.same({ want, "" }, { baseline.running_target(nil, v, "auto") })
    end)

  it("auto sizes for AUTO_TOKENS when the view has no token means", function()
    local v = { id = "spec/auto-default", slo = { ttft_ms = 500, itl_ms = 24 },
      profile = "llama-3.1-8b/h100", engine = { max_num_seqs = 256 }, signals = {} }
    local prof = model.builtin("llama-3.1-8b/h100")
    local shape = { max_batch = 256, in_tokens = baseline.AUTO_TOKENS.in_tokens,
      out_tokens = baseline.AUTO_TOKENS.out_tokens }
    local rate = assert(model.max_rate(prof, shape, { ttft_ms = 500, itl_ms = 24 }))
    local want = baseline.AUTO_FRACTION * model.predict(prof, shape, rate).in_service
    assert.are.equal(want, (baseline.running_target(nil, v, "auto")))
  end)

  it("auto is computed once per variant and configuration, as an operator sets it once",
    function()
      local v = { id = "spec/auto-once", slo = { ttft_ms = 500, itl_ms = 24 },
        profile = "llama-3.1-8b/h100", engine = { max_num_seqs = 256 },
        signals = { input_tokens_mean = 1024, output_tokens_mean = 256 } }
      local first = baseline.running_target(nil, v, "auto")
      -- The token mix moves: the target stays.
      v.signals = { input_tokens_mean = 4000, output_tokens_mean = 50 }
      assert.are.equal(first, (baseline.running_target(nil, v, "auto")))
      -- A tighter SLO is another configuration: the target is recomputed, and is lower.
      v.slo = { ttft_ms = 200, itl_ms = 12 }
      assert.is_true(baseline.running_target(nil, v, "auto") < first)
    end)

  it("auto falls back to AUTO_FALLBACK without an SLO class or a known profile, and says why",
    function()
      local n, note = baseline.running_target(nil, { id = "spec/no-slo", signals = {} }, "auto")
      assert.are.equal(baseline.AUTO_FALLBACK, n)
      assert.are.equal(string.format("; running target %s (auto: no SLO class)",
        hpa.num(baseline.AUTO_FALLBACK)), note)
      n, note = baseline.running_target(nil, { id = "spec/no-profile", slo = { ttft_ms = 500 },
        signals = {} }, "auto")
      assert.are.equal(baseline.AUTO_FALLBACK, n)
      assert.matches("(auto: no latency profile)", note, 1, true)
      n, note = baseline.running_target(nil, { id = "spec/bad-profile", slo = { ttft_ms = 500 },
        profile = "no-such", engine = {}, signals = {} }, "auto")
      assert.are.equal(baseline.AUTO_FALLBACK, n)
      assert.matches("(auto: unknown profile 'no-such'", note, 1, true)
    end)
end)

describe("baseline: checking params", function()
  it("check_target accepts numbers > 0 (and \"auto\" where allowed), naming the param otherwise",
    function()
      assert.is_nil(baseline.check_target("t", 3))
      assert.is_nil(baseline.check_target("t", "0.5"))
      assert.is_nil(baseline.check_target("t", "auto", true))
      assert.are.equal("t must be a number > 0", baseline.check_target("t", "auto"))
      for _, bad in ipairs({ 0, -1, 0 / 0, math.huge, "x", true }) do
        assert.are.equal('t must be a number > 0 or "auto"', baseline.check_target("t", bad, true))
      end
    end)

  it("check_behavior names the flat param of a bad behavior field", function()
    assert.is_nil(baseline.check_behavior(BEHAVIOR))
    assert.matches("^scale_up_stabilization must be a whole number in 0%.%.3600",
      baseline.check_behavior(with(BEHAVIOR, { scale_up_stabilization = 4000 })))
    assert.matches("^scale_down_policies%[1%]%.type must be Pods or Percent",
      baseline.check_behavior(with(BEHAVIOR, { scale_down_policies = { { type = "X", value = 1,
        period_seconds = 15 } } })))
    assert.matches("^scale_down_select must be Max, Min or Disabled",
      baseline.check_behavior(with(BEHAVIOR, { scale_down_select = "max" })))
  end)

  it("validate_hpa checks scale_to_zero, both targets and the behavior", function()
    assert.is_nil(baseline.validate_hpa(HPA))
    assert.is_nil(baseline.validate_hpa(with(HPA, { running_target = "auto" })))
    assert.matches("^scale_to_zero", baseline.validate_hpa(with(HPA, { scale_to_zero = "no" })))
    assert.matches("^running_target", baseline.validate_hpa(with(HPA, { running_target = 0 })))
    assert.matches("^queue_target", baseline.validate_hpa(with(HPA, { queue_target = "auto" })))
    assert.matches("^scale_up_tolerance",
      baseline.validate_hpa(with(HPA, { scale_up_tolerance = -1 })))
  end)

  it("validate_keda checks the trigger set, fallback, intervals, counts and targets", function()
    assert.is_nil(baseline.validate_keda(KEDA))
    local cases = {
      { { triggers = "cpu" }, "^triggers" },
      { { fallback_behavior = "sometimes" }, "^fallback_behavior" },
      { { polling_interval = 0 }, "^polling_interval must be a number > 0" },
      { { cooldown_period = -1 }, "^cooldown_period must be a number >= 0" },
      { { idle_replica_count = -2 }, "^idle_replica_count must be a whole number >= 0 %(or %-1%)" },
      { { fallback_replicas = 1.5 }, "^fallback_replicas must be a whole number >= 0$" },
      { { activation_threshold = "0" }, "^activation_threshold" },
      { { kv_target = 0 }, "^kv_target" },
      { { scale_down_stabilization = 0.5 }, "^scale_down_stabilization" },
    }
    for _, c in ipairs(cases) do
      assert.matches(c[2], baseline.validate_keda(with(KEDA, c[1])))
    end
  end)
end)

describe("baseline: one controller per variant", function()
  it("per_variant gives each variant its own state, kept across ticks, forgotten when it leaves",
    function()
      local state, seen = {}, {}
      local function one(view, v, st, params)
        st.ticks = (st.ticks or 0) + 1
        seen[v.id] = params
        return { replicas = st.ticks, reason = v.id }
      end
      local two = fv.new{ variants = { variant("llm/a", {}), variant("llm/b", {}) } }
      baseline.per_variant(two, "P", state, one)
      local out = baseline.per_variant(two, "P", state, one)
      assert.are.same({ ["llm/a"] = { replicas = 2, reason = "llm/a" },
                        ["llm/b"] = { replicas = 2, reason = "llm/b" } }, out)
      assert.are.same({ ["llm/a"] = "P", ["llm/b"] = "P" }, seen)
      baseline.per_variant(fv.new{ variants = { variant("llm/b", {}) } }, "P", state, one)
      assert.is_nil(state.variants["llm/a"])
      assert.are.equal(3, state.variants["llm/b"].ticks)
    end)

  it("decide_hpa is sluice.hpa's tick on the variant's running pods and the model's queue",
    function()
      -- 3 pods running 6 each against 8 per pod: 0.75, below the tolerance band. The queue holds
      -- 9 at 1 per replica: ceil(9 / 1) = 9, capped by the scale-up policies at
      -- max(3 + 4 pods, 3 x 200%) = 7.
      local v = variant("llm/a", { 6, 6, 6 })
      local view = fv.new{ time = 100, variants = { v },
        models = { m = { signals = { queue_size = 9 } } } }
      local out = baseline.decide_hpa(view, HPA, {})
      assert.are.equal(7, out["llm/a"].replicas)
      assert.are.equal("queue/replica 3 > target 1 → 9; held to 7 by scale-up rate limit",
        out["llm/a"].reason)
      -- The same HPA built by hand gives the same answer.
      local pods, values = baseline.pods(view.variants["llm/a"], "running")
      local n = hpa.tick({}, {
        min_replicas = 1, max_replicas = 20, behavior = baseline.behavior(HPA),
        metrics = {
          { name = "running", type = "Pods", values = values,
            target = { type = "AverageValue", average_value = 8 } },
          { name = "queue", type = "External", value = 9,
            target = { type = "AverageValue", average_value = 1 } },
        },
      }, { now = 100, current = 3, status = 3, pods = pods })
      assert.are.equal(n, out["llm/a"].replicas)
    end)

  it("decide_hpa leaves a variant at zero there unless scale_to_zero is on", function()
    local function at_zero(p)
      local v = variant("llm/a", {}, { min = 0 })
      local view = fv.new{ time = 0, variants = { v },
        models = { m = { signals = { queue_size = 2 } } } }
      return baseline.decide_hpa(view, p, {})["llm/a"].replicas
    end
    assert.are.equal(0, at_zero(HPA))
    -- With the gate on, the queue metric (2 at 1 per replica) brings it up: ceil(2) = 2.
    assert.are.equal(2, at_zero(with(HPA, { scale_to_zero = true })))
  end)

  it("decide_keda activates a variant at zero on a queued request, to max(min, 1)", function()
    local v = variant("llm/a", {}, { min = 0 })
    local view = fv.new{ time = 0, variants = { v },
      models = { m = { signals = { queue_size = 1 } } } }
    local out = baseline.decide_keda(view, KEDA, {})
    assert.are.equal(1, out["llm/a"].replicas)
    assert.are.equal("activated: epp-queue-size 1 > activation 0 → 1", out["llm/a"].reason)
  end)

  it("decide_keda's token-aware set sums KV usage over Ready pods against kv_target", function()
    -- KV 0.9 + 0.9 = 1.8 against 0.8 per replica: ceil(2.25) = 3. No backlog.
    local v = variant("llm/a", { 0, 0 })
    for _, p in ipairs(v.pods) do p.signals.kv_usage = 0.9 end
    local view = fv.new{ time = 0, variants = { v }, models = { m = { signals = {} } } }
    local out = baseline.decide_keda(view, with(KEDA, { triggers = "token-aware" }), {})
    assert.are.equal(3, out["llm/a"].replicas)
    assert.matches("^decode%-kv%-utilization/replica 0%.9 > target 0%.8 → 3", out["llm/a"].reason)
  end)
end)
