-- sluice.optimizer: WVA's model-based optimizer. Expected replica counts come from λ* computed
-- here straight from sluice.model and from counting by hand; the allocator's choices are checked
-- against costs worked out in the comments.
local fv = require "support.fakeview"
local model = require "sluice.model"
local opt = require "sluice.optimizer"

local PROFILE = "llama-3.1-8b/h100"
local SLO = { ttft_ms = 500, itl_ms = 24 }
local MIX = { in_tokens = 1024, out_tokens = 256 }

-- λ* of one replica straight from the kernel, for the mix above and vLLM's 256 sequences.
local function star(profile, slo)
  local r, limit = model.max_rate(model.builtin(profile or PROFILE),
    { max_batch = 256, in_tokens = MIX.in_tokens, out_tokens = MIX.out_tokens }, slo or SLO)
  return r, limit
end

-- Exact token mixes (no bucketing) so the kernel's λ* above is the policy's.
local function params(over)
  local p = {}
  for k, v in pairs(opt.defaults) do p[k] = v end
  p.token_grid = 0
  for k, v in pairs(over or {}) do p[k] = v end
  return p
end

-- A variant of model "m" serving the mix above, with a profile and the SLO class; NONE in
-- `over` removes a field.
local NONE = {}
local function variant(id, over)
  local v = {
    id = id, model = "m", accelerator = "H100", cost = 4, min = 0, max = 16,
    profile = PROFILE, slo = { ttft_ms = SLO.ttft_ms, itl_ms = SLO.itl_ms },
    replicas = { spec = 1, ready = 1 },
    signals = { input_tokens_mean = MIX.in_tokens, output_tokens_mean = MIX.out_tokens },
  }
  for k, x in pairs(over or {}) do
    if x == NONE then v[k] = nil else v[k] = x end
  end
  return v
end

local function decide(spec, p, state)
  return opt.decide(fv.new(spec), params(p), state or {})
end

