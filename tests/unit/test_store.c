// Store windows: rate with counter resets, max/mean over windows, ring wrap-around,
// histogram quantiles as Prometheus computes them, and pod bookkeeping.
#include <math.h>

#include "core/state/store.h"
#include "tests/unit/tap.h"

static void test_gauge_windows(void) {
  sl_series_t s;
  sl_series_init(&s, SL_KIND_GAUGE, 8);
  for (int i = 0; i < 5; i++) sl_series_push(&s, 10.0 * i, i); // t 0..40, v 0..4
  T_NEAR(sl_series_avg_over(&s, 40, 25), 3.0, 1e-12, "avg over (15,40] = mean(2,3,4)");
  T_NEAR(sl_series_max_over(&s, 40, 25), 4.0, 1e-12, "max over (15,40]");
  T_NEAR(sl_series_min_over(&s, 40, 25), 2.0, 1e-12, "min over (15,40]");
  T_NEAR(sl_series_avg_over(&s, 30, 20), 2.5, 1e-12,
         "window ending in the past excludes later samples");
  T_OK(isnan(sl_series_avg_over(&s, 100, 10)), "empty window is NaN, not 0");
  T_NEAR(sl_series_avg_over(&s, 40, 10), 4.0, 1e-12,
         "window boundary is open on the left: t=30 excluded");
  // wrap the ring: 8 slots, push 12 samples total
  for (int i = 5; i < 12; i++) sl_series_push(&s, 10.0 * i, i);
  T_EQ_INT(s.len, 8, "ring keeps cap samples");
  T_NEAR(sl_series_min_over(&s, 110, 1000), 4.0, 1e-12, "oldest kept sample after wrap is v=4");
  double t;
  T_NEAR(sl_series_last(&s, &t), 11.0, 0, "last value after wrap");
  T_NEAR(t, 110.0, 0, "last time after wrap");
  sl_series_push(&s, 110, 99);
  T_NEAR(sl_series_last(&s, NULL), 99.0, 0, "same-time sample replaces the newest");
  T_EQ_INT(s.len, 8, "replacement does not grow the ring");
  sl_series_push(&s, 50, -1);
  T_NEAR(sl_series_min_over(&s, 110, 1000), 4.0, 0, "out-of-order sample is dropped");
  sl_series_deinit(&s);
}

static void test_counter_rate(void) {
  sl_series_t s;
  sl_series_init(&s, SL_KIND_COUNTER, 16);
  // 2/s for 30 s, then the pod restarts (counter back to 5), then 2/s again
  double vals[] = {0, 20, 40, 60, 5, 25};
  for (int i = 0; i < 6; i++) sl_series_push(&s, 10.0 * i, vals[i]);
  double span;
  // increases: 20 + 20 + 20 + 5 (reset: counts from 0) + 20 = 85 over 50 s
  T_NEAR(sl_series_increase(&s, 50, 60, &span), 85.0, 1e-12,
         "increase counts a reset as restart from 0");
  T_NEAR(span, 50.0, 1e-12, "span covers first to last sample in window");
  T_NEAR(sl_series_rate(&s, 50, 60), 85.0 / 50.0, 1e-12, "rate = increase / span");
  T_NEAR(sl_series_rate(&s, 30, 25), 2.0, 1e-12, "rate over (5,30] = (60-20)/20");
  T_OK(isnan(sl_series_rate(&s, 50, 5)), "a single sample gives no rate");
  sl_series_deinit(&s);
}

