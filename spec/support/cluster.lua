-- A scripted cluster for driving a policy over many ticks in a spec: one variant whose replicas
-- start after a cold start, fed by a request rate that is a function of time, with the signals a
-- policy reads computed from the latency model (sluice.model.predict of a "true" profile), so a
-- policy that fits that model online sees consistent numbers. Fluid, not discrete: no request is
-- simulated; the gateway queue fills when the Ready replicas cannot keep up.
--
--   local cluster = require "support.cluster"
--   local c = cluster.new{ rate = function(t) return 50 end, replicas = 2,
--                          cold_start = function(i) return 110 end,
--                          itl_share = 0.65 }   -- need as sluice.slo sizes (else ITL at p99)
--   for _ = 1, 600 do
--     local out = policy.decide(c:view(), params, state)
--     c:apply(out); c:step()
--   end
--   c:need(c.time)        -- replicas the true model needs for the rate now
--   c.events              -- {t, from, to} of every change to spec
local fv = require "support.fakeview"
local model = require "sluice.model"

local M = {}
M.__index = M

local floor, ceil, max, min = math.floor, math.ceil, math.max, math.min

local function plain(pr)
  local t = {}
  for k, x in pairs(pr) do
    if k ~= "units" and k ~= "name" and k ~= "source" then t[k] = x end
  end
  return t
end

function M.new(o)
  local c = setmetatable({}, M)
  c.truth = plain(o.truth or model.builtin("llama-3.1-8b/h100"))
  c.max_batch = o.max_batch or 256
  c.in_tokens, c.out_tokens = o.in_tokens or 1155, o.out_tokens or 211
  c.slo = o.slo or { ttft_ms = 500, itl_ms = 24 }
  c.percentile = o.percentile or 0.99
  c.rate = assert(o.rate, "cluster.new: rate function required")
  c.cold_start = o.cold_start or function() return 110 end
  c.time = o.t0 or 0
  c.period = o.period or 1
  c.window = o.window or 30
  c.kv_capacity = o.kv_capacity or 440000
  c.variant = o.variant or {}
  c.id = c.variant.id or "llm/a"
  c.model = c.variant.model or "meta-llama/Llama-3.1-8B-Instruct"
  c.shape = { max_batch = c.max_batch, in_tokens = c.in_tokens, out_tokens = c.out_tokens }
  -- Per replica within the SLO: TTFT at the percentile, and ITL at the percentile or, with
  -- itl_share, the mean ITL within that share of the target (as sluice.slo sizes).
  if o.itl_share then
    local a = model.max_rate(c.truth, c.shape, { ttft_ms = c.slo.ttft_ms,
      percentile = c.percentile })
    local b = model.max_rate(c.truth, c.shape, { itl_ms = c.slo.itl_ms * o.itl_share })
    c.max_rate = min(a, b)
  else
    c.max_rate = model.max_rate(c.truth, c.shape, { ttft_ms = c.slo.ttft_ms,
      itl_ms = c.slo.itl_ms, percentile = c.percentile })
  end
  c.limit = model.max_rate(c.truth, c.shape)       -- per replica stability limit
  c.intake = 0.95 * c.limit                        -- most a replica takes from the gateway
  c.pods, c.started, c.spec = {}, 0, 0
  c.queue = 0
  c.hist, c.hist_n = {}, 0                         -- per-tick rates, for windowed gateway rates
  c.events = {}
  c.cache = {}
  c.tick = 0
  c:set_spec(o.replicas or 1, true)
  return c
end

function M:need(t)
  return max(0, ceil(self.rate(t) / self.max_rate - 1e-9))
end

function M:ready()
  local n = 0
  for _, p in ipairs(self.pods) do
    if p.phase == "ready" then n = n + 1 end
  end
  return n
end

