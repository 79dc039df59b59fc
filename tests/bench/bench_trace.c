// Trace reading and generation speed: requests per second for each file format on the real data
// (../shared/data, skipped when absent) and for each generator, the one-pass bins of the 14-day
// ServeGen m-large replay, and how the default token-length fit compares with the Azure trace.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "core/sim/trace.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// CPU seconds of the whole process: the machine may be shared, and wall time then understates.
static double cpu(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static long rss_mb(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024;
}

typedef struct {
  double n, in, out, prefix, blocks;
} sums_t;

// Reads the whole trace once; returns requests (or -1 on error, printed).
static long pass(const char *spec, const sl_trace_opts_t *o, sums_t *s) {
  sl_trace_t *t;
  sl_err_t e;
  if (sl_trace_open(spec, o, &t, &e) < 0) {
    printf("  error: %s\n", e.msg);
    return -1;
  }
  sl_req_t r;
  long n = 0;
  int rc;
  while ((rc = sl_trace_next(t, &r, &e)) > 0) {
    n++;
    if (s) {
      s->n++;
      s->in += r.in_tokens;
      s->out += r.out_tokens;
      s->prefix += r.prefix_blocks;
      s->blocks += ceil(r.in_tokens / 512.0);
    }
  }
  sl_trace_free(t);
  if (rc < 0) {
    printf("  error: %s\n", e.msg);
    return -1;
  }
  return n;
}

// Repeats whole passes for at least min_s seconds and prints the rate.
static void bench(const char *label, const char *spec, const sl_trace_opts_t *o, double min_s) {
  struct stat st;
  double bytes = stat(spec, &st) == 0 && S_ISREG(st.st_mode) ? (double)st.st_size : 0;
  double t0 = now(), c0 = cpu(), t;
  long total = 0, passes = 0;
  do {
    long n = pass(spec, o, NULL);
    if (n < 0) return;
    total += n;
    passes++;
    t = now() - t0;
  } while (t < min_s);
  double c = cpu() - c0;
  printf("%-34s %9ld req x %3ld in %5.2f s: %5.2f M req/s, %5.2f M req/CPU-s", label,
         total / passes, passes, t, total / t / 1e6, total / c / 1e6);
  if (bytes > 0) printf(", %3.0f MB/CPU-s", bytes * passes / c / 1e6);
  printf("\n");
}

int main(void) {
  const char *data = getenv("DATA") ? getenv("DATA") : "../shared/data";
  char az[512], mc[512], cl[512], ag[512], dir[512];
  snprintf(az, sizeof az, "%s/traces/azure2023_AzureLLMInferenceTrace_conv.csv", data);
  snprintf(mc, sizeof mc, "%s/traces/mooncake_synthetic_trace.jsonl", data);
  snprintf(cl, sizeof cl, "%s/traces/servegen/language/m-large/chunk-0-trace.csv", data);
  snprintf(ag, sizeof ag, "%s/traces/servegen/aggregate_rate_m-large.csv", data);
  snprintf(dir, sizeof dir, "%s/traces/servegen/language/m-large", data);
  sl_trace_opts_t o;
  sl_trace_opts_init(&o);
  struct stat st;

  printf("-- trace files --\n");
  if (stat(az, &st) != 0 || stat(dir, &st) != 0) {
    printf("skipped: ../shared/data absent\n");
  } else {
    bench("azure conv (CSV)", az, &o, 1);
    bench("mooncake (JSONL, yajl)", mc, &o, 1);
    bench("servegen client chunk-0, 14 d", cl, &o, 1);
    sl_trace_opts_t day = o;
    day.duration = 86400;
    bench("servegen aggregate m-large, 1 d", ag, &day, 1);
    bench("servegen dir m-large (162), 1 d", dir, &day, 1);

    sums_t s = {0};
    pass(mc, &o, &s);
    printf("mooncake prefix reuse (unbounded cache): %.1f%% of prompt blocks\n",
           100 * s.prefix / s.blocks);

    sl_trace_bins_t b;
    sl_err_t e;
    double t0 = now(), c0 = cpu();
    if (sl_trace_bins(dir, &o, 60, &b, &e) < 0) {
      printf("bins: error: %s\n", e.msg);
    } else {
      double t = now() - t0, c = cpu() - c0;
      uint64_t peak = 0;
      for (size_t i = 0; i < b.n; i++)
        if (b.count[i] > peak) peak = b.count[i];
      printf("sl_trace_bins m-large 14 d, 60 s bins: %.1f s (%.1f CPU-s) for %llu requests, "
             "%.2f M req/s; %zu bins, mean %.1f req/s, peak minute %.1f req/s; max RSS %ld MB\n",
             t, c, (unsigned long long)b.total, b.total / t / 1e6, b.n, b.total / (b.n * 60.0),
             peak / 60.0, rss_mb());
      sl_trace_bins_deinit(&b);
    }
  }

  printf("-- generators (default token lengths) --\n");
  bench("poisson rate 1000", "poisson:rate=1000,duration=5000", &o, 1);
  bench("gamma rate 1000 cv 4", "gamma:rate=1000,cv=4,duration=5000", &o, 1);
  bench("weibull rate 1000 shape 0.5", "weibull:rate=1000,shape=0.5,duration=5000", &o, 1);
  bench("diurnal mean 100 peak 300 bursts", "diurnal:mean=100,peak=300,bursts=10,duration=86400",
        &o, 1);
  bench("step 500 -> 1500", "step:rate=500,to=1500,at=2500,duration=5000", &o, 1);
  sl_trace_opts_t fixed = o;
  fixed.tokens = "fixed:in=1000,out=200";
  bench("poisson rate 1000, fixed tokens", "poisson:rate=1000,duration=5000", &fixed, 1);
  sl_trace_opts_t up = o;
  up.rate_scale = 2.5;
  bench("poisson rate 400, rate_scale 2.5", "poisson:rate=400,duration=5000", &up, 1);
  sl_trace_opts_t down = o;
  down.rate_scale = 0.1;
  bench("poisson rate 10000, rate_scale 0.1", "poisson:rate=10000,duration=500", &down, 1);

  printf("-- default token lengths vs Azure conv (mean / p50 / p99) --\n");
  const char *specs[2] = {"poisson:rate=1000,duration=1000", az};
  const char *names[2] = {"default fit, 1M draws", "Azure conv trace"};
  for (int k = 0; k < 2; k++) {
    if (k == 1 && stat(az, &st) != 0) break;
    enum { CAP = 1 << 16 };
    static uint32_t hin[CAP], hout[CAP];
    memset(hin, 0, sizeof hin);
    memset(hout, 0, sizeof hout);
    sl_trace_t *t;
    sl_err_t e;
    if (sl_trace_open(specs[k], &o, &t, &e) < 0) continue;
    sl_req_t r;
    double n = 0, si = 0, so = 0;
    while (sl_trace_next(t, &r, &e) > 0) {
      n++;
      si += r.in_tokens;
      so += r.out_tokens;
      hin[r.in_tokens < CAP ? r.in_tokens : CAP - 1]++;
      hout[r.out_tokens < CAP ? r.out_tokens : CAP - 1]++;
    }
    sl_trace_free(t);
    double q[2][2];
    uint32_t *h[2] = {hin, hout};
    for (int j = 0; j < 2; j++) {
      double ps[2] = {0.5, 0.99};
      for (int m = 0; m < 2; m++) {
        double c = 0;
        int i = 0;
        while (i < CAP - 1 && (c += h[j][i]) < ps[m] * n) i++;
        q[j][m] = i;
      }
    }
    printf("%-24s input %5.0f / %5.0f / %5.0f   output %4.0f / %4.0f / %4.0f\n", names[k], si / n,
           q[0][0], q[0][1], so / n, q[1][0], q[1][1]);
  }
  return 0;
}
