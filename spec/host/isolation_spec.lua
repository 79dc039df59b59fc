-- Policy isolation: what a hostile or careless policy author can do to the host, and what
-- happens instead. Each case runs in the real pipeline on a fixture view: the bad policy's
-- variant (llm/a) holds at its current 3 replicas with a reason that says why, and the good
-- policy on llm/b still gets its 5, within the time bound plus a margin.
local support = require "support.hosttest"
local host = require "sluice.host"

-- The bound these specs run with, and the slack allowed on top of it. The slack is generous on
-- purpose (sanitizer builds, a loaded machine): the cases it guards against took seconds to
-- minutes per tick before the bound existed.
local LIMIT_S = 0.25
local MARGIN_S = 2.5

local function decide_with(body, prelude)
  return string.format([[
%s
return {
  name = "hostile",
  decide = function(view, params, state)
%s
    return {}
  end,
}]], prelude or "", body)
end

local function run(src, opts)
  opts = opts or {}
  local h, err, dir = support.host{ policy = src, time_limit = opts.time_limit or "250ms" }
  assert(h, err)
  if opts.capture then
    host.capture_log("info")
    host.take_log()
  end
  local t0 = host.monotonic()
  local outcomes = h:tick()
  local took = host.monotonic() - t0
  return support.by_variant(outcomes), took, h, dir
end

local function held(o, pattern)
  assert.is_true(o["llm/a"].held, "llm/a should be held")
  assert.are.equal(3, o["llm/a"].target)
  assert.matches(pattern, o["llm/a"].reason)
  assert.are.equal(5, o["llm/b"].target, "the good policy still decides")
  assert.is_true(o["llm/b"].actuated)
end

describe("a policy whose tables run code when read", function()
  it("an erroring __index on the policy table is refused at load, not a crash", function()
    local h, err = support.host{ policy = [[
return setmetatable({ name = "x", decide = function() return {} end },
  { __index = function() error("boom") end })]] }
    assert.is_nil(h)
    assert.matches("hostile%.lua: the policy table must not have a metatable", err)
  end)

  it("a looping __index on the policy table is refused at load, not a hang", function()
    local h, err = support.host{ policy = [[
return setmetatable({ name = "x", decide = function() return {} end },
  { __index = function() while true do end end })]] }
    assert.is_nil(h)
    assert.matches("must not have a metatable", err)
  end)

  it("params with a metatable are refused", function()
    local h, err = support.host{ policy = [[
return { name = "x", params = setmetatable({}, { __index = function() error("p") end }),
  decide = function() return {} end }]] }
    assert.is_nil(h)
    assert.matches("'params' must not have a metatable", err)
  end)

  it("a decision table with an erroring __index holds the variant", function()
    local o = run(decide_with([[
    do return setmetatable({}, { __index = function() error("boom") end }) end]]))
    held(o, "the returned table has a metatable")
  end)

  it("a decision entry with a looping __index holds the variant", function()
    local o = run(decide_with([[
    do return { ["llm/a"] = setmetatable({}, { __index = function() while true do end end }) } end]]))
    held(o, "llm/a: the table has a metatable")
  end)
end)

