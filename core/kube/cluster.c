// The cluster source. See cluster.h.
#include "core/kube/cluster.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/kube/informer.h"
#include "core/kube/node.h"
#include "core/kube/pod.h"
#include "core/kube/workload.h"
#include "core/util/log.h"
#include "core/util/map.h"

enum { INF_DEPLOY, INF_LWS, INF_PODS, INF_NODES, INF_HPA, INF_SO, INF_VA, INF__COUNT };

static const struct {
  const char *group, *version, *resource;
  int optional;     // only when the API serves the group
  int scoped;       // limited to the configured namespace
  int use_selector; // limited by the configured label selector
} resources[INF__COUNT] = {
    [INF_DEPLOY] = {"apps", "v1", "deployments", 0, 1, 1},
    [INF_LWS] = {"leaderworkerset.x-k8s.io", "v1", "leaderworkersets", 1, 1, 1},
    [INF_PODS] = {"", "v1", "pods", 0, 1, 0},
    [INF_NODES] = {"", "v1", "nodes", 0, 0, 0},
    [INF_HPA] = {"autoscaling", "v2", "horizontalpodautoscalers", 0, 1, 0},
    [INF_SO] = {"keda.sh", "v1alpha1", "scaledobjects", 1, 1, 0},
    [INF_VA] = {"llmd.ai", "v1alpha1", "variantautoscalings", 1, 1, 0},
};

// What the cluster keeps of a VariantAutoscaling.
typedef struct {
  char *namespace, *name, *target_kind, *target_name, *model;
  double cost;
  int min, max;
} va_t;

struct sl_kube_cluster {
  sl_kube_client_t *client;
  sl_sched_t *sched;
  const sl_config_t *cfg;
  char *namespace, *selector, *accel_label;
  double stale_after;
  sl_informer_t *inf[INF__COUNT];
  int served[INF__COUNT];
  int discovered;         // the API's groups are known and the informers started
  sl_kube_call_t *groups; // GET /apis in flight
  uint64_t retry;         // a scheduled retry of it (0: none)
  char fatal[SL_ERR_MAX]; // an error retrying cannot fix ("" while there is none)
  sl_kube_pod_proj_t podproj;
  sl_kube_workload_proj_t wproj;
  sl_kube_node_proj_t nproj;
  sl_source_t source;
  sl_store_t *store;
  sl_map_t seen;  // pod keys written into the store at the last sync
  char **missing; // variants whose workload was missing (warned once each)
  int nmissing;
  sl_kube_targets_fn on_targets;
  void *targets_ud;
  uint64_t targets_hash;
  int targets_known;
};

static const char *const pod_annotations[] = {"llm-d.ai/", "sluice.io/", "prometheus.io/", NULL};

// ---- records ------------------------------------------------------------------------------------

static void va_free(void *ud, void *rec) {
  (void)ud;
  va_t *v = rec;
  if (!v) return;
  free(v->namespace), free(v->name), free(v->target_kind), free(v->target_name), free(v->model);
  free(v);
}

static void *va_project(void *ud, const sl_json_t *obj, size_t *bytes) {
  (void)ud;
  va_t *v = calloc(1, sizeof *v);
  if (!v) return NULL;
  const sl_json_t *meta = sl_json_get(obj, "metadata"), *spec = sl_json_get(obj, "spec");
  const sl_json_t *ref = sl_json_get(spec, "scaleTargetRef");
  v->namespace = strdup(sl_json_str_or(sl_json_get(meta, "namespace"), ""));
  v->name = strdup(sl_json_str_or(sl_json_get(meta, "name"), ""));
  v->target_kind = strdup(sl_json_str_or(sl_json_get(ref, "kind"), "Deployment"));
  // The model-based shape had no target: the VA's name was the Deployment's.
  v->target_name = strdup(sl_json_str_or(sl_json_get(ref, "name"), v->name ? v->name : ""));
  v->model = strdup(sl_json_str_or(sl_json_get(spec, "modelID"), ""));
  const char *cost = sl_json_str_or(sl_json_get(spec, "variantCost"), NULL);
  v->cost = cost ? strtod(cost, NULL) : NAN;
  const sl_json_t *mn = sl_json_get(spec, "minReplicas"), *mx = sl_json_get(spec, "maxReplicas");
  v->min = mn && mn->type == SL_JSON_NUMBER ? (int)mn->num : -1;
  v->max = mx && mx->type == SL_JSON_NUMBER ? (int)mx->num : -1;
  if (!v->namespace || !v->name || !v->target_kind || !v->target_name || !v->model) {
    va_free(NULL, v);
    return NULL;
  }
  *bytes = sizeof *v + strlen(v->namespace) + strlen(v->name) + strlen(v->target_kind) +
           strlen(v->target_name) + strlen(v->model) + 5;
  return v;
}

