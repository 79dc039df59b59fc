// Calibration of the step model against ../shared/data/perf, shared by the calibration benchmark
// (which prints the report behind docs/calibration.md) and the calibration test (which checks
// the built-in profile still matches the data). Header-only: both are single-file programs.
#pragma once

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/model/step.h"

#define CALIB_MAX_ROWS 4096

typedef struct {
  double x[4];  // the numeric fields a reader picked
  char tag[64]; // one text field (hardware, phase, ...)
} calib_row_t;

// Data root: $DATA, else ../shared/data (relative to the repository root).
static inline const char *calib_root(void) {
  const char *d = getenv("DATA");
  return d && *d ? d : "../shared/data";
}

static inline FILE *calib_open(const char *rel) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", calib_root(), rel);
  return fopen(path, "r");
}

// Splits a CSV line (no quoting in these files) into at most max fields, in place.
static inline int calib_split(char *line, char **f, int max) {
  int n = 0;
  char *save = NULL;
  line[strcspn(line, "\r\n")] = 0;
  for (char *t = strtok_r(line, ",", &save); t && n < max; t = strtok_r(NULL, ",", &save))
    f[n++] = t;
  return n;
}

// decode_and_prefill_run1.csv: phase,batch,ctx_or_prompt,ms_per_step,graph -> decode rows
// (batch, ctx, ms). prefill_cudagraph_run2.csv: phase,batch,prompt,ms,graph -> (prompt, ms).
static inline int calib_read_decode(calib_row_t *rows) {
  FILE *f = calib_open("perf/h100_synthetic_measured/decode_and_prefill_run1.csv");
  if (!f) return -1;
  char line[512], *fl[8];
  int n = 0;
  while (fgets(line, sizeof line, f) && n < CALIB_MAX_ROWS)
    if (calib_split(line, fl, 8) >= 4 && !strcmp(fl[0], "decode"))
      rows[n++] = (calib_row_t){.x = {atof(fl[1]), atof(fl[2]), atof(fl[3])}};
  fclose(f);
  return n;
}

static inline int calib_read_prefill(calib_row_t *rows) {
  FILE *f = calib_open("perf/h100_synthetic_measured/prefill_cudagraph_run2.csv");
  if (!f) return -1;
  char line[512], *fl[8];
  int n = 0;
  while (fgets(line, sizeof line, f) && n < CALIB_MAX_ROWS)
    if (calib_split(line, fl, 8) >= 4 && !strcmp(fl[0], "prefill") && atoi(fl[1]) == 1)
      rows[n++] = (calib_row_t){.x = {atof(fl[2]), atof(fl[3])}};
  fclose(f);
  return n;
}

// Least squares for n <= 4 unknowns by the normal equations (well conditioned here: a handful
// of columns of very different scale are rescaled first).
static inline int calib_lsq(int rows, int n, const double *a /* rows x n */, const double *y,
                            double *x) {
  double scale[4], m[4][5] = {{0}};
  for (int j = 0; j < n; j++) {
    scale[j] = 0;
    for (int r = 0; r < rows; r++) scale[j] = fmax(scale[j], fabs(a[r * n + j]));
    if (scale[j] == 0) scale[j] = 1;
  }
  for (int r = 0; r < rows; r++)
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < n; j++) m[i][j] += a[r * n + i] / scale[i] * a[r * n + j] / scale[j];
      m[i][n] += a[r * n + i] / scale[i] * y[r];
    }
  for (int c = 0; c < n; c++) {
    int p = c;
    for (int r = c + 1; r < n; r++)
      if (fabs(m[r][c]) > fabs(m[p][c])) p = r;
    if (fabs(m[p][c]) < 1e-300) return -1;
    for (int j = 0; j <= n; j++) {
      double t = m[c][j];
      m[c][j] = m[p][j];
      m[p][j] = t;
    }
    for (int r = 0; r < n; r++) {
      if (r == c) continue;
      double k = m[r][c] / m[c][c];
      for (int j = 0; j <= n; j++) m[r][j] -= k * m[c][j];
    }
  }
  for (int j = 0; j < n; j++) x[j] = m[j][n] / m[j][j] / scale[j];
  return 0;
}

// Decode fit: t = a + b B + c B ctx (c per context token).
static inline int calib_fit_decode(const calib_row_t *d, int n, double *abc) {
  double a[CALIB_MAX_ROWS * 3], y[CALIB_MAX_ROWS];
  for (int i = 0; i < n; i++) {
    a[i * 3] = 1, a[i * 3 + 1] = d[i].x[0], a[i * 3 + 2] = d[i].x[0] * d[i].x[1];
    y[i] = d[i].x[2];
  }
  return calib_lsq(n, 3, a, y, abc);
}

