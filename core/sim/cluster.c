// Cluster files for the simulator. See cluster.h.
#include "core/sim/cluster.h"

#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/model/perf.h"

#define TRY(x)                                                                                     \
  do {                                                                                             \
    int rc_ = (x);                                                                                 \
    if (rc_ < 0) return rc_;                                                                       \
  } while (0)

#define GIB (1024.0 * 1024.0 * 1024.0)
#define MIB (1024.0 * 1024.0)

// Public model configurations (BF16 weights).
static const struct {
  const char *name;
  sl_step_llm_t s;
} shapes[] = {
    {"llama-3.1-8b", {16060522496.0, 2.0 * 32 * 8 * 128 * 2, 8030261248.0, 4.0 * 32 * 32 * 128}},
    {"llama-3.1-70b", {141107412992.0, 2.0 * 80 * 8 * 128 * 2, 70553706496.0, 4.0 * 80 * 64 * 128}},
    {"llama-3.2-3b", {6425499648.0, 2.0 * 28 * 8 * 128 * 2, 3212749824.0, 4.0 * 28 * 24 * 128}},
};

// Datasheet bandwidth and dense BF16 throughput; memory as the driver reports it.
static const sl_cluster_gpu_t gpus_builtin[] = {
    {"H100", 3.35e12, 989.4e12, 81559 * MIB, 0.3},
    {"A100", 2.039e12, 312e12, 81920 * MIB, 0.4},
    {"L40S", 0.864e12, 362.05e12, 46068 * MIB, 0.6},
};

const sl_step_llm_t *sl_cluster_shape(const char *name) {
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
    if (!strcasecmp(shapes[i].name, name)) return &shapes[i].s;
  return NULL;
}

const sl_cluster_gpu_t *sl_cluster_gpu_builtin(const char *type) {
  for (size_t i = 0; i < sizeof gpus_builtin / sizeof gpus_builtin[0]; i++)
    if (!strcasecmp(gpus_builtin[i].type, type)) return &gpus_builtin[i];
  return NULL;
}

const char sl_cluster_builtin_yaml[] =
    "# sluice sim's built-in scenario: two models on two accelerator types with limited\n"
    "# inventory; each model has a compressed diurnal day (4 hours) with bursts.\n"
    "slo_classes:\n"
    "  interactive: {ttft_ms: 1000, itl_ms: 50}\n"
    "  standard: {ttft_ms: 2000, itl_ms: 80}\n"
    "accelerators:\n"
    "  H100: {count: 12, cost: 4.0}\n"
    "  A100: {count: 10, cost: 2.2}\n"
    "models:\n"
    "  - name: meta-llama/Llama-3.1-8B-Instruct\n"
    "    shape: llama-3.1-8b\n"
    "    trace: \"diurnal:mean=20,peak=50,period=14400,peak_at=7200,bursts=6,burst_x=2,"
    "burst_s=240\"\n"
    "  - name: meta-llama/Llama-3.2-3B-Instruct\n"
    "    shape: llama-3.2-3b\n"
    "    trace: \"diurnal:mean=25,peak=60,period=14400,peak_at=10800,bursts=6,burst_x=2,"
    "burst_s=240\"\n"
    "variants:\n"
    "  - {id: llm/llama-8b-h100, model: meta-llama/Llama-3.1-8B-Instruct, accelerator: H100,\n"
    "     profile: llama-3.1-8b/h100, slo_class: interactive, min: 1, max: 12}\n"
    "  - {id: llm/llama-8b-a100, model: meta-llama/Llama-3.1-8B-Instruct, accelerator: A100,\n"
    "     slo_class: interactive, min: 0, max: 10}\n"
    "  - {id: llm/llama-3b-a100, model: meta-llama/Llama-3.2-3B-Instruct, accelerator: A100,\n"
    "     slo_class: standard, min: 1, max: 10}\n"
    "  - {id: llm/llama-3b-h100, model: meta-llama/Llama-3.2-3B-Instruct, accelerator: H100,\n"
    "     slo_class: standard, min: 0, max: 12}\n"
    "cold_start: {median: 110s, p95: 300s}\n"
    "drain_grace: 30s\n"
    "gateway: {drop_timeout: 60s, queue_threshold: 5, kv_threshold: 0.8}\n";

