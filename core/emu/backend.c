// The default backend: the controllers and kubelets of a small GPU cluster, in real time.
// Emulated nodes carry nvidia.com/gpu allocatable and the gpu.product label; a Deployment is
// reconciled through a ReplicaSet per pod template into pods (template labels, owner
// references, generated names); the scheduler places a pod on the first node with room for
// its GPU request (nodeSelector and required node affinity honoured) or leaves it Pending with
// PodScheduled=False; a placed pod turns Running and Ready after the start delay; deployment
// and replica set status follow, so `kubectl rollout status` and `kubectl wait` work. Scaling
// down removes unscheduled pods first, then unready, then ready, newest first.
// Custom resources with a scale subresource get their status replica count mirrored.
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/emu/emu.h"
#include "core/emu/select.h"
#include "core/util/log.h"
#include "core/util/map.h"

#define GPU "nvidia.com/gpu"

typedef struct {
  char product[96];
  char alias[32];
  int gpus;
} node_spec_t;

typedef struct backend backend_t;

typedef struct pod_timer {
  uv_timer_t t;
  backend_t *b;
  char ns[254], name[254], uid[40];
  struct pod_timer *next, *prev;
} pod_timer_t;

struct backend {
  uv_loop_t *loop;
  sl_emu_t *emu;
  double start_delay;
  node_spec_t *nodes;
  size_t n_nodes;
  pod_timer_t *timers;
  sl_map_t seq; // pod uid -> creation order (as a pointer-sized integer)
  uintptr_t next_seq;
  int stopping;
  int open_timers;
  sl_emu_pod_hooks_t hooks;
};

// ---- small helpers
// --------------------------------------------------------------------------------

static int set_str(sl_json_t *o, const char *k, const char *v) {
  return sl_json_set(o, k, sl_json_string(v));
}

static const char *mstr(const sl_json_t *obj, const char *key) {
  return sl_json_str_or(sl_json_get(sl_json_get(obj, "metadata"), key), "");
}

static sl_json_t *obj_at(sl_json_t *o, const char *key) {
  sl_json_t *v = sl_json_get(o, key);
  if (v && v->type == SL_JSON_OBJECT) return v;
  if (sl_json_set(o, key, sl_json_object()) < 0) return NULL;
  return sl_json_get(o, key);
}

static int owned_by(const sl_json_t *obj, const char *uid) {
  const sl_json_t *refs = sl_json_at(obj, "metadata.ownerReferences");
  for (size_t i = 0; refs && refs->type == SL_JSON_ARRAY && i < refs->n; i++)
    if (!strcmp(sl_json_str_or(sl_json_get(refs->items[i], "uid"), ""), uid)) return 1;
  return 0;
}

static const sl_json_t *owner_ref(const sl_json_t *obj, const char *kind) {
  const sl_json_t *refs = sl_json_at(obj, "metadata.ownerReferences");
  for (size_t i = 0; refs && refs->type == SL_JSON_ARRAY && i < refs->n; i++)
    if (!strcmp(sl_json_str_or(sl_json_get(refs->items[i], "kind"), ""), kind))
      return refs->items[i];
  return NULL;
}

static sl_json_t *owner(const char *api_version, const char *kind, const sl_json_t *of) {
  sl_json_t *refs = sl_json_array(), *r = sl_json_object();
  set_str(r, "apiVersion", api_version);
  set_str(r, "kind", kind);
  set_str(r, "name", mstr(of, "name"));
  set_str(r, "uid", mstr(of, "uid"));
  sl_json_set(r, "controller", sl_json_bool(1));
  sl_json_set(r, "blockOwnerDeletion", sl_json_bool(1));
  sl_json_push(refs, r);
  return refs;
}

static long quantity(const sl_json_t *v) {
  if (!v) return 0;
  if (v->type == SL_JSON_NUMBER) return (long)v->num;
  if (v->type == SL_JSON_STRING) return strtol(v->str, NULL, 10);
  return 0;
}

// GPUs a pod asks for: limits (what the device plugin counts), else requests.
static long pod_gpus(const sl_json_t *pod) {
  long n = 0;
  const sl_json_t *cs = sl_json_at(pod, "spec.containers");
  for (size_t i = 0; cs && cs->type == SL_JSON_ARRAY && i < cs->n; i++) {
    const sl_json_t *l = sl_json_get(sl_json_at(cs->items[i], "resources.limits"), GPU);
    if (!l) l = sl_json_get(sl_json_at(cs->items[i], "resources.requests"), GPU);
    n += quantity(l);
  }
  return n;
}

static int is_ready(const sl_json_t *pod) {
  const sl_json_t *cs = sl_json_at(pod, "status.conditions");
  for (size_t i = 0; cs && cs->type == SL_JSON_ARRAY && i < cs->n; i++)
    if (!strcmp(sl_json_str_or(sl_json_get(cs->items[i], "type"), ""), "Ready"))
      return !strcmp(sl_json_str_or(sl_json_get(cs->items[i], "status"), ""), "True");
  return 0;
}

static int is_terminal(const sl_json_t *pod) {
  const char *ph = sl_json_str_or(sl_json_at(pod, "status.phase"), "");
  return !strcmp(ph, "Succeeded") || !strcmp(ph, "Failed");
}

static void timestamp(char b[32]) {
  sl_emu_timestamp(b);
}

// A condition entry; its lastTransitionTime stays when the status did not change.
static sl_json_t *condition(const sl_json_t *prev_list, const char *type, const char *status,
                            const char *reason, const char *message, int with_update) {
  char now[32];
  timestamp(now);
  const char *since = now;
  for (size_t i = 0; prev_list && prev_list->type == SL_JSON_ARRAY && i < prev_list->n; i++) {
    const sl_json_t *c = prev_list->items[i];
    if (!strcmp(sl_json_str_or(sl_json_get(c, "type"), ""), type) &&
        !strcmp(sl_json_str_or(sl_json_get(c, "status"), ""), status)) {
      since = sl_json_str_or(sl_json_get(c, "lastTransitionTime"), now);
      if (with_update &&
          !strcmp(sl_json_str_or(sl_json_get(c, "reason"), ""), reason ? reason : ""))
        now[0] = '\0'; // unchanged: keep lastUpdateTime too
      if (!now[0])
        snprintf(now, sizeof now, "%s", sl_json_str_or(sl_json_get(c, "lastUpdateTime"), since));
    }
  }
  sl_json_t *c = sl_json_object();
  set_str(c, "type", type);
  set_str(c, "status", status);
  if (with_update) set_str(c, "lastUpdateTime", now);
  set_str(c, "lastTransitionTime", since);
  if (reason) set_str(c, "reason", reason);
  if (message) set_str(c, "message", message);
  return c;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
  for (size_t i = 0; i < n; i++) h = (h ^ ((const unsigned char *)p)[i]) * 1099511628211ULL;
  return h;
}

