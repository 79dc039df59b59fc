// The simulator end to end through the real pipeline, with C deciders: the gateway holds
// requests at zero replicas and releases them on scale-from-zero, pods stay Pending when the
// inventory is exhausted, scale-down drains (requests cut at the end of the grace are counted),
// signals reach policies only at the scrape interval and after the lag, runs are deterministic by
// seed (a Lua policy through the host), and the clairvoyant spends no more than any run that
// meets the SLO.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/runtime/simrun.h"
#include "core/util/log.h"
#include "tests/unit/tap.h"

// ---- a scriptable decider ------------------------------------------------------------------

typedef struct testpol testpol_t;
struct testpol {
  const char *name;
  double period, scrape, lag, window;
  int sfz;
  // replicas wanted for view variant vi at view->time, or -1 for no opinion
  int (*want)(testpol_t *t, const sl_view_t *view, int vi);
  int fixed;        // for want_fixed
  double switch_at; // for want_fixed: use fixed2 from this time
  int fixed2;
  double target;    // for want_target: requests per replica
  double threshold; // for want_watch: arrival rate that counts as "seen"
  double first_seen;
  int max_pending, max_ready;
  sl_decider_t d;
  unsigned char manages[64];
};

static int decide(sl_decider_t *d, sl_view_t *view, sl_decision_t *out, sl_err_t *err) {
  testpol_t *t = d->ud;
  for (int i = 0; i < view->nvariants; i++) {
    const sl_view_variant_t *v = &view->variants[i];
    if (v->pending > t->max_pending) t->max_pending = v->pending;
    if (v->ready > t->max_ready) t->max_ready = v->ready;
    out[i].requested = t->want ? t->want(t, view, i) : -1;
    snprintf(out[i].reason, sizeof out[i].reason, "test");
  }
  return 0;
}

// Fresh for each run, as a policy loaded for the run would be.
static void prepare(testpol_t *t, sl_simrun_policy_t *sp) {
  memset(t->manages, 1, sizeof t->manages);
  t->first_seen = NAN;
  t->max_pending = t->max_ready = 0;
  t->d = (sl_decider_t){.name = "test",
                        .decide = decide,
                        .ud = t,
                        .period = t->period,
                        .scale_from_zero = t->sfz,
                        .manages = t->manages};
  *sp = (sl_simrun_policy_t){t->name, NULL, &t->d, t->scrape, t->lag, t->window};
}

static void testpol_init(testpol_t *t, const char *name) {
  memset(t, 0, sizeof *t);
  t->name = name;
  t->period = 1;
  t->scrape = 1;
  t->lag = 0;
  t->window = 30;
  t->sfz = 1;
}

static int want_fixed(testpol_t *t, const sl_view_t *view, int vi) {
  return view->time >= t->switch_at ? t->fixed2 : t->fixed;
}

// Replicas for `target` requests (running, waiting and queued) per replica, at once both ways.
static int want_target(testpol_t *t, const sl_view_t *view, int vi) {
  const sl_view_variant_t *v = &view->variants[vi];
  double q = view->models[v->model].sig[SL_G_QUEUE_SIZE];
  double load = (isnan(v->sig[SL_V_RUNNING]) ? 0 : v->sig[SL_V_RUNNING]) +
                (isnan(v->sig[SL_V_WAITING]) ? 0 : v->sig[SL_V_WAITING]) + (isnan(q) ? 0 : q);
  if (isnan(v->sig[SL_V_RUNNING]) && !(q > 0)) return -1;
  return (int)ceil(load / t->target);
}

static int want_watch(testpol_t *t, const sl_view_t *view, int vi) {
  double r = view->models[0].sig[SL_G_ARRIVAL_RATE];
  if (isnan(t->first_seen) && r > t->threshold) t->first_seen = view->time;
  return -1;
}

// ---- helpers -------------------------------------------------------------------------------

static const char *cluster_yaml =
    "slo_classes:\n"
    "  chat: {ttft_ms: 1000, itl_ms: 50}\n"
    "accelerators:\n"
    "  H100: {count: %d, cost: 4}\n"
    "variants:\n"
    "  - {id: llm/a, model: m, accelerator: H100, slo_class: chat, min: %d, max: 20}\n"
    "cold_start: {fixed: 30s}\n"
    "drain_grace: 30s\n";

