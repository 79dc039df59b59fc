// The HTML report on real simulated runs: one chart per series family with data, every series
// thinned to the point limit, every foreign string escaped, identical runs giving identical
// files, and the file written atomically (no temporary left, bad paths refused).
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/runtime/simrun.h"
#include "core/sim/report.h"
#include "core/sim/sim.h"
#include "core/util/log.h"
#include "tests/unit/tap.h"

static const char *cluster_yaml =
    "slo_classes:\n"
    "  chat: {ttft_ms: 700, itl_ms: 50}\n"
    "accelerators:\n"
    "  H100: {count: 6, cost: 4}\n"
    "variants:\n"
    "  - {id: llm/a, model: m, accelerator: H100, slo_class: chat, min: 1, max: 6}\n"
    "cold_start: {fixed: 30s}\n";

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc((size_t)n + 1);
  if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
    free(b);
    b = NULL;
  }
  if (b) b[n] = 0;
  fclose(f);
  if (len) *len = (size_t)n;
  return b;
}

static size_t count(const char *hay, const char *needle) {
  size_t n = 0;
  for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle)) n++;
  return n;
}

static size_t entries(const char *dir) {
  DIR *d = opendir(dir);
  size_t n = 0;
  for (struct dirent *e; d && (e = readdir(d));) n += e->d_name[0] != '.';
  if (d) closedir(d);
  return n;
}

// Most coordinate pairs in any line path (stroke, no fill) and in any area path of the file.
static void longest_paths(const char *html, size_t *line, size_t *area) {
  *line = *area = 0;
  for (const char *p = html; (p = strstr(p, "<path ")); p++) {
    const char *d = strstr(p, " d=\""), *gt = strchr(p, '>');
    if (!d || !gt || d > gt) continue;
    size_t pairs = 0;
    for (const char *q = d + 4; *q && *q != '"'; q++) pairs += *q == ',';
    int is_area = strncmp(p, "<path fill=\"none\"", 17) != 0;
    size_t *slot = is_area ? area : line;
    if (pairs > *slot) *slot = pairs;
  }
}

