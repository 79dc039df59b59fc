// The calibration report behind docs/calibration.md: fits the step model to the H100
// measurements in ../shared/data/perf, prints every residual of the built-in profile, replays the
// guidellm load test, and compares profiles derived from model shape and GPU speeds with every
// SageServe and Splitwise series (and sets the all-reduce latency the derivation uses, checked
// on the series it was not set from). Skips (and says so) when the data is absent.
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

// Shapes of the measured models (BF16): weights, KV bytes per token, parameters, attention flops
// per pair, layers, width. With .layers = 0 the derivation scales tensor parallelism ideally
// (the derivation before the all-reduce terms), which the comparison prints beside it.
static const sl_step_llm_t llama2_70b = {
    2 * 68976648192.0, 2.0 * 80 * 8 * 128 * 2, 68976648192.0, 4.0 * 80 * 64 * 128, 80, 8192};
static const sl_step_llm_t llama32_3b = {
    6425499648.0, 2.0 * 28 * 8 * 128 * 2, 3212749824.0, 4.0 * 28 * 24 * 128, 28, 3072};
// BLOOM-176B: 176,247,271,424 parameters, 70 layers of width 14336, 112 heads of 128 (no GQA).
static const sl_step_llm_t bloom_176b = {
    2 * 176247271424.0, 2.0 * 70 * 112 * 128 * 2, 176247271424.0, 4.0 * 70 * 112 * 128, 70, 14336};

// Datasheet HBM bandwidth and dense BF16 flop/s (as core/sim/cluster.c); link: 0.8 of the
// per-direction NVLink bandwidth (A100 NVLink 3: 300 GB/s, H100 NVLink 4: 450 GB/s), about the
// all-reduce bus bandwidth nccl-tests reports. "h100-80gb-pcap" is Splitwise's power-capped
// H100: same datasheet, so its slower prefill shows up as error.
static const struct {
  const char *hw;
  sl_step_gpu_t g;
} gpus[] = {
    {"a100-80gb", {.mem_bw = 2.039e12, .flops = 312e12, .tp = 1, .link_bw = 240e9}},
    {"h100-80gb", {.mem_bw = 3.35e12, .flops = 989.4e12, .tp = 1, .link_bw = 360e9}},
    {"h100-80gb-pcap", {.mem_bw = 3.35e12, .flops = 989.4e12, .tp = 1, .link_bw = 360e9}},
};

static const sl_step_llm_t *shape_of(const char *model) {
  if (!strcmp(model, "Llama-3.1-8B")) return &sl_step_ref_llm;
  if (!strcmp(model, "Llama-3.2-3B")) return &llama32_3b;
  if (!strcmp(model, "llama2-70b")) return &llama2_70b;
  if (!strcmp(model, "bloom-176b")) return &bloom_176b;
  return NULL;
}

static const sl_step_gpu_t *gpu_of(const char *hw) {
  for (size_t i = 0; i < sizeof gpus / sizeof gpus[0]; i++)
    if (!strcmp(gpus[i].hw, hw)) return &gpus[i].g;
  return NULL;
}

// One measured configuration (model, GPU, tp) at one (prompt, batch, output tokens) point,
// repeats averaged: prefill ms of the whole batch of prompts and decode ms per step.
typedef struct {
  char src[12], model[16], hw[16];
  int tp, prompt, batch, tokens, n;
  double prefill_ms, decode_ms;
} point_t;

#define MAX_POINTS 1024
static point_t pts[MAX_POINTS];
static int npts;

static point_t *point(const char *src, const char *model, const char *hw, int tp, int prompt,
                      int batch, int tokens) {
  for (int i = 0; i < npts; i++) {
    point_t *q = &pts[i];
    if (q->tp == tp && q->prompt == prompt && q->batch == batch && q->tokens == tokens &&
        !strcmp(q->model, model) && !strcmp(q->hw, hw) && !strcmp(q->src, src))
      return q;
  }
  if (npts == MAX_POINTS) return NULL;
  point_t *q = &pts[npts++];
  *q = (point_t){.tp = tp, .prompt = prompt, .batch = batch, .tokens = tokens};
  snprintf(q->src, sizeof q->src, "%s", src);
  snprintf(q->model, sizeof q->model, "%s", model);
  snprintf(q->hw, sizeof q->hw, "%s", hw);
  return q;
}

