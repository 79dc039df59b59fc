// The built-in Llama-3.1-8B/H100 step profile still matches the measurements it was fitted to.
// Reads ../shared/data (or $DATA) and skips, saying so, when it is absent.
#include "tests/bench/calib.h"
#include "tests/unit/tap.h"

static calib_row_t dec[CALIB_MAX_ROWS], pre[CALIB_MAX_ROWS];

int main(void) {
  int nd = calib_read_decode(dec), np = calib_read_prefill(pre);
  if (nd < 0 || np < 0) {
    printf("# skip: %s/perf not found; calibration not checked\n", calib_root());
    return tap_done();
  }
  const sl_step_t *b = &sl_step_llama31_8b_h100;
  double abc[3], pp[2];
  T_OK(nd == 19 && calib_fit_decode(dec, nd, abc) == 0, "decode table read and fitted");
  T_OK(np == 8 && calib_fit_prefill(pre, np, 1024, pp) == 0, "prefill table read and fitted");
  T_NEAR(b->a_ms / abc[0], 1, 1e-5, "built-in a is the least-squares fit");
  T_NEAR(b->b_ms_per_tok / abc[1], 1, 1e-5, "built-in b is the least-squares fit");
  T_NEAR(b->c_ms_per_ctx / abc[2], 1, 1e-5, "built-in c is the least-squares fit");
  T_NEAR(b->ms_per_tok / pp[0], 1, 1e-5, "built-in prefill throughput is the fit");
  T_NEAR(b->ms_per_pair / pp[1], 1, 1e-5, "built-in attention cost is the fit");

  double worst = 0;
  for (int i = 0; i < nd; i++) {
    double m = sl_step_ms(b, (int)dec[i].x[0], dec[i].x[0] * dec[i].x[1], 0) - b->overhead_ms;
    worst = fmax(worst, fabs(m - dec[i].x[2]));
  }
  T_OK(worst <= 0.5, "every decode step within 0.5 ms of the measurement (worst %.3f)", worst);
  worst = 0;
  for (int i = 0; i < np; i++) {
    double p = pre[i].x[0];
    double m = sl_step_ms_ex(b, 0, 0, p, 0.5 * p * p) - b->overhead_ms;
    worst = fmax(worst, fabs(m / pre[i].x[1] - 1));
  }
  T_OK(worst <= 0.04, "every prefill within 4%% of the measurement (worst %.1f%%)", worst * 100);

  calib_load_t c1 = calib_closed_loop(b, 1, 128, 128, 30);
  calib_load_t c64 = calib_closed_loop(b, 64, 128, 128, 60);
  T_OK(fabs(c1.itl_ms / 7.0 - 1) <= 0.03, "guidellm ITL 7.0 ms at concurrency 1 (model %.3f)",
       c1.itl_ms);
  T_OK(fabs(c64.itl_ms / 8.7 - 1) <= 0.03, "guidellm ITL 8.7 ms at concurrency 64 (model %.3f)",
       c64.itl_ms);
  T_OK(fabs(c64.req_s / 56.7 - 1) <= 0.03, "guidellm 56.7 req/s at concurrency 64 (model %.2f)",
       c64.req_s);
  T_OK(fabs(c1.ttft_ms / 15.0 - 1) <= 0.03, "guidellm TTFT 15 ms at concurrency 1 (model %.2f)",
       c1.ttft_ms);

  sl_step_t fit = *b;
  calib_fit_host(&fit);
  T_OK(fabs(fit.overhead_ms - b->overhead_ms) <= 0.02,
       "built-in host overhead %.2f ms is the fit (%.3f)", b->overhead_ms, fit.overhead_ms);
  T_OK(fabs(fit.request_ms - b->request_ms) <= 0.1, "built-in request_ms %.2f is the fit (%.3f)",
       b->request_ms, fit.request_ms);
  return tap_done();
}
