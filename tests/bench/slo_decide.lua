-- Cost of one decide() tick of the slo and igw-queue policies with the JIT off (as in policy VMs),
-- on a fleet of 4 models x 2 variants x 25 Ready pods, after a warm-up that fills the forecast's
-- history, the cold-start samples and the latency fits. The kernels (sluice.model) are the real
-- C ones from the build.
local build = os.getenv("BUILD") or "build"
package.path = "lua/?.lua;spec/?.lua;" .. package.path
package.cpath = build .. "/?.so;" .. package.cpath
if jit then jit.off() end
local fv = require "support.fakeview"
local slo = require "sluice.slo"
local igw = require "sluice.igw"

local function fleet(time)
  local variants, models, rates = {}, {}, {}
  for m = 1, 4 do
    local model = "meta-llama/Llama-3.1-8B-Instruct-" .. m
    local rate = 300 + 50 * math.sin(time / 600 + m)
    models[model] = { signals = { queue_size = 0, inflight_tokens = 250000, arrival_rate = rate } }
    rates[model] = { gateway_requests = rate }
    for k = 1, 2 do
      local id = string.format("llm/m%d-v%d", m, k)
      local pods = {}
      for i = 1, 25 do
        pods[i] = { name = id:sub(5) .. "-" .. i, signals = { kv_usage = 0.3, waiting = 0,
          running = 40 } }
      end
      variants[#variants + 1] = { id = id, model = model, cost = 10 * k,
        accelerator = k == 1 and "H100" or "A100", profile = "llama-3.1-8b/h100",
        slo = { ttft_ms = 500, itl_ms = 24 }, replicas = { spec = 25, ready = 25 }, max = 200,
        signals = { input_tokens_mean = 1100, output_tokens_mean = 220, request_rate = rate / 2,
          ttft_mean = 0.06, itl_mean = 0.013, ttft_p99 = 0.2, running = 1000, waiting = 2,
          kv_usage = 0.3 },
        pods = pods }
    end
  end
  return fv.new{ time = time, period = 1, window = 30, variants = variants, models = models,
    rates = rates, inventory = { H100 = { total = 400, cost = 4 }, A100 = { total = 400,
    cost = 2.2 } } }
end

local function bench(name, mod)
  local warm, ticks = 1200, 600
  local state = {}
  for t = 1, warm do mod.decide(fleet(t), {}, state) end
  local views = {}
  for t = 1, ticks do views[t] = fleet(warm + t) end
  local t0 = os.clock()
  for t = 1, ticks do mod.decide(views[t], {}, state) end
  local ms = (os.clock() - t0) * 1000 / ticks
  print(string.format("%-9s 8 variants, 200 pods: %.3f ms per tick (%d ticks after %d, JIT off)",
    name, ms, ticks, warm))
end

bench("slo", slo)
bench("igw-queue", igw)
