-- Scaling on the inference gateway's own signals, after llm-d's token-aware guide: the prompt
-- tokens in flight through the gateway plus those held in its flow-control queue, as seconds of
-- prefill work (tokens / a replica's prefill throughput), against a per-replica budget of those
-- seconds. A replica's budget comes from its SLO class through the latency model: `target` of the
-- backlog one replica carries when it just meets the SLO. The KV cache is a floor; the first
-- queued request wakes a model at zero; scale-down goes only to the peak need of `down_window`.
--
--   local igw = require "sluice.igw"
--   local err = igw.validate(params)
--   local decisions = igw.decide(view, params, state)
local model = require "sluice.model"
local w = require "sluice.window"
local placement = require "sluice.placement"
local profiles = require "sluice.profiles"
local memo = require "sluice.memo"

local params_of = require "sluice.params"

local M = {}

local floor, ceil, max, min = math.floor, math.ceil, math.max, math.min
local format = string.format

M.defaults = {
  backlog_budget = "auto",        -- seconds of prefill backlog per replica; "auto": `target` of
                                  -- the backlog one replica carries at its SLO limit
  target = 0.8,                   -- share of that backlog the auto budget allows
  prefill_tokens_per_s = "auto",  -- a replica's prefill throughput; "auto": its latency profile
  percentile = 0.99,              -- the SLO holds at this percentile (0 = means)
  queue_drain = 60,               -- seconds a growing gateway queue's prompts should take to clear
  kv_target = 0.8,                -- KV-cache usage per replica the floor sizes for
  down_window = 300,              -- seconds: scale down only to the peak need over this window
}

-- What llm-d's token-aware guide uses when nothing better is known: 15 928 prompt tokens/s per
-- replica and 1.5 s of backlog per replica.
local GUIDE_TPS, GUIDE_BUDGET = 15928, 1.5
local DEFAULT_TOKENS = { 1024, 256 }   -- token mix before any request has finished
local MIX_STEP = math.log(1.05)        -- the auto budget is solved per 5% bucket of the mix
M.MIX_STEP = MIX_STEP
local GROWTH_WINDOW = 10               -- seconds a queue is compared over to call it growing

local function resolve(given)
  return params_of.resolve(M.defaults, given)
end

function M.validate(params)
  local unknown = params_of.unknown(M.defaults, params)
  if unknown then return unknown end
  local p = resolve(params)
  for _, k in ipairs({ "backlog_budget", "prefill_tokens_per_s" }) do
    local x = p[k]
    if x ~= "auto" and not (type(x) == "number" and x > 0 and x < math.huge) then
      return k .. ' must be "auto" or a number > 0'
    end
  end
  if type(p.target) ~= "number" or not (p.target > 0 and p.target <= 1) then
    return "target must be in (0, 1]"
  end
  if type(p.percentile) ~= "number" or not (p.percentile >= 0 and p.percentile < 1) then
    return "percentile must be in [0, 1)"
  end
  if type(p.kv_target) ~= "number" or not (p.kv_target > 0 and p.kv_target <= 1) then
    return "kv_target must be in (0, 1]"
  end
  if type(p.queue_drain) ~= "number" or not (p.queue_drain > 0) then
    return "queue_drain must be a number of seconds > 0"
  end
  if type(p.down_window) ~= "number" or not (p.down_window >= 0) then
    return "down_window must be a number of seconds >= 0"
  end
  return nil
end

-- A variant's prefill throughput (tokens/s) and backlog budget (s), with a note on where they
-- came from. Cached in vs while the profile, SLO and token mix stay put.
local function budget_of(p, vs, v)
  local s = v.signals or {}
  local I, O = s.input_tokens_mean or DEFAULT_TOKENS[1], s.output_tokens_mean or DEFAULT_TOKENS[2]
  -- Solved at the middle of the mix's 5% buckets, so a mix wavering across a bucket edge reuses
  -- both neighbours' budgets instead of solving again every tick.
  local kI, kO
  kI, I = memo.bucket(max(I, 1), MIX_STEP)
  kO, O = memo.bucket(max(O, 1), MIX_STEP)
  local slo = v.slo or {}
  local key = format("%s|%s+%s|%s|%s|%s|%d|%d|%s", tostring(v.profile), tostring(slo.ttft_ms),
    tostring(slo.ttft_ms_per_1k_in),
    tostring(slo.itl_ms), tostring(p.backlog_budget), tostring(p.prefill_tokens_per_s),
    kI, kO, tostring(p.target) .. "/" .. tostring(p.percentile))
  vs.budgets = vs.budgets or memo.new(256)
  local c = memo.get(vs.budgets, key, 0)
  if c then return c end
  local pr, name = profiles.of(v)
  local N = (v.engine and v.engine.max_num_seqs) or 256
  local shape = { max_batch = N, in_tokens = I, out_tokens = max(O, 1) }
  local tps, tps_note = p.prefill_tokens_per_s, "configured"
  if tps == "auto" then
    tps, tps_note = GUIDE_TPS, "llm-d guide"
    if pr then
      -- A lone request's time to first token is its prefill: the mean prompt over it.
      local ok, pred = pcall(model.predict, pr, shape, 1e-3)
      if ok and pred and pred.ttft_ms > 0 then
        tps, tps_note = I / (pred.ttft_ms / 1000), name
      end
    end
  end
  local budget, note = p.backlog_budget, "configured"
  if budget == "auto" then
    budget, note = GUIDE_BUDGET, "llm-d guide"
    if pr and (slo.ttft_ms or slo.itl_ms) then
      -- A long-context class's TTFT allowance, at the mix's mean prompt.
      local target = { ttft_ms = slo.ttft_ms and slo.ttft_ms + (slo.ttft_ms_per_1k_in or 0) * I / 1000
                         or 0, itl_ms = slo.itl_ms or 0 }
      if p.percentile > 0 then target.percentile = p.percentile end
      local r = model.max_rate(pr, shape, target)
      if r then
        local at = model.predict(pr, shape, r)
        budget = p.target * at.in_service * I / tps
        note = format("%.0f%% of %.1f requests in flight at the SLO limit %.2f req/s, %s",
          p.target * 100, at.in_service, r, name)
      end
    end
  end
  return memo.put(vs.budgets, key, 0,
    { tps = tps, tps_note = tps_note, budget = budget, note = note })
end

local function settle(view, p, vs, v, want, why)
  local t, spec = view.time, v.replicas.spec
  vs.first = vs.first or t
  w.peak_add(vs.peak, t, want)
  local held = w.peak_max(vs.peak, t, p.down_window) or want
  if want >= spec then return want, why end
  if t - vs.first < p.down_window then
    return spec, format("%s; hold %d (watching for %.0f of %.0f s)", why, spec, t - vs.first,
      p.down_window)
  end
  if held < spec then
    return held, format("%s; down to %d, the peak need over %.0f s", why, held, p.down_window)
  end
  return spec, format("%s; hold %d, the peak need over %.0f s", why, spec, p.down_window)
end

function M.decide(view, params, state)
  local p = resolve(params)
  state.variants = state.variants or {}
  state.queues = state.queues or {}
  local by, names = {}, {}
  for _, v in view:variants() do
    if not by[v.model] then
      by[v.model] = {}
      names[#names + 1] = v.model
    end
    local g = by[v.model]
    g[#g + 1] = v
  end
  table.sort(names)
  local groups, info = {}, {}
  for _, name in ipairs(names) do
    local vars = by[name]
    local m = view.models and view.models[name]
    local gs = (m and m.signals) or {}
    local queued = gs.queue_size or 0
    local ready, incoming, I_sum, I_n = 0, 0, 0, 0
    for _, v in ipairs(vars) do
      ready = ready + v.replicas.ready
      incoming = incoming + v.replicas.starting + v.replicas.pending
      local I = v.signals and v.signals.input_tokens_mean
      if I then I_sum, I_n = I_sum + I, I_n + 1 end
    end
    local I = I_n > 0 and I_sum / I_n or DEFAULT_TOKENS[1]
    -- Prompt tokens held at the gateway (its byte count at 4 bytes per token when reported).
    local qtokens = gs.queue_bytes and gs.queue_bytes / 4 or queued * I
    local inflight = gs.inflight_tokens
    if inflight == nil then
      -- Without the gateway gauge: the running requests' prompts.
      inflight = 0
      for _, v in ipairs(vars) do
        inflight = inflight + ((v.signals and v.signals.running) or 0) * I
      end
    end
    -- Queued prompts are work to clear once, not load to carry: as much capacity as prefills
    -- them within queue_drain seconds. They count only while the queue grows with nothing on its
    -- way: a queue that drains needs nothing more, and replicas already starting are what a
    -- growing one waits for (counting it again as it grows would stack scale-up on scale-up).
    local qs = state.queues[name] or w.ring(32)
    state.queues[name] = qs
    local qlow
    for k = qs.n, 1, -1 do
      local e = w.at(qs, k)
      if e.t < view.time - GROWTH_WINDOW then break end
      if qlow == nil or e.q < qlow then qlow = e.q end
    end
    w.push(qs, { t = view.time, q = queued })
    local growing = queued >= 1 and (qlow == nil or queued > qlow or ready == 0)
    local counted = (incoming == 0 and growing) and qtokens or 0
    local g = { name = name, cands = {}, vars = vars,
      inflight = inflight, queued = queued, qtokens = qtokens, counted = counted, ready = ready,
      incoming = incoming }
    local bsum = 0
    for _, v in ipairs(vars) do
      local vs = state.variants[v.id]
      if not vs then
        vs = { peak = w.peak(10) }
        state.variants[v.id] = vs
      end
      vs.live = view.time
      local b = budget_of(p, vs, v)
      bsum = bsum + b.budget
      info[v.id] = { vs = vs, b = b }
      g.cands[#g.cands + 1] = { id = v.id, rate = b.tps * b.budget, cost = v.cost or 0,
        gpus = max(v.gpus_per_replica or 1, 1), type = v.accelerator, min = v.min or 0,
        max = v.max or math.huge, current = v.replicas.spec }
      g.priority = max(g.priority or 0, v.priority or 0)
    end
    -- In the placement's units (prompt tokens a replica holds in flight within its budget), a
    -- queued token is worth budget / queue_drain of one.
    g.demand = inflight + counted * (bsum / #vars) / p.queue_drain
    groups[#groups + 1] = g
  end
  local placed = placement.place(view, groups)
  local out = {}
  for _, g in ipairs(groups) do
    for _, v in ipairs(g.vars) do
      local it = info[v.id]
      local b = it.b
      local want = placed[v.id] or 0
      local backlog = g.inflight / b.tps
      local queue_note = ""
      if g.queued > 0 then
        if g.counted > 0 then
          queue_note = format(" + %d queued growing, %.1f s of prefill to clear in %.0f s",
            g.queued, g.counted / b.tps, p.queue_drain)
        elseif g.incoming > 0 then
          queue_note = format(" + %d queued awaiting %d starting", g.queued, g.incoming)
        else
          queue_note = format(" + %d queued draining", g.queued)
        end
      end
      local why = format("backlog %.2f s (%.0f tokens in flight at %.0f tok/s, %s)%s over "
        .. "%.2f s per replica (%s) → %d", backlog, g.inflight, b.tps, b.tps_note, queue_note,
        b.budget, b.note, want)
      local kv = v.signals and v.signals.kv_usage
      if kv and v.replicas.ready > 0 then
        local need = ceil(v.replicas.ready * kv / p.kv_target - 1e-9)
        if need > want then
          want = need
          why = format("%s; kv %.2f on %d → %d at %.2f", why, kv, v.replicas.ready, need,
            p.kv_target)
        end
      end
      if want < 1 and g.queued > 0 and g.ready == 0 then
        want = 1
        why = format("%d queued at zero Ready replicas → 1", g.queued)
      end
      if g.queued > 0 and g.incoming > 0 and want < v.replicas.spec then
        want = v.replicas.spec
        why = format("%s; hold %d: %d queued wait for %d starting", why, want, g.queued,
          g.incoming)
      end
      local lo, hi = v.min or 0, v.max or math.huge
      if want > hi then want, why = hi, format("%s; capped at max %d", why, hi) end
      if want < lo then want = lo end
      local n, reason = settle(view, p, it.vs, v, want, why)
      out[v.id] = { replicas = n, reason = reason }
    end
  end
  for id, vs in pairs(state.variants) do
    if view.time - (vs.live or view.time) > 86400 then state.variants[id] = nil end
  end
  return out
end

return M
