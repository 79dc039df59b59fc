local ss = require "support.slospec"
local slo = require "sluice.slo"
local params, view_at = ss.params, ss.view_at
local coldstart = require "sluice.slo_coldstart"

describe("sluice.slo cold starts", function()
  it("learns the cold start from pods turning Ready and forecasts over it", function()
    local p, state = params(), {}
    local pods = { { name = "a-1", phase = "ready" }, { name = "a-2", phase = "ready" } }
    slo.decide(view_at(0, 40, { pods = pods }), p, state)
    pods[3] = { name = "a-3", phase = "pending" }
    slo.decide(view_at(10, 40, { pods = pods, replicas = { spec = 3, ready = 2, pending = 1 } }),
      p, state)
    pods[3].phase = "starting"
    slo.decide(view_at(40, 40, { pods = pods, replicas = { spec = 3, ready = 2, starting = 1 } }),
      p, state)
    pods[3].phase = "ready"
    local d = slo.decide(view_at(160, 40, { pods = pods, replicas = { spec = 3, ready = 3 } }),
      p, state)
    -- Ordered (seen pending) at 10, Ready at 160: 150 s, above the 120-s default.
    assert.matches("cold start 150 s %(1 measured%)", d["llm/a"].reason)
  end)
end)

describe("sluice.slo cold starts, on their own", function()
  local w = require "sluice.window"
  local function vs_at(tick)
    return { tick = tick, seen = {}, cold = w.ring(coldstart.SAMPLES) }
  end
  local function pods(list)
    local out = {}
    for i, x in ipairs(list) do out[i] = { name = x[1], phase = x[2] } end
    return { pods = out }
  end

  it("measures from when a pod was first seen pending or starting to when it is Ready", function()
    local vs = vs_at(2)
    coldstart.observe({ time = 100 }, vs, pods({ { "a", "pending" } }))
    coldstart.observe({ time = 130 }, vs, pods({ { "a", "starting" } }))
    coldstart.observe({ time = 190 }, vs, pods({ { "a", "ready" } }))
    assert.are.same({ 90 }, w.list(vs.cold))
    assert.is_nil(vs.seen.a)
  end)

  it("never samples a pod that was already on its way at the first look", function()
    local vs = vs_at(1)
    coldstart.observe({ time = 100 }, vs, pods({ { "a", "starting" } }))
    assert.is_false(vs.seen.a)
    vs.tick = 2
    coldstart.observe({ time = 150 }, vs, pods({ { "a", "ready" } }))
    assert.are.equal(0, vs.cold.n)
  end)

  it("forgets a pod that disappears before it is Ready", function()
    local vs = vs_at(2)
    coldstart.observe({ time = 100 }, vs, pods({ { "a", "pending" } }))
    coldstart.observe({ time = 110 }, vs, pods({}))
    assert.is_nil(vs.seen.a)
  end)

  it("horizon is the configured quantile of the pooled samples once there are three", function()
    local a, b = vs_at(2), vs_at(2)
    for _, x in ipairs({ 100, 300 }) do w.push(a.cold, x) end
    w.push(b.cold, 200)
    local p = { cold_start = 120, cold_start_quantile = 0.9 }
    local h, n = coldstart.horizon(p, { a, b })
    assert.are.equal(3, n)
    assert.are.equal(w.quantile({ 100, 200, 300 }, 0.9), h)
  end)

  it("horizon is the larger of the default and the samples while there are fewer than three",
    function()
      local a = vs_at(2)
      local p = { cold_start = 120, cold_start_quantile = 0.9 }
      assert.are.same({ 120, 0 }, { coldstart.horizon(p, { a }) })
      w.push(a.cold, 90)
      assert.are.same({ 120, 1 }, { coldstart.horizon(p, { a }) })
      w.push(a.cold, 150)
      assert.are.same({ 150, 2 }, { coldstart.horizon(p, { a }) })
    end)
end)
