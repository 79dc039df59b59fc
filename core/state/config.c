// sluice.yaml loader. See config.h for the schema; docs in README "Configuration".
#include "core/state/config.h"

#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *sl_role_name(sl_role_t r) {
  switch (r) {
  case SL_ROLE_PREFILL:
    return "prefill";
  case SL_ROLE_DECODE:
    return "decode";
  default:
    return "both";
  }
}

static void variant_deinit(sl_variant_t *v) {
  free(v->id), free(v->ns), free(v->name), free(v->model), free(v->accelerator);
  free(v->kind), free(v->actuator);
  free(v->slo_class);
  free(v->profile);
}

void sl_config_deinit(sl_config_t *c) {
  for (int i = 0; i < c->nslo; i++) free(c->slo_classes[i].name);
  free(c->slo_classes);
  for (int i = 0; i < c->naccels; i++) free(c->accels[i].type);
  free(c->accels);
  for (int i = 0; i < c->nvariants; i++) variant_deinit(&c->variants[i]);
  free(c->variants);
  for (int i = 0; i < c->npolicies; i++) {
    sl_policy_cfg_t *p = &c->policies[i];
    free(p->file);
    for (int k = 0; k < p->nvariants; k++) free(p->variants[k]);
    free(p->variants);
    free(p->model);
  }
  free(c->policies);
  free(c->source_kind), free(c->source_file), free(c->actuator), free(c->policy_dir);
  free(c->kube.namespace), free(c->kube.selector), free(c->kube.accelerator_label);
  free(c->prometheus.url), free(c->prometheus.namespace_label), free(c->prometheus.pod_label);
  free(c->prometheus.matchers), free(c->prometheus.bearer_token_file), free(c->prometheus.ca_file);
  for (int i = 0; i < c->nshards; i++)
    free(c->shards[i].name), free(c->shards[i].namespace), free(c->shards[i].selector);
  free(c->shards);
  free(c->lease_name), free(c->lease_namespace), free(c->metrics_bind_address);
  free(c->policy_configmap);
  free(c->repl_socket);
  free(c->path), free(c->dir);
  sl_ydoc_deinit(&c->doc);
  memset(c, 0, sizeof *c);
}

const sl_variant_t *sl_config_variant(const sl_config_t *c, const char *id) {
  for (int i = 0; i < c->nvariants; i++)
    if (!strcmp(c->variants[i].id, id)) return &c->variants[i];
  return NULL;
}

#define TRY(x)                                                                                     \
  do {                                                                                             \
    int rc_ = (x);                                                                                 \
    if (rc_ < 0) return rc_;                                                                       \
  } while (0)

int sl_config_parse_slo_classes(sl_config_t *c, const sl_yval_t *map, sl_err_t *err) {
  if (!map) return SL_OK;
  TRY(sl_y_expect(&c->doc, map, SL_Y_MAP, "slo_classes", err));
  c->slo_classes = calloc(map->n ? map->n : 1, sizeof *c->slo_classes);
  if (!c->slo_classes) return sl_err(err, SL_ENOMEM, "out of memory");
  static const char *const keys[] = {"ttft_ms", "itl_ms", "ttft_ms_per_1k_in", NULL};
  for (size_t i = 0; i < map->n; i++) {
    char path[256];
    snprintf(path, sizeof path, "slo_classes.%s", map->keys[i]);
    const sl_yval_t *v = map->items[i];
    TRY(sl_y_expect(&c->doc, v, SL_Y_MAP, path, err));
    TRY(sl_y_known_keys(&c->doc, v, path, keys, err));
    sl_slo_class_t *s = &c->slo_classes[c->nslo];
    s->ttft_ms = s->itl_ms = INFINITY;
    if (!(s->name = strdup(map->keys[i]))) return sl_err(err, SL_ENOMEM, "out of memory");
    c->nslo++;
    char fp[300];
    const sl_yval_t *f;
    if ((f = sl_y_get(v, "ttft_ms"))) {
      snprintf(fp, sizeof fp, "%s.ttft_ms", path);
      TRY(sl_y_num(&c->doc, f, fp, 1e-3, 1e9, &s->ttft_ms, err));
    }
    if ((f = sl_y_get(v, "itl_ms"))) {
      snprintf(fp, sizeof fp, "%s.itl_ms", path);
      TRY(sl_y_num(&c->doc, f, fp, 1e-3, 1e9, &s->itl_ms, err));
    }
    if ((f = sl_y_get(v, "ttft_ms_per_1k_in"))) {
      snprintf(fp, sizeof fp, "%s.ttft_ms_per_1k_in", path);
      TRY(sl_y_num(&c->doc, f, fp, 0, 1e9, &s->ttft_ms_per_1k_in, err));
      if (isinf(s->ttft_ms))
        return sl_y_err(&c->doc, f, err, "%s: ttft_ms_per_1k_in needs ttft_ms", fp);
    }
    if (isinf(s->ttft_ms) && isinf(s->itl_ms))
      return sl_y_err(&c->doc, v, err, "%s: an SLO class needs ttft_ms or itl_ms", path);
  }
  return SL_OK;
}

