// `tick 1000:` tick latency (the view, the policy, the vote, the guard and the actuators) with
// 1,000 variants of 100 models, each fed by live scraping of one pod serving the real vLLM page
// (../shared/data/metrics/vllm_metrics_page.txt, or argv[1]; skipped when absent) at 1 s, the
// `target` policy deciding for all of them every tick. Page servers in a child process. Median
// and p99 over BENCH_TICKS ticks (60; 20 with BENCH_QUICK=1) at BENCH_TICK_INTERVAL seconds (0.5),
// after 5 warm-up ticks.
#include <math.h>

#include "tests/bench/pageserver.h"

#include "core/runtime/controller.h"
#include "core/scrape/scraper.h"
#include "core/util/log.h"

#define VARIANTS 1000
#define MODELS   100
#define WARM     5

static double env_num(const char *name, double def) {
  const char *v = getenv(name);
  return v && *v ? atof(v) : def;
}

static double ticks_s[4096];
static int nticks, seen, want;

static void on_tick_done(void *ud, double seconds, int deciders) {
  if (++seen > WARM && nticks < want) ticks_s[nticks++] = seconds;
  if (nticks == want) sl_controller_stop(ud);
}

static int apply(sl_actuator_t *a, const sl_variant_t *v, int from, int to, const char *reason,
                 double now, sl_err_t *err) {
  (*(long *)a->ud)++;
  return 0;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  const char *path;
  size_t len = 0;
  char *page = ps_read_page(argc, argv, &path, &len);
  if (!page) {
    printf("tick 1000: skipped: %s absent\n", path);
    return 0;
  }
  want = (int)env_num("BENCH_TICKS", env_num("BENCH_QUICK", 0) ? 20 : 60);
  if (want < 1 || want > 4096) want = 60;
  double every = env_num("BENCH_TICK_INTERVAL", 0.5);
  ps_raise_nofile();
  ps_t ps;
  char msg[256];
  if (ps_start(page, len, VARIANTS, &ps, msg, sizeof msg) < 0 || ps.n < VARIANTS) {
    printf("tick 1000: cannot serve the page from %d ports: %s\n", VARIANTS, msg);
    return 1;
  }
  sl_log_set_level(SL_LOG_ERROR);

  // sluice.yaml for 1,000 variants; the policy at the tick's period.
  size_t cap = 128 * VARIANTS + 1024, o = 0;
  char *yaml = malloc(cap);
  o += (size_t)snprintf(yaml + o, cap - o,
                        "interval: %gs\nwindow: 30s\nguard: {stale_after: 10s}\n"
                        "policies:\n  - file: target\n    period: %gs\nvariants:\n",
                        every, every);
  for (int i = 0; i < VARIANTS; i++)
    o += (size_t)snprintf(yaml + o, cap - o, "  - {id: bench/v%04d, model: m%02d, max: 50}\n", i,
                          i % MODELS);
  sl_config_t cfg;
  sl_err_t err = {0};
  if (sl_config_load_buffer(&cfg, yaml, o, "bench.yaml", &err) < 0) {
    printf("tick 1000: configuration: %s\n", err.msg);
    return 1;
  }
  sl_clock_t clock;
  sl_clock_init_real(&clock);
  sl_controller_t c;
  sl_controller_opts_t co = {&cfg, &clock, 1024, NULL, 0};
  long applied = 0;
  sl_actuator_t act = {"count", apply, NULL, &applied};
  if (sl_controller_init(&c, &co, &err) < 0 || sl_controller_load_policies(&c, &err) < 0) {
    printf("tick 1000: controller: %s\n", err.msg);
    return 1;
  }
  sl_store_set_pod_history(c.store, sl_store_pod_history_for(30, 1)); // as cluster mode
  sl_controller_set_actuator(&c, -1, &act);
  c.on_tick_done = on_tick_done;
  c.on_tick_done_ud = &c;

  // One pod per variant, scraped at 1 s into the controller's store.
  sl_scraper_opts_t so = {.interval_s = 1.0, .clock = &clock};
  sl_scraper_t *s = sl_scraper_new(&so, &err);
  sl_scrape_target_t *t = calloc(VARIANTS, sizeof *t);
  char(*url)[64] = calloc(VARIANTS, sizeof *url), (*pod)[32] = calloc(VARIANTS, sizeof *pod);
  for (int i = 0; i < VARIANTS; i++) {
    snprintf(url[i], sizeof url[i], "http://127.0.0.1:%d/metrics", ps.ports[i]);
    snprintf(pod[i], sizeof pod[i], "bench/v%04d-0", i);
    t[i] = (sl_scrape_target_t){
        .url = url[i], .kind = SL_SCRAPE_POD, .pod = pod[i], .variant = cfg.variants[i].id};
  }
  if (!s || sl_scraper_set_targets(s, t, VARIANTS, &err) < 0 ||
      sl_controller_add_source(&c, sl_scraper_source(s), &err) < 0) {
    printf("tick 1000: scraper: %s\n", err.msg);
    return 1;
  }
  uv_loop_t loop;
  uv_loop_init(&loop);
  // The controller waits for every target's first scrape before its first tick; the tick hook
  // stops it after the ticks wanted (the limit only bounds a run that never gets there).
  sl_controller_run(&c, &loop, 10 * (want + WARM) + 100, &err);
  sl_scraper_stats_t st;
  sl_scraper_stats(s, &st);
  sl_scraper_free(s);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  qsort(ticks_s, (size_t)nticks, sizeof *ticks_s, cmp);
  int p99 = (int)ceil(0.99 * nticks) - 1;
  if (nticks)
    printf("tick 1000: median %.2f ms, p99 %.2f ms (%d ticks every %gs, %d variants of %d models "
           "with a scraped pod each, the target policy; %llu scrapes, %llu failed; %ld changes "
           "applied)\n",
           ticks_s[nticks / 2] * 1e3, ticks_s[p99 < 0 ? 0 : p99] * 1e3, nticks, every, VARIANTS,
           MODELS, (unsigned long long)st.scrapes, (unsigned long long)st.failures, applied);
  else
    printf("tick 1000: no tick ran\n");
  sl_controller_deinit(&c);
  sl_config_deinit(&cfg);
  free(yaml), free(t), free(url), free(pod);
  ps_stop(&ps);
  free(page);
  return 0;
}
