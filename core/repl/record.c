// The REPL's record of outcomes and policy events. See record.h.
#include "core/repl/record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int config_index(const sl_repl_record_t *r, const sl_variant_t *v) {
  const sl_config_t *cfg = r->c->o.cfg;
  if (v >= cfg->variants && v < cfg->variants + cfg->nvariants) return (int)(v - cfg->variants);
  for (int i = 0; i < cfg->nvariants; i++)
    if (!strcmp(cfg->variants[i].id, v->id)) return i;
  return -1;
}

static void on_outcome(sl_observer_t *ob, double now, const sl_outcome_t *o) {
  sl_repl_record_t *r = ob->ud;
  const sl_pipeline_t *p = &r->c->pipeline;
  int ci = config_index(r, o->variant);
  int vi = sl_view_find_variant(&p->view, o->variant->id);
  if (ci < 0 || vi < 0) return;
  sl_repl_last_t *l = &r->last[ci];
  // The ballots first: without room for them the record would explain a vote it cannot show.
  if (l->cap < p->ndeciders) {
    sl_repl_ballot_t *nb = realloc(l->ballots, sizeof *nb * (size_t)p->ndeciders);
    if (!nb) return;
    l->ballots = nb;
    l->cap = p->ndeciders;
  }
  l->seen = 1;
  l->at = now;
  l->tick = p->ticks;
  l->current = o->current, l->requested = o->requested, l->target = o->target;
  l->change = o->change, l->held = o->held, l->actuated = o->actuated;
  sl_strlcpy(l->reason, o->reason, sizeof l->reason);
  sl_strlcpy(l->inputs, o->inputs ? o->inputs : "", sizeof l->inputs);
  l->winner = -1;
  l->nballots = 0;
  for (int k = 0; k < p->ndeciders; k++) {
    const sl_decider_t *d = p->deciders[k];
    int this_tick = 0;
    const sl_decision_t *dec = sl_pipeline_decision(p, k, vi, &this_tick);
    if (!dec || !this_tick || !d->manages[ci]) continue;
    sl_repl_ballot_t *b = &l->ballots[l->nballots++];
    b->decider = k;
    b->requested = dec->requested;
    // The pipeline's vote carries the decider's name pointer, so this is the very voter.
    b->shadow = d->shadow;
    b->won = !d->shadow && o->policy && o->policy == d->name;
    if (b->won) l->winner = k;
    sl_strlcpy(b->reason, dec->requested == SL_VOTE_FAILED ? d->last_error : dec->reason,
               sizeof b->reason);
    sl_strlcpy(b->inputs, dec->inputs, sizeof b->inputs);
  }
  const sl_view_variant_t *vv = &p->view.variants[vi];
  l->spec = vv->spec, l->ready = vv->ready, l->starting = vv->starting, l->pending = vv->pending;
  l->stale = vv->stale;
  l->age = vv->age;
  memcpy(l->sig, vv->sig, sizeof l->sig);
  l->have_model = vv->model >= 0 && vv->model < p->view.nmodels;
  if (l->have_model) {
    const sl_view_model_t *m = &p->view.models[vv->model];
    l->model_age = m->age;
    memcpy(l->gsig, m->sig, sizeof l->gsig);
  }
}

sl_repl_ev_class_t sl_repl_record_class(sl_decider_event_kind_t kind) {
  switch (kind) {
  case SL_DECIDER_REJECTED:
  case SL_DECIDER_RESTORED:
    return SL_REPL_EV_LOAD;
  case SL_DECIDER_FAILED:
    return SL_REPL_EV_RUN;
  default:
    return SL_REPL_EV_OTHER;
  }
}

static void on_event(sl_observer_t *ob, const sl_decider_event_t *e) {
  sl_repl_record_t *r = ob->ud;
  double now = sl_clock_now(r->c->o.clock);
  const char *file = e->file ? e->file : "";
  const char *msg = e->message ? e->message : "";
  r->seq++;
  // A policy failing every tick says the same thing every tick: one entry, counted, so the ring
  // keeps the other events.
  for (int i = 0; i < r->nevents; i++) {
    sl_repl_event_t *x = &r->events[i];
    if (x->kind == e->kind && x->version == e->version && !strcmp(x->file, file) &&
        !strncmp(x->msg, msg, sizeof x->msg - 1)) {
      x->count++;
      x->last = now;
      x->seq = r->seq;
      return;
    }
  }
  sl_repl_event_t *x = &r->events[r->head];
  r->head = (r->head + 1) % SL_REPL_EVENTS;
  if (r->nevents < SL_REPL_EVENTS) r->nevents++;
  x->seq = r->seq;
  x->first = x->last = now;
  x->count = 1;
  x->kind = e->kind;
  x->version = e->version;
  sl_strlcpy(x->file, file, sizeof x->file);
  sl_strlcpy(x->msg, msg, sizeof x->msg);
}

int sl_repl_record_init(sl_repl_record_t *r, sl_controller_t *c, sl_err_t *err) {
  memset(r, 0, sizeof *r);
  r->c = c;
  r->nvariants = c->o.cfg->nvariants;
  r->last = calloc(r->nvariants ? (size_t)r->nvariants : 1, sizeof *r->last);
  if (!r->last) return sl_err(err, SL_ENOMEM, "out of memory");
  r->observer = (sl_observer_t){.outcome = on_outcome, .decider_event = on_event, .ud = r};
  int rc = sl_controller_add_observer(c, &r->observer, err);
  if (rc < 0) sl_repl_record_deinit(r);
  return rc;
}

void sl_repl_record_deinit(sl_repl_record_t *r) {
  if (r->c) sl_controller_remove_observer(r->c, &r->observer);
  for (int i = 0; r->last && i < r->nvariants; i++) free(r->last[i].ballots);
  free(r->last);
  memset(r, 0, sizeof *r);
}

const sl_repl_last_t *sl_repl_record_last(const sl_repl_record_t *r, int ci) {
  return ci >= 0 && ci < r->nvariants && r->last[ci].seen ? &r->last[ci] : NULL;
}

const sl_repl_event_t *sl_repl_record_event(const sl_repl_record_t *r, int i) {
  if (i < 0 || i >= r->nevents) return NULL;
  int oldest = r->nevents < SL_REPL_EVENTS ? 0 : r->head;
  return &r->events[(oldest + i) % SL_REPL_EVENTS];
}
