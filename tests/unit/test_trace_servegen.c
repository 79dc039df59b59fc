// ServeGen rate series: each window gets exactly rate * length arrivals inside it, drawn with the
// window's law (CV), a model directory is the time-ordered merge of its clients, slicing on window
// boundaries reproduces the full replay, and everything is fixed by the seed.
#include <math.h>

#include "core/sim/trace.h"
#include "tests/unit/tap.h"
#include "tests/unit/trace_fixture.h"

static size_t in_window(const fx_reqs_t *o, double a, double b) {
  size_t n = 0;
  for (size_t i = 0; i < o->n; i++) n += o->r[i].t >= a && o->r[i].t < b;
  return n;
}

static double window_cv(const fx_reqs_t *o, double a, double b) {
  double s = 0, s2 = 0, prev = NAN;
  size_t n = 0;
  for (size_t i = 0; i < o->n; i++) {
    if (o->r[i].t < a || o->r[i].t >= b) continue;
    if (!isnan(prev)) {
      double g = o->r[i].t - prev;
      s += g;
      s2 += g * g;
      n++;
    }
    prev = o->r[i].t;
  }
  double m = s / n;
  return sqrt(s2 / n - m * m) / m;
}

static void windows(void) {
  const char *p = fx_put("chunk-3-trace.csv", "0,2,2.0,Gamma,0.25,1.5\n"
                                              "600,0,0,,0,0\n"
                                              "1200,0.5,2.2,Weibull,0.5,3.3\n"
                                              "1800,1.5,1,,0,0\n"
                                              "2400,100,2.0,Gamma,0.25,0.04\n"
                                              "3000,100,2.2,Weibull,0.5,0.004\n");
  fx_reqs_t o = fx_drain(p, NULL);
  T_EQ_INT(o.rc, 0, "servegen client parses");
  T_OK(fx_ordered(&o), "servegen: time order");
  T_EQ_INT(in_window(&o, 0, 600), 1200, "window 1: 2 req/s x 600 s");
  T_EQ_INT(in_window(&o, 600, 1200), 0, "window 2: rate 0, nothing");
  T_EQ_INT(in_window(&o, 1200, 1800), 300, "window 3: 0.5 req/s");
  T_EQ_INT(in_window(&o, 1800, 2400), 900, "window 4: exponential at 1.5 req/s");
  T_EQ_INT(in_window(&o, 2400, 3000), 60000, "window 5: 100 req/s");
  T_EQ_INT(in_window(&o, 3000, 3600), 60000, "last window: as long as the one before");
  T_EQ_INT(o.n, 1200 + 300 + 900 + 120000, "nothing outside the windows");
  T_NEAR(window_cv(&o, 2400, 3000), 2.0, 0.2, "Gamma shape 0.25: CV 2 within the window");
  T_NEAR(window_cv(&o, 3000, 3600), sqrt(5), 0.25,
         "Weibull shape 0.5: CV sqrt(5) within the window");
  T_NEAR(window_cv(&o, 1800, 2400), 1.0, 0.1, "blank pattern: exponential, CV 1");
  double mean_in = 0;
  for (size_t i = 0; i < o.n; i++) mean_in += o.r[i].in_tokens;
  T_NEAR(mean_in / o.n / 1155, 1, 0.1, "token lengths from the default distribution");
  free(o.r);

  p = fx_put("uneven.csv", "0,1,1,,0,0\n100,1,1,,0,0\n400,1,1,,0,0\n");
  o = fx_drain(p, NULL);
  T_OK(in_window(&o, 0, 100) == 100 && in_window(&o, 100, 400) == 300 &&
           in_window(&o, 400, 700) == 300 && o.n == 700,
       "window lengths follow the starts; the last repeats the one before");
  free(o.r);

  // Shapes this small make every gap but one underflow; arrivals must stay inside their window.
  char buf[4096] = "";
  for (int w = 0; w < 50; w++) {
    char row[96];
    snprintf(row, sizeof row, "%d,%.10f,12,Gamma,0.007,100\n", w * 600, (w % 3 + 1) / 600.0);
    strcat(buf, row);
  }
  p = fx_put("tiny.csv", buf);
  o = fx_drain(p, NULL);
  int inside = o.n == 50 / 3 * 6 + 1 + 2; // per 3 windows 1 + 2 + 3 arrivals; 50 = 16*3 + 2
  for (int w = 0; w < 50; w++)
    inside &= in_window(&o, w * 600, (w + 1) * 600) == (size_t)(w % 3 + 1);
  for (size_t i = 0; i < o.n; i++) inside &= isfinite(o.r[i].t);
  T_OK(inside, "tiny Gamma shapes: every arrival finite and in its window (%zu)", o.n);
  free(o.r);

  p = fx_put("agg.csv", "window_start_s,total_rate_rps,active_clients\n0,10,4\n600,30.5,7\n");
  o = fx_drain(p, NULL);
  T_EQ_INT(o.rc, 0, "aggregate parses");
  T_OK(in_window(&o, 0, 600) == 6000 && in_window(&o, 600, 1200) == 18300,
       "aggregate: each window at its total rate");
  T_NEAR(window_cv(&o, 600, 1200), 1.0, 0.05, "aggregate: exponential gaps");
  free(o.r);
}

