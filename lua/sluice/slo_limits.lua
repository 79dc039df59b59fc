-- sluice.slo's limits on what capacity can do (between steps 3 and 5 of sluice.slo): the backlog
-- a variant holds and whether more replicas would clear it in time, latency over the SLO that more
-- replicas would not fix, and the runaway bound on what any floor may ask for. All three need the
-- rate one replica carries within the SLO (sluice.slo_profile.max_rate); without one they say
-- nothing and the floors stand as they are.
--
--   local limits = require "sluice.slo_limits"
--   local extra, why = limits.drain(p, v, rate, level, backlog, H)
--   local why = limits.cannot_help(p, v, rate, level, lat_why)
--   local note = limits.infeasible(view, p, v, prof, lat_why, O)
--   local bound, why = limits.runaway(p, need)
local model = require "sluice.model"
local profile = require "sluice.slo_profile"

local M = {}

local ceil, max = math.ceil, math.max
local format = string.format
-- The prompt-length quantiles, falling, that the share of prompts too long to prefill in time
-- is read at.
local SHARE_QUANTILES = { 0.98, 0.95, 0.9, 0.8, 0.5 }

-- Replicas to add so that a backlog is cleared within p.drain seconds of new replicas being Ready.
-- The Ready replicas drain it meanwhile at what they finish beyond the arrivals (`level`, req/s
-- reaching this variant): at least the rate they carry within the SLO, and what they are seen
-- to finish when that is more (saturated replicas run faster than the SLO allows). A backlog they
-- clear before a replica ordered now could be Ready (H seconds) is not sized for: new replicas
-- would arrive to an empty queue. Returns extra, why (extra = 0 with the reason it needs none),
-- or nil without a backlog (no more than one request waiting per Ready replica).
function M.drain(p, v, rate, level, backlog, H)
  local ready = v.replicas.ready
  if not (rate and rate > 0) or ready < 1 or not backlog or backlog <= ready then return nil end
  local done = (v.signals and v.signals.request_rate) or 0
  local surplus = max(ready * rate, done) - (level or 0)
  if surplus > 0 and backlog / surplus <= H then
    return 0, format("backlog %.0f drains in %.0f s on %d Ready, before a new replica (%.0f s)",
      backlog, backlog / surplus, ready, H)
  end
  -- What is left when the new replicas are Ready: it grows while the Ready fall short.
  local left = backlog - surplus * H
  local extra = ceil(left / (p.drain * rate) - 1e-9)
  return extra, format("backlog drain %.0f queued, %.0f left in %.0f s, cleared in %.0f s → +%d",
    backlog, left, H, p.drain, extra)
end

-- The TTFT of a lone request with `tokens` of prompt on an idle replica, under the profile.
local function lone_ttft(prof, v, tokens, O)
  local N = (v.engine and v.engine.max_num_seqs) or 256
  local ok, pred = pcall(model.predict, prof.profile,
    { max_batch = N, in_tokens = tokens, out_tokens = max(O or 1, 1) }, 1e-3)
  if ok and pred then return pred.ttft_ms end
  return nil
end

-- Latency over the SLO is not for capacity to fix when the Ready replicas carry the arrivals with
-- room to spare (at most p.help_load of the rate they carry within the SLO) and what misses is the
-- mean ITL: the misses come from how each step is formed (a long prefill chunk sharing a step with
-- short decodes breaks their mean ITL whatever the replica count). Returns the reason for the
-- decision, naming what an operator can change, or nil when more replicas may help.
function M.cannot_help(p, v, rate, level, lat_why)
  local ready = v.replicas.ready
  if not (rate and rate > 0) or ready < 1 or not lat_why then return nil end
  if not lat_why:find("ITL", 1, true) then return nil end
  local load = (level or 0) / (ready * rate)
  if load > p.help_load then return nil end
  local B = v.engine and v.engine.max_num_batched_tokens
  return format("capacity cannot help: %s at %.0f%% of what %d Ready carry within the SLO "
    .. "(prefill chunks in decode steps: lower max_num_batched_tokens%s)", lat_why, load * 100,
    ready, B and format(", %d now", B) or "")
end

-- A TTFT over the SLO that prompts at the SLO's percentile would miss even alone on an idle
-- replica: a note for the reason (this SLO class cannot be met for them), or nil. More replicas
-- still help the other requests, which queue behind such prompts, so it does not stop sizing.
function M.infeasible(view, p, v, prof, lat_why, O)
  if not prof or not lat_why or not lat_why:find("TTFT", 1, true) then return nil end
  local slo = profile.slo_of(p, v)
  local q = p.percentile > 0 and p.percentile or 0.99
  local P = view.quantile_over and view:quantile_over(v, "request_prompt_tokens", q, view.window)
  if not slo or not P or P <= 0 then return nil end
  local function over(tokens)
    local target = slo.ttft_ms + slo.ttft_ms_per_1k_in * tokens / 1000
    local t = lone_ttft(prof, v, tokens, O)
    return t and target > 0 and t > target, t, target
  end
  local miss, t, target = over(P)
  if not miss then return nil end
  -- How many prompts are that long: between the lowest quantile of the prompt lengths that still
  -- misses alone and the highest that does not.
  local lo_q, hi_q = q, nil
  for _, lower in ipairs(SHARE_QUANTILES) do
    if lower < q then
      local Pl = view:quantile_over(v, "request_prompt_tokens", lower, view.window)
      if not Pl then break end
      if not over(Pl) then
        hi_q = lower
        break
      end
      lo_q = lower
    end
  end
  local share = hi_q and format("%g–%g%%", (1 - lo_q) * 100, (1 - hi_q) * 100)
    or format("at least %g%%", (1 - lo_q) * 100)
  return format("p%g prompt %.0f tokens takes %.0f ms to prefill alone, over its %.0f: this SLO "
    .. "class cannot be met for such prompts (%s of the last %.0f s's)", q * 100, P, t, target,
    share, view.window or 0)
end

-- The most any floor may ask for: p.runaway times the replicas the model says the forecast needs
-- (at least one more than that). Returns bound, why.
function M.runaway(p, need)
  if not need or p.runaway <= 0 then return nil end
  local bound = max(need + 1, ceil(p.runaway * need - 1e-9))
  return bound, format("runaway bound %d (%g× the %d the model sizes for the forecast)", bound,
    p.runaway, need)
end

return M
