-- policies/wva-optimizer.lua: the canned model-based optimizer, on a fake view and end to end
-- through the host (real view, real sandbox, sluice.alloc preloaded in the policy VM).
local fv = require "support.fakeview"
local model = require "sluice.model"
local opt = require "sluice.optimizer"
local support = require "support.hosttest"

local policy = dofile("policies/wva-optimizer.lua")

-- λ* of one llama-3.1-8b/h100 replica under {ttft 500 ms, itl 24 ms} for 1024/256 tokens at
-- vLLM's 256 sequences, straight from the kernel.
local LSTAR = model.max_rate(model.builtin("llama-3.1-8b/h100"),
  { max_batch = 256, in_tokens = 1024, out_tokens = 256 }, { ttft_ms = 500, itl_ms = 24 })

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

describe("policies/wva-optimizer.lua", function()
  it("is the optimizer with its defaults", function()
    assert.are.equal("wva-optimizer", policy.name)
    assert.are.same(opt.defaults, policy.params)
    assert.is_nil(policy.validate(policy.params))
    assert.matches("percentile", policy.validate({ percentile = 2 }))
  end)

  it("ticks every 15 s on Prometheus-fed signals and wakes on a queued request", function()
    assert.are.equal(15, policy.period)
    assert.are.same({ scrape_interval = 15, lag = 30, window = 60 }, policy.signals)
    assert.is_true(policy.scale_from_zero)
  end)

  it("sizes a variant at ceil(λ / λ*) and says so", function()
    local view = fv.new{
      variants = { { id = "llm/h100", model = "m", cost = 4, profile = "llama-3.1-8b/h100",
                     slo = { ttft_ms = 500, itl_ms = 24 }, replicas = { spec = 1 },
                     signals = { input_tokens_mean = 1024, output_tokens_mean = 256 } } },
      models = { m = { signals = { arrival_rate = 30 } } } }
    local d = policy.decide(view, policy.params, {})
    -- 30 / 20.0 = 1.5: 2 replicas at 4.0/h.
    assert.are.equal(2, math.ceil(30 / LSTAR))
    assert.are.same({ replicas = 2, reason = string.format(
      "λ 30.0 req/s, λ* %.1f (itl) → 2 × llm/h100 (cost 8.0/h)", LSTAR) }, d["llm/h100"])
  end)

  it("shares scarce GPUs between two models in the real sandbox", function()
    -- 4 H100 GPUs, all held by the 2 + 2 running replicas. a needs 3.5 λ* (4 replicas), b
    -- 1.5 λ* (2): the max-min split of 4 GPUs is 3 / 1 (served 0.86 and 0.67; 2 / 2 would leave
    -- a at 0.57).
    local dir = support.tmpdir()
    os.execute("mkdir -p '" .. dir .. "/policies'")
    support.write(dir .. "/policies/wva-optimizer.lua", read("policies/wva-optimizer.lua"))
    support.write(dir .. "/views.yaml", string.format([[
frames:
  - variants:
      llm/a:
        replicas: {spec: 2, ready: 2}
        pods:
          - {name: a-0, signals: {running: 10, waiting: 0, kv_usage: 0.5}}
          - {name: a-1, signals: {running: 10, waiting: 0, kv_usage: 0.5}}
      llm/b:
        replicas: {spec: 2, ready: 2}
        pods:
          - {name: b-0, signals: {running: 10, waiting: 0, kv_usage: 0.5}}
          - {name: b-1, signals: {running: 10, waiting: 0, kv_usage: 0.5}}
    models:
      a: {signals: {arrival_rate: %.17g}}
      b: {signals: {arrival_rate: %.17g}}
]], 3.5 * LSTAR, 1.5 * LSTAR))
    support.write(dir .. "/sluice.yaml", [[
interval: 1s
source: {fixture: views.yaml}
policy_dir: policies
slo_classes:
  standard: {ttft_ms: 500, itl_ms: 24}
accelerators:
  H100: {count: 4, cost: 4.0}
variants:
  - {id: llm/a, model: a, accelerator: H100, min: 0, max: 10, slo_class: standard,
     profile: llama-3.1-8b/h100}
  - {id: llm/b, model: b, accelerator: H100, min: 0, max: 10, slo_class: standard,
     profile: llama-3.1-8b/h100}
policies:
  - {file: wva-optimizer.lua, variants: [llm/a, llm/b]}
]])
    local host = require "sluice.host"
    local h = assert(host.new{ config = dir .. "/sluice.yaml", log_level = "error" })
    local o = support.by_variant(h:tick())
    h:close()
    os.execute("rm -rf '" .. dir .. "'")
    assert.are.equal(3, o["llm/a"].target)
    assert.are.equal(1, o["llm/b"].target)
    assert.is_false(o["llm/a"].held)
    assert.are.equal(string.format("λ %.1f req/s, λ* %.1f (itl) → 3 × llm/a (cost 12.0/h); "
      .. "GPU shortage: 86%% of λ served, fair share at priority 0", 3.5 * LSTAR, LSTAR),
      o["llm/a"].reason)
  end)
end)
