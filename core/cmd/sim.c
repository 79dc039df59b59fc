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
#include "core/sim/oracle.h"
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
         "GPU-hours, cost, scale events and reaction time per policy, plus the oracle (the\n"
         "fewest replicas per minute that meet the SLO, found by simulation and replayed) and a\n"
         "mean-sized estimate. With no options: a built-in scenario with every built-in policy.\n"
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
         "  --peak-replicas N         scale the rate so the mean-sized estimate's busiest minute\n"
         "                            needs N replicas of each model's cheapest variant (instead\n"
         "                            of --rate-scale); the oracle's peak is usually higher\n"
         "  --oracle-target P         the share of each bin's requests the oracle keeps within\n"
         "                            the SLO (default 0.99)\n"
         "  --oracle on|off           off: no oracle (then --quota needs a number or off, and\n"
         "                            static a number of replicas)\n"
         "  --quota auto|N|off        GPU inventory for every run: auto = twice the oracle's\n"
         "                            peak (the default with --peak-replicas), N GPUs per\n"
         "                            accelerator type, off = the cluster file's\n"
         "  --param POLICY.KEY=VALUE  set a policy parameter (repeatable; VALUE is YAML)\n"
         "  --json                    print JSON instead of the table\n"
         "  --decisions FILE          write every scaling change with its reason (- for stderr)\n"
         "  --requests FILE           write one CSV row per request (- for stdout)\n"
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

// What the command adds around the runs: the oracle and the quota it set.
typedef struct {
  const sl_oracle_t *o;
  const sl_sim_result_t *ores;
  const sl_cluster_t *cl;
  int quota; // 0: none set here; 1: auto; 2: by hand
} extras_t;

static void run_json(yajl_gen g, const sl_sim_result_t *r) {
  key(g, "requests"), yajl_gen_integer(g, (long long)r->requests);
  key(g, "completed"), yajl_gen_integer(g, (long long)r->completed);
  key(g, "dropped"), yajl_gen_integer(g, (long long)r->dropped);
  key(g, "slo_attainment"), num(g, r->slo_attainment);
  key(g, "gpu_hours"), num(g, r->gpu_hours);
  key(g, "cost"), num(g, r->cost);
  key(g, "ttft_mean_ms"), num(g, r->ttft_mean_ms);
  key(g, "ttft_p50_ms"), num(g, r->ttft_p50_ms);
  key(g, "ttft_p90_ms"), num(g, r->ttft_p90_ms);
  key(g, "ttft_p99_ms"), num(g, r->ttft_p99_ms);
  key(g, "itl_mean_ms"), num(g, r->itl_mean_ms);
  key(g, "itl_p50_ms"), num(g, r->itl_p50_ms);
  key(g, "itl_p99_ms"), num(g, r->itl_p99_ms);
  key(g, "e2e_mean_ms"), num(g, r->e2e_mean_ms);
  key(g, "e2e_p99_ms"), num(g, r->e2e_p99_ms);
  key(g, "peak_replicas"), yajl_gen_integer(g, r->peak_replicas);
  key(g, "peak_gpus"), num(g, r->peak_gpus);
  key(g, "scale_events"), yajl_gen_integer(g, (long long)r->scale_events);
  key(g, "reaction_s"), num(g, r->reaction_s);
  key(g, "prefix_hit_rate"), num(g, r->prefix_hit_rate);
}

