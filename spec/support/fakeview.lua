-- A plain-table stand-in for the C view, with the same shape and methods (docs/view.md), for
-- specs of the Lua algorithms. Windowed queries read explicit series given to the constructor.
--
--   local fv = require "support.fakeview"
--   local view = fv.new{
--     time = 100, period = 15, window = 60,
--     variants = { { id = "ns/a", model = "m", accelerator = "H100", replicas = { spec = 2, ready = 2 },
--                    signals = { kv_usage = 0.5 }, pods = { { name = "a-0", signals = { kv_usage = 0.5 } } } } },
--     models = { m = { signals = { queue_size = 3 } } },
--     inventory = { H100 = { total = 8, used = 2, cost = 3.5 } },
--     series = { ["ns/a"] = { kv_usage = { {40, 0.2}, {100, 0.5} } } },   -- {t, value}
--     rates = { ["ns/a"] = { requests = 4.5 } },
--     quantiles = { ["ns/a"] = { ttft = { [0.99] = 0.4 } } },
--   }
local M = {}

local function sorted_keys(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = k end
  table.sort(ks)
  return ks
end

local variant_defaults = {
  namespace = "default", accelerator = "H100", gpus_per_replica = 1, role = "both", cost = 10,
  min = 1, max = 100, priority = 0, age = 0, stale = false,
}

local function key_of(x)
  if type(x) == "table" then return x.id or x.name end
  return x
end

function M.new(spec)
  local view = {
    time = spec.time or 0,
    tick = spec.tick or 1,
    period = spec.period or 15,
    window = spec.window or 60,
    variants = {},
    models = {},
    inventory = {},
  }
  for _, v in ipairs(spec.variants or {}) do
    local nv = {}
    for k, d in pairs(variant_defaults) do nv[k] = d end
    for k, x in pairs(v) do nv[k] = x end
    assert(nv.id, "fakeview: variant without id")
    nv.name = nv.name or nv.id:match("/(.*)$") or nv.id
    nv.model = nv.model or "model"
    local r = nv.replicas or {}
    nv.replicas = { spec = r.spec or 0, ready = r.ready or r.spec or 0, starting = r.starting or 0,
                    pending = r.pending or 0 }
    nv.last = nv.last or {}
    nv.signals = nv.signals or {}
    nv.engine = nv.engine or { max_num_seqs = 256, max_num_batched_tokens = 8192, block_size = 16 }
    nv.pods = nv.pods or {}
    for _, p in ipairs(nv.pods) do
      p.phase = p.phase or "ready"
      p.signals = p.signals or {}
      p.age = p.age or 0
    end
    view.variants[nv.id] = nv
    local m = view.models[nv.model]
    if not m then
      m = { name = nv.model, variants = {}, signals = {}, age = 0 }
      view.models[nv.model] = m
    end
    m.variants[#m.variants + 1] = nv.id
  end
  for name, m in pairs(spec.models or {}) do
    local nm = view.models[name] or { name = name, variants = {}, age = 0 }
    nm.signals = m.signals or {}
    nm.age = m.age or nm.age
    view.models[name] = nm
  end
  for _, m in pairs(view.models) do table.sort(m.variants) end
  for t, a in pairs(spec.inventory or {}) do
    view.inventory[t] = { type = t, total = a.total or 0, used = a.used or 0,
                          free = (a.total or 0) - (a.used or 0), cost = a.cost or 0 }
  end

  local series, rates, quantiles = spec.series or {}, spec.rates or {}, spec.quantiles or {}
  local function window_values(x, signal, window)
    local s = series[key_of(x)] and series[key_of(x)][signal]
    if not s then return nil end
    local out = {}
    for _, tv in ipairs(s) do
      if tv[1] > view.time - window and tv[1] <= view.time then out[#out + 1] = tv[2] end
    end
    if #out == 0 then return nil end
    return out
  end

  -- view.variants and view.models are both tables (view.variants[id]) and methods
  -- (view:variants()): a __call on the table serves the method form.
  local function callable(t, iter)
    return setmetatable(t, { __call = function(_, self, ...) return iter(self, ...) end })
  end
  local variants, models = view.variants, view.models
  callable(variants, function(_, model)
    local ids = {}
    for _, id in ipairs(sorted_keys(variants)) do
      if model == nil or variants[id].model == model then ids[#ids + 1] = id end
    end
    local i = 0
    return function()
      i = i + 1
      local id = ids[i]
      if id then return id, variants[id] end
    end
  end)
  callable(models, function()
    local names, i = sorted_keys(models), 0
    return function()
      i = i + 1
      local n = names[i]
      if n then return n, models[n] end
    end
  end)
  function view:accelerators()
    local ts, i = sorted_keys(self.inventory), 0
    return function()
      i = i + 1
      local t = ts[i]
      if t then return t, self.inventory[t] end
    end
  end
  function view:avg_over(x, signal, window)
    local vs = window_values(x, signal, window)
    if not vs then return nil end
    local s = 0
    for _, v in ipairs(vs) do s = s + v end
    return s / #vs
  end
  function view:max_over(x, signal, window)
    local vs = window_values(x, signal, window)
    if not vs then return nil end
    return math.max(unpack(vs))
  end
  function view:min_over(x, signal, window)
    local vs = window_values(x, signal, window)
    if not vs then return nil end
    return math.min(unpack(vs))
  end
  function view:rate(x, counter, window)
    return rates[key_of(x)] and rates[key_of(x)][counter]
  end
  function view:quantile_over(x, hist, q, window)
    local h = quantiles[key_of(x)] and quantiles[key_of(x)][hist]
    return h and h[q]
  end
  return view
end

return M
