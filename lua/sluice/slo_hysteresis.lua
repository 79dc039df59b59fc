-- sluice.slo's hysteresis (step 5 of sluice.slo): turns the replicas a variant needs this tick
-- into the replicas it gets. A higher need must hold for `up_delay` seconds and then scales to its
-- peak over them (at once from zero, or when the need is `panic` times the replicas set);
-- replicas starting or pending count as capacity, so a further scale-up while they start must add
-- at least `up_step` of the size; a scale-down waits `down_window` seconds after the variant was
-- first seen and goes only to the peak need over the last `down_window` seconds.
--
--   local n, reason = hysteresis.settle(view, p, vs, v, want, why)
--
-- The peak history and the pending scale-up live in the variant's state `vs` (`vs.peak`, a
-- sluice.window peak tracker, `vs.up_since`, `vs.up_max`, `vs.first`).
local w = require "sluice.window"

local M = {}

local ceil, max = math.ceil, math.max
local format = string.format

function M.settle(view, p, vs, v, want, why)
  local t, spec = view.time, v.replicas.spec
  local incoming = v.replicas.starting + v.replicas.pending
  w.peak_add(vs.peak, t, want)
  local held = w.peak_max(vs.peak, t, p.down_window) or want
  if want > spec then
    local step = 1
    if incoming > 0 then step = max(1, ceil(p.up_step * spec - 1e-9)) end
    if spec > 0 and want < spec + step then
      vs.up_since, vs.up_max = nil, nil
      return spec, format("%s; %d starting or pending cover it (a further step needs +%d)", why,
        incoming, step)
    end
    if spec == 0 then
      vs.up_since, vs.up_max = nil, nil
      return want, why .. "; from zero at once"
    end
    -- Far short (Knative's panic threshold: twice the replicas there are), waiting only loses
    -- time the cold start already takes.
    if want >= p.panic * spec then
      vs.up_since, vs.up_max = nil, nil
      return want, format("%s; up at once (%.1f× the %d set)", why, want / spec, spec)
    end
    if not vs.up_since then vs.up_since, vs.up_max = t, want end
    vs.up_max = max(vs.up_max, want)
    if t - vs.up_since >= p.up_delay then
      local to = vs.up_max
      vs.up_since, vs.up_max = nil, nil
      return to, format("%s; up to %d (peak need over %.0f s)", why, to, p.up_delay)
    end
    return spec, format("%s; confirming %d for %.0f of %.0f s", why, vs.up_max, t - vs.up_since,
      p.up_delay)
  end
  vs.up_since, vs.up_max = nil, nil
  if want < spec then
    if t - vs.first < p.down_window then
      return spec, format("%s; hold %d (watching for %.0f of %.0f s before any scale-down)", why,
        spec, t - vs.first, p.down_window)
    end
    if held < spec then
      return held, format("%s; down to %d, the peak need over %.0f s", why, held, p.down_window)
    end
    return spec, format("%s; hold %d, the peak need over %.0f s", why, spec, p.down_window)
  end
  return spec, why
end

return M
