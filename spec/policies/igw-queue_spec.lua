local cluster = require "support.cluster"
local igw = require "sluice.igw"

local policy = dofile("policies/igw-queue.lua")

describe("policies/igw-queue.lua", function()
  it("is the igw algorithm with its defaults, on 1-s direct scrapes, waking from zero", function()
    assert.are.equal("igw-queue", policy.name)
    assert.are.same(igw.defaults, policy.params)
    assert.is_nil(policy.validate(policy.params))
    assert.are.equal(1, policy.period)
    assert.are.same({ scrape_interval = 1, lag = 0, window = 30 }, policy.signals)
    assert.is_true(policy.scale_from_zero)
  end)

  it("wakes a model at zero on its first queued request, serves it, and returns to zero after "
    .. "the down window",
    function()
      -- Nothing until t = 100, then 60 req/s (3 replicas at 25.4 req/s each) until t = 1000.
      local function rate(t) return (t >= 100 and t < 1000) and 60 or 0 end
      local c = cluster.new{ rate = rate, replicas = 0, cold_start = function() return 110 end,
        variant = { profile = "llama-3.1-8b/h100" } }
      local state = {}
      c:run(policy, policy.params, state, 100)
      assert.are.same({}, c.events)
      c:run(policy, policy.params, state, 102)
      assert.are.equal(100, c.events[1].t)     -- the tick the first request is queued
      assert.are.equal(0, c.events[1].from)
      c:run(policy, policy.params, state, 1000)
      assert.is_true(c:ready() >= c:need(999), "ready " .. c:ready())
      -- Idle from t = 1000: held through the 300-s window, then down to zero.
      c:run(policy, policy.params, state, 1000 + policy.params.down_window - 20)
      assert.is_true(c.spec > 0)
      c:run(policy, policy.params, state, 1000 + policy.params.down_window + 30)
      assert.are.equal(0, c.spec)
    end)
end)