// ---- lifecycle ----------------------------------------------------------------------------------

static int start_informers(sl_kube_cluster_t *c, sl_err_t *err) {
  for (int k = 0; k < INF__COUNT; k++) {
    if (!c->served[k]) continue;
    sl_informer_opts_t o = {0};
    o.group = resources[k].group;
    o.version = resources[k].version;
    o.resource = resources[k].resource;
    o.namespace = resources[k].scoped ? c->namespace : NULL;
    o.label_selector = resources[k].use_selector ? c->selector : NULL;
    switch (k) {
    case INF_DEPLOY:
    case INF_LWS:
      o.h = (sl_informer_handlers_t){sl_kube_workload_project,
                                     sl_kube_workload_free,
                                     sl_kube_workload_equal,
                                     NULL,
                                     NULL,
                                     &c->wproj};
      break;
    case INF_PODS:
      o.h = (sl_informer_handlers_t){
          sl_kube_pod_project, sl_kube_pod_free, sl_kube_pod_equal, NULL, NULL, &c->podproj};
      break;
    case INF_NODES:
      o.h = (sl_informer_handlers_t){
          sl_kube_node_project, sl_kube_node_free, sl_kube_node_equal, NULL, NULL, &c->nproj};
      break;
    case INF_HPA:
    case INF_SO:
      o.h = (sl_informer_handlers_t){
          sl_kube_scaler_project, sl_kube_scaler_free, sl_kube_scaler_equal, NULL, NULL, NULL};
      break;
    case INF_VA:
      o.h = (sl_informer_handlers_t){va_project, va_free, NULL, NULL, NULL, NULL};
      break;
    }
    if (!(c->inf[k] = sl_informer_new(c->client, c->sched, &o, err))) return err->code;
    int rc = sl_informer_start(c->inf[k], err);
    if (rc < 0) return rc;
  }
  c->discovered = 1;
  return SL_OK;
}

static void groups_retry(void *ud);

// The API's groups decide which optional informers run: a cluster without LeaderWorkerSets,
// KEDA or the VariantAutoscaling CRD is not an error, only less to watch.
static void on_groups(void *ud, sl_kube_result_t *res) {
  sl_kube_cluster_t *c = ud;
  c->groups = NULL;
  if (res->rc < 0 && strstr(res->message, "certificate")) {
    // The server's certificate does not verify against the CA we were given: retrying will not
    // change that, and it is the configuration to fix.
    snprintf(c->fatal, sizeof c->fatal, "%s (check the kubeconfig's certificate-authority)",
             res->message);
    return;
  }
  if (res->rc < 0 || !res->body) {
    sl_warn("kubernetes: reading the API's groups: %s; retrying", res->message);
    c->retry = sl_sched_after(c->sched, 2, groups_retry, c);
    return;
  }
  const sl_json_t *gs = sl_json_get(res->body, "groups");
  for (int k = 0; k < INF__COUNT; k++) {
    c->served[k] = !resources[k].optional;
    for (size_t i = 0; resources[k].optional && gs && gs->type == SL_JSON_ARRAY && i < gs->n; i++)
      if (!strcmp(sl_json_str_or(sl_json_get(gs->items[i], "name"), ""), resources[k].group))
        c->served[k] = 1;
  }
  sl_err_t err = {0};
  if (start_informers(c, &err) < 0) sl_error("kubernetes: starting informers: %s", err.msg);
}