int main(void) {
  sl_log_set_level(SL_LOG_WARN); // each run loads its policy and says so
  sl_err_t err = {0};
  sl_cluster_t cl;
  if (sl_cluster_load_buffer(&cl, cluster_yaml, strlen(cluster_yaml), "test.yaml", &err) < 0) {
    T_OK(0, "cluster: %s", err.msg);
    return tap_done();
  }
  sl_sim_opts_t o;
  sl_sim_opts_init(&o);
  o.cluster = &cl;
  o.trace = "diurnal:mean=8,peak=20,period=7200,peak_at=3600,duration=7200";
  o.tokens = "fixed:in=300,out=60";
  o.record_bin_s = 1; // 7200 bins: far more than the report may draw
  sl_sim_t s;
  sl_simrun_policy_t p1 = {"target", "target", NULL, NAN, NAN, NAN},
                     p2 = {"hpa", "hpa", NULL, NAN, NAN, NAN};
  sl_sim_result_t r[2];
  memset(r, 0, sizeof r);
  sl_clair_result_t c = {0};
  if (sl_sim_init(&s, &o, &err) < 0 || sl_simrun(&s, &p1, &r[0], &err) < 0 ||
      sl_simrun(&s, &p2, &r[1], &err) < 0 || sl_sim_clairvoyant(&s, &c, &err) < 0) {
    T_OK(0, "simulation: %s", err.msg);
    return tap_done();
  }
  snprintf(r[0].policy, sizeof r[0].policy, "target");
  snprintf(r[1].policy, sizeof r[1].policy, "<i>a&b\"c'd</i>\x01");
  T_OK(r[0].rec.nbins >= 7000, "the runs recorded one bin per second (%zu)", r[0].rec.nbins);

  char dir[] = "/tmp/sl-report-XXXXXX";
  if (!mkdtemp(dir)) {
    T_OK(0, "mkdtemp");
    return tap_done();
  }
  char path[256], path2[256], bad[300];
  snprintf(path, sizeof path, "%s/r.html", dir);
  snprintf(path2, sizeof path2, "%s/r2.html", dir);
  FILE *old = fopen(path, "w");
  if (old) fputs("old contents", old), fclose(old);

  char *argv[] = {"--trace", "poisson:rate=1", "--policy", "a b"};
  sl_report_opts_t ro = {
      .cluster = "test <cluster>.yaml", .argc = 4, .argv = argv, .max_points = 100};
  T_EQ_INT(sl_report_write(path, &s, r, 2, &c, &ro, &err), 0, "report written");
  T_EQ_INT(sl_report_write(path2, &s, r, 2, &c, &ro, &err), 0, "again, to another file");
  size_t n1, n2;
  char *h = slurp(path, &n1), *h2 = slurp(path2, &n2);
  T_OK(h && h2, "both files readable");
  if (!h || !h2) return tap_done();
  T_OK(n1 == n2 && !memcmp(h, h2, n1), "the same runs give byte-identical reports");
  T_OK(!strstr(h, "old contents"), "the report replaced the file that was there");
  T_EQ_INT(entries(dir), 2, "no temporary file left next to the reports");

  // Charts: arrivals, GPUs, queue, TTFT, misses, cost (one model), then replicas for each run
  // of the one variant.
  T_EQ_INT(count(h, "<svg class=\"chart\""), 8, "eight charts");
  T_EQ_INT(count(h, "<svg class=\"chart\" data-points=\"0\""), 0, "every chart has data");
  T_OK(strstr(h, "<svg class=\"chart\" data-points=\"100\"") != NULL,
       "the arrival chart: 100 points");
  size_t line, area;
  longest_paths(h, &line, &area);
  T_OK(line > 50 && line <= 100, "no line has more than max_points points (longest %zu)", line);
  T_OK(area > 100 && area <= 200, "no area more than twice max_points (longest %zu)", area);
  T_OK(strstr(h, "SLO TTFT 700 ms") != NULL, "the TTFT chart draws the SLO");
  T_OK(strstr(h, "clairvoyant</td>") != NULL, "the summary has the clairvoyant row");
  char cell[64];
  snprintf(cell, sizeof cell, "<td>%.1f</td><td>%.2f</td>", c.gpu_hours, c.cost);
  T_OK(strstr(h, cell) != NULL, "with its GPU-hours and cost (%s)", cell);
  snprintf(cell, sizeof cell, "<td>%llu</td>", (unsigned long long)r[1].requests);
  T_OK(strstr(h, cell) != NULL, "the runs' request counts are in the table (%s)", cell);

  // Escaping: names, paths and the command line never reach the markup raw.
  T_OK(!strstr(h, "<i>a"), "a policy name is not markup");
  T_OK(strstr(h, "&lt;i&gt;a&amp;b&quot;c&#39;d&lt;/i&gt;&#xfffd;") != NULL,
       "it is escaped everywhere");
  T_EQ_INT(count(h, "&lt;i&gt;a&amp;b"), count(h, "a&amp;b&quot;c"), "... every time it appears");
  T_OK(strstr(h, "test &lt;cluster&gt;.yaml") != NULL, "the cluster label is escaped");
  T_OK(strstr(h, "sluice sim --trace poisson:rate=1 --policy &#39;a b&#39;") != NULL,
       "the command line is quoted for a shell and escaped");
  T_OK(!strstr(h, "<script") && !strstr(h, "src=") && !strstr(h, "<link"),
       "nothing is loaded from outside the file");
  free(h2);

  // With the default limit the whole run fits (7200 bins over 2000 points: 4 bins a point).
  ro.max_points = 0;
  T_EQ_INT(sl_report_write(path2, &s, r, 2, &c, &ro, &err), 0, "report at the default limit");
  h2 = slurp(path2, NULL);
  longest_paths(h2 ? h2 : "", &line, &area);
  T_OK(line > 1000 && line <= SL_REPORT_MAX_POINTS, "lines up to %d points (longest %zu)",
       SL_REPORT_MAX_POINTS, line);
  free(h2);
  free(h);

  // Bad paths: an error naming the path, nothing created.
  snprintf(bad, sizeof bad, "%s/missing/r.html", dir);
  T_EQ_INT(sl_report_check(bad, &err), SL_EIO, "a missing folder is refused up front");
  T_STR_HAS(err.msg, "cannot write", "saying so");
  T_EQ_INT(sl_report_write(bad, &s, r, 2, &c, &ro, &err), SL_EIO, "and by the writer");
  T_STR_HAS(err.msg, bad, "naming the path");
  T_EQ_INT(sl_report_check(dir, &err), SL_EIO, "a directory is refused");
  T_STR_HAS(err.msg, "it is a directory", "saying so");
  T_EQ_INT(sl_report_check(path, &err), 0, "an existing file may be replaced");
  T_EQ_INT(entries(dir), 2, "checking leaves nothing behind");

  unlink(path), unlink(path2), rmdir(dir);
  sl_clair_result_deinit(&c);
  sl_sim_result_deinit(&r[0]);
  sl_sim_result_deinit(&r[1]);
  sl_sim_deinit(&s);
  sl_cluster_deinit(&cl);
  return tap_done();
}
