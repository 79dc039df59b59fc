-- The policy sandbox, end to end through the host: each hostile policy runs in the real
-- pipeline on a fixture view, and the outcome is exact — its variant holds at its current
-- replicas and the recorded reason says why. Another policy on another variant keeps deciding.
local support = require "support.hosttest"

local function decide_with(body)
  return support.policy([[
return {
  name = "hostile",
  decide = function(view, params, state)
]] .. body .. [[

  end,
}]])
end

local function run(policy_src, ticks)
  local h = support.host{ policy = policy_src }
  local outcomes
  for _ = 1, ticks or 1 do outcomes = h:tick() end
  h:close()
  return support.by_variant(outcomes)
end

local function held(o, pattern)
  assert.is_true(o["llm/a"].held, "llm/a should be held")
  assert.are.equal(3, o["llm/a"].target)
  assert.matches(pattern, o["llm/a"].reason)
  -- the well-behaved policy on llm/b is unaffected
  assert.are.equal(5, o["llm/b"].target)
  assert.is_true(o["llm/b"].actuated)
end

describe("a policy that", function()
  it("loops forever is stopped by the instruction budget and its variant holds", function()
    held(run(decide_with("while true do end")), "instruction budget")
  end)

  it("loops inside pcall cannot swallow the budget error", function()
    held(run(decide_with([[
    for _ = 1, 1e9 do pcall(function() while true do end end) end
    return {}]])), "instruction budget")
  end)

  it("loops inside xpcall's handler cannot swallow it either", function()
    held(run(decide_with([[
    xpcall(function() while true do end end, function() while true do end end)
    return {}]])), "instruction budget")
  end)

  it("calls load finds it missing", function()
    held(run(decide_with([[load("while true do end")()]])), "load")
  end)

  it("tries to switch the JIT on finds no jit module", function()
    held(run(decide_with("jit.on()")), "jit")
  end)

  it("runs a catastrophic pattern is stopped by the budget", function()
    held(run(decide_with([[("a"):rep(1e4):find("(.-)(.-)(.-)(.-)b")]])), "budget")
  end)

  it("builds a huge string hits the memory cap", function()
    held(run(decide_with([[local s = string.rep("x", 2^31)]])), "memory")
  end)

  it("grows a table without bound hits the memory cap, even inside pcall", function()
    held(run(decide_with([[
    local t = {}
    for _ = 1, 1e9 do pcall(function() for i = 1, 1e6 do t[#t + 1] = {} end end) end]])), "memory")
  end)

  it("writes a global is refused", function()
    held(run(decide_with("leaked = 1")), "global 'leaked'")
  end)

  it("reaches for io is refused", function()
    held(run(decide_with([[io.open("/etc/passwd")]])), "io")
  end)

  it("reaches for os.execute is refused", function()
    held(run(decide_with([[os.execute("true")]])), "execute")
  end)

  it("reaches for debug is refused", function()
    held(run(decide_with("debug.getinfo(1)")), "debug")
  end)

  it("reaches for string.dump is refused", function()
    held(run(decide_with("string.dump(function() end)")), "dump")
  end)

  it("changes the string metatable is refused", function()
    held(run(decide_with([[getmetatable("").__index = function() return 1 end]])), "")
  end)

  it("returns garbage is a malformed decision", function()
    held(run(decide_with("return 42")), "malformed decision")
  end)

  it("returns a negative replica count is a malformed decision", function()
    held(run(decide_with([[return { ["llm/a"] = { replicas = -1 } }]])), "malformed decision")
  end)

  it("returns NaN replicas is a malformed decision", function()
    held(run(decide_with([[return { ["llm/a"] = { replicas = 0/0 } }]])), "malformed decision")
  end)

  it("decides for a variant it does not manage is a malformed decision", function()
    held(run(decide_with([[return { ["llm/b"] = { replicas = 9 } }]])), "not a variant this policy manages")
  end)

  it("errors in decide holds with the error's file and line", function()
    held(run(decide_with([[error("boom")]])), "hostile%.lua:4: boom")
  end)

  it("keeps working on the next tick after an overrun", function()
    local src = decide_with([[
    state.n = (state.n or 0) + 1
    if state.n == 1 then while true do end end
    return { ["llm/a"] = { replicas = 4, reason = "tick " .. state.n } }]])
    local o = run(src, 2)
    assert.are.equal(4, o["llm/a"].target)
  end)
end)

describe("a policy that errors in init", function()
  it("does not start, and the error names the file and line", function()
    local h, err = support.host{ policy = support.policy([[
return {
  name = "bad-init",
  init = function(params, state) error("cannot init") end,
  decide = function() return {} end,
}]]) }
    assert.is_nil(h)
    assert.matches("hostile%.lua:3: cannot init", err)
  end)
end)

describe("a policy file that is bytecode", function()
  it("is refused", function()
    local h, err = support.host{ policy = "\27LJ\2\0garbage" }
    assert.is_nil(h)
    assert.matches("bytecode is not accepted", err)
  end)
end)
