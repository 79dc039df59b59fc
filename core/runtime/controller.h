// The controller: the one place that assembles the data path and drives it.
//
//   sources ──► store ──► view ──► deciders ──► vote ──► guard ──► actuators
//                                                                └─► observers
//
// Everything that runs the data path — `sluice run`, `sluice check`, `sluice sim`, the spec
// module — asks a controller for it: a clock, the store, the pipeline, the policies (the Lua
// host), the sources that fill the store, an actuator per variant and the observers. The
// controller then drives ticks: on a libuv loop in real time (run), one at a time (check, specs),
// or between the events of a discrete-event source on a simulated clock (sim).
#pragma once

#include <uv.h>

#include "core/lua/host.h"
#include "core/runtime/pipeline.h"
#include "core/state/actuator.h"
#include "core/state/observer.h"
#include "core/state/source.h"

typedef struct {
  sl_config_t *cfg;        // borrowed; window, interval and guard are read at every tick
  sl_clock_t *clock;       // borrowed: real (run) or simulated (check, sim, specs)
  int samples_per_series;  // store capacity per series (default 1024)
  const char *module_path; // lua/ tree for the policies' modules (NULL: the embedded ones)
  int view_every_tick;     // build the view even on ticks where no decider is due
} sl_controller_opts_t;

typedef struct sl_controller {
  sl_controller_opts_t o;
  sl_store_t *store;
  sl_pipeline_t pipeline;
  sl_host_t host;
  int have_host;
  sl_source_t **sources;
  int nsources;
  // run(): the loop and its handles
  uv_loop_t *loop;
  uv_timer_t timer;
  uv_signal_t sigint, sigterm;
  long max_ticks, ticks;
  int running;
  int signals;                  // run() installed the SIGINT/SIGTERM handlers
  void (*on_stopped)(void *ud); // called when it stops itself (max_ticks, a signal in run())
  void *on_stopped_ud;
  // Called after every tick that decided, with its duration in seconds (telemetry).
  void (*on_tick_done)(void *ud, double seconds, int deciders);
  void *on_tick_done_ud;
  int waiting; // a source is not ready yet (no decisions)
} sl_controller_t;

int sl_controller_init(sl_controller_t *c, const sl_controller_opts_t *o, sl_err_t *err);
void sl_controller_deinit(sl_controller_t *c);

// ---- assembly -----------------------------------------------------------------------------------

// Loads every policy of cfg->policies into the Lua host, each a decider of the pipeline. A
// policy that does not load is an error naming its file and line.
int sl_controller_load_policies(sl_controller_t *c, sl_err_t *err);
// Adds a decider implemented in C (borrowed): tests and tools.
int sl_controller_add_decider(sl_controller_t *c, sl_decider_t *d, sl_err_t *err);
// Adds a source (borrowed). At most one may be discrete-event (`advance`).
int sl_controller_add_source(sl_controller_t *c, sl_source_t *s, sl_err_t *err);
// The actuator of configured variant i, or of every variant when i < 0 (borrowed).
void sl_controller_set_actuator(sl_controller_t *c, int i, sl_actuator_t *a);
// Observers (borrowed) hear every outcome and every policy event.
int sl_controller_add_observer(sl_controller_t *c, sl_observer_t *o, sl_err_t *err);
// Forgets an observer that goes away while the controller stays (a REPL that failed to start).
void sl_controller_remove_observer(sl_controller_t *c, sl_observer_t *o);
// No decider runs before time t (a simulated run's warm-up, check's last frame).
void sl_controller_defer(sl_controller_t *c, double t);

// ---- driving ------------------------------------------------------------------------------------

// One tick at the clock's time. Returns the number of deciders that ran, or a negative code (a
// source that failed to sync, a view that could not be built).
int sl_controller_tick(sl_controller_t *c, sl_err_t *err);
// Real time: starts the sources, a tick every cfg->interval on `loop` and the watch on the
// policy directory, and returns; the caller runs the loop. Stops after max_ticks ticks (0: no
// limit) or at sl_controller_stop, which closes what start opened (the loop must run again).
int sl_controller_start(sl_controller_t *c, uv_loop_t *loop, long max_ticks, sl_err_t *err);
void sl_controller_stop(sl_controller_t *c);
// start, SIGINT/SIGTERM handlers that stop, and the loop until it ends.
int sl_controller_run(sl_controller_t *c, uv_loop_t *loop, long max_ticks, sl_err_t *err);
// Pauses (1) or resumes (0) actuation: the guard's `paused`, from the next tick on. Operators
// (the REPL) switch it at run time; the configuration sets where it starts.
void sl_controller_set_paused(sl_controller_t *c, int paused);
int sl_controller_paused(const sl_controller_t *c);
// Ticks that built a view so far (the pipeline's tick counter).
uint64_t sl_controller_ticks(const sl_controller_t *c);
// Simulated time: the discrete-event source runs its events until each next tick is due, the
// clock is set to it and the tick runs, until the source's world ends.
int sl_controller_simulate(sl_controller_t *c, sl_err_t *err);
