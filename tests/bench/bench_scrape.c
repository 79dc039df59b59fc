// Exposition parser speed on a real vLLM /metrics page (default ../shared/data/..., skipped when
// absent): every sample delivered with its labels and value, best of several runs with one reused
// parser, as the scraper runs it; then the same page when only a few vLLM families are wanted.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/scrape/expo.h"

#define RUNS      15
#define MIN_RUN_S 0.05

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct {
  long samples, labels, bytes;
  double sum;
  const char *const *want; // NULL: every family
} sink_t;

static int on_family(void *ud, const sl_expo_family_t *f) {
  sink_t *k = ud;
  if (!k->want) return 1;
  for (const char *const *w = k->want; *w; w++)
    if (strlen(*w) == f->name.len && !memcmp(*w, f->name.ptr, f->name.len)) return 1;
  return 0;
}

// Touches what a store would read, so nothing is optimised away.
static int on_sample(void *ud, const sl_expo_sample_t *s) {
  sink_t *k = ud;
  k->samples++;
  k->labels += s->nlabels;
  k->sum += s->value;
  for (size_t i = 0; i < s->nlabels; i++) k->bytes += s->labels[i].value.len;
  return 0;
}

// Best seconds per page over RUNS runs of at least MIN_RUN_S each; *samples: delivered per page.
static double best_page(sl_expo_parser_t *p, const char *buf, size_t len, sink_t *k,
                        long *samples) {
  sl_expo_handler_t h = {on_family, on_sample};
  sl_err_t err;
  double best = 1e9;
  for (int r = 0; r < RUNS; r++) {
    long pages = 0;
    double t0 = now(), t;
    do {
      k->samples = 0;
      if (sl_expo_parser_run(p, buf, len, SL_EXPO_TEXT_004, &h, k, &err)) {
        printf("parse failed: %s\n", err.msg);
        exit(1);
      }
      pages++;
      t = now() - t0;
    } while (t < MIN_RUN_S);
    if (t / pages < best) best = t / pages;
  }
  *samples = k->samples;
  return best;
}

int main(int argc, char **argv) {
  const char *path = argc > 1 ? argv[1] : "../shared/data/metrics/vllm_metrics_page.txt";
  FILE *f = fopen(path, "rb");
  if (!f) {
    printf("skipped: %s absent\n", path);
    return 0;
  }
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc(len > 0 ? len : 1);
  if (!buf || fread(buf, 1, len, f) != (size_t)len) {
    printf("cannot read %s\n", path);
    return 1;
  }
  fclose(f);

  sl_expo_parser_t *p = sl_expo_parser_new();
  sink_t all = {0};
  long n;
  double t = best_page(p, buf, len, &all, &n);
  if (n == 0) {
    printf("exposition parse: no samples in %s\n", path);
    return 0;
  }
  printf("exposition parse: %.3f \xc2\xb5s/sample, %.0f MB/s, %.2f M samples/s (%ld samples, %ld "
         "bytes, best of %d)\n",
         t * 1e6 / n, len / t / 1e6, n / t / 1e6, n, len, RUNS);

  // What a store of vLLM signals keeps: a few families of the page.
  static const char *const want[] = {"vllm:num_requests_running",
                                     "vllm:num_requests_waiting",
                                     "vllm:kv_cache_usage_perc",
                                     "vllm:prompt_tokens",
                                     "vllm:generation_tokens",
                                     "vllm:request_success",
                                     "vllm:time_to_first_token_seconds",
                                     "vllm:inter_token_latency_seconds",
                                     "vllm:e2e_request_latency_seconds",
                                     "vllm:request_queue_time_seconds",
                                     NULL};
  sink_t some = {.want = want};
  long m;
  double tf = best_page(p, buf, len, &some, &m);
  printf("filtered parse (%d families wanted, %ld of %ld samples delivered): %.3f \xc2\xb5s per "
         "page sample, %.0f MB/s, %.1f \xc2\xb5s per page\n",
         (int)(sizeof want / sizeof want[0] - 1), m, n, tf * 1e6 / n, len / tf / 1e6, tf * 1e6);
  sl_expo_parser_free(p);
  free(buf);
  return 0;
}