describe("sluice.optimizer", function()
  local lstar = star()

  describe("a single-variant model", function()
    it("runs ceil(λ / λ*) replicas", function()
      -- λ* ≈ 20.0 req/s (ITL binds at 256 sequences): 30 needs 2, 2.5 λ* needs 3, 0.9 λ* 1.
      for _, case in ipairs({ { 30, 2 }, { 2.5 * lstar, 3 }, { 0.9 * lstar, 1 },
                              { 1.999 * lstar, 2 }, { 2.001 * lstar, 3 } }) do
        local d = decide{ variants = { variant("llm/h100") },
                          models = { m = { signals = { arrival_rate = case[1] } } } }
        assert.are.equal(case[2], d["llm/h100"].replicas)
      end
    end)

    it("names λ, λ*, the binding limit and the placement with its cost", function()
      local d = decide{ variants = { variant("llm/h100") },
                        models = { m = { signals = { arrival_rate = 30 } } } }
      assert.are.equal("itl", select(2, star()))
      assert.are.equal(string.format("λ 30.0 req/s, λ* %.1f (itl) → 2 × llm/h100 (cost 8.0/h)",
        lstar), d["llm/h100"].reason)
    end)

    it("sizes against percentile targets when asked", function()
      local p95 = star(nil, { ttft_ms = 500, itl_ms = 24, percentile = 0.95 })
      assert.is_true(p95 < lstar)
      -- Between the two rates: one replica meets the means, the p95 needs two.
      local lambda = (p95 + lstar) / 2
      local spec = { variants = { variant("llm/h100") },
                     models = { m = { signals = { arrival_rate = lambda } } } }
      assert.are.equal(1, decide(spec)["llm/h100"].replicas)
      assert.are.equal(2, decide(spec, { percentile = 0.95 })["llm/h100"].replicas)
    end)

    it("respects min and max", function()
      local d = decide{ variants = { variant("llm/h100", { max = 3 }) },
                        models = { m = { signals = { arrival_rate = 5 * lstar } } } }
      assert.are.equal(3, d["llm/h100"].replicas)
      assert.matches("short: 60%% of λ served at max replicas", d["llm/h100"].reason)
      d = decide{ variants = { variant("llm/h100", { min = 2 }) },
                  models = { m = { signals = { arrival_rate = 0 } } } }
      assert.are.equal(2, d["llm/h100"].replicas)
    end)

    it("gives a variant whose SLO no rate meets only its minimum, and says why", function()
      local d = decide{ variants = { variant("llm/h100", { min = 1, slo = { ttft_ms = 1 } }) },
                        models = { m = { signals = { arrival_rate = 10 } } } }
      assert.are.equal(1, d["llm/h100"].replicas)
      assert.matches("λ%* none %(ttft_ms target 1 is below", d["llm/h100"].reason)
      assert.matches("; no variant meets the SLO$", d["llm/h100"].reason)
    end)
  end)

  describe("demand", function()
    it("is the gateway's arrival rate when there is one", function()
      local view = fv.new{ variants = { variant("a", { signals = { request_rate = 3, waiting = 9 } }) },
                           models = { m = { signals = { arrival_rate = 12.5, queue_size = 4 } } } }
      local lambda, note, queued = opt.demand(view.models.m, { view.variants.a }, params())
      assert.are.equal(12.5, lambda)
      assert.are.equal("", note)
      assert.are.equal(13, queued)
    end)

    it("falls back to what the variants finish plus the queue drained over queue_drain", function()
      -- 20 + 5 req/s finished, 24 at the gateway and 6 in the engines: 25 + 30 / 60 = 25.5.
      local view = fv.new{
        variants = { variant("a", { signals = { request_rate = 20, waiting = 4 } }),
                     variant("b", { signals = { request_rate = 5, waiting = 2 } }) },
        models = { m = { signals = { queue_size = 24 } } } }
      local lambda, note = opt.demand(view.models.m, { view.variants.a, view.variants.b }, params())
      assert.are.equal(25.5, lambda)
      assert.are.equal(" (served 25.0 + 30 queued over 60 s)", note)
      local d = opt.decide(view, params(), {})
      assert.matches("^λ 25%.5 req/s %(served 25%.0 %+ 30 queued over 60 s%), λ%* ",
        d.a.reason)
    end)

    it("is unknown, and the variants hold, when replicas run but nothing reports a rate", function()
      local view = fv.new{ variants = { variant("a", { replicas = { spec = 3, ready = 3 } }) },
                           models = { m = { signals = { queue_size = 0 } } } }
      local lambda, why = opt.demand(view.models.m, { view.variants.a }, params())
      assert.is_nil(lambda)
      assert.are.equal("no demand signal (no gateway arrival_rate, no request_rate)", why)
      local d = opt.decide(view, params(), {})
      assert.are.same({ replicas = 3, reason = "holds at 3: " .. why }, d.a)
      -- At zero replicas nothing can report a rate; what is queued is the demand.
      view = fv.new{ variants = { variant("a", { replicas = { spec = 0, ready = 0 } }) },
                     models = { m = { signals = { queue_size = 3 } } } }
      assert.are.equal(3 / 60, opt.demand(view.models.m, { view.variants.a }, params()))
      assert.are.equal(1, opt.decide(view, params(), {}).a.replicas)
    end)

    it("takes the token mix weighted by the requests each variant finishes", function()
      local view = fv.new{ variants = {
        variant("a", { signals = { request_rate = 10, input_tokens_mean = 1000,
                                   output_tokens_mean = 100 } }),
        variant("b", { signals = { request_rate = 30, input_tokens_mean = 2000,
                                   output_tokens_mean = 300 } }),
        variant("c", { signals = {} }) } }
      local vs = { view.variants.a, view.variants.b, view.variants.c }
      local i, o = opt.token_mix(vs, params())
      assert.are.equal((10 * 1000 + 30 * 2000) / 40, i)   -- 1750
      assert.are.equal((10 * 100 + 30 * 300) / 40, o)     -- 250
      -- Without any reported mix: the params.
      i, o = opt.token_mix({ view.variants.c }, params({ in_tokens = 300, out_tokens = 50 }))
      assert.are.equal(300, i)
      assert.are.equal(50, o)
    end)
  end)

  describe("placement across accelerator types", function()
    local function two(a, b, lambda)
      return { variants = { variant("llm/a", a), variant("llm/b", b) },
               models = { m = { signals = { arrival_rate = lambda } } } }
    end

    it("prefers the cheaper accelerator when both meet the SLO", function()
      -- Same profile, so the same λ*; b costs 5 against 8: all ceil(30 / λ*) = 2 on b.
      local d = decide(two({ cost = 8, replicas = { spec = 0 } },
                           { accelerator = "A100", cost = 5, replicas = { spec = 0 } }, 30))
      assert.are.equal(0, d["llm/a"].replicas)
      assert.are.equal(2, d["llm/b"].replicas)
      assert.matches("→ 2 × llm/b %(cost 10.0/h%)$", d["llm/a"].reason)
    end)

    it("weighs cost per request, not per replica", function()
      -- b's replica is cheaper (5 vs 8) but its L40S profile sustains only ~1 req/s under a 24 ms
      -- ITL: 30 req/s would take 30 of them (150/h) against 2 H100 replicas (16/h).
      local lb = star("llama-3.1-8b/l40s:4p")
      assert.are.equal(30, math.ceil(30 / lb))
      local d = decide(two({ cost = 8, replicas = { spec = 0 } },
                           { accelerator = "L40S", cost = 5, profile = "llama-3.1-8b/l40s:4p",
                             max = 100, replicas = { spec = 0 } }, 30))
      assert.are.equal(2, d["llm/a"].replicas)
      assert.are.equal(0, d["llm/b"].replicas)
      assert.matches(string.format("λ%%* %.1f %%(itl%%)", lb), d["llm/b"].reason)
    end)

    it("keeps the current placement unless moving saves more than the transition penalty", function()
      -- Now 2 on a (4.0/h each). Moving both to b at 3.9/h saves 0.2/h but costs
      -- 0.1 × (2 × 4.0 + 2 × 3.9) = 1.58: stay. At 2.0/h b saves 4.0 > 0.1 × (8 + 4) = 1.2: move.
      local d = decide(two({ cost = 4, replicas = { spec = 2 } },
                           { accelerator = "A100", cost = 3.9, replicas = { spec = 0 } }, 30))
      assert.are.equal(2, d["llm/a"].replicas)
      assert.are.equal(0, d["llm/b"].replicas)
      d = decide(two({ cost = 4, replicas = { spec = 2 } },
                     { accelerator = "A100", cost = 2, replicas = { spec = 0 } }, 30))
      assert.are.equal(0, d["llm/a"].replicas)
      assert.are.equal(2, d["llm/b"].replicas)
      -- With no penalty even the 0.2/h saving moves them.
      d = decide(two({ cost = 4, replicas = { spec = 2 } },
                     { accelerator = "A100", cost = 3.9, replicas = { spec = 0 } }, 30),
                 { transition_penalty = 0 })
      assert.are.equal(2, d["llm/b"].replicas)
    end)
  end)

  describe("under a GPU shortage", function()
    -- Two models of one single-GPU H100 variant each, 2 replicas running on each, 4 H100 GPUs in
    -- all (none free).
    local function shared(la, lb, pa, pb, inventory)
      return {
        variants = {
          variant("llm/a", { model = "a", priority = pa or 0, replicas = { spec = 2, ready = 2 } }),
          variant("llm/b", { model = "b", priority = pb or 0, replicas = { spec = 2, ready = 2 } }),
        },
        models = { a = { signals = { arrival_rate = la } }, b = { signals = { arrival_rate = lb } } },
        inventory = inventory or { H100 = { total = 4, used = 4, cost = 4 } },
      }
    end

    it("shares GPUs fairly between two models of equal priority", function()
      -- Both need 4 (3.5 λ* each) and 4 GPUs exist: 2 each, 2 / 3.5 = 57% served.
      local d = decide(shared(3.5 * lstar, 3.5 * lstar))
      assert.are.equal(2, d["llm/a"].replicas)
      assert.are.equal(2, d["llm/b"].replicas)
      assert.matches("; GPU shortage: 57%% of λ served, fair share at priority 0$", d["llm/a"].reason)
      -- a needs 4, b 2. Splits of 4 GPUs and the lower served fraction: 3/1 → min(3/3.5, 1/1.5)
      -- = 0.67; 2/2 → min(2/3.5, 1) = 0.57; 4/0 → 0. Max-min picks 3/1.
      d = decide(shared(3.5 * lstar, 1.5 * lstar))
      assert.are.equal(3, d["llm/a"].replicas)
      assert.are.equal(1, d["llm/b"].replicas)
    end)

    it("serves the higher priority first and gives the rest to the lower", function()
      local d = decide(shared(3.5 * lstar, 1.5 * lstar, 10, 0))
      assert.are.equal(4, d["llm/a"].replicas)
      assert.are.equal(0, d["llm/b"].replicas)
      assert.matches("; GPU shortage: 0%% of λ served after higher priorities$", d["llm/b"].reason)
      assert.not_matches("shortage", d["llm/a"].reason)
      d = decide(shared(3.5 * lstar, 1.5 * lstar, 0, 10))
      assert.are.equal(2, d["llm/a"].replicas)
      assert.are.equal(2, d["llm/b"].replicas)
    end)

    it("counts GPUs other workloads hold as taken, and ignores the inventory when unlimited", function()
      -- 8 H100 GPUs, 6 used: 4 by these variants, 2 by something else. They may hold 2 + 4 = 6:
      -- a needs 4 and b 2, so both are served.
      local inv = { H100 = { total = 8, used = 6, cost = 4 } }
      local d = decide(shared(3.5 * lstar, 1.5 * lstar, 0, 0, inv))
      assert.are.equal(4, d["llm/a"].replicas)
      assert.are.equal(2, d["llm/b"].replicas)
      -- a needing 6 would not fit next to b's 2; with limited = false it gets them.
      d = decide(shared(5.5 * lstar, 1.5 * lstar, 0, 0, inv), { limited = false })
      assert.are.equal(6, d["llm/a"].replicas)
      assert.are.equal(2, d["llm/b"].replicas)
    end)

    it("takes a total of 0 as no count known: the type is not limited", function()
      -- The simulator's unlimited pool reports total 0 and every GPU in use.
      local inv = { H100 = { total = 0, used = 4, free = 0, cost = 4 } }
      local d = decide(shared(5.5 * lstar, 1.5 * lstar, 0, 0, inv))
      assert.are.equal(6, d["llm/a"].replicas)
      assert.are.equal(2, d["llm/b"].replicas)
      assert.not_matches("shortage", d["llm/a"].reason)
    end)
  end)

  it("keeps minimum replicas beyond the inventory and says so", function()
    -- 2 H100 GPUs, none free; the variant holds 2 and must keep 3.
    local d = decide{ variants = { variant("llm/a", { min = 3, replicas = { spec = 2, ready = 2 } }) },
                      models = { m = { signals = { arrival_rate = 10 } } },
                      inventory = { H100 = { total = 2, used = 2, cost = 4 } } }
    assert.are.equal(3, d["llm/a"].replicas)
    assert.matches("; minimum replicas exceed the GPU inventory$", d["llm/a"].reason)
  end)

  describe("variants it cannot model", function()
    it("hold their replicas and say what is missing", function()
      local d = decide{
        variants = {
          variant("llm/noprof", { profile = NONE, replicas = { spec = 3 } }),
          variant("llm/noslo", { model = "n", slo = NONE, replicas = { spec = 2 } }),
          variant("llm/typo", { model = "t", profile = "llama-9/h100", replicas = { spec = 1 } }),
          variant("llm/pre", { model = "p", role = "prefill", replicas = { spec = 4 } }),
        },
        models = { m = { signals = { arrival_rate = 100 } } } }
      assert.are.same({ replicas = 3, reason = "holds at 3: no latency profile (set `profile`, "
        .. "e.g. llama-3.1-8b/h100)" }, d["llm/noprof"])
      assert.are.same({ replicas = 2, reason = "holds at 2: no SLO class" }, d["llm/noslo"])
      assert.are.equal(1, d["llm/typo"].replicas)
      assert.matches("^holds at 1: unknown profile 'llama%-9/h100'", d["llm/typo"].reason)
      assert.are.equal(4, d["llm/pre"].replicas)
      assert.matches("prefill role not modelled", d["llm/pre"].reason)
    end)

    it("leave the modelled variants of the same model sized for the whole demand", function()
      local d = decide{
        variants = { variant("llm/a", { profile = NONE, replicas = { spec = 5 } }),
                     variant("llm/b", { replicas = { spec = 0 } }) },
        models = { m = { signals = { arrival_rate = 30 } } } }
      assert.are.equal(5, d["llm/a"].replicas)
      assert.are.equal(2, d["llm/b"].replicas)
    end)
  end)

  describe("an idle model", function()
    local function idle(t, spec, z)
      return { time = t, variants = {
        variant("llm/a", { cost = 8, replicas = { spec = spec } }),
        variant("llm/b", { accelerator = "A100", cost = 5, replicas = { spec = 0 } }) },
        models = { m = { signals = { arrival_rate = 0 } } } }, { scale_to_zero = z }
    end

    it("keeps one replica, on the variant already running, unless scale to zero is on", function()
      local spec, p = idle(1000, 1, false)
      local d = decide(spec, p)
      assert.are.equal(1, d["llm/a"].replicas)
      assert.are.equal(0, d["llm/b"].replicas)
      assert.matches("keeps 1 while idle %(scale_to_zero off%)", d["llm/a"].reason)
      -- Nothing running: the cheaper one.
      spec, p = idle(1000, 0, false)
      d = decide(spec, p)
      assert.are.equal(0, d["llm/a"].replicas)
      assert.are.equal(1, d["llm/b"].replicas)
    end)

    it("goes to zero after the retention period with scale to zero on", function()
      local state = {}
      local spec, p = idle(1000, 1, true)
      local d = decide(spec, p, state)
      assert.are.equal(1, d["llm/a"].replicas)
      assert.matches("keeps 1 while idle 0 s < retention 600 s", d["llm/a"].reason)
      spec = idle(1599, 1, true)
      assert.are.equal(1, decide(spec, p, state)["llm/a"].replicas)
      spec = idle(1600, 1, true)
      d = decide(spec, p, state)
      assert.are.equal(0, d["llm/a"].replicas)
      assert.are.equal(0, d["llm/b"].replicas)
      -- A request resets the clock.
      spec = idle(1615, 0, true)
      spec.models.m.signals.queue_size = 1
      assert.are.equal(1, decide(spec, p, state)["llm/b"].replicas)
      spec = idle(1630, 0, true)
      assert.are.equal(1, decide(spec, p, state)["llm/b"].replicas)
    end)
  end)

  describe("the λ* cache", function()
    it("reuses one search for mixes near one grid point; round counts are grid points", function()
      local state = {}
      local p = { token_grid = 32 }
      local function tick(i, o)
        local v = variant("llm/a", { signals = { input_tokens_mean = i, output_tokens_mean = o } })
        return decide({ variants = { v }, models = { m = { signals = { arrival_rate = 10 } } } },
          p, state)["llm/a"].reason
      end
      local r1 = tick(1024, 256)
      local r2 = tick(1030, 257)
      assert.are.equal(r1, r2)
      assert.are.equal(1, state.lambda_star.n)
      -- 1024 and 256 are powers of two, so the grid keeps them: λ* is the kernel's.
      assert.matches(string.format("λ%%* %.1f %%(itl%%)", lstar), r1)
      -- 32 points per doubling are 2.2% apart: 1030/257 round to 1024/256, a mix 20% longer
      -- does not.
      tick(1229, 307)
      assert.are.equal(2, state.lambda_star.n)
    end)

    it("rounds token counts to the nearest of 32 points per doubling", function()
      assert.are.equal(1024, opt.bucket(1024, 32))
      assert.are.equal(256, opt.bucket(256, 32))
      -- Neighbours of 1024 are 1024 · 2^(±1/32) = 1046.6 and 1001.9.
      assert.is_true(math.abs(opt.bucket(1040, 32) - 1024 * 2 ^ (1 / 32)) < 1e-9)
      assert.is_true(math.abs(opt.bucket(1000, 32) - 1024 * 2 ^ (-1 / 32)) < 1e-9)
      assert.are.equal(1000, opt.bucket(1000, 0))
      assert.are.equal(0, opt.bucket(0, 32))
    end)

    it("is bounded", function()
      local state = {}
      for i = 1, opt.CACHE_MAX + 5 do
        local v = variant("llm/a", { signals = { input_tokens_mean = 100 + i,
                                                 output_tokens_mean = 100 } })
        decide({ variants = { v }, models = { m = { signals = { arrival_rate = 1 } } } }, {}, state)
      end
      assert.is_true(state.lambda_star.n <= opt.CACHE_MAX)
    end)
  end)

  describe("validate", function()
    it("accepts the defaults and names a bad field", function()
      assert.is_nil(opt.validate(opt.defaults))
      assert.matches("unknown parameter tokens", opt.validate({ tokens = 3 }))
      assert.matches("^percentile must be a number in %[0, 1%)", opt.validate({ percentile = 1 }))
      assert.matches("^transition_penalty", opt.validate({ transition_penalty = -0.1 }))
      assert.matches("^queue_drain must be a number in %(0, ∞%)", opt.validate({ queue_drain = 0 }))
      assert.matches("^out_tokens", opt.validate({ out_tokens = 0 }))
      assert.matches("limited must be true or false", opt.validate({ limited = "yes" }))
      assert.matches("token_grid must be a whole number", opt.validate({ token_grid = 2.5 }))
    end)
  end)
end)
