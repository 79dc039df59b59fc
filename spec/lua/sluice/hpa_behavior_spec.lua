-- The HPA's behavior (stabilization, rate policies, selectPolicy, limits), driven through
-- hpa.tick and checked against numbers worked by hand from the controller's rules (reference §1).
local hpa = require "sluice.hpa"
local behavior = require "sluice.hpa_behavior"
local hs = require "support.hpaspec"
local queue_spec, tick = hs.queue_spec, hs.tick

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

  it("HPA rejects a bad behavior naming the field", function()
    local err = hpa.check(queue_spec(1, 10, { behavior = { scale_up = {
      policies = { { type = "Pods", value = 1, period_seconds = 1801 } } } } }))
    assert.matches("behavior%.scale_up%.policies%[1%]%.period_seconds", err)
    err = hpa.check(queue_spec(1, 10, { behavior = { scale_down = { select_policy = "Fast" } } }))
    assert.matches("behavior%.scale_down%.select_policy", err)
    assert.is_nil(hpa.check(queue_spec(1, 10)))
  end)
end)
