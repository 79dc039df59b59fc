// sluice sim: replay a trace against one or several policies on a simulated cluster and print
// one row per policy plus the clairvoyant reference (or JSON).
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>

#include "core/cmd/sim.h"

#include "core/cmd/cmd.h"
#include "core/runtime/simrun.h"
#include "core/sim/report.h"
#include "core/sim/sim.h"
#include "core/util/log.h"
#include "core/util/yval.h"

// A cluster for a trace given without one: Llama-3.1-8B on H100s (the calibrated reference),
// scaled from zero, with no inventory limit.
static const char default_cluster[] =
    "slo_classes:\n"
    "  interactive: {ttft_ms: 1000, itl_ms: 50}\n"
    "accelerators:\n"
    "  H100: {count: 0, cost: 4.0}\n"
    "models:\n"
    "  - name: meta-llama/Llama-3.1-8B-Instruct\n"
    "    shape: llama-3.1-8b\n"
    "    profiles: {H100: llama-3.1-8b/h100}\n"
    "variants:\n"
    "  - {id: llm/llama-8b-h100, model: meta-llama/Llama-3.1-8B-Instruct, accelerator: H100,\n"
    "     profile: llama-3.1-8b/h100, slo_class: interactive, min: 1, max: 1000}\n";

static void usage(FILE *f) {
  fprintf(
      f, "usage: sluice sim [options]\n"
         "\n"
         "Replays a request trace through the tick pipeline (store, view, policies, guard)\n"
         "against a simulated cluster, once per policy, and prints SLO attainment, latency,\n"
         "GPU-hours, cost, scale events and reaction time per policy, plus a clairvoyant\n"
         "reference. With no options: a built-in scenario with every built-in policy.\n"
         "\n"
         "  --trace FILE|GEN:k=v,...  trace for every model: an Azure CSV, Mooncake JSONL or\n"
         "                            ServeGen file or directory, or a generator (poisson, gamma,\n"
         "                            weibull, diurnal, step; docs/traces.md)\n"
         "  --tokens DIST             token lengths for traces without them: azure (default),\n"
         "                            fixed:in=N,out=M, lognormal:in_mu=,in_sigma=,out_mu=,...\n"
         "  --cluster FILE            cluster file (docs/simulator.md); default: the built-in\n"
         "                            scenario, or one Llama-3.1-8B/H100 variant with --trace\n"
         "  --policy P[,P...]         canned policy names or policy files (default: all built in)\n"
         "  --seed N                  random seed (default 1); runs with one seed are identical\n"
         "  --duration D              simulated time to replay: seconds or 90m, 2h, 1d\n"
         "  --rate-scale R            keep each request with probability R < 1, or add copies\n"
         "  --time-scale T            stretch time by T\n"
         "  --peak-replicas N         scale the rate so the clairvoyant peak is N replicas of\n"
         "                            each model's cheapest variant (instead of --rate-scale)\n"
         "  --json                    print JSON instead of the table\n"
         "  --decisions FILE          write every scaling change with its reason (- for stderr)\n"
         "  --report FILE.html        write the HTML report\n");
}

static int bad(const char *flag, const char *what, const char *got) {
  fprintf(stderr, "sluice sim: %s: %s, got '%s'\n", flag, what, got);
  return SL_EXIT_USAGE;
}

// ---- policies ------------------------------------------------------------------------------

// The generated table of embedded Lua sources (scripts/embed.cmake).
extern const struct sl_embedded {
  const char *name, *path, *src;
  size_t len;
} sl_embedded_lua[];

