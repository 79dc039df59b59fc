local wv = require "support.wvaview"
local wva = require "sluice.wva"
local variant, view_of = wv.variant, wv.view_of
local inputs = require "sluice.wva_inputs"

local V1 = { version = 1 }

describe("wva inputs", function()
  it("reads each pod's KV usage as its maximum over the last minute", function()
    -- t=100: 0.75 and 0.50. t=130: 0.60 and 0.72. One-minute maxima 0.75 and 0.72, spares 0.05
    -- and 0.08, mean 0.065 < 0.10: +1. The latest values alone (spares 0.20, 0.08, mean 0.14)
    -- would hold.
    local state = {}
    wva.decide(view_of({ variant("llm/a", { kv = { 0.75, 0.50 } }) }, { time = 100 }), V1, state)
    local d = wva.decide(view_of({ variant("llm/a", { kv = { 0.60, 0.72 } }) }, { time = 130 }), V1,
      state)
    assert.are.equal(3, d["llm/a"].replicas)
    -- At t=161 the t=100 sample is outside (101, 161]: mean spare 0.14, hold.
    state = {}
    wva.decide(view_of({ variant("llm/a", { kv = { 0.75, 0.50 } }) }, { time = 100 }), V1, state)
    d = wva.decide(view_of({ variant("llm/a", { kv = { 0.60, 0.72 } }) }, { time = 161 }), V1,
      state)
    assert.are.equal(2, d["llm/a"].replicas)
  end)

  it("reads token lengths as 5-minute rate ratios when the view has them", function()
    -- 4 req/s, 4 096 prompt tokens/s, 1 024 generated/s: I = 1 024, O = 256. Derived k2:
    -- N = min(8192 x 256 / 1280 = 1638.4, 256) = 256, k2 = 256 x 1152 = 294 912 > k1: 128 000.
    -- Demand with 1 waiting: 0.5 x 160 000 + 1 x 1 280 = 81 280.
    local v = variant("llm/a", { kv = { 0.5 }, q = { 1 }, signals = {} })
    local view = view_of({ v }, { rates = { ["llm/a"] = { requests = 4, prompt_tokens = 4096,
      generation_tokens = 1024 } } })
    local a = wva.analyze(view, nil, {})
    assert.are.equal(81280, a.m.vcs[1].demand)
  end)
end)

