// sluice plan: capacity planning with the latency-model kernels. The highest per-replica rate
// under TTFT/ITL targets, predictions at a rate, and replicas for a demand.
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>

#include "core/cmd/plan.h"

#include "core/cmd/cmd.h"
#include "core/model/perf.h"
#include "core/model/queue.h"

static const char usage_text[] =
    "usage: sluice plan --perf PROFILE --max-batch N [--max-queue Q] --in TOKENS --out TOKENS\n"
    "                   [--ttft MS] [--itl MS] [--percentile FRACTION]\n"
    "                   [--rate REQ_S] [--demand REQ_S] [--json]\n"
    "                   [--in-cv CV] [--out-cv CV] [--kv-tokens TOKENS] [--max-batched-tokens N]\n"
    "\n"
    "  --perf 4p:ALPHA,BETA,GAMMA,DELTA   ITL = alpha + beta*n, prefill = gamma + delta*in*n (ms)\n"
    "  --perf 3p:ALPHA,BETA,GAMMA         per iteration (ms), compute and KV memory per token "
    "(ms)\n"
    "  --perf NAME                        a built-in profile (see below)\n"
    "  --max-batch N     requests in service at most (vLLM max_num_seqs)\n"
    "  --max-queue Q     requests waiting at most (default 10 N)\n"
    "  --in, --out       mean prompt and output tokens per request\n"
    "  --ttft, --itl     targets in ms (means, or the --percentile, e.g. 0.95 for p95)\n"
    "  --rate R          also predict ttft_ms, itl_ms, throughput, utilization at R req/s\n"
    "  --demand D        also size replicas for D req/s in total\n"
    "  --in-cv, --out-cv spread of the lengths (std / mean; default 0, all alike)  } step\n"
    "  --kv-tokens T     KV cache in tokens, when it holds fewer than N requests  } profiles\n"
    "  --max-batched-tokens N   tokens per engine step (vLLM; default 8192)       } only\n"
    "  --json            one JSON object\n"
    "\n"
    "Prints max_rate: the highest request rate (req/s) one replica sustains under the targets, or\n"
    "its stability limit 0.999 mu(N) without targets.\n";

static int usage_error(const char *fmt, const char *arg) {
  fprintf(stderr, "sluice plan: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n(see 'sluice plan --help')\n");
  return SL_EXIT_USAGE;
}

// Parses a whole string as a finite number.
static int parse_num(const char *s, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || *end || errno || !isfinite(v)) return -1;
  *out = v;
  return 0;
}

static int parse_perf(const char *s, sl_perf_t *p, char *why, size_t why_len) {
  memset(p, 0, sizeof *p);
  if (strncmp(s, "4p:", 3) && strncmp(s, "3p:", 3)) {
    const sl_perf_t *b = sl_perf_builtin(s);
    if (b) {
      *p = *b;
      return 0;
    }
    int n =
        snprintf(why, why_len, "--perf: '%s' is neither 4p:A,B,G,D, 3p:A,B,G nor a built-in (", s);
    for (int i = 0; sl_perf_builtin_at(i) && n < (int)why_len; i++)
      n += snprintf(why + n, why_len - n, "%s%s", i ? ", " : "", sl_perf_builtin_at(i)->name);
    if (n < (int)why_len) snprintf(why + n, why_len - n, ")");
    return -1;
  }
  p->kind = s[0] == '4' ? SL_PERF_4P : SL_PERF_3P;
  int want;
  const sl_perf_param_t *d = sl_perf_params(p->kind, &want);
  char buf[256];
  snprintf(buf, sizeof buf, "%s", s + 3);
  int got = 0;
  char *save = NULL;
  for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    if (got == want) {
      snprintf(why, why_len, "--perf %s: takes %d numbers (%s)", s, want,
               want == 4 ? "alpha,beta,gamma,delta" : "alpha,beta,gamma");
      return -1;
    }
    if (parse_num(tok, &p->v[got])) {
      snprintf(why, why_len, "--perf %s: %s '%s' is not a number", s, d[got].name, tok);
      return -1;
    }
    got++;
  }
  if (got != want) {
    snprintf(why, why_len, "--perf %s: takes %d numbers (%s)", s, want,
             want == 4 ? "alpha,beta,gamma,delta" : "alpha,beta,gamma");
    return -1;
  }
  sl_err_t err;
  if (sl_perf_check(p, &err)) {
    snprintf(why, why_len, "--perf %.200s: %.200s", s, err.msg);
    return -1;
  }
  return 0;
}

