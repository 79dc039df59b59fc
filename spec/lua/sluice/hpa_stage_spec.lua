local fv = require "support.fakeview"
local stage = require "sluice.hpa_stage"

-- One variant with `spec` replicas set, at time t.
local function view_at(t, spec, min)
  return fv.new{ time = t, period = 15, window = 60, variants = { {
    id = "llm/a", model = "m", accelerator = "H100", min = min or 1, max = 100,
    replicas = { spec = spec, ready = spec } } } }
end

describe("sluice.hpa_stage", function()
  it("passes a desired count through the chart's HPA: 10 pods per 15 s at most", function()
    local st, spec = {}, 4
    local got = {}
    for k = 0, 6 do
      local out = stage.apply(view_at(15 * k, spec), stage.CHART,
        { ["llm/a"] = { replicas = 30, reason = "wva says 30" } }, st)
      spec = out["llm/a"].replicas
      got[#got + 1] = spec
    end
    -- The first tick seeds the HPA's window with the current 4, and the scale-up window holds
    -- the lowest recommendation over 60 s: 4 until that seed leaves it (samples count strictly
    -- after the cutoff, so at t = 60); then +10 per 15 s up to 30.
    assert.are.same({ 4, 4, 4, 4, 14, 24, 30 }, got)
  end)

  it("scales down only once a lower desired count has held for the 60-s window", function()
    local st, spec = {}, 10
    local out
    for t = 0, 45, 15 do
      out = stage.apply(view_at(t, spec), stage.CHART,
        { ["llm/a"] = { replicas = 3, reason = "wva says 3" } }, st)
      assert.are.equal(10, out["llm/a"].replicas, "t=" .. t)
    end
    -- The initial 10 (recorded at t = 0) leaves the window at t = 60.
    out = stage.apply(view_at(60, spec), stage.CHART, {}, st)
    assert.are.equal(3, out["llm/a"].replicas)
    assert.matches("^wva says 3; HPA: ", out["llm/a"].reason)
  end)

  it("passes a count through the benchmark's HPA at once, at most 10 pods per 150 s", function()
    local st, spec = {}, 4
    local got = {}
    for k = 0, 10 do
      local out = stage.apply(view_at(15 * k, spec), stage.BENCHMARK,
        { ["llm/a"] = { replicas = 30, reason = "wva says 30" } }, st)
      spec = out["llm/a"].replicas
      got[#got + 1] = spec
    end
    -- No scale-up window: +10 at once, then nothing more until the first 10 leave the 150-s
    -- period (at t = 150).
    assert.are.same({ 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 24 }, got)
    -- Down: the 240-s window holds the highest recommendation of the last 4 minutes.
    local out
    for t = 165, 390, 15 do
      out = stage.apply(view_at(t, spec), stage.BENCHMARK,
        { ["llm/a"] = { replicas = 2, reason = "wva says 2" } }, st)
      spec = out["llm/a"].replicas
      if t < 150 + 240 then assert.is_true(spec >= 24, "t=" .. t) end
    end
  end)

  it("keeps the metric's last value while the algorithm has no opinion", function()
    local st = {}
    stage.apply(view_at(0, 2), stage.CHART, { ["llm/a"] = { replicas = 5, reason = "x" } }, st)
    local out = stage.apply(view_at(60, 2), stage.CHART, {}, st)
    assert.are.equal(5, out["llm/a"].replicas)
    -- A variant never given a count gets no decision.
    assert.is_nil(stage.apply(view_at(0, 2), stage.CHART, {}, {})["llm/a"])
  end)

  it("holds within the HPA's 10% tolerance", function()
    local st = {}
    local out = stage.apply(view_at(0, 20), stage.CHART,
      { ["llm/a"] = { replicas = 21, reason = "x" } }, st)
    out = stage.apply(view_at(75, 20), stage.CHART, {}, st)
    assert.are.equal(20, out["llm/a"].replicas)
  end)
end)
