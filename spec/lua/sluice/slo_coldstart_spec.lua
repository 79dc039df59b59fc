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