typedef struct {
  const char *perf;
  double max_batch, max_queue, in, out, ttft, itl, percentile, rate, demand;
  double in_cv, out_cv, kv_tokens, budget;
  int has_batch, has_queue, has_in, has_out, has_ttft, has_itl, has_pct, has_rate, has_demand;
  int json;
} opts_t;

static int parse_args(int argc, char **argv, opts_t *o) {
  static const char *const flags[] = {
      "--perf",      "--max-batch",         "--max-queue", "--in",     "--out",   "--ttft",
      "--itl",       "--percentile",        "--rate",      "--demand", "--in-cv", "--out-cv",
      "--kv-tokens", "--max-batched-tokens"};
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--json")) {
      o->json = 1;
      continue;
    }
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) return 1;
    // --flag VALUE or --flag=VALUE
    const char *eq = strchr(a, '=');
    size_t len = eq ? (size_t)(eq - a) : strlen(a);
    int f = -1;
    for (int k = 0; k < (int)(sizeof flags / sizeof flags[0]); k++)
      if (strlen(flags[k]) == len && !strncmp(a, flags[k], len)) f = k;
    if (f < 0) return usage_error("unknown flag '%s'", a);
    const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
    if (!v) return usage_error("%s needs a value", flags[f]);
    if (f == 0) {
      o->perf = v;
      continue;
    }
    double x;
    if (parse_num(v, &x)) {
      fprintf(stderr, "sluice plan: %s: '%s' is not a number\n", flags[f], v);
      return SL_EXIT_USAGE;
    }
    switch (f) {
    case 1:
      o->max_batch = x, o->has_batch = 1;
      break;
    case 2:
      o->max_queue = x, o->has_queue = 1;
      break;
    case 3:
      o->in = x, o->has_in = 1;
      break;
    case 4:
      o->out = x, o->has_out = 1;
      break;
    case 5:
      o->ttft = x, o->has_ttft = 1;
      break;
    case 6:
      o->itl = x, o->has_itl = 1;
      break;
    case 7:
      o->percentile = x, o->has_pct = 1;
      break;
    case 8:
      o->rate = x, o->has_rate = 1;
      break;
    case 9:
      o->demand = x, o->has_demand = 1;
      break;
    case 10:
      o->in_cv = x;
      break;
    case 11:
      o->out_cv = x;
      break;
    case 12:
      o->kv_tokens = x;
      break;
    case 13:
      o->budget = x;
      break;
    }
  }
  return 0;
}

static int check_range(int bad, const char *flag, const char *rule, double v) {
  if (!bad) return 0;
  fprintf(stderr, "sluice plan: %s must be %s (got %g)\n", flag, rule, v);
  return SL_EXIT_USAGE;
}

typedef struct {
  double max_rate;
  sl_limit_t limit;
  int has_pred;
  sl_pred_t pred;
  long replicas;
  double replicas_fractional;
} result_t;

