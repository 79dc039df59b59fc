-- Latency profiles for a variant, as the policies look them up: the variant's own `profile`
-- (a built-in name from sluice.yaml), else the built-in catalog entry for its model and
-- accelerator. Profiles are returned as plain tables the kernels accept (no `units`, `name` or
-- `source`), so they can sit in a policy's state.
--
--   local profiles = require "sluice.profiles"
--   local pr, name = profiles.of(v)               -- nil when none is known
--   profiles.catalog_match(v, "3p")               -- built-in name or nil
local model = require "sluice.model"

local M = {}

function M.plain(pr)
  local t = {}
  for k, x in pairs(pr) do
    if k ~= "units" and k ~= "name" and k ~= "source" then t[k] = x end
  end
  return t
end

local function lower(s)
  return type(s) == "string" and s:lower() or ""
end
M.lower = lower

-- The built-in profile whose name "<model>/<accelerator>[:kind]" matches a variant: the model
-- id (without its organisation) starts with <model> and the accelerator name contains
-- <accelerator>. Without `kind`, the plain name (the calibrated one) before any ":kind" form.
function M.catalog_match(v, kind)
  local id = lower(v.model)
  id = id:match("([^/]+)$") or id
  local acc = lower(v.accelerator)
  local best
  for _, name in ipairs(model.builtins()) do
    local m, a, k = name:match("^([^/]+)/([^:]+):?(.*)$")
    if m and id:sub(1, #m) == m and acc:find(a, 1, true) then
      if kind then
        if k == kind then return name end
      elseif k == "" then
        return name
      elseif not best then
        best = name
      end
    end
  end
  return best
end

-- The profile of a variant and its name: its own `profile`, else (unless catalog is false) the
-- catalog's. nil when neither is known.
function M.of(v, catalog)
  if type(v.profile) == "string" then
    local pr = model.builtin(v.profile)
    if pr then return M.plain(pr), v.profile end
  end
  if catalog ~= false then
    local name = M.catalog_match(v)
    if name then return M.plain(model.builtin(name)), name end
  end
  return nil
end

return M
