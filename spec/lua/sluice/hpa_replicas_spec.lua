-- The HPA's replica calculator, checked against numbers worked by hand from the controller's
-- rules (reference §1). Arithmetic is in the comments; "m" is a milli-unit.
local calc = require "sluice.hpa_replicas"
local hs = require "support.hpaspec"
local TOL, running = hs.TOL, hs.running

describe("HPA per-metric proposals", function()
  it("HPA keeps replicas inside the 10% tolerance (average 108 against 100)", function()
    -- 10 pods at 108: avg 108000m / 100000m = 1.08 <= 1.1 -> current
    local values = {}
    for i = 1, 10 do values["p" .. i] = 108 end
    local n = calc.plain_metric_replicas(10, 100, running(10), values, TOL)
    assert.are.equal(10, n)
  end)

  it("HPA scales on the same 8% excess with a 5% scale-up tolerance", function()
    -- 1.08 > 1.05 -> ceil(1.08 * 10) = ceil(10.8) = 11
    local values = {}
    for i = 1, 10 do values["p" .. i] = 108 end
    local n = calc.plain_metric_replicas(10, 100, running(10), values, { up = 0.05, down = 0.1 })
    assert.are.equal(11, n)
  end)

  it("HPA's tolerance band includes both edges and nothing beyond them", function()
    local function at(v)
      local values = {}
      for i = 1, 10 do values["p" .. i] = v end
      return (calc.plain_metric_replicas(10, 100, running(10), values, TOL))
    end
    assert.are.equal(10, at(110))   -- 1.10 <= 1 + 0.1
    assert.are.equal(10, at(90))    -- 0.90 >= 1 - 0.1
    assert.are.equal(12, at(111))   -- ceil(1.11 * 10) = ceil(11.1) = 12
    assert.are.equal(9, at(89))     -- ceil(0.89 * 10) = ceil(8.9) = 9
  end)

  it("HPA averages pod samples in integer milli-units", function()
    -- 5000m + 5001m = 10001m / 2 = 5000m (int64 division); 5000 / 1000 = 5.0 -> ceil(5 * 2) = 10.
    -- A float average (5000.5m) would give ceil(5.0005 * 2) = 11.
    local n = calc.plain_metric_replicas(2, 1, running(2), { p1 = 5, p2 = 5.001 }, TOL)
    assert.are.equal(10, n)
  end)

  it("HPA treats missing pods as using the target on a scale-down", function()
    -- p1 = p2 = 2, p3 has no sample, target 10: ratio 0.2 < 1 -> p3 := 10;
    -- avg (2 + 2 + 10) / 3 = 4666m -> 0.4666; ceil(0.4666 * 3) = ceil(1.3998) = 2.
    -- Ignoring p3 would give ceil(0.2 * 2) = 1.
    local n = calc.plain_metric_replicas(3, 10, running(3), { p1 = 2, p2 = 2 }, TOL)
    assert.are.equal(2, n)
  end)

  it("HPA keeps the count when missing pods would turn a scale-up into a scale-down", function()
    -- p1 = 12, p2 and p3 missing, target 10: ratio 1.2 > 1 -> missing := 0;
    -- avg 12 / 3 = 4 -> 0.4 < 1: direction reversed -> current 3 (not ceil(1.2 * 1) = 2).
    local n = calc.plain_metric_replicas(3, 10, running(3), { p1 = 12 }, TOL)
    assert.are.equal(3, n)
  end)

  it("HPA keeps the count when fewer samples would shrink a scale-up below current", function()
    -- spec 5, 2 pods listed: p1 = 30, p2 missing, target 10: ratio 3 -> p2 := 0; avg 15 -> 1.5;
    -- ceil(1.5 * 2) = 3 < 5 while the ratio is above 1 -> current 5.
    local n = calc.plain_metric_replicas(5, 10, running(2), { p1 = 30 }, TOL)
    assert.are.equal(5, n)
  end)

  it("HPA counts Pending pods as zero on a scale-up", function()
    -- p1 = p2 = 16, p3 Pending, target 10: ratio 1.6, unready -> p3 := 0;
    -- avg 32 / 3 = 10666m -> 1.0666 within 10% -> current 3 (ready pods alone: ceil(3.2) = 4).
    local pods = running(2, { { name = "p3", phase = "Pending" } })
    local n = calc.plain_metric_replicas(3, 10, pods, { p1 = 16, p2 = 16 }, TOL)
    assert.are.equal(3, n)
  end)

  it("HPA drops Pending pods' samples on a scale-down", function()
    -- p3 is Pending and reports 100, which is removed: ratio 5 / 10 = 0.5 -> ceil(0.5 * 2) = 1.
    local pods = running(2, { { name = "p3", phase = "Pending" } })
    local n = calc.plain_metric_replicas(3, 10, pods, { p1 = 5, p2 = 5, p3 = 100 }, TOL)
    assert.are.equal(1, n)
  end)

  it("HPA counts a Running pod that is not Ready but reports, for non-CPU metrics", function()
    -- p2 is Running, Ready = false, reports 20: counted. ratio 20 / 10 = 2 -> ceil(2 * 2) = 4.
    -- Had it been treated as unready: avg (20 + 0) / 2 = 10 -> within -> 2.
    local pods = running(1, { { name = "p2", phase = "Running", ready = false } })
    local n = calc.plain_metric_replicas(2, 10, pods, { p1 = 20, p2 = 20 }, TOL)
    assert.are.equal(4, n)
  end)

  it("HPA ignores pods being deleted", function()
    -- p3 is deleting with 100: ignored. ratio 20 / 10 = 2 -> ceil(2 * 2) = 4 (not 3 pods' worth).
    local pods = running(2, { { name = "p3", phase = "Running", ready = true, deleting = true } })
    local n = calc.plain_metric_replicas(3, 10, pods, { p1 = 20, p2 = 20, p3 = 100 }, TOL)
    assert.are.equal(4, n)
  end)

  it("HPA fails a Pods metric with no pods or no usable sample", function()
    local n, err = calc.plain_metric_replicas(2, 10, {}, {}, TOL)
    assert.is_nil(n)
    assert.matches("no pods", err)
    n, err = calc.plain_metric_replicas(2, 10, { { name = "p1", phase = "Pending" } },
      { p1 = 3 }, TOL)
    assert.is_nil(n)
    assert.matches("did not receive metrics", err)
  end)

  it("HPA's External AverageValue proposes ceil(total / target) from zero", function()
    -- reference §1.10 example 4: queue 95, target 10, status 0 -> ratio +Inf -> ceil(9.5) = 10
    assert.are.equal(10, (calc.per_pod_replicas(0, 95, 10, TOL)))
    -- and an empty queue at zero stays at zero: 0 / 0 is NaN, never within -> ceil(0) = 0
    assert.are.equal(0, (calc.per_pod_replicas(0, 0, 10, TOL)))
  end)

  it("HPA's AverageValue tolerance divides by status.replicas, not Ready pods", function()
    -- status 4 (2 Ready + 2 starting), total 42, target 10: 42 / (10 * 4) = 1.05 within ->
    -- proposes status = 4. Dividing by the 2 Ready pods (2.1) would propose ceil(4.2) = 5.
    local n, avg = calc.per_pod_replicas(4, 42, 10, TOL)
    assert.are.equal(4, n)
    assert.are.equal(10.5, avg)   -- reported average: ceil(42000m / 4) = 10500m
  end)

  it("HPA's Value target multiplies the ratio by Ready pods", function()
    -- value 30, target 10, spec 4 with 2 Ready and 2 starting: ceil(3 * 2) = 6
    local pods = running(2, { { name = "s1", phase = "Running", ready = false },
                              { name = "s2", phase = "Running", ready = false } })
    local p = calc.metric_replicas({ name = "q", type = "External", value = 30,
                                    target = { type = "Value", value = 10 } },
      { current = 4, status = 4, pods = pods, tolerances = TOL })
    assert.are.equal(6, p.replicas)
  end)

  it("HPA's Value target from zero replicas is ceil(ratio) with no tolerance", function()
    -- 4 / 10 = 0.4 -> 1; 10.5 / 10 = 1.05 -> 2 (inside the band, but no band applies at 0)
    assert.are.equal(1, (calc.usage_ratio_replicas(0, 0.4, TOL, {})))
    assert.are.equal(2, (calc.usage_ratio_replicas(0, 1.05, TOL, {})))
  end)

  it("HPA's Value target proposes zero when no pod is Ready", function()
    -- ratio 3 x 0 Ready pods = 0; an error only when the selector matches nothing
    local pods = { { name = "s1", phase = "Running", ready = false } }
    assert.are.equal(0, (calc.usage_ratio_replicas(2, 3, TOL, pods)))
    local n, err = calc.usage_ratio_replicas(2, 3, TOL, {})
    assert.is_nil(n)
    assert.matches("no pods", err)
  end)

  it("HPA sums every series an External metric returns", function()
    -- 3 + 4.5 = 7.5 against 1 per replica -> ceil(7.5) = 8
    local p = calc.metric_replicas({ name = "q", type = "External", values = { 3, 4.5 },
                                    target = { type = "AverageValue", average_value = 1 } },
      { current = 2, status = 2, pods = running(2), tolerances = TOL })
    assert.are.equal(8, p.replicas)
  end)

  it("HPA's Utilization is an integer percent before it meets the target", function()
    -- request 1 (1000m), usage 0.1119 -> 112m; int32(112 * 100 / 1000) = 11 %; 11 / 10 = 1.1 is
    -- within -> 1. A float utilization (11.2 %) would give ceil(1.12) = 2.
    local n, util = calc.utilization_replicas(1, 10, running(1), { p1 = 0.1119 }, { p1 = 1 }, TOL)
    assert.are.equal(11, util)
    assert.are.equal(1, n)
    -- 850m + 950m over 2000m = 90 %; 90 / 80 = 1.125 -> ceil(2.25) = 3
    n = calc.utilization_replicas(2, 80, running(2), { p1 = 0.85, p2 = 0.95 },
      { p1 = 1, p2 = 1 }, TOL)
    assert.are.equal(3, n)
  end)

  it("HPA fills missing pods at max(100%, target) of their request on a Utilization scale-down",
    function()
      -- target 150 %: p1 uses 200m of 1000m (20 %), p2 missing. ratio 20 / 150 < 1 ->
      -- p2 := 1000 * 150 / 100 = 1500m; (200 + 1500) * 100 / 2000 = 85 %; 85 / 150 = 0.5666;
      -- ceil(0.5666 * 2) = 2. Filling at 100 % would give 60 % -> ceil(0.8) = 1.
      local n = calc.utilization_replicas(2, 150, running(2), { p1 = 0.2 }, { p1 = 1, p2 = 1 },
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
    local n, driver = calc.replicas_for_metrics({ ext("a", 9, 3), ext("b", 50, 10) }, ctx)
    assert.are.equal(5, n)
    assert.are.equal("b", driver.name)
  end)

  it("HPA scales up past a failed metric", function()
    local n = calc.replicas_for_metrics({ ext("a", nil, 3), ext("b", 50, 10) }, ctx)
    assert.are.equal(5, n)
  end)

  it("HPA will not scale down while a metric fails", function()
    -- b alone says ceil(20 / 10) = 2 < 3, and a failed: no proposal
    local n, err = calc.replicas_for_metrics({ ext("a", nil, 3), ext("b", 20, 10) }, ctx)
    assert.is_nil(n)
    assert.matches("^a: ", err)
  end)
end)

describe("HPA replica calculator, on its own", function()
  it("tolerances come from behavior per direction, else the cluster-wide value for both",
    function()
      assert.are.same({ up = 0.1, down = 0.1 }, calc.tolerances(nil))
      assert.are.same({ up = 0.2, down = 0.2 }, calc.tolerances(nil, 0.2))
      assert.are.same({ up = 0.05, down = 0.2 },
        calc.tolerances({ scale_up = { tolerance = 0.05 }, scale_down = {} }, 0.2))
    end)

  it("within is the inclusive band [1 - down, 1 + up], and NaN is never within", function()
    local tol = { up = 0.5, down = 0.25 }
    assert.is_true(calc.within(tol, 0.75))
    assert.is_true(calc.within(tol, 1.5))
    assert.is_false(calc.within(tol, 1.5000001))
    assert.is_false(calc.within(tol, 0 / 0))
  end)

  it("group_pods sorts pods into ready, unready (Pending), missing (no sample) and ignored",
    function()
      local pods = {
        { name = "a", phase = "Running", ready = true },
        { name = "b", phase = "Running", ready = false },
        { name = "c", phase = "Pending" },
        { name = "d", phase = "Running", ready = true },
        { name = "e", phase = "Running", deleting = true },
        { name = "f", phase = "Failed" },
        { name = "g", phase = "Succeeded" },
      }
      local ready, unready, missing, ignored = calc.group_pods(pods, { a = 1, b = 2, c = 3, e = 4 })
      assert.are.same({ 2, { "c" }, { "d" }, { "e", "f", "g" } },
        { ready, unready, missing, ignored })
    end)

  it("ready_pods counts Running, Ready pods not being deleted; no pods at all is an error",
    function()
      assert.are.equal(1, calc.ready_pods({ { phase = "Running", ready = true },
        { phase = "Running", ready = false }, { phase = "Running", ready = true, deleting = true },
        { phase = "Pending", ready = true } }))
      local n, err = calc.ready_pods({})
      assert.is_nil(n)
      assert.matches("no pods returned by selector", err)
    end)

  it("metric_replicas fails a metric without its sample, in the controller's words", function()
    local ctx = { current = 2, status = 2, pods = running(2), tolerances = TOL }
    local function err(m)
      m.target = m.target or { type = "AverageValue", average_value = 1 }
      return calc.metric_replicas(m, ctx).error
    end
    assert.are.equal("unable to get metric running", err({ name = "running", type = "Pods" }))
    assert.are.equal("unable to get metrics for resource cpu", err({ name = "cpu",
      type = "Resource", target = { type = "Utilization", average_utilization = 50 } }))
    assert.are.equal("unable to get External metric q", err({ name = "q", type = "External" }))
    assert.are.equal("unable to get Object metric o", err({ name = "o", type = "Object" }))
    -- An External metric whose series list is empty is as failed as a missing one.
    assert.are.equal("unable to get External metric q", err({ name = "q", type = "External",
      values = {} }))
  end)

  it("target_value reads the target field its type names", function()
    assert.are.equal(50, calc.target_value({ target = { type = "Utilization",
      average_utilization = 50, value = 1 } }))
    assert.are.equal(8, calc.target_value({ target = { type = "AverageValue", average_value = 8,
      value = 1 } }))
    assert.are.equal(3, calc.target_value({ target = { type = "Value", value = 3 } }))
  end)
end)
