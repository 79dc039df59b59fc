// sluice.yaml: a full valid file loads with defaults applied; every class of mistake gives an
// error that names file:line and the field.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/state/config.h"
#include "tests/unit/tap.h"

static const char *good = "interval: 500ms\n"
                          "window: 2m\n"
                          "guard:\n"
                          "  max_step: 4\n"
                          "  stale_after: 30s\n"
                          "source:\n"
                          "  fixture: views.yaml\n"
                          "slo_classes:\n"
                          "  premium: {ttft_ms: 500, itl_ms: 24}\n"
                          "accelerators:\n"
                          "  H100: {count: 8, cost: 4.0}\n"
                          "variants:\n"
                          "  - id: llm/llama-h100\n"
                          "    model: meta-llama/Llama-3.1-8B\n"
                          "    accelerator: H100\n"
                          "    gpus_per_replica: 2\n"
                          "    min: 0\n"
                          "    max: 6\n"
                          "    slo_class: premium\n"
                          "    engine: {max_num_seqs: 128}\n"
                          "    tokens: {input: 1155, output: 211, input_cv: 0.9}\n"
                          "  - name: llama-a100\n"
                          "    model: meta-llama/Llama-3.1-8B\n"
                          "    cost: 7.5\n"
                          "policies:\n"
                          "  - file: target.lua\n"
                          "    model: meta-llama/Llama-3.1-8B\n"
                          "    params: {target: 8}\n"
                          "    period: 15s\n"
                          "  - hpa\n";

static void check_error(const char *yaml, const char *want1, const char *want2, const char *what) {
  sl_config_t c;
  sl_err_t err = {0};
  int rc = sl_config_load_buffer(&c, yaml, strlen(yaml), "bad.yaml", &err);
  T_OK(rc < 0, "%s: rejected", what);
  T_STR_HAS(err.msg, want1, what);
  if (want2) T_STR_HAS(err.msg, want2, what);
  if (rc == 0) sl_config_deinit(&c);
}

