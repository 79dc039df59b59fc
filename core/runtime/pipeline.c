// Tick pipeline stages. See pipeline.h.
#include "core/runtime/pipeline.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/runtime/vote.h"
#include "core/util/log.h"

int sl_pipeline_init(sl_pipeline_t *p, const sl_config_t *cfg, sl_clock_t *clock, sl_store_t *store,
                     sl_err_t *err) {
  memset(p, 0, sizeof *p);
  p->config = cfg;
  p->clock = clock;
  p->store = store;
  sl_view_init(&p->view);
  int n = cfg->nvariants;
  p->order = calloc(n ? n : 1, sizeof *p->order);
  p->last = calloc(n ? n : 1, sizeof *p->last);
  p->actuators = calloc(n ? n : 1, sizeof *p->actuators);
  if (!p->order || !p->last || !p->actuators) {
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
  free(p->actuators);
  free(p->deciders);
  free(p->scratch);
  free(p->due);
  free(p->ballots);
  free(p->observers);
  memset(p, 0, sizeof *p);
}

int sl_pipeline_add_decider(sl_pipeline_t *p, sl_decider_t *d, sl_err_t *err) {
  int k = p->ndeciders + 1, n = p->config->nvariants;
  sl_decider_t **nd = realloc(p->deciders, sizeof(*nd) * k);
  if (!nd) return sl_err(err, SL_ENOMEM, "out of memory");
  p->deciders = nd;
  sl_decision_t *s = realloc(p->scratch, sizeof(*s) * (size_t)k * (n ? n : 1));
  if (!s) return sl_err(err, SL_ENOMEM, "out of memory");
  p->scratch = s;
  unsigned char *due = realloc(p->due, (size_t)k);
  if (!due) return sl_err(err, SL_ENOMEM, "out of memory");
  p->due = due;
  sl_vote_ballot_t *b = realloc(p->ballots, sizeof(*b) * (size_t)k);
  if (!b) return sl_err(err, SL_ENOMEM, "out of memory");
  p->ballots = b;
  p->deciders[p->ndeciders++] = d;
  if (d->period <= 0) d->period = p->config->interval > 0 ? p->config->interval : 1;
  if (isnan(d->next_due) || d->next_due == 0) d->next_due = sl_clock_now(p->clock);
  return SL_OK;
}

void sl_pipeline_set_actuator(sl_pipeline_t *p, int i, sl_actuator_t *a) {
  if (i >= 0) {
    if (i < p->config->nvariants) p->actuators[i] = a;
    return;
  }
  for (int k = 0; k < p->config->nvariants; k++) p->actuators[k] = a;
}

int sl_pipeline_add_observer(sl_pipeline_t *p, sl_observer_t *o, sl_err_t *err) {
  sl_observer_t **no = realloc(p->observers, sizeof(*no) * (size_t)(p->nobservers + 1));
  if (!no) return sl_err(err, SL_ENOMEM, "out of memory");
  p->observers = no;
  p->observers[p->nobservers++] = o;
  return SL_OK;
}

void sl_pipeline_remove_observer(sl_pipeline_t *p, sl_observer_t *o) {
  for (int k = 0; k < p->nobservers; k++)
    if (p->observers[k] == o) {
      memmove(p->observers + k, p->observers + k + 1,
              sizeof *p->observers * (size_t)(p->nobservers - k - 1));
      p->nobservers--;
      return;
    }
}

void sl_pipeline_decider_event(sl_pipeline_t *p, const sl_decider_event_t *e) {
  for (int k = 0; k < p->nobservers; k++)
    if (p->observers[k]->decider_event) p->observers[k]->decider_event(p->observers[k], e);
}

double sl_pipeline_next_due(const sl_pipeline_t *p) {
  double t = INFINITY;
  for (int i = 0; i < p->ndeciders; i++)
    if (p->deciders[i]->next_due < t) t = p->deciders[i]->next_due;
  return t;
}

const sl_decision_t *sl_pipeline_decision(const sl_pipeline_t *p, int k, int vi, int *this_tick) {
  int n = p->config->nvariants;
  if (k < 0 || k >= p->ndeciders || vi < 0 || vi >= n || !p->deciders[k]->runs) return NULL;
  if (this_tick) *this_tick = p->due[k];
  return &p->scratch[(size_t)k * n + vi];
}

// Small tolerance so that accumulated floating-point periods do not skip a tick.
#define DUE_EPS 1e-9

int sl_pipeline_due(sl_pipeline_t *p, double now) {
  int ran = 0;
  for (int k = 0; k < p->ndeciders; k++) {
    p->due[k] = p->deciders[k]->next_due <= now + DUE_EPS;
    ran += p->due[k];
  }
  return ran;
}

int sl_pipeline_build_view(sl_pipeline_t *p, double now, sl_err_t *err) {
  const sl_config_t *cfg = p->config;
  sl_view_params_t vp = {now,           cfg->window,    cfg->guard.stale_after,
                         cfg->variants, cfg->nvariants, p->last,
                         cfg->accels,   cfg->naccels};
  int rc = sl_view_build(&p->view, p->store, &vp, p->order, err);
  if (rc == 0) p->ticks++;
  return rc;
}

void sl_pipeline_decide(sl_pipeline_t *p, double now) {
  int n = p->config->nvariants;
  for (int o = 0; o < p->nobservers; o++)
    if (p->observers[o]->view)
      p->observers[o]->view(p->observers[o], &p->view, p->deciders, p->due, p->ndeciders);
  for (int k = 0; k < p->ndeciders; k++) {
    if (!p->due[k]) continue;
    sl_decider_t *d = p->deciders[k];
    sl_decision_t *out = p->scratch + (size_t)k * (n ? n : 1);
    for (int i = 0; i < n; i++) out[i].requested = -1, out[i].reason[0] = out[i].inputs[0] = '\0';
    sl_err_t derr = {0};
    d->runs++;
    // Keep the schedule on the period grid; after a long stall, skip missed runs.
    d->next_due += d->period;
    if (d->next_due <= now) d->next_due = now + d->period;
    if (d->decide(d, &p->view, out, &derr) < 0) {
      d->failures++;
      snprintf(d->last_error, sizeof d->last_error, "%s", derr.msg);
      sl_warn("policy %s failed (its variants hold): %s", d->name, derr.msg);
      for (int i = 0; i < n; i++) out[i].requested = SL_VOTE_FAILED;
    }
  }
}

static void observe(sl_pipeline_t *p, double now, const sl_outcome_t *o) {
  for (int k = 0; k < p->nobservers; k++)
    if (p->observers[k]->outcome) p->observers[k]->outcome(p->observers[k], now, o);
}

// The shadows' decisions for view variant i, to the observers only.
static void observe_shadows(sl_pipeline_t *p, double now, int i) {
  int n = p->config->nvariants, ci = p->order[i];
  const sl_view_variant_t *vv = &p->view.variants[i];
  for (int k = 0; k < p->ndeciders; k++) {
    const sl_decider_t *d = p->deciders[k];
    if (!d->shadow || !p->due[k] || !d->manages[ci]) continue;
    const sl_decision_t *dec = &p->scratch[(size_t)k * n + i];
    sl_shadow_t s = {vv->desc,
                     d->name,
                     vv->spec,
                     dec->requested,
                     dec->requested == SL_VOTE_FAILED ? d->last_error : dec->reason,
                     dec->inputs};
    for (int o = 0; o < p->nobservers; o++)
      if (p->observers[o]->shadow) p->observers[o]->shadow(p->observers[o], now, &s);
  }
}

void sl_pipeline_apply(sl_pipeline_t *p, double now) {
  const sl_config_t *cfg = p->config;
  int n = cfg->nvariants;
  for (int i = 0; i < n; i++) {
    sl_view_variant_t *vv = &p->view.variants[i];
    int ci = p->order[i], voters = 0;
    observe_shadows(p, now, i);
    for (int k = 0; k < p->ndeciders; k++) {
      sl_decider_t *d = p->deciders[k];
      if (!p->due[k] || !d->manages[ci] || d->shadow) continue;
      const sl_decision_t *dec = &p->scratch[(size_t)k * n + i];
      p->ballots[voters++] = (sl_vote_ballot_t){
          d->name, dec->requested, dec->requested == SL_VOTE_FAILED ? d->last_error : dec->reason,
          d->scale_from_zero, dec->inputs};
    }
    if (!voters) continue;
    sl_vote_t vote;
    sl_vote_combine(p->ballots, voters, vv->spec, &vote);

    sl_guard_in_t in = {vote.requested, vote.failed, vote.reason, vote.allow_from_zero, 0};
    const sl_view_model_t *vm =
        vv->model >= 0 && vv->model < p->view.nmodels ? &p->view.models[vv->model] : NULL;
    if (vm)
      for (int k = 0; k < vm->nvariants; k++)
        in.model_spec += p->view.variants[vm->variants[k]].spec;
    sl_guard_out_t g;
    sl_guard_decide(&cfg->guard, vv, vm, &in, &g);

    sl_outcome_t o = {vv->desc, vv->spec, in.requested, g.target, g.change,
                      g.held,   0,        {0},          NULL,     ""};
    if (vote.winner >= 0) {
      o.policy = p->ballots[vote.winner].name;
      o.inputs = p->ballots[vote.winner].inputs ? p->ballots[vote.winner].inputs : "";
    }
    if (in.requested >= 0) p->last[ci].requested = in.requested;
    sl_actuator_t *act = p->actuators[ci];
    if (g.change && !cfg->guard.dry_run && act) {
      sl_err_t aerr = {0};
      if (act->scale(act, vv->desc, vv->spec, g.target, g.reason, now, &aerr) < 0) {
        snprintf(o.reason, sizeof o.reason, "actuation failed: %.200s (wanted %d: %.200s)",
                 aerr.msg, g.target, g.reason);
        sl_warn("%s: %s", vv->desc->id, o.reason);
      } else {
        o.actuated = 1;
        p->last[ci].applied = g.target;
        p->last[ci].at = now;
        sl_strlcpy(o.reason, g.reason, sizeof o.reason);
      }
    } else if (g.change) {
      snprintf(o.reason, sizeof o.reason, "%s: %.480s", act ? "dry-run" : "no actuator", g.reason);
    } else {
      sl_strlcpy(o.reason, g.reason, sizeof o.reason);
    }
    observe(p, now, &o);
  }
}
