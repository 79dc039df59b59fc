// The calibration report behind docs/calibration.md: fits the step model to the H100
// measurements in ../shared/data/perf, prints every residual of the built-in profile, replays the
// guidellm load test, and compares profiles derived from model shape and GPU speeds with the
// SageServe and Splitwise measurements. Skips (and says so) when the data is absent.
#include "tests/bench/calib.h"

#include "core/model/perf.h"
#include "core/model/step.h"

static calib_row_t dec[CALIB_MAX_ROWS], pre[CALIB_MAX_ROWS];

static void fits(void) {
  const sl_step_t *b = &sl_step_llama31_8b_h100;
  int nd = calib_read_decode(dec), np = calib_read_prefill(pre);
  double abc[3], pp[2];
  calib_fit_decode(dec, nd, abc);
  calib_fit_prefill(pre, np, 1024, pp);
  printf("GPU fit (%d decode points, %d prefill points >= 1024 tokens):\n", nd, np);
  printf("  a = %.6g ms   b = %.6g ms/token   c = %.6g ms per 1000 context tokens\n", abc[0],
         abc[1], abc[2] * 1000);
  printf("  prefill: %.6g ms/token (%.6g tokens/s), attention %.6g ms per million pairs\n", pp[0],
         1000 / pp[0], pp[1] * 1e6);
  printf("  built-in: a %.6g, b %.6g, c %.6g, %.6g tokens/s, attention %.6g\n", b->a_ms,
         b->b_ms_per_tok, b->c_ms_per_ctx * 1000, 1000 / b->ms_per_tok, b->ms_per_pair * 1e6);

  printf("\ndecode step, GPU time (model without the host overhead) vs measured:\n");
  printf("  %6s %6s %9s %9s %8s\n", "batch", "ctx", "measured", "model", "error");
  double worst = 0, ss = 0;
  for (int i = 0; i < nd; i++) {
    double m = sl_step_ms(b, (int)dec[i].x[0], dec[i].x[0] * dec[i].x[1], 0) - b->overhead_ms;
    double e = m - dec[i].x[2];
    worst = fmax(worst, fabs(e));
    ss += e * e;
    printf("  %6.0f %6.0f %9.3f %9.3f %+8.3f\n", dec[i].x[0], dec[i].x[1], dec[i].x[2], m, e);
  }
  printf("  max |error| %.3f ms, rms %.3f ms\n", worst, sqrt(ss / nd));

  printf("\nprefill of one prompt, GPU time vs measured (CUDA graphs):\n");
  printf("  %6s %9s %9s %8s\n", "prompt", "measured", "model", "error");
  for (int i = 0; i < np; i++) {
    double m =
        sl_step_ms_ex(b, 0, 0, pre[i].x[0], 0.5 * pre[i].x[0] * pre[i].x[0]) - b->overhead_ms;
    printf("  %6.0f %9.3f %9.3f %+7.1f%%\n", pre[i].x[0], pre[i].x[1], m,
           100 * (m / pre[i].x[1] - 1));
  }

  sl_step_t fit = *b;
  calib_fit_host(&fit);
  printf("\nhost terms fitted to guidellm 128/128 against vLLM: overhead_ms %.4f, request_ms %.4f "
         "(built-in %.3g, %.3g)\n",
         fit.overhead_ms, fit.request_ms, b->overhead_ms, b->request_ms);
  printf("closed-loop replay with the built-in profile:\n");
  printf("  %5s %-12s %9s %9s %8s\n", "conc", "metric", "measured", "model", "error");
  for (size_t k = 0; k < sizeof calib_guidellm / sizeof calib_guidellm[0]; k++) {
    calib_load_t l = calib_closed_loop(b, calib_guidellm[k].conc, 128, 128, 60);
    const char *names[] = {"itl_ms", "ttft_ms", "req_s"};
    double meas[] = {calib_guidellm[k].itl_ms, calib_guidellm[k].ttft_ms, calib_guidellm[k].req_s};
    double got[] = {l.itl_ms, l.ttft_ms, l.req_s};
    for (int j = 0; j < 3; j++) {
      if (meas[j] == 0) {
        printf("  %5d %-12s %9s %9.3f\n", calib_guidellm[k].conc, names[j], "-", got[j]);
        continue;
      }
      printf("  %5d %-12s %9.3f %9.3f %+7.1f%%\n", calib_guidellm[k].conc, names[j], meas[j],
             got[j], 100 * (got[j] / meas[j] - 1));
    }
  }
}

