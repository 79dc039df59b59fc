-- Cost of one wva decide() tick with the JIT off (as in policy VMs), V1 and V2 with and without
-- the GPU limiter, on a fleet of 4 models x 2 variants x 25 Ready pods, 200 pods in all.
package.path = "lua/?.lua;spec/?.lua;" .. package.path
if jit then jit.off() end
local fv = require "support.fakeview"
local wva = require "sluice.wva"

local function fleet(time)
  local variants, models = {}, {}
  for m = 1, 4 do
    local model = "model-" .. m
    models[model] = { signals = { queue_size = 20, queue_bytes = 80000 } }
    for k = 1, 2 do
      local id = string.format("llm/m%d-v%d", m, k)
      local pods = {}
      for i = 1, 25 do
        pods[i] = { name = id:sub(5) .. "-" .. i, signals = { kv_usage = 0.3 + 0.02 * (i % 20),
          waiting = i % 4, kv_capacity_tokens = 160000 } }
      end
      variants[#variants + 1] = { id = id, model = model, cost = 10 * k, accelerator = "H100",
        replicas = { spec = 25, ready = 25 }, max = 200,
        signals = { input_tokens_mean = 512, output_tokens_mean = 256, request_rate = 30 },
        pods = pods }
    end
  end
  return fv.new{ time = time, variants = variants, models = models,
    inventory = { H100 = { total = 400, cost = 3 } } }
end

local ticks = 400
for _, case in ipairs({ { "v2", { version = 2 } }, { "v2 limiter", { version = 2, limiter = true } },
    { "v1", { version = 1 } }, { "v1 limiter", { version = 1, limiter = true } } }) do
  local views = {}
  for t = 1, ticks do views[t] = fleet(15 * t) end
  local state = {}
  local t0 = os.clock()
  for t = 1, ticks do wva.decide(views[t], case[2], state) end
  local ms = (os.clock() - t0) * 1000 / ticks
  print(string.format("wva %-10s 200 pods: %.3f ms per tick (%d ticks, JIT off)", case[1], ms,
    ticks))
end