static void groups_retry(void *ud) {
  sl_kube_cluster_t *c = ud;
  sl_err_t err = {0};
  sl_kube_req_t req = {.path = "/apis"};
  c->retry = 0;
  c->groups = sl_kube_client_call(c->client, &req, on_groups, c, &err);
  if (!c->groups) c->retry = sl_sched_after(c->sched, 2, groups_retry, c);
}

static int src_start(sl_source_t *s, struct uv_loop_s *loop, sl_store_t *store, sl_err_t *err) {
  (void)loop;
  sl_kube_cluster_t *c = s->ud;
  c->store = store;
  sl_kube_req_t req = {.path = "/apis"};
  c->groups = sl_kube_client_call(c->client, &req, on_groups, c, err);
  return c->groups ? SL_OK : err->code;
}

static void src_stop(sl_source_t *s) {
  sl_kube_cluster_t *c = s->ud;
  if (c->groups) sl_kube_call_cancel(c->groups);
  c->groups = NULL;
  if (c->retry) sl_sched_cancel(c->sched, c->retry);
  c->retry = 0;
  for (int k = 0; k < INF__COUNT; k++)
    if (c->inf[k]) sl_informer_stop(c->inf[k]);
}

static int src_ready(sl_source_t *s) {
  return sl_kube_cluster_synced(s->ud);
}

const char *sl_kube_cluster_fatal(const sl_kube_cluster_t *c) {
  return c->fatal[0] ? c->fatal : NULL;
}

int sl_kube_cluster_synced(const sl_kube_cluster_t *c) {
  if (!c->discovered) return 0;
  for (int k = 0; k < INF__COUNT; k++)
    if (c->inf[k] && !sl_informer_synced(c->inf[k])) return 0;
  return 1;
}

// ---- the store at each tick ---------------------------------------------------------------------

typedef struct {
  sl_kube_cluster_t *c;
  const sl_config_t *cfg;
  int *ready, *starting, *pending;
  const sl_kube_workload_t **w;
  double now;
  sl_map_t seen;
  // inventory: GPUs requested per node
  sl_map_t node_used; // node name -> (intptr_t) milli GPUs
  int oom;
} sync_t;

// The variant a pod belongs to (configured index), or -1.
static int pod_variant(sync_t *y, const sl_kube_pod_t *p) {
  for (int i = 0; i < y->cfg->nvariants; i++) {
    const sl_kube_workload_t *w = y->w[i];
    if (!w || strcmp(w->namespace, p->namespace)) continue;
    if (sl_kube_workload_owns(w, p->labels, p->n_labels)) return i;
  }
  return -1;
}

static void each_pod(void *ud, const char *key, const void *rec) {
  sync_t *y = ud;
  const sl_kube_pod_t *p = rec;
  int finished = !strcmp(p->phase, "Succeeded") || !strcmp(p->phase, "Failed");
  if (p->node[0] && p->gpu_milli > 0 && !finished) {
    intptr_t used = (intptr_t)sl_map_get(&y->node_used, p->node);
    if (sl_map_put(&y->node_used, p->node, (void *)(used + (intptr_t)p->gpu_milli)) < 0) y->oom = 1;
  }
  int v = finished ? -1 : pod_variant(y, p);
  if (v < 0) return;
  sl_pod_phase_t phase = p->deleting     ? SL_POD_DRAINING
                         : !p->scheduled ? SL_POD_PENDING
                         : p->ready      ? SL_POD_READY
                                         : SL_POD_STARTING;
  if (!sl_store_set_pod(y->c->store, y->cfg->variants[v].id, key, phase)) y->oom = 1;
  if (sl_map_put(&y->seen, key, (void *)1) < 0) y->oom = 1;
  y->ready[v] += phase == SL_POD_READY;
  y->starting[v] += phase == SL_POD_STARTING;
  y->pending[v] += phase == SL_POD_PENDING;
}

// Whether a node's label value is a configured accelerator type: equal, or containing the type's
// name ("NVIDIA-H100-80GB-HBM3" is an H100), case-insensitively.
static int accel_matches(const char *label, const char *type) {
  if (!strcasecmp(label, type)) return 1;
  size_t n = strlen(type), m = strlen(label);
  for (size_t i = 0; n && i + n <= m; i++)
    if (!strncasecmp(label + i, type, n)) return 1;
  return 0;
}

