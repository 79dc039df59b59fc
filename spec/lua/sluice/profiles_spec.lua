local profiles = require "sluice.profiles"
local model = require "sluice.model"

-- The built-in catalog is the kernels' (sluice.model.builtins): names "<model>/<accelerator>" for
-- the calibrated profile and "<model>/<accelerator>:<kind>" for the other forms, e.g.
-- llama-3.1-8b/h100, llama-3.1-8b/h100:4p, llama-3.1-8b/h100:3p and llama-3.1-8b/l40s:4p.
local function parts(name)
  return name:match("^([^/]+)/([^:]+):?(.*)$")
end

describe("profiles", function()
  it("plain drops units, name and source and keeps the rest, without touching the original",
    function()
      local pr = model.builtin("llama-3.1-8b/h100:3p")
      local t = profiles.plain(pr)
      assert.is_nil(t.units)
      assert.is_nil(t.name)
      assert.is_nil(t.source)
      for k, x in pairs(pr) do
        if k ~= "units" and k ~= "name" and k ~= "source" then assert.are.equal(x, t[k], k) end
      end
      assert.is_not_nil(pr.name)
    end)

  it("lower lowercases strings and reads anything else as empty", function()
    assert.are.equal("nvidia-h100", profiles.lower("NVIDIA-H100"))
    assert.are.equal("", profiles.lower(nil))
    assert.are.equal("", profiles.lower(3))
  end)

  it("catalog_match finds every built-in from its own model and accelerator and kind", function()
    for _, name in ipairs(model.builtins()) do
      local m, a, k = parts(name)
      local v = { model = "org/" .. m:upper() .. "-Instruct", accelerator = "NVIDIA-" .. a:upper() }
      assert.are.equal(name, profiles.catalog_match(v, k ~= "" and k or nil), name)
    end
  end)

  it("catalog_match prefers the plain (calibrated) name, else the first kind listed", function()
    local v = { model = "meta-llama/Llama-3.1-8B-Instruct", accelerator = "NVIDIA-H100-80GB-HBM3" }
    assert.are.equal("llama-3.1-8b/h100", profiles.catalog_match(v))
    local first
    for _, name in ipairs(model.builtins()) do
      local m, a = parts(name)
      if m == "llama-3.1-8b" and a == "l40s" then first = first or name end
    end
    assert.is_not_nil(first)
    assert.are.equal(first,
      profiles.catalog_match({ model = "Llama-3.1-8B", accelerator = "L40S" }))
  end)

  it("catalog_match is nil for another model, accelerator or kind", function()
    local v = { model = "meta-llama/Llama-3.1-8B", accelerator = "H100" }
    assert.is_nil(profiles.catalog_match(v, "9p"))
    assert.is_nil(profiles.catalog_match({ model = "Qwen/Qwen3-8B", accelerator = "H100" }))
    assert.is_nil(profiles.catalog_match({ model = "meta-llama/Llama-3.1-8B",
      accelerator = "A100" }))
    assert.is_nil(profiles.catalog_match({ accelerator = "H100" }))
  end)

  it("of returns the variant's own profile first, as plain data with its name", function()
    local v = { profile = "llama-3.1-8b/h100:4p", model = "meta-llama/Llama-3.1-8B",
      accelerator = "H100" }
    local pr, name = profiles.of(v)
    assert.are.equal("llama-3.1-8b/h100:4p", name)
    assert.are.same(profiles.plain(model.builtin(name)), pr)
  end)

  it("of falls back to the catalog for an unknown own profile, unless catalog is false", function()
    local v = { profile = "no-such", model = "meta-llama/Llama-3.1-8B", accelerator = "H100" }
    local pr, name = profiles.of(v)
    assert.are.equal("llama-3.1-8b/h100", name)
    assert.are.same(profiles.plain(model.builtin(name)), pr)
    assert.is_nil(profiles.of(v, false))
    assert.is_nil(profiles.of({ model = "Qwen/Qwen3-8B", accelerator = "H100" }))
  end)
end)