int sl_config_parse_accelerators(sl_config_t *c, const sl_yval_t *map, sl_err_t *err) {
  if (!map) return SL_OK;
  TRY(sl_y_expect(&c->doc, map, SL_Y_MAP, "accelerators", err));
  c->accels = calloc(map->n ? map->n : 1, sizeof *c->accels);
  if (!c->accels) return sl_err(err, SL_ENOMEM, "out of memory");
  static const char *const keys[] = {"count", "cost", NULL};
  for (size_t i = 0; i < map->n; i++) {
    char path[256], fp[300];
    snprintf(path, sizeof path, "accelerators.%s", map->keys[i]);
    const sl_yval_t *v = map->items[i], *f;
    TRY(sl_y_expect(&c->doc, v, SL_Y_MAP, path, err));
    TRY(sl_y_known_keys(&c->doc, v, path, keys, err));
    sl_accel_cfg_t *a = &c->accels[c->naccels];
    if (!(a->type = strdup(map->keys[i]))) return sl_err(err, SL_ENOMEM, "out of memory");
    c->naccels++;
    long long n = 0;
    if ((f = sl_y_get(v, "count"))) {
      snprintf(fp, sizeof fp, "%s.count", path);
      TRY(sl_y_int(&c->doc, f, fp, 0, 1000000, &n, err));
    }
    a->count = (int)n;
    if ((f = sl_y_get(v, "cost"))) {
      snprintf(fp, sizeof fp, "%s.cost", path);
      TRY(sl_y_num(&c->doc, f, fp, 0, 1e9, &a->cost, err));
    }
  }
  return SL_OK;
}

static const sl_accel_cfg_t *find_accel(const sl_config_t *c, const char *type) {
  for (int i = 0; i < c->naccels; i++)
    if (!strcmp(c->accels[i].type, type)) return &c->accels[i];
  return NULL;
}

static int parse_engine(sl_config_t *c, const sl_yval_t *v, const char *path, sl_engine_t *e,
                        sl_err_t *err) {
  static const char *const keys[] = {"max_num_seqs", "max_num_batched_tokens", "block_size",
                                     "kv_capacity_tokens", NULL};
  TRY(sl_y_expect(&c->doc, v, SL_Y_MAP, path, err));
  TRY(sl_y_known_keys(&c->doc, v, path, keys, err));
  char fp[300];
  long long n;
  const sl_yval_t *f;
  if ((f = sl_y_get(v, "max_num_seqs"))) {
    snprintf(fp, sizeof fp, "%s.max_num_seqs", path);
    TRY(sl_y_int(&c->doc, f, fp, 1, 1 << 20, &n, err));
    e->max_num_seqs = (int)n;
  }
  if ((f = sl_y_get(v, "max_num_batched_tokens"))) {
    snprintf(fp, sizeof fp, "%s.max_num_batched_tokens", path);
    TRY(sl_y_int(&c->doc, f, fp, 1, 1 << 24, &n, err));
    e->max_num_batched_tokens = (int)n;
  }
  if ((f = sl_y_get(v, "block_size"))) {
    snprintf(fp, sizeof fp, "%s.block_size", path);
    TRY(sl_y_int(&c->doc, f, fp, 1, 4096, &n, err));
    e->block_size = (int)n;
  }
  if ((f = sl_y_get(v, "kv_capacity_tokens"))) {
    snprintf(fp, sizeof fp, "%s.kv_capacity_tokens", path);
    TRY(sl_y_num(&c->doc, f, fp, 0, 1e12, &e->kv_capacity_tokens, err));
  }
  return SL_OK;
}

static int parse_tokens(sl_config_t *c, const sl_yval_t *v, const char *path, sl_tokens_t *t,
                        sl_err_t *err) {
  static const char *const keys[] = {"input", "output", "input_cv", "output_cv", NULL};
  TRY(sl_y_expect(&c->doc, v, SL_Y_MAP, path, err));
  TRY(sl_y_known_keys(&c->doc, v, path, keys, err));
  const sl_yval_t *f;
  char fp[300];
  if (!(f = sl_y_get(v, "input")) || !sl_y_get(v, "output"))
    return sl_y_err(&c->doc, v, err, "%s: needs input and output (mean tokens per request)", path);
  static const char *const names[] = {"input", "output", "input_cv", "output_cv"};
  double *dst[] = {&t->input, &t->output, &t->input_cv, &t->output_cv};
  static const double lo[] = {1, 1, 0, 0}, hi[] = {1e7, 1e7, 100, 100};
  for (int k = 0; k < 4; k++)
    if ((f = sl_y_get(v, names[k]))) {
      snprintf(fp, sizeof fp, "%s.%s", path, names[k]);
      TRY(sl_y_num(&c->doc, f, fp, lo[k], hi[k], dst[k], err));
    }
  return SL_OK;
}