// SageServe/Splitwise CSV: model,hardware,prompt_size,batch_size,token_size,peak_power,
// average_power,prompt_time,token_time,e2e_time,tensor_parallel. SageServe times are seconds
// and token_time covers all token_size steps; Splitwise times are ms and token_time is per step.
static int read_perf(const char *rel, const char *src, int splitwise) {
  FILE *f = calib_open(rel);
  if (!f) return -1;
  char line[1024], *fl[16];
  while (fgets(line, sizeof line, f)) {
    if (calib_split(line, fl, 16) < 11 || atoi(fl[10]) < 1 || !shape_of(fl[0]) || !gpu_of(fl[1]))
      continue;
    int tokens = atoi(fl[4]);
    point_t *q = point(src, fl[0], fl[1], atoi(fl[10]), atoi(fl[2]), atoi(fl[3]), tokens);
    if (!q) break;
    double unit = splitwise ? 1 : 1000;
    q->prefill_ms += atof(fl[7]) * unit;
    q->decode_ms += atof(fl[8]) * unit / (splitwise ? 1 : tokens);
    q->n++;
  }
  fclose(f);
  return 0;
}

// SageServe's llama-3.1-8B-tp-4-test.csv: PromptLength,ExecTime (s), prefill only.
static void read_prefill_test(const char *rel) {
  FILE *f = calib_open(rel);
  if (!f) return;
  char line[256], *fl[4];
  while (fgets(line, sizeof line, f)) {
    if (calib_split(line, fl, 4) < 2 || atoi(fl[0]) < 1) continue;
    point_t *q = point("sage-test", "Llama-3.1-8B", "a100-80gb", 4, atoi(fl[0]), 1, 0);
    if (!q) break;
    q->prefill_ms += atof(fl[1]) * 1000;
    q->n++;
  }
  fclose(f);
}

// A series: one configuration, one phase, one axis varied with the others held.
enum { DEC_BATCH, DEC_PROMPT, DEC_OUTPUT, PRE_PROMPT, PRE_BATCH, NAXES };
static const char *const axis_name[] = {"decode by batch", "decode by prompt", "decode by output",
                                        "prefill by prompt", "prefill by batch"};

static int in_series(const point_t *q, int axis) {
  if (!strcmp(q->src, "sage-test")) return axis == PRE_PROMPT;
  switch (axis) {
  case DEC_BATCH:
  case PRE_BATCH:
    return q->prompt == 512 && q->tokens == 128;
  case DEC_PROMPT:
  case PRE_PROMPT:
    return q->batch == 1 && q->tokens == 128;
  default:
    return q->batch == 1 && q->prompt == 512;
  }
}

// The derived time for a point: decode step at the batch's mean context (prompt + half the
// output), or the prefill of `batch` whole prompts in one step.
static double model_ms(const sl_step_t *s, const point_t *q, int axis) {
  if (axis >= PRE_PROMPT)
    return sl_step_ms_ex(s, 0, 0, (double)q->batch * q->prompt,
                         0.5 * q->batch * (double)q->prompt * q->prompt);
  return sl_step_ms(s, q->batch, q->batch * (q->prompt + q->tokens / 2.0), 0);
}

// A prefill faster than the GPUs' dense peak for 2 x params flops per token did not prefill the
// whole batch in one step (SageServe's batched prompt_time); it is left out, and counted.
static int beyond_peak(const point_t *q, int axis) {
  if (axis < PRE_PROMPT) return 0;
  const sl_step_llm_t *m = shape_of(q->model);
  double peak = gpu_of(q->hw)->flops * q->tp;
  return 2 * m->params * q->batch * q->prompt / peak > q->prefill_ms / q->n * 1e-3;
}

typedef struct {
  int n, skipped;
  double sum_abs, worst; // relative errors
} err_t;