void sl_cluster_deinit(sl_cluster_t *c) {
  for (int i = 0; i < c->nmodels; i++) free(c->models[i].name), free(c->models[i].trace);
  free(c->models);
  for (int i = 0; i < c->ngpus; i++) free(c->gpus[i].type);
  free(c->gpus);
  free(c->vx);
  sl_config_deinit(&c->cfg);
  memset(c, 0, sizeof *c);
}

int sl_cluster_find_model(const sl_cluster_t *c, const char *name) {
  for (int i = 0; i < c->nmodels; i++)
    if (!strcmp(c->models[i].name, name)) return i;
  return -1;
}

static const sl_ydoc_t *D(const sl_cluster_t *c) {
  return &c->cfg.doc;
}

static int parse_shape(sl_cluster_t *c, const sl_yval_t *v, const char *path, sl_step_llm_t *out,
                       sl_err_t *err) {
  if (v->type == SL_Y_SCALAR) {
    const sl_step_llm_t *s = sl_cluster_shape(v->str);
    if (!s)
      return sl_y_err(D(c), v, err,
                      "%s: unknown shape '%s' (built in: llama-3.1-8b, llama-3.1-70b, "
                      "llama-3.2-3b; or a mapping of weight_bytes, kv_bytes_per_token, params, "
                      "attn_flops_per_pair)",
                      path, v->str);
    *out = *s;
    return SL_OK;
  }
  static const char *const keys[] = {"weight_bytes", "kv_bytes_per_token", "params",
                                     "attn_flops_per_pair", NULL};
  TRY(sl_y_expect(D(c), v, SL_Y_MAP, path, err));
  TRY(sl_y_known_keys(D(c), v, path, keys, err));
  double *dst[] = {&out->weight_bytes, &out->kv_bytes_per_token, &out->params,
                   &out->attn_flops_per_pair};
  for (int i = 0; i < 4; i++) {
    char fp[300];
    snprintf(fp, sizeof fp, "%s.%s", path, keys[i]);
    const sl_yval_t *f = sl_y_get(v, keys[i]);
    if (!f) return sl_y_err(D(c), v, err, "%s: %s is required", path, keys[i]);
    TRY(sl_y_num(D(c), f, fp, i == 3 ? 0 : 1, 1e16, dst[i], err));
  }
  return SL_OK;
}

// Step coefficients given explicitly, named as sl_perf_params(SL_PERF_STEP); host terms default
// to the reference calibration's.
static int parse_coefficients(sl_cluster_t *c, const sl_yval_t *v, const char *path, sl_step_t *out,
                              sl_err_t *err) {
  int n;
  const sl_perf_param_t *pp = sl_perf_params(SL_PERF_STEP, &n);
  const char *keys[SL_PERF_MAX_PARAMS + 1];
  for (int i = 0; i < n; i++) keys[i] = pp[i].name;
  keys[n] = NULL;
  TRY(sl_y_known_keys(D(c), v, path, keys, err));
  sl_perf_t p;
  sl_perf_from_step(&sl_step_llama31_8b_h100, &p);
  for (int i = 0; i < n; i++) {
    const sl_yval_t *f = sl_y_get(v, pp[i].name);
    if (!f) {
      if (i == SL_PS_OVERHEAD_MS || i == SL_PS_REQUEST_MS || i == SL_PS_ATTN_MS_PER_MPAIR) continue;
      return sl_y_err(D(c), v, err, "%s: %s (%s, %s) is required", path, pp[i].name, pp[i].unit,
                      pp[i].what);
    }
    char fp[300];
    snprintf(fp, sizeof fp, "%s.%s", path, pp[i].name);
    TRY(sl_y_num(D(c), f, fp, pp[i].positive ? 1e-12 : 0, 1e12, &p.v[i], err));
  }
  sl_perf_to_step(&p, out);
  return SL_OK;
}