static void test_histogram(void) {
  const double inf = INFINITY;
  double bounds[] = {0.1, 0.5, 1.0, inf};
  // cumulative counts: 10 requests <= 0.1, 30 <= 0.5, 40 <= 1.0, 40 total
  double cum[] = {10, 30, 40, 40};
  // rank for q=0.5 is 20 -> bucket (0.1, 0.5]: 0.1 + 0.4 * (20-10)/(30-10) = 0.3
  T_NEAR(sl_series_hist_quantile(bounds, cum, 4, 0.5), 0.3, 1e-12,
         "median interpolated in its bucket");
  // q=0.25 rank 10 -> first bucket, lower bound 0: 0 + 0.1 * 10/10
  T_NEAR(sl_series_hist_quantile(bounds, cum, 4, 0.25), 0.1, 1e-12, "quantile at a bucket edge");
  double cum2[] = {10, 30, 40, 50};
  // q=0.99 rank 49.5 > 40 -> +Inf bucket -> largest finite bound
  T_NEAR(sl_series_hist_quantile(bounds, cum2, 4, 0.99), 1.0, 0,
         "+Inf bucket returns largest finite bound");
  double zero[] = {0, 0, 0, 0};
  T_OK(isnan(sl_series_hist_quantile(bounds, zero, 4, 0.5)), "empty histogram has no quantile");

  sl_series_t s;
  sl_series_init(&s, SL_KIND_HISTOGRAM, 8);
  double c0[] = {5, 5, 5, 5}, c1[] = {15, 35, 45, 45};
  sl_series_push_hist(&s, 0, bounds, c0, 4, 0.2, 5);
  sl_series_push_hist(&s, 60, bounds, c1, 4, 12.2, 45);
  double acc[4] = {0}, sum = 0, count = 0;
  T_EQ_INT(sl_series_hist_delta(&s, 60, 120, acc, &sum, &count), 4,
           "delta over window has 4 buckets");
  T_NEAR(acc[1], 30.0, 0, "bucket delta = later - earlier");
  T_NEAR(count, 40.0, 0, "count delta");
  T_NEAR(sum / count, 12.0 / 40.0, 1e-12, "mean from sum/count deltas");
  T_NEAR(sl_series_hist_quantile(bounds, acc, 4, 0.5), 0.3, 1e-12,
         "quantile over the window delta");
  sl_series_deinit(&s);
}

static void test_objects(void) {
  sl_store_t *st = sl_store_new(16);
  sl_err_t err;
  sl_store_set_pod(st, "ns/a", "a-0", SL_POD_READY);
  sl_store_set_pod(st, "ns/a", "a-1", SL_POD_STARTING);
  sl_store_set_pod(st, "ns/b", "b-0", SL_POD_READY);
  sl_store_variant_t *a = sl_store_find_variant(st, "ns/a");
  T_EQ_INT(a->npods, 2, "variant a has two pods");
  sl_store_set_pod(st, "ns/b", "a-1", SL_POD_READY); // re-parented
  T_EQ_INT(a->npods, 1, "re-parented pod leaves its old variant");
  T_EQ_INT(sl_store_find_variant(st, "ns/b")->npods, 2, "and joins the new one");
  T_EQ_INT(sl_store_put_pod(st, "a-0", SL_M_KV_USAGE, 1, 0.5, &err), 0, "pod gauge accepted");
  T_OK(sl_store_put_pod(st, "a-0", SL_M_GW_QUEUE_SIZE, 1, 3, &err) < 0,
       "gateway metric on a pod is refused");
  T_STR_HAS(err.msg, "model-scoped", "refusal names the scope");
  T_OK(sl_store_put_pod(st, "zz", SL_M_KV_USAGE, 1, 0.5, &err) == SL_ENOTFOUND,
       "unknown pod refused");
  T_OK(sl_store_put_model(st, "m", SL_M_GW_QUEUE_SIZE, 2, 7, &err) == 0,
       "gateway metric on a model");
  T_NEAR(sl_store_find_model(st, "m")->last_sample, 2, 0, "model freshness tracked");
  sl_store_remove_pod(st, "a-0");
  T_EQ_INT(a->npods, 0, "removed pod leaves its variant");
  T_OK(sl_map_get(&st->pods, "a-0") == NULL, "removed pod is gone");
  sl_store_free(st);
}

// Pods keep a shorter history than variants and models when asked to.
static void test_pod_history(void) {
  sl_store_t *st = sl_store_new(100);
  sl_store_set_pod_history(st, 10);
  sl_pod_t *p = sl_store_set_pod(st, "ns/v", "p", SL_POD_READY);
  for (int i = 0; i < 50; i++) {
    sl_store_put_pod_at(st, p, SL_M_WAITING, i, i, NULL);
    sl_store_put_model(st, "m", SL_M_GW_QUEUE_SIZE, i, i, NULL);
    sl_store_put_variant_signal(st, "ns/v", SL_V_WAITING, i, i);
  }
  T_OK(p->m[SL_M_WAITING]->cap == 10 && p->m[SL_M_WAITING]->len == 10,
       "pod history: a pod series keeps 10 samples");
  double t;
  T_NEAR(sl_series_last(p->m[SL_M_WAITING], &t), 49, 0, "pod history: the newest kept");
  sl_store_model_t *m = sl_store_find_model(st, "m");
  sl_store_variant_t *v = sl_store_find_variant(st, "ns/v");
  T_OK(m && m->m[SL_M_GW_QUEUE_SIZE]->len == 50 && v && v->sig[SL_V_WAITING]->len == 50,
       "pod history: model and variant series keep samples_per_series");
  sl_store_free(st);
}