static void print_text(const opts_t *o, const result_t *r) {
  const char *pct = "";
  char label[32] = "";
  if (o->percentile > 0) {
    snprintf(label, sizeof label, "  (p%g)", o->percentile * 100);
    pct = label;
  }
  printf("%-20s %.6g req/s per replica  (limited by %s)\n", "max_rate", r->max_rate,
         sl_queue_limit_name(r->limit));
  if (r->has_pred) {
    const sl_pred_t *p = &r->pred;
    double ttft = o->percentile > 0 ? p->ttft_p_ms : p->ttft_ms;
    double itl = o->percentile > 0 ? p->itl_p_ms : p->itl_ms;
    printf("%-20s %.6g%s\n", "ttft_ms", ttft, pct);
    printf("%-20s %.6g%s\n", "itl_ms", itl, pct);
    printf("%-20s %.6g req/s\n", "throughput", p->throughput);
    printf("%-20s %.6g\n", "utilization", p->utilization);
  }
  if (o->has_demand) {
    printf("%-20s %ld\n", "replicas", r->replicas);
    printf("%-20s %.6g\n", "replicas_fractional", r->replicas_fractional);
  }
}

// The shortest of 15-17 significant digits that reads back as the same double.
static void gen_num(yajl_gen g, double v) {
  char buf[32];
  for (int digits = 15; digits <= 17; digits++) {
    snprintf(buf, sizeof buf, "%.*g", digits, v);
    if (strtod(buf, NULL) == v) break;
  }
  yajl_gen_number(g, buf, strlen(buf));
}

static int print_json(const opts_t *o, const result_t *r) {
  yajl_gen g = yajl_gen_alloc(NULL);
  if (!g) return SL_EXIT_FAIL;
#define KEY(k) yajl_gen_string(g, (const unsigned char *)(k), strlen(k))
  yajl_gen_map_open(g);
  KEY("max_rate");
  gen_num(g, r->max_rate);
  if (r->has_pred) {
    const sl_pred_t *p = &r->pred;
    KEY("ttft_ms");
    gen_num(g, o->percentile > 0 ? p->ttft_p_ms : p->ttft_ms);
    KEY("itl_ms");
    gen_num(g, o->percentile > 0 ? p->itl_p_ms : p->itl_ms);
    KEY("throughput");
    gen_num(g, p->throughput);
    KEY("utilization");
    gen_num(g, p->utilization);
  }
  if (o->has_demand) {
    KEY("replicas");
    yajl_gen_integer(g, r->replicas);
    KEY("replicas_fractional");
    gen_num(g, r->replicas_fractional);
  }
  yajl_gen_map_close(g);
#undef KEY
  const unsigned char *buf;
  size_t len;
  int rc = SL_EXIT_FAIL;
  if (yajl_gen_get_buf(g, &buf, &len) == yajl_gen_status_ok) {
    fwrite(buf, 1, len, stdout);
    fputc('\n', stdout);
    rc = SL_EXIT_OK;
  }
  yajl_gen_free(g);
  return rc;
}

