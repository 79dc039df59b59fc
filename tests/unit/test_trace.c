// Trace files: each format parses to the right requests, format detection, slicing, every class
// of bad line gives its FILE:LINE error, and bad specs/options give SL_EINVAL naming the culprit.
#include <math.h>

#include "core/sim/trace.h"
#include "tests/unit/tap.h"
#include "tests/unit/trace_fixture.h"

static void azure(void) {
  const char *p = fx_put("a.csv",
                         "TIMESTAMP,ContextTokens,GeneratedTokens\r\n"
                         "2023-11-16 18:15:46.6805900,374,44\r\n"
                         "2023-11-16 18:15:50.9951690,396,109\r\n"
                         "\r\n"
                         "2023-11-16 18:15:50.9951691,0,7\r\n"
                         "2023-11-17 00:00:00,10,20"); // next day, no fraction, no final newline
  fx_reqs_t o = fx_drain(p, NULL);
  T_EQ_INT(o.rc, 0, "azure: parses");
  T_EQ_INT(o.n, 4, "azure: four requests (header and blank line skipped)");
  if (o.n == 4) {
    T_NEAR(o.r[0].t, 0, 0, "azure: starts at 0");
    T_NEAR(o.r[1].t, 4.314579, 1e-9, "azure: seconds and fraction");
    T_NEAR(o.r[2].t - o.r[1].t, 1e-7, 1e-12, "azure: 100 ns apart survives the epoch");
    T_NEAR(o.r[3].t, 5 * 3600 + 44 * 60 + 13.31941, 1e-6, "azure: across midnight");
    T_EQ_INT(o.r[0].in_tokens, 374, "azure: ContextTokens");
    T_EQ_INT(o.r[1].out_tokens, 109, "azure: GeneratedTokens");
    T_EQ_INT(o.r[2].in_tokens, 1, "azure: 0 tokens clamped to 1");
    T_EQ_INT(o.r[3].prefix_blocks, 0, "azure: no prefix information");
  }
  free(o.r);
}

static void mooncake(void) {
  const char *p =
      fx_put("m.jsonl", "{\"timestamp\": 0, \"input_length\": 1500, \"output_length\": 6, "
                        "\"hash_ids\": [1, 2, 3]}\n"
                        "{\"timestamp\": 2500, \"input_length\": 1400, \"output_length\": 9, "
                        "\"hash_ids\": [1, 2, 4], \"extra\": {\"a\": [1, {\"b\": null}]}}\n"
                        "{\"hash_ids\": [5, 1, 2], \"output_length\": 3, \"input_length\": 10, "
                        "\"timestamp\": 2500.5}\n"
                        "\n"
                        "{\"timestamp\": 4000, \"input_length\": 2600, \"output_length\": 1, "
                        "\"hash_ids\": [1, 2, 3, 4, 5, 6]}\n"
                        "{\"timestamp\": 5000, \"input_length\": 7, \"output_length\": 2}\n");
  fx_reqs_t o = fx_drain(p, NULL);
  T_EQ_INT(o.rc, 0, "mooncake: parses");
  T_EQ_INT(o.n, 5, "mooncake: five requests");
  if (o.n == 5) {
    T_NEAR(o.r[1].t, 2.5, 1e-12, "mooncake: ms to s");
    T_NEAR(o.r[2].t, 2.5005, 1e-12, "mooncake: fractional ms; key order free");
    T_EQ_INT(o.r[0].in_tokens, 1500, "mooncake: input_length");
    T_EQ_INT(o.r[1].out_tokens, 9, "mooncake: output_length");
    T_EQ_INT(o.r[0].prefix_blocks, 0, "mooncake: first request has no cached prefix");
    T_EQ_INT(o.r[1].prefix_blocks, 2, "mooncake: shared leading blocks counted");
    T_EQ_INT(o.r[2].prefix_blocks, 0,
             "mooncake: seen blocks after a new first block are no prefix");
    // Blocks are chained as vLLM's hashes are: 4 after 3 is not the 4 that followed 2.
    T_EQ_INT(o.r[3].prefix_blocks, 3, "mooncake: prefix stops at the first unseen block");
    T_EQ_INT(o.r[4].prefix_blocks, 0, "mooncake: hash_ids is optional");
  }
  free(o.r);
  // The blocks themselves live as long as the trace.
  sl_trace_t *t;
  sl_err_t err;
  sl_req_t r[5];
  int n = 0;
  T_EQ_INT(sl_trace_open(p, NULL, &t, &err), 0, "mooncake: opens");
  while (n < 5 && sl_trace_next(t, &r[n], &err) > 0) n++;
  const sl_blocks_t *b = sl_trace_blocks(t);
  T_OK(n == 5 && b != NULL && b->tokens == 512, "mooncake: the trace names 512-token blocks");
  if (n == 5 && b) {
    T_EQ_INT(sl_blocks_depth(b, r[0].block), 3, "mooncake: a request's chain has its blocks");
    T_EQ_INT(sl_blocks_depth(b, r[3].block), 6, "mooncake: chain of six");
    T_EQ_INT(r[4].block, SL_BLOCK_NONE, "mooncake: no hash_ids, no blocks");
    uint32_t c0[3], c1[3], c3[6];
    sl_blocks_chain(b, r[0].block, 3, c0);
    sl_blocks_chain(b, r[1].block, 3, c1);
    sl_blocks_chain(b, r[3].block, 6, c3);
    T_OK(c0[0] == c1[0] && c0[1] == c1[1] && c0[2] != c1[2],
         "mooncake: shared leading blocks are the same blocks, the rest differ");
    T_OK(c3[0] == c0[0] && c3[1] == c0[1] && c3[2] == c0[2] && c3[3] != c1[2],
         "mooncake: id 4 after 3 is another block than 4 after 2");
  }
  sl_trace_free(t);
}

