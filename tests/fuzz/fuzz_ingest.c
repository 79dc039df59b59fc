// libFuzzer: ingestion, bytes to store. The first byte picks the format (bit 0: OpenMetrics) and
// the scope (bit 1: a gateway's page); the rest is the page, parsed, staged and committed into a
// fresh store by one reused sl_ingest_t, as the scraper does. Besides memory safety it checks the
// all-or-nothing contract: a page that fails to parse leaves the store exactly empty (the pod
// without a metric or a sample time, no model group), and the error is "line N: ..."; a page that
// parses writes exactly the metrics it staged, at the commit time, every histogram with strictly
// increasing bounds ending at +Inf.
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/scrape/ingest.h"

static void check(int ok) {
  if (!ok) __builtin_trap();
}

static void check_hist(const sl_series_t *s) {
  check(s->nb >= 1 && s->len == 1);
  for (int i = 1; i < s->nb; i++) check(s->bounds[i] > s->bounds[i - 1]);
  check(isinf(s->bounds[s->nb - 1]) && s->bounds[s->nb - 1] > 0);
}

// Metrics of one entity's series array written at time t; checks each.
static int written(sl_series_t *const *m, double t) {
  int n = 0;
  for (int k = 0; k < SL_M__COUNT; k++) {
    if (!m[k]) continue;
    double at;
    sl_series_last(m[k], &at);
    check(m[k]->len == 1 && at == t);
    if (sl_metric_info(k)->kind == SL_KIND_HISTOGRAM) check_hist(m[k]);
    n++;
  }
  return n;
}

static sl_ingest_t *g;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  sl_expo_format_t fmt = data[0] & 1 ? SL_EXPO_OPENMETRICS : SL_EXPO_TEXT_004;
  sl_scope_t scope = data[0] & 2 ? SL_SCOPE_MODEL : SL_SCOPE_POD;
  size_t len = size - 1;
  char *buf = malloc(len ? len : 1); // exact size: a read past the page is caught
  memcpy(buf, data + 1, len);
  if (!g) g = sl_ingest_new(NULL);
  sl_store_t *st = sl_store_new(4);
  sl_pod_t *p = sl_store_set_pod(st, "ns/v", "pod", SL_POD_READY);
  sl_err_t err;
  int rc = sl_ingest_page(g, buf, len, fmt, scope, &err);
  check(rc == 0 || rc == SL_EPARSE);
  if (rc) check(err.code == rc && !strncmp(err.msg, "line ", 5));
  int staged = sl_ingest_metrics(g);
  if (rc) check(staged == 0 && sl_ingest_samples(g) == 0);
  // What the scraper does whatever the parse said: a failed page must commit nothing.
  int crc = scope == SL_SCOPE_POD ? sl_ingest_commit_pod(g, st, p, 42, &err)
                                  : sl_ingest_commit_model(g, st, "m", 42, &err);
  check(crc == 0);
  sl_store_model_t *m = sl_store_find_model(st, "m");
  if (rc) {
    check(p->mask == 0 && isinf(p->last_sample) && !m);
  } else if (scope == SL_SCOPE_POD) {
    check(written(p->m, 42) == staged && !m);
    check(staged ? p->last_sample == 42 : isinf(p->last_sample));
  } else {
    check(p->mask == 0 && isinf(p->last_sample));
    check(staged ? m && written(m->m, 42) == staged && m->last_sample == 42 : !m);
  }
  sl_store_free(st);
  free(buf);
  return 0;
}
