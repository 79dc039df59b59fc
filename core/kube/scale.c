// Scale and status subresources. See scale.h.
#include "core/kube/scale.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sl_kube_scale_op {
  sl_kube_client_t *c;
  char path[1024];
  int set, replicas, conflicts, writes;
  sl_kube_scale_t cur;
  int have_cur;
  sl_kube_call_t *call;
  sl_kube_scale_fn cb;
  void *ud;
};

int sl_kube_scale_path(char *buf, size_t n, sl_kube_workload_t kind, const char *ns,
                       const char *name) {
  if (kind == SL_KUBE_LEADERWORKERSET)
    return sl_kube_path(buf, n, "leaderworkerset.x-k8s.io", "v1", ns, "leaderworkersets", name,
                        "scale");
  return sl_kube_path(buf, n, "apps", "v1", ns, "deployments", name, "scale");
}

static void parse_scale(const sl_json_t *j, sl_kube_scale_t *s) {
  memset(s, 0, sizeof *s);
  s->spec_replicas = (int)sl_json_num_or(sl_json_at(j, "spec.replicas"), 0);
  s->status_replicas = (int)sl_json_num_or(sl_json_at(j, "status.replicas"), 0);
  sl_strlcpy(s->selector, sl_json_str_or(sl_json_at(j, "status.selector"), ""), sizeof s->selector);
  sl_strlcpy(s->rv, sl_json_str_or(sl_json_at(j, "metadata.resourceVersion"), ""), sizeof s->rv);
}

static void done(sl_kube_scale_op_t *op, const sl_kube_result_t *res) {
  op->call = NULL;
  op->cb(op->ud, res, op->have_cur ? &op->cur : NULL, op->writes);
  free(op);
}

static void on_get(void *ud, sl_kube_result_t *res);

static void start_get(sl_kube_scale_op_t *op, sl_kube_result_t *last) {
  sl_kube_req_t q = {.path = op->path, .idempotent = 1};
  sl_err_t err = {0};
  op->call = sl_kube_client_call(op->c, &q, on_get, op, &err);
  if (!op->call) {
    sl_kube_result_t r = last ? *last : (sl_kube_result_t){0};
    r.rc = err.code ? err.code : SL_ENOMEM;
    r.message = err.msg;
    r.body = NULL;
    done(op, &r);
  }
}

static void on_patch(void *ud, sl_kube_result_t *res) {
  sl_kube_scale_op_t *op = ud;
  op->call = NULL;
  if (res->rc == SL_OK) {
    op->writes++;
    if (res->body) {
      parse_scale(res->body, &op->cur);
      op->have_cur = 1;
    }
    done(op, res);
    return;
  }
  if (res->reason == SL_KUBE_CONFLICT && op->conflicts++ == 0) {
    // Someone changed it since our read: read again and try once more.
    op->have_cur = 0;
    start_get(op, res);
    return;
  }
  done(op, res);
}

static void on_get(void *ud, sl_kube_result_t *res) {
  sl_kube_scale_op_t *op = ud;
  op->call = NULL;
  if (res->rc != SL_OK || !res->body) {
    done(op, res);
    return;
  }
  parse_scale(res->body, &op->cur);
  op->have_cur = 1;
  if (!op->set || op->cur.spec_replicas == op->replicas) {
    done(op, res); // a read, or already where we want it
    return;
  }
  char body[256];
  if (op->cur.rv[0]) {
    // The version is our own parse of the server's string: quote it properly all the same.
    sl_json_buf_t b = {0};
    if (sl_json_buf_quote(&b, op->cur.rv, strlen(op->cur.rv)) < 0) {
      sl_json_buf_deinit(&b);
      done(op, res);
      return;
    }
    snprintf(body, sizeof body,
             "{\"metadata\":{\"resourceVersion\":%s},\"spec\":{\"replicas\":%d}}", b.buf,
             op->replicas);
    sl_json_buf_deinit(&b);
  } else {
    snprintf(body, sizeof body, "{\"spec\":{\"replicas\":%d}}", op->replicas);
  }
  // Setting an absolute count is idempotent: safe to retry on 5xx.
  sl_kube_req_t q = {.method = "PATCH",
                     .path = op->path,
                     .body = body,
                     .content_type = "application/merge-patch+json",
                     .idempotent = 1};
  sl_err_t err = {0};
  op->call = sl_kube_client_call(op->c, &q, on_patch, op, &err);
  if (!op->call) {
    sl_kube_result_t r = *res;
    r.rc = err.code;
    r.message = err.msg;
    r.body = NULL;
    done(op, &r);
  }
}

static sl_kube_scale_op_t *op_new(sl_kube_client_t *c, sl_kube_workload_t kind, const char *ns,
                                  const char *name, sl_kube_scale_fn cb, void *ud, sl_err_t *err) {
  if (!ns || !*ns || !name || !*name || !cb) {
    sl_err(err, SL_EINVAL, "scale needs a namespace, a name and a callback");
    return NULL;
  }
  sl_kube_scale_op_t *op = calloc(1, sizeof *op);
  if (!op) {
    sl_err(err, SL_ENOMEM, "out of memory");
    return NULL;
  }
  op->c = c;
  op->cb = cb;
  op->ud = ud;
  if (sl_kube_scale_path(op->path, sizeof op->path, kind, ns, name) < 0) {
    free(op);
    sl_err(err, SL_EINVAL, "scale path too long for %s/%s", ns, name);
    return NULL;
  }
  return op;
}

