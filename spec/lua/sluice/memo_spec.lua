local memo = require "sluice.memo"

describe("sluice.memo", function()
  it("snaps a value to the centre of its log-step bucket, within half a step", function()
    local step = math.log(1.02)
    for _, x in ipairs({ 1, 211, 1155, 1156, 8191.5 }) do
      local k, mid = memo.bucket(x, step)
      assert.is_true(math.abs(math.log(mid / x)) <= step / 2 + 1e-12, x .. " -> " .. mid)
      assert.are.equal(k, (memo.bucket(mid, step)))
    end
    -- Neighbours inside one bucket share it; a step apart they do not.
    assert.are.equal((memo.bucket(1000, step)), (memo.bucket(1000.5, step)))
    assert.are_not.equal((memo.bucket(1000, step)), (memo.bucket(1000 * 1.02, step)))
  end)

  it("returns what was put under a key until it is older than max_age", function()
    local m = memo.new(4)
    assert.is_nil(memo.get(m, "a", 0))
    memo.put(m, "a", 10, { rate = 3 })
    assert.are.equal(3, memo.get(m, "a", 10).rate)
    assert.are.equal(3, memo.get(m, "a", 69, 60).rate)
    assert.is_nil(memo.get(m, "a", 70, 60))
    assert.are.equal(3, memo.get(m, "a", 1e9).rate)     -- no max_age: any age
  end)

  it("stays bounded: a full memo starts over", function()
    local m = memo.new(3)
    for i = 1, 3 do memo.put(m, "k" .. i, 0, { i = i }) end
    memo.put(m, "k2", 1, { i = 20 })                    -- an update does not count twice
    assert.are.equal(3, m.n)
    memo.put(m, "k4", 2, { i = 4 })
    assert.are.equal(1, m.n)
    assert.is_nil(memo.get(m, "k1", 2))
    assert.are.equal(4, memo.get(m, "k4", 2).i)
  end)
end)
