// The controller. See controller.h; sl_controller_tick below is the whole data path.
#include "core/runtime/controller.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/lua/watchdog.h"
#include "core/util/log.h"

int sl_controller_init(sl_controller_t *c, const sl_controller_opts_t *o, sl_err_t *err) {
  memset(c, 0, sizeof *c);
  c->o = *o;
  c->store = sl_store_new(o->samples_per_series > 0 ? o->samples_per_series : 1024);
  if (!c->store) return sl_err(err, SL_ENOMEM, "out of memory");
  int rc = sl_pipeline_init(&c->pipeline, o->cfg, o->clock, c->store, err);
  if (rc < 0) {
    sl_store_free(c->store);
    c->store = NULL;
  }
  return rc;
}

void sl_controller_deinit(sl_controller_t *c) {
  if (c->have_host) sl_host_deinit(&c->host);
  sl_pipeline_deinit(&c->pipeline);
  if (c->store) sl_store_free(c->store);
  free(c->sources);
  memset(c, 0, sizeof *c);
}

// ---- assembly -----------------------------------------------------------------------------------

static void on_host_event(void *ud, const sl_decider_event_t *e) {
  sl_controller_t *c = ud;
  sl_pipeline_decider_event(&c->pipeline, e);
}

int sl_controller_load_policies(sl_controller_t *c, sl_err_t *err) {
  int rc = sl_host_init(&c->host, c->o.cfg, c->o.clock, &c->pipeline.view, c->pipeline.order,
                        c->o.module_path, err);
  if (rc < 0) return rc;
  c->have_host = 1;
  c->host.on_event = on_host_event;
  c->host.on_event_ud = c;
  sl_decider_t *d;
  for (int i = 0; (d = sl_host_decider(&c->host, i)); i++)
    if ((rc = sl_pipeline_add_decider(&c->pipeline, d, err)) < 0) return rc;
  return SL_OK;
}

int sl_controller_add_decider(sl_controller_t *c, sl_decider_t *d, sl_err_t *err) {
  return sl_pipeline_add_decider(&c->pipeline, d, err);
}

int sl_controller_add_source(sl_controller_t *c, sl_source_t *s, sl_err_t *err) {
  for (int i = 0; i < c->nsources; i++)
    if (s->advance && c->sources[i]->advance)
      return sl_err(err, SL_EINVAL, "a controller takes one discrete-event source (%s and %s)",
                    c->sources[i]->name, s->name);
  sl_source_t **ns = realloc(c->sources, sizeof *ns * (size_t)(c->nsources + 1));
  if (!ns) return sl_err(err, SL_ENOMEM, "out of memory");
  c->sources = ns;
  c->sources[c->nsources++] = s;
  return SL_OK;
}

void sl_controller_set_actuator(sl_controller_t *c, int i, sl_actuator_t *a) {
  sl_pipeline_set_actuator(&c->pipeline, i, a);
}

int sl_controller_add_observer(sl_controller_t *c, sl_observer_t *o, sl_err_t *err) {
  return sl_pipeline_add_observer(&c->pipeline, o, err);
}

void sl_controller_remove_observer(sl_controller_t *c, sl_observer_t *o) {
  sl_pipeline_remove_observer(&c->pipeline, o);
}

void sl_controller_defer(sl_controller_t *c, double t) {
  for (int k = 0; k < c->pipeline.ndeciders; k++)
    if (c->pipeline.deciders[k]->next_due < t) c->pipeline.deciders[k]->next_due = t;
}

// ---- the data path ------------------------------------------------------------------------------

int sl_controller_tick(sl_controller_t *c, sl_err_t *err) {
  sl_pipeline_t *p = &c->pipeline;
  double now = sl_clock_now(c->o.clock);
  // 1. Sources bring the store up to now (live ones have been writing all along).
  for (int i = 0; i < c->nsources; i++) {
    sl_source_t *s = c->sources[i];
    int rc = s->sync ? s->sync(s, c->store, now, err) : 0;
    if (rc < 0) return sl_err_wrap(err, "%s", s->name);
  }
  // No decision before every source has given a first complete picture: an informer that has
  // not listed yet would make every variant look empty.
  for (int i = 0; i < c->nsources; i++) {
    sl_source_t *s = c->sources[i];
    if (s->ready && !s->ready(s)) {
      if (!c->waiting) sl_info("waiting for %s before deciding", s->name);
      c->waiting = 1;
      return 0;
    }
  }
  if (c->waiting) sl_info("every source is ready: deciding");
  c->waiting = 0;
  // 2. Which policies are due (each runs at its own period).
  int due = sl_pipeline_due(p, now);
  if (!due && !c->o.view_every_tick) return 0;
  double t0 = c->on_tick_done ? sl_watchdog_now() : 0;
  // 3. The view: one read-only snapshot of the store for every policy.
  int rc = sl_pipeline_build_view(p, now, err);
  if (rc < 0 || !due) return rc;
  // 4. The policies decide.
  sl_pipeline_decide(p, now);
  // 5. Per variant: the vote, the guard, the variant's actuator, the observers.
  sl_pipeline_apply(p, now);
  if (c->on_tick_done) c->on_tick_done(c->on_tick_done_ud, sl_watchdog_now() - t0, due);
  return due;
}