// Names of the canned policies built into the binary, in name order; *n receives the count.
static int canned_policies(char ***out, int *n, sl_err_t *err) {
  *n = 0;
  *out = NULL;
  for (const struct sl_embedded *e = sl_embedded_lua; e->name; e++) {
    if (strncmp(e->name, "policies/", 9)) continue;
    char **np = realloc(*out, sizeof *np * (size_t)(*n + 1));
    if (!np) return sl_err(err, SL_ENOMEM, "out of memory");
    *out = np;
    if (!((*out)[*n] = strdup(e->name + 9))) return sl_err(err, SL_ENOMEM, "out of memory");
    (*n)++;
  }
  for (int i = 1; i < *n; i++)
    for (int k = i; k > 0 && strcmp((*out)[k], (*out)[k - 1]) < 0; k--) {
      char *t = (*out)[k];
      (*out)[k] = (*out)[k - 1];
      (*out)[k - 1] = t;
    }
  if (!*n) return sl_err(err, SL_ENOTFOUND, "no canned policy is built into this binary");
  return SL_OK;
}

// Splits --policy's comma-separated list.
static int split_policies(const char *list, char ***out, int *n, sl_err_t *err) {
  *n = 0;
  *out = NULL;
  const char *s = list;
  while (*s) {
    const char *c = strchr(s, ',');
    size_t len = c ? (size_t)(c - s) : strlen(s);
    if (len) {
      char **np = realloc(*out, sizeof *np * (size_t)(*n + 1));
      if (!np) return sl_err(err, SL_ENOMEM, "out of memory");
      *out = np;
      if (!((*out)[*n] = strndup(s, len))) return sl_err(err, SL_ENOMEM, "out of memory");
      (*n)++;
    }
    s = c ? c + 1 : s + len;
  }
  if (!*n) return sl_err(err, SL_EINVAL, "--policy: no policy named");
  return SL_OK;
}

// ---- output --------------------------------------------------------------------------------

static void num(yajl_gen g, double x) {
  if (!isfinite(x)) {
    yajl_gen_null(g);
    return;
  }
  char buf[64];
  int n = snprintf(buf, sizeof buf, "%.10g", x);
  yajl_gen_number(g, buf, (size_t)n);
}

static void key(yajl_gen g, const char *k) {
  yajl_gen_string(g, (const unsigned char *)k, strlen(k));
}

static void print_json(const sl_sim_result_t *r, int n, const sl_clair_result_t *c, double rate) {
  yajl_gen g = yajl_gen_alloc(NULL);
  yajl_gen_map_open(g);
  key(g, "runs");
  yajl_gen_array_open(g);
  for (int i = 0; i < n; i++) {
    yajl_gen_map_open(g);
    key(g, "policy");
    yajl_gen_string(g, (const unsigned char *)r[i].policy, strlen(r[i].policy));
    key(g, "requests"), yajl_gen_integer(g, (long long)r[i].requests);
    key(g, "completed"), yajl_gen_integer(g, (long long)r[i].completed);
    key(g, "dropped"), yajl_gen_integer(g, (long long)r[i].dropped);
    key(g, "slo_attainment"), num(g, r[i].slo_attainment);
    key(g, "gpu_hours"), num(g, r[i].gpu_hours);
    key(g, "cost"), num(g, r[i].cost);
    key(g, "ttft_p50_ms"), num(g, r[i].ttft_p50_ms);
    key(g, "ttft_p90_ms"), num(g, r[i].ttft_p90_ms);
    key(g, "ttft_p99_ms"), num(g, r[i].ttft_p99_ms);
    key(g, "itl_p50_ms"), num(g, r[i].itl_p50_ms);
    key(g, "itl_p99_ms"), num(g, r[i].itl_p99_ms);
    key(g, "scale_events"), yajl_gen_integer(g, (long long)r[i].scale_events);
    key(g, "reaction_s"), num(g, r[i].reaction_s);
    yajl_gen_map_close(g);
  }
  yajl_gen_array_close(g);
  key(g, "clairvoyant");
  yajl_gen_map_open(g);
  key(g, "gpu_hours"), num(g, c->gpu_hours);
  key(g, "peak_replicas"), yajl_gen_integer(g, c->peak_replicas);
  yajl_gen_map_close(g);
  key(g, "simulated_requests_per_second"), num(g, round(rate));
  yajl_gen_map_close(g);
  const unsigned char *buf;
  size_t len;
  yajl_gen_get_buf(g, &buf, &len);
  fwrite(buf, 1, len, stdout);
  fputc('\n', stdout);
  yajl_gen_free(g);
}