describe("wva inputs, stage by stage", function()
  local function times(h)
    local out = {}
    for i, s in ipairs(h or {}) do out[i] = s.t end
    return out
  end

  it("observe_pods keeps each Ready pod's samples for the window, once per sample time",
    function()
      local state = { pods = {} }
      local view = view_of({ variant("llm/a", { kv = { 0.4 } }) }, { time = 100 })
      inputs.observe_pods(view, state, 60)
      inputs.observe_pods(view, state, 60)            -- the same sample seen twice
      assert.are.same({ 100 }, times(state.pods["llm/a#a-1"]))
      inputs.observe_pods(view_of({ variant("llm/a", { kv = { 0.5 } }) }, { time = 130 }), state,
        60)
      assert.are.same({ 100, 130 }, times(state.pods["llm/a#a-1"]))
      -- At t=161 the window is (101, 161]: the t=100 sample falls out.
      inputs.observe_pods(view_of({ variant("llm/a", { kv = { 0.5 } }) }, { time = 161 }), state,
        60)
      assert.are.same({ 130, 161 }, times(state.pods["llm/a#a-1"]))
    end)

  it("observe_pods stamps a sample with the time it was taken: view time less the pod's age",
    function()
      local state = { pods = {} }
      local v = variant("llm/a", { kv = { 0.4, 0.6 } })
      v.pods[1].age, v.pods[2].age = 20, 70
      inputs.observe_pods(view_of({ v }, { time = 100 }), state, 60)
      -- a-1 sampled at 80, inside (40, 100]; a-2 at 30, already outside: not kept.
      assert.are.same({ 80 }, times(state.pods["llm/a#a-1"]))
      assert.is_nil(state.pods["llm/a#a-2"])
    end)

  it("observe_pods drops a deleted pod's history at once and never records a pod not Ready",
    function()
      local state = { pods = {} }
      inputs.observe_pods(view_of({ variant("llm/a", { kv = { 0.4, 0.6 } }) }, { time = 100 }),
        state, 60)
      assert.is_not_nil(state.pods["llm/a#a-2"])
      -- a-2 is gone from the view 10 s later, well inside the window; a starting pod appears.
      inputs.observe_pods(view_of({ variant("llm/a", { kv = { 0.4 }, starting = 1 }) },
        { time = 110 }), state, 60)
      assert.is_nil(state.pods["llm/a#a-2"])
      assert.is_nil(state.pods["llm/a#a-s1"])
      assert.are.same({ 100, 110 }, times(state.pods["llm/a#a-1"]))
    end)

  it("replica_metrics is each pod's maximum KV usage and queue over the window, by pod name",
    function()
      local v = variant("llm/a", { kv = { 0, 0 } })
      local state = { pods = {
        ["llm/a#a-2"] = { { t = 950, kv = 0.9, q = 9 }, { t = 980, kv = 0.3, q = 4 },
                          { t = 1000, kv = 0.5, q = 1 } },
        ["llm/a#a-1"] = { { t = 1000, kv = 0.2 } },
      } }
      -- Window (940, 1000] holds every sample of a-2: maxima 0.9 and 9. A pod without a queue
      -- sample reads 0 waiting.
      local reps = inputs.replica_metrics(view_of({ v }), state, v, 60)
      assert.are.same({ { pod = "a-1", kv = 0.2, q = 0, capacity = 160000 },
                        { pod = "a-2", kv = 0.9, q = 9, capacity = 160000 } }, reps)
      -- Window (960, 1000]: the t=950 sample no longer counts.
      reps = inputs.replica_metrics(view_of({ v }), state, v, 40)
      assert.are.same({ pod = "a-2", kv = 0.5, q = 4, capacity = 160000 }, reps[2])
    end)

  it("replica_metrics leaves out a pod with a queue but no KV usage (no replica metrics in WVA)",
    function()
      local v = variant("llm/a", { kv = { 0, 0 } })
      local state = { pods = { ["llm/a#a-1"] = { { t = 1000, q = 3 } },
                               ["llm/a#a-2"] = { { t = 1000, kv = 0.1, q = 0 } } } }
      local reps = inputs.replica_metrics(view_of({ v }), state, v, 60)
      assert.are.equal(1, #reps)
      assert.are.equal("a-2", reps[1].pod)
    end)

  it("token_shape divides token rates by the request rate, and the prefix hits by the queries",
    function()
      local v = variant("llm/a", { signals = { input_tokens_mean = 1, output_tokens_mean = 1,
        prefix_hit_rate = 0.9 } })
      local view = view_of({ v }, { rates = { ["llm/a"] = { requests = 2, prompt_tokens = 2000,
        generation_tokens = 600, prefix_queries = 100, prefix_hits = 25 } } })
      assert.are.same({ 1000, 300, 0.25 },
        { inputs.token_shape(view, view.variants["llm/a"], 300) })
    end)

  it("token_shape falls back to the view's means without a request rate, else to 0", function()
    local v = variant("llm/a", { signals = { input_tokens_mean = 700, output_tokens_mean = 90,
      prefix_hit_rate = 0.4 } })
    local view = view_of({ v }, { rates = { ["llm/a"] = { requests = 0, prompt_tokens = 5 } } })
    assert.are.same({ 700, 90, 0.4 }, { inputs.token_shape(view, view.variants["llm/a"], 300) })
    view = view_of({ variant("llm/b", { signals = {} }) })
    assert.are.same({ 0, 0, 0 }, { inputs.token_shape(view, view.variants["llm/b"], 300) })
  end)

  it("model_groups groups variants by model, models in name order, variants in view order",
    function()
      local view = view_of({
        variant("llm/a", { model = "m2" }), variant("llm/c", { model = "m1" }),
        variant("llm/b", { model = "m1" }),
      })
      local got = {}
      for i, g in ipairs(inputs.model_groups(view)) do
        local ids = {}
        for j, v in ipairs(g.variants) do ids[j] = v.id end
        got[i] = { g.model, ids }
      end
      assert.are.same({ { "m1", { "llm/b", "llm/c" } }, { "m2", { "llm/a" } } }, got)
    end)

  it("observe_activity stamps a model busy on arrivals, running, waiting or its gateway queue",
    function()
      local state = { active = {} }
      local function at(t, signals, gateway)
        local view = view_of({ variant("llm/a", { signals = signals }) },
          { time = t, models = { m = { signals = gateway or {} } } })
        inputs.observe_activity(view, state, inputs.model_groups(view))
        return state.active.m
      end
      -- A model seen for the first time counts as active then, so that it is not zeroed at once.
      assert.are.equal(1000, at(1000, {}))
      assert.are.equal(1000, at(1100, {}))
      assert.are.equal(1200, at(1200, { request_rate = 0.5 }))
      assert.are.equal(1300, at(1300, { running = 1 }))
      assert.are.equal(1400, at(1400, { waiting = 2 }))
      assert.are.equal(1500, at(1500, {}, { queue_size = 1 }))
      assert.are.equal(1600, at(1600, {}, { running = 3 }))
      assert.are.equal(1600, at(1700, {}, { queue_size = 0, running = 0 }))
    end)

  it("gpu_available is each type's total less spec replicas x GPUs per replica, never below 0",
    function()
      local view = view_of({
        variant("llm/a", { spec = 2, gpus = 2, accelerator = "H100" }),
        variant("llm/b", { spec = 3, accelerator = "A100" }),
      }, { inventory = { H100 = { total = 8 }, A100 = { total = 2 } } })
      -- H100: 8 - 2 x 2 = 4. A100: 2 - 3 x 1 < 0, so 0.
      assert.are.same({ H100 = 4, A100 = 0 },
        inputs.gpu_available(view, inputs.model_groups(view)))
    end)

  it("gpu_available leaves out types with no known count, and is nil when none has one",
    function()
      local vs = { variant("llm/a", { spec = 1, accelerator = "H100" }) }
      local view = view_of(vs, { inventory = { H100 = { total = 0, used = 5 } } })
      assert.is_nil(inputs.gpu_available(view, inputs.model_groups(view)))
      view = view_of(vs, { inventory = { H100 = { total = 0 }, A100 = { total = 4 } } })
      assert.are.same({ A100 = 4 }, inputs.gpu_available(view, inputs.model_groups(view)))
    end)

  it("reads a variant's GPUs per replica as 1 when it gives none or a count below 1", function()
    assert.are.equal(1, inputs.gpus_of({}))
    assert.are.equal(1, inputs.gpus_of({ gpus_per_replica = 0 }))
    assert.are.equal(4, inputs.gpus_of({ gpus_per_replica = 4 }))
  end)

  it("reads the engine settings as given, with the defaults for what a variant does not give",
    function()
      assert.are.same({ 2048, 64, 32 }, { inputs.engine_params({ engine = {
        max_num_batched_tokens = 2048, max_num_seqs = 64, block_size = 32 } }) })
      local B, S = inputs.engine_params({})
      assert.are.same({ inputs.DEFAULT_BATCHED_TOKENS, inputs.DEFAULT_MAX_SEQS }, { B, S })
    end)
end)
