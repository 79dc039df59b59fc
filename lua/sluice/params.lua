-- Policy params over an algorithm's defaults, shared by the canned algorithms.
--
--   local params = require "sluice.params"
--   local p = params.resolve(M.defaults, given)        -- defaults, then what was given
--   local err = params.unknown(M.defaults, given)      -- "unknown parameter x" or nil
local M = {}

function M.resolve(defaults, given)
  local p = {}
  for k, v in pairs(defaults) do p[k] = v end
  for k, v in pairs(given or {}) do p[k] = v end
  return p
end

function M.unknown(defaults, given)
  for k in pairs(given or {}) do
    if defaults[k] == nil then return "unknown parameter " .. tostring(k) end
  end
  return nil
end

return M
