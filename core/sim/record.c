// Per-bin time series. See record.h.
#include "core/sim/record.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/err.h"

void sl_record_deinit(sl_record_t *r) {
  free(r->arrivals), free(r->queue_max), free(r->ttft_p99), free(r->met), free(r->ended);
  free(r->ready), free(r->starting), free(r->pending), free(r->cost), free(r->gpus);
  free(r->cur_arrivals), free(r->cur_queue_max), free(r->cur_met), free(r->cur_ended);
  for (int i = 0; r->cur_ttft && i < r->nmodels; i++) sl_lhist_deinit(&r->cur_ttft[i]);
  free(r->cur_ttft);
  memset(r, 0, sizeof *r);
}

static int grow(sl_record_t *r, size_t cap) {
  size_t nm = (size_t)r->nmodels, nv = (size_t)r->nvariants;
#define G(field, per, type)                                                                        \
  do {                                                                                             \
    type *p_ = realloc(r->field, sizeof(type) * cap * (per ? per : 1));                            \
    if (!p_) return SL_ENOMEM;                                                                     \
    r->field = p_;                                                                                 \
  } while (0)
  G(arrivals, nm, double);
  G(queue_max, nm, double);
  G(ttft_p99, nm, double);
  G(met, nm, double);
  G(ended, nm, double);
  G(ready, nv, int);
  G(starting, nv, int);
  G(pending, nv, int);
  G(cost, 1, double);
  G(gpus, 1, double);
#undef G
  r->cap = cap;
  return SL_OK;
}

int sl_record_init(sl_record_t *r, double bin_s, int nvariants, int nmodels, size_t expect_bins) {
  memset(r, 0, sizeof *r);
  r->bin_s = bin_s;
  r->nvariants = nvariants;
  r->nmodels = nmodels;
  size_t nm = (size_t)(nmodels ? nmodels : 1);
  r->cur_arrivals = calloc(nm, sizeof(double));
  r->cur_queue_max = calloc(nm, sizeof(double));
  r->cur_met = calloc(nm, sizeof(double));
  r->cur_ended = calloc(nm, sizeof(double));
  r->cur_ttft = calloc(nm, sizeof(sl_lhist_t));
  if (!r->cur_arrivals || !r->cur_queue_max || !r->cur_met || !r->cur_ended || !r->cur_ttft)
    goto oom;
  for (int i = 0; i < nmodels; i++)
    if (sl_lhist_init(&r->cur_ttft[i], 5) < 0) goto oom;
  if (grow(r, expect_bins > 16 ? expect_bins : 16) < 0) goto oom;
  return SL_OK;
oom:
  sl_record_deinit(r);
  return SL_ENOMEM;
}

int sl_record_close(sl_record_t *r, const int *ready, const int *starting, const int *pending,
                    const double *queue_now, double cost, double gpus) {
  if (r->nbins == r->cap && grow(r, r->cap * 2) < 0) return SL_ENOMEM;
  size_t b = r->nbins, nm = (size_t)r->nmodels, nv = (size_t)r->nvariants;
  for (size_t m = 0; m < nm; m++) {
    r->arrivals[b * nm + m] = r->cur_arrivals[m];
    r->queue_max[b * nm + m] = r->cur_queue_max[m];
    r->met[b * nm + m] = r->cur_met[m];
    r->ended[b * nm + m] = r->cur_ended[m];
    r->ttft_p99[b * nm + m] = sl_lhist_quantile(&r->cur_ttft[m], 0.99);
    sl_lhist_reset(&r->cur_ttft[m]);
    r->cur_arrivals[m] = r->cur_met[m] = r->cur_ended[m] = 0;
    r->cur_queue_max[m] = queue_now ? queue_now[m] : 0;
  }
  for (size_t v = 0; v < nv; v++) {
    r->ready[b * nv + v] = ready[v];
    r->starting[b * nv + v] = starting[v];
    r->pending[b * nv + v] = pending[v];
  }
  r->cost[b] = cost;
  r->gpus[b] = gpus;
  r->nbins++;
  return SL_OK;
}