static int key_cmp(const void *a, const void *b) {
  return strcmp(**(char *const *const *)a, **(char *const *const *)b);
}

// Hashes a value with object keys in sorted order: the same template hashes the same however a
// patch left its keys ordered (as the deployment controller's hash does).
static uint64_t hash_value(uint64_t h, const sl_json_t *v, int depth) {
  if (!v || depth > 64) return fnv(h, "~", 1);
  char tag = (char)('0' + v->type);
  h = fnv(h, &tag, 1);
  switch (v->type) {
  case SL_JSON_BOOL:
    return fnv(h, v->b ? "t" : "f", 1);
  case SL_JSON_NUMBER: {
    char b[32];
    int n = snprintf(b, sizeof b, "%.17g", v->num);
    return fnv(h, b, (size_t)n);
  }
  case SL_JSON_STRING:
    return fnv(fnv(h, v->str, v->len), "", 1);
  case SL_JSON_ARRAY:
    for (size_t i = 0; i < v->n; i++) h = hash_value(h, v->items[i], depth + 1);
    return fnv(h, "]", 1);
  case SL_JSON_OBJECT: {
    char **keys[64];
    size_t n = v->n < 64 ? v->n : 64;
    for (size_t i = 0; i < n; i++) keys[i] = &v->keys[i];
    qsort(keys, n, sizeof keys[0], key_cmp);
    for (size_t i = 0; i < n; i++) {
      size_t at = (size_t)(keys[i] - v->keys);
      h = fnv(fnv(h, v->keys[at], strlen(v->keys[at])), "", 1);
      h = hash_value(h, v->items[at], depth + 1);
    }
    return fnv(h, "}", 1);
  }
  default:
    return h;
  }
}

static void hash_name(const sl_json_t *tmpl, char out[11]) {
  static const char alpha[] = "bcdfghjklmnpqrstvwxz2456789";
  uint64_t h = hash_value(1469598103934665603ULL, tmpl, 0);
  for (int i = 0; i < 10; i++) {
    out[i] = alpha[h % (sizeof alpha - 1)];
    h /= sizeof alpha - 1;
  }
  out[10] = '\0';
}

static long max_unavailable(const sl_json_t *d, long desired) {
  const sl_json_t *st = sl_json_at(d, "spec.strategy");
  if (strcmp(sl_json_str_or(sl_json_get(st, "type"), "RollingUpdate"), "RollingUpdate")) return 0;
  const sl_json_t *mu = sl_json_at(st, "rollingUpdate.maxUnavailable");
  if (!mu) return (long)floor((double)desired * 0.25);
  if (mu->type == SL_JSON_NUMBER) return (long)mu->num;
  if (mu->type == SL_JSON_STRING) {
    double pct = strtod(mu->str, NULL);
    return (long)floor((double)desired * pct / 100.0);
  }
  return 0;
}

// ---- scheduling ---------------------------------------------------------------------------------

static int node_fits_selector(const sl_json_t *pod, const sl_json_t *node) {
  const sl_json_t *labels = sl_json_at(node, "metadata.labels");
  const sl_json_t *ns = sl_json_at(pod, "spec.nodeSelector");
  for (size_t i = 0; ns && ns->type == SL_JSON_OBJECT && i < ns->n; i++) {
    const char *v = sl_json_str_or(sl_json_get(labels, ns->keys[i]), NULL);
    if (!v || strcmp(v, sl_json_str_or(ns->items[i], ""))) return 0;
  }
  // requiredDuringSchedulingIgnoredDuringExecution: any term may match, all its expressions must.
  const sl_json_t *terms =
      sl_json_at(pod, "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution."
                      "nodeSelectorTerms");
  if (!terms || terms->type != SL_JSON_ARRAY || !terms->n) return 1;
  for (size_t t = 0; t < terms->n; t++) {
    const sl_json_t *exprs = sl_json_get(terms->items[t], "matchExpressions");
    int ok = 1;
    for (size_t i = 0; ok && exprs && exprs->type == SL_JSON_ARRAY && i < exprs->n; i++) {
      const sl_json_t *x = exprs->items[i];
      const char *key = sl_json_str_or(sl_json_get(x, "key"), "");
      const char *op = sl_json_str_or(sl_json_get(x, "operator"), "");
      const char *v = sl_json_str_or(sl_json_get(labels, key), NULL);
      const sl_json_t *vals = sl_json_get(x, "values");
      int in = 0;
      for (size_t k = 0; v && vals && vals->type == SL_JSON_ARRAY && k < vals->n; k++)
        in |= !strcmp(sl_json_str_or(vals->items[k], ""), v);
      if (!strcmp(op, "In"))
        ok = in;
      else if (!strcmp(op, "NotIn"))
        ok = !in;
      else if (!strcmp(op, "Exists"))
        ok = v != NULL;
      else if (!strcmp(op, "DoesNotExist"))
        ok = v == NULL;
      else
        ok = 0;
    }
    if (ok) return 1;
  }
  return 0;
}

static long node_free_gpus(const sl_json_t *node, const sl_json_t **pods, size_t np) {
  long cap = quantity(sl_json_get(sl_json_at(node, "status.allocatable"), GPU));
  const char *name = mstr(node, "name");
  for (size_t i = 0; i < np; i++) {
    const char *on = sl_json_str_or(sl_json_at(pods[i], "spec.nodeName"), "");
    if (!strcmp(on, name) && !is_terminal(pods[i])) cap -= pod_gpus(pods[i]);
  }
  return cap;
}

static void start_pod_timer(backend_t *b, const sl_json_t *pod);