static int parse_models(sl_cluster_t *c, const sl_yval_t *seq, sl_err_t *err) {
  if (!seq) return SL_OK;
  TRY(sl_y_expect(D(c), seq, SL_Y_SEQ, "models", err));
  c->models = calloc(seq->n ? seq->n : 1, sizeof *c->models);
  if (!c->models) return sl_err(err, SL_ENOMEM, "out of memory");
  static const char *const keys[] = {"name", "shape", "trace", "rate_scale", "profiles", NULL};
  for (size_t i = 0; i < seq->n; i++) {
    char path[64], fp[128];
    snprintf(path, sizeof path, "models[%zu]", i);
    const sl_yval_t *v = seq->items[i], *f;
    TRY(sl_y_expect(D(c), v, SL_Y_MAP, path, err));
    TRY(sl_y_known_keys(D(c), v, path, keys, err));
    sl_cluster_model_t *m = &c->models[c->nmodels++];
    m->line = v->line;
    m->rate_scale = 1;
    if (!(f = sl_y_get(v, "name"))) return sl_y_err(D(c), v, err, "%s: name is required", path);
    snprintf(fp, sizeof fp, "%s.name", path);
    TRY(sl_y_str(D(c), f, fp, &m->name, err));
    for (int k = 0; k < c->nmodels - 1; k++)
      if (!strcmp(c->models[k].name, m->name))
        return sl_y_err(D(c), f, err, "%s: duplicate model '%s' (first at line %d)", fp, m->name,
                        c->models[k].line);
    if ((f = sl_y_get(v, "shape"))) {
      snprintf(fp, sizeof fp, "%s.shape", path);
      TRY(parse_shape(c, f, fp, &m->shape, err));
      m->has_shape = 1;
    }
    if ((f = sl_y_get(v, "trace"))) {
      snprintf(fp, sizeof fp, "%s.trace", path);
      char *t;
      TRY(sl_y_str(D(c), f, fp, &t, err));
      // A relative file path is relative to the cluster file; generators have a ':' or no '/'.
      if (c->cfg.dir && t[0] != '/' && strchr(t, '/') && !strchr(t, ':')) {
        if (asprintf(&m->trace, "%s/%s", c->cfg.dir, t) < 0) m->trace = NULL;
        free(t);
        if (!m->trace) return sl_err(err, SL_ENOMEM, "out of memory");
      } else {
        m->trace = t;
      }
    }
    if ((f = sl_y_get(v, "rate_scale"))) {
      snprintf(fp, sizeof fp, "%s.rate_scale", path);
      TRY(sl_y_num(D(c), f, fp, 0, 1e6, &m->rate_scale, err));
    }
    if ((f = sl_y_get(v, "profiles"))) {
      snprintf(fp, sizeof fp, "%s.profiles", path);
      TRY(sl_y_expect(D(c), f, SL_Y_MAP, fp, err));
    }
  }
  return SL_OK;
}

static int parse_gpus(sl_cluster_t *c, const sl_yval_t *map, sl_err_t *err) {
  if (!map) return SL_OK;
  TRY(sl_y_expect(D(c), map, SL_Y_MAP, "gpus", err));
  c->gpus = calloc(map->n ? map->n : 1, sizeof *c->gpus);
  if (!c->gpus) return sl_err(err, SL_ENOMEM, "out of memory");
  static const char *const keys[] = {"mem_bw", "flops", "memory", "comm_ms", NULL};
  for (size_t i = 0; i < map->n; i++) {
    char path[256], fp[300];
    snprintf(path, sizeof path, "gpus.%s", map->keys[i]);
    const sl_yval_t *v = map->items[i], *f;
    TRY(sl_y_expect(D(c), v, SL_Y_MAP, path, err));
    TRY(sl_y_known_keys(D(c), v, path, keys, err));
    sl_cluster_gpu_t *g = &c->gpus[c->ngpus++];
    if (!(g->type = strdup(map->keys[i]))) return sl_err(err, SL_ENOMEM, "out of memory");
    const sl_cluster_gpu_t *b = sl_cluster_gpu_builtin(g->type);
    if (b)
      g->mem_bw = b->mem_bw, g->flops = b->flops, g->memory = b->memory, g->comm_ms = b->comm_ms;
    if ((f = sl_y_get(v, "mem_bw"))) {
      snprintf(fp, sizeof fp, "%s.mem_bw", path);
      TRY(sl_y_num(D(c), f, fp, 1e6, 1e16, &g->mem_bw, err));
    }
    if ((f = sl_y_get(v, "flops"))) {
      snprintf(fp, sizeof fp, "%s.flops", path);
      TRY(sl_y_num(D(c), f, fp, 1e6, 1e19, &g->flops, err));
    }
    if ((f = sl_y_get(v, "memory"))) {
      snprintf(fp, sizeof fp, "%s.memory", path);
      size_t bytes;
      TRY(sl_y_size(D(c), f, fp, &bytes, err));
      g->memory = (double)bytes;
    }
    if ((f = sl_y_get(v, "comm_ms"))) {
      snprintf(fp, sizeof fp, "%s.comm_ms", path);
      TRY(sl_y_num(D(c), f, fp, 0, 1e3, &g->comm_ms, err));
    }
    if (!(g->mem_bw > 0) || !(g->flops > 0))
      return sl_y_err(D(c), v, err,
                      "%s: mem_bw and flops are required for a GPU sluice does not "
                      "know (built in: H100, A100, L40S)",
                      path);
  }
  return SL_OK;
}