static void detection_and_mem(void) {
  // Content decides, not the extension.
  const char *az = fx_put("azure.txt", "2023-11-16 18:15:46.5,1,2\n2023-11-16 18:15:47.5,3,4\n");
  const char *mc =
      fx_put("mc.txt", "{\"timestamp\": 5, \"input_length\": 1, \"output_length\": 2}\n");
  const char *sg = fx_put("sg.dat", "0,0.5,1,,0,0\n");
  const char *ag = fx_put("ag.dat", "window_start_s,total_rate_rps,active_clients\n0,0.5,3\n");
  const char *want[] = {"azure", "mooncake", "servegen", "servegen-aggregate"};
  const char *paths[] = {az, mc, sg, ag};
  for (int i = 0; i < 4; i++) {
    sl_trace_t *t;
    sl_err_t e;
    int rc = sl_trace_open(paths[i], NULL, &t, &e);
    T_EQ_INT(rc, 0, paths[i]);
    if (rc == 0) {
      T_STR_HAS(sl_trace_kind(t), want[i], "format detected from content");
      T_OK(!strcmp(sl_trace_kind(t), want[i]), "exact kind %s", want[i]);
      sl_trace_free(t);
    }
  }
  sl_trace_opts_t o = fx_opts();
  o.format = SL_TRACE_SERVEGEN_AGG;
  fx_reqs_t a = fx_drain(sg, &o);
  T_EQ_INT(a.rc, SL_EPARSE, "forced format overrides detection (6 fields read as aggregate)");
  T_STR_HAS(a.err.msg, "expected 3 fields", "forced format: its own column check");
  free(a.r);

  // open_mem yields what the file yields.
  const char *text = "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-01-01 00:00:00.25,5,6\n"
                     "2023-01-01 00:00:01,7,8\n";
  const char *f = fx_put("mem.csv", text);
  fx_reqs_t fr = fx_drain(f, NULL);
  sl_trace_t *t;
  sl_err_t e;
  int rc = sl_trace_open_mem(text, strlen(text), "mem.csv", NULL, &t, &e);
  T_EQ_INT(rc, 0, "open_mem");
  sl_req_t r;
  size_t n = 0;
  int same = 1;
  while (rc == 0 && sl_trace_next(t, &r, &e) > 0) {
    same &= n < fr.n && r.t == fr.r[n].t && r.in_tokens == fr.r[n].in_tokens;
    n++;
  }
  T_OK(same && n == fr.n && n == 2, "open_mem matches the file");
  sl_trace_free(t);
  free(fr.r);

  rc = sl_trace_open_mem("", 0, "empty.csv", NULL, &t, &e);
  T_EQ_INT(rc, SL_EPARSE, "empty input cannot be detected");
  T_STR_HAS(e.msg, "empty.csv", "empty: names the input");
}

