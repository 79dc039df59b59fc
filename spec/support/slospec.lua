-- Fixtures shared by the specs of sluice.slo and its stages (spec/lua/sluice/slo*_spec.lua):
-- one Llama-3.1-8B variant on H100 at 1155/211 tokens behind a gateway, and the rate one replica
-- carries within the SLO from the kernel the policy sizes with.
--
--   local ss = require "support.slospec"
--   local d = slo.decide(ss.view_at(0, 4.7 * ss.PER), ss.params{ up_delay = 0 }, {})
local fv = require "support.fakeview"
local slo = require "sluice.slo"
local model = require "sluice.model"
local profiles = require "sluice.profiles"

local M = {}

local MODEL = "meta-llama/Llama-3.1-8B-Instruct"
local SLO = { ttft_ms = 500, itl_ms = 24 }

-- What one replica carries within `target` for 1155/211-token requests under the built-in
-- profile `name`, from the kernel the policy sizes with (`sluice plan --perf NAME --max-batch 256
-- --in 1155 --out 211 ...`). The sizing tests put their rates in these units, so they test the
-- policy's arithmetic, not the kernel's calibration.
-- Like the policy, it asks the kernel at the centres of the buckets (slo.grid) the tokens and
-- targets fall in.
local memo = require "sluice.memo"
local function kernel_rate(name, target)
  local pr = profiles.plain(model.builtin(name))
  local _, I = memo.bucket(1155, slo.grid.tokens)
  local _, O = memo.bucket(211, slo.grid.tokens)
  local t = {}
  for k, x in pairs(target) do
    t[k] = (k == "percentile") and x or select(2, memo.bucket(x, slo.grid.targets))
  end
  local r = model.max_rate(pr, { max_batch = 256, in_tokens = I, out_tokens = O }, t)
  return r
end
local H100 = "llama-3.1-8b/h100"
-- The default SLO binds where the lower of the p99 TTFT and itl_share x the ITL target does.
local function per_replica(itl_share, ttft_ms)
  return math.min(kernel_rate(H100, { ttft_ms = ttft_ms or 500, percentile = 0.99 }),
    kernel_rate(H100, { itl_ms = 24 * itl_share }))
end
local PER = per_replica(slo.defaults.itl_share)

local function params(over)
  local p = {}
  for k, v in pairs(slo.defaults) do p[k] = v end
  for k, v in pairs(over or {}) do p[k] = v end
  return p
end

-- One variant of Llama-3.1-8B on H100 serving 1155-token prompts and 211-token outputs, with
-- `rate` req/s arriving at the gateway; `o` overrides the variant's fields.
local function view_at(t, rate, o)
  o = o or {}
  local v = {
    id = "llm/a", model = MODEL, accelerator = "H100", slo = SLO, min = 0, max = 100,
    replicas = o.replicas or { spec = 2, ready = 2 },
    signals = o.signals or { input_tokens_mean = 1155, output_tokens_mean = 211 },
    pods = o.pods,
  }
  for k, x in pairs(o.variant or {}) do v[k] = x end
  return fv.new{
    time = t, period = 1, window = 30, variants = { v },
    models = { [MODEL] = { signals = { queue_size = o.queue or 0 } } },
    rates = { [MODEL] = { gateway_requests = rate } },
    inventory = o.inventory,
    quantiles = o.quantiles and { [v.id] = o.quantiles },
  }
end

M.MODEL, M.SLO, M.H100, M.PER = MODEL, SLO, H100, PER
M.kernel_rate, M.per_replica, M.params, M.view_at = kernel_rate, per_replica, params, view_at

return M
