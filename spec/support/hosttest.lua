-- Helpers for specs that drive the real host (require "sluice.host") on a fixture view:
-- a scratch directory with a config, a fixture and policy files.
local M = {}

local function write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end
M.write = write

function M.tmpdir()
  local p = os.tmpname()
  os.remove(p)
  assert(os.execute("mkdir -p '" .. p .. "'") == 0 or true)
  return p
end

-- Identity: a policy source is just text.
function M.policy(src) return src end

M.good_policy = [[
return {
  name = "good",
  decide = function(view, params, state)
    return { ["llm/b"] = { replicas = 5, reason = "good wants 5" } }
  end,
}]]

-- Both variants run 3 replicas with some load; the fixture repeats its one frame.
M.fixture = [[
frames:
  - variants:
      llm/a:
        replicas: {spec: 3}
        pods:
          - {name: a-0, signals: {running: 10, waiting: 1, kv_usage: 0.5}}
      llm/b:
        replicas: {spec: 3}
        pods:
          - {name: b-0, signals: {running: 10, waiting: 1, kv_usage: 0.5}}
]]

-- opts.policy: source of policies/hostile.lua (manages llm/a); llm/b gets the good policy.
-- Returns the host (or nil, err) and the directory.
function M.host(opts)
  local dir = M.tmpdir()
  os.execute("mkdir -p '" .. dir .. "/policies'")
  write(dir .. "/policies/hostile.lua", opts.policy)
  write(dir .. "/policies/good.lua", opts.good or M.good_policy)
  write(dir .. "/views.yaml", opts.fixture or M.fixture)
  write(dir .. "/sluice.yaml", string.format([[
interval: 1s
source: {fixture: views.yaml}
policy_dir: policies
variants:
  - {id: llm/a, model: m, min: 1, max: 10}
  - {id: llm/b, model: m, min: 1, max: 10}
policies:
  - {file: hostile.lua, variants: [llm/a]%s%s}
  - {file: good.lua, variants: [llm/b]}
]], opts.budget and (", budget: " .. opts.budget) or "",
    opts.time_limit and (", time_limit: " .. opts.time_limit) or ""))
  local host = require "sluice.host"
  local h, err = host.new{ config = dir .. "/sluice.yaml", log_level = "error" }
  return h, err, dir
end

function M.by_variant(outcomes)
  local t = {}
  for _, o in ipairs(outcomes) do t[o.variant] = o end
  return t
end

return M
