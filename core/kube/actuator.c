// The scale actuator. See actuator.h.
#include "core/kube/actuator.h"

#include <stdlib.h>
#include <string.h>

#include "core/kube/scale.h"
#include "core/util/log.h"
#include "core/util/map.h"
#include "core/util/sched.h"

typedef struct {
  sl_kube_actuator_t *owner;
  char *id, *ns, *name;
  sl_kube_workload_t kind;
  int want;    // the latest target
  int pending; // a target waiting for the write in flight
  sl_kube_scale_op_t *op;
  double sent; // when the write in flight went out
} write_t;

struct sl_kube_actuator {
  sl_actuator_t act;
  sl_kube_client_t *client;
  sl_map_t writes; // variant id -> write_t
  int leading;
  sl_kube_actuator_stats_t st;
};

static void start_write(write_t *w);

static void on_scaled(void *ud, const sl_kube_result_t *res, const sl_kube_scale_t *scale,
                      int writes) {
  write_t *w = ud;
  sl_kube_actuator_t *a = w->owner;
  w->op = NULL;
  if (res->rc < 0) {
    a->st.failed++;
    sl_warn("%s: scaling to %d failed: %s", w->id, w->want, res->message);
  } else {
    a->st.last_ack_s = sl_sched_now(sl_kube_client_sched(a->client)) - w->sent;
    if (writes)
      a->st.patched++;
    else
      a->st.unchanged++;
  }
  if (w->pending) {
    w->pending = 0;
    start_write(w);
  }
}

static void start_write(write_t *w) {
  sl_kube_actuator_t *a = w->owner;
  sl_err_t err = {0};
  w->sent = sl_sched_now(sl_kube_client_sched(a->client));
  w->op = sl_kube_scale_set(a->client, w->kind, w->ns, w->name, w->want, on_scaled, w, &err);
  if (!w->op) {
    a->st.failed++;
    sl_warn("%s: cannot scale: %s", w->id, err.msg);
  }
}

static int kscale(sl_actuator_t *act, const sl_variant_t *v, int from, int to, const char *reason,
                  double now, sl_err_t *err) {
  sl_kube_actuator_t *a = act->ud;
  if (!a->leading) {
    a->st.refused_follower++;
    return sl_err(err, SL_ESTATE, "this instance is not the leader");
  }
  write_t *w = sl_map_get(&a->writes, v->id);
  if (!w) {
    if (!(w = calloc(1, sizeof *w))) return sl_err(err, SL_ENOMEM, "out of memory");
    w->owner = a;
    w->kind = v->kind && !strcmp(v->kind, "LeaderWorkerSet") ? SL_KUBE_LEADERWORKERSET
                                                             : SL_KUBE_DEPLOYMENT;
    if (!(w->id = strdup(v->id)) || !(w->ns = strdup(v->ns)) || !(w->name = strdup(v->name)) ||
        sl_map_put(&a->writes, v->id, w) < 0) {
      free(w->id), free(w->ns), free(w->name), free(w);
      return sl_err(err, SL_ENOMEM, "out of memory");
    }
  }
  a->st.requested++;
  w->want = to;
  if (w->op) {
    w->pending = 1; // written when the one in flight is acknowledged
    return SL_OK;
  }
  start_write(w);
  return w->op ? SL_OK : sl_err(err, SL_EIO, "the PATCH could not be sent");
}

sl_kube_actuator_t *sl_kube_actuator_new(sl_kube_client_t *c, sl_err_t *err) {
  sl_kube_actuator_t *a = calloc(1, sizeof *a);
  if (!a) {
    sl_err(err, SL_ENOMEM, "out of memory");
    return NULL;
  }
  a->client = c;
  a->leading = 1;
  sl_map_init(&a->writes);
  a->act = (sl_actuator_t){"scale", kscale, NULL, a};
  return a;
}

void sl_kube_actuator_free(sl_kube_actuator_t *a) {
  if (!a) return;
  for (size_t i = 0; i < a->writes.n_entries; i++) {
    write_t *w = a->writes.entries[i].value;
    if (!a->writes.entries[i].key || !w) continue;
    if (w->op) sl_kube_scale_cancel(w->op);
    free(w->id), free(w->ns), free(w->name), free(w);
  }
  sl_map_deinit(&a->writes);
  free(a);
}

sl_actuator_t *sl_kube_actuator_get(sl_kube_actuator_t *a) {
  return &a->act;
}

void sl_kube_actuator_set_leading(sl_kube_actuator_t *a, int leading) {
  a->leading = leading;
}

size_t sl_kube_actuator_pending(const sl_kube_actuator_t *a) {
  size_t n = 0;
  for (size_t i = 0; i < a->writes.n_entries; i++) {
    const write_t *w = a->writes.entries[i].value;
    if (a->writes.entries[i].key && w) n += (w->op != NULL) + w->pending;
  }
  return n;
}

void sl_kube_actuator_stats(const sl_kube_actuator_t *a, sl_kube_actuator_stats_t *out) {
  *out = a->st;
}