static const sl_cluster_gpu_t *find_gpu(const sl_cluster_t *c, const char *type) {
  for (int i = 0; i < c->ngpus; i++)
    if (!strcmp(c->gpus[i].type, type)) return &c->gpus[i];
  return sl_cluster_gpu_builtin(type);
}

static const sl_yval_t *model_node(const sl_cluster_t *c, int mi) {
  const sl_yval_t *seq = sl_y_get(c->cfg.doc.root, "models");
  return seq && seq->type == SL_Y_SEQ && (size_t)mi < seq->n ? seq->items[mi] : NULL;
}

// Step profile and KV capacity of variant i.
static int resolve_variant(sl_cluster_t *c, int i, sl_err_t *err) {
  const sl_variant_t *v = &c->cfg.variants[i];
  sl_cluster_variant_t *x = &c->vx[i];
  const sl_yval_t *vnode = sl_y_get(c->cfg.doc.root, "variants")->items[i];
  x->model = sl_cluster_find_model(c, v->model);
  if (x->model < 0)
    return sl_y_err(D(c), vnode, err, "variants[%d].model: no model named '%s' in models", i,
                    v->model);
  const sl_cluster_model_t *m = &c->models[x->model];
  const sl_cluster_gpu_t *g = find_gpu(c, v->accelerator);
  const sl_yval_t *prof = NULL;
  char ppath[256] = "";
  {
    const sl_yval_t *mn = model_node(c, x->model);
    const sl_yval_t *ps = mn ? sl_y_get(mn, "profiles") : NULL;
    prof = ps ? sl_y_get(ps, v->accelerator) : NULL;
    snprintf(ppath, sizeof ppath, "models[%d].profiles.%s", x->model, v->accelerator);
  }
  sl_step_t *st = &x->engine.step;
  // A variant's own `profile:` (the name policies use with sluice.model) serves when the model
  // gives none for the accelerator and it is a step profile.
  const sl_perf_t *vprof = !prof && v->profile ? sl_perf_builtin(v->profile) : NULL;
  if (vprof && vprof->kind == SL_PERF_STEP) {
    sl_perf_to_step(vprof, st);
    snprintf(x->profile, sizeof x->profile, "%s", vprof->name);
  } else if (prof && prof->type == SL_Y_MAP) {
    TRY(parse_coefficients(c, prof, ppath, st, err));
    snprintf(x->profile, sizeof x->profile, "explicit coefficients");
  } else if (prof && prof->type == SL_Y_SCALAR && strcmp(prof->str, "derive")) {
    const sl_perf_t *p = sl_perf_builtin(prof->str);
    if (!p || p->kind != SL_PERF_STEP)
      return sl_y_err(D(c), prof, err,
                      "%s: unknown step profile '%s' (built in: llama-3.1-8b/h100; or 'derive', "
                      "or a mapping of coefficients)",
                      ppath, prof->str);
    sl_perf_to_step(p, st);
    snprintf(x->profile, sizeof x->profile, "%s", p->name);
  } else if (prof && prof->type != SL_Y_SCALAR) {
    return sl_y_err(D(c), prof, err, "%s: expected a profile name, 'derive' or a mapping", ppath);
  } else {
    // Derived from the model's shape and the GPU, or the reference calibration when the variant
    // is the reference itself (Llama-3.1-8B on one H100, or no shape given on an H100).
    const sl_step_llm_t *shape = m->has_shape ? &m->shape : NULL;
    if (!shape && !strcasecmp(v->accelerator, "H100") && v->gpus_per_replica == 1 && !prof) {
      *st = sl_step_llama31_8b_h100;
      snprintf(x->profile, sizeof x->profile, "llama-3.1-8b/h100 (no shape given)");
    } else if (!shape || !g) {
      return sl_y_err(D(c), prof ? prof : vnode, err,
                      "variants[%d] (%s): no step profile for model '%s' on %s: give %s, or a "
                      "shape for the model%s",
                      i, v->id, v->model, v->accelerator, ppath,
                      g ? "" : " and the GPU's speeds under gpus:");
    } else {
      sl_step_gpu_t gpu = {g->mem_bw, g->flops, v->gpus_per_replica, g->comm_ms, 0, 0};
      TRY(sl_step_derive(shape, &gpu, st, err));
      snprintf(x->profile, sizeof x->profile, "derived (%s on %d x %s)", m->name,
               v->gpus_per_replica, v->accelerator);
    }
  }
  // Policies find the profile by the variant's `profile` name (sluice.model.builtin): name the
  // one this variant runs when the cluster file did not, registering derived and measured ones.
  if (!v->profile) {
    sl_variant_t *mv = &c->cfg.variants[i];
    const sl_perf_t *known = sl_perf_builtin(x->profile);
    if (known) {
      mv->profile = strdup(known->name);
    } else {
      char name[128];
      if (v->gpus_per_replica > 1)
        snprintf(name, sizeof name, "%s@%dx%s", m->name, v->gpus_per_replica, v->accelerator);
      else
        snprintf(name, sizeof name, "%s@%s", m->name, v->accelerator);
      sl_perf_t pp;
      sl_perf_from_step(st, &pp);
      pp.source = "simulator cluster file";
      TRY(sl_perf_register(name, &pp, err));
      mv->profile = strdup(name);
    }
    if (!mv->profile) return sl_err(err, SL_ENOMEM, "out of memory");
  }
  x->engine.max_num_seqs = v->engine.max_num_seqs;
  x->engine.max_num_batched_tokens = v->engine.max_num_batched_tokens;
  double kv = v->engine.kv_capacity_tokens;
  if (!(kv > 0)) {
    const sl_step_llm_t *shape = m->has_shape ? &m->shape : &sl_step_ref_llm;
    if (g && g->memory > 0) {
      // vLLM's gpu_memory_utilization 0.9, less the weights and about 3.5 GiB of activations
      // and CUDA graphs per GPU: 53 GiB and 435k tokens for Llama-3.1-8B on an H100 80GB.
      double tp = v->gpus_per_replica;
      kv =
          (0.9 * g->memory * tp - shape->weight_bytes - 3.5 * GIB * tp) / shape->kv_bytes_per_token;
    } else {
      kv = 440000;
    }
    if (!(kv >= 1000))
      return sl_y_err(D(c), vnode, err,
                      "variants[%d] (%s): the model's weights leave no room for a KV cache on %d x "
                      "%s; set engine.kv_capacity_tokens or use more GPUs",
                      i, v->id, v->gpus_per_replica, v->accelerator);
  }
  x->engine.kv_capacity = floor(kv);
  return SL_OK;
}

