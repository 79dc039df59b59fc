// Tick pipeline. See pipeline.h.
#include "core/runtime/pipeline.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/log.h"

int sl_pipeline_init(sl_pipeline_t *p, const sl_config_t *cfg, sl_clock_t *clock,
                     sl_store_t *store, sl_actuator_t *actuator, sl_err_t *err) {
  memset(p, 0, sizeof *p);
  p->config = cfg;
  p->clock = clock;
  p->store = store;
  p->actuator = actuator;
  sl_view_init(&p->view);
  int n = cfg->nvariants;
  p->order = calloc(n ? n : 1, sizeof *p->order);
  p->last = calloc(n ? n : 1, sizeof *p->last);
  if (!p->order || !p->last) {
    sl_pipeline_deinit(p);
    return sl_err(err, SL_ENOMEM, "out of memory");
  }
  for (int i = 0; i < n; i++) p->last[i] = (sl_last_t){-1, -1, NAN};
  return SL_OK;
}

void sl_pipeline_deinit(sl_pipeline_t *p) {
  sl_view_deinit(&p->view);
  free(p->order);
  free(p->last);
  free(p->deciders);
  free(p->scratch);
  memset(p, 0, sizeof *p);
}

int sl_pipeline_add(sl_pipeline_t *p, sl_decider_t *d, sl_err_t *err) {
  sl_decider_t **nd = realloc(p->deciders, sizeof(*nd) * (p->ndeciders + 1));
  if (!nd) return sl_err(err, SL_ENOMEM, "out of memory");
  p->deciders = nd;
  int n = p->config->nvariants;
  sl_decision_t *s = realloc(p->scratch, sizeof(*s) * (size_t)(p->ndeciders + 1) * (n ? n : 1));
  if (!s) return sl_err(err, SL_ENOMEM, "out of memory");
  p->scratch = s;
  p->deciders[p->ndeciders++] = d;
  if (d->period <= 0) d->period = p->config->interval > 0 ? p->config->interval : 1;
  if (isnan(d->next_due) || d->next_due == 0) d->next_due = sl_clock_now(p->clock);
  return SL_OK;
}

double sl_pipeline_next_due(const sl_pipeline_t *p) {
  double t = INFINITY;
  for (int i = 0; i < p->ndeciders; i++)
    if (p->deciders[i]->next_due < t) t = p->deciders[i]->next_due;
  return t;
}

// Small tolerance so that accumulated floating-point periods do not skip a tick.
#define DUE_EPS 1e-9