static void print_json(const sl_sim_result_t *r, int n, const sl_clair_result_t *c, double rate,
                       const extras_t *x) {
  yajl_gen g = yajl_gen_alloc(NULL);
  yajl_gen_map_open(g);
  key(g, "runs");
  yajl_gen_array_open(g);
  for (int i = 0; i < n; i++) {
    yajl_gen_map_open(g);
    key(g, "policy");
    yajl_gen_string(g, (const unsigned char *)r[i].policy, strlen(r[i].policy));
    run_json(g, &r[i]);
    yajl_gen_map_close(g);
  }
  yajl_gen_array_close(g);
  const sl_oracle_t *o = x->o;
  const sl_sim_result_t *q = x->ores;
  key(g, "oracle");
  if (!o) {
    yajl_gen_null(g);
  } else {
    uint64_t ended = q->completed + q->dropped + q->cut;
    yajl_gen_map_open(g);
    key(g, "gpu_hours"), num(g, q->gpu_hours);
    key(g, "peak_replicas"), yajl_gen_integer(g, o->peak_replicas);
    key(g, "slo_attainment"), num(g, q->slo_attainment);
    key(g, "infeasible"), num(g, ended ? (double)o->infeasible / (double)ended : NAN);
    key(g, "target"), num(g, o->target);
    key(g, "peak_gpus"), yajl_gen_integer(g, o->peak_gpus);
    key(g, "bins"), yajl_gen_integer(g, (long long)o->nbins);
    key(g, "short_bins"), yajl_gen_integer(g, (long long)o->short_bins);
    key(g, "infeasible_bins"), yajl_gen_integer(g, (long long)o->infeasible_bins);
    key(g, "capped_bins"), yajl_gen_integer(g, (long long)o->capped_bins);
    key(g, "rounds"), yajl_gen_integer(g, o->rounds);
    key(g, "run");
    yajl_gen_map_open(g);
    run_json(g, q);
    yajl_gen_map_close(g);
    yajl_gen_map_close(g);
  }
  key(g, "quota");
  if (!x->quota) {
    yajl_gen_null(g);
  } else {
    const sl_config_t *cfg = &x->cl->cfg;
    long long total = 0;
    for (int a = 0; a < cfg->naccels; a++) total += cfg->accels[a].count;
    yajl_gen_map_open(g);
    key(g, "gpus"), yajl_gen_integer(g, total);
    key(g, "rule");
    const char *rule = x->quota == 1 ? "auto" : "set";
    yajl_gen_string(g, (const unsigned char *)rule, strlen(rule));
    key(g, "by_type");
    yajl_gen_map_open(g);
    for (int a = 0; a < cfg->naccels; a++)
      key(g, cfg->accels[a].type), yajl_gen_integer(g, cfg->accels[a].count);
    yajl_gen_map_close(g);
    yajl_gen_map_close(g);
  }
  key(g, "mean_sized");
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

static void table_row(const sl_sim_result_t *r) {
  char c1[16], c2[16], c3[16], c4[16], c5[16], c6[16], c7[16];
  cell(c1, sizeof c1, r->ttft_p50_ms, "%.0f");
  cell(c2, sizeof c2, r->ttft_p90_ms, "%.0f");
  cell(c3, sizeof c3, r->ttft_p99_ms, "%.0f");
  cell(c4, sizeof c4, r->itl_p50_ms, "%.1f");
  cell(c5, sizeof c5, r->itl_p99_ms, "%.1f");
  cell(c6, sizeof c6, r->slo_attainment * 100, "%.2f%%");
  cell(c7, sizeof c7, r->reaction_s, "%.0f");
  printf("%-14s %9llu %9llu %7llu %8s %8s %8s %7s %7s %7s %8.1f %8.2f %5d %6llu %8s\n", r->policy,
         (unsigned long long)r->requests, (unsigned long long)r->completed,
         (unsigned long long)r->dropped, c1, c2, c3, c4, c5, c6, r->gpu_hours, r->cost,
         r->peak_replicas, (unsigned long long)r->scale_events, c7);
}

static void print_table(const sl_sim_t *s, const sl_sim_result_t *r, int n,
                        const sl_clair_result_t *c, const extras_t *x) {
  const sl_cluster_t *cl = s->o.cluster;
  const sl_oracle_t *o = x->o;
  printf("%d model%s, %d variant%s; %.0f s simulated; rate scale %.4g; seed %llu\n", cl->nmodels,
         cl->nmodels == 1 ? "" : "s", cl->cfg.nvariants, cl->cfg.nvariants == 1 ? "" : "s", s->end,
         s->rate_scale, (unsigned long long)s->o.seed);
  if (x->quota) {
    long long total = 0;
    for (int a = 0; a < cl->cfg.naccels; a++) total += cl->cfg.accels[a].count;
    printf("quota: %lld GPUs (%s)\n", total,
           x->quota == 1 ? "twice the oracle's peak" : "set by --quota");
  }
  printf("%-14s %9s %9s %7s %8s %8s %8s %7s %7s %7s %8s %8s %5s %6s %8s\n", "policy", "requests",
         "completed", "dropped", "TTFT p50", "p90", "p99", "ITL p50", "p99", "SLO", "GPU-h", "cost",
         "peak", "scales", "reaction");
  printf("%-14s %9s %9s %7s %8s %8s %8s %7s %7s %7s %8s %8s %5s %6s %8s\n", "", "", "", "", "(ms)",
         "(ms)", "(ms)", "(ms)", "(ms)", "", "", "", "", "", "(s)");
  for (int i = 0; i < n; i++) table_row(&r[i]);
  if (o) table_row(x->ores);
  printf("%-14s %9s %9s %7s %8s %8s %8s %7s %7s %7s %8.1f %8.2f %5d %6s %8s\n", "mean-sized", "-",
         "-", "-", "-", "-", "-", "-", "-", "-", c->gpu_hours, c->cost, c->peak_replicas, "-", "-");
  uint64_t ended = o ? x->ores->completed + x->ores->dropped + x->ores->cut : 0;
  if (o) {
    printf("oracle: the fewest replicas per %.0f s bin whose simulated servers keep %.4g%% of the "
           "bin's requests within the SLO, zero cold start; peak %d; %.2f%% of requests infeasible "
           "(miss alone on an idle server)",
           o->bin_s, o->target * 100, o->peak_replicas,
           ended ? 100.0 * (double)o->infeasible / (double)ended : 0.0);
    if (o->short_bins)
      printf("; %zu bin%s below the target", o->short_bins, o->short_bins == 1 ? "" : "s");
    if (o->capped_bins)
      printf("; %zu bin%s at the variant's max", o->capped_bins, o->capped_bins == 1 ? "" : "s");
    printf("\n");
  }
  printf("mean-sized: replicas per bin from the queueing kernel at the bin's mean token mix "
         "(what --peak-replicas scales by)%s\n",
         c->short_bins ? "; the inventory could not cover some bins" : "");
  // Why requests missed, per policy: what to fix differs (capacity late: TTFT; batches too
  // full or prefill-heavy: ITL; the queue timed out: dropped; scale-down cut them: cut).
  for (int i = 0; i < n + (o != NULL); i++) {
    const sl_sim_result_t *ri = i < n ? &r[i] : x->ores;
    double e = (double)(ri->completed + ri->dropped + ri->cut);
    if (e <= 0 || ri->met == (uint64_t)e) continue;
    printf("%-14s misses: %.2f%% over TTFT, %.2f%% over ITL, %.2f%% dropped, %.2f%% cut\n",
           ri->policy, 100.0 * (double)ri->late_ttft / e, 100.0 * (double)ri->late_itl / e,
           100.0 * (double)ri->dropped / e, 100.0 * (double)ri->cut / e);
  }
  // Only a trace that names prompt blocks (Mooncake's hash_ids) can hit a prefix cache.
  for (int i = 0; i < n + (o != NULL); i++) {
    const sl_sim_result_t *ri = i < n ? &r[i] : x->ores;
    if (isfinite(ri->prefix_hit_rate))
      printf("%-14s prefix cache: %.2f%% of completed requests' prompt tokens hit\n", ri->policy,
             100 * ri->prefix_hit_rate);
  }
  if (cl->routing.mix)
    printf("gateway: scorer mix (prefix-cache %g, kv-cache-utilization %g, queue %g)\n",
           cl->routing.w_prefix, cl->routing.w_kv, cl->routing.w_queue);
  printf("simulated %.0f requests per second of wall time\n", sl_sim_rate(s));
}

// ---- the command ---------------------------------------------------------------------------

static int exit_code(int rc) {
  return rc == SL_EINVAL || rc == SL_EPARSE || rc == SL_EIO || rc == SL_ENOTFOUND ? SL_EXIT_USAGE
                                                                                  : SL_EXIT_FAIL;
}

// --param POLICY.KEY=VALUE, split at the last '.' before the '=' (a policy file's name has dots).
typedef struct {
  char *policy, *key, *value;
} param_t;

static int parse_param(const char *v, param_t *p) {
  const char *eq = strchr(v, '=');
  if (!eq) return -1;
  const char *dot = NULL;
  for (const char *c = v; c < eq; c++)
    if (*c == '.') dot = c;
  if (!dot || dot == v || dot + 1 == eq) return -1;
  p->policy = strndup(v, (size_t)(dot - v));
  p->key = strndup(dot + 1, (size_t)(eq - dot - 1));
  p->value = strdup(eq + 1);
  return p->policy && p->key && p->value ? 0 : -1;
}

// The overrides of one policy as a YAML mapping (extra: one more "key: value" line, or NULL),
// parsed into doc; *params is its root, or NULL when there are none.
static int policy_params(const char *name, const param_t *ps, int np, const char *extra,
                         sl_ydoc_t *doc, const sl_yval_t **params, sl_err_t *err) {
  *params = NULL;
  memset(doc, 0, sizeof *doc);
  size_t cap = 64 + (extra ? strlen(extra) : 0);
  for (int i = 0; i < np; i++) cap += strlen(ps[i].key) + strlen(ps[i].value) + 8;
  char *buf = malloc(cap);
  if (!buf) return sl_err(err, SL_ENOMEM, "out of memory");
  size_t len = 0;
  for (int i = 0; i < np; i++)
    if (!strcmp(ps[i].policy, name))
      len += (size_t)snprintf(buf + len, cap - len, "%s: %s\n", ps[i].key, ps[i].value);
  if (extra) len += (size_t)snprintf(buf + len, cap - len, "%s\n", extra);
  int rc = SL_OK;
  if (len) {
    char what[128];
    snprintf(what, sizeof what, "--param %s", name);
    rc = sl_ydoc_load_buffer(doc, buf, len, what, err);
    if (rc == 0 && doc->root && doc->root->type != SL_Y_MAP)
      rc = sl_err(err, SL_EINVAL, "--param %s: expected KEY=VALUE", name);
    if (rc == 0) *params = doc->root;
  }
  free(buf);
  return rc;
}

static int has_param(const param_t *ps, int np, const char *policy, const char *key,
                     const char **value) {
  for (int i = np - 1; i >= 0; i--)
    if (!strcmp(ps[i].policy, policy) && !strcmp(ps[i].key, key)) {
      *value = ps[i].value;
      return 1;
    }
  return 0;
}

// --quota: every accelerator type's inventory. auto: twice the oracle's peak on that type, never
// below what the variants' minimums hold nor below one replica (0 would mean unlimited).
static void apply_quota(sl_cluster_t *cl, const sl_oracle_t *o, int by_hand) {
  sl_config_t *cfg = &cl->cfg;
  for (int a = 0; a < cfg->naccels; a++) {
    int q = by_hand, need = 0, one = 0;
    if (!by_hand) {
      q = 2 * o->peak_gpus_by_type[a];
      for (int v = 0; v < cfg->nvariants; v++) {
        const sl_variant_t *d = &cfg->variants[v];
        if (strcmp(d->accelerator, cfg->accels[a].type)) continue;
        need += d->min * d->gpus_per_replica;
        if (d->gpus_per_replica > one) one = d->gpus_per_replica;
      }
      if (q < need) q = need;
      if (q < one) q = one;
    }
    cfg->accels[a].count = q;
  }
}

int sl_cmd_sim(int argc, char **argv) {
  const char *trace = NULL, *tokens = NULL, *cluster_path = NULL, *policies = NULL, *report = NULL,
             *decisions = NULL, *requests = NULL, *quota = NULL;
  int json = 0, nparams = 0, use_oracle = 1;
  double target = 0.99;
  param_t *params = calloc((size_t)argc + 1, sizeof *params);
  if (!params) {
    fprintf(stderr, "sluice sim: out of memory\n");
    return SL_EXIT_FAIL;
  }
  int code = SL_EXIT_OK;
  sl_sim_opts_t o;
  sl_sim_opts_init(&o);
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      goto out_params;
    }
    if (!strcmp(a, "--json")) {
      json = 1;
      continue;
    }
    static const char *const with_value[] = {"--trace",
                                             "--tokens",
                                             "--cluster",
                                             "--policy",
                                             "--seed",
                                             "--duration",
                                             "--rate-scale",
                                             "--time-scale",
                                             "--peak-replicas",
                                             "--report",
                                             "--decisions",
                                             "--requests",
                                             "--quota",
                                             "--oracle-target",
                                             "--param",
                                             "--oracle",
                                             NULL};
    int known = 0;
    for (const char *const *w = with_value; *w; w++) known |= !strcmp(a, *w);
    if (!known) {
      fprintf(stderr, "sluice sim: unknown option '%s' (sluice sim --help lists them)\n", a);
      code = SL_EXIT_USAGE;
      goto out_params;
    }
    if (i + 1 >= argc) {
      fprintf(stderr, "sluice sim: %s needs a value\n", a);
      code = SL_EXIT_USAGE;
      goto out_params;
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
    else if (!strcmp(a, "--requests"))
      requests = v;
    else if (!strcmp(a, "--oracle")) {
      if (strcmp(v, "on") && strcmp(v, "off")) {
        code = bad(a, "expected on or off", v);
        goto out_params;
      }
      use_oracle = !strcmp(v, "on");
    } else if (!strcmp(a, "--param")) {
      if (parse_param(v, &params[nparams]) < 0) {
        nparams++; // freed below
        code = bad(a, "expected POLICY.KEY=VALUE", v);
        goto out_params;
      }
      nparams++;
    } else if (!strcmp(a, "--quota")) {
      if (strcmp(v, "auto") && strcmp(v, "off") &&
          (sl_parse_number(v, &x) < 0 || !(x >= 1) || x > 1e6 || x != floor(x))) {
        code = bad(a, "expected auto, off or a whole number of GPUs >= 1", v);
        goto out_params;
      }
      quota = v;
    } else if (!strcmp(a, "--seed")) {
      char *end;
      errno = 0;
      unsigned long long sd = strtoull(v, &end, 10);
      if (!*v || *end || errno || *v == '-') {
        code = bad(a, "expected a whole number >= 0", v);
        goto out_params;
      }
      o.seed = sd;
    } else if (!strcmp(a, "--duration")) {
      // A year of simulated time is far beyond any trace; more is a typo, not a replay.
      if (sl_parse_duration(v, &x) < 0 || !(x > 0) || x > 366 * 86400.0) {
        code = bad(a, "expected a positive duration up to 366d (seconds, or 90m, 2h, 1d)", v);
        goto out_params;
      }
      o.duration = x;
    } else {
      if (sl_parse_number(v, &x) < 0) {
        code = bad(a, "expected a number", v);
        goto out_params;
      }
      if (!strcmp(a, "--rate-scale")) {
        if (!(x > 0) || x > 1e6) {
          code = bad(a, "expected a number in (0, 1e6]", v);
          goto out_params;
        }
        o.rate_scale = x;
      } else if (!strcmp(a, "--time-scale")) {
        if (!(x > 0) || x > 1e6) {
          code = bad(a, "expected a number in (0, 1e6]", v);
          goto out_params;
        }
        o.time_scale = x;
      } else if (!strcmp(a, "--oracle-target")) {
        if (!(x > 0) || x > 1) {
          code = bad(a, "expected a share in (0, 1], e.g. 0.99", v);
          goto out_params;
        }
        target = x;
      } else {
        if (!(x >= 1) || x > 100000) {
          code = bad(a, "expected a number of replicas >= 1", v);
          goto out_params;
        }
        o.peak_replicas = x;
      }
    }
  }
  if (report) {
    sl_err_t rerr;
    if (sl_report_check(report, &rerr) < 0) {
      fprintf(stderr, "sluice sim: --report: %s\n", rerr.msg);
      code = SL_EXIT_FAIL;
      goto out_params;
    }
  }
  // The quota defaults to the rule wherever --peak-replicas scales the trace.
  int quota_mode = 0, quota_n = 0; // 1 auto, 2 by hand
  if (quota ? !strcmp(quota, "auto") : o.peak_replicas > 0)
    quota_mode = 1;
  else if (quota && strcmp(quota, "off"))
    quota_mode = 2, quota_n = atoi(quota);
  if (quota_mode == 1 && !use_oracle) {
    fprintf(stderr, "sluice sim: --quota auto is twice the oracle's peak: with --oracle off give "
                    "--quota N or --quota off\n");
    code = SL_EXIT_USAGE;
    goto out_params;
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
    code = SL_EXIT_USAGE;
    goto out_params;
  }
  // --trace replaces every model's own trace.
  if (trace)
    for (int m = 0; m < cl.nmodels; m++) {
      free(cl.models[m].trace);
      cl.models[m].trace = NULL;
    }

  char **names = NULL;
  int nnames = 0;
  sl_simrun_policy_t *pols = NULL;
  sl_ydoc_t *docs = NULL;
  sl_sim_result_t *res = NULL, ores;
  int nres = 0, ores_ok = 0;
  sl_sim_t sim;
  sl_oracle_t oracle;
  int sim_ok = 0, oracle_ok = 0;
  FILE *reqf = NULL;
  memset(&oracle, 0, sizeof oracle);
  rc = policies ? split_policies(policies, &names, &nnames, &err)
                : canned_policies(&names, &nnames, &err);
  if (rc < 0) goto fail;
  for (int k = 0; k < nparams; k++) {
    int found = 0;
    for (int i = 0; i < nnames; i++) found |= !strcmp(params[k].policy, names[i]);
    if (!found) {
      rc = sl_err(&err, SL_EINVAL, "--param %s.%s: no policy '%s' in this run", params[k].policy,
                  params[k].key, params[k].policy);
      goto fail;
    }
  }
  // Every policy loads once before anything runs, so a bad one costs no simulation.
  pols = calloc((size_t)nnames, sizeof *pols);
  docs = calloc((size_t)nnames, sizeof *docs);
  if (!pols || !docs) {
    rc = sl_err(&err, SL_ENOMEM, "out of memory");
    goto fail;
  }
  for (int i = 0; i < nnames; i++) {
    pols[i] = (sl_simrun_policy_t){names[i], names[i], NULL, NAN, NAN, NAN, NULL};
    if ((rc = policy_params(names[i], params, nparams, NULL, &docs[i], &pols[i].params, &err)) <
            0 ||
        (rc = sl_simrun_check_params(&cl.cfg, names[i], pols[i].params, &err)) < 0) {
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
  if (requests) {
    reqf = strcmp(requests, "-") ? fopen(requests, "w") : stdout;
    if (!reqf) {
      rc = sl_err(&err, SL_EIO, "--requests: cannot write %s: %s", requests, strerror(errno));
      goto fail;
    }
    fputs("policy,arrival_s,model,variant,replica,input_tokens,output_tokens,cached_tokens,"
          "ttft_ms,itl_ms,e2e_ms,outcome\n",
          reqf);
  }
  if ((rc = sl_sim_init(&sim, &o, &err)) < 0) goto fail;
  sim_ok = 1;
  // The oracle first: the quota and the static fleet are sized from its peak. Its rounds are not
  // written to --decisions or --requests.
  sim.o.decisions = NULL;
  if (use_oracle) {
    if ((rc = sl_oracle_run(&sim, target, 4, &oracle, &ores, &err)) < 0) {
      sl_err_wrap(&err, "oracle");
      goto fail;
    }
    oracle_ok = ores_ok = 1;
  }
  sim.o.decisions = o.decisions;
  sim.o.requests = reqf;
  if (quota_mode) apply_quota(&cl, &oracle, quota_mode == 2 ? quota_n : 0);
  // static: "auto" is the oracle's peak, per variant the most any bin holds (the busiest).
  for (int i = 0; i < nnames; i++) {
    const char *val = NULL;
    if (strcmp(names[i], "static") || (has_param(params, nparams, "static", "replicas", &val) &&
                                       strcmp(val, "auto") && strcmp(val, "\"auto\"")))
      continue;
    if (!use_oracle) {
      rc = sl_err(&err, SL_EINVAL,
                  "static: replicas auto is the oracle's peak: with --oracle off give "
                  "--param static.replicas=N");
      goto fail;
    }
    // Per variant, the most the oracle holds in any bin.
    char extra[4096];
    size_t len = (size_t)snprintf(extra, sizeof extra, "replicas: 0\nby_variant: \"");
    for (int v = 0; v < oracle.nv && len < sizeof extra; v++) {
      int peak = 0;
      for (size_t b = 0; b < oracle.nbins; b++)
        if (oracle.replicas[b * (size_t)oracle.nv + (size_t)v] > peak)
          peak = oracle.replicas[b * (size_t)oracle.nv + (size_t)v];
      len += (size_t)snprintf(extra + len, sizeof extra - len, "%s%s=%d", v ? "," : "",
                              cl.cfg.variants[v].id, peak);
    }
    if (len + 2 >= sizeof extra) {
      rc = sl_err(&err, SL_EINVAL, "static: too many variants for replicas: auto");
      goto fail;
    }
    snprintf(extra + len, sizeof extra - len, "\"");
    param_t *rest = calloc((size_t)nparams + 1, sizeof *rest);
    if (!rest) {
      rc = sl_err(&err, SL_ENOMEM, "out of memory");
      goto fail;
    }
    int nrest = 0;
    for (int k = 0; k < nparams; k++)
      if (strcmp(params[k].policy, "static") ||
          (strcmp(params[k].key, "replicas") && strcmp(params[k].key, "by_variant")))
        rest[nrest++] = params[k];
    sl_ydoc_deinit(&docs[i]);
    rc = policy_params(names[i], rest, nrest, extra, &docs[i], &pols[i].params, &err);
    free(rest);
    if (rc < 0) goto fail;
  }
  res = calloc((size_t)nnames + 1, sizeof *res);
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
  extras_t x = {oracle_ok ? &oracle : NULL, ores_ok ? &ores : NULL, &cl, quota_mode};
  if (json)
    print_json(res, nres, &clair, sl_sim_rate(&sim), &x);
  else
    print_table(&sim, res, nres, &clair, &x);
  if (report) {
    sl_report_opts_t ro = {.cluster = cluster_path ? cluster_path
                                      : trace      ? "default cluster (Llama-3.1-8B on H100)"
                                                   : "built-in scenario",
                           .argc = argc,
                           .argv = argv};
    // The oracle's replay is one more run in the report.
    if (ores_ok) res[nres] = ores;
    if (sl_report_write(report, &sim, res, nres + ores_ok, &clair, &ro, &err) < 0) {
      fprintf(stderr, "sluice sim: --report: %s\n", err.msg);
      code = SL_EXIT_FAIL;
    } else {
      fprintf(json || reqf == stdout ? stderr : stdout, "report: %s\n", report);
    }
    memset(&res[nres], 0, sizeof res[nres]);
  }
  sl_clair_result_deinit(&clair);
  goto done;

fail:
  fprintf(stderr, "sluice sim: %s\n", err.msg);
  code = exit_code(rc);
done:
  if (o.decisions && o.decisions != stderr) fclose(o.decisions);
  if (reqf && reqf != stdout && fclose(reqf) != 0 && code == SL_EXIT_OK) {
    fprintf(stderr, "sluice sim: --requests: cannot write %s: %s\n", requests, strerror(errno));
    code = SL_EXIT_FAIL;
  }
  for (int i = 0; i < nres; i++) sl_sim_result_deinit(&res[i]);
  if (ores_ok) sl_sim_result_deinit(&ores);
  if (oracle_ok) sl_oracle_deinit(&oracle);
  free(res);
  free(pols);
  for (int i = 0; docs && i < nnames; i++) sl_ydoc_deinit(&docs[i]);
  free(docs);
  for (int i = 0; i < nnames; i++) free(names[i]);
  free(names);
  if (sim_ok) sl_sim_deinit(&sim);
  sl_cluster_deinit(&cl);
out_params:
  for (int k = 0; k < nparams; k++)
    free(params[k].policy), free(params[k].key), free(params[k].value);
  free(params);
  return code;
}
