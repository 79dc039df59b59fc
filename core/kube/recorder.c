// Events and VariantAutoscaling status for decisions. See recorder.h.
#include "core/kube/recorder.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/kube/scale.h"
#include "core/util/log.h"
#include "core/util/map.h"

// A VariantAutoscaling's status is rewritten when the desired count changes, and otherwise at
// most this often (its lastRunTime says the controller is alive without a write per tick).
#define VA_REFRESH_S 60.0

typedef struct {
  int desired;
  double at;
  int in_flight;
} va_state_t;

struct sl_kube_recorder {
  sl_observer_t obs;
  sl_kube_client_t *client;
  sl_kube_events_t *events;
  const sl_kube_cluster_t *cluster;
  int leading;
  char *cm_ns, *cm_name; // the policies' ConfigMap, or NULL
  sl_map_t va;           // variant id -> va_state_t
  sl_kube_recorder_stats_t st;
};

static void on_va_done(void *ud, sl_kube_result_t *res) {
  va_state_t *s = ud;
  s->in_flight = 0;
  if (res->rc < 0) sl_warn("VariantAutoscaling status: %s", res->message);
}

static void write_va(sl_kube_recorder_t *r, const sl_outcome_t *o, double now) {
  const sl_variant_t *v = o->variant;
  if (!r->cluster || !sl_kube_cluster_has_va(r->cluster, v->ns, v->name)) return;
  va_state_t *s = sl_map_get(&r->va, v->id);
  if (!s) {
    if (!(s = calloc(1, sizeof *s)) || sl_map_put(&r->va, v->id, s) < 0) {
      free(s);
      return;
    }
    s->desired = -1;
    s->at = -INFINITY;
  }
  if (s->in_flight || (o->target == s->desired && now - s->at < VA_REFRESH_S)) return;
  sl_err_t err = {0};
  sl_kube_call_t *call =
      sl_kube_va_status(r->client, v->ns, v->name, o->target, v->accelerator, o->reason,
                        o->actuated || !o->change, now, on_va_done, s, &err);
  if (!call) {
    r->st.va_failures++;
    return;
  }
  s->in_flight = 1;
  s->desired = o->target;
  s->at = now;
  r->st.va_writes++;
}

static void on_outcome(sl_observer_t *ob, double now, const sl_outcome_t *o) {
  sl_kube_recorder_t *r = ob->ud;
  if (!r->leading) return;
  write_va(r, o, now);
  if (!o->change || !r->events) return;
  const sl_variant_t *v = o->variant;
  int lws = v->kind && !strcmp(v->kind, "LeaderWorkerSet");
  sl_kube_objref_t ref = {lws ? "leaderworkerset.x-k8s.io/v1" : "apps/v1",
                          lws ? "LeaderWorkerSet" : "Deployment", v->ns, v->name, NULL};
  char msg[SL_REASON_MAX + 128];
  const char *reason, *type = "Normal";
  if (o->actuated) {
    reason = o->target > o->current ? "ScaledUp" : "ScaledDown";
    snprintf(msg, sizeof msg, "%d -> %d%s%s: %s", o->current, o->target, o->policy ? " by " : "",
             o->policy ? o->policy : "", o->reason);
  } else if (!strncmp(o->reason, "actuation failed", 16)) {
    reason = "ScaleFailed";
    type = "Warning";
    snprintf(msg, sizeof msg, "%s", o->reason);
  } else {
    return; // dry-run or no actuator: nothing happened to the workload
  }
  sl_err_t err = {0};
  if (sl_kube_events_record(r->events, &ref, type, reason, msg, &err) >= 0) r->st.events++;
}

// A policy version refused, restored or swapped in: an Event on the ConfigMap it came from, so
// whoever edited it sees the outcome where they made the change (kubectl describe configmap).
static void on_decider_event(sl_observer_t *ob, const sl_decider_event_t *e) {
  sl_kube_recorder_t *r = ob->ud;
  if (!r->leading || !r->events || !r->cm_name) return;
  const char *reason, *type = "Warning";
  char msg[1024];
  switch (e->kind) {
  case SL_DECIDER_REJECTED:
    reason = "PolicyRejected";
    snprintf(msg, sizeof msg, "%s: the new version was refused, the running one keeps deciding: %s",
             e->file, e->message ? e->message : "");
    break;
  case SL_DECIDER_RESTORED:
    reason = "PolicyRestored";
    snprintf(msg, sizeof msg, "%s: the new version failed its first ticks; version %d is back: %s",
             e->file, e->version, e->message ? e->message : "");
    break;
  case SL_DECIDER_SWAPPED:
    reason = "PolicyReloaded", type = "Normal";
    snprintf(msg, sizeof msg, "%s: version %d is deciding", e->file, e->version);
    break;
  default:
    return;
  }
  sl_kube_objref_t ref = {"v1", "ConfigMap", r->cm_ns, r->cm_name, NULL};
  sl_err_t err = {0};
  if (sl_kube_events_record(r->events, &ref, type, reason, msg, &err) >= 0) r->st.events++;
}

int sl_kube_recorder_set_policy_configmap(sl_kube_recorder_t *r, const char *ns, const char *name) {
  free(r->cm_ns), free(r->cm_name);
  r->cm_ns = r->cm_name = NULL;
  if (!name) return SL_OK;
  r->cm_ns = strdup(ns ? ns : "default");
  r->cm_name = strdup(name);
  return r->cm_ns && r->cm_name ? SL_OK : SL_ENOMEM;
}

sl_kube_recorder_t *sl_kube_recorder_new(sl_kube_client_t *c, sl_kube_events_t *events,
                                         const sl_kube_cluster_t *cluster, sl_err_t *err) {
  sl_kube_recorder_t *r = calloc(1, sizeof *r);
  if (!r) {
    sl_err(err, SL_ENOMEM, "out of memory");
    return NULL;
  }
  r->client = c;
  r->events = events;
  r->cluster = cluster;
  r->leading = 1;
  sl_map_init(&r->va);
  r->obs = (sl_observer_t){.outcome = on_outcome, .decider_event = on_decider_event, .ud = r};
  return r;
}

void sl_kube_recorder_free(sl_kube_recorder_t *r) {
  if (!r) return;
  for (size_t i = 0; i < r->va.n_entries; i++)
    if (r->va.entries[i].key) free(r->va.entries[i].value);
  sl_map_deinit(&r->va);
  free(r->cm_ns), free(r->cm_name);
  free(r);
}

sl_observer_t *sl_kube_recorder_observer(sl_kube_recorder_t *r) {
  return &r->obs;
}

void sl_kube_recorder_set_leading(sl_kube_recorder_t *r, int leading) {
  r->leading = leading;
}

void sl_kube_recorder_stats(const sl_kube_recorder_t *r, sl_kube_recorder_stats_t *out) {
  *out = r->st;
}
