-- Several policies voting on one variant, declared in sluice.yaml and combined by the host:
-- the largest scale-up wins; a scale-down needs every voter; a failing voter holds the variant.
local support = require "support.hosttest"

local function voter(name, body)
  return string.format([[
return { name = %q, decide = function(view, params, state)
  %s
end }]], name, body)
end

local function host_with(a_src, b_src)
  local dir = support.tmpdir()
  os.execute("mkdir -p '" .. dir .. "/policies'")
  support.write(dir .. "/policies/a.lua", a_src)
  support.write(dir .. "/policies/b.lua", b_src)
  support.write(dir .. "/views.yaml", support.fixture)
  support.write(dir .. "/sluice.yaml", [[
source: {fixture: views.yaml}
policy_dir: policies
variants:
  - {id: llm/a, model: m, min: 1, max: 10}
  - {id: llm/b, model: m, min: 1, max: 10}
policies:
  - {file: a.lua, variants: [llm/a]}
  - {file: b.lua, variants: [llm/a]}
]])
  local h, err = require("sluice.host").new{ config = dir .. "/sluice.yaml", log_level = "error" }
  assert(h, err)
  local o = support.by_variant(h:tick())["llm/a"]
  h:close()
  return o
end

local function wants(n, why)
  return string.format('return { ["llm/a"] = { replicas = %d, reason = %q } }', n, why)
end

describe("voting policies", function()
  it("take the largest scale-up", function()
    local o = host_with(voter("a", wants(5, "a: 5")), voter("b", wants(7, "b: 7")))
    assert.are.equal(7, o.target)
    assert.are.equal("b: 7", o.reason)
  end)

  it("scale down only when every voter asks, by the smallest step", function()
    local o = host_with(voter("a", wants(2, "a: 2")), voter("b", wants(1, "b: 1")))
    assert.are.equal(2, o.target)   -- current is 3: both want less; the smaller step is to 2
  end)

  it("do not scale down when one voter holds", function()
    local o = host_with(voter("a", wants(1, "a: 1")), voter("b", wants(3, "b: holds at 3")))
    assert.are.equal(3, o.target)
    assert.matches("scale%-down to 1 not unanimous %(b holds%)", o.reason)
  end)

  it("do not scale down when one voter has no opinion", function()
    local o = host_with(voter("a", wants(1, "a: 1")), voter("b", "return {}"))
    assert.are.equal(3, o.target)
    assert.matches("not unanimous", o.reason)
  end)

  it("hold when one voter fails, whatever the other says", function()
    local o = host_with(voter("a", wants(9, "a: 9")), voter("b", 'error("b is broken")'))
    assert.are.equal(3, o.target)
    assert.is_true(o.held)
    assert.matches("policy failed: .*b%.lua:2: b is broken", o.reason)
  end)
end)
