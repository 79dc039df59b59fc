local params = require "sluice.params"

describe("params", function()
  it("resolve starts from the defaults and lets every given value win, false included", function()
    local defaults = { a = 1, b = true, c = "x" }
    local p = params.resolve(defaults, { a = 2, b = false })
    assert.are.same({ a = 2, b = false, c = "x" }, p)
  end)

  it("resolve returns a new table and leaves the defaults as they were", function()
    local defaults = { a = 1 }
    local p = params.resolve(defaults, nil)
    assert.are.same({ a = 1 }, p)
    p.a = 5
    assert.are.equal(1, defaults.a)
    assert.are_not.equal(defaults, params.resolve(defaults, {}))
  end)

  it("resolve does not filter: an unknown given key is carried (unknown reports it)", function()
    assert.are.same({ a = 1, z = 9 }, params.resolve({ a = 1 }, { z = 9 }))
  end)

  it("unknown names a given key the defaults do not have, and is nil when all are known",
    function()
      local defaults = { kv = 0.8, retention = 600 }
      assert.is_nil(params.unknown(defaults, { kv = 0.5 }))
      assert.is_nil(params.unknown(defaults, nil))
      assert.are.equal("unknown parameter kv_threshold",
        params.unknown(defaults, { kv = 0.5, kv_threshold = 0.7 }))
    end)

  it("unknown counts a default of false as known", function()
    assert.is_nil(params.unknown({ limiter = false }, { limiter = true }))
  end)
end)