static int parse_variant(sl_config_t *c, const sl_yval_t *v, int i, sl_variant_t *out,
                         sl_err_t *err) {
  static const char *const keys[] = {
      "id",     "namespace", "name", "model",    "accelerator", "gpus_per_replica",
      "role",   "cost",      "min",  "max",      "priority",    "slo_class",
      "engine", "profile",   "kind", "actuator", "tokens",      NULL};
  char path[64], fp[128];
  snprintf(path, sizeof path, "variants[%d]", i);
  TRY(sl_y_expect(&c->doc, v, SL_Y_MAP, path, err));
  TRY(sl_y_known_keys(&c->doc, v, path, keys, err));
  out->line = v->line;
  out->gpus_per_replica = 1;
  out->min = 1;
  out->max = 100;
  out->cost = NAN;
  out->engine = (sl_engine_t){256, 8192, 16, 0};
  const sl_yval_t *f;
#define FIELD(key) (snprintf(fp, sizeof fp, "%s.%s", path, key), sl_y_get(v, key))
  if ((f = FIELD("id"))) {
    TRY(sl_y_str(&c->doc, f, fp, &out->id, err));
    char *slash = strchr(out->id, '/');
    if (!slash || slash == out->id || !slash[1] || strchr(slash + 1, '/'))
      return sl_y_err(&c->doc, f, err, "%s: variant id must be namespace/name, got '%s'", fp,
                      out->id);
    out->ns = strndup(out->id, slash - out->id);
    out->name = strdup(slash + 1);
  } else {
    if (!(f = FIELD("name"))) return sl_y_err(&c->doc, v, err, "%s: needs an id or a name", path);
    TRY(sl_y_str(&c->doc, f, fp, &out->name, err));
    if ((f = FIELD("namespace")))
      TRY(sl_y_str(&c->doc, f, fp, &out->ns, err));
    else
      out->ns = strdup("default");
    if (!out->ns || asprintf(&out->id, "%s/%s", out->ns, out->name) < 0) out->id = NULL;
  }
  if (!out->id || !out->ns || !out->name) return sl_err(err, SL_ENOMEM, "out of memory");
  if (!(f = FIELD("model"))) return sl_y_err(&c->doc, v, err, "%s: model is required", path);
  TRY(sl_y_str(&c->doc, f, fp, &out->model, err));
  if ((f = FIELD("accelerator"))) {
    TRY(sl_y_str(&c->doc, f, fp, &out->accelerator, err));
    // With an inventory declared, a type it does not list is a typo that would otherwise leave
    // the variant outside every count and cost.
    if (c->naccels > 0 && !find_accel(c, out->accelerator)) {
      char known[256] = "";
      size_t k = 0;
      for (int i = 0; i < c->naccels && k < sizeof known; i++)
        k +=
            (size_t)snprintf(known + k, sizeof known - k, "%s%s", i ? ", " : "", c->accels[i].type);
      return sl_y_err(&c->doc, f, err, "%s: '%s' is not in accelerators: (%s)", fp,
                      out->accelerator, known);
    }
  } else if (!(out->accelerator = strdup("unknown"))) {
    return sl_err(err, SL_ENOMEM, "out of memory");
  }
  long long n;
  if ((f = FIELD("gpus_per_replica"))) {
    TRY(sl_y_int(&c->doc, f, fp, 1, 1024, &n, err));
    out->gpus_per_replica = (int)n;
  }
  if ((f = FIELD("role"))) {
    TRY(sl_y_expect(&c->doc, f, SL_Y_SCALAR, fp, err));
    if (!strcmp(f->str, "both"))
      out->role = SL_ROLE_BOTH;
    else if (!strcmp(f->str, "prefill"))
      out->role = SL_ROLE_PREFILL;
    else if (!strcmp(f->str, "decode"))
      out->role = SL_ROLE_DECODE;
    else
      return sl_y_err(&c->doc, f, err, "%s: expected both, prefill or decode, got '%s'", fp,
                      f->str);
  }
  if ((f = FIELD("cost"))) TRY(sl_y_num(&c->doc, f, fp, 0, 1e9, &out->cost, err));
  if ((f = FIELD("min"))) {
    TRY(sl_y_int(&c->doc, f, fp, 0, 100000, &n, err));
    out->min = (int)n;
  }
  if ((f = FIELD("max"))) {
    TRY(sl_y_int(&c->doc, f, fp, 0, 100000, &n, err));
    out->max = (int)n;
  }
  if (out->max < out->min)
    return sl_y_err(&c->doc, f ? f : v, err, "%s: max %d is below min %d", path, out->max,
                    out->min);
  if ((f = FIELD("priority"))) {
    TRY(sl_y_int(&c->doc, f, fp, -1000000000, 1000000000, &n, err));
    out->priority = (int)n;
  }
  if ((f = FIELD("slo_class"))) {
    TRY(sl_y_str(&c->doc, f, fp, &out->slo_class, err));
    for (int k = 0; k < c->nslo; k++)
      if (!strcmp(c->slo_classes[k].name, out->slo_class)) out->slo = &c->slo_classes[k];
    if (!out->slo)
      return sl_y_err(&c->doc, f, err, "%s: no SLO class named '%s' in slo_classes", fp,
                      out->slo_class);
  }
  if ((f = FIELD("engine"))) TRY(parse_engine(c, f, fp, &out->engine, err));
  if ((f = FIELD("tokens"))) TRY(parse_tokens(c, f, fp, &out->tokens, err));
  if ((f = FIELD("kind"))) {
    TRY(sl_y_str(&c->doc, f, fp, &out->kind, err));
    if (strcmp(out->kind, "Deployment") && strcmp(out->kind, "LeaderWorkerSet"))
      return sl_y_err(&c->doc, f, err,
                      "%s: '%s' is not a workload kind sluice scales "
                      "(Deployment, LeaderWorkerSet)",
                      fp, out->kind);
  } else if (!(out->kind = strdup("Deployment"))) {
    return sl_err(err, SL_ENOMEM, "out of memory");
  }
  if ((f = FIELD("actuator"))) {
    TRY(sl_y_str(&c->doc, f, fp, &out->actuator, err));
    if (!sl_config_actuator_known(out->actuator))
      return sl_y_err(&c->doc, f, err, "%s: unknown actuator '%s' (available: %s)", fp,
                      out->actuator, SL_CONFIG_ACTUATORS);
  }
  if ((f = FIELD("profile"))) TRY(sl_y_str(&c->doc, f, fp, &out->profile, err));
#undef FIELD
  if (isnan(out->cost)) {
    // Unit cost of the accelerator type times GPUs, else WVA's default variant cost.
    const sl_accel_cfg_t *a = find_accel(c, out->accelerator);
    out->cost = a && a->cost > 0 ? a->cost * out->gpus_per_replica : 10.0;
  }
  return SL_OK;
}

