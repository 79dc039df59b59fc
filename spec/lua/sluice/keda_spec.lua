-- KEDA's ScaledObject semantics on top of the HPA (reference §2 and §4.3), with hand-worked
-- numbers in the comments.
local keda = require "sluice.keda"
local hpa = require "sluice.hpa"

local TOL = { up = 0.1, down = 0.1 }

local function running(n)
  local pods = {}
  for i = 1, n do pods[i] = { name = "p" .. i, phase = "Running", ready = true } end
  return pods
end

local function so(over)
  local s = {
    triggers = { { name = "q", metric_type = "AverageValue", threshold = 1,
                   activation_threshold = 0, value = 0 } },
    min_replica_count = 0, max_replica_count = 20, polling_interval = 15,
    cooldown_period = 300, behavior = {},
  }
  for k, v in pairs(over or {}) do s[k] = v end
  return s
end

-- One tick at `now` with the target at `current` replicas and the trigger reading `value`.
local function at(st, s, now, current, value)
  s.triggers[1].value = value
  return keda.tick(st, s, { now = now, current = current, status = current,
                            pods = running(current) })
end

describe("KEDA activation", function()
  it("KEDA activates only strictly above the activation threshold", function()
    local st, s = {}, so()
    s.triggers[1].activation_threshold = 0.5
    assert.are.equal(0, (at(st, s, 0, 0, 0.5)))     -- 0.5 > 0.5 is false
    local n, info = at(st, s, 15, 0, 0.6)           -- 0.6 > 0.5: 0 -> 1
    assert.are.equal(1, n)
    assert.are.equal("activated: q 0.6 > activation 0.5 → 1", info.reason)
    st, s = {}, so()
    assert.are.equal(0, (at(st, s, 0, 0, 0)))       -- 0 > 0 is false: a zero queue stays at 0
  end)

  it("KEDA activates to minReplicaCount when it is above one", function()
    local st = {}
    assert.are.equal(3, (at(st, so({ min_replica_count = 3 }), 0, 0, 2)))
  end)

  it("KEDA's activation wins over the scaling threshold (threshold 10, activation 50, 40 queued)",
    function()
      -- 40 is not > 50: inactive. t=0 is inside initialCooldownPeriod 0 (0 + 0 < 0 is false), so
      -- the HPA runs: ceil(40 / 10) = 4, 40 / (10 x 4) = 1 within -> 4. At t=15: 0 < 15 -> 0.
      local st, s = {}, so()
      s.triggers[1].threshold, s.triggers[1].activation_threshold = 10, 50
      assert.are.equal(4, (at(st, s, 0, 4, 40)))
      local n, info = at(st, s, 15, 4, 40)
      assert.are.equal(0, n)
      assert.are.equal("deactivated", info.action)
    end)

  it("KEDA waits cooldownPeriod after the last active poll, while the HPA scales 1..N", function()
    -- t=0 active (2 > 0): lastActiveTime 0; HPA 2 / (1 x 2) = 1 within -> 2.
    -- t=15..285 inactive: 0 + 300 < t is false -> cooling down; the HPA's raw 0 is held at 2 by
    -- the t=0 recommendations inside its 300 s window.
    -- t=300: those samples are not after 300 - 300 -> stabilized 0; limit int32(2 x 0) = 0;
    -- HPA min 1 -> 1. KEDA: 300 < 300 false -> still cooling.
    -- t=315: 300 < 315 -> KEDA writes 0, bypassing the HPA.
    local st, s = {}, so()
    assert.are.equal(2, (at(st, s, 0, 2, 2)))
    for t = 15, 285, 15 do
      local n, info = at(st, s, t, 2, 0)
      assert.are.equal(2, n)
      assert.are.equal("cooldown", info.keda)
    end
    assert.are.equal(1, (at(st, s, 300, 2, 0)))
    local n, info = at(st, s, 315, 1, 0)
    assert.are.equal(0, n)
    assert.matches("^deactivated: no trigger above its activation threshold for 300 s → 0",
      info.reason)
  end)

  it("KEDA holds a never-active target for initialCooldownPeriod", function()
    -- lastActiveTime unset, created at t=0, initial cooldown 120: 0 + 120 < t only from t=135
    local st, s = {}, so({ initial_cooldown_period = 120 })
    for t = 0, 120, 15 do assert.are.equal(3, (at(st, s, t, 3, 0))) end
    assert.are.equal(0, (at(st, s, 135, 3, 0)))
  end)

  it("KEDA scales between idleReplicaCount and minReplicaCount", function()
    local s = so({ idle_replica_count = 0, min_replica_count = 2, created_at = -1000 })
    assert.are.equal(0, (at({}, s, 0, 3, 0)))   -- inactive, cooled -> idle 0
    assert.are.equal(2, (at({}, s, 0, 0, 5)))   -- active at idle -> min 2
    local n, info = at({}, s, 0, 1, 5)           -- active below min with idle set: KEDA -> min 2
    assert.are.equal(2, n)
    assert.are.equal("activated", info.action)
    local no_idle = so({ min_replica_count = 2 })
    assert.are.equal(2, (at({}, no_idle, 0, 1, 0)))   -- inactive, below min, no idle -> min
  end)

  it("KEDA ignores activity when minReplicaCount is at least one", function()
    local st, s = {}, so({ min_replica_count = 1 })
    for t = 0, 1800, 15 do assert.are.equal(1, (at(st, s, t, 1, 0))) end
  end)

  it("KEDA only activates at a poll", function()
    -- pollingInterval 30 with 15 s ticks: the queue that appears at t=15 is seen at t=30
    local st, s = {}, so({ polling_interval = 30 })
    assert.are.equal(0, (at(st, s, 0, 0, 0)))
    assert.are.equal(0, (at(st, s, 15, 0, 5)))
    assert.are.equal(1, (at(st, s, 30, 0, 5)))
  end)

  it("KEDA's HPA reads the last poll's values with useCachedMetrics", function()
    -- poll at t=0 (4): ceil(4 / 1) = 4 from 2 (4 / 2 = 2, not within) -> limit max(6, 4) -> 4.
    -- t=15, no poll, live 10: cached 4 / (1 x 4) = 1 within -> 4.
    -- Live: ceil(10 / 1) = 10; the t=0 event is not after 0 -> start 4 -> max(8, 8) -> 8.
    local st, s = {}, so({ polling_interval = 30, use_cached_metrics = true })
    assert.are.equal(4, (at(st, s, 0, 2, 4)))
    assert.are.equal(4, (at(st, s, 15, 4, 10)))
    st, s = {}, so({ polling_interval = 30 })
    assert.are.equal(4, (at(st, s, 0, 2, 4)))
    assert.are.equal(8, (at(st, s, 15, 4, 10)))
  end)
end)

