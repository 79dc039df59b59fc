-- The controller's number semantics (Go): int32 of a float64, int64 division, milli-units.
local int = require "sluice.hpa_int"

describe("hpa_int", function()
  it("int32 truncates toward zero, as Go's int32(x) does", function()
    assert.are.equal(2, int.int32(2.9))
    assert.are.equal(-2, int.int32(-2.9))
    assert.are.equal(0, int.int32(-0.5))
  end)

  it("int32 caps at both ends of int32 and reads NaN as 0, so the result is always defined",
    function()
      assert.are.equal(2147483647, int.int32(1e12))
      assert.are.equal(-2147483648, int.int32(-1e12))
      assert.are.equal(int.MAX_INT32, int.int32(math.huge))
      assert.are.equal(0, int.int32(0 / 0))
    end)

  it("ceil32 rounds up before converting (math.Ceil then int32)", function()
    assert.are.equal(56, int.ceil32(50 * 1.1))    -- 55.000000000000007 in float64
    assert.are.equal(-2, int.ceil32(-2.5))
    assert.are.equal(3, int.ceil32(3))
  end)

  it("idiv truncates toward zero, as int64 division does", function()
    assert.are.equal(3, int.idiv(7, 2))
    assert.are.equal(-3, int.idiv(-7, 2))
    assert.are.equal(0, int.idiv(1, 3))
  end)

  it("milli rounds to the nearest milli-unit, so float noise cannot cross a boundary", function()
    assert.are.equal(300, int.milli(0.1 * 3))      -- 0.30000000000000004
    assert.are.equal(108000, int.milli(108))
    assert.are.equal(1, int.milli(0.0005))
    assert.are.equal(0, int.milli(0.0004))
  end)
end)
