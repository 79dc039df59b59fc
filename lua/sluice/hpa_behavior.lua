-- The HPA's `behavior` (the controller's horizontal.go after the metrics): the API defaults and
-- validation of scaleUp/scaleDown, stabilization of recommendations (with a behavior, and the
-- legacy downscale window without one), the Pods/Percent rate policies with selectPolicy over
-- the scale events of each period, and the record of those events. Plain data: the caller keeps
-- `st` between ticks; the reconcile that calls this is sluice.hpa.
local int = require "sluice.hpa_int"

local M = {}

local fmt = string.format

local MAX_INT32, MIN_INT32 = int.MAX_INT32, int.MIN_INT32
local int32, ceil32 = int.int32, int.ceil32

M.DOWNSCALE_WINDOW = 300      -- --horizontal-pod-autoscaler-downscale-stabilization (s)

-- autoscaling/v2 defaults.go: applied direction by direction when `behavior` is set.
local DEFAULT_UP = {
  stabilization_window_seconds = 0,
  select_policy = "Max",
  policies = {
    { type = "Pods", value = 4, period_seconds = 15 },
    { type = "Percent", value = 100, period_seconds = 15 },
  },
}
local DEFAULT_DOWN = {
  stabilization_window_seconds = nil,  -- the controller's downscale flag fills it
  select_policy = "Max",
  policies = { { type = "Percent", value = 100, period_seconds = 15 } },
}

local function copy(t)
  if type(t) ~= "table" then return t end
  local o = {}
  for k, v in pairs(t) do o[k] = copy(v) end
  return o
end

local function rules(given, default)
  local r = copy(default)
  if given then
    for _, k in ipairs({ "stabilization_window_seconds", "select_policy", "policies",
                         "tolerance" }) do
      if given[k] ~= nil then r[k] = copy(given[k]) end
    end
  end
  return r
end

-- The API defaults (SetDefaults_HorizontalPodAutoscalerBehavior) plus the controller's downscale
-- window for an unset scaleDown window. Returns nil for a nil behavior: that HPA takes the legacy
-- path (max(2 x current, 4) scale-up cap, downscale window from the flag).
function M.behavior(b, downscale_window)
  if b == nil then return nil end
  local out = {
    scale_up = rules(b.scale_up, DEFAULT_UP),
    scale_down = rules(b.scale_down, DEFAULT_DOWN),
  }
  if out.scale_down.stabilization_window_seconds == nil then
    out.scale_down.stabilization_window_seconds = downscale_window or M.DOWNSCALE_WINDOW
  end
  return out
end

local SELECT = { Max = true, Min = true, Disabled = true }

local function check_rules(r, path)
  local w = r.stabilization_window_seconds
  if type(w) ~= "number" or w < 0 or w > 3600 or w % 1 ~= 0 then
    return path .. ".stabilization_window_seconds must be a whole number in 0..3600"
  end
  if not SELECT[r.select_policy] then
    return path .. ".select_policy must be Max, Min or Disabled"
  end
  if r.tolerance ~= nil and (type(r.tolerance) ~= "number" or r.tolerance < 0) then
    return path .. ".tolerance must be a number >= 0"
  end
  if type(r.policies) ~= "table" or #r.policies == 0 then
    return path .. ".policies must list at least one policy"
  end
  for i, p in ipairs(r.policies) do
    local pp = fmt("%s.policies[%d]", path, i)
    if p.type ~= "Pods" and p.type ~= "Percent" then
      return pp .. ".type must be Pods or Percent"
    end
    if type(p.value) ~= "number" or p.value <= 0 or p.value % 1 ~= 0 then
      return pp .. ".value must be a whole number > 0"
    end
    local s = p.period_seconds
    if type(s) ~= "number" or s <= 0 or s > 1800 or s % 1 ~= 0 then
      return pp .. ".period_seconds must be a whole number in 1..1800"
    end
  end
end

-- API validation of a (defaulted) behavior; nil when fine, else a message naming the field.
function M.check_behavior(b)
  if b == nil then return nil end
  return check_rules(b.scale_up, "behavior.scale_up")
      or check_rules(b.scale_down, "behavior.scale_down")
end

-- The lists a controller state holds (recommendations, scale events), created when missing.
local function new_state(st)
  st.recommendations = st.recommendations or {}
  st.up_events = st.up_events or {}
  st.down_events = st.down_events or {}
  return st
end
M.new_state = new_state

