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

describe("HPA behavior, on its own", function()
  it("defaults an empty behavior to the API's, the scale-down window from the controller's flag",
    function()
      local b = behavior.behavior({})
      assert.are.same({ stabilization_window_seconds = 0, select_policy = "Max", policies = {
        { type = "Pods", value = 4, period_seconds = 15 },
        { type = "Percent", value = 100, period_seconds = 15 } } }, b.scale_up)
      assert.are.same({ stabilization_window_seconds = behavior.DOWNSCALE_WINDOW,
        select_policy = "Max",
        policies = { { type = "Percent", value = 100, period_seconds = 15 } } },
        b.scale_down)
      assert.are.equal(120, behavior.behavior({}, 120).scale_down.stabilization_window_seconds)
      -- A nil behavior is the legacy path, not the defaults.
      assert.is_nil(behavior.behavior(nil))
    end)

  it("keeps what a behavior sets, field by field, and never shares the defaults' tables",
    function()
      local b = behavior.behavior({ scale_up = { select_policy = "Min", tolerance = 0.05 } })
      assert.are.same({ "Min", 0.05, 0 }, { b.scale_up.select_policy, b.scale_up.tolerance,
        b.scale_up.stabilization_window_seconds })
      b.scale_up.policies[1].value = 99
      assert.are.equal(4, behavior.behavior({}).scale_up.policies[1].value)
    end)

  it("check_behavior names the first bad field of a defaulted behavior", function()
    local function check(b) return behavior.check_behavior(behavior.behavior(b)) end
    assert.is_nil(check({}))
    assert.matches("^behavior%.scale_up%.stabilization_window_seconds must be a whole number in "
      .. "0%.%.3600", check({ scale_up = { stabilization_window_seconds = 3601 } }))
    assert.matches("^behavior%.scale_down%.policies%[1%]%.value must be a whole number > 0",
      check({ scale_down = { policies = { { type = "Pods", value = 0, period_seconds = 15 } } } }))
    assert.matches("^behavior%.scale_up%.policies must list at least one policy",
      check({ scale_up = { policies = {} } }))
    assert.is_nil(behavior.check_behavior(nil))
  end)

  it("stabilize pulls the count up to the lowest recent recommendation and down to the highest",
    function()
      -- Up window 60 s, down window 300 s at t=250: the up window holds 3 (t=200) and the new 6,
      -- lowest 3; the down window holds 8, 3 and 6, highest 8.
      local function at(current)
        local st = { recommendations = { { n = 8, t = 100 }, { n = 3, t = 200 } } }
        return behavior.stabilize(st, 250, current, 6, 60, 300)
      end
      assert.are.equal(5, at(5))
      assert.are.equal(3, at(2))
      assert.are.equal(8, at(10))
    end)

  it("stabilize records the raw recommendation, reusing a slot older than both windows", function()
    local st = { recommendations = { { n = 8, t = 100 }, { n = 3, t = 200 } } }
    behavior.stabilize(st, 250, 5, 6, 60, 300)
    assert.are.equal(3, #st.recommendations)
    st = { recommendations = { { n = 8, t = 100 }, { n = 3, t = 200 } } }
    behavior.stabilize(st, 1000, 5, 6, 60, 300)
    assert.are.same({ { n = 8, t = 100 }, { n = 6, t = 1000 } }, st.recommendations)
  end)

  it("scale_up_limit starts each policy from the count at the start of its period", function()
    -- +4 at t=0; at t=10 with 7 replicas the 15-s period started at 3.
    local st = { up_events = { { change = 4, t = 0 } }, down_events = {} }
    local pods = { type = "Pods", value = 4, period_seconds = 15 }
    local pct = { type = "Percent", value = 100, period_seconds = 15 }
    assert.are.equal(7, behavior.scale_up_limit(st, 10, 7, { select_policy = "Max",
      policies = { pods, pct } }))
    assert.are.equal(6, behavior.scale_up_limit(st, 10, 7, { select_policy = "Min",
      policies = { pods, pct } }))
    -- At t=15 the event is no longer after 15 - 15: the period starts at 7.
    assert.are.equal(14, behavior.scale_up_limit(st, 15, 7, { select_policy = "Max",
      policies = { pods, pct } }))
  end)

  it("rate_limit says which limit held the count, as the controller's ScalingLimited reasons",
    function()
      local b = behavior.behavior({})
      assert.are.same({ 7, "ScaleUpLimit" }, { behavior.rate_limit({}, 0, 3, 20, 1, 100, b) })
      assert.are.same({ 5, "TooManyReplicas" }, { behavior.rate_limit({}, 0, 3, 20, 1, 5, b) })
      assert.are.same({ 2, "TooFewReplicas" }, { behavior.rate_limit({}, 0, 3, 1, 2, 100, b) })
      assert.are.same({ 6, "DesiredWithinRange" }, { behavior.rate_limit({}, 0, 3, 6, 1, 100, b) })
    end)

  it("rate_limit_legacy caps a scale-up at max(2 x current, 4) and applies min", function()
    assert.are.same({ 4, "ScaleUpLimit" }, { behavior.rate_limit_legacy(1, 9, 1, 100) })
    assert.are.same({ 10, "ScaleUpLimit" }, { behavior.rate_limit_legacy(5, 30, 1, 100) })
    assert.are.same({ 8, "TooManyReplicas" }, { behavior.rate_limit_legacy(5, 30, 1, 8) })
    assert.are.same({ 2, "TooFewReplicas" }, { behavior.rate_limit_legacy(5, 1, 2, 8) })
  end)

  it("record_scale keeps events only with a behavior, reusing an outdated slot", function()
    local b = behavior.behavior({})
    assert.is_nil(behavior.record_scale({}, nil, 3, 5, 0))
    assert.is_nil(behavior.record_scale({}, b, 3, 3, 0))
    local st = {}
    behavior.record_scale(st, b, 3, 7, 0)
    behavior.record_scale(st, b, 7, 9, 5)
    assert.are.same({ 4, 2 }, { st.up_events[1].change, st.up_events[2].change })
    -- At t=30 both are older than the longest up policy (15 s): the last outdated slot is reused.
    behavior.record_scale(st, b, 9, 10, 30)
    assert.are.equal(2, #st.up_events)
    assert.are.same({ change = 1, t = 30, outdated = false }, st.up_events[2])
    assert.is_true(st.up_events[1].outdated)
    behavior.record_scale(st, b, 10, 8, 31)
    assert.are.same({ change = 2, t = 31, outdated = false }, st.down_events[1])
  end)
end)