typedef struct {
  sync_t *y;
  int64_t *total, *used;
} nodes_t;

static void each_node(void *ud, const char *key, const void *rec) {
  nodes_t *nt = ud;
  const sl_kube_node_t *n = rec;
  const sl_config_t *cfg = nt->y->cfg;
  for (int a = 0; a < cfg->naccels; a++) {
    if (!accel_matches(n->accelerator, cfg->accels[a].type)) continue;
    if (n->schedulable) nt->total[a] += n->gpu_milli;
    nt->used[a] += (intptr_t)sl_map_get(&nt->y->node_used, key);
    break;
  }
}

static const sl_kube_workload_t *workload_of(const sl_kube_cluster_t *c, const sl_variant_t *v) {
  int k = v->kind && !strcmp(v->kind, "LeaderWorkerSet") ? INF_LWS : INF_DEPLOY;
  return c->inf[k] ? sl_informer_get(c->inf[k], v->id) : NULL;
}

static int fresh(const sl_kube_cluster_t *c) {
  for (int k = 0; k < INF__COUNT; k++)
    if (c->inf[k] && !sl_informer_fresh(c->inf[k], c->stale_after)) return 0;
  return 1;
}

static void warn_missing(sl_kube_cluster_t *c, const sl_variant_t *v) {
  for (int i = 0; i < c->nmissing; i++)
    if (!strcmp(c->missing[i], v->id)) return;
  char **m = realloc(c->missing, sizeof *m * (size_t)(c->nmissing + 1));
  if (!m) return;
  c->missing = m;
  if (!(c->missing[c->nmissing] = strdup(v->id))) return;
  c->nmissing++;
  sl_warn("kubernetes: variant %s: no %s %s in the cluster; it holds", v->id,
          v->kind ? v->kind : "Deployment", v->id);
}

static void forget_missing(sl_kube_cluster_t *c, const sl_variant_t *v) {
  for (int i = 0; i < c->nmissing; i++) {
    if (strcmp(c->missing[i], v->id)) continue;
    free(c->missing[i]);
    c->missing[i] = c->missing[--c->nmissing];
    return;
  }
}

static void publish_targets(sl_kube_cluster_t *c);

static int src_sync(sl_source_t *s, sl_store_t *store, double now, sl_err_t *err) {
  sl_kube_cluster_t *c = s->ud;
  c->store = store;
  if (!sl_kube_cluster_synced(c)) return SL_OK; // the controller waits for ready()
  const sl_config_t *cfg = c->cfg;
  int n = cfg->nvariants;
  sync_t y = {c, cfg, NULL, NULL, NULL, NULL, now, {0}, {0}, 0};
  y.ready = calloc((size_t)(n ? n : 1), sizeof(int));
  y.starting = calloc((size_t)(n ? n : 1), sizeof(int));
  y.pending = calloc((size_t)(n ? n : 1), sizeof(int));
  y.w = calloc((size_t)(n ? n : 1), sizeof *y.w);
  int64_t *total = calloc((size_t)(cfg->naccels ? cfg->naccels : 1), sizeof(int64_t));
  int64_t *used = calloc((size_t)(cfg->naccels ? cfg->naccels : 1), sizeof(int64_t));
  sl_map_init(&y.seen);
  sl_map_init(&y.node_used);
  int rc = SL_OK;
  if (!y.ready || !y.starting || !y.pending || !y.w || !total || !used) {
    rc = sl_err(err, SL_ENOMEM, "out of memory");
    goto done;
  }
  for (int i = 0; i < n; i++) y.w[i] = workload_of(c, &cfg->variants[i]);
  sl_informer_foreach(c->inf[INF_PODS], each_pod, &y);
  // Pods that left (deleted, or no longer matching) leave the store too.
  for (size_t i = 0; i < c->seen.n_entries; i++) {
    const char *key = c->seen.entries[i].key;
    if (key && !sl_map_get(&y.seen, key)) sl_store_remove_pod(store, key);
  }
  int is_fresh = fresh(c);
  for (int i = 0; i < n; i++) {
    const sl_variant_t *v = &cfg->variants[i];
    sl_store_variant_t *sv = sl_store_variant(store, v->id);
    if (!sv) {
      rc = sl_err(err, SL_ENOMEM, "out of memory");
      goto done;
    }
    if (!y.w[i]) {
      // Nothing to scale: hold it (as stale) rather than guess its replicas.
      warn_missing(c, v);
      sv->counts_at = -INFINITY;
      continue;
    }
    forget_missing(c, v);
    sl_store_set_replicas(store, v->id, y.w[i]->replicas, y.ready[i], y.starting[i], y.pending[i]);
    if (is_fresh) sv->counts_at = now;
  }
  nodes_t nt = {&y, total, used};
  sl_informer_foreach(c->inf[INF_NODES], each_node, &nt);
  for (int a = 0; a < cfg->naccels; a++)
    sl_store_set_accelerator(store, cfg->accels[a].type, (int)(total[a] / 1000),
                             (int)((used[a] + 999) / 1000), cfg->accels[a].cost);
  if (y.oom) rc = sl_err(err, SL_ENOMEM, "out of memory");
  // Keep this sync's pods as the set to compare the next one with.
  sl_map_deinit(&c->seen);
  c->seen = y.seen;
  memset(&y.seen, 0, sizeof y.seen);
  publish_targets(c);
done:
  sl_map_deinit(&y.seen);
  sl_map_deinit(&y.node_used);
  free(y.ready), free(y.starting), free(y.pending), free((void *)y.w), free(total), free(used);
  return rc;
}