int sl_config_parse_variants(sl_config_t *c, const sl_yval_t *seq, sl_err_t *err) {
  if (!seq) return SL_OK;
  TRY(sl_y_expect(&c->doc, seq, SL_Y_SEQ, "variants", err));
  c->variants = calloc(seq->n ? seq->n : 1, sizeof *c->variants);
  if (!c->variants) return sl_err(err, SL_ENOMEM, "out of memory");
  for (size_t i = 0; i < seq->n; i++) {
    sl_variant_t *v = &c->variants[c->nvariants++];
    TRY(parse_variant(c, seq->items[i], (int)i, v, err));
    for (int k = 0; k < c->nvariants - 1; k++)
      if (!strcmp(c->variants[k].id, v->id))
        return sl_y_err(&c->doc, seq->items[i], err,
                        "variants[%zu]: duplicate variant id '%s' (first at line %d)", i, v->id,
                        c->variants[k].line);
  }
  return SL_OK;
}

int sl_config_add_variants(sl_config_t *c, const sl_ydoc_t *doc, const sl_yval_t *seq,
                           sl_err_t *err) {
  if (!seq) return SL_OK;
  sl_config_t tmp = *c; // c's SLO classes; doc's lines in errors; no inventory check (below)
  tmp.doc = *doc;
  tmp.naccels = 0; // a discovered variant's type need not be in sluice.yaml's accelerators
  TRY(sl_y_expect(doc, seq, SL_Y_SEQ, "variants", err));
  for (size_t i = 0; i < seq->n; i++) {
    sl_variant_t v = {0};
    int rc = parse_variant(&tmp, seq->items[i], (int)i, &v, err);
    if (rc == 0 && sl_config_variant(c, v.id)) rc = 1; // c lists it: c's wins
    sl_variant_t *nv = rc == 0 ? realloc(c->variants, (c->nvariants + 1) * sizeof *nv) : NULL;
    if (rc == 0 && !nv) rc = sl_err(err, SL_ENOMEM, "out of memory");
    if (rc != 0) {
      variant_deinit(&v);
      if (rc < 0) return rc;
      continue;
    }
    v.discovered = 1;
    c->variants = nv;
    c->variants[c->nvariants++] = v;
  }
  return SL_OK;
}