static int load(sl_cluster_t *cl, int gpus, int min) {
  char buf[1024];
  snprintf(buf, sizeof buf, cluster_yaml, gpus, min);
  sl_err_t err;
  if (sl_cluster_load_buffer(cl, buf, strlen(buf), "test.yaml", &err) < 0) {
    printf("# %s\n", err.msg);
    return -1;
  }
  return 0;
}

static int run_policy(sl_cluster_t *cl, const char *trace, const char *tokens, uint64_t seed,
                      double duration, const sl_simrun_policy_t *p, sl_sim_result_t *r,
                      sl_sim_t *keep) {
  sl_sim_opts_t o;
  sl_sim_opts_init(&o);
  o.cluster = cl;
  o.trace = trace;
  o.tokens = tokens;
  o.seed = seed;
  o.duration = duration;
  sl_sim_t s;
  sl_err_t err;
  if (sl_sim_init(&s, &o, &err) < 0 || sl_simrun(&s, p, r, &err) < 0) {
    printf("# %s\n", err.msg);
    return -1;
  }
  if (keep)
    *keep = s;
  else
    sl_sim_deinit(&s);
  return 0;
}

static int run(sl_cluster_t *cl, const char *trace, const char *tokens, uint64_t seed,
               double duration, testpol_t *t, sl_sim_result_t *r, sl_sim_t *keep) {
  sl_simrun_policy_t p;
  prepare(t, &p);
  return run_policy(cl, trace, tokens, seed, duration, &p, r, keep);
}

// ---- tests ---------------------------------------------------------------------------------

static void test_hold_and_scale_from_zero(void) {
  sl_cluster_t cl;
  if (load(&cl, 8, 0) < 0) return;
  // Nothing for two minutes (so the warm start is 0 replicas), then 2 req/s.
  const char *trace = "step:rate=0,to=2,at=120,duration=400";
  testpol_t t;
  testpol_init(&t, "no-opinion");
  sl_sim_result_t r;
  sl_sim_t s;
  if (run(&cl, trace, "fixed:in=200,out=20", 1, 0, &t, &r, &s) < 0) return;
  T_EQ_INT(s.warm[0], 0, "the warm start has no replica for an empty first minute");
  T_OK(r.requests > 400, "requests arrived (%llu)", (unsigned long long)r.requests);
  T_EQ_INT(r.dropped, 0, "nothing dropped: the queue held requests until a replica was Ready");
  T_EQ_INT(r.completed, r.requests, "all completed");
  // The first requests waited for the scale-from-zero replica: scrape (1 s) + tick + 30 s cold
  // start.
  size_t b2 = 2; // bin [120, 180)
  T_OK(r.rec.queue_max[b2] >= 30, "requests queued at the gateway meanwhile (max %g)",
       r.rec.queue_max[b2]);
  T_OK(r.ttft_p99_ms > 25000 && r.ttft_p99_ms < 32000,
       "the longest waits are the cold start (TTFT p99 %.0f ms)", r.ttft_p99_ms);
  T_EQ_INT(r.scale_events, 1, "one scale event: the guard's scale from zero");
  sl_sim_result_deinit(&r);
  sl_sim_deinit(&s);

  // Without scale-from-zero nothing serves the queue: every request waits 60 s and is dropped.
  testpol_init(&t, "hold");
  t.sfz = 0;
  if (run(&cl, trace, "fixed:in=200,out=20", 1, 0, &t, &r, NULL) < 0) return;
  T_EQ_INT(r.completed, 0, "no replica, nothing completes");
  T_EQ_INT(r.dropped, r.requests, "every request is dropped after the drop timeout");
  T_OK(r.slo_attainment == 0, "and misses its SLO");
  sl_sim_result_deinit(&r);
  sl_cluster_deinit(&cl);
}