static void slicing(void) {
  const char *p = fx_put("slice.csv", "2023-11-16 00:00:00,1,1\n2023-11-16 00:00:10,2,1\n"
                                      "2023-11-16 00:00:20,3,1\n2023-11-16 00:00:30,4,1\n"
                                      "2023-11-16 00:00:40,5,1\n");
  sl_trace_opts_t o = fx_opts();
  o.start = 10;
  o.duration = 20;
  o.time_scale = 0.5;
  o.model = 7;
  fx_reqs_t s = fx_drain(p, &o);
  T_EQ_INT(s.n, 2, "start 10, duration 20 keeps [10, 30)");
  if (s.n == 2) {
    T_EQ_INT(s.r[0].in_tokens, 2, "slice starts at the request at 10 s");
    T_NEAR(s.r[0].t, 0, 0, "slice time starts at 0");
    T_NEAR(s.r[1].t, 5, 1e-12, "time_scale 0.5 halves 10 s");
    T_EQ_INT(s.r[1].model, 7, "model stamped");
  }
  free(s.r);
}

static void order_tolerance(void) {
  const char *p = fx_put("tol.csv", "2023-11-16 00:00:10,1,1\n2023-11-16 00:00:09.5,2,1\n"
                                    "2023-11-16 00:00:11,3,1\n");
  fx_reqs_t o = fx_drain(p, NULL);
  T_EQ_INT(o.rc, 0, "a 0.5 s step back is within the 1 s tolerance");
  T_OK(o.n == 3 && fx_ordered(&o) && o.r[1].t == 0, "and is clamped to keep time order");
  free(o.r);
  sl_trace_opts_t op = fx_opts();
  op.order_tol_s = 0.1;
  o = fx_drain(p, &op);
  T_EQ_INT(o.rc, SL_EPARSE, "beyond a 0.1 s tolerance it is an error");
  T_STR_HAS(o.err.msg, "tol.csv:2: TIMESTAMP goes back 0.5 s", "names file, line and size");
  free(o.r);
}

// Each bad line gives an SL_EPARSE naming FILE:LINE and what is wrong.
static void bad(const char *name, const char *content, int line, const char *what) {
  const char *p = fx_put(name, content);
  fx_reqs_t o = fx_drain(p, NULL);
  char where[160];
  snprintf(where, sizeof where, "%s:%d: ", p, line);
  T_EQ_INT(o.rc, SL_EPARSE, name);
  T_STR_HAS(o.err.msg, where, "error names file:line");
  T_STR_HAS(o.err.msg, what, "error says what is wrong");
  free(o.r);
}

