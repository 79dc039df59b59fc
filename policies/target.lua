-- target: keep running requests per replica near a target.
--
-- Each variant is sized so that the requests it is serving or holding (running + waiting in its
-- model servers, plus its share of the gateway queue) come to about `target` per Ready replica.
-- Inside `tolerance` of the target nothing moves; scale-down waits until the load has stayed low
-- for `down_after` seconds, so one quiet tick does not shed capacity.
return {
  name = "target",
  params = {
    target = 8,          -- running requests per replica
    tolerance = 0.1,     -- no change while load/capacity is within 10% of the target
    down_after = 60,     -- seconds of low load before scaling down
  },
  -- The knob a sweep turns (make eval): running requests per replica.
  knob = { param = "target", values = { 4, 6, 8, 12, 16, 24 } },
  period = 1,
  signals = { scrape_interval = 1, lag = 0, window = 30 },

  validate = function(p)
    if p.target <= 0 then return "target must be > 0" end
    if p.tolerance < 0 or p.tolerance >= 1 then return "tolerance must be in [0, 1)" end
    if p.down_after < 0 then return "down_after must be >= 0" end
  end,

  decide = function(view, params, state)
    local out = {}
    state.low_since = state.low_since or {}
    for name, m in view:models() do
      -- Split the gateway queue over the model's variants by Ready replicas.
      local queued = m.signals.queue_size or 0
      local ready_total = 0
      for _, v in view:variants(name) do ready_total = ready_total + v.replicas.ready end
      for id, v in view:variants(name) do
        local share
        if ready_total > 0 then
          share = queued * v.replicas.ready / ready_total
        else
          share = (id == m.variants[1]) and queued or 0
        end
        local running, waiting = v.signals.running, v.signals.waiting
        local current = v.replicas.spec
        if running == nil and share == 0 then
          -- No data and nothing queued: no opinion (the guard holds).
        else
          local load = (running or 0) + (waiting or 0) + share
          local ratio = current > 0 and load / (current * params.target) or math.huge
          local want = math.ceil(load / params.target)
          if math.abs(ratio - 1) <= params.tolerance then
            state.low_since[id] = nil
            out[id] = { replicas = current,
                        reason = string.format("load %.1f per replica within %.0f%% of target %g",
                                               load / math.max(current, 1), params.tolerance * 100,
                                               params.target) }
          elseif want > current then
            state.low_since[id] = nil
            out[id] = { replicas = want,
                        reason = string.format("load %.1f (running %d, waiting %d, queued %.1f) needs %d at %g per replica",
                                               load, running or 0, waiting or 0, share, want,
                                               params.target) }
          else
            local since = state.low_since[id] or view.time
            state.low_since[id] = since
            if view.time - since >= params.down_after then
              out[id] = { replicas = want,
                          reason = string.format("load %.1f needs %d; low for %.0fs", load, want,
                                                 view.time - since) }
            else
              out[id] = { replicas = current,
                          reason = string.format("load %.1f needs %d; waiting %.0fs more before scaling down",
                                                 load, want, params.down_after - (view.time - since)) }
            end
          end
        end
      end
    end
    return out
  end,
}
