-- The Kubernetes HPA algorithm, checked against numbers worked by hand from the controller's
-- rules (reference §1). Arithmetic is in the comments; "m" is a milli-unit.
local hpa = require "sluice.hpa"

local TOL = { up = 0.1, down = 0.1 }

-- n Running pods p1..pn; `extra` pods appended as given.
local function running(n, extra)
  local pods = {}
  for i = 1, n do pods[i] = { name = "p" .. i, phase = "Running", ready = true } end
  for _, p in ipairs(extra or {}) do pods[#pods + 1] = p end
  return pods
end

local function queue_spec(value, target, over)
  local spec = {
    min_replicas = 1, max_replicas = 100, behavior = {},
    metrics = { { name = "queue", type = "External", value = value,
                  target = { type = "AverageValue", average_value = target } } },
  }
  for k, v in pairs(over or {}) do spec[k] = v end
  return spec
end

local function tick(st, spec, now, current, status)
  return hpa.tick(st, spec, { now = now, current = current, status = status or current,
                              pods = running(status or current) })
end

describe("HPA per-metric proposals", function()
  it("HPA keeps replicas inside the 10% tolerance (average 108 against 100)", function()
    -- 10 pods at 108: avg 108000m / 100000m = 1.08 <= 1.1 -> current
    local values = {}
    for i = 1, 10 do values["p" .. i] = 108 end
    local n = hpa.plain_metric_replicas(10, 100, running(10), values, TOL)
    assert.are.equal(10, n)
  end)

  it("HPA scales on the same 8% excess with a 5% scale-up tolerance", function()
    -- 1.08 > 1.05 -> ceil(1.08 * 10) = ceil(10.8) = 11
    local values = {}
    for i = 1, 10 do values["p" .. i] = 108 end
    local n = hpa.plain_metric_replicas(10, 100, running(10), values, { up = 0.05, down = 0.1 })
    assert.are.equal(11, n)
  end)

  it("HPA's tolerance band includes both edges and nothing beyond them", function()
    local function at(v)
      local values = {}
      for i = 1, 10 do values["p" .. i] = v end
      return (hpa.plain_metric_replicas(10, 100, running(10), values, TOL))
    end
    assert.are.equal(10, at(110))   -- 1.10 <= 1 + 0.1
    assert.are.equal(10, at(90))    -- 0.90 >= 1 - 0.1
    assert.are.equal(12, at(111))   -- ceil(1.11 * 10) = ceil(11.1) = 12
    assert.are.equal(9, at(89))     -- ceil(0.89 * 10) = ceil(8.9) = 9
  end)

  it("HPA averages pod samples in integer milli-units", function()
    -- 5000m + 5001m = 10001m / 2 = 5000m (int64 division); 5000 / 1000 = 5.0 -> ceil(5 * 2) = 10.
    -- A float average (5000.5m) would give ceil(5.0005 * 2) = 11.
    local n = hpa.plain_metric_replicas(2, 1, running(2), { p1 = 5, p2 = 5.001 }, TOL)
    assert.are.equal(10, n)
  end)

  it("HPA treats missing pods as using the target on a scale-down", function()
    -- p1 = p2 = 2, p3 has no sample, target 10: ratio 0.2 < 1 -> p3 := 10;
    -- avg (2 + 2 + 10) / 3 = 4666m -> 0.4666; ceil(0.4666 * 3) = ceil(1.3998) = 2.
    -- Ignoring p3 would give ceil(0.2 * 2) = 1.
    local n = hpa.plain_metric_replicas(3, 10, running(3), { p1 = 2, p2 = 2 }, TOL)
    assert.are.equal(2, n)
  end)

  it("HPA keeps the count when missing pods would turn a scale-up into a scale-down", function()
    -- p1 = 12, p2 and p3 missing, target 10: ratio 1.2 > 1 -> missing := 0;
    -- avg 12 / 3 = 4 -> 0.4 < 1: direction reversed -> current 3 (not ceil(1.2 * 1) = 2).
    local n = hpa.plain_metric_replicas(3, 10, running(3), { p1 = 12 }, TOL)
    assert.are.equal(3, n)
  end)

  it("HPA keeps the count when fewer samples would shrink a scale-up below current", function()
    -- spec 5, 2 pods listed: p1 = 30, p2 missing, target 10: ratio 3 -> p2 := 0; avg 15 -> 1.5;
    -- ceil(1.5 * 2) = 3 < 5 while the ratio is above 1 -> current 5.
    local n = hpa.plain_metric_replicas(5, 10, running(2), { p1 = 30 }, TOL)
    assert.are.equal(5, n)
  end)

  it("HPA counts Pending pods as zero on a scale-up", function()
    -- p1 = p2 = 16, p3 Pending, target 10: ratio 1.6, unready -> p3 := 0;
    -- avg 32 / 3 = 10666m -> 1.0666 within 10% -> current 3 (ready pods alone: ceil(3.2) = 4).
    local pods = running(2, { { name = "p3", phase = "Pending" } })
    local n = hpa.plain_metric_replicas(3, 10, pods, { p1 = 16, p2 = 16 }, TOL)
    assert.are.equal(3, n)
  end)

  it("HPA drops Pending pods' samples on a scale-down", function()
    -- p3 is Pending and reports 100, which is removed: ratio 5 / 10 = 0.5 -> ceil(0.5 * 2) = 1.
    local pods = running(2, { { name = "p3", phase = "Pending" } })
    local n = hpa.plain_metric_replicas(3, 10, pods, { p1 = 5, p2 = 5, p3 = 100 }, TOL)
    assert.are.equal(1, n)
  end)

  it("HPA counts a Running pod that is not Ready but reports, for non-CPU metrics", function()
    -- p2 is Running, Ready = false, reports 20: counted. ratio 20 / 10 = 2 -> ceil(2 * 2) = 4.
    -- Had it been treated as unready: avg (20 + 0) / 2 = 10 -> within -> 2.
    local pods = running(1, { { name = "p2", phase = "Running", ready = false } })
    local n = hpa.plain_metric_replicas(2, 10, pods, { p1 = 20, p2 = 20 }, TOL)
    assert.are.equal(4, n)
  end)

  it("HPA ignores pods being deleted", function()
    -- p3 is deleting with 100: ignored. ratio 20 / 10 = 2 -> ceil(2 * 2) = 4 (not 3 pods' worth).
    local pods = running(2, { { name = "p3", phase = "Running", ready = true, deleting = true } })
    local n = hpa.plain_metric_replicas(3, 10, pods, { p1 = 20, p2 = 20, p3 = 100 }, TOL)
    assert.are.equal(4, n)
  end)

  it("HPA fails a Pods metric with no pods or no usable sample", function()
    local n, err = hpa.plain_metric_replicas(2, 10, {}, {}, TOL)
    assert.is_nil(n)
    assert.matches("no pods", err)
    n, err = hpa.plain_metric_replicas(2, 10, { { name = "p1", phase = "Pending" } },
      { p1 = 3 }, TOL)
    assert.is_nil(n)
    assert.matches("did not receive metrics", err)
  end)

  it("HPA's External AverageValue proposes ceil(total / target) from zero", function()
    -- reference §1.10 example 4: queue 95, target 10, status 0 -> ratio +Inf -> ceil(9.5) = 10
    assert.are.equal(10, (hpa.per_pod_replicas(0, 95, 10, TOL)))
    -- and an empty queue at zero stays at zero: 0 / 0 is NaN, never within -> ceil(0) = 0
    assert.are.equal(0, (hpa.per_pod_replicas(0, 0, 10, TOL)))
  end)

  it("HPA's AverageValue tolerance divides by status.replicas, not Ready pods", function()
    -- status 4 (2 Ready + 2 starting), total 42, target 10: 42 / (10 * 4) = 1.05 within ->
    -- proposes status = 4. Dividing by the 2 Ready pods (2.1) would propose ceil(4.2) = 5.
    local n, avg = hpa.per_pod_replicas(4, 42, 10, TOL)
    assert.are.equal(4, n)
    assert.are.equal(10.5, avg)   -- reported average: ceil(42000m / 4) = 10500m
  end)

  it("HPA's Value target multiplies the ratio by Ready pods", function()
    -- value 30, target 10, spec 4 with 2 Ready and 2 starting: ceil(3 * 2) = 6
    local pods = running(2, { { name = "s1", phase = "Running", ready = false },
                              { name = "s2", phase = "Running", ready = false } })
    local p = hpa.metric_replicas({ name = "q", type = "External", value = 30,
                                    target = { type = "Value", value = 10 } },
      { current = 4, status = 4, pods = pods, tolerances = TOL })
    assert.are.equal(6, p.replicas)
  end)

  it("HPA's Value target from zero replicas is ceil(ratio) with no tolerance", function()
    -- 4 / 10 = 0.4 -> 1; 10.5 / 10 = 1.05 -> 2 (inside the band, but no band applies at 0)
    assert.are.equal(1, (hpa.usage_ratio_replicas(0, 0.4, TOL, {})))
    assert.are.equal(2, (hpa.usage_ratio_replicas(0, 1.05, TOL, {})))
  end)

  it("HPA's Value target proposes zero when no pod is Ready", function()
    -- ratio 3 x 0 Ready pods = 0; an error only when the selector matches nothing
    local pods = { { name = "s1", phase = "Running", ready = false } }
    assert.are.equal(0, (hpa.usage_ratio_replicas(2, 3, TOL, pods)))
    local n, err = hpa.usage_ratio_replicas(2, 3, TOL, {})
    assert.is_nil(n)
    assert.matches("no pods", err)
  end)

  it("HPA sums every series an External metric returns", function()
    -- 3 + 4.5 = 7.5 against 1 per replica -> ceil(7.5) = 8
    local p = hpa.metric_replicas({ name = "q", type = "External", values = { 3, 4.5 },
                                    target = { type = "AverageValue", average_value = 1 } },
      { current = 2, status = 2, pods = running(2), tolerances = TOL })
    assert.are.equal(8, p.replicas)
  end)

  it("HPA's Utilization is an integer percent before it meets the target", function()
    -- request 1 (1000m), usage 0.1119 -> 112m; int32(112 * 100 / 1000) = 11 %; 11 / 10 = 1.1 is
    -- within -> 1. A float utilization (11.2 %) would give ceil(1.12) = 2.
    local n, util = hpa.utilization_replicas(1, 10, running(1), { p1 = 0.1119 }, { p1 = 1 }, TOL)
    assert.are.equal(11, util)
    assert.are.equal(1, n)
    -- 850m + 950m over 2000m = 90 %; 90 / 80 = 1.125 -> ceil(2.25) = 3
    n = hpa.utilization_replicas(2, 80, running(2), { p1 = 0.85, p2 = 0.95 },
      { p1 = 1, p2 = 1 }, TOL)
    assert.are.equal(3, n)
  end)

  it("HPA fills missing pods at max(100%, target) of their request on a Utilization scale-down",
    function()
      -- target 150 %: p1 uses 200m of 1000m (20 %), p2 missing. ratio 20 / 150 < 1 ->
      -- p2 := 1000 * 150 / 100 = 1500m; (200 + 1500) * 100 / 2000 = 85 %; 85 / 150 = 0.5666;
      -- ceil(0.5666 * 2) = 2. Filling at 100 % would give 60 % -> ceil(0.8) = 1.
      local n = hpa.utilization_replicas(2, 150, running(2), { p1 = 0.2 }, { p1 = 1, p2 = 1 },
        TOL)
      assert.are.equal(2, n)
    end)
end)

describe("HPA over several metrics", function()
  local ctx = { current = 3, status = 3, pods = running(3), tolerances = TOL }
  local function ext(name, value, target)
    return { name = name, type = "External", value = value,
             target = { type = "AverageValue", average_value = target } }
  end

  it("HPA takes the largest proposal", function()
    -- a: ceil(9 / 3) = 3 (9 / (3 * 3) = 1 within -> 3); b: ceil(50 / 10) = 5
    local n, driver = hpa.replicas_for_metrics({ ext("a", 9, 3), ext("b", 50, 10) }, ctx)
    assert.are.equal(5, n)
    assert.are.equal("b", driver.name)
  end)

  it("HPA scales up past a failed metric", function()
    local n = hpa.replicas_for_metrics({ ext("a", nil, 3), ext("b", 50, 10) }, ctx)
    assert.are.equal(5, n)
  end)

  it("HPA will not scale down while a metric fails", function()
    -- b alone says ceil(20 / 10) = 2 < 3, and a failed: no proposal
    local n, err = hpa.replicas_for_metrics({ ext("a", nil, 3), ext("b", 20, 10) }, ctx)
    assert.is_nil(n)
    assert.matches("^a: ", err)
  end)

  it("HPA proposes nothing when every metric fails, and records nothing", function()
    local st = {}
    local spec = queue_spec(nil, 10)
    local n, info = tick(st, spec, 0, 3)
    assert.are.equal(3, n)
    assert.is_not_nil(info.error)
    assert.are.equal(1, #st.recommendations)   -- only the seed of the first sight
  end)
end)

describe("HPA behavior", function()
  it("HPA reproduces the default burst: 3 -> 7 -> 14 -> 20 (reference §1.10 example 1)", function()
    -- raw = ceil(200 / 10) = 20 each tick.
    -- t=0:  Pods 3+4 = 7, Percent ceil(3*2) = 6 -> Max 7
    -- t=15: the +4 at t=0 is not after 15-15 -> start 7: Pods 11, Percent 14 -> 14
    -- t=30: start 14: Pods 18, Percent 28 -> limit 28 >= 20 -> 20
    local st, spec = {}, queue_spec(200, 10)
    assert.are.equal(7, (tick(st, spec, 0, 3)))
    assert.are.equal(14, (tick(st, spec, 15, 7)))
    assert.are.equal(20, (tick(st, spec, 30, 14)))
  end)

  it("HPA without behavior caps a scale-up at max(2 x current, 4)", function()
    -- legacy path: 3 -> int32(max(6, 4)) = 6 (the defaulted behavior gives 7)
    local st = {}
    local spec = queue_spec(200, 10, { behavior = nil })
    spec.behavior = nil
    assert.are.equal(6, (tick(st, spec, 0, 3)))
  end)

  it("HPA holds a scale-down while a higher recommendation is inside the window", function()
    -- reference §1.10 example 2: recommendations 10 (t=0), 8 (t=100), 6 (t=200), now 4 at
    -- t=299 with current 10: max(4, 10, 8, 6) = 10 -> no change.
    -- At t=300 the t=0 samples are not after 300-300 = 0: max(4, 8, 6, 4) = 8; the scale-down
    -- limit is int32(10 * (1 - 1)) = 0, min 1 -> 8.
    local st = {}
    assert.are.equal(10, (tick(st, queue_spec(100, 10), 0, 10)))
    assert.are.equal(10, (tick(st, queue_spec(80, 10), 100, 10)))
    assert.are.equal(10, (tick(st, queue_spec(60, 10), 200, 10)))
    assert.are.equal(10, (tick(st, queue_spec(40, 10), 299, 10)))
    assert.are.equal(8, (tick(st, queue_spec(40, 10), 300, 10)))
  end)

  it("HPA without behavior still counts a recommendation exactly at the window's edge", function()
    -- legacy stabilizeRecommendation drops samples Before(now - 300) only: at t=300 the t=0 10
    -- still counts -> 10; at t=300.5 it is out -> max(4, 8, 6, 4) = 8.
    local st = {}
    local function legacy(v)
      local s = queue_spec(v, 10)
      s.behavior = nil
      return s
    end
    assert.are.equal(10, (tick(st, legacy(100), 0, 10)))
    assert.are.equal(10, (tick(st, legacy(80), 100, 10)))
    assert.are.equal(10, (tick(st, legacy(60), 200, 10)))
    assert.are.equal(10, (tick(st, legacy(40), 300, 10)))
    assert.are.equal(8, (tick(st, legacy(40), 300.5, 10)))
  end)

  it("HPA scales up only to what every recommendation in the scale-up window supports", function()
    -- up window 60 s. t=0: seed 2 and raw 5 are inside -> min 2 -> stays 2. t=30: min(5, 2, 5) = 2.
    -- t=60: the t=0 samples are not after 0 -> min(5, 5) = 5; limit Pods 2+4 = 6 -> 5.
    local st = {}
    local spec = queue_spec(50, 10,
      { behavior = { scale_up = { stabilization_window_seconds = 60 } } })
    assert.are.equal(2, (tick(st, spec, 0, 2)))
    assert.are.equal(2, (tick(st, spec, 30, 2)))
    assert.are.equal(5, (tick(st, spec, 60, 2)))
  end)

  it("HPA's rate limit forgets a scale event exactly one period later", function()
    -- scale-up Pods 2 per 60 s. t=0: 2 -> 4 (+2). t=59.9: start 4 - 2 = 2 -> limit 4 -> 4.
    -- t=60: the event is not after 60 - 60 -> start 4 -> 6.
    local st = {}
    local spec = queue_spec(100, 10, { behavior = { scale_up = {
      policies = { { type = "Pods", value = 2, period_seconds = 60 } } } } })
    assert.are.equal(4, (tick(st, spec, 0, 2)))
    assert.are.equal(4, (tick(st, spec, 59.9, 4)))
    assert.are.equal(6, (tick(st, spec, 60, 4)))
  end)

  it("HPA adds replicas removed within a period back to that period's start", function()
    -- up: Pods 2 / 60 s; down: no window, Percent 100 / 15 s.
    -- t=0: 2 -> 4 (up +2). t=15: raw 3 -> 3 (down 1). t=30: raw 10, start = 3 - 2 + 1 = 2 ->
    -- limit 4. Without the scale-down event the start would be 1 and the limit 3.
    local st = {}
    local b = { scale_up = { policies = { { type = "Pods", value = 2, period_seconds = 60 } } },
                scale_down = { stabilization_window_seconds = 0 } }
    assert.are.equal(4, (tick(st, queue_spec(100, 10, { behavior = b }), 0, 2)))
    assert.are.equal(3, (tick(st, queue_spec(30, 10, { behavior = b }), 15, 4)))
    assert.are.equal(4, (tick(st, queue_spec(100, 10, { behavior = b }), 30, 3)))
  end)

  it("HPA rounds a Percent scale-up with a float64 ceil (50 x 1.1 -> 56)", function()
    -- 1 + 10/100 = 1.1000000000000000888; 50 x that = 55.000000000000007 -> ceil 56
    local st = {}
    local spec = queue_spec(1000, 10, { behavior = { scale_up = {
      policies = { { type = "Percent", value = 10, period_seconds = 15 } } } } })
    assert.are.equal(56, (tick(st, spec, 0, 50)))
  end)

  it("HPA truncates the replicas a Percent scale-down keeps", function()
    local function down(cur, pct)
      local st = {}
      local spec = queue_spec(1, 10, { behavior = { scale_down = {
        stabilization_window_seconds = 0,
        policies = { { type = "Percent", value = pct, period_seconds = 15 } } } } })
      return (tick(st, spec, 0, cur))
    end
    assert.are.equal(72, down(80, 10))   -- int32(80 x 0.9) = 72 (the docs' example)
    assert.are.equal(8, down(10, 15))    -- int32(10 x 0.85) = int32(8.5) = 8
    -- 1 - 80/100 = 0.19999999999999996; 15 x that = 2.9999999999999991 -> 2, not 3
    assert.are.equal(2, down(15, 80))
  end)

  it("HPA's selectPolicy Min takes the smaller change", function()
    -- Pods 3+4 = 7, Percent ceil(3 x 2) = 6: Max -> 7, Min -> 6
    local st = {}
    local spec = queue_spec(200, 10, { behavior = { scale_up = { select_policy = "Min" } } })
    assert.are.equal(6, (tick(st, spec, 0, 3)))
    -- down from 10 to raw 1 with Pods 1 (-> 9) and Percent 50 (-> 5): Max -> 5, Min -> 9
    local policies = { { type = "Pods", value = 1, period_seconds = 15 },
                       { type = "Percent", value = 50, period_seconds = 15 } }
    local function down(sel)
      return (tick({}, queue_spec(10, 10, { behavior = { scale_down = {
        stabilization_window_seconds = 0, select_policy = sel, policies = policies } } }), 0, 10))
    end
    assert.are.equal(5, down("Max"))
    assert.are.equal(9, down("Min"))
  end)

  it("HPA's selectPolicy Disabled stops that direction only", function()
    local up_off = { scale_up = { select_policy = "Disabled" },
                     scale_down = { stabilization_window_seconds = 0 } }
    assert.are.equal(3, (tick({}, queue_spec(200, 10, { behavior = up_off }), 0, 3)))
    -- ceil(10 / 10) = 1, scale-down allowed: 3 -> int32(3 x 0) = 0 -> min 1
    assert.are.equal(1, (tick({}, queue_spec(10, 10, { behavior = up_off }), 0, 3)))
    local down_off = { scale_down = { select_policy = "Disabled",
                                      stabilization_window_seconds = 0 } }
    assert.are.equal(3, (tick({}, queue_spec(10, 10, { behavior = down_off }), 0, 3)))
    assert.are.equal(7, (tick({}, queue_spec(200, 10, { behavior = down_off }), 0, 3)))
  end)

  it("HPA clamps to max and min", function()
    assert.are.equal(5, (tick({}, queue_spec(200, 10, { max_replicas = 5 }), 0, 3)))
    local b = { scale_down = { stabilization_window_seconds = 0 } }
    assert.are.equal(2, (tick({}, queue_spec(0, 10, { min_replicas = 2, behavior = b }), 0, 3)))
  end)

  it("HPA jumps to max or min without metrics when the count is outside them", function()
    -- the metric fails, yet 12 > max 10 -> 10, and nothing enters the history
    local st = {}
    local n, info = tick(st, queue_spec(nil, 10, { max_replicas = 10 }), 0, 12)
    assert.are.equal(10, n)
    assert.are.equal("above_max", info.action)
    assert.are.equal(1, #st.recommendations)
    assert.are.equal(2, (tick({}, queue_spec(nil, 10, { min_replicas = 2 }), 0, 1)))
  end)

  it("HPA does not count a decision the guard held against its rate limit", function()
    -- Pods 4 per 60 s. t=0: 3 -> 7 (+4). At t=10 the target is still 3 (held): the event is
    -- trimmed to 0 -> start 3 -> limit 7. Counted, the start would be -1 and the limit 3.
    -- If instead the guard clamped to 5: moved 2 -> start 5 - 2 = 3 -> limit 7.
    local spec = queue_spec(200, 10, { behavior = { scale_up = {
      policies = { { type = "Pods", value = 4, period_seconds = 60 } } } } })
    local st = {}
    assert.are.equal(7, (tick(st, spec, 0, 3)))
    assert.are.equal(7, (tick(st, spec, 10, 3)))
    st = {}
    assert.are.equal(7, (tick(st, spec, 0, 3)))
    assert.are.equal(7, (tick(st, spec, 10, 5)))
  end)

  it("HPA keeps its state as plain data", function()
    local st = {}
    tick(st, queue_spec(200, 10), 0, 3)
    tick(st, queue_spec(200, 10), 15, 7)
    local function plain(t)
      for k, v in pairs(t) do
        local tk, tv = type(k), type(v)
        if tk ~= "string" and tk ~= "number" then return false end
        if tv == "table" then
          if not plain(v) then return false end
        elseif tv ~= "number" and tv ~= "string" and tv ~= "boolean" then
          return false
        end
      end
      return true
    end
    assert.is_true(plain(st))
  end)

  it("HPA rejects a bad behavior naming the field", function()
    local err = hpa.check(queue_spec(1, 10, { behavior = { scale_up = {
      policies = { { type = "Pods", value = 1, period_seconds = 1801 } } } } }))
    assert.matches("behavior%.scale_up%.policies%[1%]%.period_seconds", err)
    err = hpa.check(queue_spec(1, 10, { behavior = { scale_down = { select_policy = "Fast" } } }))
    assert.matches("behavior%.scale_down%.select_policy", err)
    assert.is_nil(hpa.check(queue_spec(1, 10)))
  end)
end)

describe("HPA scale to zero", function()
  local b = { scale_down = { stabilization_window_seconds = 0 } }

  it("HPA leaves a target at zero alone without the HPAScaleToZero gate", function()
    local n, info = tick({}, queue_spec(50, 10), 0, 0)
    assert.are.equal(0, n)
    assert.are.equal("disabled", info.action)
  end)

  it("HPA with minReplicas 0 scales to zero and back on an External metric", function()
    local spec = queue_spec(0, 1, { min_replicas = 0, scale_to_zero = true, behavior = b })
    -- queue 0 at 2: 0 / (1 x 2) = 0 -> ceil(0) = 0; limit int32(2 x 0) = 0 -> 0
    local st = {}
    assert.are.equal(0, (tick(st, spec, 0, 2)))
    -- queue 3 at 0 (status 0): ceil(3 / 1) = 3; limit max(0 + 4, ceil(0 x 2)) = 4 -> 3
    spec.metrics[1].value = 3
    assert.are.equal(3, (tick(st, spec, 15, 0, 0)))
  end)

  it("HPA in the 1.37 mode only leaves zero if it went there itself", function()
    local spec = queue_spec(3, 1, { min_replicas = 0, scale_to_zero = "condition", behavior = b })
    -- scaled to zero by hand: maintenance mode
    local n, info = tick({}, spec, 0, 0, 0)
    assert.are.equal(0, n)
    assert.are.equal("disabled", info.action)
    -- scaled to zero by the HPA: comes back on the queue
    local st = {}
    spec.metrics[1].value = 0
    assert.are.equal(0, (tick(st, spec, 0, 2)))
    spec.metrics[1].value = 3
    assert.are.equal(3, (tick(st, spec, 15, 0, 0)))
  end)

  it("HPA refuses minReplicas 0 without the gate or an Object/External metric", function()
    assert.matches("min_replicas 0", hpa.check(queue_spec(1, 1, { min_replicas = 0 })))
    local pods_only = {
      min_replicas = 0, max_replicas = 5, scale_to_zero = true,
      metrics = { { name = "running", type = "Pods", target = { type = "AverageValue",
                                                                average_value = 8 } } },
    }
    assert.matches("min_replicas 0", hpa.check(pods_only))
  end)
end)

describe("HPA reasons", function()
  it("HPA names the driving metric and its numbers", function()
    -- 10 and 9.2 -> avg 9600m / 8000m = 1.2 -> ceil(1.2 x 2) = ceil(2.4) = 3
    local spec = {
      min_replicas = 1, max_replicas = 10, behavior = {},
      metrics = { { name = "running", type = "Pods", values = { p1 = 10, p2 = 9.2 },
                    target = { type = "AverageValue", average_value = 8 } } },
    }
    local n, info = hpa.tick({}, spec, { now = 0, current = 2, pods = running(2) })
    assert.are.equal(3, n)
    assert.are.equal("running/pod 9.6 > target 8 → 3", info.reason)
  end)

  it("HPA says when the rate limit held the count", function()
    -- raw 20 from 3, limited to 7 by the default scale-up policies
    local _, info = tick({}, queue_spec(200, 10), 0, 3)
    assert.are.equal("queue/replica 66.67 > target 10 → 20; held to 7 by scale-up rate limit",
      info.reason)
  end)
end)
