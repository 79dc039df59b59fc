// Time series of one simulated run, per time bin, for the HTML report and anything else that
// plots a run: arrivals, replicas per variant (ready / starting / pending), the gateway queue,
// TTFT p99 against the SLO, SLO attainment and cumulative cost. Memory is bounded by the number
// of bins, never by requests: latencies go through a small per-bin histogram that is read and
// cleared when the bin closes. A report writer only formats these arrays.
#pragma once

#include <stddef.h>

#include "core/sim/lhist.h"

typedef struct {
  double bin_s; // seconds per bin; bin i covers [i * bin_s, (i + 1) * bin_s)
  size_t nbins; // closed bins
  int nvariants, nmodels;
  // Per bin and model, index [bin * nmodels + model]:
  double *arrivals;    // requests that arrived at the gateway in the bin
  double *queue_max;   // most requests held in the gateway's flow-control queue at once
  double *ttft_p99;    // seconds, over requests whose first token came in the bin; NaN if none
  double *met, *ended; // requests ending in the bin (finished, dropped or cut) and of those,
                       // how many met their SLO: attainment = met / ended
  // Per bin and variant, index [bin * nvariants + variant], at the end of the bin:
  int *ready, *starting, *pending;
  // Per bin:
  double *cost; // cumulative cost at the end of the bin
  double *gpus; // GPUs held at the end of the bin
  // working state of the open bin
  size_t cap;
  double *cur_arrivals, *cur_queue_max, *cur_met, *cur_ended;
  sl_lhist_t *cur_ttft;
} sl_record_t;

int sl_record_init(sl_record_t *r, double bin_s, int nvariants, int nmodels, size_t expect_bins);
void sl_record_deinit(sl_record_t *r);

static inline void sl_record_arrival(sl_record_t *r, int model) {
  r->cur_arrivals[model] += 1;
}
static inline void sl_record_queue(sl_record_t *r, int model, double size) {
  if (size > r->cur_queue_max[model]) r->cur_queue_max[model] = size;
}
static inline void sl_record_first_token(sl_record_t *r, int model, double ttft_s) {
  sl_lhist_add(&r->cur_ttft[model], ttft_s);
}
static inline void sl_record_end(sl_record_t *r, int model, int met) {
  r->cur_ended[model] += 1;
  r->cur_met[model] += met;
}
// Closes the open bin with the fleet's state at its end; queue_now[m] seeds the next bin's max.
int sl_record_close(sl_record_t *r, const int *ready, const int *starting, const int *pending,
                    const double *queue_now, double cost, double gpus);
// The time the open bin ends.
static inline double sl_record_next(const sl_record_t *r) {
  return (double)(r->nbins + 1) * r->bin_s;
}
