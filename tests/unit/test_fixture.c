// Fixture source through the view builder: raw exposition names land on canonical signals,
// pods aggregate into variant signals, direct signals win, and bad frames name file:line.
#include <math.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "core/state/fixture.h"
#include "core/state/series.h"
#include "core/state/view.h"
#include "tests/unit/tap.h"

static const char *cfg_yaml = "variants:\n"
                              "  - {id: llm/a, model: m, accelerator: H100, gpus_per_replica: 2}\n"
                              "  - {id: llm/b, model: m, accelerator: H100}\n"
                              "accelerators:\n"
                              "  H100: {count: 8, cost: 3}\n";

static const char *fx_yaml =
    "frames:\n"
    "  - variants:\n"
    "      llm/a:\n"
    "        replicas: {spec: 3, ready: 2, starting: 1}\n"
    "        pods:\n"
    "          - {name: a-0, metrics: {'vllm:kv_cache_usage_perc': 0.4, "
    "'vllm:num_requests_waiting': 2}}\n"
    "          - {name: a-1, metrics: {'vllm:gpu_cache_usage_perc': 0.8, 'sglang:num_queue_reqs': "
    "3}}\n"
    "          - {name: a-2, phase: starting, signals: {kv_usage: 0.0, waiting: 50}}\n"
    "      llm/b:\n"
    "        replicas: {spec: 1}\n"
    "        signals: {kv_usage: 0.3, ttft_p99: 0.25}\n"
    "    models:\n"
    "      m: {metrics: {llm_d_epp_flow_control_queue_size: 4}}\n"
    "  - variants:\n"
    "      llm/b:\n"
    "        signals: {kv_usage: 0.5}\n"
    "    models:\n"
    "      m: {signals: {queue_size: 0}}\n";

static void bad(const sl_config_t *cfg, const char *yaml, const char *want, const char *what) {
  sl_fixture_t f;
  sl_err_t err = {0};
  int rc = sl_fixture_load_buffer(&f, yaml, strlen(yaml), "fx.yaml", cfg, &err);
  T_OK(rc < 0, "%s: rejected", what);
  T_STR_HAS(err.msg, want, what);
  if (rc == 0) sl_fixture_deinit(&f);
}

