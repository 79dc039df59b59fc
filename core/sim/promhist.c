// Fixed-bound histograms. See promhist.h.
#include "core/sim/promhist.h"

#include <math.h>
#include <string.h>

// From a vLLM V1 /metrics page (../shared/data/metrics/vllm_metrics_page.txt).
static const double b_ttft[] = {0.001, 0.005, 0.01, 0.02,  0.04,  0.06,   0.08,    0.1,
                                0.25,  0.5,   0.75, 1.0,   2.5,   5.0,    7.5,     10.0,
                                20.0,  40.0,  80.0, 160.0, 640.0, 2560.0, INFINITY};
static const double b_itl[] = {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2,  0.3,  0.4,  0.5,
                               0.75, 1.0,   2.5,  5.0,   7.5, 10.0, 20.0, 40.0, 80.0, INFINITY};
static const double b_e2e[] = {0.3,   0.5,   0.8,   1.0,    1.5,    2.0,     2.5,  5.0,
                               10.0,  15.0,  20.0,  30.0,   40.0,   50.0,    60.0, 120.0,
                               240.0, 480.0, 960.0, 1920.0, 7680.0, INFINITY};
static const double b_tokens[] = {1,    2,    5,    10,    20,    50,    100,    200,     500,
                                  1000, 2000, 5000, 10000, 20000, 50000, 100000, INFINITY};

#define N(a) (int)(sizeof a / sizeof a[0])

const double *sl_promhist_bounds(sl_promhist_kind_t kind, int *nb) {
  switch (kind) {
  case SL_PH_TTFT:
    *nb = N(b_ttft);
    return b_ttft;
  case SL_PH_ITL:
    *nb = N(b_itl);
    return b_itl;
  case SL_PH_PROMPT_TOKENS:
  case SL_PH_GEN_TOKENS:
    *nb = N(b_tokens);
    return b_tokens;
  case SL_PH_E2E:
  case SL_PH_QUEUE_TIME:
  default:
    *nb = N(b_e2e);
    return b_e2e;
  }
}

void sl_promhist_init(sl_promhist_t *h, sl_promhist_kind_t kind) {
  memset(h, 0, sizeof *h);
  h->bounds = sl_promhist_bounds(kind, &h->nb);
}

static int bucket(const sl_promhist_t *h, double x) {
  int lo = 0, hi = h->nb - 1; // the last bound is +Inf: always a match
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    if (x <= h->bounds[mid])
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

void sl_promhist_add(sl_promhist_t *h, double x, double weight) {
  h->c[bucket(h, x)] += weight;
  h->sum += x * weight;
  h->count += weight;
}

void sl_promhist_add_linear(sl_promhist_t *h, double x0, double slope, double n, double weight) {
  if (n <= 0) return;
  if (!(slope > 0) || n == 1) {
    h->c[bucket(h, x0)] += n * weight;
  } else {
    // Values are increasing: walk the buckets from x0's, counting the j with value <= bound.
    double below = 0; // values counted so far
    for (int i = bucket(h, x0); i < h->nb && below < n; i++) {
      double upto = n;
      if (isfinite(h->bounds[i])) {
        upto = floor((h->bounds[i] - x0) / slope) + 1;
        if (upto > n) upto = n;
        if (upto < below) upto = below;
      }
      h->c[i] += (upto - below) * weight;
      below = upto;
    }
  }
  h->sum += (n * x0 + slope * n * (n - 1) / 2) * weight;
  h->count += n * weight;
}

void sl_promhist_cumulative(const sl_promhist_t *h, double *cum) {
  double run = 0;
  for (int i = 0; i < h->nb; i++) cum[i] = run += h->c[i];
}