static int parse_policy(sl_config_t *c, const sl_yval_t *v, int i, sl_policy_cfg_t *p,
                        sl_err_t *err) {
  static const char *const keys[] = {"file",   "variants", "model",      "params", "period",
                                     "budget", "memory",   "time_limit", "shadow", NULL};
  char path[64], fp[128];
  snprintf(path, sizeof path, "policies[%d]", i);
  if (v && v->type == SL_Y_SCALAR) { // shorthand: - hpa
    p->line = v->line;
    return sl_y_str(&c->doc, v, path, &p->file, err);
  }
  TRY(sl_y_expect(&c->doc, v, SL_Y_MAP, path, err));
  TRY(sl_y_known_keys(&c->doc, v, path, keys, err));
  p->line = v->line;
  const sl_yval_t *f;
#define FIELD(key) (snprintf(fp, sizeof fp, "%s.%s", path, key), sl_y_get(v, key))
  if (!(f = FIELD("file"))) return sl_y_err(&c->doc, v, err, "%s: file is required", path);
  TRY(sl_y_str(&c->doc, f, fp, &p->file, err));
  if ((f = FIELD("variants"))) {
    TRY(sl_y_expect(&c->doc, f, SL_Y_SEQ, fp, err));
    p->variants = calloc(f->n ? f->n : 1, sizeof *p->variants);
    if (!p->variants) return sl_err(err, SL_ENOMEM, "out of memory");
    for (size_t k = 0; k < f->n; k++) {
      char ip[160];
      snprintf(ip, sizeof ip, "%s[%zu]", fp, k);
      TRY(sl_y_str(&c->doc, f->items[k], ip, &p->variants[p->nvariants], err));
      p->nvariants++;
      if (!sl_config_variant(c, p->variants[p->nvariants - 1]))
        return sl_y_err(&c->doc, f->items[k], err, "%s: no variant '%s' in variants", ip,
                        p->variants[p->nvariants - 1]);
    }
  }
  if ((f = FIELD("model"))) {
    TRY(sl_y_str(&c->doc, f, fp, &p->model, err));
    // A cluster that discovers variants may serve the model from workloads not listed here.
    int any = c->kube.enabled && c->kube.discover;
    for (int k = 0; k < c->nvariants; k++) any |= !strcmp(c->variants[k].model, p->model);
    if (!any) return sl_y_err(&c->doc, f, err, "%s: no variant serves model '%s'", fp, p->model);
  }
  if ((f = FIELD("params"))) {
    TRY(sl_y_expect(&c->doc, f, SL_Y_MAP, fp, err));
    p->params = f;
  }
  if ((f = FIELD("period"))) {
    TRY(sl_y_duration(&c->doc, f, fp, &p->period, err));
    if (p->period < 0.01) return sl_y_err(&c->doc, f, err, "%s: must be at least 10ms", fp);
  }
  if ((f = FIELD("budget"))) {
    long long n;
    TRY(sl_y_int(&c->doc, f, fp, 1000, 10000000000LL, &n, err));
    p->budget = (uint64_t)n;
  }
  if ((f = FIELD("memory"))) {
    TRY(sl_y_size(&c->doc, f, fp, &p->memory, err));
    if (p->memory < (1u << 20)) return sl_y_err(&c->doc, f, err, "%s: must be at least 1MiB", fp);
  }
  if ((f = FIELD("time_limit"))) {
    TRY(sl_y_duration(&c->doc, f, fp, &p->time_limit, err));
    if (!(p->time_limit >= 0.001) || p->time_limit > 60)
      return sl_y_err(&c->doc, f, err, "%s: must be between 1ms and 60s", fp);
  }
  if ((f = FIELD("shadow"))) TRY(sl_y_bool(&c->doc, f, fp, &p->shadow, err));
#undef FIELD
  return SL_OK;
}

int sl_config_actuator_known(const char *name) {
  static const char *const known[] = {"log", "scale", "metric", "keda-metrics-api", NULL};
  for (const char *const *k = known; *k; k++)
    if (!strcmp(*k, name)) return 1;
  return 0;
}

static int parse_prometheus(sl_config_t *c, const sl_yval_t *k, sl_err_t *err) {
  static const char *const pk[] = {
      "url",      "interval",          "timeout", "namespace_label",          "pod_label",
      "matchers", "bearer_token_file", "ca_file", "insecure_skip_tls_verify", NULL};
  sl_prom_cfg_t *p = &c->prometheus;
  const sl_yval_t *f;
  TRY(sl_y_expect(&c->doc, k, SL_Y_MAP, "source.prometheus", err));
  TRY(sl_y_known_keys(&c->doc, k, "source.prometheus", pk, err));
  if (sl_y_get(sl_y_get(c->doc.root, "source"), "scrape"))
    return sl_y_err(&c->doc, k, err,
                    "source: scrape and prometheus cannot be combined (pick where the series "
                    "come from)");
  if (!(f = sl_y_get(k, "url")))
    return sl_y_err(&c->doc, k, err, "source.prometheus.url: required");
  TRY(sl_y_str(&c->doc, f, "source.prometheus.url", &p->url, err));
  if (strncmp(p->url, "http://", 7) && strncmp(p->url, "https://", 8))
    return sl_y_err(&c->doc, f, err, "source.prometheus.url: want http:// or https://, got '%s'",
                    p->url);
  if ((f = sl_y_get(k, "interval"))) {
    TRY(sl_y_duration(&c->doc, f, "source.prometheus.interval", &p->interval, err));
    if (!(p->interval >= 0.1) || p->interval > 3600)
      return sl_y_err(&c->doc, f, err, "source.prometheus.interval: must be between 100ms and 1h");
  }
  if ((f = sl_y_get(k, "timeout"))) {
    TRY(sl_y_duration(&c->doc, f, "source.prometheus.timeout", &p->timeout, err));
    if (!(p->timeout > 0) || p->timeout > 600)
      return sl_y_err(&c->doc, f, err, "source.prometheus.timeout: must be between 0 and 10m");
  }
  if ((f = sl_y_get(k, "namespace_label")))
    TRY(sl_y_str(&c->doc, f, "source.prometheus.namespace_label", &p->namespace_label, err));
  if ((f = sl_y_get(k, "pod_label")))
    TRY(sl_y_str(&c->doc, f, "source.prometheus.pod_label", &p->pod_label, err));
  if ((f = sl_y_get(k, "matchers")))
    TRY(sl_y_str(&c->doc, f, "source.prometheus.matchers", &p->matchers, err));
  if ((f = sl_y_get(k, "bearer_token_file")))
    TRY(sl_y_str(&c->doc, f, "source.prometheus.bearer_token_file", &p->bearer_token_file, err));
  if ((f = sl_y_get(k, "ca_file")))
    TRY(sl_y_str(&c->doc, f, "source.prometheus.ca_file", &p->ca_file, err));
  if ((f = sl_y_get(k, "insecure_skip_tls_verify")))
    TRY(sl_y_bool(&c->doc, f, "source.prometheus.insecure_skip_tls_verify",
                  &p->insecure_skip_tls_verify, err));
  p->enabled = 1;
  c->scrape.enabled = 0; // the series come from Prometheus
  return SL_OK;
}