static void directory(void) {
  const char *d = fx_mkdir("m-test");
  char path[256];
  // Numeric order (2 before 10) decides the merge's tie-break and the seeding, not the name.
  const char *files[3] = {"chunk-2-trace.csv", "chunk-10-trace.csv", "chunk-0-trace.csv"};
  const char *rows[3] = {"0,1,3,Gamma,0.1,10\n600,2,2,Weibull,0.4,1\n1200,0.5,1,,0,0\n",
                         "600,3,1,,0,0\n1200,1,5,Gamma,0.04,30\n",
                         "0,0.2,1,,0,0\n600,0,0,,0,0\n1200,4,6,Weibull,0.3,0.1\n"};
  char *names[3];
  for (int i = 0; i < 3; i++) {
    snprintf(path, sizeof path, "m-test/%s", files[i]);
    names[i] = strdup(fx_put(path, rows[i]));
  }
  fx_put("m-test/README", "not a client\n");

  sl_trace_opts_t o = fx_opts();
  o.seed = 77;
  fx_reqs_t all = fx_drain(d, &o);
  T_EQ_INT(all.rc, 0, "directory opens");
  T_OK(fx_ordered(&all), "directory: merged in time order");
  size_t want = (600 + 1200 + 300) + (1800 + 600) + (120 + 2400);
  T_EQ_INT(all.n, want, "directory: every client's windows, README ignored");

  // Reference: each client on its own (same seed, seeded by its chunk id), merged by
  // (time, chunk id). The later-starting client keeps its 600 s offset in the directory.
  fx_reqs_t one[3];
  double offset[3] = {0, 600, 0};
  int order[3] = {2, 0, 1}; // files[] indices in chunk-id order 0, 2, 10
  for (int i = 0; i < 3; i++) one[i] = fx_drain(names[i], &o);
  size_t pos[3] = {0, 0, 0}, k = 0;
  int same = 1;
  while (same && k < all.n) {
    int best = -1;
    for (int j = 0; j < 3; j++) {
      int c = order[j];
      if (pos[c] == one[c].n) continue;
      if (best < 0 || one[c].r[pos[c]].t + offset[c] < one[best].r[pos[best]].t + offset[best])
        best = c;
    }
    if (best < 0) break;
    const sl_req_t *a = &all.r[k], *b = &one[best].r[pos[best]];
    same = a->t == b->t + offset[best] && a->in_tokens == b->in_tokens &&
           a->out_tokens == b->out_tokens;
    pos[best]++;
    k++;
  }
  T_OK(same && k == all.n, "directory = merge of its clients, request for request (at %zu)", k);

  // A slice on window boundaries is the full replay's slice, tokens included.
  o.start = 600;
  o.duration = 600;
  fx_reqs_t part = fx_drain(d, &o);
  size_t j = 0;
  same = 1;
  for (size_t i = 0; i < all.n && same; i++) {
    if (all.r[i].t < 600 || all.r[i].t >= 1200) continue;
    same =
        j < part.n && part.r[j].t == all.r[i].t - 600 && part.r[j].in_tokens == all.r[i].in_tokens;
    j++;
  }
  T_OK(same && j == part.n && j == 1200 + 1800, "start/duration on window edges slice the replay");

  o = fx_opts();
  o.seed = 78;
  fx_reqs_t other = fx_drain(d, &o);
  o.seed = 77;
  fx_reqs_t again = fx_drain(d, &o);
  int diff = other.n == all.n, rep = again.n == all.n;
  for (size_t i = 0; i < all.n && diff; i++) diff = other.r[i].t == all.r[i].t;
  for (size_t i = 0; i < all.n && rep; i++)
    rep = again.r[i].t == all.r[i].t && again.r[i].out_tokens == all.r[i].out_tokens;
  T_OK(!diff, "another seed, other arrivals");
  T_OK(rep, "same seed, same replay");

  o.rate_scale = 0.25;
  fx_reqs_t quarter = fx_drain(d, &o);
  T_NEAR((double)quarter.n / all.n, 0.25, 0.03, "rate_scale 0.25 on a directory");
  T_OK(fx_ordered(&quarter), "rate_scale 0.25: time order");

  // The bins of a directory are computed per client, in parallel: they must still be the merged
  // stream's, request for request, copies and slicing included.
  o = fx_opts();
  o.seed = 5;
  o.rate_scale = 2.5;
  o.jitter_s = 30;
  o.start = 300;
  o.duration = 1500;
  o.time_scale = 0.5;
  fx_reqs_t sc = fx_drain(d, &o);
  sl_trace_bins_t b;
  sl_err_t e;
  int rc = sl_trace_bins(d, &o, 10, &b, &e);
  T_EQ_INT(rc, 0, "directory bins");
  int match = rc == 0 && b.total == sc.n && b.n == 75;
  uint64_t *cnt = calloc(75, sizeof *cnt), *tin = calloc(75, sizeof *tin);
  for (size_t i = 0; i < sc.n; i++) {
    size_t k = (size_t)(sc.r[i].t / 10);
    if (k < 75) cnt[k]++, tin[k] += sc.r[i].in_tokens;
  }
  for (size_t k = 0; match && k < 75; k++) match = b.count[k] == cnt[k] && b.in_tokens[k] == tin[k];
  T_OK(match, "directory bins = the merged stream's bins (%zu requests)", sc.n);
  T_NEAR(b.last_t, sc.r[sc.n - 1].t, 0, "directory bins: last arrival");
  free(cnt);
  free(tin);
  sl_trace_bins_deinit(&b);
  free(sc.r);

  fx_put("m-test/chunk-11-trace.csv", "0,1,1,,0,0\n600,1,1,Gamma,-1,0\n");
  rc = sl_trace_bins(d, NULL, 60, &b, &e);
  T_EQ_INT(rc, SL_EPARSE, "directory bins: a bad client line fails the pass");
  T_STR_HAS(e.msg, "chunk-11-trace.csv:2: shape", "and names its file and line");
  fx_reqs_t bad = fx_drain(d, NULL);
  T_EQ_INT(bad.rc, SL_EPARSE, "the stream fails on it too");
  T_STR_HAS(bad.err.msg, "chunk-11-trace.csv:2: shape", "with the same message");
  free(bad.r);

  free(quarter.r);
  free(again.r);
  free(other.r);
  free(part.r);
  for (int i = 0; i < 3; i++) {
    free(one[i].r);
    free(names[i]);
  }
  free(all.r);
}

int main(void) {
  windows();
  directory();
  return tap_done();
}