-- Adds pods (cold starts from the script) or removes them (not-Ready ones first, then the newest).
function M:set_spec(n, warm)
  local old = self.spec
  if n == old then return end
  if not warm then
    self.events[#self.events + 1] = { t = self.time, from = old, to = n, reason = self.reason }
  end
  self.spec = n
  while #self.pods < n do
    self.started = self.started + 1
    local p = { name = string.format("a-%d", self.started), phase = warm and "ready" or "starting" }
    if not warm then p.ready_at = self.time + self.cold_start(self.started) end
    self.pods[#self.pods + 1] = p
  end
  while #self.pods > n do
    local drop
    for i = #self.pods, 1, -1 do
      if self.pods[i].phase ~= "ready" then drop = i break end
    end
    table.remove(self.pods, drop or #self.pods)
  end
end

function M:apply(out)
  local d = out and out[self.id]
  if d then
    self.reason = d.reason
    self:set_spec(d.replicas)
  end
end

local function predict(self, rho)
  local key = floor(rho * 200 + 0.5)
  local p = self.cache[key]
  if not p then
    p = model.predict(self.truth, self.shape, max(key / 200, 1e-3), self.percentile)
    self.cache[key] = p
  end
  return p
end

-- Mean of the per-tick rates over the last `win` seconds.
function M:window_rate(win)
  local n = min(self.hist_n, max(1, floor(win / self.period + 0.5)))
  if n == 0 then return nil end
  local sum = 0
  for i = self.hist_n - n + 1, self.hist_n do sum = sum + self.hist[(i - 1) % 4096 + 1] end
  return sum / n
end

function M:view()
  local lambda = self.rate(self.time)
  self.hist_n = self.hist_n + 1
  self.hist[(self.hist_n - 1) % 4096 + 1] = lambda
  local n = self:ready()
  local served, signals = 0, {}
  if n > 0 then
    -- What the gateway hands the replicas: arrivals plus what it held, up to what they take
    -- before the gateway's saturation detector holds the rest (just short of their limit, where
    -- the engines' own queues would grow without bound).
    local rho = min((lambda + self.queue / self.period) / n, self.intake)
    served = rho * n
    local p = predict(self, rho)
    signals = {
      request_rate = served, running = p.in_service * n,
      waiting = max(p.in_system - p.in_service, 0) * n,
      kv_usage = min(p.in_service * (self.in_tokens + self.out_tokens / 2) / self.kv_capacity, 1),
      kv_capacity_tokens = self.kv_capacity * n,
      input_tokens_mean = self.in_tokens, output_tokens_mean = self.out_tokens,
      ttft_mean = p.ttft_ms / 1000, itl_mean = p.itl_ms / 1000,
      ttft_p99 = p.ttft_p_ms / 1000, itl_p99 = p.itl_p_ms / 1000,
    }
    if rho <= 0.001 then
      signals.request_rate, signals.running, signals.waiting, signals.kv_usage = 0, 0, 0, 0
    end
  end
  -- The gateway holds what the Ready replicas cannot take and hands it back when they can.
  self.queue = max(0, self.queue + (lambda - served) * self.period)
  local pods = {}
  for i, p in ipairs(self.pods) do
    pods[i] = { name = p.name, phase = p.phase, signals = p.phase == "ready" and {
      kv_usage = signals.kv_usage, running = signals.running and signals.running / n,
      waiting = signals.waiting and signals.waiting / n } or {} }
  end
  local starting = #self.pods - n
  local v = {}
  for k, x in pairs(self.variant) do v[k] = x end
  v.id, v.model = self.id, self.model
  v.accelerator = v.accelerator or "H100"
  v.min, v.max = v.min or 0, v.max or 100
  v.slo = v.slo or self.slo
  v.engine = { max_num_seqs = self.max_batch, max_num_batched_tokens = 8192, block_size = 16 }
  v.replicas = { spec = self.spec, ready = n, starting = starting, pending = 0 }
  v.signals = signals
  v.pods = pods
  local view = fv.new{
    time = self.time, tick = self.tick + 1, period = self.period, window = self.window,
    variants = { v },
    models = { [self.model] = { signals = { arrival_rate = self:window_rate(self.window),
      queue_size = floor(self.queue), ready_endpoints = n,
      inflight_tokens = ((signals.running or 0) + (signals.waiting or 0)) * self.in_tokens } } },
  }
  local cl = self
  function view:rate(x, counter, win)
    if counter == "gateway_requests" then return cl:window_rate(win) end
    return nil
  end
  return view
end

-- Advances time by one period: pods whose cold start is over become Ready.
function M:step()
  self.time = self.time + self.period
  self.tick = self.tick + 1
  for _, p in ipairs(self.pods) do
    if p.phase == "starting" and p.ready_at <= self.time then p.phase = "ready" end
  end
end

-- Runs policy.decide over [time, until) and calls check(c, out) after every tick when given.
function M:run(policy, params, state, till, check)
  while self.time < till do
    local out = policy.decide(self:view(), params, state)
    self:apply(out)
    if check then check(self, out) end
    self:step()
  end
end

return M