static int parse_source(sl_config_t *c, const sl_yval_t *g, sl_err_t *err) {
  static const char *const sk[] = {"fixture", "kubernetes", "scrape", "prometheus", NULL};
  const sl_yval_t *f, *k;
  TRY(sl_y_expect(&c->doc, g, SL_Y_MAP, "source", err));
  TRY(sl_y_known_keys(&c->doc, g, "source", sk, err));
  if ((f = sl_y_get(g, "fixture"))) {
    TRY(sl_y_str(&c->doc, f, "source.fixture", &c->source_file, err));
    if (!(c->source_kind = strdup("fixture"))) return sl_err(err, SL_ENOMEM, "out of memory");
  }
  if ((k = sl_y_get(g, "kubernetes"))) {
    if (c->source_kind)
      return sl_y_err(&c->doc, k, err, "source: fixture and kubernetes cannot be combined");
    if (!(c->source_kind = strdup("kubernetes"))) return sl_err(err, SL_ENOMEM, "out of memory");
    c->kube.enabled = 1;
    if (k->type != SL_Y_NULL) {
      static const char *const kk[] = {
          "namespace", "selector", "accelerator_label", "discover", "qps", "burst", NULL};
      TRY(sl_y_expect(&c->doc, k, SL_Y_MAP, "source.kubernetes", err));
      TRY(sl_y_known_keys(&c->doc, k, "source.kubernetes", kk, err));
      if ((f = sl_y_get(k, "namespace")))
        TRY(sl_y_str(&c->doc, f, "source.kubernetes.namespace", &c->kube.namespace, err));
      if ((f = sl_y_get(k, "selector")))
        TRY(sl_y_str(&c->doc, f, "source.kubernetes.selector", &c->kube.selector, err));
      if ((f = sl_y_get(k, "accelerator_label")))
        TRY(sl_y_str(&c->doc, f, "source.kubernetes.accelerator_label", &c->kube.accelerator_label,
                     err));
      if ((f = sl_y_get(k, "discover")))
        TRY(sl_y_bool(&c->doc, f, "source.kubernetes.discover", &c->kube.discover, err));
      if ((f = sl_y_get(k, "qps")))
        TRY(sl_y_num(&c->doc, f, "source.kubernetes.qps", 0.1, 10000, &c->kube.qps, err));
      long long n;
      if ((f = sl_y_get(k, "burst"))) {
        TRY(sl_y_int(&c->doc, f, "source.kubernetes.burst", 1, 100000, &n, err));
        c->kube.burst = (int)n;
      }
    }
  }
  if ((k = sl_y_get(g, "scrape"))) {
    if (k->type != SL_Y_NULL) {
      static const char *const pk[] = {"enabled", "interval", "timeout", "backoff_max", NULL};
      TRY(sl_y_expect(&c->doc, k, SL_Y_MAP, "source.scrape", err));
      TRY(sl_y_known_keys(&c->doc, k, "source.scrape", pk, err));
      if ((f = sl_y_get(k, "enabled")))
        TRY(sl_y_bool(&c->doc, f, "source.scrape.enabled", &c->scrape.enabled, err));
      if ((f = sl_y_get(k, "interval"))) {
        TRY(sl_y_duration(&c->doc, f, "source.scrape.interval", &c->scrape.interval, err));
        if (!(c->scrape.interval >= 0.05) || c->scrape.interval > 3600)
          return sl_y_err(&c->doc, f, err, "source.scrape.interval: must be between 50ms and 1h");
      }
      if ((f = sl_y_get(k, "timeout"))) {
        TRY(sl_y_duration(&c->doc, f, "source.scrape.timeout", &c->scrape.timeout, err));
        if (!(c->scrape.timeout > 0) || c->scrape.timeout > 600)
          return sl_y_err(&c->doc, f, err, "source.scrape.timeout: must be between 0 and 10m");
        // As Prometheus requires: a scrape never runs into the next one's slot.
        if (c->scrape.timeout > c->scrape.interval)
          return sl_y_err(&c->doc, f, err,
                          "source.scrape.timeout: %gs is longer than source.scrape.interval (%gs)",
                          c->scrape.timeout, c->scrape.interval);
      }
      if ((f = sl_y_get(k, "backoff_max"))) {
        TRY(sl_y_duration(&c->doc, f, "source.scrape.backoff_max", &c->scrape.backoff_max, err));
        if (!(c->scrape.backoff_max > 0) || c->scrape.backoff_max > 3600)
          return sl_y_err(&c->doc, f, err, "source.scrape.backoff_max: must be between 0 and 1h");
      }
    }
  }
  if ((k = sl_y_get(g, "prometheus"))) TRY(parse_prometheus(c, k, err));
  return SL_OK;
}

