-- The HPA controller's number semantics, shared by sluice.hpa's stages: Go's int32 conversion of
-- a float64 (truncation, capped at both ends), int64 division, and quantities as milli-units.
local M = {}

local floor, ceil = math.floor, math.ceil

M.MAX_INT32 = 2147483647
M.MIN_INT32 = -2147483648
local MAX_INT32, MIN_INT32 = M.MAX_INT32, M.MIN_INT32

-- Go's int32(x) for a float: truncation toward zero. The controller caps at MaxInt32 before
-- converting where it can overflow; we cap both ends so the result is always defined.
local function int32(x)
  if x ~= x then return 0 end
  if x >= MAX_INT32 then return MAX_INT32 end
  if x <= MIN_INT32 then return MIN_INT32 end
  if x >= 0 then return floor(x) end
  return ceil(x)
end

local function ceil32(x) return int32(ceil(x)) end

-- int64 division (truncates toward zero).
local function idiv(a, b)
  local q = a / b
  if q >= 0 then return floor(q) end
  return ceil(q)
end

-- Quantities travel as milli-units (int64). Rounded to the nearest milli so that float noise in
-- the caller's arithmetic (0.1 * 3) cannot move a value across a boundary.
local function milli(x) return floor(x * 1000 + 0.5) end

M.int32, M.ceil32, M.idiv, M.milli = int32, ceil32, idiv, milli

return M