// ---- real time ----------------------------------------------------------------------------------

// Milliseconds to the next multiple of the interval on the monotonic clock. Ticks sit on that
// grid rather than repeating from whenever the last one ran, so they do not drift against the
// scraper's slots, which sit on the same grid (sl_scraper_opts_t.phase_lo/hi).
static uint64_t ms_to_grid(double interval) {
  if (!(interval > 0)) return 1;
  double now = (double)uv_hrtime() * 1e-9;
  double d = interval - fmod(now, interval);
  if (d < 1e-3) d += interval; // this slot has just been taken
  return (uint64_t)ceil(d * 1e3);
}

static void on_tick(uv_timer_t *t) {
  sl_controller_t *c = t->data;
  sl_err_t err = {0};
  if (sl_controller_tick(c, &err) < 0) sl_error("tick: %s", err.msg);
  if (c->max_ticks > 0 && ++c->ticks >= c->max_ticks) {
    sl_controller_stop(c);
    if (c->on_stopped) c->on_stopped(c->on_stopped_ud);
    return;
  }
  if (!c->running) return;
  uv_update_time(c->loop); // the tick took time: count from now, not from the loop's last turn
  uv_timer_start(&c->timer, on_tick, ms_to_grid(c->o.cfg->interval), 0);
}

static void on_signal(uv_signal_t *s, int signum) {
  sl_controller_t *c = s->data;
  sl_info("signal %d: stopping", signum);
  sl_controller_stop(c);
  if (c->on_stopped) c->on_stopped(c->on_stopped_ud);
}

void sl_controller_stop(sl_controller_t *c) {
  if (!c->running) return;
  c->running = 0;
  uv_timer_stop(&c->timer);
  if (c->have_host) sl_host_unwatch(&c->host);
  for (int i = 0; i < c->nsources; i++)
    if (c->sources[i]->stop) c->sources[i]->stop(c->sources[i]);
  uv_close((uv_handle_t *)&c->timer, NULL);
  if (c->signals) {
    uv_close((uv_handle_t *)&c->sigint, NULL);
    uv_close((uv_handle_t *)&c->sigterm, NULL);
    c->signals = 0;
  }
}

int sl_controller_start(sl_controller_t *c, uv_loop_t *loop, long max_ticks, sl_err_t *err) {
  const sl_config_t *cfg = c->o.cfg;
  c->loop = loop;
  c->max_ticks = max_ticks;
  c->ticks = 0;
  for (int i = 0; i < c->nsources; i++) {
    sl_source_t *s = c->sources[i];
    int rc = s->start ? s->start(s, loop, c->store, err) : 0;
    if (rc < 0) return sl_err_wrap(err, "%s", s->name);
  }
  if (c->have_host && cfg->policy_dir) sl_host_watch(&c->host, loop, 2.0, err);
  uv_timer_init(loop, &c->timer);
  c->timer.data = c;
  uv_timer_start(&c->timer, on_tick, 0, 0); // the first tick at once, then on the grid
  c->running = 1;
  sl_info("running: %d variants, %d policies, tick every %gs", cfg->nvariants, cfg->npolicies,
          cfg->interval);
  return SL_OK;
}

int sl_controller_run(sl_controller_t *c, uv_loop_t *loop, long max_ticks, sl_err_t *err) {
  int rc = sl_controller_start(c, loop, max_ticks, err);
  if (rc < 0) return rc;
  uv_signal_init(loop, &c->sigint);
  uv_signal_init(loop, &c->sigterm);
  c->sigint.data = c->sigterm.data = c;
  uv_signal_start(&c->sigint, on_signal, SIGINT);
  uv_signal_start(&c->sigterm, on_signal, SIGTERM);
  c->signals = 1;
  uv_run(loop, UV_RUN_DEFAULT);
  return SL_OK;
}

void sl_controller_set_paused(sl_controller_t *c, int paused) {
  c->o.cfg->guard.paused = paused != 0;
}

int sl_controller_paused(const sl_controller_t *c) {
  return c->o.cfg->guard.paused;
}

uint64_t sl_controller_ticks(const sl_controller_t *c) {
  return c->pipeline.ticks;
}

// ---- simulated time -----------------------------------------------------------------------------

int sl_controller_simulate(sl_controller_t *c, sl_err_t *err) {
  sl_source_t *world = NULL;
  for (int i = 0; i < c->nsources; i++)
    if (c->sources[i]->advance) world = c->sources[i];
  if (!world) return sl_err(err, SL_EINVAL, "simulated time needs a discrete-event source");
  for (;;) {
    double due = sl_pipeline_next_due(&c->pipeline);
    int rc = world->advance(world, due, err);
    if (rc <= 0) return rc;
    sl_clock_set(c->o.clock, due);
    if ((rc = sl_controller_tick(c, err)) < 0) return rc;
  }
}
