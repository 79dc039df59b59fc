-- The Kubernetes HPA algorithm, checked against numbers worked by hand from the controller's
-- rules (reference §1). Arithmetic is in the comments; "m" is a milli-unit.
local hpa = require "sluice.hpa"
local hs = require "support.hpaspec"
local running, queue_spec, tick = hs.running, hs.queue_spec, hs.tick

describe("HPA reconcile", function()
  it("HPA proposes nothing when every metric fails, and records nothing", function()
    local st = {}
    local spec = queue_spec(nil, 10)
    local n, info = tick(st, spec, 0, 3)
    assert.are.equal(3, n)
    assert.is_not_nil(info.error)
    assert.are.equal(1, #st.recommendations)   -- only the seed of the first sight
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