int main(void) {
  sl_config_t c;
  sl_err_t err = {0};
  int rc = sl_config_load_buffer(&c, good, strlen(good), "sluice.yaml", &err);
  T_EQ_INT(rc, 0, "valid config loads");
  if (rc < 0) {
    printf("# %s\n", err.msg);
    return tap_done();
  }
  T_NEAR(c.interval, 0.5, 1e-12, "interval 500ms");
  T_NEAR(c.window, 120, 1e-12, "window 2m");
  T_EQ_INT(c.guard.max_step, 4, "guard.max_step");
  T_NEAR(c.guard.stale_after, 30, 0, "guard.stale_after");
  T_EQ_INT(c.nvariants, 2, "two variants");
  const sl_variant_t *v = sl_config_variant(&c, "llm/llama-h100");
  T_OK(v && v->slo && v->slo->ttft_ms == 500 && v->slo->itl_ms == 24, "slo class resolved");
  T_OK(v->slo->ttft_ms_per_1k_in == 0 && sl_slo_ttft_ms(v->slo, 8000) == 500,
       "no per-token allowance unless given");
  T_NEAR(v->cost, 8.0, 1e-12, "cost defaults to unit cost x GPUs");
  T_EQ_INT(v->engine.max_num_seqs, 128, "engine override");
  T_EQ_INT(v->engine.max_num_batched_tokens, 8192, "engine default kept");
  T_OK(v->tokens.input == 1155 && v->tokens.output == 211 && v->tokens.input_cv == 0.9 &&
           v->tokens.output_cv == 0,
       "the declared token mix (spread 0 where not given)");
  T_EQ_INT(v->min, 0, "min 0 allowed");
  const sl_variant_t *w = sl_config_variant(&c, "default/llama-a100");
  T_OK(w != NULL, "name without namespace gets default/");
  T_NEAR(w->cost, 7.5, 0, "explicit cost");
  T_EQ_INT(w->min, 1, "min defaults to 1");
  T_EQ_INT(c.npolicies, 2, "two policies");
  T_NEAR(c.policies[0].period, 15, 0, "policy period");
  T_OK(c.policies[0].params && c.policies[0].params->type == SL_Y_MAP, "params kept as a mapping");
  T_OK(!strcmp(c.policies[1].file, "hpa"), "policy shorthand");
  sl_config_deinit(&c);

  check_error("interval: 15x\n", "bad.yaml:1:", "interval", "bad duration");
  {
    // Scraping: on by default in cluster mode, its timeout 80% of the interval; knobs checked.
    const char *y = "source:\n  kubernetes: {}\n";
    T_EQ_INT(sl_config_load_buffer(&c, y, strlen(y), "s.yaml", &err), 0, "kubernetes source");
    T_OK(c.scrape.enabled && c.scrape.interval == 1 && c.scrape.timeout == 0 &&
             c.scrape.backoff_max == 10,
         "scrape defaults: on, every 1s, timeout from the interval, backoff up to 10s");
    sl_config_deinit(&c);
    y = "source:\n  kubernetes: {}\n  scrape: {enabled: false, interval: 5s, timeout: 2s, "
        "backoff_max: 1m}\n";
    T_EQ_INT(sl_config_load_buffer(&c, y, strlen(y), "s.yaml", &err), 0, "scrape knobs");
    T_OK(!c.scrape.enabled && c.scrape.interval == 5 && c.scrape.timeout == 2 &&
             c.scrape.backoff_max == 60,
         "scrape knobs read");
    sl_config_deinit(&c);
  }
  {
    const char *y = "source:\n  kubernetes: {}\n  prometheus: {url: 'http://prom:9090'}\n";
    T_EQ_INT(sl_config_load_buffer(&c, y, strlen(y), "p.yaml", &err), 0, "prometheus source");
    T_OK(c.prometheus.enabled && !c.scrape.enabled, "the Prometheus source turns scraping off");
    sl_config_deinit(&c);
  }
  check_error("source:\n  scrape: {interval: 1s, timeout: 2s}\n",
              "bad.yaml:2:", "source.scrape.timeout: 2s is longer than source.scrape.interval (1s)",
              "a scrape timeout longer than the interval");
  check_error("source:\n  scrape: {intervall: 1s}\n", "bad.yaml:2:", "did you mean 'interval'",
              "a typo in a scrape knob");
  check_error("variants:\n  - id: a/b\n    model: m\n    max: ten\n",
              "bad.yaml:4:", "variants[0].max: expected an integer, got 'ten'", "non-integer max");
  check_error("variants:\n  - id: a/b\n    model: m\n    mxa: 3\n",
              "bad.yaml:4:", "did you mean 'max'", "typo in a field name suggests the right one");
  check_error("variants:\n  - id: a/b\n    model: m\n    min: 5\n    max: 2\n",
              "bad.yaml:", "max 2 is below min 5", "max below min");
  check_error("variants:\n  - id: ab\n    model: m\n", "bad.yaml:2:", "namespace/name",
              "bad variant id");
  check_error("variants:\n  - id: a/b\n    model: m\n  - id: a/b\n    model: m\n",
              "bad.yaml:4:", "duplicate variant id", "duplicate variant");
  check_error("variants:\n  - id: a/b\n    model: m\n    slo_class: gold\n",
              "bad.yaml:4:", "no SLO class named 'gold'", "unknown slo class");
  check_error("variants:\n  - id: a/b\n", "bad.yaml:2:", "model is required", "missing model");
  check_error("slo_classes:\n  long: {itl_ms: 24, ttft_ms_per_1k_in: 50}\n",
              "bad.yaml:2:", "slo_classes.long.ttft_ms_per_1k_in: ttft_ms_per_1k_in needs ttft_ms",
              "a per-token TTFT allowance needs a TTFT target");
  {
    sl_config_t c;
    sl_err_t err;
    const char *y = "slo_classes:\n  long: {ttft_ms: 500, itl_ms: 24, ttft_ms_per_1k_in: 50}\n";
    if (sl_config_load_buffer(&c, y, strlen(y), "long.yaml", &err) == 0) {
      T_OK(c.nslo == 1 && sl_slo_ttft_ms(&c.slo_classes[0], 20000) == 1500,
           "a 20k-token prompt's TTFT target is 500 + 50 x 20 ms");
      sl_config_deinit(&c);
    } else {
      T_OK(0, "long-context class: %s", err.msg);
    }
  }
  check_error("variants:\n  - {id: a/b, model: m, tokens: {input: 100}}\n",
              "bad.yaml:2:", "variants[0].tokens: needs input and output",
              "a token mix needs both means");
  check_error("variants:\n  - {id: a/b, model: m, tokens: {input: 100, output: 5, in_cv: 1}}\n",
              "bad.yaml:2:", "in_cv", "a token mix's fields are checked");
  check_error("policies:\n  - file: x.lua\n    variants: [a/zz]\n",
              "bad.yaml:3:", "no variant 'a/zz'", "policy names an unknown variant");
  check_error("variants: [\n", "bad.yaml:", NULL, "YAML syntax error");
  check_error("a: 1\na: 2\n", "bad.yaml:2:", "duplicate key 'a'", "duplicate key");
  check_error("actuator: kube\n", "bad.yaml:1:", "unknown actuator 'kube'", "unknown actuator");
  check_error("guard: {dry_run: maybe}\n", "bad.yaml:1:", "guard.dry_run: expected true or false",
              "bad boolean");
  check_error("", "bad.yaml", "empty configuration", "empty file");
  check_error("a: &a [*a, *a]\n", "bad.yaml", NULL, "recursive alias does not hang or crash");
  check_error("accelerators: {H100: {count: 4}}\nvariants:\n  - id: a/b\n    model: m\n"
              "    accelerator: H10\n",
              "bad.yaml:5:", "'H10' is not in accelerators: (H100)",
              "an accelerator missing from accelerators: is an error");
  check_error("interval: 1s\n---\ninterval: 2s\n", "bad.yaml:2:", "a second YAML document",
              "a second document is an error, not ignored");
  check_error("interval: 1s\nwindow: \xff\n", "bad.yaml:2:9:", "(byte 0xff)",
              "bad UTF-8 is reported where it is");
  check_error("source:\n  kubernetes: {}\n  prometheus: {interval: 1s}\n",
              "bad.yaml:3:", "source.prometheus.url: required",
              "the Prometheus source needs its url");
  check_error("source:\n  prometheus: {url: prometheus:9090}\n",
              "bad.yaml:2:", "want http:// or https://", "a url without its scheme");
  check_error("source:\n  scrape: {}\n  prometheus: {url: 'http://p:9090'}\n",
              "bad.yaml:3:", "cannot be combined", "scrape and prometheus are exclusive");
  check_error("source:\n  prometheus: {url: 'http://p:9090', interval: 10ms}\n",
              "bad.yaml:2:", "between 100ms and 1h", "the poll interval range-checked");
  check_error("source:\n  prometheus: {url: 'http://p:9090', pod_labl: pod}\n",
              "bad.yaml:2:", "did you mean 'pod_label'", "a misspelt key");
  {
    const char *y = "source:\n  kubernetes: {}\n  prometheus:\n    url: 'https://p:9090'\n"
                    "    interval: 15s\n    pod_label: kubernetes_pod_name\n"
                    "    matchers: 'job=\"vllm\"'\n";
    sl_config_t pc;
    int rc = sl_config_load_buffer(&pc, y, strlen(y), "p.yaml", &err);
    T_OK(rc == 0 && pc.prometheus.enabled && pc.prometheus.interval == 15 &&
             !strcmp(pc.prometheus.pod_label, "kubernetes_pod_name") &&
             !strcmp(pc.prometheus.matchers, "job=\"vllm\""),
         "source.prometheus read (%s)", rc ? err.msg : "");
    if (rc == 0) sl_config_deinit(&pc);
  }
  check_error("policies:\n  - {file: x.lua, shadow: perhaps}\n", "bad.yaml:2:", "shadow",
              "shadow must be a boolean");
  check_error("policies:\n  - {file: x.lua, time_limit: 2m}\n",
              "bad.yaml:2:", "must be between 1ms and 60s", "time_limit range-checked");
  check_error("variants:\n  - {id: a/b, model: m}\npolicies:\n  - {file: x.lua, model: n}\n",
              "bad.yaml:4:", "policies[0].model: no variant serves model 'n'",
              "a policy for a model no variant serves is an error");
  check_error("source: {kubernetes: {discover: false}}\npolicies:\n  - {file: x.lua, model: n}\n",
              "bad.yaml:3:", "no variant serves model 'n'",
              "also in a cluster that discovers nothing");
  {
    // Discovered workloads may serve a model sluice.yaml does not list (the chart's `models`).
    const char *disc = "source: {kubernetes: {}}\npolicies:\n  - {file: x.lua, model: n}\n";
    sl_config_t dc;
    int drc = sl_config_load_buffer(&dc, disc, strlen(disc), "disc.yaml", &err);
    T_OK(drc == 0, "a policy for a model only discovered workloads serve is accepted");
    if (drc == 0) {
      T_STR_HAS(dc.policies[0].model, "n", "and keeps its model");
      sl_config_deinit(&dc);
    }
  }
  {
    // 100,000 levels of nesting: refused at the 65th level while parsing, not after building.
    size_t n = 100000;
    char *deep = malloc(2 * n + 2);
    memset(deep, '[', n);
    memset(deep + n, ']', n);
    deep[2 * n] = '\n';
    deep[2 * n + 1] = '\0';
    sl_config_t dc;
    int drc = sl_config_load_buffer(&dc, deep, 2 * n + 1, "deep.yaml", &err);
    T_OK(drc < 0, "deep nesting refused");
    T_STR_HAS(err.msg, "deep.yaml:1: document too large or too deeply nested",
              "deep nesting says why and where");
    free(deep);
    static const char nul[] = "interval: 1s\nwindow: 1\0m\n";
    drc = sl_config_load_buffer(&dc, nul, sizeof nul - 1, "nul.yaml", &err);
    T_OK(drc < 0, "a NUL byte is refused");
    T_STR_HAS(err.msg, "nul.yaml:2:10:", "a NUL byte is reported where it is");
    T_STR_HAS(err.msg, "(byte 0x00)", "and says which byte");
    // Anchored scalars used as keys, then aliased: the alias gets the scalar, not freed memory.
    const char *alias_keys = "variants:\n  - {&k id: a/b, model: m}\n  - {id: *k, model: n}\n";
    drc = sl_config_load_buffer(&dc, alias_keys, strlen(alias_keys), "a.yaml", &err);
    T_OK(drc < 0 && strstr(err.msg, "namespace/name"), "an alias of a key-scalar reads its text");
  }
  return tap_done();
}