static void bad_lines(void) {
  const char *h = "TIMESTAMP,ContextTokens,GeneratedTokens\n";
  char buf[512];
  snprintf(buf, sizeof buf, "%s2023-11-16 18:15:46.68,374,44\n2023-11-16 18:15:47,abc,4\n", h);
  bad("az_nonnum.csv", buf, 3, "ContextTokens is not a whole number: 'abc'");
  snprintf(buf, sizeof buf, "%s2023-11-16 18:15:46.68,374\n", h);
  bad("az_cols.csv", buf, 2, "expected 3 fields");
  snprintf(buf, sizeof buf, "%s2023-11-16 18:15:46.68,374,44,1\n", h);
  bad("az_cols4.csv", buf, 2, "got 4");
  snprintf(buf, sizeof buf, "%s2023-11-16 18:15:46.68,374,-4\n", h);
  bad("az_neg.csv", buf, 2, "GeneratedTokens is negative");
  snprintf(buf, sizeof buf, "%s2023-11-16 18:15:46.68,374,4\n2023-11-16 18:15:40,1,1\n", h);
  bad("az_back.csv", buf, 3, "goes back");
  snprintf(buf, sizeof buf, "%s2023-13-16 18:15:46,1,1\n", h);
  bad("az_month.csv", buf, 2, "TIMESTAMP is not a date-time");
  snprintf(buf, sizeof buf, "%s2023-11-16 18:15:46.x,1,1\n", h);
  bad("az_frac.csv", buf, 2, "TIMESTAMP is not a date-time");
  snprintf(buf, sizeof buf, "%s2023-11-16 18:15:46,1,99999999999\n", h);
  bad("az_big.csv", buf, 2, "GeneratedTokens is too large");

  const char *ok = "{\"timestamp\": 0, \"input_length\": 5, \"output_length\": 6}\n";
  snprintf(buf, sizeof buf, "%s{\"timestamp\": 1, \"input_length\": 5, \"output_le\n%s", ok, ok);
  bad("mc_trunc.jsonl", buf, 2, "invalid JSON");
  snprintf(buf, sizeof buf, "%s{\"timestamp\": 1, \"input_length\": 5\n", ok);
  bad("mc_trunc2.jsonl", buf, 2, "truncated JSON object");
  snprintf(buf, sizeof buf, "%s%s{\"timestamp\": 1, \"input_length\": 5}\n", ok, ok);
  bad("mc_missing.jsonl", buf, 3, "missing key 'output_length'");
  snprintf(buf, sizeof buf, "{\"timestamp\": \"x\", \"input_length\": 5, \"output_length\": 6}\n");
  bad("mc_type.jsonl", buf, 1, "timestamp must be a number, got a string");
  snprintf(buf, sizeof buf, "{\"timestamp\": 1, \"input_length\": -5, \"output_length\": 6}\n");
  bad("mc_neg.jsonl", buf, 1, "input_length is negative");
  snprintf(buf, sizeof buf, "{\"timestamp\": 1, \"input_length\": 5.5, \"output_length\": 6}\n");
  bad("mc_frac.jsonl", buf, 1, "input_length is not a whole number");
  snprintf(buf, sizeof buf,
           "%s{\"timestamp\": 1, \"input_length\": 5, \"output_length\": 6, "
           "\"hash_ids\": [1, \"a\"]}\n",
           ok);
  bad("mc_ids.jsonl", buf, 2, "hash_ids must hold integers");
  snprintf(buf, sizeof buf, "%s[1, 2]\n", ok);
  bad("mc_array.jsonl", buf, 2, "expected a JSON object");
  snprintf(buf, sizeof buf, "%s{\"timestamp\": 1,, \"input_length\": 5}\n", ok);
  bad("mc_syntax.jsonl", buf, 2, "invalid JSON (parse error");
  snprintf(buf, sizeof buf,
           "%s{\"timestamp\": 1, \"timestamp\": 2, \"input_length\": 5, "
           "\"output_length\": 6}\n",
           ok);
  bad("mc_dup.jsonl", buf, 2, "key 'timestamp' appears twice");
  snprintf(buf, sizeof buf,
           "{\"timestamp\": 5000, \"input_length\": 5, \"output_length\": 6}\n"
           "{\"timestamp\": 3000, \"input_length\": 5, \"output_length\": 6}\n");
  bad("mc_back.jsonl", buf, 2, "timestamp goes back 2 s");
  snprintf(buf, sizeof buf, "%s%s", ok,
           "{\"timestamp\": 1, \"input_length\": 5, \"output_length\": 6}"
           "{\"timestamp\": 1, \"input_length\": 5, \"output_length\": 6}\n");
  bad("mc_two.jsonl", buf, 2, "more than one object on a line");

  bad("sg_nonnum.csv", "0,1,1,,0,0\n600,x,1,,0,0\n", 2, "rate_req_per_s is not a number: 'x'");
  bad("sg_cols.csv", "0,1,1,,0,0\n600,1,1,0,0\n", 2, "expected 6 fields");
  bad("sg_pat.csv", "0,1,1,Pareto,0.5,1\n", 1, "pattern must be Gamma, Weibull or empty");
  bad("sg_neg.csv", "0,1,1,,0,0\n600,-1,1,,0,0\n", 2, "rate_req_per_s is negative");
  bad("sg_order.csv", "0,1,1,,0,0\n600,1,1,,0,0\n600,1,1,,0,0\n", 3,
      "window_start_s does not increase");
  bad("sg_shape.csv", "0,1,1,Gamma,0,1\n", 1, "shape must lie in");
  bad("sg_rate.csv", "0,1e9,1,,0,0\n600,1,1,,0,0\n", 1, "more than");
  bad("ag_cols.csv", "window_start_s,total_rate_rps,active_clients\n0,1,2\n600,1\n", 3,
      "expected 3 fields");
}