describe("KEDA fallback", function()
  local function fb(behavior, replicas, threshold)
    return { behavior = behavior, replicas = replicas, failure_threshold = threshold }
  end

  it("KEDA falls back only after more than failureThreshold failures", function()
    -- failures 1, 2, 3 are not > 3: the only metric fails, the HPA holds 2.
    -- t=45: 4 > 3 -> value 1 x 6 = 6; ceil(6 / 1) = 6 (6 / 2 = 3 not within);
    -- limit max(2 + 4, ceil(2 x 2)) = 6 -> 6.
    local st, s = {}, so({ min_replica_count = 1, fallback = fb("static", 6, 3) })
    for t = 0, 30, 15 do assert.are.equal(2, (at(st, s, t, 2, nil))) end
    assert.are.equal(3, st.health.q.failures)
    local n, info = at(st, s, 45, 2, nil)
    assert.are.equal(6, n)
    assert.matches("fallback for q", info.reason)
    at(st, s, 60, 6, 6)
    assert.are.equal(0, st.health.q.failures)
    assert.are.equal("Happy", st.health.q.status)
  end)

  it("KEDA's fallback on a Value metric divides by Ready replicas", function()
    -- threshold 2 (Value), fallback 6, 3 Ready: value 2 x 6 / 3 = 4; the HPA's Value rule:
    -- 4 / 2 = 2 -> ceil(2 x 3) = 6; limit max(3 + 4, ceil(3 x 2)) = 7 -> 6.
    local st, s = {}, so({ min_replica_count = 1, fallback = fb("static", 6, 0) })
    s.triggers[1].metric_type, s.triggers[1].threshold = "Value", 2
    assert.are.equal(6, (at(st, s, 0, 3, nil)))
    assert.is_nil(keda.fallback_value(fb("static", 6, 0), "Value", 2, 3, 0))
  end)

  it("KEDA's fallback behaviors pick from current and fallback replicas", function()
    assert.are.equal(6, keda.fallback_value(fb("static", 6, 0), "AverageValue", 1, 8))
    assert.are.equal(8, keda.fallback_value(fb("currentReplicas", 6, 0), "AverageValue", 1, 8))
    assert.are.equal(8,
      keda.fallback_value(fb("currentReplicasIfHigher", 6, 0), "AverageValue", 1, 8))
    assert.are.equal(6,
      keda.fallback_value(fb("currentReplicasIfLower", 6, 0), "AverageValue", 1, 8))
    -- target x 1000 x replicas, truncated to a milli-value: int64(0.3333 x 1000 x 2) = 666m
    assert.are.equal(0.666, keda.fallback_value(fb("static", 2, 0), "AverageValue", 0.3333, 1))
    -- currentReplicasIfLower from 8 with a 0 s window: value 6 -> 6 / 8 = 0.75 -> ceil(6) = 6
    local st = {}
    local s = so({ min_replica_count = 1, fallback = fb("currentReplicasIfLower", 6, 0),
                   behavior = { scale_down = { stabilization_window_seconds = 0 } } })
    assert.are.equal(6, (at(st, s, 0, 8, nil)))
  end)

  it("KEDA's fallback cannot bring a target up from zero", function()
    local st, s = {}, so({ fallback = fb("static", 3, 0) })
    for t = 0, 300, 15 do assert.are.equal(0, (at(st, s, t, 0, nil))) end
    assert.is_nil(next(st.health))   -- the HPA never queried the metric
  end)

  it("KEDA does not scale to zero on a failing trigger unless fallback replicas are 0", function()
    local base = { min_replica_count = 0, cooldown_period = 300 }
    local st = { created = 0, last_active = 0 }
    local n, note = keda.request_scale(st, so(base), 1000, 2, false, true)
    assert.is_nil(n)
    assert.are.equal("trigger error", note)
    local with_fb = so(base)
    with_fb.fallback = fb("static", 4, 3)
    n, note = keda.request_scale(st, with_fb, 1000, 2, false, true)
    assert.is_nil(n)
    assert.matches("fallback", note)
    with_fb.fallback = fb("static", 0, 3)
    assert.are.equal(0, (keda.request_scale(st, with_fb, 1000, 2, false, true)))
  end)

  it("KEDA does not refresh lastActiveTime when an active poll has a failing trigger", function()
    local st = { created = 0, last_active = 10 }
    local n, note = keda.request_scale(st, so(), 500, 2, true, true)
    assert.is_nil(n)
    assert.are.equal("partial trigger error", note)
    assert.are.equal(10, st.last_active)
    keda.request_scale(st, so(), 515, 2, true, false)
    assert.are.equal(515, st.last_active)
  end)
end)

