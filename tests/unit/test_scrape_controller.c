// The scraper as the controller's source, on a real loop: the view shows the scraped signals of a
// model server and of its gateway, the policy's decision is applied; then the model server starts
// serving garbage, every page is rejected, its freshest sample ages, and once it is older than
// guard.stale_after the guard holds the variant with a "stale data" reason. Bounded by a tick
// limit, never by a timed assertion.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/runtime/controller.h"
#include "core/scrape/scraper.h"
#include "tests/unit/fake_api.h"
#include "tests/unit/scrape_pages.h"
#include "tests/unit/tap.h"

static const char *garbage = "vllm:num_requests_running 1\nvllm:num_requests_waiting{ 3\n";

typedef struct {
  int garbage;
} srv_t;

static void handler(fake_api_t *f, const fa_req_t *rq, fa_resp_t *resp, void *ud) {
  srv_t *s = ud;
  if (!strcmp(rq->path, "/pod"))
    fa_resp_body(resp, 200, s->garbage ? garbage : vllm_v0);
  else if (!strcmp(rq->path, "/epp"))
    fa_resp_body(resp, 200, llmd);
  else
    fa_resp_body(resp, 404, "");
  fa_resp_header(resp, "Content-Type: text/plain; version=0.0.4");
}

static const char *yaml = "interval: 100ms\n"
                          "window: 10s\n"
                          "guard: {stale_after: 500ms}\n"
                          "variants:\n"
                          "  - {id: ns/a, model: m, min: 1, max: 10}\n";

typedef struct {
  fake_api_t *f;
  srv_t *srv;
  sl_controller_t *c;
  int ticks, seen_ticks, flipped_at;
  double kv, running, waiting, pod_kv, saturation, inflight, queue, age_fresh;
  int ready;
  int actuated_before_flip, held_before_flip;
  int stale_tick;
  double stale_age;
  char stale_reason[SL_REASON_MAX];
  int stale_in_view;
} run_t;

static int decide(sl_decider_t *d, sl_view_t *view, sl_decision_t *out, sl_err_t *err) {
  run_t *r = d->ud;
  r->ticks++;
  int i = sl_view_find_variant(view, "ns/a");
  sl_view_variant_t *v = &view->variants[i];
  if (!r->flipped_at && !isnan(v->sig[SL_V_KV_USAGE])) {
    // The scraped signals, as a policy sees them.
    r->kv = v->sig[SL_V_KV_USAGE];
    r->running = v->sig[SL_V_RUNNING];
    r->waiting = v->sig[SL_V_WAITING];
    r->pod_kv = v->npods ? v->pods[0].sig[SL_P_KV_USAGE] : NAN;
    r->ready = v->ready;
    r->age_fresh = v->age;
    int mi = sl_view_find_model(view, "m");
    if (mi >= 0) {
      r->saturation = view->models[mi].sig[SL_G_SATURATION];
      r->inflight = view->models[mi].sig[SL_G_INFLIGHT_TOKENS];
      r->queue = view->models[mi].sig[SL_G_QUEUE_SIZE];
    }
    if (++r->seen_ticks == 3) {
      fa_lock(r->f);
      r->srv->garbage = 1;
      fa_unlock(r->f);
      r->flipped_at = r->ticks;
    }
  }
  if (r->flipped_at && v->stale) r->stale_in_view = 1;
  out[i].requested = 2;
  snprintf(out[i].reason, sizeof out[i].reason, "wants 2");
  return 0;
}

static int scale(sl_actuator_t *a, const sl_variant_t *v, int from, int to, const char *reason,
                 double now, sl_err_t *err) {
  run_t *r = a->ud;
  if (!r->flipped_at) r->actuated_before_flip++;
  return 0;
}

static void outcome(sl_observer_t *o, double now, const sl_outcome_t *out) {
  run_t *r = o->ud;
  if (!r->flipped_at) {
    r->held_before_flip += out->held;
    return;
  }
  if (!r->stale_tick && out->held && strstr(out->reason, "stale data")) {
    r->stale_tick = r->ticks;
    snprintf(r->stale_reason, sizeof r->stale_reason, "%s", out->reason);
    sl_controller_stop(r->c);
  }
}

