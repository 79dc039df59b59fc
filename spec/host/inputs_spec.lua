-- Decision inputs: what a policy reports it decided on travels with its decision to the outcome
-- (and from there to explain, the decision log and Events), as one JSON object with sorted keys.
local support = require "support.hosttest"

local function outcome_of(policy_body)
  local h, err = support.host{ policy = [[
return { name = "inp", decide = function(view, params, state)
]] .. policy_body .. [[
end }]] }
  assert(h, err)
  local o = support.by_variant(h:tick())
  h:close()
  return o
end

describe("decision inputs", function()
  it("reach the outcome of the policy whose vote carried, as sorted JSON", function()
    local o = outcome_of([[
  return { ["llm/a"] = { replicas = 4, reason = "kv high",
                         inputs = { load = 27, kv = 0.91, mode = "up", warm = true } } }]])
    assert.are.equal(4, o["llm/a"].target)
    assert.are.equal("inp", o["llm/a"].policy)
    assert.are.equal('{"kv":0.91,"load":27,"mode":"up","warm":true}', o["llm/a"].inputs)
  end)

  it("are optional", function()
    local o = outcome_of([[return { ["llm/a"] = { replicas = 4, reason = "r" } }]])
    assert.is_nil(o["llm/a"].inputs)
  end)

  it("must be flat: a nested table fails the decision and the variant holds", function()
    local o = outcome_of([[
  return { ["llm/a"] = { replicas = 4, reason = "r", inputs = { deep = { x = 1 } } } }]])
    assert.is_true(o["llm/a"].held)
    assert.matches("inputs must be a plain table of names to numbers, strings or booleans",
      o["llm/a"].reason)
  end)

  it("escape what they carry", function()
    local o = outcome_of([[
  return { ["llm/a"] = { replicas = 4, reason = "r", inputs = { note = 'say "hi"\n' } } }]])
    assert.are.equal('{"note":"say \\"hi\\"\\n"}', o["llm/a"].inputs)
  end)
end)
