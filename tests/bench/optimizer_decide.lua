-- Cost of one wva-optimizer decide() tick with the JIT off (as in policy VMs): 4 models x 2
-- variants (H100 and A100) under a limited GPU inventory, with the token mix drifting a little
-- each tick. "cached" is the default 32-point token grid (λ* searched once per grid point);
-- "uncached" is an exact grid with a mix that moves every tick, so every tick searches λ* for
-- all 8 variants. The difference is the cost the λ* cache saves.
package.path = "lua/?.lua;spec/?.lua;" .. package.path
package.cpath = (os.getenv("BUILD") or "build") .. "/?.so;" .. package.cpath
if jit then jit.off() end
local fv = require "support.fakeview"
local model = require "sluice.model"
local opt = require "sluice.optimizer"

-- Count the searches the policy makes.
local searches, max_rate = 0, model.max_rate
model.max_rate = function(...)
  searches = searches + 1
  return max_rate(...)
end

local function fleet(t)
  local variants, models = {}, {}
  for m = 1, 4 do
    local model = "model-" .. m
    models[model] = { signals = { arrival_rate = 40 + 30 * m + 5 * math.sin(t / 7) } }
    for k, acc in ipairs({ "H100", "A100" }) do
      variants[#variants + 1] = {
        id = string.format("llm/m%d-%s", m, acc), model = model, accelerator = acc,
        cost = k == 1 and 4 or 2.2, min = 0, max = 40, priority = m % 2,
        profile = k == 1 and "llama-3.1-8b/h100" or "llama-3.1-8b/h100:4p",
        slo = { ttft_ms = 500, itl_ms = 24 }, replicas = { spec = 3, ready = 3 },
        signals = { request_rate = 30, input_tokens_mean = 1000 + (t % 5) + t / 1000,
                    output_tokens_mean = 250 + (t % 3) },
      }
    end
  end
  return fv.new{ time = 15 * t, variants = variants, models = models,
    inventory = { H100 = { total = 40, used = 12, cost = 4 }, A100 = { total = 24, used = 12,
                                                                         cost = 2.2 } } }
end

local ticks = 200
for _, case in ipairs({ { "cached", { token_grid = 32 } }, { "uncached", { token_grid = 0 } } }) do
  local views = {}
  for t = 1, ticks do views[t] = fleet(t) end
  local state = {}
  searches = 0
  local t0 = os.clock()
  for t = 1, ticks do opt.decide(views[t], case[2], state) end
  local ms = (os.clock() - t0) * 1000 / ticks
  print(string.format("wva-optimizer %-8s 4 models x 2 variants: %.3f ms per tick (%d ticks, "
    .. "JIT off, %d λ* searches)", case[1], ms, ticks, searches))
end