// Rows read back exactly whatever the counts: whole counts (kept as 32-bit offsets), growth past
// 32 bits from the first row (rebased on the oldest row kept), growth past that too (doubles from
// then on) and fractional counts; the ring of 4 wraps throughout.
static void test_histogram_rows(void) {
  const double bounds[] = {1, INFINITY};
  sl_series_t s;
  sl_series_init(&s, SL_KIND_HISTOGRAM, 4);
  double rows[9][2] = {{3, 7},       {4, 3e9},        {5, 3e9 + 1},
                       {6, 3e9 + 2}, {7, 4.3e9},      {8, 4.3e9 + 1}, // 4.3e9 - 7 > 2^32
                       {9, 2e10},    {9.5, 2e10 + 1}, {10, 2e10 + 2}};
  int ok = 1, narrow_at_5 = 0, wide_at_6 = 0;
  for (int r = 0; r < 9; r++) {
    T_EQ_INT(sl_series_push_hist(&s, r, bounds, rows[r], 2, 0, rows[r][1]), 0, "row pushed");
    for (int k = 0; k < s.len; k++) {
      double got[2];
      int want = r - s.len + 1 + k;
      ok &=
          sl_series_hist_row(&s, k, got) == 2 && got[0] == rows[want][0] && got[1] == rows[want][1];
    }
    if (r == 5) narrow_at_5 = s.off && !s.buckets;
    if (r == 6) wide_at_6 = s.buckets && !s.off;
  }
  T_OK(ok, "every row in the ring reads back exactly after each push");
  T_OK(narrow_at_5, "growth past 32 bits from the first row rebased, still narrow");
  T_OK(wide_at_6, "growth past 32 bits from every row kept: doubles");
  double acc[2] = {0}, sum = 0, count = 0;
  sl_series_hist_delta(&s, 8, 3.5, acc, &sum, &count); // rows 5 (narrow) to 8 (wide)
  T_NEAR(acc[1], 2e10 + 2 - (4.3e9 + 1), 0, "a delta across the widening is exact");
  double out[2];
  T_EQ_INT(sl_series_hist_row(&s, 4, out), 0, "no row past the ring");
  sl_series_deinit(&s);
}

// A pod series of sl_store_pod_history_for(window, interval) samples answers every query over the
// window as a long one does, also with scrapes a little early or late.
static void test_pod_history_for(void) {
  T_EQ_INT(sl_store_pod_history_for(60, 1), 68, "60 s at 1 s: 68 samples");
  T_EQ_INT(sl_store_pod_history_for(2, 1), 16, "at least 16");
  T_EQ_INT(sl_store_pod_history_for(3600, 0.5), 1024, "at most 1024");
  sl_series_t a, b;
  sl_series_init(&a, SL_KIND_COUNTER, sl_store_pod_history_for(60, 1));
  sl_series_init(&b, SL_KIND_COUNTER, 1024);
  double v = 0;
  int same = 1;
  for (int i = 0; i < 300; i++) {
    double t = i + 0.3 * sin(i * 1.7); // jittered scrapes
    v += (i * 7919) % 13;
    sl_series_push(&a, t, v);
    sl_series_push(&b, t, v);
    for (double w = 1; w <= 60; w += 0.5)
      same &= sl_series_rate(&a, t, w) == sl_series_rate(&b, t, w) ||
              (isnan(sl_series_rate(&a, t, w)) && isnan(sl_series_rate(&b, t, w)));
  }
  T_OK(same, "every rate over windows up to 60 s agrees with a 1024-sample series");
  sl_series_deinit(&a);
  sl_series_deinit(&b);
}

int main(void) {
  test_pod_history();
  test_pod_history_for();
  test_histogram_rows();
  test_gauge_windows();
  test_counter_rate();
  test_histogram();
  test_objects();
  return tap_done();
}