static void bind_pod(backend_t *b, const sl_json_t *pod, const char *node) {
  sl_emu_t *e = b->emu;
  sl_json_t *next = sl_json_clone(pod);
  if (!next) return;
  set_str(obj_at(next, "spec"), "nodeName", node);
  sl_json_t *st = obj_at(next, "status");
  const sl_json_t *prev = sl_json_get(st, "conditions");
  sl_json_t *conds = sl_json_array();
  sl_json_push(conds, condition(prev, "PodScheduled", "True", NULL, NULL, 0));
  sl_json_set(st, "conditions", conds);
  set_str(st, "hostIP", "127.0.0.1");
  sl_json_t *hips = sl_json_array(), *hip = sl_json_object();
  set_str(hip, "ip", "127.0.0.1");
  sl_json_push(hips, hip);
  sl_json_set(st, "hostIPs", hips);
  sl_json_t *css = sl_json_array();
  const sl_json_t *cs = sl_json_at(pod, "spec.containers");
  for (size_t i = 0; cs && cs->type == SL_JSON_ARRAY && i < cs->n; i++) {
    sl_json_t *c = sl_json_object(), *state = sl_json_object(), *w = sl_json_object();
    set_str(c, "name", sl_json_str_or(sl_json_get(cs->items[i], "name"), ""));
    set_str(c, "image", sl_json_str_or(sl_json_get(cs->items[i], "image"), ""));
    set_str(c, "imageID", "");
    sl_json_set(c, "ready", sl_json_bool(0));
    sl_json_set(c, "started", sl_json_bool(0));
    sl_json_set(c, "restartCount", sl_json_number(0));
    set_str(w, "reason", "ContainerCreating");
    sl_json_set(state, "waiting", w);
    sl_json_set(c, "state", state);
    sl_json_push(css, c);
  }
  sl_json_set(st, "containerStatuses", css);
  sl_err_t err;
  const sl_json_t *out;
  if (sl_emu_update(e, "pods", next, &out, &err) < 0) {
    sl_warn("emulate: binding %s: %s", mstr(pod, "name"), err.msg);
    return;
  }
  char msg[600];
  snprintf(msg, sizeof msg, "Successfully assigned %s/%s to %s", mstr(out, "namespace"),
           mstr(out, "name"), node);
  sl_emu_event(e, out, "Normal", "Scheduled", msg, "default-scheduler");
  start_pod_timer(b, out);
}

static void mark_unschedulable(backend_t *b, const sl_json_t *pod, const char *why) {
  const sl_json_t *prev = sl_json_at(pod, "status.conditions");
  for (size_t i = 0; prev && prev->type == SL_JSON_ARRAY && i < prev->n; i++)
    if (!strcmp(sl_json_str_or(sl_json_get(prev->items[i], "type"), ""), "PodScheduled") &&
        !strcmp(sl_json_str_or(sl_json_get(prev->items[i], "message"), ""), why))
      return; // already says so
  sl_json_t *st = sl_json_object(), *conds = sl_json_array();
  sl_json_push(conds, condition(prev, "PodScheduled", "False", "Unschedulable", why, 0));
  sl_json_set(st, "conditions", conds);
  sl_err_t err;
  if (sl_emu_patch_status(b->emu, "pods", mstr(pod, "namespace"), mstr(pod, "name"), st, &err) == 0)
    sl_emu_event(b->emu, pod, "Warning", "FailedScheduling", why, "default-scheduler");
  sl_json_free(st);
}

// Places every unscheduled pod that fits, oldest first.
static void schedule(backend_t *b) {
  sl_emu_t *e = b->emu;
  const sl_json_t **pods, **nodes;
  size_t np, nn;
  sl_err_t err;
  if (sl_emu_list(e, "pods", NULL, NULL, &pods, &np, &err) < 0) return;
  if (sl_emu_list(e, "nodes", NULL, NULL, &nodes, &nn, &err) < 0) {
    free(pods);
    return;
  }
  // Copies: binding writes to the store, which invalidates borrowed objects.
  sl_json_t **pending = calloc(np + 1, sizeof *pending);
  size_t n_pending = 0;
  for (size_t i = 0; pending && i < np; i++) {
    const sl_json_t *p = pods[i];
    if (*sl_json_str_or(sl_json_at(p, "spec.nodeName"), "") || is_terminal(p) ||
        *mstr(p, "deletionTimestamp"))
      continue;
    pending[n_pending++] = sl_json_clone(p);
  }
  // Oldest first: creation time, then name.
  for (size_t i = 1; i < n_pending; i++)
    for (size_t j = i; j > 0; j--) {
      const char *a = mstr(pending[j - 1], "creationTimestamp"),
                 *c = mstr(pending[j], "creationTimestamp");
      if (strcmp(a, c) <= 0) break;
      sl_json_t *x = pending[j];
      pending[j] = pending[j - 1];
      pending[j - 1] = x;
    }
  free(pods);
  free(nodes);
  for (size_t i = 0; i < n_pending; i++) {
    sl_json_t *p = pending[i];
    if (!p) continue;
    if (sl_emu_list(e, "pods", NULL, NULL, &pods, &np, &err) < 0 ||
        sl_emu_list(e, "nodes", NULL, NULL, &nodes, &nn, &err) < 0) {
      free(pods);
      break;
    }
    long want = pod_gpus(p);
    const char *chosen = NULL;
    size_t no_fit = 0, no_sel = 0;
    char node_name[254] = "";
    for (size_t k = 0; k < nn && !chosen; k++) {
      if (!node_fits_selector(p, nodes[k])) {
        no_sel++;
        continue;
      }
      if (node_free_gpus(nodes[k], pods, np) >= want) {
        snprintf(node_name, sizeof node_name, "%s", mstr(nodes[k], "name"));
        chosen = node_name;
      } else {
        no_fit++;
      }
    }
    free(pods);
    free(nodes);
    if (chosen) {
      bind_pod(b, p, chosen);
    } else {
      char why[300];
      if (no_fit && no_sel)
        snprintf(why, sizeof why,
                 "0/%zu nodes are available: %zu Insufficient %s, %zu node(s) didn't match Pod's "
                 "node affinity/selector.",
                 nn, no_fit, GPU, no_sel);
      else if (no_sel)
        snprintf(why, sizeof why,
                 "0/%zu nodes are available: %zu node(s) didn't match Pod's node "
                 "affinity/selector.",
                 nn, no_sel);
      else
        snprintf(why, sizeof why, "0/%zu nodes are available: %zu Insufficient %s.", nn, no_fit,
                 GPU);
      mark_unschedulable(b, p, why);
    }
    sl_json_free(p);
  }
  free(pending);
}

// ---- workloads ----------------------------------------------------------------------------------

static uintptr_t seq_of(backend_t *b, const sl_json_t *pod) {
  return (uintptr_t)sl_map_get(&b->seq, mstr(pod, "uid"));
}

// Scale-down victims first: unscheduled, then not ready, then ready; newest first within each.
static int victim_rank(const sl_json_t *p) {
  if (!*sl_json_str_or(sl_json_at(p, "spec.nodeName"), "")) return 0;
  return is_ready(p) ? 2 : 1;
}