static int parse_shards(sl_config_t *c, const sl_yval_t *g, sl_err_t *err) {
  TRY(sl_y_expect(&c->doc, g, SL_Y_MAP, "shards", err));
  c->shards = calloc(g->n ? g->n : 1, sizeof *c->shards);
  if (!c->shards) return sl_err(err, SL_ENOMEM, "out of memory");
  for (size_t i = 0; i < g->n; i++) {
    static const char *const sk[] = {"namespace", "selector", NULL};
    char path[160], fp[200];
    snprintf(path, sizeof path, "shards.%s", g->keys[i]);
    const sl_yval_t *v = g->items[i], *f;
    sl_shard_cfg_t *sh = &c->shards[c->nshards++];
    if (!(sh->name = strdup(g->keys[i]))) return sl_err(err, SL_ENOMEM, "out of memory");
    TRY(sl_y_expect(&c->doc, v, SL_Y_MAP, path, err));
    TRY(sl_y_known_keys(&c->doc, v, path, sk, err));
    snprintf(fp, sizeof fp, "%s.namespace", path);
    if ((f = sl_y_get(v, "namespace"))) TRY(sl_y_str(&c->doc, f, fp, &sh->namespace, err));
    snprintf(fp, sizeof fp, "%s.selector", path);
    if ((f = sl_y_get(v, "selector"))) TRY(sl_y_str(&c->doc, f, fp, &sh->selector, err));
    if (!sh->namespace && !sh->selector)
      return sl_y_err(&c->doc, v, err, "%s: needs a namespace, a selector or both", path);
  }
  return SL_OK;
}

