-- What the baseline policies (policies/hpa.lua, policies/keda.lua) share: the "auto" running
-- target of the baseline rule, the view-to-HPA mapping of pods and replica bounds, and the flat
-- behavior params both expose.
local hpa = require "sluice.hpa"

local M = {}

-- A number a metrics API would serve; anything else (nil, NaN, inf) is no sample.
function M.finite(x)
  if type(x) == "number" and x == x and x ~= math.huge and x ~= -math.huge then return x end
  return nil
end

-- The baseline rule's running target is AUTO_FRACTION x the concurrency at which one replica of
-- the variant just meets its SLO: the mean requests in service (sluice.model's queue) at the
-- highest per-replica rate that meets the SLO class, for the variant's latency profile, its
-- max_num_seqs, and the token mix it serves (the view's input/output means when known, else
-- AUTO_TOKENS). It is computed once per variant and then kept, as an operator sets an HPA target
-- once from a load test. Without an SLO class or a profile the target is AUTO_FALLBACK, and the
-- reason says so.
M.AUTO_FRACTION = 0.8
M.AUTO_FALLBACK = 8
M.AUTO_TOKENS = { in_tokens = 1024, out_tokens = 256 }

-- Memo: the target is computed once per variant and configuration (rebuilt after a reload).
local auto_memo = {}

local function compute_auto(v)
  if v.slo == nil then return M.AUTO_FALLBACK, "no SLO class" end  -- a proxy in the real view
  if type(v.profile) ~= "string" then return M.AUTO_FALLBACK, "no latency profile" end
  local ok, model = pcall(require, "sluice.model")
  if not ok then return M.AUTO_FALLBACK, "sluice.model unavailable" end
  local prof, perr = model.builtin(v.profile)
  if not prof then return M.AUTO_FALLBACK, perr end
  local s = v.signals
  local shape = {
    max_batch = v.engine.max_num_seqs,
    in_tokens = M.finite(s.input_tokens_mean) or M.AUTO_TOKENS.in_tokens,
    out_tokens = M.finite(s.output_tokens_mean) or M.AUTO_TOKENS.out_tokens,
  }
  local rate, why = model.max_rate(prof, shape, { ttft_ms = v.slo.ttft_ms, itl_ms = v.slo.itl_ms })
  if not rate then return M.AUTO_FALLBACK, why end
  local pred = model.predict(prof, shape, rate)
  local conc = M.finite(pred.in_service)
  if not conc or conc <= 0 then return M.AUTO_FALLBACK, "no concurrency from the model" end
  return M.AUTO_FRACTION * conc
end

local function auto_running_target(view, v)
  local slo = v.slo or {}
  local key = table.concat({ v.id, tostring(v.profile), tostring(slo.ttft_ms), tostring(slo.itl_ms),
                             tostring(v.engine and v.engine.max_num_seqs) }, "|")
  local m = auto_memo[key]
  if not m then
    local n, why = compute_auto(v)
    m = { n, why }
    auto_memo[key] = m
  end
  return m[1], m[2]
end

-- The running target for a variant: a number (or numeric string) as given, or "auto". Returns the
-- target and a note for the reason ("" unless the auto fallback was used).
function M.running_target(view, v, value)
  if value == "auto" then
    local n, why = auto_running_target(view, v)
    if why then return n, string.format("; running target %s (auto: %s)", hpa.num(n), why) end
    return n, ""
  end
  return tonumber(value), ""
end

function M.check_target(name, x, allow_auto)
  if allow_auto and x == "auto" then return nil end
  local n = tonumber(x)
  if not n or n <= 0 or n ~= n or n == math.huge then
    return name .. " must be a number > 0" .. (allow_auto and ' or "auto"' or "")
  end
  return nil
end

-- View pod phases as the controller sees pods: starting pods are Running but not Ready, pending
-- pods are Pending, draining pods are being deleted. Pods without the signal are absent from
-- `values` (the controller's "missing" pods).
local PHASES = {
  ready = "Running", starting = "Running", pending = "Pending", draining = "Running",
}

function M.pods(v, signal)
  local pods, values = {}, {}
  for i, p in ipairs(v.pods or {}) do
    pods[i] = { name = p.name, phase = PHASES[p.phase] or "Running", ready = p.phase == "ready",
                deleting = p.phase == "draining" }
    local x = p.signals and M.finite(p.signals[signal])
    if x ~= nil then values[p.name] = x end
  end
  return pods, values
end

-- Values of a pod signal over Ready pods, in pod order.
function M.ready_values(v, signal)
  local out = {}
  for _, p in ipairs(v.pods or {}) do
    local x = p.phase == "ready" and p.signals and M.finite(p.signals[signal])
    if x then out[#out + 1] = x end
  end
  return out
end

-- HPA bounds from the variant's: minReplicas 0 only where scale to zero is allowed.
function M.bounds(v, zero_ok)
  local min, max = v.min or 1, v.max or 1
  if min < 1 and not zero_ok then min = 1 end
  if max < 1 then max = 1 end
  if min > max then min = max end
  return min, max
end

-- status.replicas: every pod of the workload that is not terminating.
function M.status(v)
  local r = v.replicas
  return r.ready + r.starting + r.pending
end

-- Flat params <-> an HPA behavior.
function M.behavior(p)
  return {
    scale_up = {
      stabilization_window_seconds = p.scale_up_stabilization, select_policy = p.scale_up_select,
      policies = p.scale_up_policies, tolerance = p.scale_up_tolerance,
    },
    scale_down = {
      stabilization_window_seconds = p.scale_down_stabilization,
      select_policy = p.scale_down_select, policies = p.scale_down_policies,
      tolerance = p.scale_down_tolerance,
    },
  }
end

local PARAM_OF = {
  stabilization_window_seconds = "stabilization", select_policy = "select",
  policies = "policies", tolerance = "tolerance",
}

-- The behavior's API validation, with errors naming the flat param.
function M.check_behavior(p)
  local err = hpa.check_behavior(hpa.behavior(M.behavior(p)))
  if not err then return nil end
  return (err:gsub("^behavior%.(scale_%a+)%.([%a_]+)", function(dir, field)
    return dir .. "_" .. (PARAM_OF[field] or field)
  end))
end

return M
