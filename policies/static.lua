-- Canned policy "static": a fixed fleet, the simplest alternative to autoscaling. Every variant
-- it drives holds `replicas` replicas whatever the load (`by_variant` may give a variant its
-- own count). `sluice sim` replaces "auto" with the oracle's peak per variant (the most replicas
-- the oracle holds in any bin, core/sim/oracle.h): a static fleet sized for the busiest minute.
-- Elsewhere give a number.
local function parse_by_variant(s)
  local out = {}
  for item in string.gmatch(s, "[^,]+") do
    local id, n = string.match(item, "^%s*(.-)%s*=%s*(%d+)%s*$")
    if not id or id == "" then return nil, "by_variant: expected VARIANT=N[,VARIANT=N...], got '" .. item .. "'" end
    out[id] = tonumber(n)
  end
  return out
end

return {
  name = "static",
  params = {
    replicas = "auto", -- replicas per variant, or "auto" (sluice sim: the oracle's peak)
    by_variant = "",   -- "VARIANT=N,...": counts for the variants named (sluice sim's auto sets it)
  },
  -- The knob a sweep turns (make eval): replicas, as shares of the oracle's peak.
  knob = { param = "replicas", values = { 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.2 },
           scale = "oracle_peak" },
  period = 60,
  signals = { scrape_interval = 60, lag = 0, window = 60 },
  scale_from_zero = true,
  validate = function(p)
    local _, why = parse_by_variant(p.by_variant)
    if why then return why end
    if p.replicas == "auto" then return nil end
    if type(p.replicas) ~= "number" or p.replicas < 0 or p.replicas % 1 ~= 0 then
      return "replicas must be a whole number >= 0 or \"auto\""
    end
  end,
  decide = function(view, p)
    local by = parse_by_variant(p.by_variant)
    local out = {}
    for _, m in view:models() do
      for _, id in ipairs(m.variants) do
        local n = by[id] or p.replicas
        if n == "auto" then
          error("static: replicas = \"auto\" is the oracle's peak, which only sluice sim knows; " ..
                "give a number")
        end
        out[id] = { replicas = n, reason = string.format("static fleet of %d", n) }
      end
    end
    return out
  end,
}