static void cell(char *buf, size_t n, double x, const char *fmt) {
  if (isfinite(x))
    snprintf(buf, n, fmt, x);
  else
    snprintf(buf, n, "-");
}

static void print_table(const sl_sim_t *s, const sl_sim_result_t *r, int n,
                        const sl_clair_result_t *c) {
  const sl_cluster_t *cl = s->o.cluster;
  printf("%d model%s, %d variant%s; %.0f s simulated; rate scale %.4g; seed %llu\n", cl->nmodels,
         cl->nmodels == 1 ? "" : "s", cl->cfg.nvariants, cl->cfg.nvariants == 1 ? "" : "s", s->end,
         s->rate_scale, (unsigned long long)s->o.seed);
  printf("%-14s %9s %9s %7s %8s %8s %8s %7s %7s %7s %8s %8s %6s %8s\n", "policy", "requests",
         "completed", "dropped", "TTFT p50", "p90", "p99", "ITL p50", "p99", "SLO", "GPU-h", "cost",
         "scales", "reaction");
  printf("%-14s %9s %9s %7s %8s %8s %8s %7s %7s %7s %8s %8s %6s %8s\n", "", "", "", "", "(ms)",
         "(ms)", "(ms)", "(ms)", "(ms)", "", "", "", "", "(s)");
  for (int i = 0; i < n; i++) {
    char c1[16], c2[16], c3[16], c4[16], c5[16], c6[16], c7[16];
    cell(c1, sizeof c1, r[i].ttft_p50_ms, "%.0f");
    cell(c2, sizeof c2, r[i].ttft_p90_ms, "%.0f");
    cell(c3, sizeof c3, r[i].ttft_p99_ms, "%.0f");
    cell(c4, sizeof c4, r[i].itl_p50_ms, "%.1f");
    cell(c5, sizeof c5, r[i].itl_p99_ms, "%.1f");
    cell(c6, sizeof c6, r[i].slo_attainment * 100, "%.2f%%");
    cell(c7, sizeof c7, r[i].reaction_s, "%.0f");
    printf("%-14s %9llu %9llu %7llu %8s %8s %8s %7s %7s %7s %8.1f %8.2f %6llu %8s\n", r[i].policy,
           (unsigned long long)r[i].requests, (unsigned long long)r[i].completed,
           (unsigned long long)r[i].dropped, c1, c2, c3, c4, c5, c6, r[i].gpu_hours, r[i].cost,
           (unsigned long long)r[i].scale_events, c7);
  }
  printf("%-14s %9s %9s %7s %8s %8s %8s %7s %7s %7s %8.1f %8.2f %6s %8s\n", "clairvoyant", "-", "-",
         "-", "-", "-", "-", "-", "-", "-", c->gpu_hours, c->cost, "-", "-");
  printf("clairvoyant: the fewest replicas per %.0f s bin that meet the SLO at that bin's load, "
         "zero start-up; peak %d replica%s%s\n",
         s->o.bin_s, c->peak_replicas, c->peak_replicas == 1 ? "" : "s",
         c->short_bins ? " (the inventory could not cover some bins)" : "");
  // Why requests missed, per policy: what to fix differs (capacity late: TTFT; batches too
  // full or prefill-heavy: ITL; the queue timed out: dropped; scale-down cut them: cut).
  for (int i = 0; i < n; i++) {
    double e = (double)(r[i].completed + r[i].dropped + r[i].cut);
    if (e <= 0 || r[i].met == (uint64_t)e) continue;
    printf("%-14s misses: %.2f%% over TTFT, %.2f%% over ITL, %.2f%% dropped, %.2f%% cut\n",
           r[i].policy, 100.0 * (double)r[i].late_ttft / e, 100.0 * (double)r[i].late_itl / e,
           100.0 * (double)r[i].dropped / e, 100.0 * (double)r[i].cut / e);
  }
  printf("simulated %.0f requests per second of wall time\n", sl_sim_rate(s));
}

