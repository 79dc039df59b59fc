-- sluice.slo's saturation floor (step 4 of sluice.slo): the replicas a variant's Ready pods say it
-- needs from their KV cache and queues, which only ever adds to the model's sizing, and the
-- observed latency over the SLO that the finish step checks before a scale-down without a model.
--
--   local saturation = require "sluice.slo_floor"
--   local need, why = saturation.saturation_need(p, v, queued, demand)
--   local ratio, why = saturation.latency_ratio(view, p, v)
local profile = require "sluice.slo_profile"

local M = {}

local ceil, max = math.ceil, math.max
local format = string.format
local slo_of = profile.slo_of

-- Replicas the variant's Ready pods say it needs. KV cache: the usage scaled to kv_target per
-- replica. Queues: when more than queue_per_replica requests wait per Ready replica (in the
-- engines, plus the variant's share of the gateway queue) the replicas are saturated, so what
-- they finish is what one replica can do: scale by the demand over that. nil without signals.
local function saturation_need(p, v, queued, demand)
  local r, s = v.replicas, v.signals or {}
  if r.ready < 1 then return nil end
  local kv = s.kv_usage
  local waiting = (s.waiting or 0) + queued
  local need, why
  if kv then
    need = ceil(r.ready * kv / p.kv_target - 1e-9)
    why = format("kv %.2f on %d → %d at %.2f", kv, r.ready, need, p.kv_target)
  end
  if waiting > p.queue_per_replica * r.ready then
    local done = s.request_rate
    local qn, qwhy
    if done and done > 0 and demand and demand > 0 then
      qn = max(r.ready, ceil(r.ready * demand / done - 1e-9))
      qwhy = format("%.0f waiting on %d finishing %.1f req/s of %.1f → %d", waiting, r.ready, done,
        demand, qn)
    else
      qn = r.ready + 1
      qwhy = format("%.0f waiting on %d → %d", waiting, r.ready, qn)
    end
    if not need or qn > need then need, why = qn, qwhy end
  end
  if not need and s.waiting == nil and s.running == nil then return nil end
  return need or 0, why
end

-- Observed latency over its target, the worse of TTFT and ITL, with a note naming it; nil when
-- the variant reports neither or has no SLO. TTFT is taken at the SLO's percentile (each request
-- has one). ITL is taken as its mean: the SLO holds each request's mean inter-token latency, while
-- the engines' histogram holds single token gaps, whose tail is the odd step that carried a
-- prefill chunk and says little about any request's mean.
local function latency_ratio(view, p, v)
  local slo = slo_of(p, v)
  if not slo then return nil end
  local q = p.percentile > 0 and p.percentile or 0.5
  local s = v.signals or {}
  local key = ({ [0.5] = "ttft_p50", [0.9] = "ttft_p90", [0.99] = "ttft_p99" })[q]
  local ttft = key and s[key]
  if ttft == nil and key == nil and view.quantile_over then
    ttft = view:quantile_over(v, "ttft", q, view.window)
  end
  local worst, why
  if ttft and slo.ttft_ms > 0 then
    worst = ttft * 1000 / slo.ttft_ms
    why = format("p%g TTFT %.0f ms of %.0f", q * 100, ttft * 1000, slo.ttft_ms)
  end
  local itl = s.itl_mean
  if itl and slo.itl_ms > 0 then
    local r = itl * 1000 / slo.itl_ms
    if worst == nil or r > worst then
      worst, why = r, format("mean ITL %.1f ms of %.0f", itl * 1000, slo.itl_ms)
    end
  end
  return worst, why
end

M.saturation_need, M.latency_ratio = saturation_need, latency_ratio

return M