describe("a policy that burns time inside C functions", function()
  local cases = {
    { "compares 64 KiB strings in a loop", [[
    local a, b = string.rep("a", 65536), string.rep("a", 65535) .. "b"
    local n = 0
    for _ = 1, 1e9 do if a < b then n = n + 1 end end]] },
    { "sorts a million numbers again and again", [[
    local t = {}
    for i = 1, 1000000 do t[i] = (i * 7919) % 1000003 end
    for _ = 1, 1000 do table.sort(t) end]] },
    { "calls table.maxn on 2M entries in a loop", [[
    local t = {}
    for i = 1, 2000000 do t[i] = i end
    local s = 0
    for _ = 1, 1e6 do s = s + table.maxn(t) end]] },
    { "collects garbage over 400K live tables in a loop", [[
    local keep = {}
    for i = 1, 400000 do keep[i] = { i } end
    for _ = 1, 1e6 do collectgarbage("collect") end]] },
    { "unpacks 7,000 values in a loop", [[
    local t = {}
    for i = 1, 7000 do t[i] = i end
    local s = 0
    for _ = 1, 1e7 do s = s + select("#", unpack(t)) end]] },
    { "calls sluice.alloc.solve in a loop", [[
    local alloc = require "sluice.alloc"
    local groups, variants = {}, {}
    for g = 1, 40 do groups[g] = { name = "g" .. g, demand = 100 + g, priority = g % 3 } end
    for v = 1, 120 do
      variants[v] = { id = "v" .. v, group = "g" .. (v % 40 + 1), gpus = 1, max = 64,
        accelerator = v % 2 == 0 and "H100" or "A100", max_rate = 5 + v % 7, cost = 1 + v % 5 }
    end
    for _ = 1, 1e6 do alloc.solve{ groups = groups, variants = variants,
      inventory = { H100 = 300, A100 = 300 } } end]] },
  }
  for _, c in ipairs(cases) do
    it(c[1] .. " is stopped at the time limit and its variant holds", function()
      local o, took, h = run(decide_with(c[2]))
      held(o, "time limit exceeded %(250 ms per call%)")
      assert.is_true(took < LIMIT_S + MARGIN_S,
        string.format("the tick took %.2f s with a %.2f s bound", took, LIMIT_S))
      h:close()
    end)
  end

  it("a sort with a well-behaved comparator still sorts like table.sort", function()
    local o = run(decide_with([[
    local t = {}
    for i = 1, 200 do t[i] = { k = (i * 37) % 11, i = i } end
    table.sort(t, function(a, b) return a.k < b.k end)
    local keys = {}
    for i = 1, #t do keys[i] = t[i].k end
    for i = 2, #t do assert(keys[i - 1] <= keys[i], "not sorted") end
    do return { ["llm/a"] = { replicas = 4, reason = "sorted " .. #t } } end]]))
    assert.are.equal(4, o["llm/a"].target)
    assert.are.equal("sorted 200", o["llm/a"].reason)
  end)

  it("a reload whose dry run burns time in C is rejected within the bound", function()
    local h, err, dir = support.host{ policy = support.good_policy:gsub("good", "first"),
                                      time_limit = "250ms" }
    assert(h, err)
    h:tick()
    h:events()
    support.write(dir .. "/policies/hostile.lua", decide_with([[
    local t = {}
    for i = 1, 1000000 do t[i] = -i end
    for _ = 1, 1000 do table.sort(t) end]]))
    local t0 = host.monotonic()
    h:check_files()
    local took = host.monotonic() - t0
    local ev = h:events()
    assert.are.equal("rejected", ev[1].kind)
    assert.matches("dry run", ev[1].message)
    assert.matches("time limit exceeded", ev[1].message)
    assert.is_true(took < LIMIT_S + MARGIN_S, string.format("the dry run took %.2f s", took))
    h:close()
  end)
end)

describe("a policy file replaced by something that is not a file", function()
  it("a FIFO is reported at once and the running version keeps deciding", function()
    local h, err, dir = support.host{ policy = [[
return { name = "first", decide = function()
  return { ["llm/a"] = { replicas = 4, reason = "first" } } end }]] }
    assert(h, err)
    assert.are.equal(4, support.by_variant(h:tick())["llm/a"].target)
    h:events()
    os.remove(dir .. "/policies/hostile.lua")
    assert(os.execute("mkfifo '" .. dir .. "/policies/hostile.lua'") == 0)
    h:check_files()  -- would block forever in open() if the FIFO were opened for reading
    local ev = h:events()
    assert.are.equal("rejected", ev[1].kind)
    assert.matches("is a FIFO, not a regular file; version 1 keeps running", ev[1].message)
    assert.are.equal("first", support.by_variant(h:tick())["llm/a"].reason)
    h:check_files()
    assert.are.equal(0, #h:events(), "the same problem is reported once")
    h:close()
  end)

  it("a file over the size cap is reported, not ignored", function()
    local h, err, dir = support.host{ policy = support.good_policy:gsub("good", "first") }
    assert(h, err)
    h:tick()
    h:events()
    support.write(dir .. "/policies/hostile.lua", "return {}\n--" .. string.rep("x", 5 * 2^20))
    h:check_files()
    local ev = h:events()
    assert.are.equal("rejected", ev[1].kind)
    assert.matches("larger than the 4 MiB allowed", ev[1].message)
    h:close()
  end)
end)

describe("state that is not plain data", function()
  it("fails the tick that put it there, and does not block the next version", function()
    local h, err, dir = support.host{ policy = [[
return { name = "leaky", decide = function(view, params, state)
  state.cb = function() end
  return { ["llm/a"] = { replicas = 4, reason = "leaky" } } end }]] }
    assert(h, err)
    local o = support.by_variant(h:tick())
    assert.is_true(o["llm/a"].held)
    assert.are.equal(3, o["llm/a"].target)
    assert.matches("state%.cb: function values cannot be kept in state", o["llm/a"].reason)
    h:events()
    support.write(dir .. "/policies/hostile.lua", [[
return { name = "fixed", decide = function(view, params, state)
  state.n = (state.n or 0) + 1
  return { ["llm/a"] = { replicas = 4, reason = "fixed " .. state.n } } end }]])
    h:check_files()
    local ev = h:events()
    assert.are.equal("reloaded", ev[1].kind)
    o = support.by_variant(h:tick())
    assert.are.equal(4, o["llm/a"].target)
    -- A fresh state: the dry run decided on a scratch copy, so this is the first counted tick.
    assert.are.equal("fixed 1", o["llm/a"].reason)
    h:close()
  end)
end)

describe("a policy that writes too much", function()
  it("has print and sluice.log capped per tick with one note of what was suppressed", function()
    local o = run(decide_with([[
    local log = require "sluice.log"
    for i = 1, 20000 do print("line", i) log.info("log %d", i) end]]), { capture = true })
    local lines = host.take_log()
    host.capture_log(false)
    local printed, note = 0, nil
    for _, l in ipairs(lines) do
      if l:find("line\t", 1, true) or l:find(": log ", 1, true) then printed = printed + 1 end
      if l:find("lines of output suppressed", 1, true) then note = l end
    end
    assert.are.equal(100, printed)
    assert.is_not_nil(note)
    assert.matches("39900 lines of output suppressed in one call", note)
    assert.are.equal(5, o["llm/b"].target)
  end)

  it("cannot put raw newlines or escape sequences into reasons or the log", function()
    local o = run(decide_with([[
    print("a\nsluice error: forged\27[2J")
    do return { ["llm/a"] = { replicas = 4, reason = "up\nsluice error: forged\27[31m" } } end]]),
      { capture = true })
    local lines = host.take_log()
    host.capture_log(false)
    assert.are.equal("up\\nsluice error: forged\\x1b[31m", o["llm/a"].reason)
    local joined = table.concat(lines, "\n")
    assert.is_nil(joined:find("\27", 1, true), "no raw escape reached the log")
    assert.truthy(joined:find("a\\nsluice error: forged\\x1b[2J", 1, true))
  end)

  it("cannot put escape sequences into the log through an error message", function()
    local o = run(decide_with([[error("bad\27[2Jthing")]]), { capture = true })
    local lines = host.take_log()
    host.capture_log(false)
    held(o, "bad\\x1b%[2Jthing")
    assert.is_nil(table.concat(lines, "\n"):find("\27", 1, true))
  end)
end)
