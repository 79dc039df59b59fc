// The data path through the controller: periods, the vote, failure isolation, an actuator per
// variant, observers, and what the guard applied flowing back into the next view (v.last).
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/runtime/controller.h"
#include "tests/unit/tap.h"

typedef struct {
  int want[4]; // per configured variant, -1 no opinion
  int fail;
  int saw_last_applied;
} fake_t;

static int fake_decide(sl_decider_t *d, sl_view_t *view, sl_decision_t *out, sl_err_t *err) {
  fake_t *f = d->ud;
  if (f->fail) return sl_err(err, SL_EINVAL, "p.lua:7: attempt to index a nil value");
  for (int i = 0; i < view->nvariants; i++) {
    const char *id = view->variants[i].desc->id;
    int ci = id[3] - 'a'; // ids are ns/a, ns/b, ...
    if (!d->manages[ci]) continue;
    out[i].requested = f->want[ci];
    snprintf(out[i].reason, sizeof out[i].reason, "%s wants %d", d->name, f->want[ci]);
    f->saw_last_applied = view->variants[i].last.applied;
  }
  return 0;
}

typedef struct {
  int calls;
  char last[256];
  int to[4];
} rec_t;

static int rec_scale(sl_actuator_t *a, const sl_variant_t *v, int from, int to, const char *reason,
                     double now, sl_err_t *err) {
  rec_t *r = a->ud;
  r->calls++;
  r->to[v->id[3] - 'a'] = to;
  snprintf(r->last, sizeof r->last, "%s %d->%d %s", v->id, from, to, reason);
  return 0;
}

static const char *yaml = "interval: 1s\n"
                          "variants:\n"
                          "  - {id: ns/a, model: m, min: 1, max: 10}\n"
                          "  - {id: ns/b, model: m, min: 1, max: 10}\n"
                          "  - {id: ns/c, model: n, min: 1, max: 10}\n";

static char last_outcome_a[SL_REASON_MAX];
static void on_outcome(sl_observer_t *ob, double now, const sl_outcome_t *o) {
  if (!strcmp(o->variant->id, "ns/a"))
    snprintf(last_outcome_a, sizeof last_outcome_a, "%s", o->reason);
}

int main(void) {
  sl_config_t cfg;
  sl_err_t err;
  if (sl_config_load_buffer(&cfg, yaml, strlen(yaml), "t.yaml", &err) < 0) {
    printf("# %s\n", err.msg);
    return 1;
  }
  sl_clock_t clock;
  sl_clock_init_sim(&clock, 1000);
  sl_controller_t c;
  sl_controller_opts_t co = {&cfg, &clock, 64, NULL, 0};
  T_EQ_INT(sl_controller_init(&c, &co, &err), 0, "controller init");
  sl_store_t *st = c.store;
  for (int i = 0; i < 3; i++) {
    sl_store_set_replicas(st, cfg.variants[i].id, 3, 3, 0, 0);
    sl_store_put_variant_signal(st, cfg.variants[i].id, SL_V_KV_USAGE, 1000, 0.5);
  }
  rec_t rec = {0}, rec_c = {0};
  sl_actuator_t act = {"rec", rec_scale, NULL, &rec}, act_c = {"rec-c", rec_scale, NULL, &rec_c};
  sl_controller_set_actuator(&c, -1, &act);
  sl_controller_set_actuator(&c, 2, &act_c); // ns/c has an actuator of its own
  sl_observer_t obs = {.outcome = on_outcome};
  sl_controller_add_observer(&c, &obs, &err);
  unsigned char m_ab[3] = {1, 1, 0}, m_a[3] = {1, 0, 0}, m_c[3] = {0, 0, 1};
  fake_t f1 = {{5, 2, -1}}, f2 = {{4, 3, -1}}, f3 = {{-1, -1, 6}};
  sl_decider_t d1 = {"one", fake_decide, &f1, 1, 0, 0, m_ab};
  sl_decider_t d2 = {"two", fake_decide, &f2, 1, 0, 0, m_a};
  sl_decider_t d3 = {"slow", fake_decide, &f3, 15, 0, 0, m_c};
  sl_controller_add_decider(&c, &d1, &err);
  sl_controller_add_decider(&c, &d2, &err);
  sl_controller_add_decider(&c, &d3, &err);

  T_EQ_INT(sl_controller_tick(&c, &err), 3, "all deciders run on the first tick");
  T_EQ_INT(rec.to[0], 5, "a: the largest scale-up wins (5 over 4)");
  T_EQ_INT(rec.to[1], 2, "b: a single voter's scale-down is applied");
  T_EQ_INT(rec_c.to[2], 6, "c: the slow decider's decision applied, through c's own actuator");
  T_EQ_INT(rec.calls, 2, "two actuations through the default actuator");
  T_EQ_INT(rec_c.calls, 1, "one through c's");

  // The fake store does not follow the actuator; set what the cluster now runs.
  sl_store_set_replicas(st, "ns/a", 5, 5, 0, 0);
  sl_store_set_replicas(st, "ns/b", 2, 2, 0, 0);
  sl_store_set_replicas(st, "ns/c", 6, 6, 0, 0);
  f1.want[0] = 3; // wants down
  f2.want[0] = 5; // holds
  rec.calls = 0;
  sl_clock_advance(&clock, 1);
  T_EQ_INT(sl_controller_tick(&c, &err), 2, "the 15 s decider is not due after 1 s");
  T_EQ_INT(rec.calls, 0, "nothing changes: b is already at 2, a's scale-down is vetoed");
  T_STR_HAS(last_outcome_a, "scale-down to 3 not unanimous (two holds)", "the veto is explained");
  T_EQ_INT(f1.saw_last_applied, 2, "v.last.applied shows what the guard applied last tick");

  f2.want[0] = 2; // now both want down: 3 and 2 -> the smaller step, 3
  f1.want[1] = 2;
  rec.calls = 0;
  sl_clock_advance(&clock, 1);
  sl_controller_tick(&c, &err);
  T_EQ_INT(rec.to[0], 3, "unanimous scale-down takes the smallest step (3, not 2)");

  sl_store_set_replicas(st, "ns/a", 3, 3, 0, 0);
  f1.fail = 1;
  f2.want[0] = 7;
  rec.calls = 0;
  sl_clock_advance(&clock, 1);
  sl_controller_tick(&c, &err);
  T_EQ_INT(rec.calls, 0, "a failing voter holds every variant it votes on");
  T_EQ_INT(d1.failures, 1, "the failure is counted");
  T_STR_HAS(d1.last_error, "p.lua:7", "and its message kept");
  T_STR_HAS(last_outcome_a, "policy failed: p.lua:7", "the outcome names the failure");

  f1.fail = 0;
  f1.want[0] = 3;
  f1.want[1] = 2;
  for (int i = 0; i < 11; i++) {
    sl_clock_advance(&clock, 1);
    sl_controller_tick(&c, &err);
  }
  T_EQ_INT((int)d3.runs, 1, "the 15 s decider ran once in its first 15 s");
  sl_clock_advance(&clock, 1);
  sl_controller_tick(&c, &err);
  T_EQ_INT((int)d3.runs, 2, "and again at 15 s");

  sl_controller_deinit(&c);
  sl_config_deinit(&cfg);
  return tap_done();
}
