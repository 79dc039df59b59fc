local w = require "sluice.window"

describe("sluice.window", function()
  it("ring keeps the last cap values, oldest first", function()
    local r = w.ring(3)
    for i = 1, 5 do w.push(r, i) end
    assert.are.same({ 3, 4, 5 }, w.list(r))
    assert.are.equal(5, w.last(r))
  end)

  it("quantile interpolates between order statistics", function()
    assert.are.equal(2.5, w.quantile({ 4, 1, 3, 2 }, 0.5))
    -- (n - 1) q + 1 = 3.85: 3 + 0.85 * (4 - 3)
    assert.are.near(3.85, w.quantile({ 1, 2, 3, 4 }, 0.95), 1e-12)
    assert.is_nil(w.quantile({}, 0.5))
  end)

  it("peak holds a value for its span, counted by bucket", function()
    local p = w.peak(10)
    w.peak_add(p, 5, 7)
    w.peak_add(p, 15, 3)
    assert.are.equal(7, w.peak_max(p, 15, 20))
    -- At t = 25 the span (5, 25] starts in bucket 0's successor: 7 has left.
    assert.are.equal(3, w.peak_max(p, 25, 20))
    assert.are.equal(1, #p.k)
  end)

  it("line ignores a burst covering a tenth of the series where least squares would not", function()
    local ts, ys = {}, {}
    for i = 1, 60 do ts[i], ys[i] = i, (i > 54) and 40 or 20 end
    local slope, icpt = w.line(ts, ys)
    assert.are.equal(0, slope)
    assert.are.equal(20, icpt)
  end)
end)
