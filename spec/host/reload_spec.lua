-- Hot reload through the real file watcher: a policy file rewritten five times (good, syntax
-- error, good, infinite loop, good). After each write the spec waits for the host's report
-- (generously: it asserts what happened, not how fast) and checks which version decides.
local support = require "support.hosttest"

local function version(n, extra)
  return string.format([[
return {
  name = "v%d",
  decide = function(view, params, state)
    state.ticks = (state.ticks or 0) + 1
    %s
    return { ["llm/a"] = { replicas = %d, reason = "v%d after " .. state.ticks .. " ticks" } }
  end,
}]], n, extra or "", n + 1, n)
end

local function reason_of(h)
  return support.by_variant(h:tick())["llm/a"].reason
end

local function rewrite(h, dir, text)
  h:events()  -- forget earlier reports
  support.write(dir .. "/policies/hostile.lua", text)
  assert.is_true(h:wait_event(20), "the watcher reported nothing within 20 s")
  return h:events()
end

local function kinds(events)
  local k = {}
  for _, e in ipairs(events) do k[#k + 1] = e.kind end
  return table.concat(k, ",")
end

describe("hot reload", function()
  it("keeps the last good version through a syntax error and an infinite loop", function()
    local h, err, dir = support.host{ policy = version(1) }
    assert(h, err)
    assert.matches("^v1 after 1 ticks", reason_of(h))
    assert.matches("^v1 after 2 ticks", reason_of(h))

    local ev = rewrite(h, dir, "return { name = 'broken', decide = function( }")
    assert.are.equal("rejected", kinds(ev))
    assert.matches("hostile%.lua:1:", ev[1].message)
    assert.matches("^v1 after 3 ticks", reason_of(h), "the old version keeps deciding")

    ev = rewrite(h, dir, version(3))
    assert.are.equal("reloaded", kinds(ev))
    assert.matches("^v3 after 4 ticks", reason_of(h), "swapped at the tick boundary, state carried over")

    ev = rewrite(h, dir, version(4, "while true do end"))
    assert.are.equal("rejected", kinds(ev))
    assert.matches("dry run", ev[1].message)
    assert.matches("budget", ev[1].message)
    assert.matches("^v3 after 5 ticks", reason_of(h))

    ev = rewrite(h, dir, version(5))
    assert.are.equal("reloaded", kinds(ev))
    assert.matches("^v5 after 6 ticks", reason_of(h))
    h:close()
  end)

  it("follows a ConfigMap volume's ..data symlink swap", function()
    local dir = support.tmpdir()
    local h, err
    -- Lay the policy directory out as the kubelet does: files are symlinks through ..data.
    os.execute(string.format([[
      set -e; cd '%s'; mkdir -p cm/..2026_01 ; ln -s ..2026_01 cm/..data
      ln -s ..data/hostile.lua cm/hostile.lua; ln -s ..data/good.lua cm/good.lua]], dir))
    support.write(dir .. "/cm/..2026_01/hostile.lua", version(1))
    support.write(dir .. "/cm/..2026_01/good.lua", support.good_policy)
    support.write(dir .. "/views.yaml", support.fixture)
    support.write(dir .. "/sluice.yaml", [[
source: {fixture: views.yaml}
policy_dir: cm
variants:
  - {id: llm/a, model: m, min: 1, max: 10}
  - {id: llm/b, model: m, min: 1, max: 10}
policies:
  - {file: hostile.lua, variants: [llm/a]}
  - {file: good.lua, variants: [llm/b]}
]])
    h, err = require("sluice.host").new{ config = dir .. "/sluice.yaml", log_level = "error" }
    assert(h, err)
    assert.matches("^v1", reason_of(h))
    -- The kubelet writes a new timestamped directory, then renames a new ..data link over the old.
    os.execute(string.format("set -e; cd '%s/cm'; mkdir ..2026_02", dir))
    support.write(dir .. "/cm/..2026_02/hostile.lua", version(7))
    support.write(dir .. "/cm/..2026_02/good.lua", support.good_policy)
    os.execute(string.format("set -e; cd '%s/cm'; ln -s ..2026_02 ..data_tmp; mv -T ..data_tmp ..data", dir))
    assert.is_true(h:wait_event(20))
    assert.are.equal("reloaded", kinds(h:events()))
    assert.matches("^v7", reason_of(h))
    h:close()
  end)

  it("restores the previous version, with its state, when the new one fails its first 3 ticks", function()
    local h, err, dir = support.host{ policy = version(1) }
    assert(h, err)
    reason_of(h)
    reason_of(h)  -- v1 has counted 2 ticks
    -- Passes its dry run (on the last view) but fails on every later tick.
    local t = h:time()
    support.write(dir .. "/policies/hostile.lua", version(2, string.format(
      "if view.time > %g then error('fails live') end", t)))
    assert.are.equal(1, h:check_files())
    assert.are.equal("reloaded", kinds(h:events()))
    for _ = 1, 3 do
      local o = support.by_variant(h:tick())["llm/a"]
      assert.is_true(o.held)
      assert.matches("fails live", o.reason)
    end
    local ev = h:events()
    assert.matches("restored", kinds(ev))
    assert.matches("^v1 after 3 ticks", reason_of(h), "v1 is back with the state it had")
    h:close()
  end)
end)