int main(void) {
  srv_t srv = {0};
  fake_api_t *f = fa_start(handler, &srv);
  sl_config_t cfg;
  sl_err_t err = {0};
  if (!f || sl_config_load_buffer(&cfg, yaml, strlen(yaml), "t.yaml", &err) < 0) {
    printf("not ok 1 - setup: %s\n", err.msg);
    return 1;
  }
  sl_clock_t clock;
  sl_clock_init_real(&clock);
  sl_controller_t c;
  sl_controller_opts_t co = {&cfg, &clock, 64, NULL, 1};
  T_EQ_INT(sl_controller_init(&c, &co, &err), 0, "controller init");

  run_t r = {.f = f, .srv = &srv, .c = &c};
  unsigned char manages[1] = {1};
  sl_decider_t d = {"wants-two", decide, &r, 0.1, 0, 0, manages};
  sl_controller_add_decider(&c, &d, &err);
  sl_actuator_t act = {"rec", scale, NULL, &r};
  sl_controller_set_actuator(&c, -1, &act);
  sl_observer_t obs = {.outcome = outcome, .ud = &r};
  sl_controller_add_observer(&c, &obs, &err);

  sl_scraper_opts_t so = {.interval_s = 0.05, .clock = &clock};
  sl_scraper_t *s = sl_scraper_new(&so, &err);
  char pod_url[128], epp_url[128];
  snprintf(pod_url, sizeof pod_url, "%s/pod", f->base);
  snprintf(epp_url, sizeof epp_url, "%s/epp", f->base);
  sl_scrape_target_t t[] = {
      {.url = pod_url, .kind = SL_SCRAPE_POD, .pod = "a-0", .variant = "ns/a"},
      {.url = epp_url, .kind = SL_SCRAPE_GATEWAY, .model = "m"},
  };
  sl_scraper_set_targets(s, t, 2, &err);
  T_EQ_INT(sl_controller_add_source(&c, sl_scraper_source(s), &err), 0, "the scraper is a source");

  uv_loop_t loop;
  uv_loop_init(&loop);
  // 300 ticks of 100 ms bound a broken run; the stale hold stops it long before.
  T_EQ_INT(sl_controller_run(&c, &loop, 300, &err), 0, "the controller ran");

  T_OK(r.seen_ticks >= 3, "the view had scraped signals on %d ticks", r.seen_ticks);
  T_NEAR(r.kv, 0.125, 0, "view: kv_usage of the variant, from the scraped page");
  T_NEAR(r.pod_kv, 0.125, 0, "view: kv_usage of its pod");
  T_NEAR(r.running, 4, 0, "view: running");
  T_NEAR(r.waiting, 0, 0, "view: waiting");
  T_EQ_INT(r.ready, 1, "view: one Ready pod, added by the scraper");
  T_OK(r.age_fresh >= 0 && r.age_fresh < 0.5, "view: fresh (age %.3fs)", r.age_fresh);
  T_NEAR(r.saturation, 1.25, 0, "view: the gateway's saturation on the model group");
  T_NEAR(r.inflight, 8192, 0, "view: the gateway's in-flight tokens");
  T_NEAR(r.queue, 3, 0, "view: the gateway's queue");
  T_OK(r.actuated_before_flip > 0 && r.held_before_flip == 0,
       "fresh data: the decision is applied, never held");
  T_OK(r.stale_tick > r.flipped_at, "garbage: the guard held the variant on stale data");
  T_STR_HAS(r.stale_reason, "hold: stale data (freshest sample", "garbage: the reason says so");
  T_OK(r.stale_in_view, "garbage: the view marked the variant stale");

  sl_scrape_info_t i;
  sl_scraper_target_info(s, pod_url, &i);
  T_OK(!i.up && i.rejected >= 1 && i.consecutive_failures >= 1, "the pod target is down, rejected");
  T_STR_HAS(i.last_error, "line 2: ", "with the parse error");
  sl_scraper_target_info(s, epp_url, &i);
  T_OK(i.up && i.failures == 0, "the gateway stayed up");

  sl_scraper_free(s);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  sl_controller_deinit(&c);
  sl_config_deinit(&cfg);
  fa_stop(f);
  return tap_done();
}