// Prefill fit in the compute-bound range (prompts >= min_prompt):
// t = P * ms_per_tok + P^2 / 2 * ms_per_pair.
static inline int calib_fit_prefill(const calib_row_t *p, int n, double min_prompt, double *out) {
  double a[CALIB_MAX_ROWS * 2], y[CALIB_MAX_ROWS];
  int k = 0;
  for (int i = 0; i < n; i++) {
    if (p[i].x[0] < min_prompt) continue;
    a[k * 2] = p[i].x[0], a[k * 2 + 1] = 0.5 * p[i].x[0] * p[i].x[0];
    y[k++] = p[i].x[1];
  }
  return calib_lsq(k, 2, a, y, out);
}

// A closed-loop load test like guidellm's: `conc` clients each send a request of `in` prompt
// tokens and `out` output tokens and send the next as soon as the last token arrives. The
// engine runs continuous batching with the step model (every waiting prompt joins the next
// step whole; fine for short prompts). Clients start evenly spread over one request's
// lifetime, as a long run settles. Means over requests finished after a warm-up.
typedef struct {
  double itl_ms, ttft_ms, req_s;
} calib_load_t;

static inline calib_load_t calib_closed_loop(const sl_step_t *s, int conc, int in, int out,
                                             double seconds) {
  enum { MAXC = 1024 };
  double send[MAXC], enter[MAXC], first[MAXC];
  int tokens[MAXC], state[MAXC]; // state 0: not yet in the engine, 1: joins this step, 2: running
  if (conc > MAXC) conc = MAXC;
  double cycle = s->request_ms + (out + 1) * sl_step_ms(s, conc, conc * (in + out / 2.0), 0);
  for (int i = 0; i < conc; i++) {
    send[i] = cycle * i / conc;
    enter[i] = send[i] + s->request_ms;
    state[i] = tokens[i] = 0;
  }
  double t = 0, warm = 0.2 * seconds * 1000, end = seconds * 1000;
  double sum_itl = 0, sum_ttft = 0;
  long n_done = 0, n_first = 0;
  while (t < end) {
    int decodes = 0, joins = 0;
    double ctx = 0, next_enter = INFINITY;
    for (int i = 0; i < conc; i++) {
      if (state[i] == 2)
        decodes++, ctx += in + tokens[i];
      else if (enter[i] <= t)
        state[i] = 1, joins++;
      else
        next_enter = fmin(next_enter, enter[i]);
    }
    if (!decodes && !joins) {
      t = next_enter;
      continue;
    }
    t += sl_step_ms_ex(s, decodes, ctx, (double)joins * in, joins * 0.5 * in * in);
    for (int i = 0; i < conc; i++) {
      if (state[i] == 1) {
        // Its prompt was in this step, which also produced its first token.
        state[i] = 2;
        tokens[i] = 1;
        first[i] = t;
        if (t > warm) sum_ttft += t - send[i], n_first++;
      } else if (state[i] == 2 && ++tokens[i] >= out) {
        if (t > warm) sum_itl += (t - first[i]) / (out - 1), n_done++;
        state[i] = 0;
        send[i] = t;
        enter[i] = t + s->request_ms;
      }
    }
  }
  return (calib_load_t){.itl_ms = sum_itl / n_done,
                        .ttft_ms = sum_ttft / n_first,
                        .req_s = n_done / ((end - warm) / 1000)};
}

// The guidellm measurement of vLLM on H100 (data/README.md, wva_perf_params.csv), 128/128.
static const struct {
  int conc;
  double itl_ms, ttft_ms, req_s;
} calib_guidellm[] = {{1, 7.0, 15.0, 0}, {64, 8.7, 26.0, 56.7}};

// Fits the host terms: overhead_ms (per step) to ITL at both concurrencies and the throughput
// at 64, in relative terms; request_ms to TTFT at concurrency 1.
static inline void calib_fit_host(sl_step_t *s) {
  for (int round = 0; round < 3; round++) {
    double lo = 0, hi = 2;
    for (int it = 0; it < 40; it++) {
      double m1 = lo + (hi - lo) * 0.382, m2 = lo + (hi - lo) * 0.618, e[2];
      for (int k = 0; k < 2; k++) {
        sl_step_t t = *s;
        t.overhead_ms = k ? m2 : m1;
        calib_load_t a = calib_closed_loop(&t, 1, 128, 128, 30);
        calib_load_t b = calib_closed_loop(&t, 64, 128, 128, 60);
        double r1 = a.itl_ms / 7.0 - 1, r2 = b.itl_ms / 8.7 - 1, r3 = b.req_s / 56.7 - 1;
        e[k] = r1 * r1 + r2 * r2 + r3 * r3;
      }
      if (e[0] < e[1])
        hi = m2;
      else
        lo = m1;
    }
    s->overhead_ms = 0.5 * (lo + hi);
    calib_load_t a = calib_closed_loop(s, 1, 128, 128, 30);
    s->request_ms += 15.0 - a.ttft_ms;
  }
}