int sl_pipeline_tick(sl_pipeline_t *p, sl_err_t *err) {
  const sl_config_t *cfg = p->config;
  double now = sl_clock_now(p->clock);
  int n = cfg->nvariants, ran = 0;
  unsigned char due[64], *duep = due;
  if (p->ndeciders > 64 && !(duep = calloc(p->ndeciders, 1)))
    return sl_err(err, SL_ENOMEM, "out of memory");
  for (int k = 0; k < p->ndeciders; k++) {
    duep[k] = p->deciders[k]->next_due <= now + DUE_EPS;
    ran += duep[k];
  }
  if (!ran) goto done;

  sl_view_params_t vp = {now, cfg->window, cfg->guard.stale_after, cfg->variants, n, p->last,
                         cfg->accels, cfg->naccels};
  int rc = sl_view_build(&p->view, p->store, &vp, p->order, err);
  if (rc < 0) {
    if (duep != due) free(duep);
    return rc;
  }
  p->ticks++;

  // Run due deciders.
  for (int k = 0; k < p->ndeciders; k++) {
    if (!duep[k]) continue;
    sl_decider_t *d = p->deciders[k];
    sl_decision_t *out = p->scratch + (size_t)k * (n ? n : 1);
    for (int i = 0; i < n; i++) out[i].requested = -1, out[i].reason[0] = '\0';
    sl_err_t derr = {0};
    d->runs++;
    // Keep the schedule on the period grid; after a long stall, skip missed runs.
    d->next_due += d->period;
    if (d->next_due <= now) d->next_due = now + d->period;
    if (d->decide(d, &p->view, out, &derr) < 0) {
      d->failures++;
      snprintf(d->last_error, sizeof d->last_error, "%s", derr.msg);
      sl_warn("policy %s failed (its variants hold): %s", d->name, derr.msg);
      for (int i = 0; i < n; i++) out[i].requested = -2;  // -2 marks failure
    }
  }

  // Combine votes per variant, guard, actuate.
  for (int i = 0; i < n; i++) {
    sl_view_variant_t *vv = &p->view.variants[i];
    int ci = p->order[i];
    int voters = 0, opinions = 0, failed = 0, up = -1, down = -1, allow_zero = 0;
    const char *up_reason = NULL, *down_reason = NULL, *fail_reason = NULL, *veto = NULL;
    for (int k = 0; k < p->ndeciders; k++) {
      sl_decider_t *d = p->deciders[k];
      if (!duep[k] || !d->manages[ci]) continue;
      voters++;
      allow_zero |= d->scale_from_zero;
      sl_decision_t *dec = &p->scratch[(size_t)k * n + i];
      if (dec->requested == -2) {
        failed = 1;
        fail_reason = d->last_error;
        continue;
      }
      if (dec->requested < 0) {
        veto = d->name;
        continue;
      }
      opinions++;
      if (dec->requested > vv->spec && dec->requested > up) up = dec->requested, up_reason = dec->reason;
      if (dec->requested < vv->spec) {
        if (dec->requested > down) down = dec->requested, down_reason = dec->reason;
      } else if (dec->requested == vv->spec) {
        veto = veto ? veto : d->name;
        down_reason = down_reason ? down_reason : dec->reason;
      }
    }
    if (!voters) continue;
    char reason[SL_REASON_MAX];
    sl_guard_in_t in = {-1, failed, NULL, allow_zero};
    if (failed) {
      // The reason keeps the first line; the traceback is in the log.
      int n = (int)strcspn(fail_reason, "\n");
      snprintf(reason, sizeof reason, "policy failed: %.*s", n < 480 ? n : 480, fail_reason);
      in.reason = reason;
    } else if (up >= 0) {
      in.requested = up, in.reason = up_reason;
    } else if (opinions == voters && down >= 0 && !veto) {
      in.requested = down, in.reason = down_reason;
    } else if (opinions > 0) {
      in.requested = vv->spec;
      if (down >= 0 && veto) {
        snprintf(reason, sizeof reason, "scale-down to %d not unanimous (%s holds)", down, veto);
        in.reason = reason;
      } else {
        in.reason = down_reason;
      }
    }
    sl_guard_out_t g;
    const sl_view_model_t *vm = vv->model >= 0 && vv->model < p->view.nmodels
                                    ? &p->view.models[vv->model] : NULL;
    if (vm)
      for (int k = 0; k < vm->nvariants; k++) in.model_spec += p->view.variants[vm->variants[k]].spec;
    sl_guard_decide(&cfg->guard, vv, vm, &in, &g);
    sl_outcome_t o = {vv->desc, vv->spec, in.requested, g.target, g.change, g.held, 0, {0}};
    if (in.requested >= 0) p->last[ci].requested = in.requested;
    if (g.change && !cfg->guard.dry_run) {
      sl_err_t aerr = {0};
      if (p->actuator->scale(p->actuator, vv->desc, vv->spec, g.target, g.reason, now, &aerr) < 0) {
        snprintf(o.reason, sizeof o.reason, "actuation failed: %.200s (wanted %d: %.200s)", aerr.msg,
                 g.target, g.reason);
        sl_warn("%s: %s", vv->desc->id, o.reason);
      } else {
        o.actuated = 1;
        p->last[ci].applied = g.target;
        p->last[ci].at = now;
        sl_strlcpy(o.reason, g.reason, sizeof o.reason);
      }
    } else {
      if (g.change) snprintf(o.reason, sizeof o.reason, "dry-run: %.480s", g.reason);
      else sl_strlcpy(o.reason, g.reason, sizeof o.reason);
    }
    if (p->on_outcome) p->on_outcome(p->on_outcome_ud, now, &o);
  }

done:
  if (duep != due) free(duep);
  return ran;
}
