-- Every canned policy through the real host and view (userdata proxies, the sandbox, the
-- kernels inside the VM) on a fixture: each decides every variant without failing, and the
-- baselines' "auto" target really comes from sluice.model with the variant's SLO and profile.
local support = require "support.hosttest"

local fixture = [[
frames:
  - variants:
      llm/h100:
        replicas: {spec: 2}
        signals: {input_tokens_mean: 1024, output_tokens_mean: 256, request_rate: 30}
        pods:
          - {name: h-0, signals: {running: 150, waiting: 3, kv_usage: 0.6, kv_capacity_tokens: 440000}}
          - {name: h-1, signals: {running: 160, waiting: 5, kv_usage: 0.7, kv_capacity_tokens: 440000}}
      llm/a100:
        replicas: {spec: 1}
        pods:
          - {name: a-0, signals: {running: 40, waiting: 0, kv_usage: 0.3, kv_capacity_tokens: 200000}}
    models:
      meta-llama/Llama-3.1-8B: {signals: {queue_size: 2, arrival_rate: 31}}
]]

local function run(policy)
  local dir = support.tmpdir()
  support.write(dir .. "/views.yaml", fixture)
  support.write(dir .. "/sluice.yaml", string.format([[
source: {fixture: views.yaml}
slo_classes: {standard: {ttft_ms: 500, itl_ms: 24}}
accelerators: {H100: {count: 8, cost: 4.0}, A100: {count: 8, cost: 2.2}}
variants:
  - {id: llm/h100, model: meta-llama/Llama-3.1-8B, accelerator: H100, min: 1, max: 8,
     slo_class: standard, profile: llama-3.1-8b/h100,
     tokens: {input: 1500, output: 200, input_cv: 0.9, output_cv: 0.8}}
  - {id: llm/a100, model: meta-llama/Llama-3.1-8B, accelerator: A100, min: 1, max: 8,
     slo_class: standard, profile: llama-3.1-8b/h100}
policies: [%s]
]], policy))
  local h, err = require("sluice.host").new{ config = dir .. "/sluice.yaml", log_level = "error" }
  assert(h, err)
  local o = support.by_variant(h:tick())
  local info = h:policies()[1]
  h:close()
  return o, info
end

describe("canned policies in the real host", function()
  for _, name in ipairs({ "hpa", "keda", "wva", "wva-optimizer", "target", "slo", "igw-queue",
                          "{file: static, params: {replicas: 3}}" }) do
    it(name .. " decides every variant without failing", function()
      local o, info = run(name)
      assert.are.equal(0, info.failures)
      for _, id in ipairs({ "llm/h100", "llm/a100" }) do
        assert.is_not_nil(o[id], id)
        assert.is_false(o[id].reason:find("policy failed") ~= nil, o[id].reason)
      end
    end)
  end

  it("static holds its count; by_variant gives one variant its own; auto needs sluice sim",
    function()
    local o = run('{file: static, params: {replicas: 3, by_variant: "llm/a100=5"}}')
    assert.are.equal(3, o["llm/h100"].target)
    assert.are.equal(5, o["llm/a100"].target)
    local _, info = run("static")
    assert.are.equal(1, info.failures)
  end)

  it("hpa's auto target is the concurrency at 0.8 x the SLO rate for the declared token mix",
    function()
    -- llm/h100 declares its mix (v.tokens through the real view), llm/a100 none: 1024/256, said.
    local model = require "sluice.model"
    local prof = model.builtin("llama-3.1-8b/h100")
    local function target(shape)
      local rate = assert(model.max_rate(prof, shape, { ttft_ms = 500, itl_ms = 24 }))
      return require("sluice.hpa").num(model.predict(prof, shape, 0.8 * rate).in_service)
    end
    local o = run("hpa")
    assert.is_nil(o["llm/h100"].reason:find("auto:"), o["llm/h100"].reason)
    assert.matches(target{ max_batch = 256, in_tokens = 1500, out_tokens = 200, in_cv = 0.9,
      out_cv = 0.8 }, o["llm/h100"].reason, 1, true)
    assert.matches("auto: no token mix declared", o["llm/a100"].reason, 1, true)
    assert.matches(target{ max_batch = 256, in_tokens = 1024, out_tokens = 256 },
      o["llm/a100"].reason, 1, true)
  end)
end)
