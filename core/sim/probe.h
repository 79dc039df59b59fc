// What policies see and when: every scrape interval the probe reads each model server that has an
// endpoint (Ready or draining) and each model's gateway, the way Prometheus or a direct scraper
// would, and delivers those samples into the store `lag` seconds later. A 15 s scrape behind a
// 30 s cache is WVA's path through Prometheus; a 1 s scrape with no lag is direct scraping.
#pragma once

#include "core/state/store.h"
#include "core/sim/fleet.h"
#include "core/sim/gateway.h"

typedef struct sl_probe_pod sl_probe_pod_t;
typedef struct sl_probe_gw sl_probe_gw_t;

typedef struct {
  double t;
  sl_probe_pod_t *pods;
  int npods, cap;
  sl_probe_gw_t *gw; // one per model
} sl_probe_snap_t;

typedef struct {
  sl_store_t *store;
  const sl_cluster_t *cl;
  double interval, lag;
  double next_scrape;
  sl_probe_snap_t *ring;
  int cap, head, len;
  uint64_t scrapes, samples;
} sl_probe_t;

int sl_probe_init(sl_probe_t *p, sl_store_t *store, const sl_cluster_t *cl, double interval,
                  double lag, double start, sl_err_t *err);
void sl_probe_deinit(sl_probe_t *p);
// When the probe next has work (a scrape or a delivery).
double sl_probe_next(const sl_probe_t *p);
// Scrapes if one is due at `now`, then delivers every snapshot whose lag has passed.
int sl_probe_run(sl_probe_t *p, double now, const sl_fleet_t *f, const sl_gateway_t *g,
                 sl_err_t *err);