static void delete_pods(backend_t *b, sl_json_t **v, size_t n, size_t count) {
  // Selection by rank, then newest.
  for (size_t k = 0; k < count && k < n; k++) {
    size_t best = k;
    for (size_t i = k + 1; i < n; i++) {
      int ri = victim_rank(v[i]), rb = victim_rank(v[best]);
      if (ri < rb || (ri == rb && seq_of(b, v[i]) > seq_of(b, v[best]))) best = i;
    }
    sl_json_t *x = v[k];
    v[k] = v[best];
    v[best] = x;
    sl_err_t err;
    sl_map_del(&b->seq, mstr(v[k], "uid"));
    if (sl_emu_delete(b->emu, "pods", mstr(v[k], "namespace"), mstr(v[k], "name"), &err) < 0)
      sl_warn("emulate: deleting pod %s: %s", mstr(v[k], "name"), err.msg);
  }
}

static int create_pod(backend_t *b, const sl_json_t *rs, const char *hash) {
  const sl_json_t *tmpl = sl_json_at(rs, "spec.template");
  sl_json_t *pod = sl_json_object(), *md = sl_json_object();
  char gen[300];
  snprintf(gen, sizeof gen, "%s-", mstr(rs, "name"));
  set_str(pod, "apiVersion", "v1");
  set_str(pod, "kind", "Pod");
  set_str(md, "generateName", gen);
  set_str(md, "namespace", mstr(rs, "namespace"));
  const sl_json_t *labels = sl_json_at(tmpl, "metadata.labels");
  sl_json_t *l = labels ? sl_json_clone(labels) : sl_json_object();
  set_str(l, "pod-template-hash", hash);
  sl_json_set(md, "labels", l);
  const sl_json_t *ann = sl_json_at(tmpl, "metadata.annotations");
  if (ann) sl_json_set(md, "annotations", sl_json_clone(ann));
  sl_json_set(md, "ownerReferences", owner("apps/v1", "ReplicaSet", rs));
  sl_json_set(pod, "metadata", md);
  const sl_json_t *spec = sl_json_get(tmpl, "spec");
  sl_json_set(pod, "spec", spec ? sl_json_clone(spec) : sl_json_object());
  sl_json_t *st = sl_json_object();
  set_str(st, "phase", "Pending");
  sl_json_set(pod, "status", st);
  sl_err_t err;
  const sl_json_t *out;
  if (sl_emu_create(b->emu, "pods", pod, &out, &err) < 0) {
    sl_warn("emulate: creating a pod for %s: %s", mstr(rs, "name"), err.msg);
    return -1;
  }
  if (sl_map_put(&b->seq, mstr(out, "uid"), (void *)++b->next_seq) < 0) return -1;
  char msg[400];
  snprintf(msg, sizeof msg, "Created pod: %s", mstr(out, "name"));
  sl_emu_event(b->emu, rs, "Normal", "SuccessfulCreate", msg, "replicaset-controller");
  return 0;
}

// The ReplicaSet for the deployment's current template, created when missing.
static const sl_json_t *current_rs(backend_t *b, const sl_json_t *d, const char *hash, long desired,
                                   long revision) {
  sl_emu_t *e = b->emu;
  char name[300];
  snprintf(name, sizeof name, "%.240s-%s", mstr(d, "name"), hash);
  const char *ns = mstr(d, "namespace");
  const sl_json_t *rs = sl_emu_get(e, "replicasets.apps", ns, name);
  if (rs) return rs;
  sl_json_t *o = sl_json_object(), *md = sl_json_object(), *spec = sl_json_object();
  set_str(o, "apiVersion", "apps/v1");
  set_str(o, "kind", "ReplicaSet");
  set_str(md, "name", name);
  set_str(md, "namespace", ns);
  const sl_json_t *tmpl = sl_json_at(d, "spec.template");
  const sl_json_t *tl = sl_json_at(tmpl, "metadata.labels");
  sl_json_t *labels = tl ? sl_json_clone(tl) : sl_json_object();
  set_str(labels, "pod-template-hash", hash);
  sl_json_set(md, "labels", labels);
  sl_json_t *ann = sl_json_object();
  char rev[24];
  snprintf(rev, sizeof rev, "%ld", revision);
  set_str(ann, "deployment.kubernetes.io/revision", rev);
  snprintf(rev, sizeof rev, "%ld", desired);
  set_str(ann, "deployment.kubernetes.io/desired-replicas", rev);
  sl_json_set(md, "annotations", ann);
  sl_json_set(md, "ownerReferences", owner("apps/v1", "Deployment", d));
  sl_json_set(o, "metadata", md);
  sl_json_set(spec, "replicas", sl_json_number((double)desired));
  sl_json_t *sel = sl_json_object(), *ml = sl_json_object();
  const sl_json_t *dml = sl_json_at(d, "spec.selector.matchLabels");
  for (size_t i = 0; dml && dml->type == SL_JSON_OBJECT && i < dml->n; i++)
    sl_json_set(ml, dml->keys[i], sl_json_clone(dml->items[i]));
  set_str(ml, "pod-template-hash", hash);
  sl_json_set(sel, "matchLabels", ml);
  const sl_json_t *me = sl_json_at(d, "spec.selector.matchExpressions");
  if (me) sl_json_set(sel, "matchExpressions", sl_json_clone(me));
  sl_json_set(spec, "selector", sel);
  sl_json_t *t = tmpl ? sl_json_clone(tmpl) : sl_json_object();
  set_str(obj_at(obj_at(t, "metadata"), "labels"), "pod-template-hash", hash);
  sl_json_set(spec, "template", t);
  sl_json_set(o, "spec", spec);
  sl_err_t err;
  const sl_json_t *out;
  if (sl_emu_create(e, "replicasets.apps", o, &out, &err) < 0) {
    sl_warn("emulate: replica set for %s: %s", mstr(d, "name"), err.msg);
    return NULL;
  }
  return out;
}

static void set_rs(backend_t *b, const sl_json_t *rs, long replicas, long have, long ready) {
  sl_json_t *next = sl_json_clone(rs);
  if (!next) return;
  sl_json_set(obj_at(next, "spec"), "replicas", sl_json_number((double)replicas));
  sl_json_t *st = sl_json_object();
  sl_json_set(st, "replicas", sl_json_number((double)have));
  sl_json_set(st, "fullyLabeledReplicas", sl_json_number((double)have));
  if (ready) {
    sl_json_set(st, "readyReplicas", sl_json_number((double)ready));
    sl_json_set(st, "availableReplicas", sl_json_number((double)ready));
  }
  sl_json_set(st, "observedGeneration",
              sl_json_number(sl_json_num_or(sl_json_at(rs, "metadata.generation"), 1)));
  sl_json_set(next, "status", st);
  sl_err_t err;
  sl_emu_update(b->emu, "replicasets.apps", next, NULL, &err);
}