// gateway.routing (least-loaded | scorers) and gateway.scorers' weights.
static int load_routing(sl_cluster_t *c, const sl_yval_t *g, sl_err_t *err) {
  const sl_yval_t *f = sl_y_get(g, "routing"), *w = sl_y_get(g, "scorers");
  if (f) {
    char *mode;
    TRY(sl_y_str(D(c), f, "gateway.routing", &mode, err));
    int mix = !strcmp(mode, "scorers"), ll = !strcmp(mode, "least-loaded");
    free(mode);
    if (!mix && !ll)
      return sl_y_err(D(c), f, err, "gateway.routing: expected least-loaded or scorers");
    c->routing.mix = mix;
  }
  if (!w) return SL_OK;
  if (!c->routing.mix)
    return sl_y_err(D(c), w, err, "gateway.scorers: weights apply only with routing: scorers");
  static const char *const wk[] = {"prefix_cache", "kv_cache_utilization", "queue", NULL};
  TRY(sl_y_expect(D(c), w, SL_Y_MAP, "gateway.scorers", err));
  TRY(sl_y_known_keys(D(c), w, "gateway.scorers", wk, err));
  double *dst[] = {&c->routing.w_prefix, &c->routing.w_kv, &c->routing.w_queue};
  char path[64];
  for (int i = 0; wk[i]; i++) {
    if (!(f = sl_y_get(w, wk[i]))) continue;
    snprintf(path, sizeof path, "gateway.scorers.%s", wk[i]);
    TRY(sl_y_num(D(c), f, path, 0, 1e6, dst[i], err));
  }
  return SL_OK;
}