static int parse_root(sl_config_t *c, sl_err_t *err) {
  static const char *const keys[] = {"interval",
                                     "window",
                                     "guard",
                                     "source",
                                     "actuator",
                                     "policy_dir",
                                     "slo_classes",
                                     "accelerators",
                                     "variants",
                                     "policies",
                                     "shards",
                                     "leader_election",
                                     "metrics_bind_address",
                                     "repl_socket",
                                     "policy_configmap",
                                     NULL};
  const sl_yval_t *r = c->doc.root, *f, *g;
  c->interval = 1;
  c->window = 60;
  c->guard.stale_after = 60;
  c->kube.qps = 20;
  c->kube.burst = 30;
  c->kube.discover = 1;
  c->scrape.enabled = 1;
  c->scrape.interval = 1;
  c->scrape.timeout = 0; // 80% of the interval
  c->scrape.backoff_max = 10;
  c->prometheus.interval = 1;
  if (!r) return sl_y_err(&c->doc, NULL, err, "empty configuration");
  TRY(sl_y_expect(&c->doc, r, SL_Y_MAP, "top level", err));
  TRY(sl_y_known_keys(&c->doc, r, "", keys, err));
  if ((f = sl_y_get(r, "interval"))) {
    TRY(sl_y_duration(&c->doc, f, "interval", &c->interval, err));
    if (c->interval < 0.01) return sl_y_err(&c->doc, f, err, "interval: must be at least 10ms");
  }
  if ((f = sl_y_get(r, "window"))) {
    TRY(sl_y_duration(&c->doc, f, "window", &c->window, err));
    if (c->window <= 0) return sl_y_err(&c->doc, f, err, "window: must be positive");
  }
  if ((g = sl_y_get(r, "guard"))) {
    static const char *const gk[] = {"max_step", "stale_after", "dry_run", "paused", NULL};
    TRY(sl_y_expect(&c->doc, g, SL_Y_MAP, "guard", err));
    TRY(sl_y_known_keys(&c->doc, g, "guard", gk, err));
    long long n;
    if ((f = sl_y_get(g, "max_step"))) {
      TRY(sl_y_int(&c->doc, f, "guard.max_step", 0, 100000, &n, err));
      c->guard.max_step = (int)n;
    }
    if ((f = sl_y_get(g, "stale_after")))
      TRY(sl_y_duration(&c->doc, f, "guard.stale_after", &c->guard.stale_after, err));
    if ((f = sl_y_get(g, "dry_run")))
      TRY(sl_y_bool(&c->doc, f, "guard.dry_run", &c->guard.dry_run, err));
    if ((f = sl_y_get(g, "paused")))
      TRY(sl_y_bool(&c->doc, f, "guard.paused", &c->guard.paused, err));
  }
  if ((g = sl_y_get(r, "source"))) TRY(parse_source(c, g, err));
  if (!c->kube.accelerator_label && !(c->kube.accelerator_label = strdup("nvidia.com/gpu.product")))
    return sl_err(err, SL_ENOMEM, "out of memory");
  if ((f = sl_y_get(r, "actuator"))) {
    TRY(sl_y_str(&c->doc, f, "actuator", &c->actuator, err));
    if (!sl_config_actuator_known(c->actuator))
      return sl_y_err(&c->doc, f, err, "actuator: unknown actuator '%s' (available: %s)",
                      c->actuator, SL_CONFIG_ACTUATORS);
  } else if (!(c->actuator = strdup(c->kube.enabled ? "scale" : "log"))) {
    return sl_err(err, SL_ENOMEM, "out of memory");
  }
  if ((g = sl_y_get(r, "shards"))) TRY(parse_shards(c, g, err));
  if ((g = sl_y_get(r, "leader_election"))) {
    static const char *const lk[] = {"lease", "namespace", NULL};
    TRY(sl_y_expect(&c->doc, g, SL_Y_MAP, "leader_election", err));
    TRY(sl_y_known_keys(&c->doc, g, "leader_election", lk, err));
    if ((f = sl_y_get(g, "lease")))
      TRY(sl_y_str(&c->doc, f, "leader_election.lease", &c->lease_name, err));
    if ((f = sl_y_get(g, "namespace")))
      TRY(sl_y_str(&c->doc, f, "leader_election.namespace", &c->lease_namespace, err));
  }
  if ((f = sl_y_get(r, "metrics_bind_address")))
    TRY(sl_y_str(&c->doc, f, "metrics_bind_address", &c->metrics_bind_address, err));
  if ((f = sl_y_get(r, "policy_configmap"))) {
    TRY(sl_y_str(&c->doc, f, "policy_configmap", &c->policy_configmap, err));
    const char *sl = strchr(c->policy_configmap, '/');
    if (!c->policy_configmap[0] ||
        (sl && (sl == c->policy_configmap || !sl[1] || strchr(sl + 1, '/'))))
      return sl_y_err(&c->doc, f, err, "policy_configmap: want NAME or NAMESPACE/NAME, got '%s'",
                      c->policy_configmap);
  }
  if ((f = sl_y_get(r, "policy_dir"))) {
    char *d;
    TRY(sl_y_str(&c->doc, f, "policy_dir", &d, err));
    if (d[0] == '/' || !c->dir)
      c->policy_dir = d;
    else {
      if (asprintf(&c->policy_dir, "%s/%s", c->dir, d) < 0) c->policy_dir = NULL;
      free(d);
    }
  } else {
    c->policy_dir = strdup(c->dir ? c->dir : ".");
  }
  if (!c->policy_dir) return sl_err(err, SL_ENOMEM, "out of memory");
  if ((f = sl_y_get(r, "repl_socket"))) {
    char *sp;
    TRY(sl_y_str(&c->doc, f, "repl_socket", &sp, err));
    if (!strcmp(sp, "off")) sp[0] = '\0';
    if (sp[0] && sp[0] != '/' && c->dir) {
      if (asprintf(&c->repl_socket, "%s/%s", c->dir, sp) < 0) c->repl_socket = NULL;
      free(sp);
    } else {
      c->repl_socket = sp;
    }
    if (!c->repl_socket) return sl_err(err, SL_ENOMEM, "out of memory");
  }
  TRY(sl_config_parse_slo_classes(c, sl_y_get(r, "slo_classes"), err));
  TRY(sl_config_parse_accelerators(c, sl_y_get(r, "accelerators"), err));
  TRY(sl_config_parse_variants(c, sl_y_get(r, "variants"), err));
  if ((g = sl_y_get(r, "policies"))) {
    TRY(sl_y_expect(&c->doc, g, SL_Y_SEQ, "policies", err));
    c->policies = calloc(g->n ? g->n : 1, sizeof *c->policies);
    if (!c->policies) return sl_err(err, SL_ENOMEM, "out of memory");
    for (size_t i = 0; i < g->n; i++) {
      c->npolicies++;
      TRY(parse_policy(c, g->items[i], (int)i, &c->policies[i], err));
    }
  }
  if (c->source_file && c->source_file[0] != '/' && c->dir) {
    char *p;
    if (asprintf(&p, "%s/%s", c->dir, c->source_file) < 0)
      return sl_err(err, SL_ENOMEM, "out of memory");
    free(c->source_file);
    c->source_file = p;
  }
  return SL_OK;
}

int sl_config_load_buffer(sl_config_t *c, const char *buf, size_t len, const char *name,
                          sl_err_t *err) {
  memset(c, 0, sizeof *c);
  int rc = sl_ydoc_load_buffer(&c->doc, buf, len, name, err);
  if (rc < 0) return rc;
  if (!(c->path = strdup(name))) rc = sl_err(err, SL_ENOMEM, "out of memory");
  if (rc == 0) rc = parse_root(c, err);
  if (rc < 0) sl_config_deinit(c);
  return rc;
}

int sl_config_load(sl_config_t *c, const char *path, sl_err_t *err) {
  memset(c, 0, sizeof *c);
  int rc = sl_ydoc_load_file(&c->doc, path, err);
  if (rc < 0) return rc;
  char *tmp = strdup(path);
  c->path = strdup(path);
  c->dir = tmp ? strdup(dirname(tmp)) : NULL;
  free(tmp);
  if (!c->path || !c->dir) rc = sl_err(err, SL_ENOMEM, "out of memory");
  if (rc == 0) rc = parse_root(c, err);
  if (rc < 0) sl_config_deinit(c);
  return rc;
}