static void reconcile(backend_t *b, const char *ns, const char *name) {
  sl_emu_t *e = b->emu;
  const sl_json_t *dd = sl_emu_get(e, "deployments.apps", ns, name);
  if (!dd || b->stopping) return;
  sl_json_t *d = sl_json_clone(dd);
  if (!d) return;
  char uid[64], hash[11];
  snprintf(uid, sizeof uid, "%s", mstr(d, "uid"));
  hash_name(sl_json_at(d, "spec.template"), hash);
  long desired = (long)sl_json_num_or(sl_json_at(d, "spec.replicas"), 1);
  sl_err_t err;

  // The deployment's replica sets; the revision of a new one follows the highest.
  const sl_json_t **rss;
  size_t nrs;
  if (sl_emu_list(e, "replicasets.apps", ns, NULL, &rss, &nrs, &err) < 0) {
    sl_json_free(d);
    return;
  }
  long revision = 0, cur_revision = 0;
  char(*olds)[300] = calloc(nrs + 1, sizeof *olds);
  size_t nold = 0;
  char cur_name[300];
  snprintf(cur_name, sizeof cur_name, "%.240s-%s", name, hash);
  for (size_t i = 0; olds && i < nrs; i++) {
    if (!owned_by(rss[i], uid)) continue;
    const char *r = sl_json_str_or(sl_json_get(sl_json_at(rss[i], "metadata.annotations"),
                                               "deployment.kubernetes.io/revision"),
                                   "0");
    if (strtol(r, NULL, 10) > revision) revision = strtol(r, NULL, 10);
    if (strcmp(mstr(rss[i], "name"), cur_name))
      snprintf(olds[nold++], 300, "%s", mstr(rss[i], "name"));
    else
      cur_revision = strtol(r, NULL, 10);
  }
  free(rss);
  int fresh_rs = !sl_emu_get(e, "replicasets.apps", ns, cur_name);
  const sl_json_t *crs = current_rs(b, d, hash, desired, fresh_rs ? revision + 1 : revision);
  if (!crs) {
    free(olds);
    sl_json_free(d);
    return;
  }
  sl_json_t *rs = sl_json_clone(crs);
  if (!fresh_rs && cur_revision < revision) {
    // Going back to an older template (rollout undo) makes it the newest revision again.
    char rev[24];
    snprintf(rev, sizeof rev, "%ld", revision + 1);
    sl_json_t *ann = obj_at(obj_at(rs, "metadata"), "annotations");
    set_str(ann, "deployment.kubernetes.io/revision", rev);
    sl_json_t *upd = sl_json_clone(rs);
    const sl_json_t *out;
    if (upd && sl_emu_update(e, "replicasets.apps", upd, &out, &err) == 0) {
      sl_json_free(rs);
      rs = sl_json_clone(out);
    }
  }
  char rs_uid[64];
  snprintf(rs_uid, sizeof rs_uid, "%s", mstr(rs, "uid"));

  // A template change replaces the old template's pods (all at once, as Recreate would).
  for (size_t i = 0; i < nold; i++) {
    const sl_json_t *old = sl_emu_get(e, "replicasets.apps", ns, olds[i]);
    if (!old) continue;
    sl_json_t *oc = sl_json_clone(old);
    const sl_json_t **pods;
    size_t np;
    if (sl_emu_list(e, "pods", ns, NULL, &pods, &np, &err) == 0) {
      sl_json_t **mine = calloc(np + 1, sizeof *mine);
      size_t k = 0;
      for (size_t j = 0; mine && j < np; j++)
        if (owned_by(pods[j], mstr(oc, "uid"))) mine[k++] = sl_json_clone(pods[j]);
      free(pods);
      if (k) {
        delete_pods(b, mine, k, k);
        char msg[400];
        snprintf(msg, sizeof msg, "Scaled down replica set %s to 0 from %zu", olds[i], k);
        sl_emu_event(e, d, "Normal", "ScalingReplicaSet", msg, "deployment-controller");
      }
      for (size_t j = 0; j < k; j++) sl_json_free(mine[j]);
      free(mine);
    }
    const sl_json_t *again = sl_emu_get(e, "replicasets.apps", ns, olds[i]);
    if (again && sl_json_num_or(sl_json_at(again, "spec.replicas"), 0) != 0)
      set_rs(b, again, 0, 0, 0);
    sl_json_free(oc);
  }
  free(olds);

  // The current replica set's pods, to the desired count.
  const sl_json_t **pods;
  size_t np;
  if (sl_emu_list(e, "pods", ns, NULL, &pods, &np, &err) < 0) goto done;
  sl_json_t **mine = calloc(np + 1, sizeof *mine);
  size_t have = 0;
  for (size_t j = 0; mine && j < np; j++)
    if (owned_by(pods[j], rs_uid) && !is_terminal(pods[j])) mine[have++] = sl_json_clone(pods[j]);
  free(pods);
  if ((long)have != desired) {
    char msg[400];
    snprintf(msg, sizeof msg, "Scaled %s replica set %s to %ld from %zu",
             (long)have < desired ? "up" : "down", cur_name, desired, have);
    sl_emu_event(e, d, "Normal", "ScalingReplicaSet", msg, "deployment-controller");
  }
  for (long k = (long)have; k < desired; k++) create_pod(b, rs, hash);
  if ((long)have > desired) delete_pods(b, mine, have, have - (size_t)desired);
  for (size_t j = 0; j < have; j++) sl_json_free(mine[j]);
  free(mine);

  // Status, from what is there now.
  long total = 0, updated = 0, ready = 0, cur_total = 0, cur_ready = 0;
  if (sl_emu_list(e, "pods", ns, NULL, &pods, &np, &err) < 0) goto done;
  for (size_t j = 0; j < np; j++) {
    const sl_json_t *p = pods[j];
    const sl_json_t *ref = owner_ref(p, "ReplicaSet");
    if (!ref || is_terminal(p)) continue;
    const char *ruid = sl_json_str_or(sl_json_get(ref, "uid"), "");
    const sl_json_t *owner_rs =
        sl_emu_get(e, "replicasets.apps", ns, sl_json_str_or(sl_json_get(ref, "name"), ""));
    if (!owner_rs || strcmp(mstr(owner_rs, "uid"), ruid) || !owned_by(owner_rs, uid)) continue;
    total++;
    int r = is_ready(p);
    ready += r;
    if (!strcmp(ruid, rs_uid)) {
      updated++;
      cur_total++;
      cur_ready += r;
    }
  }
  free(pods);
  const sl_json_t *rs_now = sl_emu_get(e, "replicasets.apps", ns, cur_name);
  if (rs_now) set_rs(b, rs_now, desired, cur_total, cur_ready);

  const sl_json_t *dnow = sl_emu_get(e, "deployments.apps", ns, name);
  if (!dnow) goto done;
  sl_json_t *next = sl_json_clone(dnow);
  const sl_json_t *prev = sl_json_at(dnow, "status.conditions");
  sl_json_t *st = sl_json_object(), *conds = sl_json_array();
  sl_json_set(st, "observedGeneration",
              sl_json_number(sl_json_num_or(sl_json_at(dnow, "metadata.generation"), 1)));
  if (total) sl_json_set(st, "replicas", sl_json_number((double)total));
  if (updated) sl_json_set(st, "updatedReplicas", sl_json_number((double)updated));
  if (ready) sl_json_set(st, "readyReplicas", sl_json_number((double)ready));
  if (ready) sl_json_set(st, "availableReplicas", sl_json_number((double)ready));
  long unavailable = desired - ready > 0 ? desired - ready : 0;
  if (unavailable) sl_json_set(st, "unavailableReplicas", sl_json_number((double)unavailable));
  int available = ready >= desired - max_unavailable(dnow, desired);
  sl_json_push(conds,
               condition(prev, "Available", available ? "True" : "False",
                         available ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable",
                         available ? "Deployment has minimum availability."
                                   : "Deployment does not have minimum availability.",
                         1));
  int complete = updated == desired && ready == desired && total == desired;
  char pmsg[400];
  snprintf(pmsg, sizeof pmsg, "ReplicaSet \"%s\" %s.", cur_name,
           complete ? "has successfully progressed" : "is progressing");
  sl_json_push(conds,
               condition(prev, "Progressing", "True",
                         complete ? "NewReplicaSetAvailable" : "ReplicaSetUpdated", pmsg, 1));
  sl_json_set(st, "conditions", conds);
  sl_json_set(next, "status", st);
  const sl_json_t *rev =
      sl_json_get(sl_json_at(rs, "metadata.annotations"), "deployment.kubernetes.io/revision");
  if (rev) {
    sl_json_t *ann = obj_at(obj_at(next, "metadata"), "annotations");
    sl_json_set(ann, "deployment.kubernetes.io/revision", sl_json_clone(rev));
  }
  if (sl_emu_update(e, "deployments.apps", next, NULL, &err) < 0)
    sl_warn("emulate: deployment %s/%s status: %s", ns, name, err.msg);
done:
  sl_json_free(rs);
  sl_json_free(d);
}