static void test_pending_on_inventory(void) {
  sl_cluster_t cl;
  if (load(&cl, 2, 1) < 0) return;
  testpol_t t;
  testpol_init(&t, "four");
  t.want = want_fixed;
  t.fixed = 4;
  t.fixed2 = 1;
  t.switch_at = 200;
  sl_sim_result_t r;
  if (run(&cl, "poisson:rate=2,duration=400", NULL, 1, 0, &t, &r, NULL) < 0) return;
  T_EQ_INT(t.max_ready, 2, "only two replicas fit two GPUs");
  T_EQ_INT(t.max_pending, 2, "the other two stay Pending, and the view says so");
  size_t b = 2; // [120, 180): settled, before the switch
  T_EQ_INT(r.rec.ready[b], 2, "recorded: 2 ready");
  T_EQ_INT(r.rec.pending[b], 2, "recorded: 2 pending");
  size_t last = r.rec.nbins - 1;
  T_EQ_INT(r.rec.pending[last], 0, "scaling down to 1 removes the Pending pods first");
  T_EQ_INT(r.rec.ready[last], 1, "and drains one Ready pod");
  // Pending pods cost nothing: two GPUs for 200 s, then one (plus the drain).
  T_OK(r.gpu_hours > 2 * 200 / 3600.0 && r.gpu_hours < (2 * 235 + 165) / 3600.0,
       "GPU-hours count scheduled pods only (%.4f)", r.gpu_hours);
  sl_sim_result_deinit(&r);
  sl_cluster_deinit(&cl);
}

static void test_drain_cuts(void) {
  sl_cluster_t cl;
  if (load(&cl, 8, 1) < 0) return;
  testpol_t t;
  testpol_init(&t, "two-then-one");
  t.want = want_fixed;
  t.fixed = 2;
  t.fixed2 = 1;
  t.switch_at = 120;
  sl_sim_result_t r;
  // Requests that decode for minutes: a drain of 30 s cannot let them finish.
  if (run(&cl, "poisson:rate=0.2,duration=300", "fixed:in=100,out=30000", 3, 0, &t, &r, NULL) < 0)
    return;
  T_OK(r.cut > 0, "requests on the draining pod were cut at the end of the grace (%llu)",
       (unsigned long long)r.cut);
  T_EQ_INT(r.completed + r.dropped + r.cut, r.requests, "every request is accounted for");
  T_OK(r.met <= r.completed, "cut requests never meet the SLO");
  sl_sim_result_deinit(&r);

  // Short requests finish inside the grace: nothing is cut.
  if (run(&cl, "poisson:rate=5,duration=300", "fixed:in=100,out=50", 3, 0, &t, &r, NULL) < 0)
    return;
  T_EQ_INT(r.cut, 0, "short requests finish while draining");
  T_EQ_INT(r.completed, r.requests, "all complete");
  sl_sim_result_deinit(&r);
  sl_cluster_deinit(&cl);
}