static void add_err(err_t *e, double rel) {
  e->n++;
  e->sum_abs += fabs(rel);
  if (fabs(rel) > fabs(e->worst)) e->worst = rel;
}

static double mape(const err_t *e) {
  return e->n ? 100 * e->sum_abs / e->n : 0;
}

// Errors of one series under a derivation (ideal: no all-reduce terms; hop_us: the all-reduce
// latency per round, 0 = the built-in).
static err_t series_err(const point_t *key, int axis, int ideal, double hop_us) {
  sl_step_llm_t m = *shape_of(key->model);
  sl_step_gpu_t g = *gpu_of(key->hw);
  if (ideal) m.layers = m.hidden = 0;
  g.tp = key->tp;
  g.ar_hop_us = hop_us;
  sl_step_t s;
  err_t e = {0};
  if (sl_step_derive(&m, &g, &s, NULL)) return e;
  for (int i = 0; i < npts; i++) {
    const point_t *q = &pts[i];
    if (q->tp != key->tp || strcmp(q->model, key->model) || strcmp(q->hw, key->hw) ||
        strcmp(q->src, key->src) || !in_series(q, axis))
      continue;
    double meas = (axis >= PRE_PROMPT ? q->prefill_ms : q->decode_ms) / q->n;
    if (axis < PRE_PROMPT && !strcmp(q->src, "sage-test")) continue;
    if (beyond_peak(q, axis)) {
      e.skipped++;
      continue;
    }
    add_err(&e, model_ms(&s, q, axis) / meas - 1);
  }
  return e;
}

// The distinct configurations, in the order first read.
static int configs(int *first) {
  int n = 0;
  for (int i = 0; i < npts; i++) {
    int seen = 0;
    for (int j = 0; j < n && !seen; j++) {
      const point_t *a = &pts[first[j]], *b = &pts[i];
      seen = a->tp == b->tp && !strcmp(a->model, b->model) && !strcmp(a->hw, b->hw) &&
             !strcmp(a->src, b->src);
    }
    if (!seen) first[n++] = i;
  }
  return n;
}

// Which decode series set the all-reduce latency: Splitwise Llama-2-70B on A100 and H100 (the
// power-capped H100 repeats the H100's decode times, so it is left out of every fit).
static int training(const point_t *q) {
  return !strcmp(q->model, "llama2-70b") && strcmp(q->hw, "h100-80gb-pcap");
}

typedef int (*pick_fn)(const point_t *);
static int sageserve(const point_t *q) {
  return !strncmp(q->src, "sage", 4);
}
static int splitwise(const point_t *q) {
  return !strcmp(q->src, "splitwise") && strcmp(q->hw, "h100-80gb-pcap");
}
static int not_training(const point_t *q) {
  return !training(q) && strcmp(q->hw, "h100-80gb-pcap");
}

// Mean absolute error over the decode points of the configurations `pick` selects.
static double decode_mape(const int *first, int nc, pick_fn pick, int ideal, double hop_us) {
  err_t all = {0};
  for (int c = 0; c < nc; c++) {
    if (!pick(&pts[first[c]]) || pts[first[c]].tp < 2) continue;
    for (int a = DEC_BATCH; a <= DEC_OUTPUT; a++) {
      err_t e = series_err(&pts[first[c]], a, ideal, hop_us);
      all.n += e.n, all.sum_abs += e.sum_abs;
    }
  }
  return mape(&all);
}

// The all-reduce latency per round (0.5 us steps up to 200 us) that fits `pick`'s decode best.
static double fit_hop(const int *first, int nc, pick_fn pick) {
  double best = 0.5, best_err = INFINITY;
  for (double h = 0.5; h <= 200; h += 0.5) {
    double e = decode_mape(first, nc, pick, 0, h);
    if (e < best_err) best = h, best_err = e;
  }
  return best;
}