// The deployment a pod belongs to (through its replica set), into ns/name; 0 when found.
static int deployment_of(backend_t *b, const sl_json_t *pod, char *name, size_t n) {
  const sl_json_t *ref = owner_ref(pod, "ReplicaSet");
  if (!ref) return -1;
  const sl_json_t *rs = sl_emu_get(b->emu, "replicasets.apps", mstr(pod, "namespace"),
                                   sl_json_str_or(sl_json_get(ref, "name"), ""));
  const sl_json_t *dref = rs ? owner_ref(rs, "Deployment") : NULL;
  if (!dref) return -1;
  snprintf(name, n, "%s", sl_json_str_or(sl_json_get(dref, "name"), ""));
  return 0;
}

// ---- pod start
// ------------------------------------------------------------------------------------

static void timer_closed(uv_handle_t *h) {
  pod_timer_t *pt = h->data;
  backend_t *b = pt->b;
  free(pt);
  if (--b->open_timers == 0 && b->stopping) {
    sl_map_deinit(&b->seq);
    free(b->nodes);
    free(b);
  }
}

static void timer_drop(pod_timer_t *pt) {
  backend_t *b = pt->b;
  if (pt->prev)
    pt->prev->next = pt->next;
  else
    b->timers = pt->next;
  if (pt->next) pt->next->prev = pt->prev;
  uv_close((uv_handle_t *)&pt->t, timer_closed);
}

static void on_pod_started(uv_timer_t *t) {
  pod_timer_t *pt = t->data;
  backend_t *b = pt->b;
  sl_emu_t *e = b->emu;
  const sl_json_t *pod = sl_emu_get(e, "pods", pt->ns, pt->name);
  if (pod && !strcmp(mstr(pod, "uid"), pt->uid) && !b->stopping) {
    char now[32];
    timestamp(now);
    sl_json_t *next = sl_json_clone(pod);
    sl_json_t *st = obj_at(next, "status");
    const sl_json_t *prev = sl_json_get(st, "conditions");
    sl_json_t *conds = sl_json_array();
    static const char *const types[] = {"PodReadyToStartContainers", "Initialized", "Ready",
                                        "ContainersReady", "PodScheduled"};
    for (size_t i = 0; i < 5; i++)
      sl_json_push(conds, condition(prev, types[i], "True", NULL, NULL, 0));
    sl_json_set(st, "conditions", conds);
    set_str(st, "phase", "Running");
    set_str(st, "podIP", "127.0.0.1");
    sl_json_t *ips = sl_json_array(), *ip = sl_json_object();
    set_str(ip, "ip", "127.0.0.1");
    sl_json_push(ips, ip);
    sl_json_set(st, "podIPs", ips);
    set_str(st, "startTime", now);
    sl_json_t *css = sl_json_get(st, "containerStatuses");
    for (size_t i = 0; css && css->type == SL_JSON_ARRAY && i < css->n; i++) {
      sl_json_t *c = css->items[i], *state = sl_json_object(), *run = sl_json_object();
      set_str(run, "startedAt", now);
      sl_json_set(state, "running", run);
      sl_json_set(c, "state", state);
      sl_json_set(c, "ready", sl_json_bool(1));
      sl_json_set(c, "started", sl_json_bool(1));
    }
    if (b->hooks.pod_ready) {
      char dname[254];
      const sl_json_t *d = deployment_of(b, pod, dname, sizeof dname) == 0
                               ? sl_emu_get(e, "deployments.apps", pt->ns, dname)
                               : NULL;
      b->hooks.pod_ready(b->hooks.ud, next, d);
    }
    sl_err_t err;
    const sl_json_t *out;
    char msg[600];
    const sl_json_t *cs = sl_json_at(pod, "spec.containers");
    if (sl_emu_update(e, "pods", next, &out, &err) == 0) {
      for (size_t i = 0; cs && cs->type == SL_JSON_ARRAY && i < cs->n; i++) {
        const char *cn = sl_json_str_or(sl_json_get(cs->items[i], "name"), "");
        snprintf(msg, sizeof msg, "Container image \"%s\" already present on machine",
                 sl_json_str_or(sl_json_get(cs->items[i], "image"), ""));
        sl_emu_event(e, out, "Normal", "Pulled", msg, "kubelet");
        snprintf(msg, sizeof msg, "Created container %s", cn);
        sl_emu_event(e, out, "Normal", "Created", msg, "kubelet");
        snprintf(msg, sizeof msg, "Started container %s", cn);
        sl_emu_event(e, out, "Normal", "Started", msg, "kubelet");
      }
      char dname[254];
      if (deployment_of(b, out, dname, sizeof dname) == 0) reconcile(b, pt->ns, dname);
    }
  }
  timer_drop(pt);
}