static void test_signal_lag(void) {
  sl_cluster_t cl;
  if (load(&cl, 8, 1) < 0) return;
  const char *trace = "step:rate=1,to=40,at=300,duration=420";
  struct {
    double scrape, lag, lo, hi;
    const char *what;
  } cases[] = {
      {1, 0, 0, 2, "a 1 s scrape sees the step within 2 s"},
      {15, 0, 15, 16, "a 15 s scrape does not see the step before 15 s"},
      {15, 30, 45, 46, "with a 30 s lag it sees it 45 s later"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    testpol_t t;
    testpol_init(&t, "watch");
    t.want = want_watch;
    t.threshold = 2;
    t.scrape = cases[i].scrape;
    t.lag = cases[i].lag;
    t.window = 30;
    sl_sim_result_t r;
    if (run(&cl, trace, "fixed:in=100,out=10", 1, 0, &t, &r, NULL) < 0) return;
    double d = t.first_seen - 300;
    T_OK(d >= cases[i].lo - 1e-9 && d <= cases[i].hi, "%s (seen after %.1f s)", cases[i].what, d);
    sl_sim_result_deinit(&r);
  }
  sl_cluster_deinit(&cl);
}

static int same(const sl_sim_result_t *a, const sl_sim_result_t *b) {
  return a->requests == b->requests && a->completed == b->completed && a->dropped == b->dropped &&
         a->cut == b->cut && a->met == b->met && a->gpu_hours == b->gpu_hours &&
         a->cost == b->cost && a->ttft_p99_ms == b->ttft_p99_ms && a->itl_p50_ms == b->itl_p50_ms &&
         a->scale_events == b->scale_events &&
         (a->reaction_s == b->reaction_s || (isnan(a->reaction_s) && isnan(b->reaction_s)));
}

static void test_determinism(void) {
  sl_cluster_t cl;
  sl_err_t err;
  if (sl_cluster_load_buffer(&cl, sl_cluster_builtin_yaml, strlen(sl_cluster_builtin_yaml),
                             "builtin", &err) < 0) {
    printf("# %s\n", err.msg);
    return;
  }
  // The canned `target` policy, through the Lua policy host.
  sl_simrun_policy_t p = {"target", "target", NULL, NAN, NAN, NAN};
  sl_sim_result_t a, b, c;
  if (run_policy(&cl, NULL, NULL, 7, 1800, &p, &a, NULL) < 0 ||
      run_policy(&cl, NULL, NULL, 7, 1800, &p, &b, NULL) < 0 ||
      run_policy(&cl, NULL, NULL, 8, 1800, &p, &c, NULL) < 0)
    return;
  T_OK(a.requests > 10000 && a.scale_events > 0, "a busy run with scaling (%llu requests)",
       (unsigned long long)a.requests);
  T_NEAR(a.period, 1, 0, "the run took the policy file's period");
  T_NEAR(a.window, 30, 0, "and its signals' window");
  T_OK(same(&a, &b), "the same seed gives the same run, field for field");
  T_OK(!same(&a, &c), "another seed gives another run");
  sl_sim_result_deinit(&a);
  sl_sim_result_deinit(&b);
  sl_sim_result_deinit(&c);
  sl_cluster_deinit(&cl);
}

// A policy that meets the SLO for 99% of requests cannot do it with fewer GPU-hours than the
// clairvoyant, which knows each minute's load and starts replicas instantly.
static void test_clairvoyant_bound(void) {
  sl_cluster_t cl;
  if (load(&cl, 0, 1) < 0) return;
  const char *traces[] = {"diurnal:mean=20,peak=50,period=3600,bursts=3,burst_x=2,burst_s=120",
                          "gamma:rate=15,cv=3,duration=3600"};
  double targets[] = {4, 8, 16, 32, 64};
  int checked = 0, violations = 0;
  for (size_t k = 0; k < 2; k++) {
    sl_clair_result_t c = {0};
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
      testpol_t p;
      testpol_init(&p, "proportional");
      p.want = want_target;
      p.target = targets[i];
      sl_sim_result_t r;
      sl_sim_t s;
      if (run(&cl, traces[k], NULL, 11, 0, &p, &r, &s) < 0) return;
      sl_err_t err;
      if (i == 0 && sl_sim_clairvoyant(&s, &c, &err) < 0) {
        printf("# %s\n", err.msg);
        return;
      }
      printf("# %s target %g: attainment %.4f, %.2f GPU-h (clairvoyant %.2f)\n", traces[k],
             targets[i], r.slo_attainment, r.gpu_hours, c.gpu_hours);
      // Every completed request that missed was late on TTFT, on ITL or on both.
      uint64_t missed = r.completed - r.met;
      T_OK(missed <= r.late_ttft + r.late_itl && r.late_ttft <= missed && r.late_itl <= missed,
           "misses split into late TTFT (%llu) and late ITL (%llu) of %llu",
           (unsigned long long)r.late_ttft, (unsigned long long)r.late_itl,
           (unsigned long long)missed);
      if (r.slo_attainment >= 0.99) {
        checked++;
        violations += c.gpu_hours > r.gpu_hours;
      }
      sl_sim_result_deinit(&r);
      sl_sim_deinit(&s);
    }
    sl_clair_result_deinit(&c);
  }
  T_OK(checked >= 4, "several runs met the SLO for 99%% of requests (%d)", checked);
  T_EQ_INT(violations, 0, "none of them spent fewer GPU-hours than the clairvoyant");
  sl_cluster_deinit(&cl);
}

int main(void) {
  sl_log_set_level(SL_LOG_WARN);
  test_hold_and_scale_from_zero();
  test_pending_on_inventory();
  test_drain_cuts();
  test_signal_lag();
  test_determinism();
  test_clairvoyant_bound();
  return tap_done();
}
