// C deciders. See cpolicy.h.
#include "core/sim/cpolicy.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sl_cpolicy_run {
  sl_cpolicy_params_t p;
  sl_decider_t d;
  unsigned char *manages;
  double *low_since;  // per view variant, NaN = not low
  int n;
};
typedef sl_cpolicy_run_t target_t;

static double or0(double x) {
  return isnan(x) ? 0 : x;
}

static int target_decide(sl_decider_t *d, sl_view_t *view, sl_decision_t *out, sl_err_t *err) {
  target_t *t = d->ud;
  if (t->n < view->nvariants) {
    double *n = realloc(t->low_since, sizeof *n * (size_t)view->nvariants);
    if (!n) return sl_err(err, SL_ENOMEM, "out of memory");
    for (int i = t->n; i < view->nvariants; i++) n[i] = NAN;
    t->low_since = n;
    t->n = view->nvariants;
  }
  const sl_cpolicy_params_t *p = &t->p;
  for (int mi = 0; mi < view->nmodels; mi++) {
    const sl_view_model_t *m = &view->models[mi];
    double queued = or0(m->sig[SL_G_QUEUE_SIZE]);
    double ready_total = 0;
    for (int k = 0; k < m->nvariants; k++) ready_total += view->variants[m->variants[k]].ready;
    for (int k = 0; k < m->nvariants; k++) {
      int i = m->variants[k];
      const sl_view_variant_t *v = &view->variants[i];
      double share = ready_total > 0 ? queued * v->ready / ready_total : (k == 0 ? queued : 0);
      double running = v->sig[SL_V_RUNNING], waiting = v->sig[SL_V_WAITING];
      int current = v->spec;
      if (isnan(running) && share == 0) continue;  // no data, nothing queued: no opinion
      double load = or0(running) + or0(waiting) + share;
      double ratio = current > 0 ? load / (current * p->target) : INFINITY;
      int want = (int)ceil(load / p->target);
      if (fabs(ratio - 1) <= p->tolerance) {
        t->low_since[i] = NAN;
        out[i].requested = current;
        snprintf(out[i].reason, sizeof out[i].reason,
                 "load %.1f per replica within %.0f%% of target %g", load / (current ? current : 1),
                 p->tolerance * 100, p->target);
      } else if (want > current) {
        t->low_since[i] = NAN;
        out[i].requested = want;
        snprintf(out[i].reason, sizeof out[i].reason,
                 "load %.1f (running %.0f, waiting %.0f, queued %.1f) needs %d at %g per replica",
                 load, or0(running), or0(waiting), share, want, p->target);
      } else {
        if (isnan(t->low_since[i])) t->low_since[i] = view->time;
        double low = view->time - t->low_since[i];
        out[i].requested = low >= p->down_after ? want : current;
        snprintf(out[i].reason, sizeof out[i].reason, "load %.1f needs %d; low for %.0fs", load,
                 want, low);
      }
    }
  }
  return SL_OK;
}

// base is the first member: the policy is its own container, and stays valid when copied.
static void target_detach(sl_sim_policy_t *sp) {
  sl_cpolicy_t *c = (sl_cpolicy_t *)sp;
  if (!c->live) return;
  free(c->live->manages);
  free(c->live->low_since);
  free(c->live);
  c->live = NULL;
}

static int target_attach(sl_sim_policy_t *sp, sl_pipeline_t *pl, const sl_config_t *cfg,
                         sl_clock_t *clock, sl_err_t *err) {
  sl_cpolicy_t *c = (sl_cpolicy_t *)sp;
  target_detach(sp);
  target_t *t = calloc(1, sizeof *t);
  if (!t) return sl_err(err, SL_ENOMEM, "out of memory");
  c->live = t;
  t->p = c->params;
  t->manages = malloc((size_t)(cfg->nvariants ? cfg->nvariants : 1));
  if (!t->manages) return sl_err(err, SL_ENOMEM, "out of memory");
  memset(t->manages, 1, (size_t)cfg->nvariants);
  t->d = (sl_decider_t){.name = "target", .decide = target_decide, .ud = t, .period = 1,
                        .scale_from_zero = 1, .manages = t->manages};
  sp->period = 1;
  sp->scrape_interval = 1;
  sp->lag = 0;
  sp->window = 30;
  sp->scale_from_zero = 1;
  return sl_pipeline_add(pl, &t->d, err);
}

void sl_cpolicy_target(sl_cpolicy_t *p, const sl_cpolicy_params_t *params) {
  memset(p, 0, sizeof *p);
  p->params = params ? *params : (sl_cpolicy_params_t){8, 0.1, 60};
  p->base = (sl_sim_policy_t){.name = "target", .attach = target_attach,
                              .detach = target_detach};
}