int sl_cmd_plan(int argc, char **argv) {
  opts_t o = {0};
  int rc = parse_args(argc, argv, &o);
  if (rc == 1) {
    fputs(usage_text, stdout);
    printf("\nbuilt-in profiles:\n");
    for (int i = 0; sl_perf_builtin_at(i); i++)
      printf("  %-22s %s (%s)\n", sl_perf_builtin_at(i)->name,
             sl_perf_kind_name(sl_perf_builtin_at(i)->kind), sl_perf_builtin_at(i)->source);
    return SL_EXIT_OK;
  }
  if (rc) return rc;
  if (!o.perf) return usage_error("%s", "missing --perf");
  if (!o.has_batch) return usage_error("%s", "missing --max-batch");
  if (!o.has_in) return usage_error("%s", "missing --in");
  if (!o.has_out) return usage_error("%s", "missing --out");
  char why[512];
  sl_perf_t perf;
  if (parse_perf(o.perf, &perf, why, sizeof why)) return usage_error("%s", why);
  if ((rc = check_range(!(o.max_batch >= 1 && o.max_batch <= SL_QUEUE_MAX_BATCH &&
                          o.max_batch == floor(o.max_batch)),
                        "--max-batch", "a whole number 1..16384", o.max_batch)) ||
      (rc = check_range(o.has_queue && !(o.max_queue >= 0 && o.max_queue <= SL_QUEUE_MAX_QUEUE &&
                                         o.max_queue == floor(o.max_queue)),
                        "--max-queue", "a whole number 0..10000000", o.max_queue)) ||
      (rc = check_range(!(o.in >= 0 && o.in <= 1e7), "--in", "0..1e7 tokens", o.in)) ||
      (rc = check_range(!(o.out >= 1 && o.out <= 1e7), "--out", "1..1e7 tokens", o.out)) ||
      (rc = check_range(o.has_ttft && !(o.ttft > 0 && o.ttft <= 1e9), "--ttft", "in (0, 1e9] ms",
                        o.ttft)) ||
      (rc = check_range(o.has_itl && !(o.itl > 0 && o.itl <= 1e9), "--itl", "in (0, 1e9] ms",
                        o.itl)) ||
      (rc = check_range(o.has_pct && !(o.percentile > 0 && o.percentile < 1), "--percentile",
                        "a fraction in (0, 1), e.g. 0.95", o.percentile)) ||
      (rc = check_range(o.has_rate && !(o.rate > 0 && o.rate <= 1e9), "--rate", "in (0, 1e9] req/s",
                        o.rate)) ||
      (rc = check_range(o.has_demand && !(o.demand >= 0 && o.demand <= 1e9), "--demand",
                        "in [0, 1e9] req/s", o.demand)) ||
      (rc = check_range(!(o.in_cv >= 0 && o.in_cv <= 100), "--in-cv", "0..100", o.in_cv)) ||
      (rc = check_range(!(o.out_cv >= 0 && o.out_cv <= 100), "--out-cv", "0..100", o.out_cv)) ||
      (rc = check_range(!(o.kv_tokens >= 0 && o.kv_tokens <= 1e12), "--kv-tokens", "0..1e12 tokens",
                        o.kv_tokens)) ||
      (rc = check_range(!(o.budget >= 0 && o.budget <= 16777216 && o.budget == floor(o.budget)),
                        "--max-batched-tokens", "a whole number 1..16777216", o.budget)))
    return rc;
  if (o.has_pct && !o.has_ttft && !o.has_itl && !o.has_rate)
    return usage_error("%s", "--percentile needs --ttft or --itl targets (or --rate)");

  sl_shape_t shape = {.max_batch = (int)o.max_batch,
                      .max_queue = o.has_queue ? (int)o.max_queue : -1,
                      .in_tokens = o.in,
                      .out_tokens = o.out,
                      .in_cv = o.in_cv,
                      .out_cv = o.out_cv,
                      .max_batched_tokens = (int)o.budget,
                      .kv_tokens = o.kv_tokens};
  sl_err_t err;
  sl_queue_t *q = sl_queue_new(&perf, &shape, &err);
  if (!q) {
    fprintf(stderr, "sluice plan: %s\n", err.msg);
    return SL_EXIT_USAGE;
  }
  result_t r = {0};
  sl_slo_t slo = {.ttft_ms = o.ttft, .itl_ms = o.itl, .percentile = o.percentile};
  rc = SL_EXIT_OK;
  if (sl_queue_max_rate(q, &slo, &r.max_rate, &r.limit, &err)) {
    fprintf(stderr, "sluice plan: no rate meets the targets: %s\n", err.msg);
    rc = SL_EXIT_FAIL;
    goto done;
  }
  if (o.has_rate) {
    if (sl_queue_predict(q, o.rate, o.percentile, &r.pred, &err)) {
      fprintf(stderr, "sluice plan: %s\n", err.msg);
      rc = SL_EXIT_FAIL;
      goto done;
    }
    r.has_pred = 1;
  }
  if (o.has_demand) {
    r.replicas = sl_queue_replicas(o.demand, r.max_rate, &r.replicas_fractional, &err);
    if (r.replicas < 0) {
      fprintf(stderr, "sluice plan: %s\n", err.msg);
      rc = SL_EXIT_FAIL;
      goto done;
    }
  }
  if (o.json)
    rc = print_json(&o, &r);
  else
    print_text(&o, &r);
done:
  sl_queue_free(q);
  return rc;
}