// Llama-2-70B: 68,976,648,192 parameters, 80 layers, 64 query / 8 KV heads of 128.
static const sl_step_llm_t llama2_70b = {
    .weight_bytes = 2 * 68976648192.0,
    .kv_bytes_per_token = 2.0 * 80 * 8 * 128 * 2,
    .params = 68976648192.0,
    .attn_flops_per_pair = 4.0 * 80 * 64 * 128,
};
static const sl_step_gpu_t a100 = {.mem_bw = 2.039e12, .flops = 312e12, .tp = 1};
static const sl_step_gpu_t h100 = {.mem_bw = 3.35e12, .flops = 989.4e12, .tp = 1};

// Mean decode ms per token at batch 1 and prefill ms at `prompt` (batch 1) from a
// SageServe/Splitwise CSV: model,hardware,prompt_size,batch_size,token_size,...,prompt_time,
// token_time,e2e_time,tensor_parallel. SageServe times are seconds and token_time covers all
// token_size tokens; Splitwise times are ms and token_time is per token.
static int measured(const char *rel, const char *model, const char *hw, int tp, int prompt,
                    int splitwise, double *tok_ms, double *prompt_ms) {
  FILE *f = calib_open(rel);
  if (!f) return -1;
  char line[1024], *fl[16];
  double st = 0, sp = 0;
  int nt = 0, np = 0;
  while (fgets(line, sizeof line, f)) {
    if (calib_split(line, fl, 16) < 11 || strcmp(fl[0], model) || strcmp(fl[1], hw)) continue;
    if (atoi(fl[10]) != tp || atoi(fl[3]) != 1) continue;
    double unit = splitwise ? 1 : 1000, tokens = atof(fl[4]);
    if (atoi(fl[2]) == 512 && atoi(fl[4]) == 128)
      st += atof(fl[8]) * unit / (splitwise ? 1 : tokens), nt++;
    if (atoi(fl[2]) == prompt && atoi(fl[4]) == 128) sp += atof(fl[7]) * unit, np++;
  }
  fclose(f);
  if (!nt || !np) return -1;
  *tok_ms = st / nt;
  *prompt_ms = sp / np;
  return 0;
}

static void derivation(void) {
  printf("\nderived profiles (reference efficiencies, comm_ms 0) vs measured, batch 1:\n");
  printf("  %-14s %-9s %2s %8s %8s %6s %8s %8s %6s %9s\n", "source", "gpu", "tp", "decode", "model",
         "error", "prefill", "model", "error", "comm_ms");
  printf("  %-14s %-9s %2s %8s %8s %6s %8s %8s %6s %9s\n", "", "", "", "ms/tok", "", "", "2048 ms",
         "", "", "implied");
  struct {
    const char *file, *model, *hw, *label;
    const sl_step_llm_t *llm;
    const sl_step_gpu_t *gpu;
    int splitwise;
  } cases[] = {
      {"perf/sageserve/Llama-3.1-8B-tp-2.csv", "Llama-3.1-8B", "a100-80gb", "sageserve 8B",
       &sl_step_ref_llm, &a100, 0},
      {"perf/sageserve/Llama-3.1-8B-tp-4.csv", "Llama-3.1-8B", "a100-80gb", "sageserve 8B",
       &sl_step_ref_llm, &a100, 0},
      {"perf/splitwise/perf_model.csv", "llama2-70b", "a100-80gb", "splitwise 70B", &llama2_70b,
       &a100, 1},
      {"perf/splitwise/perf_model.csv", "llama2-70b", "h100-80gb", "splitwise 70B", &llama2_70b,
       &h100, 1},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    for (int tp = 1; tp <= 8; tp *= 2) {
      double tok, pf;
      if (measured(cases[c].file, cases[c].model, cases[c].hw, tp, 2048, cases[c].splitwise, &tok,
                   &pf))
        continue;
      sl_step_gpu_t g = *cases[c].gpu;
      g.tp = tp;
      sl_step_t s;
      sl_step_derive(cases[c].llm, &g, &s, NULL);
      double dm = sl_step_ms(&s, 1, 512 + 64, 0);
      double pm = sl_step_ms(&s, 0, 0, 2048);
      // The per-step time a derived profile would need added (comm_ms) to match the decode.
      printf("  %-14s %-9s %2d %8.2f %8.2f %+5.0f%% %8.1f %8.1f %+5.0f%% %9.2f\n", cases[c].label,
             cases[c].hw, tp, tok, dm, 100 * (dm / tok - 1), pf, pm, 100 * (pm / pf - 1), tok - dm);
    }
  }
}

int main(void) {
  FILE *probe = calib_open("perf/h100_synthetic_measured/decode_and_prefill_run1.csv");
  if (!probe) {
    printf("skip: %s/perf not found (calibration reads ../shared/data or $DATA)\n", calib_root());
    return 0;
  }
  fclose(probe);
  fits();
  derivation();
  return 0;
}
