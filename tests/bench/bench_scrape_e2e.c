// `scrape end to end:` sluice's own CPU per sample scraping the real vLLM page
// (../shared/data/metrics/vllm_metrics_page.txt, or argv[1]; skipped when absent) from 200 loopback
// targets at 1 s: HTTP through libcurl on the loop, parse, ingestion into the store, scheduling.
// The page servers run in a child process, so getrusage(RUSAGE_SELF) counts the scraping side
// only. Samples are the page's (every sample on it, as Prometheus counts them), per committed
// scrape. Environment: BENCH_SCRAPE_TARGETS (200), BENCH_SCRAPE_SECONDS (15; 5 with BENCH_QUICK=1).
#include "tests/bench/pageserver.h"
#include "tests/bench/scrapeload.h"

#include "core/util/log.h"

static double env_num(const char *name, double def) {
  const char *v = getenv(name);
  return v && *v ? atof(v) : def;
}

int main(int argc, char **argv) {
  const char *path;
  size_t len = 0;
  char *page = ps_read_page(argc, argv, &path, &len);
  if (!page) {
    printf("scrape end to end: skipped: %s absent\n", path);
    return 0;
  }
  long per_page = sb_page_samples(page, len);
  int n = (int)env_num("BENCH_SCRAPE_TARGETS", 200);
  double secs = env_num("BENCH_SCRAPE_SECONDS", env_num("BENCH_QUICK", 0) ? 5 : 15);
  ps_raise_nofile();
  ps_t ps;
  char msg[256];
  if (ps_start(page, len, n, &ps, msg, sizeof msg) < 0) {
    printf("scrape end to end: cannot serve the page: %s\n", msg);
    return 1;
  }
  sl_log_set_level(SL_LOG_ERROR);
  sb_t b;
  if (sb_start(&b, ps.ports, ps.n, 1.0, 50, sl_store_pod_history_for(60, 1)) < 0) return 1;
  // Warm up: every target connected and scraped, buffers at their size.
  sb_run_for(&b, 3);
  sl_scraper_stats_t s0, s1;
  sl_scraper_stats(b.s, &s0);
  b.counting = 1;
  double c0 = ps_cpu_s(), t0 = ps_now();
  sb_run_for(&b, secs);
  double cpu = ps_cpu_s() - c0, wall = ps_now() - t0;
  sl_scraper_stats(b.s, &s1);
  uint64_t scrapes = s1.scrapes - s0.scrapes, failed = s1.failures - s0.failures;
  uint64_t ok = scrapes - failed, stored = s1.samples - s0.samples;
  double samples = (double)ok * (double)per_page;
  double rss, hwm;
  ps_rss_mb(&rss, &hwm);
  printf("scrape end to end: %.3f \xc2\xb5s/sample (%d targets at 1 s for %.0f s: %.1f \xc2\xb5s "
         "CPU per scrape, %.1f%% of one core, %llu scrapes, %llu failed, %ld samples per page of "
         "%zu bytes, %.0f stored per page; scrape p50 %.2f ms, p99 %.2f ms; RSS %.0f MB; page "
         "servers in another process, not counted)\n",
         samples > 0 ? cpu * 1e6 / samples : NAN, ps.n, wall, ok ? cpu * 1e6 / (double)ok : NAN,
         100 * cpu / wall, (unsigned long long)scrapes, (unsigned long long)failed, per_page, len,
         ok ? (double)stored / (double)ok : 0, sb_hist_q(&b.hist, 0.5) * 1e3,
         sb_hist_q(&b.hist, 0.99) * 1e3, rss);
  sb_free(&b);
  ps_stop(&ps);
  free(page);
  return 0;
}