static void start_pod_timer(backend_t *b, const sl_json_t *pod) {
  pod_timer_t *pt = calloc(1, sizeof *pt);
  if (!pt) return;
  pt->b = b;
  snprintf(pt->ns, sizeof pt->ns, "%s", mstr(pod, "namespace"));
  snprintf(pt->name, sizeof pt->name, "%s", mstr(pod, "name"));
  snprintf(pt->uid, sizeof pt->uid, "%s", mstr(pod, "uid"));
  uv_timer_init(b->loop, &pt->t);
  pt->t.data = pt;
  b->open_timers++;
  pt->next = b->timers;
  if (b->timers) b->timers->prev = pt;
  b->timers = pt;
  double delay = b->hooks.start_delay ? b->hooks.start_delay(b->hooks.ud, pod) : -1;
  if (!(delay >= 0)) delay = b->start_delay;
  uv_timer_start(&pt->t, on_pod_started, (uint64_t)(delay * 1000), 0);
}

// ---- custom workloads ---------------------------------------------------------------------------

// A custom resource with a scale subresource: what its controller would report, at once.
static void mirror_replicas(backend_t *b, const char *resource, const sl_json_t *obj) {
  const sl_json_t *cur = sl_emu_get(b->emu, resource, mstr(obj, "namespace"), mstr(obj, "name"));
  if (!cur) return;
  const sl_json_t *want = sl_json_at(cur, "spec.replicas");
  if (!want || sl_json_equal(want, sl_json_at(cur, "status.replicas"))) return;
  sl_json_t *st = sl_json_object();
  sl_json_set(st, "replicas", sl_json_clone(want));
  sl_err_t err;
  sl_emu_patch_status(b->emu, resource, mstr(obj, "namespace"), mstr(obj, "name"), st, &err);
  sl_json_free(st);
}

// ---- the interface ------------------------------------------------------------------------------

static int b_start(void *ud, sl_emu_t *emu, sl_err_t *err) {
  backend_t *b = ud;
  b->emu = emu;
  char now[32];
  timestamp(now);
  for (size_t i = 0, idx = 0; i < b->n_nodes; i++) {
    const node_spec_t *ns = &b->nodes[i];
    char name[96], gpus[16];
    snprintf(name, sizeof name, "emu-%s-%zu", ns->alias, idx++);
    snprintf(gpus, sizeof gpus, "%d", ns->gpus);
    sl_json_t *n = sl_json_object(), *md = sl_json_object(), *labels = sl_json_object();
    set_str(n, "apiVersion", "v1");
    set_str(n, "kind", "Node");
    set_str(md, "name", name);
    set_str(labels, "kubernetes.io/hostname", name);
    set_str(labels, "kubernetes.io/os", "linux");
    set_str(labels, "kubernetes.io/arch", "amd64");
    set_str(labels, "node.kubernetes.io/instance-type", "emulated");
    if (ns->gpus) {
      set_str(labels, "nvidia.com/gpu.product", ns->product);
      set_str(labels, "nvidia.com/gpu.count", gpus);
      set_str(labels, "nvidia.com/gpu.present", "true");
    }
    sl_json_set(md, "labels", labels);
    sl_json_set(n, "metadata", md);
    sl_json_t *spec = sl_json_object();
    char cidr[32];
    snprintf(cidr, sizeof cidr, "10.244.%zu.0/24", i);
    set_str(spec, "podCIDR", cidr);
    sl_json_set(n, "spec", spec);
    sl_json_t *st = sl_json_object(), *cap = sl_json_object();
    set_str(cap, "cpu", "64");
    set_str(cap, "memory", "512Gi");
    set_str(cap, "pods", "110");
    set_str(cap, "ephemeral-storage", "1Ti");
    if (ns->gpus) set_str(cap, GPU, gpus);
    sl_json_set(st, "capacity", cap);
    sl_json_set(st, "allocatable", sl_json_clone(cap));
    sl_json_t *conds = sl_json_array(), *ready = sl_json_object();
    set_str(ready, "type", "Ready");
    set_str(ready, "status", "True");
    set_str(ready, "lastHeartbeatTime", now);
    set_str(ready, "lastTransitionTime", now);
    set_str(ready, "reason", "KubeletReady");
    set_str(ready, "message", "kubelet is posting ready status");
    sl_json_push(conds, ready);
    sl_json_set(st, "conditions", conds);
    sl_json_t *addrs = sl_json_array(), *a1 = sl_json_object(), *a2 = sl_json_object();
    set_str(a1, "type", "InternalIP");
    set_str(a1, "address", "127.0.0.1");
    set_str(a2, "type", "Hostname");
    set_str(a2, "address", name);
    sl_json_push(addrs, a1);
    sl_json_push(addrs, a2);
    sl_json_set(st, "addresses", addrs);
    sl_json_t *info = sl_json_object();
    set_str(info, "kubeletVersion", "v1.32.0");
    set_str(info, "kubeProxyVersion", "v1.32.0");
    set_str(info, "osImage", "sluice emulate");
    set_str(info, "containerRuntimeVersion", "emulated://1.0");
    set_str(info, "operatingSystem", "linux");
    set_str(info, "architecture", "amd64");
    set_str(info, "kernelVersion", "6.1.0");
    sl_json_set(st, "nodeInfo", info);
    sl_json_set(n, "status", st);
    if (sl_emu_create(emu, "nodes", n, NULL, err) < 0) return sl_err_wrap(err, "node %s", name);
  }
  return SL_OK;
}