describe("KEDA triggers of llm-d's guides", function()
  it("KEDA's KV trigger sums pods so the HPA is not capped", function()
    -- 4 pods at 0.9: sum 3.6 -> 3.6 / (0.8 x 4) = 1.125 -> ceil(3600 / 800) = ceil(4.5) = 5.
    -- The mean 0.9 would give ceil(900 / 800) = 2 whatever the load.
    local t = keda.llmd.kv_utilization({ 0.9, 0.9, 0.9, 0.9 })
    assert.are.equal(5, (hpa.per_pod_replicas(4, t.value, t.threshold, TOL)))
    assert.are.equal(2, (hpa.per_pod_replicas(4, 0.9, t.threshold, TOL)))
  end)

  it("KEDA's prefill backlog is in-flight tokens over peak prefill throughput", function()
    -- 47784 / 15928 = 3.0 s; 3.0 / 1.5 -> ceil(2) = 2
    local t = keda.llmd.prefill_backlog(47784, 15928)
    assert.are.equal(3, t.value)
    assert.are.equal(2, (hpa.per_pod_replicas(1, t.value, t.threshold, TOL)))
  end)

  it("KEDA's saturation trigger asks for at most ceil(saturation / 0.7)", function()
    -- 0.95 at 5 replicas: 0.95 / 3.5 = 0.27 -> ceil(950 / 700) = ceil(1.357) = 2
    local t = keda.llmd.saturation(0.95)
    assert.are.equal(2, (hpa.per_pod_replicas(5, t.value, t.threshold, TOL)))
  end)

  it("KEDA reads an absent series as 0 unless ignoreNullValues is off", function()
    assert.are.equal(0, keda.llmd.queue(nil).value)
    assert.are.equal(0, keda.llmd.queue(0 / 0).value)
    assert.is_nil(keda.llmd.queue(nil, 1, false).value)
    assert.are.equal(0, keda.llmd.kv_utilization({}).value)
  end)
end)

describe("KEDA checks", function()
  it("KEDA rejects bad ScaledObjects naming the field", function()
    assert.matches("idle_replica_count", keda.check(so({ idle_replica_count = 2,
                                                         min_replica_count = 2 })))
    assert.matches("fallback.behavior",
      keda.check(so({ fallback = { behavior = "scalingModifiers", replicas = 1,
                                   failure_threshold = 3 } })))
    local bad = so()
    bad.triggers[1].threshold = 0
    assert.matches("triggers%[1%]%.threshold", keda.check(bad))
    assert.matches("triggers", keda.check(so({ triggers = {} })))
    assert.is_nil(keda.check(so()))
  end)
end)
