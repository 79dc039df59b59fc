local forecast = require "sluice.forecast"

-- Feeds fc one observation every `step` seconds in (from, to], rate and tokens from functions of t.
local function feed(fc, from, to, step, rate, tokens)
  local t = from + step
  while t <= to do
    local i, o
    if tokens then i, o = tokens(t) end
    forecast.observe(fc, t, rate(t), i, o)
    t = t + step
  end
end

local function const(x) return function() return x end end

describe("sluice.forecast", function()
  it("the level now is the mean of the last fast_window seconds", function()
    local fc = forecast.new{ fast_window = 5 }
    feed(fc, 0, 10, 1, function(t) return t end)
    -- Observations at 6..10 are inside (5, 10].
    assert.are.equal(8, forecast.now(fc, 10))
  end)

  it("a steady rate forecasts itself with burst factor 1", function()
    local fc = forecast.new{}
    feed(fc, 0, 900, 1, const(50), function() return 1000, 200 end)
    local f = forecast.predict(fc, 900, 120)
    assert.are.equal(50, f.rate)
    assert.are.equal(1, f.burst)
    assert.are.equal(0, f.slope)
    assert.are.equal(1000, f.in_tokens)
    assert.are.equal(200, f.out_tokens)
  end)

  it("a linear ramp is extrapolated to the end of the horizon", function()
    local fc = forecast.new{}
    local function r(t) return 10 + 0.1 * t end
    feed(fc, 0, 1000, 1, r)
    -- Bucket k holds ticks 10k..10k+9 (mean 10 + 0.1 (10k + 4.5)) and sits at its centre
    -- 10k + 5, so the line is 10 + 0.1 (t - 0.5). The last bucket closed at t = 1000.
    local f = forecast.predict(fc, 1000, 120)
    assert.are.near(0.1, f.slope, 1e-9)
    -- Burst factor over neighbourhoods of 6 buckets either side: only the newest buckets, whose
    -- neighbourhood is cut short, stand above its median (by 1 per bucket of lag). The newest
    -- four: 109.45/106.45, 108.45/105.95, 107.45/105.45, 106.45/104.95. The 0.95 quantile of the
    -- 60 ratios sits at 57.05: s57 + 0.05 (s58 - s57).
    local s57, s58 = 106.45 / 104.95, 107.45 / 105.45
    assert.are.near(s57 + 0.05 * (s58 - s57), f.burst, 1e-9)
    assert.are.near((10 + 0.1 * (1120 - 0.5)) * f.burst, f.trend, 1e-6)
    assert.are.equal("trend", f.source)
    assert.are.near(f.trend, f.rate, 1e-12)
  end)

  it("a falling rate is not extrapolated below the level now", function()
    local fc = forecast.new{}
    feed(fc, 0, 1000, 1, function(t) return 200 - 0.1 * t end)
    local f = forecast.predict(fc, 1000, 300)
    assert.are.near(-0.1, f.slope, 1e-9)
    assert.are.near(200 - 0.1 * (1000 - 0.5), f.level, 1e-6)
    -- Buckets i = 1..60 hold 160.55 - i. With 15 neighbours either side, the oldest ones'
    -- neighbourhoods are cut short and their medians lag below them: bucket 4's median is at
    -- 10 (150.55), bucket 3's at 9.5 (151.05). Quantile 0.95 at 57.05 between those two.
    local s57, s58 = 156.55 / 150.55, 157.55 / 151.05
    assert.are.near(s57 + 0.05 * (s58 - s57), f.burst, 1e-9)
    assert.are.near(f.level * f.burst, f.trend, 1e-6)
  end)

  it("a short burst becomes a burst factor, not a trend", function()
    local fc = forecast.new{}
    -- 20 req/s, then 40 for the last 60 s of the 600-s trend window.
    feed(fc, 0, 1200, 1, function(t) return t > 1140 and 40 or 20 end)
    local f = forecast.predict(fc, 1200, 300)
    assert.are.equal(0, f.slope)
    assert.are.equal(20, f.level)
    -- 6 of the 60 buckets are at twice the line: the 0.95 quantile of the ratios is 2.
    assert.are.equal(2, f.burst)
    assert.are.equal(40, f.rate)
  end)

  it("a step is a level change: neither a burst nor, once the recent half is flat, a trend",
    function()
    local fc = forecast.new{}
    -- 20 req/s, 40 from t = 900: the step sits in the middle of the window [600, 1200).
    feed(fc, 0, 1200, 1, function(t) return t > 900 and 40 or 20 end)
    local f = forecast.predict(fc, 1200, 120)
    -- Every pair half a window apart straddles the step (long slope 20/300 per s) but the recent
    -- half is flat: no slope. Each bucket's neighbourhood (6 either side) is mostly on its own
    -- side of the step: burst 1. The level now carries the forecast.
    assert.are.equal(0, f.slope)
    assert.are.equal(1, f.burst)
    assert.are.equal(40, f.rate)
    assert.are.equal("now", f.source)
  end)

  it("bursts that start within the horizon show in the upper forecast at once, and leave it a "
    .. "horizon after they end", function()
    -- 480 s at 10 req/s, then 120 s of 10-s buckets alternating 40 and 10, ending on a 10.
    local function rate(t)
      if t <= 480 or t > 600 then return 10 end
      return (math.floor((t - 1) / 10) % 2 == 0) and 40 or 10
    end
    local fc = forecast.new{}
    feed(fc, 0, 600, 1, rate)
    local f = forecast.predict(fc, 600, 120)
    -- The line is still at 10 and the burst factor, an upper quantile over the whole window,
    -- has barely moved; the last horizon's buckets rose 30 above the line at their 95th
    -- percentile.
    assert.are.equal("upper", f.source)
    assert.is_true(f.upper > 35 and f.upper <= 40, "upper " .. f.upper)
    assert.is_true(f.trend < 20, "trend " .. f.trend)
    -- Off, the forecast is the trend's.
    local off = forecast.new{ upper = false }
    feed(off, 0, 600, 1, rate)
    local g = forecast.predict(off, 600, 120)
    assert.is_nil(g.upper)
    assert.are.equal(f.trend, g.rate)
    -- A horizon and a bucket after the last burst, the upper forecast is back at the line.
    feed(fc, 600, 740, 1, rate)
    f = forecast.predict(fc, 740, 120)
    assert.is_true(math.abs(f.upper - 10) < 0.5, "upper " .. f.upper)
  end)

  it("token mix is the mean over the window's requests", function()
    local fc = forecast.new{}
    -- Buckets 0..29: 5 req/s of 1000-token prompts; 30..59: 15 req/s of 2000-token ones.
    feed(fc, -1, 599, 1, function(t) return t < 300 and 5 or 15 end,
      function(t) return t < 300 and 1000 or 2000, 100 end)
    forecast.observe(fc, 600, 5, 0, 0)   -- closes bucket 59
    local f = forecast.predict(fc, 600, 60)
    -- (300 s x 5 x 1000 + 300 s x 15 x 2000) / (300 x 5 + 300 x 15) = 1750
    assert.are.near(1750, f.in_tokens, 1e-9)
    assert.are.equal(100, f.out_tokens)
  end)

  it("no traffic forecasts zero", function()
    local fc = forecast.new{}
    feed(fc, 0, 700, 1, const(0))
    local f = forecast.predict(fc, 700, 120)
    assert.are.equal(0, f.rate)
    assert.is_nil(f.in_tokens)
  end)

  describe("daily profile", function()
    -- 10 req/s at night; 08:00-08:10 a straight ramp to 100; 100 until 18:00; back to 10 by 19:00.
    local function diurnal(t)
      local h = (t % 86400) / 3600
      if h < 8 then return 10 end
      if h < 8 + 1 / 6 then return 10 + 90 * (h - 8) * 6 end
      if h < 18 then return 100 end
      if h < 19 then return 100 - 90 * (h - 18) end
      return 10
    end

    it("is used ahead of a ramp once it has predicted better than persistence", function()
      local fc = forecast.new{}
      feed(fc, -5, 2 * 86400 + 8 * 3600 - 180, 5, diurnal)
      assert.is_true(forecast.season_on(fc))
      local t = 2 * 86400 + 8 * 3600 - 180     -- day 3, 07:57
      local f = forecast.predict(fc, t, 300)
      -- [07:57, 08:02] spans the 07:55 and 08:00 bins. The 08:00 bin's 10-s buckets (j = 0..29)
      -- hold the ticks at 10 j and 10 j + 5 s past 08:00, so they average 10 + 0.15 (10 j + 2.5)
      -- = 10.375 + 1.5 j; the 0.95 quantile is at 28.55: 10.375 + 1.5 * 27.55 = 51.7.
      -- Both days were the same, and today matches them (ratio 1).
      assert.are.equal(1, f.season_ratio)
      assert.are.near(51.7, f.season, 1e-9)
      assert.are.equal("season", f.source)
      assert.are.equal(10, f.trend)
    end)

    it("stays off when days do not repeat", function()
      local fc = forecast.new{}
      -- A level that changes every hour to a value that differs from day to day: yesterday says
      -- nothing about today, while the last bin is right except at the hour's turn.
      local function level(t)
        local h = math.floor(t / 3600)
        return 20 + (h * 7919 % 13) * 10
      end
      feed(fc, -5, 3 * 86400, 5, level)
      assert.is_true(fc.season.compared >= fc.opts.season_min)
      assert.is_false(forecast.season_on(fc))
      assert.is_nil(forecast.predict(fc, 3 * 86400, 300).season)
    end)

    it("keeps its memory bounded", function()
      local fc = forecast.new{}
      feed(fc, -5, 3 * 86400, 5, diurnal)
      assert.is_true(fc.hist.n <= 60)
      local bins = 0
      for _ in pairs(fc.season.mean) do bins = bins + 1 end
      assert.are.equal(288, bins)
      assert.is_true(fc.fast.n <= 64)
      assert.is_true(#fc.season.open.rates <= 30)
    end)
  end)

  it("validate names the field", function()
    assert.matches("upper", forecast.validate{ upper = 1 })
    assert.matches("quantile", forecast.validate{ quantile = 0.2 })
    assert.matches("season_bin", forecast.validate{ season_bin = 7 })
    assert.matches("unknown forecast option nope", forecast.validate{ nope = 1 })
    assert.is_nil(forecast.validate{})
    assert.has_error(function() forecast.new{ bucket = 0 } end)
  end)
end)