static void bad_spec(const char *spec, const sl_trace_opts_t *o, int code, const char *what) {
  sl_trace_t *t = NULL;
  sl_err_t e = {0};
  int rc = sl_trace_open(spec, o, &t, &e);
  T_EQ_INT(rc, code, spec);
  T_STR_HAS(e.msg, what, "spec error names the problem");
  T_OK(t == NULL, "no trace on error");
}

static void bad_specs(void) {
  bad_spec("posson:rate=3", NULL, SL_EINVAL, "unknown generator 'posson'");
  bad_spec("/nonexistent/trace.csv", NULL, SL_EINVAL, "'/nonexistent/trace.csv': no such file");
  bad_spec("poisson:rate=3,burst=2", NULL, SL_EINVAL,
           "unknown parameter 'burst' (known: rate, duration)");
  bad_spec("poisson:duration=3", NULL, SL_EINVAL, "generator 'poisson' needs rate=");
  bad_spec("poisson:rate=abc", NULL, SL_EINVAL, "rate must be a number, got 'abc'");
  bad_spec("poisson:rate=-1", NULL, SL_EINVAL, "rate must be > 0");
  bad_spec("poisson:rate=1,rate=2", NULL, SL_EINVAL, "rate given twice");
  bad_spec("poisson:rate", NULL, SL_EINVAL, "expected key=value, got 'rate'");
  bad_spec("gamma:rate=1", NULL, SL_EINVAL, "needs cv=");
  bad_spec("weibull:rate=1,shape=0.01", NULL, SL_EINVAL, "shape must be >= 0.05");
  bad_spec("diurnal:mean=10,peak=5", NULL, SL_EINVAL, "peak must lie between mean and 50 * mean");
  bad_spec("diurnal:mean=10,peak=20,bursts=1.5", NULL, SL_EINVAL, "bursts must be a whole number");
  bad_spec("step:rate=0,to=0", NULL, SL_EINVAL, "rate and to cannot both be 0");
  sl_trace_opts_t o = fx_opts();
  o.tokens = "lognormal:in_mu=7";
  bad_spec("poisson:rate=1", &o, SL_EINVAL, "tokens 'lognormal' needs in_sigma=");
  o.tokens = "zipf:a=1";
  bad_spec("poisson:rate=1", &o, SL_EINVAL, "unknown token distribution 'zipf'");
  o.tokens = "fixed:in=10.5,out=3";
  bad_spec("poisson:rate=1", &o, SL_EINVAL, "whole numbers");
  o = fx_opts();
  o.rate_scale = -1;
  bad_spec("poisson:rate=1", &o, SL_EINVAL, "rate_scale");
  o = fx_opts();
  o.time_scale = 0;
  bad_spec("poisson:rate=1", &o, SL_EINVAL, "time_scale");
  o = fx_opts();
  o.start = NAN;
  bad_spec("poisson:rate=1", &o, SL_EINVAL, "start");
  const char *d = fx_mkdir("emptydir");
  bad_spec(d, NULL, SL_EINVAL, "no chunk-<id>-trace.csv");
  const char *junk = fx_put("junk.txt", "hello world\n");
  bad_spec(junk, NULL, SL_EPARSE, "cannot tell the trace format");
}

int main(void) {
  azure();
  mooncake();
  detection_and_mem();
  slicing();
  order_tolerance();
  bad_lines();
  bad_specs();
  return tap_done();
}