// ---- the command ---------------------------------------------------------------------------

static int exit_code(int rc) {
  return rc == SL_EINVAL || rc == SL_EPARSE || rc == SL_EIO || rc == SL_ENOTFOUND ? SL_EXIT_USAGE
                                                                                  : SL_EXIT_FAIL;
}

int sl_cmd_sim(int argc, char **argv) {
  const char *trace = NULL, *tokens = NULL, *cluster_path = NULL, *policies = NULL, *report = NULL,
             *decisions = NULL;
  int json = 0;
  sl_sim_opts_t o;
  sl_sim_opts_init(&o);
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return SL_EXIT_OK;
    }
    if (!strcmp(a, "--json")) {
      json = 1;
      continue;
    }
    static const char *const with_value[] = {
        "--trace",      "--tokens",     "--cluster",       "--policy", "--seed",      "--duration",
        "--rate-scale", "--time-scale", "--peak-replicas", "--report", "--decisions", NULL};
    int known = 0;
    for (const char *const *w = with_value; *w; w++) known |= !strcmp(a, *w);
    if (!known) {
      fprintf(stderr, "sluice sim: unknown option '%s' (sluice sim --help lists them)\n", a);
      return SL_EXIT_USAGE;
    }
    if (i + 1 >= argc) {
      fprintf(stderr, "sluice sim: %s needs a value\n", a);
      return SL_EXIT_USAGE;
    }
    const char *v = argv[++i];
    double x;
    if (!strcmp(a, "--trace"))
      trace = v;
    else if (!strcmp(a, "--tokens"))
      tokens = v;
    else if (!strcmp(a, "--cluster"))
      cluster_path = v;
    else if (!strcmp(a, "--policy"))
      policies = v;
    else if (!strcmp(a, "--report"))
      report = v;
    else if (!strcmp(a, "--decisions"))
      decisions = v;
    else if (!strcmp(a, "--seed")) {
      char *end;
      errno = 0;
      unsigned long long s = strtoull(v, &end, 10);
      if (!*v || *end || errno || *v == '-') return bad(a, "expected a whole number >= 0", v);
      o.seed = s;
    } else if (!strcmp(a, "--duration")) {
      // A year of simulated time is far beyond any trace; more is a typo, not a replay.
      if (sl_parse_duration(v, &x) < 0 || !(x > 0) || x > 366 * 86400.0)
        return bad(a, "expected a positive duration up to 366d (seconds, or 90m, 2h, 1d)", v);
      o.duration = x;
    } else {
      if (sl_parse_number(v, &x) < 0) return bad(a, "expected a number", v);
      if (!strcmp(a, "--rate-scale")) {
        if (!(x > 0) || x > 1e6) return bad(a, "expected a number in (0, 1e6]", v);
        o.rate_scale = x;
      } else if (!strcmp(a, "--time-scale")) {
        if (!(x > 0) || x > 1e6) return bad(a, "expected a number in (0, 1e6]", v);
        o.time_scale = x;
      } else {
        if (!(x >= 1) || x > 100000) return bad(a, "expected a number of replicas >= 1", v);
        o.peak_replicas = x;
      }
    }
  }
  if (report) {
    sl_err_t rerr;
    if (sl_report_check(report, &rerr) < 0) {
      fprintf(stderr, "sluice sim: --report: %s\n", rerr.msg);
      return SL_EXIT_FAIL;
    }
  }

  // Each run loads its policy afresh; saying so per run is noise.
  if (sl_log_get_level() < SL_LOG_WARN) sl_log_set_level(SL_LOG_WARN);
  sl_err_t err = {0};
  sl_cluster_t cl;
  int rc;
  if (cluster_path)
    rc = sl_cluster_load(&cl, cluster_path, &err);
  else if (trace)
    rc = sl_cluster_load_buffer(&cl, default_cluster, sizeof default_cluster - 1, "default cluster",
                                &err);
  else
    rc = sl_cluster_load_buffer(&cl, sl_cluster_builtin_yaml, strlen(sl_cluster_builtin_yaml),
                                "built-in scenario", &err);
  if (rc < 0) {
    fprintf(stderr, "sluice sim: %s\n", err.msg);
    return SL_EXIT_USAGE;
  }
  // --trace replaces every model's own trace.
  if (trace)
    for (int m = 0; m < cl.nmodels; m++) {
      free(cl.models[m].trace);
      cl.models[m].trace = NULL;
    }

  char **names = NULL;
  int nnames = 0, code = SL_EXIT_OK;
  sl_simrun_policy_t *pols = NULL;
  sl_sim_result_t *res = NULL;
  int nres = 0;
  sl_sim_t sim;
  int sim_ok = 0;
  rc = policies ? split_policies(policies, &names, &nnames, &err)
                : canned_policies(&names, &nnames, &err);
  if (rc < 0) goto fail;
  // Every policy loads once before anything runs, so a bad one costs no simulation.
  pols = calloc((size_t)nnames, sizeof *pols);
  if (!pols) {
    rc = sl_err(&err, SL_ENOMEM, "out of memory");
    goto fail;
  }
  for (int i = 0; i < nnames; i++) {
    pols[i] = (sl_simrun_policy_t){names[i], names[i], NULL, NAN, NAN, NAN};
    if ((rc = sl_simrun_check(&cl.cfg, names[i], &err)) < 0) {
      sl_err_wrap(&err, "--policy %s", names[i]);
      if (rc != SL_ENOMEM) rc = SL_EINVAL;
      goto fail;
    }
  }

  o.cluster = &cl;
  o.trace = trace;
  o.tokens = tokens;
  o.progress = 1;
  FILE *dec = NULL;
  if (decisions) {
    dec = strcmp(decisions, "-") ? fopen(decisions, "w") : stderr;
    if (!dec) {
      rc = sl_err(&err, SL_EIO, "--decisions: cannot write %s: %s", decisions, strerror(errno));
      goto fail;
    }
    o.decisions = dec;
  }
  if ((rc = sl_sim_init(&sim, &o, &err)) < 0) goto fail;
  sim_ok = 1;
  res = calloc((size_t)nnames, sizeof *res);
  if (!res) {
    rc = sl_err(&err, SL_ENOMEM, "out of memory");
    goto fail;
  }
  for (int i = 0; i < nnames; i++) {
    if ((rc = sl_simrun(&sim, &pols[i], &res[i], &err)) < 0) {
      sl_err_wrap(&err, "%s", names[i]);
      goto fail;
    }
    nres++;
  }
  sl_clair_result_t clair;
  if ((rc = sl_sim_clairvoyant(&sim, &clair, &err)) < 0) goto fail;
  if (json)
    print_json(res, nres, &clair, sl_sim_rate(&sim));
  else
    print_table(&sim, res, nres, &clair);
  if (report) {
    sl_report_opts_t ro = {.cluster = cluster_path ? cluster_path
                                      : trace      ? "default cluster (Llama-3.1-8B on H100)"
                                                   : "built-in scenario",
                           .argc = argc,
                           .argv = argv};
    if (sl_report_write(report, &sim, res, nres, &clair, &ro, &err) < 0) {
      fprintf(stderr, "sluice sim: --report: %s\n", err.msg);
      code = SL_EXIT_FAIL;
    } else {
      fprintf(json ? stderr : stdout, "report: %s\n", report);
    }
  }
  sl_clair_result_deinit(&clair);
  goto done;

fail:
  fprintf(stderr, "sluice sim: %s\n", err.msg);
  code = exit_code(rc);
done:
  if (o.decisions && o.decisions != stderr) fclose(o.decisions);
  for (int i = 0; i < nres; i++) sl_sim_result_deinit(&res[i]);
  free(res);
  free(pols);
  for (int i = 0; i < nnames; i++) free(names[i]);
  free(names);
  if (sim_ok) sl_sim_deinit(&sim);
  sl_cluster_deinit(&cl);
  return code;
}
