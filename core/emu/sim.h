// The simulation backend of `sluice emulate`: the default backend's cluster (backend.c) with the
// simulator's model servers in its pods. Simulated time runs at `speed` times wall-clock time on
// the emulator's loop. Every Ready pod of a variant is a vLLM-like server (core/sim/replica.h,
// with the variant's engine and step profile) serving vLLM's /metrics page with live values on a
// loopback port of its own; each model has an EPP pod whose /metrics serves the gateway's
// flow-control queue and request counters; a load generator per model routes requests through
// the gateway (core/sim/gateway.h) to the least-loaded Ready server. The cluster comes from a
// `sluice sim` cluster file or its built-in scenario: nodes from its accelerators, a Deployment
// per variant (one Ready replica at start) and one EPP Deployment per model.
#pragma once

#include <stdint.h>
#include <uv.h>

#include "core/emu/emu.h"

typedef struct {
  const char *cluster;  // a `sluice sim` cluster file; NULL: the built-in scenario
  double speed;         // simulated seconds per wall-clock second (0: 1)
  double load;          // multiplies every model's arrival rate (1 as given; 0: no requests)
  double start_delay_s; // simulated seconds from scheduled to Ready; < 0: the cluster's cold start
  const char *nodes;    // as the default backend's; NULL: from the cluster's accelerators
  uint64_t seed;
} sl_emu_sim_opts_t;

void sl_emu_sim_opts_init(sl_emu_sim_opts_t *o);

typedef struct sl_emu_sim sl_emu_sim_t;

// A backend for sl_emu_new; *sim (optional) is its state, for the accessor below, valid until
// the emulator stops.
int sl_emu_sim_backend(uv_loop_t *loop, const sl_emu_sim_opts_t *o, sl_emu_backend_t *out,
                       sl_emu_sim_t **sim, sl_err_t *err);

// A model's load: the spec it replays ("step:rate=...", or the cluster file's trace), NULL when
// the model is out of range.
const char *sl_emu_sim_load(const sl_emu_sim_t *s, int model);
