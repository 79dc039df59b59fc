-- The README's worked example policy is real: extracted from README.md and run through
-- `sluice check` (which loads it in the sandbox and runs a dry tick on the fixture view).
local function readme_policy()
  local f = assert(io.open("README.md"))
  local text = f:read("*a")
  f:close()
  local section = text:match("## Write your own policy(.-)\n## ")
  assert(section, "README.md has no 'Write your own policy' section")
  local code = section:match("```lua\n(.-)```")
  assert(code, "the section has no lua code block")
  return code
end

describe("the README's example policy", function()
  it("passes sluice check and decides on the fixture view", function()
    local build = os.getenv("SLUICE_BUILD") or "build"
    local path = os.tmpname() .. "-per-ten.lua"
    local f = assert(io.open(path, "w"))
    f:write(readme_policy())
    f:close()
    local p = io.popen(string.format("'%s/sluice' check '%s' 2>&1; echo \"exit=$?\"", build, path))
    local out = p:read("*a")
    p:close()
    assert.matches("exit=0", out)
    assert.matches("ok .*per%-ten%.lua: policy 'per%-ten', period 5s, decided 2 of 2 variants", out)

    -- and runs in the simulator: 20 minutes of the built-in scenario, every request accounted for
    p = io.popen(string.format("'%s/sluice' sim --policy '%s' --duration 1200 --json 2>&1; echo \"exit=$?\"",
                               build, path))
    out = p:read("*a")
    p:close()
    os.remove(path)
    assert.matches("exit=0", out)
    local requests = tonumber(out:match('"requests":(%d+)'))
    local completed = tonumber(out:match('"completed":(%d+)'))
    local dropped = tonumber(out:match('"dropped":(%d+)'))
    assert.is_true(requests > 1000, out)
    assert.is_true(completed + dropped <= requests)
    assert.is_true(completed > 0.5 * requests, "the example policy serves most of the traffic")
  end)
end)