int main(void) {
  sl_config_t cfg;
  sl_err_t err;
  if (sl_config_load_buffer(&cfg, cfg_yaml, strlen(cfg_yaml), "c.yaml", &err) < 0) {
    printf("# %s\n", err.msg);
    return 1;
  }
  sl_fixture_t fx;
  int rc = sl_fixture_load_buffer(&fx, fx_yaml, strlen(fx_yaml), "fx.yaml", &cfg, &err);
  T_EQ_INT(rc, 0, "fixture loads");
  if (rc < 0) {
    printf("# %s\n", err.msg);
    return tap_done();
  }
  sl_store_t *st = sl_store_new(32);
  sl_view_t v;
  sl_view_init(&v);
  T_EQ_INT(sl_fixture_step(&fx, st, 10, &err), 0, "first frame applied");
  sl_view_params_t p = {10, 60, 30, cfg.variants, cfg.nvariants, NULL, cfg.accels, cfg.naccels};
  T_EQ_INT(sl_view_build(&v, st, &p, NULL, &err), 0, "view builds");
  int ia = sl_view_find_variant(&v, "llm/a"), ib = sl_view_find_variant(&v, "llm/b");
  T_OK(ia == 0 && ib == 1, "variants sorted by id");
  sl_view_variant_t *a = &v.variants[ia];
  T_NEAR(a->sig[SL_V_KV_USAGE], 0.6, 1e-12, "kv_usage = mean over Ready pods (V0 and V1 names)");
  T_NEAR(a->sig[SL_V_KV_USAGE_MAX], 0.8, 1e-12, "kv_usage_max over Ready pods");
  T_NEAR(a->sig[SL_V_WAITING], 5, 1e-12,
         "waiting sums Ready pods (vLLM and SGLang names); the starting pod is excluded");
  T_OK(a->spec == 3 && a->ready == 2 && a->starting == 1, "replica counts from the frame");
  T_EQ_INT(a->npods, 3, "all pods listed");
  T_OK(isnan(a->sig[SL_V_TTFT_P99]), "no histogram: quantile is missing, not zero");
  T_NEAR(a->age, 0, 0, "fresh samples");
  sl_view_variant_t *b = &v.variants[ib];
  T_NEAR(b->sig[SL_V_KV_USAGE], 0.3, 0, "direct signal used as given");
  T_NEAR(b->sig[SL_V_TTFT_P99], 0.25, 0, "direct quantile used as given");
  T_NEAR(v.models[0].sig[SL_G_QUEUE_SIZE], 4, 0, "llm-d EPP queue name -> queue_size");
  T_EQ_INT(v.naccels, 1, "inventory from configuration");
  T_EQ_INT(v.accels[0].used, 2 * 3 + 1, "used GPUs = (ready + starting) x GPUs per replica");

  sl_fixture_step(&fx, st, 20, &err);
  sl_view_build(
      &v, st,
      &(sl_view_params_t){20, 60, 30, cfg.variants, cfg.nvariants, NULL, cfg.accels, cfg.naccels},
      NULL, &err);
  b = &v.variants[1];
  T_NEAR(b->sig[SL_V_KV_USAGE], 0.5, 0, "second frame's value");
  T_NEAR(sl_view_variant_over(&v, 1, SL_V_KV_USAGE, 60, SL_OVER_AVG), 0.4, 1e-12,
         "avg_over the recorded history (0.3, 0.5)");
  T_NEAR(sl_view_variant_over(&v, 0, SL_V_KV_USAGE, 60, SL_OVER_MAX), 0.6, 1e-12,
         "max_over a derived signal uses the recorded history");
  T_NEAR(v.variants[0].age, 10, 1e-12, "llm/a pods were not refreshed: age 10 s");
  T_OK(v.variants[0].stale == 0, "10 s is not stale with stale_after 30 s");
  T_NEAR(v.models[0].sig[SL_G_QUEUE_SIZE], 0, 0, "direct gateway signal overrides");
  T_EQ_INT(sl_fixture_step(&fx, st, 30, &err), 1, "past the end the last frame repeats");

  // A frame that lists pods replaces the set.
  static const char *shrink = "frames:\n  - variants:\n      llm/a:\n        pods:\n          - "
                              "{name: a-1, signals: {kv_usage: 0.1}}\n";
  sl_fixture_t fx2;
  T_EQ_INT(sl_fixture_load_buffer(&fx2, shrink, strlen(shrink), "s.yaml", &cfg, &err), 0,
           "shrink fixture loads");
  sl_fixture_step(&fx2, st, 40, &err);
  T_EQ_INT(sl_store_find_variant(st, "llm/a")->npods, 1, "pods not listed in a frame are removed");
  sl_fixture_deinit(&fx2);

  sl_view_deinit(&v);
  sl_store_free(st);
  sl_fixture_deinit(&fx);

  bad(&cfg, "frames:\n  - variants:\n      llm/zz: {replicas: {spec: 1}}\n",
      "fx.yaml:3:", "unknown variant id");
  bad(&cfg, "frames:\n  - variants:\n      llm/a:\n        signals: {kv_usag: 1}\n",
      "fx.yaml:4:", "unknown signal name");
  bad(&cfg,
      "frames:\n  - variants:\n      llm/a:\n        pods:\n          - {name: p, phase: up}\n",
      "expected ready, starting, pending or draining", "unknown phase");
  bad(&cfg, "frames:\n  - models:\n      m: {metrics: {'vllm:num_requests_waiting': 1}}\n",
      "not a gateway metric", "a model-server metric on a model");
  bad(&cfg, "frames: []\n", "no frames", "empty frames");
  bad(&cfg, "frames:\n  - variants:\n      llm/a: {replicas: {spec: x}}\n",
      "fx.yaml:3:", "non-numeric replicas");
  bad(&cfg, "frames:\n  - t: soon\n", "fx.yaml:2:", "a non-numeric frame time");
  bad(&cfg, "frames:\n  - variants:\n      llm/a:\n        pods: [{name: p, age: -1}]\n",
      "fx.yaml:4:", "a negative age");

  // A recording: gzip'd, a frame time and data ages; cut short, it keeps its whole frames.
  const char *rec = "config: |\n  interval: 1s\n"
                    "frames:\n"
                    "  - t: 1000.5\n"
                    "    variants:\n"
                    "      llm/a: {pods: [{name: a-0, age: 2.5, signals: {waiting: 7}}]}\n"
                    "    models:\n      m: {age: 1, signals: {queue_size: 4}}\n"
                    "  - t: 1001.5\n"
                    "    variants:\n"
                    "      llm/a: {pods: [{name: a-0, signals: {waiting: 8}}]}\n";
  char path[] = "/tmp/sluice-rec-XXXXXX";
  int fd = mkstemp(path);
  gzFile gz = fd >= 0 ? gzdopen(fd, "wb") : NULL;
  T_OK(gz && gzputs(gz, rec) > 0 && gzclose(gz) == Z_OK, "a gzip'd recording written");
  rc = sl_fixture_load(&fx, path, &cfg, &err);
  T_OK(rc == 0, "a gzip'd recording loads (%s)", rc ? err.msg : "");
  if (rc == 0) {
    T_EQ_INT(fx.nframes, 2, "two frames");
    T_NEAR(sl_fixture_time(&fx, 0), 1000.5, 0, "frame 0's time");
    st = sl_store_new(16);
    T_EQ_INT(sl_fixture_apply(&fx, 0, st, 1000.5, &err), 0, "frame 0 applied");
    sl_pod_t *p = sl_store_find_pod(st, "a-0");
    double t = 0;
    double w = p ? sl_series_last(p->m[SL_M_WAITING], &t) : NAN;
    T_OK(w == 7 && t == 998.0, "the pod's sample is as old as recorded (%g at %g)", w, t);
    sl_store_model_t *m = sl_store_find_model(st, "m");
    T_OK(m && m->last_sample == 999.5, "the model's too (%g)", m ? m->last_sample : NAN);
    sl_store_free(st);
    sl_fixture_deinit(&fx);
  }
  // The same file cut in the middle of its second frame: the first frame is kept.
  gz = gzopen(path, "wb");
  size_t cut = strstr(rec, "      llm/a: {pods: [{name: a-0, signals: {waiting: 8") - rec + 20;
  T_OK(gz && gzwrite(gz, rec, (unsigned)cut) == (int)cut && gzflush(gz, Z_SYNC_FLUSH) == Z_OK,
       "a recording cut short");
  // No gzclose: the stream never ends, as when the recorder is killed.
  fd = open(path, O_RDONLY);
  struct stat sb;
  fstat(fd, &sb);
  close(fd);
  char *copy = malloc((size_t)sb.st_size);
  FILE *in = fopen(path, "rb");
  size_t got = fread(copy, 1, (size_t)sb.st_size, in);
  fclose(in);
  gzclose(gz); // (writes the trailer; put back the cut file)
  in = fopen(path, "wb");
  fwrite(copy, 1, got, in);
  fclose(in);
  free(copy);
  rc = sl_fixture_load(&fx, path, &cfg, &err);
  T_OK(rc == 0 && fx.nframes == 1, "a cut recording keeps its whole frames (%s)",
       rc ? err.msg : "");
  if (rc == 0) sl_fixture_deinit(&fx);
  unlink(path);
  sl_config_deinit(&cfg);
  return tap_done();
}