static int is_deployment(const char *resource) {
  return !strcmp(resource, "deployments.apps");
}

static void b_changed(void *ud, sl_emu_t *emu, const char *resource, const sl_json_t *obj) {
  backend_t *b = ud;
  if (is_deployment(resource))
    reconcile(b, mstr(obj, "namespace"), mstr(obj, "name"));
  else
    mirror_replicas(b, resource, obj);
  schedule(b);
}

static void b_scaled(void *ud, sl_emu_t *emu, const char *resource, const sl_json_t *obj, long from,
                     long to) {
  b_changed(ud, emu, resource, obj);
}

static void b_deleted(void *ud, sl_emu_t *emu, const char *resource, const sl_json_t *obj) {
  // Owner references took the replica sets and pods; their GPUs may fit pending pods now.
  schedule(ud);
}

static void b_pod_deleted(void *ud, sl_emu_t *emu, const sl_json_t *pod) {
  backend_t *b = ud;
  sl_map_del(&b->seq, mstr(pod, "uid"));
  char dname[254];
  if (deployment_of(b, pod, dname, sizeof dname) == 0) reconcile(b, mstr(pod, "namespace"), dname);
  schedule(b);
}

static void b_stop(void *ud) {
  backend_t *b = ud;
  b->stopping = 1;
  if (!b->timers) {
    sl_map_deinit(&b->seq);
    free(b->nodes);
    free(b);
    return;
  }
  while (b->timers) timer_drop(b->timers);
}

// ---- construction
// ---------------------------------------------------------------------------------

static const struct {
  const char *alias, *product;
} products[] = {
    {"h100", "NVIDIA-H100-80GB-HBM3"}, {"h200", "NVIDIA-H200"}, {"a100", "NVIDIA-A100-SXM4-80GB"},
    {"l40s", "NVIDIA-L40S"},           {"l4", "NVIDIA-L4"},     {"a10g", "NVIDIA-A10G"},
};

const char *sl_emu_gpu_product(const char *product, char *buf, size_t n) {
  for (size_t i = 0; i < sizeof products / sizeof products[0]; i++)
    if (!strcasecmp(product, products[i].alias)) {
      snprintf(buf, n, "%s", products[i].product);
      return buf;
    }
  snprintf(buf, n, "%s", product);
  return buf;
}

static int parse_nodes(const char *spec, node_spec_t **out, size_t *n, sl_err_t *err) {
  *out = NULL;
  *n = 0;
  char *copy = strdup(spec), *save = NULL;
  if (!copy) return sl_err(err, SL_ENOMEM, "out of memory");
  int rc = SL_OK;
  for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    char prod[96];
    long count = 1, gpus = 8;
    char *c1 = strchr(tok, ':');
    char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    snprintf(prod, sizeof prod, "%.*s", c1 ? (int)(c1 - tok) : (int)strlen(tok), tok);
    char *end;
    if (c1) {
      count = strtol(c1 + 1, &end, 10);
      if (end == c1 + 1 || (*end && *end != ':') || count < 1 || count > 1000) {
        rc = sl_err(err, SL_EINVAL, "--nodes %s: the count must be an integer 1..1000", tok);
        break;
      }
    }
    if (c2) {
      gpus = strtol(c2 + 1, &end, 10);
      if (end == c2 + 1 || *end || gpus < 0 || gpus > 1024) {
        rc = sl_err(err, SL_EINVAL, "--nodes %s: GPUs per node must be an integer 0..1024", tok);
        break;
      }
    }
    if (!*prod) {
      rc = sl_err(err, SL_EINVAL, "--nodes %s: name a GPU product (H100, A100, L40S, ...)", tok);
      break;
    }
    if (*n + (size_t)count > 10000) {
      rc = sl_err(err, SL_EINVAL, "--nodes: at most 10000 nodes");
      break;
    }
    node_spec_t *v = realloc(*out, (*n + (size_t)count) * sizeof *v);
    if (!v) {
      rc = sl_err(err, SL_ENOMEM, "out of memory");
      break;
    }
    *out = v;
    node_spec_t ns = {0};
    ns.gpus = (int)gpus;
    char lower[96];
    snprintf(lower, sizeof lower, "%s", prod);
    for (char *p = lower; *p; p++) *p = (char)tolower((unsigned char)*p);
    const char *full = prod;
    for (size_t i = 0; i < sizeof products / sizeof products[0]; i++)
      if (!strcmp(lower, products[i].alias)) full = products[i].product;
    snprintf(ns.product, sizeof ns.product, "%s", full);
    // Node names from the product: "emu-h100-0"; unknown products keep their own name.
    const char *alias = lower;
    for (size_t i = 0; i < sizeof products / sizeof products[0]; i++)
      if (!strcasecmp(full, products[i].product)) alias = products[i].alias;
    if (!strcmp(lower, "cpu")) ns.gpus = 0;
    snprintf(ns.alias, sizeof ns.alias, "%.31s", alias);
    for (char *p = ns.alias; *p; p++)
      if (!isalnum((unsigned char)*p)) *p = '-';
    for (long k = 0; k < count; k++) (*out)[(*n)++] = ns;
  }
  free(copy);
  if (rc == 0 && *n == 0) rc = sl_err(err, SL_EINVAL, "--nodes: no nodes given");
  if (rc < 0) {
    free(*out);
    *out = NULL;
    *n = 0;
  }
  return rc;
}

int sl_emu_default_backend(uv_loop_t *loop, const sl_emu_backend_opts_t *o, sl_emu_backend_t *out,
                           sl_err_t *err) {
  memset(out, 0, sizeof *out);
  backend_t *b = calloc(1, sizeof *b);
  if (!b) return sl_err(err, SL_ENOMEM, "out of memory");
  b->loop = loop;
  b->start_delay = o ? o->start_delay_s : 2;
  if (b->start_delay < 0) b->start_delay = 0;
  if (o && o->hooks) b->hooks = *o->hooks;
  sl_map_init(&b->seq);
  int rc = parse_nodes(o && o->nodes ? o->nodes : "H100:2:8", &b->nodes, &b->n_nodes, err);
  if (rc < 0) {
    sl_map_deinit(&b->seq);
    free(b);
    return rc;
  }
  out->ud = b;
  out->start = b_start;
  out->workload_changed = b_changed;
  out->workload_scaled = b_scaled;
  out->workload_deleted = b_deleted;
  out->pod_deleted = b_pod_deleted;
  out->stop = b_stop;
  return SL_OK;
}