// ---- scrape targets -----------------------------------------------------------------------------

typedef struct {
  sl_kube_cluster_t *c;
  sync_t y; // the variants' workloads, for matching pods
  sl_kube_target_t *t;
  char **strs; // what the targets point into, freed after publishing
  size_t n, cap, nstrs, capstrs;
  uint64_t hash;
  int oom;
} targets_t;

static char *keep_str(targets_t *tt, char *s) {
  if (!s) {
    tt->oom = 1;
    return NULL;
  }
  if (tt->nstrs == tt->capstrs) {
    size_t cap = tt->capstrs ? tt->capstrs * 2 : 64;
    char **n = realloc(tt->strs, cap * sizeof *n);
    if (!n) {
      free(s);
      tt->oom = 1;
      return NULL;
    }
    tt->strs = n;
    tt->capstrs = cap;
  }
  tt->strs[tt->nstrs++] = s;
  return s;
}

static uint64_t mix(uint64_t h, const char *s) {
  for (; s && *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
  return (h ^ 0xff) * 1099511628211ULL;
}

static const char *pod_annotation(const sl_kube_pod_t *p, const char *key) {
  for (size_t i = 0; i < p->n_annotations; i++)
    if (!strcmp(p->annotations[2 * i], key)) return p->annotations[2 * i + 1];
  return NULL;
}

// The pod's metrics URL from the prometheus.io/ annotations (port, path, scheme), else vLLM's
// default port 8000 and /metrics.
static char *metrics_url(const sl_kube_pod_t *p) {
  const char *port = pod_annotation(p, "prometheus.io/port");
  const char *path = pod_annotation(p, "prometheus.io/path");
  const char *scheme = pod_annotation(p, "prometheus.io/scheme");
  char *url = NULL;
  int ipv6 = strchr(p->ip, ':') != NULL;
  if (asprintf(&url, "%s://%s%s%s:%s%s%s", scheme ? scheme : "http", ipv6 ? "[" : "", p->ip,
               ipv6 ? "]" : "", port ? port : "8000", path && path[0] == '/' ? "" : "/",
               path ? path : "metrics") < 0)
    return NULL;
  return url;
}

static void add_target(targets_t *tt, const char *key, const sl_kube_pod_t *p, const char *variant,
                       const char *model) {
  if (tt->n == tt->cap) {
    size_t cap = tt->cap ? tt->cap * 2 : 64;
    sl_kube_target_t *n = realloc(tt->t, cap * sizeof *n);
    if (!n) {
      tt->oom = 1;
      return;
    }
    tt->t = n;
    tt->cap = cap;
  }
  char *url = keep_str(tt, metrics_url(p));
  char *pod = keep_str(tt, strdup(key));
  if (!url || !pod) return;
  tt->t[tt->n++] = (sl_kube_target_t){url, pod, variant, model};
  tt->hash = mix(mix(mix(tt->hash, url), pod), variant ? variant : model);
}

static void each_target(void *ud, const char *key, const void *rec) {
  targets_t *tt = ud;
  const sl_kube_pod_t *p = rec;
  if (!p->ready || p->deleting || !p->ip[0]) return;
  const char *epp = pod_annotation(p, "sluice.io/epp-model");
  if (epp) {
    // A gateway's endpoint picker for a model this configuration scales.
    for (int i = 0; i < tt->c->cfg->nvariants; i++) {
      if (strcmp(tt->c->cfg->variants[i].model, epp)) continue;
      add_target(tt, key, p, NULL, tt->c->cfg->variants[i].model);
      return;
    }
    return;
  }
  int v = pod_variant(&tt->y, p);
  if (v >= 0) add_target(tt, key, p, tt->c->cfg->variants[v].id, NULL);
}

static void publish_targets(sl_kube_cluster_t *c) {
  if (!c->on_targets || !c->inf[INF_PODS]) return;
  targets_t tt = {c, {c, c->cfg}, NULL, NULL, 0, 0, 0, 0, 1469598103934665603ULL, 0};
  int nv = c->cfg->nvariants;
  const sl_kube_workload_t **w = calloc((size_t)(nv ? nv : 1), sizeof *w);
  if (!w) return;
  for (int i = 0; i < nv; i++) w[i] = workload_of(c, &c->cfg->variants[i]);
  tt.y.w = w;
  sl_informer_foreach(c->inf[INF_PODS], each_target, &tt);
  free((void *)w);
  if (!tt.oom && (!c->targets_known || tt.hash != c->targets_hash)) {
    c->targets_known = 1;
    c->targets_hash = tt.hash;
    c->on_targets(c->targets_ud, tt.t, tt.n);
  }
  for (size_t i = 0; i < tt.nstrs; i++) free(tt.strs[i]);
  free(tt.strs);
  free(tt.t);
}

void sl_kube_cluster_on_targets(sl_kube_cluster_t *c, sl_kube_targets_fn fn, void *ud) {
  c->on_targets = fn;
  c->targets_ud = ud;
  c->targets_known = 0;
}

// ---- discovery ----------------------------------------------------------------------------------

typedef struct {
  const sl_kube_cluster_t *c;
  sl_kube_found_t *f;
  size_t n, cap;
  int oom;
} found_t;

static sl_kube_found_t *found_slot(found_t *ft, const char *ns, const char *name,
                                   const char *kind) {
  for (size_t i = 0; i < ft->n; i++)
    if (!strcmp(ft->f[i].namespace, ns) && !strcmp(ft->f[i].name, name)) return &ft->f[i];
  if (ft->n == ft->cap) {
    size_t cap = ft->cap ? ft->cap * 2 : 16;
    sl_kube_found_t *n = realloc(ft->f, cap * sizeof *n);
    if (!n) {
      ft->oom = 1;
      return NULL;
    }
    ft->f = n;
    ft->cap = cap;
  }
  sl_kube_found_t *s = &ft->f[ft->n];
  memset(s, 0, sizeof *s);
  s->namespace = strdup(ns);
  s->name = strdup(name);
  s->kind = strdup(kind);
  s->cost = NAN;
  s->min = s->max = -1;
  if (!s->namespace || !s->name || !s->kind) {
    free(s->namespace), free(s->name), free(s->kind);
    ft->oom = 1;
    return NULL;
  }
  ft->n++;
  return s;
}

static void set_str(found_t *ft, char **dst, const char *v) {
  if (!v || !*v) return;
  free(*dst);
  if (!(*dst = strdup(v))) ft->oom = 1;
}

static int managed(const char *v) {
  return v && !strcasecmp(v, "true");
}

// The configured accelerator type a workload's label value names, else the value itself.
static const char *accel_type(const sl_config_t *cfg, const char *label) {
  for (int a = 0; cfg && a < cfg->naccels; a++)
    if (label[0] && accel_matches(label, cfg->accels[a].type)) return cfg->accels[a].type;
  return label;
}

static void each_workload(void *ud, const char *key, const void *rec) {
  found_t *ft = ud;
  const sl_kube_workload_t *w = rec;
  if (!managed(sl_kube_workload_annotation(w, "llm-d.ai/managed"))) return;
  const char *model = sl_kube_workload_annotation(w, "llm-d.ai/model-id");
  if (!model) return; // WVA requires it; without it there is nothing to read metrics for
  sl_kube_found_t *f =
      found_slot(ft, w->namespace, w->name, w->lws ? "LeaderWorkerSet" : "Deployment");
  if (!f) return;
  f->from = "annotation";
  set_str(ft, &f->model, model);
  const char *cost = sl_kube_workload_annotation(w, "llm-d.ai/variant-cost");
  if (cost) f->cost = strtod(cost, NULL);
  const char *mn = sl_kube_workload_annotation(w, "sluice.io/min");
  const char *mx = sl_kube_workload_annotation(w, "sluice.io/max");
  if (mn) f->min = atoi(mn);
  if (mx) f->max = atoi(mx);
  f->gpus = (int)((w->gpu_milli + 999) / 1000) * (w->group_size > 0 ? w->group_size : 1);
  set_str(ft, &f->accelerator, accel_type(ft->c->cfg, w->accelerator));
}

static void each_scaler(found_t *ft, const sl_kube_scaler_t *s, const char *from) {
  if (!managed(sl_kube_scaler_annotation(s, "llm-d.ai/managed"))) return;
  const char *model = sl_kube_scaler_annotation(s, "llm-d.ai/model-id");
  if (!model) return;
  sl_kube_found_t *f = found_slot(ft, s->namespace, s->target_name, s->target_kind);
  if (!f) return;
  f->from = from;
  set_str(ft, &f->model, model);
  const char *cost = sl_kube_scaler_annotation(s, "llm-d.ai/variant-cost");
  if (cost) f->cost = strtod(cost, NULL);
  f->min = s->min;
  f->max = s->max;
}

static void each_hpa(void *ud, const char *key, const void *rec) {
  each_scaler(ud, rec, "hpa");
}

static void each_so(void *ud, const char *key, const void *rec) {
  each_scaler(ud, rec, "scaledobject");
}

static void each_va(void *ud, const char *key, const void *rec) {
  found_t *ft = ud;
  const va_t *v = rec;
  if (!v->model[0]) return;
  sl_kube_found_t *f = found_slot(ft, v->namespace, v->target_name, v->target_kind);
  if (!f) return;
  f->from = "variantautoscaling";
  set_str(ft, &f->model, v->model);
  if (!isnan(v->cost)) f->cost = v->cost;
  if (v->min >= 0) f->min = v->min;
  if (v->max >= 0) f->max = v->max;
}

// Fills what only the workload knows (GPUs, accelerator) for variants found on scalers and VAs.
static void complete_from_workloads(found_t *ft) {
  for (size_t i = 0; i < ft->n; i++) {
    sl_kube_found_t *f = &ft->f[i];
    int k = !strcmp(f->kind, "LeaderWorkerSet") ? INF_LWS : INF_DEPLOY;
    if (!ft->c->inf[k]) continue;
    char key[512];
    snprintf(key, sizeof key, "%s/%s", f->namespace, f->name);
    const sl_kube_workload_t *w = sl_informer_get(ft->c->inf[k], key);
    if (!w) continue;
    if (!f->gpus)
      f->gpus = (int)((w->gpu_milli + 999) / 1000) * (w->group_size > 0 ? w->group_size : 1);
    if (!f->accelerator) set_str(ft, &f->accelerator, accel_type(ft->c->cfg, w->accelerator));
  }
}

static int found_cmp(const void *a, const void *b) {
  const sl_kube_found_t *x = a, *y = b;
  int c = strcmp(x->namespace, y->namespace);
  return c ? c : strcmp(x->name, y->name);
}

int sl_kube_cluster_discover(const sl_kube_cluster_t *c, sl_kube_found_t **out, size_t *n,
                             sl_err_t *err) {
  found_t ft = {c, NULL, 0, 0, 0};
  if (c->inf[INF_DEPLOY]) sl_informer_foreach(c->inf[INF_DEPLOY], each_workload, &ft);
  if (c->inf[INF_LWS]) sl_informer_foreach(c->inf[INF_LWS], each_workload, &ft);
  if (c->inf[INF_HPA]) sl_informer_foreach(c->inf[INF_HPA], each_hpa, &ft);
  if (c->inf[INF_SO]) sl_informer_foreach(c->inf[INF_SO], each_so, &ft);
  if (c->inf[INF_VA]) sl_informer_foreach(c->inf[INF_VA], each_va, &ft);
  complete_from_workloads(&ft);
  if (ft.oom) {
    sl_kube_cluster_found_free(ft.f, ft.n);
    return sl_err(err, SL_ENOMEM, "out of memory");
  }
  if (ft.n) qsort(ft.f, ft.n, sizeof *ft.f, found_cmp);
  *out = ft.f;
  *n = ft.n;
  return SL_OK;
}

void sl_kube_cluster_found_free(sl_kube_found_t *f, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(f[i].namespace), free(f[i].name), free(f[i].kind), free(f[i].model),
        free(f[i].accelerator);
  free(f);
}

int sl_kube_cluster_has_va(const sl_kube_cluster_t *c, const char *ns, const char *name) {
  if (!c->inf[INF_VA]) return 0;
  char key[512];
  snprintf(key, sizeof key, "%s/%s", ns, name);
  return sl_informer_get(c->inf[INF_VA], key) != NULL;
}

// ---- construction -------------------------------------------------------------------------------

sl_kube_cluster_t *sl_kube_cluster_new(sl_kube_client_t *client, sl_sched_t *sched,
                                       const sl_kube_cluster_opts_t *o, sl_err_t *err) {
  sl_kube_cluster_t *c = calloc(1, sizeof *c);
  if (!c) goto oom;
  c->client = client;
  c->sched = sched;
  c->cfg = o->cfg;
  c->stale_after = o->stale_after > 0 ? o->stale_after : 60;
  if ((o->namespace && !(c->namespace = strdup(o->namespace))) ||
      (o->selector && !(c->selector = strdup(o->selector))) ||
      !(c->accel_label =
            strdup(o->accelerator_label ? o->accelerator_label : "nvidia.com/gpu.product")))
    goto oom;
  c->podproj.annotation_prefixes = pod_annotations;
  c->wproj.accelerator_label = c->accel_label;
  c->nproj.accelerator_label = c->accel_label;
  sl_map_init(&c->seen);
  c->source = (sl_source_t){.name = "kubernetes",
                            .start = src_start,
                            .stop = src_stop,
                            .sync = src_sync,
                            .ready = src_ready,
                            .ud = c};
  return c;
oom:
  sl_kube_cluster_free(c);
  sl_err(err, SL_ENOMEM, "out of memory");
  return NULL;
}

void sl_kube_cluster_free(sl_kube_cluster_t *c) {
  if (!c) return;
  if (c->groups) sl_kube_call_cancel(c->groups);
  if (c->retry) sl_sched_cancel(c->sched, c->retry);
  for (int k = 0; k < INF__COUNT; k++) sl_informer_free(c->inf[k]);
  sl_map_deinit(&c->seen);
  for (int i = 0; i < c->nmissing; i++) free(c->missing[i]);
  free(c->missing);
  free(c->namespace), free(c->selector), free(c->accel_label);
  free(c);
}

sl_source_t *sl_kube_cluster_source(sl_kube_cluster_t *c) {
  return &c->source;
}

void sl_kube_cluster_set_config(sl_kube_cluster_t *c, const sl_config_t *cfg) {
  c->cfg = cfg;
  c->targets_known = 0;
}