static int parse_root(sl_cluster_t *c, sl_err_t *err) {
  static const char *const keys[] = {"slo_classes", "accelerators", "gpus",    "models", "variants",
                                     "cold_start",  "drain_grace",  "gateway", NULL};
  const sl_yval_t *r = c->cfg.doc.root, *f, *g;
  c->cold_median = 110;
  c->cold_p95 = 300;
  c->cold_min = 0;
  c->cold_max = INFINITY;
  c->drain_grace = 30;
  c->drop_timeout = 60;
  c->queue_threshold = 5;
  c->kv_threshold = 0.8;
  c->routing = (sl_gateway_routing_t){0, SL_GATEWAY_W_PREFIX, SL_GATEWAY_W_KV, SL_GATEWAY_W_QUEUE};
  if (!r) return sl_y_err(D(c), NULL, err, "empty cluster file");
  TRY(sl_y_expect(D(c), r, SL_Y_MAP, "top level", err));
  TRY(sl_y_known_keys(D(c), r, "", keys, err));
  TRY(sl_config_parse_slo_classes(&c->cfg, sl_y_get(r, "slo_classes"), err));
  TRY(sl_config_parse_accelerators(&c->cfg, sl_y_get(r, "accelerators"), err));
  TRY(parse_gpus(c, sl_y_get(r, "gpus"), err));
  TRY(parse_models(c, sl_y_get(r, "models"), err));
  if (!(f = sl_y_get(r, "variants")))
    return sl_y_err(D(c), r, err, "variants: a cluster needs at least one variant");
  TRY(sl_config_parse_variants(&c->cfg, f, err));
  if (c->cfg.nvariants == 0) return sl_y_err(D(c), f, err, "variants: the list is empty");
  for (int i = 0; i < c->cfg.nvariants; i++) {
    const sl_variant_t *v = &c->cfg.variants[i];
    if (v->role != SL_ROLE_BOTH)
      return sl_y_err(D(c), f->items[i], err,
                      "variants[%d].role: the simulator serves whole requests (role both), got %s",
                      i, sl_role_name(v->role));
    int known = c->cfg.naccels == 0;
    for (int k = 0; k < c->cfg.naccels; k++)
      known |= !strcmp(c->cfg.accels[k].type, v->accelerator);
    if (!known)
      return sl_y_err(D(c), f->items[i], err,
                      "variants[%d].accelerator: '%s' is not in accelerators", i, v->accelerator);
  }
  if ((g = sl_y_get(r, "cold_start"))) {
    static const char *const ck[] = {"median", "p95", "fixed", "min", "max", NULL};
    TRY(sl_y_expect(D(c), g, SL_Y_MAP, "cold_start", err));
    TRY(sl_y_known_keys(D(c), g, "cold_start", ck, err));
    if ((f = sl_y_get(g, "fixed"))) {
      if (sl_y_get(g, "median") || sl_y_get(g, "p95"))
        return sl_y_err(D(c), f, err, "cold_start.fixed: give fixed, or median and p95, not both");
      TRY(sl_y_duration(D(c), f, "cold_start.fixed", &c->cold_median, err));
      c->cold_p95 = c->cold_median;
    } else {
      if ((f = sl_y_get(g, "median")))
        TRY(sl_y_duration(D(c), f, "cold_start.median", &c->cold_median, err));
      if ((f = sl_y_get(g, "p95")))
        TRY(sl_y_duration(D(c), f, "cold_start.p95", &c->cold_p95, err));
      if (c->cold_p95 < c->cold_median)
        return sl_y_err(D(c), g, err, "cold_start: p95 %gs is below the median %gs", c->cold_p95,
                        c->cold_median);
    }
    if ((f = sl_y_get(g, "min"))) TRY(sl_y_duration(D(c), f, "cold_start.min", &c->cold_min, err));
    if ((f = sl_y_get(g, "max"))) TRY(sl_y_duration(D(c), f, "cold_start.max", &c->cold_max, err));
    if (c->cold_max < c->cold_min) return sl_y_err(D(c), g, err, "cold_start: max is below min");
  }
  if ((f = sl_y_get(r, "drain_grace")))
    TRY(sl_y_duration(D(c), f, "drain_grace", &c->drain_grace, err));
  if ((g = sl_y_get(r, "gateway"))) {
    static const char *const gk[] = {"drop_timeout", "queue_threshold", "kv_threshold",
                                     "routing",      "scorers",         NULL};
    TRY(sl_y_expect(D(c), g, SL_Y_MAP, "gateway", err));
    TRY(sl_y_known_keys(D(c), g, "gateway", gk, err));
    if ((f = sl_y_get(g, "drop_timeout"))) {
      TRY(sl_y_duration(D(c), f, "gateway.drop_timeout", &c->drop_timeout, err));
      if (c->drop_timeout <= 0) return sl_y_err(D(c), f, err, "gateway.drop_timeout: must be > 0");
    }
    if ((f = sl_y_get(g, "queue_threshold")))
      TRY(sl_y_num(D(c), f, "gateway.queue_threshold", 1, 1e6, &c->queue_threshold, err));
    if ((f = sl_y_get(g, "kv_threshold")))
      TRY(sl_y_num(D(c), f, "gateway.kv_threshold", 0.01, 1, &c->kv_threshold, err));
    TRY(load_routing(c, g, err));
  }

  // Without a models: block, each model the variants name gets an entry with no shape.
  if (c->nmodels == 0) {
    c->models = calloc((size_t)c->cfg.nvariants, sizeof *c->models);
    if (!c->models) return sl_err(err, SL_ENOMEM, "out of memory");
    for (int i = 0; i < c->cfg.nvariants; i++) {
      const char *name = c->cfg.variants[i].model;
      if (sl_cluster_find_model(c, name) >= 0) continue;
      sl_cluster_model_t *m = &c->models[c->nmodels++];
      m->rate_scale = 1;
      m->line = c->cfg.variants[i].line;
      if (!(m->name = strdup(name))) return sl_err(err, SL_ENOMEM, "out of memory");
    }
  } else {
    for (int k = 0; k < c->nmodels; k++) {
      int used = 0;
      for (int i = 0; i < c->cfg.nvariants; i++)
        used |= !strcmp(c->cfg.variants[i].model, c->models[k].name);
      if (!used)
        return sl_y_err(D(c), model_node(c, k), err, "models[%d]: no variant serves '%s'", k,
                        c->models[k].name);
    }
  }
  c->vx = calloc((size_t)c->cfg.nvariants, sizeof *c->vx);
  if (!c->vx) return sl_err(err, SL_ENOMEM, "out of memory");
  for (int i = 0; i < c->cfg.nvariants; i++) TRY(resolve_variant(c, i, err));
  // Profiles named for accelerators no variant of the model uses are typos.
  for (int k = 0; k < c->nmodels; k++) {
    const sl_yval_t *mn = model_node(c, k);
    const sl_yval_t *ps = mn ? sl_y_get(mn, "profiles") : NULL;
    for (size_t j = 0; ps && j < ps->n; j++) {
      int used = 0;
      for (int i = 0; i < c->cfg.nvariants; i++)
        used |= !strcmp(c->cfg.variants[i].model, c->models[k].name) &&
                !strcmp(c->cfg.variants[i].accelerator, ps->keys[j]);
      if (!used)
        return sl_err(
            err, SL_EINVAL, "%s:%d: models[%d].profiles.%s: no variant of '%s' runs on %s",
            c->cfg.doc.file, ps->key_lines[j], k, ps->keys[j], c->models[k].name, ps->keys[j]);
    }
  }
  return SL_OK;
}

int sl_cluster_load_buffer(sl_cluster_t *c, const char *buf, size_t len, const char *name,
                           sl_err_t *err) {
  memset(c, 0, sizeof *c);
  int rc = sl_ydoc_load_buffer(&c->cfg.doc, buf, len, name, err);
  if (rc < 0) return rc;
  if (!(c->cfg.path = strdup(name))) rc = sl_err(err, SL_ENOMEM, "out of memory");
  if (rc == 0) rc = parse_root(c, err);
  if (rc < 0) sl_cluster_deinit(c);
  return rc;
}

int sl_cluster_load(sl_cluster_t *c, const char *path, sl_err_t *err) {
  memset(c, 0, sizeof *c);
  int rc = sl_ydoc_load_file(&c->cfg.doc, path, err);
  if (rc < 0) return rc;
  char *tmp = strdup(path);
  c->cfg.path = strdup(path);
  c->cfg.dir = tmp ? strdup(dirname(tmp)) : NULL;
  free(tmp);
  if (!c->cfg.path || !c->cfg.dir) rc = sl_err(err, SL_ENOMEM, "out of memory");
  if (rc == 0) rc = parse_root(c, err);
  if (rc < 0) sl_cluster_deinit(c);
  return rc;
}