static void derivation(void) {
  npts = 0;
  read_perf("perf/sageserve/Llama-3.1-8B-tp-2.csv", "sageserve", 0);
  read_perf("perf/sageserve/Llama-3.1-8B-tp-4.csv", "sageserve", 0);
  read_perf("perf/sageserve/Llama-3.2-3B-tp-2.csv", "sageserve", 0);
  read_perf("perf/sageserve/Llama-3.2-3B-tp-4.csv", "sageserve", 0);
  read_prefill_test("perf/sageserve/llama-3.1-8B-tp-4-test.csv");
  read_perf("perf/splitwise/perf_model.csv", "splitwise", 1);
  int first[64], nc = configs(first);

  printf("\nderived profiles vs every measured series (SageServe, Splitwise); mean |error| and "
         "the worst point,\nideal = tensor parallelism scaled ideally (no all-reduce terms), "
         "derived = with them (ar_hop_us %.1f):\n",
         SL_STEP_AR_HOP_US);
  printf("| source | model | GPU | TP | series | points | ideal: mean | worst | derived: mean | "
         "worst |\n");
  printf("| --- | --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |\n");
  err_t tot[2][2] = {{{0}}};
  int skipped = 0;
  for (int c = 0; c < nc; c++) {
    const point_t *k = &pts[first[c]];
    for (int a = 0; a < NAXES; a++) {
      // The power-capped H100's decode times are the H100's, row for row: printed once.
      if (a < PRE_PROMPT && !strcmp(k->hw, "h100-80gb-pcap")) continue;
      err_t ei = series_err(k, a, 1, 0), ed = series_err(k, a, 0, 0);
      if (!ed.n && !ed.skipped) continue;
      skipped += ed.skipped;
      char pts_s[32];
      snprintf(pts_s, sizeof pts_s, ed.skipped ? "%d (+%d)" : "%d", ed.n, ed.skipped);
      printf("| %s | %s | %s | %d | %s | %s | %.1f%% | %+.0f%% | %.1f%% | %+.0f%% |\n",
             strcmp(k->src, "sage-test") ? k->src : "sageserve test", k->model, k->hw, k->tp,
             axis_name[a], pts_s, mape(&ei), 100 * ei.worst, mape(&ed), 100 * ed.worst);
      int phase = a >= PRE_PROMPT;
      tot[phase][0].n += ei.n, tot[phase][0].sum_abs += ei.sum_abs;
      tot[phase][1].n += ed.n, tot[phase][1].sum_abs += ed.sum_abs;
    }
  }
  printf("all decode points: ideal %.1f%%, derived %.1f%%; all prefill points: ideal %.1f%%, "
         "derived %.1f%%\n(%d prefill points faster than the GPUs' peak left out: (+N) above; the "
         "power-capped H100's decode rows repeat the H100's and are not repeated)\n",
         mape(&tot[0][0]), mape(&tot[0][1]), mape(&tot[1][0]), mape(&tot[1][1]), skipped);

  // Hold-out check of the one constant set from data.
  double h_train = fit_hop(first, nc, training);
  printf("\nall-reduce latency per round fitted to decode (TP >= 2), and the error where it was "
         "not fitted:\n");
  printf("  fitted on Splitwise Llama-2-70B: %.1f us; decode error there %.1f%%, on the held-out "
         "series (BLOOM-176B, SageServe 8B/3B) %.1f%% (ideal %.1f%%)\n",
         h_train, decode_mape(first, nc, training, 0, h_train),
         decode_mape(first, nc, not_training, 0, h_train),
         decode_mape(first, nc, not_training, 1, 0));
  double h_sage = fit_hop(first, nc, sageserve), h_split = fit_hop(first, nc, splitwise);
  printf("  fitted on SageServe: %.1f us; Splitwise decode error %.1f%% (with %.1f us: %.1f%%)\n",
         h_sage, decode_mape(first, nc, splitwise, 0, h_sage), SL_STEP_AR_HOP_US,
         decode_mape(first, nc, splitwise, 0, 0));
  printf("  fitted on Splitwise: %.1f us; SageServe decode error %.1f%% (with %.1f us: %.1f%%)\n",
         h_split, decode_mape(first, nc, sageserve, 0, h_split), SL_STEP_AR_HOP_US,
         decode_mape(first, nc, sageserve, 0, 0));
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
