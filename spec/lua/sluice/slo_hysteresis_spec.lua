local ss = require "support.slospec"
local slo = require "sluice.slo"
local PER, params, view_at = ss.PER, ss.params, ss.view_at
local hysteresis = require "sluice.slo_hysteresis"

describe("sluice.slo hysteresis and anticipated supply", function()
  it("counts replicas on their way: saturated Ready pods add nothing the starting ones cover",
    function()
      -- 3.8 replicas' worth needs 4; 4 are set, 2 of them still loading. The 2 Ready ones
      -- are full (KV 0.95), which alone would ask for ceil(2 x 0.95 / 0.8) = 3 - covered.
      local d = slo.decide(view_at(0, 3.8 * PER, {
        replicas = { spec = 4, ready = 2, starting = 2 },
        signals = { input_tokens_mean = 1155, output_tokens_mean = 211, kv_usage = 0.95,
          running = 200, waiting = 0 } }), params{ up_delay = 0 }, {})
      assert.are.equal(4, d["llm/a"].replicas)
    end)

  it("while replicas start, a further scale-up must add at least up_step of the size",
    function()
      -- 20 set, 10 starting; 21 needed (20.6 replicas' worth). up_step 0.1 x 20 = 2: hold.
      local starting = { replicas = { spec = 20, ready = 10, starting = 10 } }
      local d = slo.decide(view_at(0, 20.6 * PER, starting), params{ up_delay = 0 }, {})
      assert.are.equal(20, d["llm/a"].replicas)
      assert.matches("10 starting or pending cover it %(a further step needs %+2%)",
        d["llm/a"].reason)
      -- 23 needed (22.4): +3 >= +2, up.
      d = slo.decide(view_at(0, 22.4 * PER, starting), params{ up_delay = 0 }, {})
      assert.are.equal(23, d["llm/a"].replicas)
    end)

  it("scales up only once a higher need has held for up_delay, to its peak over that time",
    function()
      -- fast_window 1: the level now is this tick's rate. 3 replicas set.
      local p, state = params{ up_delay = 5, fast_window = 1 }, {}
      local rates = { 2.7, 3.1, 3.8, 4.5, 4.1, 3.6, 3.6 }   -- need 3, 4, 4, 5, 5, 4, 4
      local got = {}
      for t = 0, 6 do
        local three = { replicas = { spec = 3, ready = 3 } }
        got[#got + 1] = slo.decide(view_at(t, rates[t + 1] * PER, three),
          p, state)["llm/a"].replicas
      end
      -- Need first rose at t = 1; 5 s later, up to the peak need seen since: 5.
      assert.are.same({ 3, 3, 3, 3, 3, 3, 5 }, got)
    end)

  it("scales up at once when the need is twice the replicas set or more", function()
    -- 2 set; 4.5 replicas' worth needs 5: 2.5x, no waiting for up_delay.
    local d = slo.decide(view_at(0, 4.5 * PER), params{ up_delay = 10 }, {})
    assert.are.equal(5, d["llm/a"].replicas)
    assert.matches("up at once %(2.5× the 2 set%)", d["llm/a"].reason)
  end)

  it("scales down only after down_window, and only to the peak need over it", function()
    local p, state = params{ down_window = 60, up_delay = 0, bucket = 10, fast_window = 1 }, {}
    local spec, last = 2, nil
    local function tick(t, rate)
      last = slo.decide(view_at(t, rate, { replicas = { spec = spec, ready = spec } }), p, state)
      spec = last["llm/a"].replicas
    end
    for t = 0, 59 do tick(t, 1.8 * PER) end
    tick(60, 4.5 * PER)                        -- one second needing 5: up at once
    assert.are.equal(5, spec)
    for t = 61, 119 do tick(t, 1.8 * PER) end
    -- The peak need is kept per 10-s bucket: the one of [60, 70) leaves the 60-s window when
    -- the window starts past it, at t = 120.
    assert.are.equal(5, spec)
    assert.matches("hold 5, the peak need over 60 s", last["llm/a"].reason)
    tick(120, 1.8 * PER)
    assert.are.equal(2, spec)
    assert.matches("down to 2, the peak need over 60 s", last["llm/a"].reason)
  end)
end)

describe("sluice.slo hysteresis, settle on its own", function()
  local w = require "sluice.window"
  local P = { up_delay = 10, up_step = 0.1, panic = 2, down_window = 60 }
  local function variant(spec, starting)
    return { replicas = { spec = spec, ready = spec - (starting or 0), starting = starting or 0,
      pending = 0 } }
  end
  local function fresh(first) return { first = first or 0, peak = w.peak(10) } end

  it("goes up from zero at once", function()
    local n, why = hysteresis.settle({ time = 100 }, P, fresh(), variant(0), 3, "need 3")
    assert.are.same({ 3, "need 3; from zero at once" }, { n, why })
  end)

  it("waits up_delay for a higher need, then goes to the peak need seen meanwhile", function()
    local vs = fresh()
    local function at(t, want)
      return (hysteresis.settle({ time = t }, P, vs, variant(4), want, ""))
    end
    assert.are.equal(4, at(100, 5))
    assert.are.equal(4, at(105, 7))
    assert.are.equal(7, at(110, 6))
    -- A need that falls back to what is set resets the wait.
    assert.are.equal(4, at(120, 5))
    assert.are.equal(4, at(125, 4))
    assert.are.equal(4, at(131, 5))
  end)

  it("goes up at once when the need is panic times the replicas set", function()
    local n = hysteresis.settle({ time = 100 }, P, fresh(), variant(4), 8, "")
    assert.are.equal(8, n)
  end)

  it("counts replicas starting as capacity: a further step must add up_step of the size", function()
    -- 20 set, 5 starting: a step needs ceil(0.1 x 20) = 2. 21 is covered, 22 goes (after up_delay).
    local n, why = hysteresis.settle({ time = 100 }, P, fresh(), variant(20, 5), 21, "")
    assert.are.equal(20, n)
    assert.matches("5 starting or pending cover it %(a further step needs %+2%)", why)
    local vs = fresh()
    hysteresis.settle({ time = 100 }, P, vs, variant(20, 5), 22, "")
    assert.are.equal(22, (hysteresis.settle({ time = 110 }, P, vs, variant(20, 5), 22, "")))
  end)

  it("holds a scale-down for down_window after the variant was first seen", function()
    local n, why = hysteresis.settle({ time = 59 }, P, fresh(0), variant(4), 2, "")
    assert.are.equal(4, n)
    assert.matches("watching for 59 of 60 s", why)
  end)

  it("scales down only to the peak need over down_window", function()
    local vs = fresh(0)
    hysteresis.settle({ time = 100 }, P, vs, variant(4), 3, "")
    local n = hysteresis.settle({ time = 130 }, P, vs, variant(4), 1, "")
    assert.are.equal(3, n)
    -- The need of 3 (bucket [100, 110)) has left the window (120, 180] by t=180.
    n = hysteresis.settle({ time = 180 }, P, vs, variant(3), 1, "")
    assert.are.equal(1, n)
  end)
end)