static sl_kube_scale_op_t *begin(sl_kube_scale_op_t *op, sl_err_t *err) {
  sl_kube_req_t q = {.path = op->path, .idempotent = 1};
  op->call = sl_kube_client_call(op->c, &q, on_get, op, err);
  if (!op->call) {
    free(op);
    return NULL;
  }
  return op;
}

sl_kube_scale_op_t *sl_kube_scale_get(sl_kube_client_t *c, sl_kube_workload_t kind, const char *ns,
                                      const char *name, sl_kube_scale_fn cb, void *ud,
                                      sl_err_t *err) {
  sl_kube_scale_op_t *op = op_new(c, kind, ns, name, cb, ud, err);
  return op ? begin(op, err) : NULL;
}

sl_kube_scale_op_t *sl_kube_scale_set(sl_kube_client_t *c, sl_kube_workload_t kind, const char *ns,
                                      const char *name, int replicas, sl_kube_scale_fn cb, void *ud,
                                      sl_err_t *err) {
  if (replicas < 0) {
    sl_err(err, SL_EINVAL, "replicas must be >= 0, got %d", replicas);
    return NULL;
  }
  sl_kube_scale_op_t *op = op_new(c, kind, ns, name, cb, ud, err);
  if (!op) return NULL;
  op->set = 1;
  op->replicas = replicas;
  return begin(op, err);
}

void sl_kube_scale_cancel(sl_kube_scale_op_t *op) {
  if (!op) return;
  sl_kube_call_cancel(op->call);
  free(op);
}

// ---- status ------------------------------------------------------------------------------------

static sl_kube_call_t *patch_status_json(sl_kube_client_t *c, const char *path,
                                         const sl_json_t *doc, sl_kube_done_fn cb, void *ud,
                                         sl_err_t *err) {
  char *body;
  size_t len;
  if (sl_json_write(doc, &body, &len, err) < 0) return NULL;
  sl_kube_req_t q = {.method = "PATCH",
                     .path = path,
                     .body = body,
                     .body_len = len,
                     .content_type = "application/merge-patch+json",
                     .idempotent = 1};
  sl_kube_call_t *k = sl_kube_client_call(c, &q, cb, ud, err);
  free(body);
  return k;
}

sl_kube_call_t *sl_kube_status_patch(sl_kube_client_t *c, const char *group, const char *version,
                                     const char *plural, const char *ns, const char *name,
                                     const sl_json_t *status, sl_kube_done_fn cb, void *ud,
                                     sl_err_t *err) {
  char path[1024];
  if (!name || !*name || !plural ||
      sl_kube_path(path, sizeof path, group, version, ns, plural, name, "status") < 0) {
    sl_err(err, SL_EINVAL, "status patch needs a resource and a name that fit a path");
    return NULL;
  }
  sl_json_t *doc = sl_json_object();
  sl_json_t *st = sl_json_clone(status);
  if (!doc || !st || sl_json_set(doc, "status", st) < 0) {
    sl_json_free(doc);
    sl_err(err, SL_ENOMEM, "out of memory");
    return NULL;
  }
  sl_kube_call_t *k = patch_status_json(c, path, doc, cb, ud, err);
  sl_json_free(doc);
  return k;
}

sl_kube_call_t *sl_kube_va_status(sl_kube_client_t *c, const char *ns, const char *name,
                                  int desired, const char *accelerator, const char *reason,
                                  int applied, double wall, sl_kube_done_fn cb, void *ud,
                                  sl_err_t *err) {
  char ts[40];
  sl_kube_time_format(wall, 0, ts, sizeof ts);
  sl_json_t *st = sl_json_object(), *alloc = sl_json_object(), *act = sl_json_object();
  sl_json_t *conds = sl_json_array(), *cond = sl_json_object();
  int rc = (st && alloc && act && conds && cond) ? 0 : SL_ENOMEM;
  if (!rc) {
    rc |= sl_json_set(alloc, "numReplicas", sl_json_number(desired));
    if (accelerator && *accelerator)
      rc |= sl_json_set(alloc, "accelerator", sl_json_string(accelerator));
    rc |= sl_json_set(alloc, "lastRunTime", sl_json_string(ts));
    rc |= sl_json_set(st, "desiredOptimizedAlloc", alloc);
    alloc = NULL;
    rc |= sl_json_set(act, "applied", sl_json_bool(applied));
    rc |= sl_json_set(st, "actuation", act);
    act = NULL;
    rc |= sl_json_set(cond, "type", sl_json_string("OptimizationReady"));
    rc |= sl_json_set(cond, "status", sl_json_string("True"));
    rc |= sl_json_set(cond, "reason", sl_json_string("OptimizationSucceeded"));
    rc |= sl_json_set(cond, "message", sl_json_string(reason ? reason : ""));
    rc |= sl_json_set(cond, "lastTransitionTime", sl_json_string(ts));
    rc |= sl_json_push(conds, cond);
    cond = NULL;
    rc |= sl_json_set(st, "conditions", conds);
    conds = NULL;
  }
  sl_kube_call_t *k = NULL;
  if (rc)
    sl_err(err, SL_ENOMEM, "out of memory");
  else
    k = sl_kube_status_patch(c, "llmd.ai", "v1alpha1", "variantautoscalings", ns, name, st, cb, ud,
                             err);
  sl_json_free(st);
  sl_json_free(alloc);
  sl_json_free(act);
  sl_json_free(conds);
  sl_json_free(cond);
  return k;
}
