-- Loaded before every spec file. Makes the C module and Lua sources from this checkout win over
-- anything installed system-wide.
local build = os.getenv("SLUICE_BUILD") or "build"
package.cpath = build .. "/?.so;" .. package.cpath
package.path = "lua/?.lua;lua/?/init.lua;spec/?.lua;" .. package.path
