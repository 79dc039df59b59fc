// `scrape 5000:` 5,000 model-server pods serving the real vLLM page
// (../shared/data/metrics/vllm_metrics_page.txt, or argv[1]; skipped when absent) scraped at 1 s
// for a minute: sluice's CPU as a share of one core, its resident memory, and the p99 of the
// scrape duration. The page servers run in a child process (one HTTP daemon per port, as each pod
// is a server of its own), so getrusage(RUSAGE_SELF) counts the scraping side only. When the two
// processes cannot keep up with 5,000 targets on this machine (more than 1% of slots failing or
// skipped), the count steps down and the line says at which count it was measured.
// Environment: BENCH_SCRAPE_TARGETS (5000), BENCH_SCRAPE_SECONDS (60; 10 with BENCH_QUICK=1).
#include "tests/bench/pageserver.h"
#include "tests/bench/scrapeload.h"

#include "core/util/log.h"

static double env_num(const char *name, double def) {
  const char *v = getenv(name);
  return v && *v ? atof(v) : def;
}

typedef struct {
  int n;
  double wall, cpu, rss, hwm, p50, p99;
  uint64_t scrapes, failed, skipped;
} result_t;

static void measure(const ps_t *ps, int n, double secs, int history, result_t *r) {
  sb_t b;
  memset(r, 0, sizeof *r);
  r->n = n;
  if (sb_start(&b, ps->ports, n, 1.0, 500, history) < 0) return;
  sb_run_for(&b, 4); // every target connected and scraped once
  sl_scraper_stats_t s0, s1;
  sl_scraper_stats(b.s, &s0);
  b.counting = 1;
  double c0 = ps_cpu_s(), t0 = ps_now();
  sb_run_for(&b, secs);
  r->cpu = ps_cpu_s() - c0;
  r->wall = ps_now() - t0;
  sl_scraper_stats(b.s, &s1);
  r->scrapes = s1.scrapes - s0.scrapes;
  r->failed = s1.failures - s0.failures;
  r->skipped = s1.skipped - s0.skipped;
  r->p50 = sb_hist_q(&b.hist, 0.5);
  r->p99 = sb_hist_q(&b.hist, 0.99);
  ps_rss_mb(&r->rss, &r->hwm);
  sb_free(&b);
}

// measure() in a process of its own, so each count's memory and CPU are its own.
static void measure_apart(const ps_t *ps, int n, double secs, int history, result_t *r) {
  int pfd[2];
  memset(r, 0, sizeof *r);
  if (pipe(pfd) < 0) return;
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid == 0) {
    close(pfd[0]);
    measure(ps, n, secs, history, r);
    _exit(write(pfd[1], r, sizeof *r) == sizeof *r ? 0 : 1);
  }
  close(pfd[1]);
  if (pid < 0 || read(pfd[0], r, sizeof *r) != sizeof *r) memset(r, 0, sizeof *r);
  close(pfd[0]);
  if (pid > 0) waitpid(pid, NULL, 0);
}

// At most 1% of the slots failed or skipped (the count of finished scrapes itself is cut by the
// window's edges and a late stop on a busy loop).
static int kept_up(const result_t *r) {
  double slots = r->n * r->wall;
  return r->scrapes >= 0.9 * slots && r->failed <= 0.01 * slots && r->skipped <= 0.01 * slots;
}

int main(int argc, char **argv) {
  const char *path;
  size_t len = 0;
  char *page = ps_read_page(argc, argv, &path, &len);
  if (!page) {
    printf("scrape 5000: skipped: %s absent\n", path);
    return 0;
  }
  int want = (int)env_num("BENCH_SCRAPE_TARGETS", 5000);
  double secs = env_num("BENCH_SCRAPE_SECONDS", env_num("BENCH_QUICK", 0) ? 10 : 60);
  ps_raise_nofile();
  // Each target holds a connection here, and each page server a listening socket and an epoll
  // descriptor in the child.
  long fds = ps_nofile();
  ps_t ps;
  char msg[256];
  if (ps_start(page, len, want, &ps, msg, sizeof msg) < 0) {
    printf("scrape 5000: cannot serve the page: %s\n", msg);
    return 1;
  }
  int n = ps.n < fds - 200 ? ps.n : (int)(fds - 200);
  sl_log_set_level(SL_LOG_ERROR);
  // Short looks to find the count this machine keeps up with, then the scraper alone there
  // (pages parsed and ingested, nothing kept: its own footprint), then the whole run into a store
  // as cluster mode keeps one (its default window's 68 samples per pod series). Each in a process
  // of its own.
  result_t r, alone;
  int hist = sl_store_pod_history_for(60, 1);
  while (n > 250) {
    measure_apart(&ps, n, 5, hist, &r);
    if (kept_up(&r)) break;
    fprintf(stderr,
            "scrape 5000: %d targets did not keep up (%llu of %.0f slots scraped, %llu "
            "failed, %llu skipped); trying fewer\n",
            n, (unsigned long long)r.scrapes, n * r.wall, (unsigned long long)r.failed,
            (unsigned long long)r.skipped);
    n = n * 4 / 5;
  }
  measure_apart(&ps, n, 10, 0, &alone);
  measure_apart(&ps, n, secs, hist, &r);
  printf("scrape 5000: %.2f of one core, RSS %.0f MB, scrape p99 %.1f ms (p50 %.2f ms) at %d "
         "targets%s at 1 s for %.0f s (%llu scrapes, %llu failed, %llu slots skipped; %.1f "
         "\xc2\xb5s CPU per scrape; the scraper alone, keeping nothing: RSS %.0f MB, %.2f of "
         "one core; page servers in another process, not counted)\n",
         r.cpu / r.wall, r.rss, r.p99 * 1e3, r.p50 * 1e3, r.n,
         r.n < want ? " (the most this machine kept up with)" : "", r.wall,
         (unsigned long long)r.scrapes, (unsigned long long)r.failed, (unsigned long long)r.skipped,
         r.scrapes ? r.cpu * 1e6 / (double)r.scrapes : NAN, alone.rss,
         alone.wall > 0 ? alone.cpu / alone.wall : NAN);
  ps_stop(&ps);
  free(page);
  return 0;
}
