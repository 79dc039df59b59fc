-- Fake views for the specs of sluice.wva and its stages (spec/lua/sluice/wva*_spec.lua).
--
--   local wv = require "support.wvaview"
--   local view = wv.view_of({ wv.variant("llm/a", { kv = { 0.5, 0.7 }, q = { 0, 2 } }) },
--     { time = 1000, models = { m = { signals = { queue_size = 3 } } } })
local fv = require "support.fakeview"

local M = {}

-- A variant whose Ready pods report the given KV usages (and queue lengths, default 0), plus
-- `starting` pods that do not report yet. Token shape defaults to 512 prompt / 256 generated.
function M.variant(id, o)
  local short = id:match("/(.*)$")
  local pods = {}
  for i, kv in ipairs(o.kv or {}) do
    pods[i] = { name = short .. "-" .. i, signals = { kv_usage = kv, waiting = o.q and o.q[i] or 0,
      kv_capacity_tokens = o.capacity or 160000 } }
  end
  local ready = #pods
  for i = 1, o.starting or 0 do
    pods[#pods + 1] = { name = short .. "-s" .. i, phase = "starting", signals = {} }
  end
  return {
    id = id, model = o.model or "m", cost = o.cost or 10, role = o.role, min = o.min, max = o.max,
    accelerator = o.accelerator, gpus_per_replica = o.gpus, engine = o.engine,
    replicas = { spec = o.spec or (ready + (o.starting or 0)), ready = ready,
      starting = o.starting or 0 },
    signals = o.signals or { input_tokens_mean = 512, output_tokens_mean = 256 },
    pods = pods,
  }
end

function M.view_of(variants, extra)
  local spec = { time = (extra and extra.time) or 1000, variants = variants }
  for k, x in pairs(extra or {}) do spec[k] = x end
  return fv.new(spec)
end

-- Two models, one variant each: 2 replicas of 125 000 KV tokens at 50% (62 500 each),
-- capacity 100 000, supply 200 000. Gateway 100 queued (generated 100 x 256 = 25 600):
--   ma: 1 199 600 bytes -> 299 900 prompt tokens: demand 125 000 + 325 500 = 450 500,
--       RC = 530 000 - 200 000 = 330 000.
--   mb: 485 600 bytes -> 121 400: demand 272 000, RC = 320 000 - 200 000 = 120 000.
-- `total` H100 GPUs in the inventory, 4 of them held by the two variants.
function M.two_models(total)
  return M.view_of({
    M.variant("llm/a", { model = "ma", kv = { 0.5, 0.5 }, capacity = 125000 }),
    M.variant("llm/b", { model = "mb", kv = { 0.5, 0.5 }, capacity = 125000 }),
  }, {
    models = { ma = { signals = { queue_size = 100, queue_bytes = 1199600 } },
               mb = { signals = { queue_size = 100, queue_bytes = 485600 } } },
    inventory = { H100 = { total = total, cost = 3 } },
  })
end

return M
