-- Prints each named canned policy's knob (policies/NAME.lua `knob`): one line per policy,
-- "NAME PARAM SCALE V1 V2 ...", SCALE being "oracle_peak" or "-". Run from the repository root
-- with the build tree's Lua module on the path: luajit scripts/knobs.lua BUILD_DIR NAME...
local build = arg[1]
package.cpath = build .. "/?.so;" .. package.cpath
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
for i = 2, #arg do
  local name = arg[i]
  local ok, p = pcall(dofile, "policies/" .. name .. ".lua")
  if ok and type(p) == "table" and type(p.knob) == "table" then
    local vals = {}
    for k, v in ipairs(p.knob.values) do vals[k] = tostring(v) end
    print(name .. " " .. p.knob.param .. " " .. (p.knob.scale or "-") .. " " .. table.concat(vals, " "))
  end
end
