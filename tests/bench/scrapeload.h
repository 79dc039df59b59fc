// The scraping side of the scraping benchmarks: a scraper with one target per page-server port,
// each a model-server pod of one of a few variants, scraping into a store on a loop of its own,
// with every scrape's duration kept in a log-spaced histogram (no per-scrape allocation). Header-
// only, after pageserver.h.
#pragma once

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "core/scrape/expo.h"
#include "core/scrape/scraper.h"

#define SB_BINS 400 // 2.5% wide from 10 µs

typedef struct {
  uint64_t bins[SB_BINS + 1];
  uint64_t n;
} sb_hist_t;

static inline void sb_hist_add(sb_hist_t *h, double s) {
  int b = s <= 1e-5 ? 0 : (int)(log(s / 1e-5) / log(1.025)) + 1;
  h->bins[b > SB_BINS ? SB_BINS : b]++;
  h->n++;
}

static inline double sb_hist_q(const sb_hist_t *h, double q) {
  uint64_t want = (uint64_t)ceil(q * (double)h->n), c = 0;
  for (int b = 0; b <= SB_BINS; b++)
    if ((c += h->bins[b]) >= want && want) return 1e-5 * pow(1.025, b);
  return NAN;
}

typedef struct {
  uv_loop_t loop;
  sl_store_t *store;
  sl_scraper_t *s;
  sb_hist_t hist;
  int counting;
  uv_timer_t stop;
} sb_t;

static inline void sb_on_scrape(void *ud, const sl_scrape_info_t *i) {
  sb_t *b = ud;
  if (b->counting) sb_hist_add(&b->hist, i->last_duration_s);
}

static inline void sb_stop_cb(uv_timer_t *t) {
  uv_stop(t->loop);
}

// Runs the loop for `s` seconds.
static inline void sb_run_for(sb_t *b, double s) {
  uv_timer_start(&b->stop, sb_stop_cb, (uint64_t)(s * 1000), 0);
  uv_run(&b->loop, UV_RUN_DEFAULT);
}

static inline int sb_on_sample(void *ud, const sl_expo_sample_t *s) {
  (*(long *)ud)++;
  return 0;
}
static inline int sb_on_family(void *ud, const sl_expo_family_t *f) {
  return 1;
}

// Every sample on the page, as Prometheus counts them.
static inline long sb_page_samples(const char *page, size_t len) {
  long n = 0;
  sl_expo_handler_t h = {sb_on_family, sb_on_sample};
  sl_err_t err;
  if (sl_expo_parse(page, len, SL_EXPO_TEXT_004, &h, &n, &err) < 0) return -1;
  return n;
}

// Starts scraping ports[0..n) every interval_s seconds into a store as cluster mode makes one
// (1024 samples per variant and model series) keeping `history` samples per pod series (cluster
// mode keeps 68 with the default 60 s window: sl_store_pod_history_for). With history 0 pages are
// parsed and ingested but the store holds no pods, so nothing is kept: the scraper's own footprint.
static inline int sb_start(sb_t *b, const int *ports, int n, double interval_s, int variants,
                           int history) {
  memset(b, 0, sizeof *b);
  uv_loop_init(&b->loop);
  uv_timer_init(&b->loop, &b->stop);
  b->store = sl_store_new(1024);
  sl_store_set_pod_history(b->store, history > 0 ? history : 2);
  sl_err_t err = {0};
  sl_scraper_opts_t o = {
      .interval_s = interval_s, .external_pods = history == 0, .on_scrape = sb_on_scrape, .ud = b};
  if (!(b->s = sl_scraper_new(&o, &err))) return -1;
  sl_scrape_target_t *t = calloc((size_t)n, sizeof *t);
  char(*url)[64] = calloc((size_t)n, sizeof *url), (*pod)[32] = calloc((size_t)n, sizeof *pod),
  (*var)[32] = calloc((size_t)n, sizeof *var);
  for (int i = 0; i < n; i++) {
    snprintf(url[i], sizeof url[i], "http://127.0.0.1:%d/metrics", ports[i]);
    snprintf(pod[i], sizeof pod[i], "bench/pod-%05d", i);
    snprintf(var[i], sizeof var[i], "bench/v%04d", i % variants);
    t[i] = (sl_scrape_target_t){
        .url = url[i], .kind = SL_SCRAPE_POD, .pod = pod[i], .variant = var[i]};
  }
  int rc = sl_scraper_set_targets(b->s, t, (size_t)n, &err);
  if (rc == 0) rc = sl_scraper_start(b->s, &b->loop, b->store, &err);
  if (rc < 0) fprintf(stderr, "scraper: %s\n", err.msg);
  free(t), free(url), free(pod), free(var);
  return rc;
}

static inline void sb_free(sb_t *b) {
  sl_scraper_free(b->s);
  uv_close((uv_handle_t *)&b->stop, NULL);
  uv_run(&b->loop, UV_RUN_DEFAULT);
  uv_loop_close(&b->loop);
  sl_store_free(b->store);
}