-- stabilizeRecommendationWithBehaviors: the result is the current count pulled up to the lowest
-- recommendation of the scale-up window and down to the highest of the scale-down window
-- (windows include the new recommendation; samples count when strictly after the cutoff). The raw
-- recommendation is recorded, reusing the last slot older than both windows.
function M.stabilize(st, now, current, raw, up_window, down_window)
  new_state(st)
  local up_rec, down_rec = raw, raw
  local up_cut, down_cut = now - up_window, now - down_window
  local old
  for i, r in ipairs(st.recommendations) do
    if r.t > up_cut and r.n < up_rec then up_rec = r.n end
    if r.t > down_cut and r.n > down_rec then down_rec = r.n end
    if r.t < up_cut and r.t < down_cut then old = i end
  end
  local rec = current
  if rec < up_rec then rec = up_rec end
  if rec > down_rec then rec = down_rec end
  local sample = { n = raw, t = now }
  local recs = st.recommendations
  if old then recs[old] = sample else recs[#recs + 1] = sample end
  return rec
end

-- stabilizeRecommendation (no behavior): the highest recommendation not older than the window;
-- here a sample exactly at the cutoff still counts.
function M.stabilize_legacy(st, now, raw, window)
  new_state(st)
  local max_rec, cut, old = raw, now - window, nil
  for i, r in ipairs(st.recommendations) do
    if r.t < cut then
      old = i
    elseif r.n > max_rec then
      max_rec = r.n
    end
  end
  local sample = { n = raw, t = now }
  local recs = st.recommendations
  if old then recs[old] = sample else recs[#recs + 1] = sample end
  return max_rec
end

-- getReplicasChangePerPeriod: events strictly after now - period.
local function change_in_period(events, now, period)
  local cut, n = now - period, 0
  for _, e in ipairs(events) do
    if e.t > cut then n = n + e.change end
  end
  return n
end

-- calculateScaleUpLimitWithScalingRules. Percent rounds up (ceil of a float64 product, so
-- 50 x 1.1 gives 56 as in Go).
function M.scale_up_limit(st, now, current, r)
  new_state(st)
  if r.select_policy == "Disabled" then return current end
  local result, pick
  if r.select_policy == "Min" then
    result, pick = MAX_INT32, math.min
  else
    result, pick = MIN_INT32, math.max
  end
  for _, p in ipairs(r.policies) do
    local start = current - change_in_period(st.up_events, now, p.period_seconds)
        + change_in_period(st.down_events, now, p.period_seconds)
    local proposed
    if p.type == "Pods" then
      proposed = start + p.value
    else
      proposed = ceil32(start * (1 + p.value / 100))
    end
    result = pick(result, proposed)
  end
  return result
end

-- calculateScaleDownLimitWithBehaviors. Percent truncates the replicas that remain (int32 of a
-- float64 product, so 10 x (1 - 0.9) keeps 0, not 1).
function M.scale_down_limit(st, now, current, r)
  new_state(st)
  if r.select_policy == "Disabled" then return current end
  local result, pick
  if r.select_policy == "Min" then
    result, pick = MIN_INT32, math.max
  else
    result, pick = MAX_INT32, math.min
  end
  for _, p in ipairs(r.policies) do
    local start = current - change_in_period(st.up_events, now, p.period_seconds)
        + change_in_period(st.down_events, now, p.period_seconds)
    local proposed
    if p.type == "Pods" then
      proposed = start - p.value
    else
      proposed = int32(start * (1 - p.value / 100))
    end
    result = pick(result, proposed)
  end
  return result
end

-- convertDesiredReplicasWithBehaviorRate: rate limits, then min/max. Returns replicas and the
-- limiting reason (the controller's ScalingLimited reasons).
function M.rate_limit(st, now, current, desired, min, max, b)
  if desired > current then
    local limit = M.scale_up_limit(st, now, current, b.scale_up)
    if limit < current then limit = current end
    local allowed, why = max, "TooManyReplicas"
    if allowed > limit then allowed, why = limit, "ScaleUpLimit" end
    if desired > allowed then return allowed, why end
  elseif desired < current then
    local limit = M.scale_down_limit(st, now, current, b.scale_down)
    if limit > current then limit = current end
    local allowed, why = min, "TooFewReplicas"
    if allowed < limit then allowed, why = limit, "ScaleDownLimit" end
    if desired < allowed then return allowed, why end
  end
  return desired, "DesiredWithinRange"
end

-- convertDesiredReplicasWithRules (no behavior).
function M.rate_limit_legacy(current, desired, min, max)
  local up_limit = int32(math.max(2.0 * current, 4.0))
  local allowed, why = max, "TooManyReplicas"
  if max > up_limit then allowed, why = up_limit, "ScaleUpLimit" end
  if desired < min then return min, "TooFewReplicas" end
  if desired > allowed then return allowed, why end
  return desired, "DesiredWithinRange"
end

local function longest_period(r)
  local n = 0
  for _, p in ipairs(r.policies) do
    if p.period_seconds > n then n = p.period_seconds end
  end
  return n
end

-- storeScaleEvent: only with a behavior; events older than the direction's longest policy period
-- are marked outdated and the last outdated slot is reused.
function M.record_scale(st, b, prev, new, now)
  new_state(st)
  if b == nil or prev == new then return nil end
  local list, r, change
  if new > prev then
    list, r, change = st.up_events, b.scale_up, new - prev
  else
    list, r, change = st.down_events, b.scale_down, prev - new
  end
  local cut, old = now - longest_period(r), nil
  for i, e in ipairs(list) do
    if e.t < cut then e.outdated = true end
    if e.outdated then old = i end
  end
  local ev = { change = change, t = now, outdated = false }
  if old then list[old] = ev else list[#list + 1] = ev end
  return ev
end

return M
