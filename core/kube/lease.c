// Lease-based leader election. See lease.h.
//
// One attempt (client-go's tryAcquireOrRenew), asynchronously:
//   leader with a valid lease: PUT the renewal on the last observed version (fast path);
//   otherwise, or when that fails: GET -> 404: POST a new lease held by us
//                                      -> held by another and not expired (locally): fail
//                                      -> PUT ourselves as holder on the version just read.
// Candidates retry every retry_period * (1 + 1.2 * U); a leader renews every retry_period and
// steps down when renew_deadline passes without a successful renewal.
#include "core/kube/lease.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/util/log.h"
#include "core/util/rng.h"

#define JITTER 1.2

typedef struct {
  char holder[256];
  double duration;
  char acquire[40], renew[40];
  long transitions;
} record_t;

struct sl_kube_lease {
  sl_kube_client_t *c;
  sl_sched_t *sched;
  sl_kube_lease_opts_t o;
  char ns[256], name[256], id[256];
  char path[1024], coll[1024];
  int running, leading, stopping;
  record_t obs; // last observed record
  char obs_raw[1024];
  char obs_rv[128];
  double obs_time;   // our clock when the record last changed
  double last_renew; // our clock at the last successful acquire/renew
  int fast;          // the attempt in flight is the fast-path renewal
  uint64_t timer, deadline;
  sl_kube_call_t *call;
  sl_rng_t rng;
  sl_kube_lease_stats_t st;
};

static void attempt(void *ud);

static void raw_of(const record_t *r, char *buf, size_t n) {
  snprintf(buf, n, "%s|%g|%s|%s|%ld", r->holder, r->duration, r->acquire, r->renew, r->transitions);
}

static int parse(const sl_json_t *j, record_t *r, char *rv, size_t rvn) {
  memset(r, 0, sizeof *r);
  const sl_json_t *spec = sl_json_get(j, "spec");
  if (!j || j->type != SL_JSON_OBJECT) return -1;
  sl_strlcpy(r->holder, sl_json_str_or(sl_json_get(spec, "holderIdentity"), ""), sizeof r->holder);
  r->duration = sl_json_num_or(sl_json_get(spec, "leaseDurationSeconds"), 0);
  sl_strlcpy(r->acquire, sl_json_str_or(sl_json_get(spec, "acquireTime"), ""), sizeof r->acquire);
  sl_strlcpy(r->renew, sl_json_str_or(sl_json_get(spec, "renewTime"), ""), sizeof r->renew);
  r->transitions = (long)sl_json_num_or(sl_json_get(spec, "leaseTransitions"), 0);
  sl_strlcpy(rv, sl_json_str_or(sl_json_at(j, "metadata.resourceVersion"), ""), rvn);
  return 0;
}

static void observe(sl_kube_lease_t *l, const record_t *r, const char *rv) {
  char raw[1024];
  raw_of(r, raw, sizeof raw);
  if (strcmp(raw, l->obs_raw)) {
    int new_holder = strcmp(r->holder, l->obs.holder) != 0;
    l->obs = *r;
    sl_strlcpy(l->obs_raw, raw, sizeof l->obs_raw);
    l->obs_time = sl_sched_now(l->sched);
    if (new_holder && l->o.on_new_leader) l->o.on_new_leader(l->o.ud, r->holder);
  }
  sl_strlcpy(l->obs_rv, rv, sizeof l->obs_rv);
}

static int lease_valid(sl_kube_lease_t *l, double now) {
  return l->obs_time + l->obs.duration > now;
}

static char *body_of(sl_kube_lease_t *l, const record_t *r, const char *rv) {
  sl_json_t *j = sl_json_object(), *meta = sl_json_object(), *spec = sl_json_object();
  int rc = j && meta && spec ? 0 : -1;
  if (!rc) {
    rc |= sl_json_set(j, "apiVersion", sl_json_string("coordination.k8s.io/v1"));
    rc |= sl_json_set(j, "kind", sl_json_string("Lease"));
    rc |= sl_json_set(meta, "name", sl_json_string(l->name));
    rc |= sl_json_set(meta, "namespace", sl_json_string(l->ns));
    if (rv && *rv) rc |= sl_json_set(meta, "resourceVersion", sl_json_string(rv));
    rc |= sl_json_set(j, "metadata", meta);
    meta = NULL;
    rc |= sl_json_set(spec, "holderIdentity", sl_json_string(r->holder));
    rc |= sl_json_set(spec, "leaseDurationSeconds", sl_json_number(floor(r->duration)));
    rc |= sl_json_set(spec, "acquireTime", sl_json_string(r->acquire));
    rc |= sl_json_set(spec, "renewTime", sl_json_string(r->renew));
    rc |= sl_json_set(spec, "leaseTransitions", sl_json_number((double)r->transitions));
    rc |= sl_json_set(j, "spec", spec);
    spec = NULL;
  }
  char *out = NULL;
  if (!rc && sl_json_write(j, &out, NULL, NULL) < 0) out = NULL;
  sl_json_free(j);
  sl_json_free(meta);
  sl_json_free(spec);
  return out;
}

static void now_str(sl_kube_lease_t *l, char *buf, size_t n) {
  sl_kube_time_format(sl_sched_wall(l->sched), 1, buf, n);
}

static void step_down(sl_kube_lease_t *l, const char *why) {
  if (!l->leading) return;
  l->leading = 0;
  l->st.lost++;
  sl_sched_cancel(l->sched, l->deadline);
  l->deadline = 0;
  sl_warn("leader election %s/%s: %s stopped leading: %s", l->ns, l->name, l->id, why);
  if (l->o.on_stopped) l->o.on_stopped(l->o.ud);
}

static void on_deadline(void *ud) {
  sl_kube_lease_t *l = ud;
  l->deadline = 0;
  // A renewal hanging past the deadline must not keep us "leading".
  if (l->call) {
    sl_kube_call_cancel(l->call);
    l->call = NULL;
    l->st.failures++;
  }
  step_down(l, "could not renew the lease within the renew deadline");
  if (l->running && !l->timer) {
    double d = l->o.retry_period_s * (1 + JITTER * sl_rng_uniform(&l->rng));
    l->timer = sl_sched_after(l->sched, d, attempt, l);
  }
}

static void arm_deadline(sl_kube_lease_t *l) {
  sl_sched_cancel(l->sched, l->deadline);
  l->deadline = sl_sched_after(l->sched, l->o.renew_deadline_s, on_deadline, l);
}

// The attempt is over: lead or not, and schedule the next one.
static void settle(sl_kube_lease_t *l, int ok) {
  l->call = NULL;
  double now = sl_sched_now(l->sched);
  if (ok) {
    l->last_renew = now;
    if (!l->leading) {
      l->leading = 1;
      l->st.acquired++;
      sl_info("leader election %s/%s: %s is the leader", l->ns, l->name, l->id);
      arm_deadline(l);
      if (l->o.on_started) l->o.on_started(l->o.ud);
    } else {
      l->st.renewed++;
      arm_deadline(l);
    }
  } else {
    l->st.failures++;
    if (l->leading && now - l->last_renew >= l->o.renew_deadline_s)
      step_down(l, "renewals failed past the renew deadline");
  }
  if (!l->running) return;
  double d = l->leading ? l->o.retry_period_s
                        : l->o.retry_period_s * (1 + JITTER * sl_rng_uniform(&l->rng));
  l->timer = sl_sched_after(l->sched, d, attempt, l);
}

static void on_get(void *ud, sl_kube_result_t *res);

static int put(sl_kube_lease_t *l, const record_t *r, const char *rv, sl_kube_done_fn cb) {
  char *body = body_of(l, r, rv);
  if (!body) return SL_ENOMEM;
  sl_kube_req_t q = {.method = "PUT",
                     .path = l->path,
                     .body = body,
                     .no_retry = 1, // the election loop is the retry
                     .timeout_s = l->o.retry_period_s * 2 < l->o.renew_deadline_s
                                      ? l->o.retry_period_s * 2
                                      : l->o.renew_deadline_s};
  sl_err_t err = {0};
  l->call = sl_kube_client_call(l->c, &q, cb, l, &err);
  free(body);
  return l->call ? SL_OK : err.code;
}

static void on_written(void *ud, sl_kube_result_t *res) {
  sl_kube_lease_t *l = ud;
  l->call = NULL;
  if (res->rc == SL_OK) {
    record_t r;
    char rv[128];
    if (res->body && parse(res->body, &r, rv, sizeof rv) == 0) observe(l, &r, rv);
    settle(l, 1);
    return;
  }
  if (l->fast) {
    // The optimistic renewal failed (someone wrote since): the slow path reads first.
    l->fast = 0;
    sl_kube_req_t q = {.path = l->path, .no_retry = 1, .timeout_s = l->o.retry_period_s * 2};
    sl_err_t err = {0};
    l->call = sl_kube_client_call(l->c, &q, on_get, l, &err);
    if (!l->call) settle(l, 0);
    return;
  }
  sl_debug("leader election %s/%s: %s", l->ns, l->name, res->message);
  settle(l, 0);
}

static void on_get(void *ud, sl_kube_result_t *res) {
  sl_kube_lease_t *l = ud;
  l->call = NULL;
  char ts[40];
  now_str(l, ts, sizeof ts);
  double now = sl_sched_now(l->sched);
  record_t mine = {0};
  sl_strlcpy(mine.holder, l->id, sizeof mine.holder);
  mine.duration = l->o.lease_duration_s;
  sl_strlcpy(mine.acquire, ts, sizeof mine.acquire);
  sl_strlcpy(mine.renew, ts, sizeof mine.renew);
  if (res->reason == SL_KUBE_NOT_FOUND) {
    char *body = body_of(l, &mine, NULL);
    if (!body) {
      settle(l, 0);
      return;
    }
    sl_kube_req_t q = {.method = "POST",
                       .path = l->coll,
                       .body = body,
                       .no_retry = 1,
                       .timeout_s = l->o.retry_period_s * 2};
    sl_err_t err = {0};
    l->call = sl_kube_client_call(l->c, &q, on_written, l, &err);
    free(body);
    if (!l->call) settle(l, 0);
    return;
  }
  record_t old;
  char rv[128];
  if (res->rc != SL_OK || parse(res->body, &old, rv, sizeof rv) < 0) {
    sl_debug("leader election %s/%s: %s", l->ns, l->name, res->message);
    settle(l, 0);
    return;
  }
  observe(l, &old, rv);
  int ours = !strcmp(old.holder, l->id);
  if (old.holder[0] && !ours && lease_valid(l, now)) {
    settle(l, 0); // held by someone else, not expired by our clock
    return;
  }
  if (ours) {
    sl_strlcpy(mine.acquire, old.acquire, sizeof mine.acquire);
    mine.transitions = old.transitions;
  } else {
    mine.transitions = old.transitions + 1;
  }
  if (put(l, &mine, rv, on_written) < 0) settle(l, 0);
}

static void attempt(void *ud) {
  sl_kube_lease_t *l = ud;
  l->timer = 0;
  if (!l->running || l->call) return;
  l->st.attempts++;
  double now = sl_sched_now(l->sched);
  if (l->leading && lease_valid(l, now) && l->obs_rv[0]) {
    record_t r = l->obs;
    char ts[40];
    now_str(l, ts, sizeof ts);
    sl_strlcpy(r.holder, l->id, sizeof r.holder);
    r.duration = l->o.lease_duration_s;
    sl_strlcpy(r.renew, ts, sizeof r.renew);
    l->fast = 1;
    if (put(l, &r, l->obs_rv, on_written) == SL_OK) return;
  }
  l->fast = 0;
  sl_kube_req_t q = {.path = l->path, .no_retry = 1, .timeout_s = l->o.retry_period_s * 2};
  sl_err_t err = {0};
  l->call = sl_kube_client_call(l->c, &q, on_get, l, &err);
  if (!l->call) settle(l, 0);
}

sl_kube_lease_t *sl_kube_lease_new(sl_kube_client_t *c, const sl_kube_lease_opts_t *o,
                                   sl_err_t *err) {
  if (!c || !o || !o->namespace || !*o->namespace || !o->name || !*o->name || !o->identity ||
      !*o->identity) {
    sl_err(err, SL_EINVAL, "leader election needs a namespace, a lease name and an identity");
    return NULL;
  }
  sl_kube_lease_t *l = calloc(1, sizeof *l);
  if (!l) {
    sl_err(err, SL_ENOMEM, "out of memory");
    return NULL;
  }
  l->c = c;
  l->sched = sl_kube_client_sched(c);
  l->o = *o;
  if (l->o.lease_duration_s <= 0) l->o.lease_duration_s = 15;
  if (l->o.renew_deadline_s <= 0) l->o.renew_deadline_s = 10;
  if (l->o.retry_period_s <= 0) l->o.retry_period_s = 2;
  if (l->o.renew_deadline_s >= l->o.lease_duration_s ||
      l->o.retry_period_s * JITTER >= l->o.renew_deadline_s) {
    // The guarantee that two leaders never overlap rests on these orderings (as in client-go).
    sl_err(err, SL_EINVAL,
           "leader election: need lease duration (%gs) > renew deadline (%gs) > 1.2 x retry "
           "period (%gs)",
           l->o.lease_duration_s, l->o.renew_deadline_s, l->o.retry_period_s);
    free(l);
    return NULL;
  }
  sl_strlcpy(l->ns, o->namespace, sizeof l->ns);
  sl_strlcpy(l->name, o->name, sizeof l->name);
  sl_strlcpy(l->id, o->identity, sizeof l->id);
  l->o.namespace = l->o.name = l->o.identity = NULL;
  if (sl_kube_path(l->path, sizeof l->path, "coordination.k8s.io", "v1", l->ns, "leases", l->name,
                   NULL) < 0 ||
      sl_kube_path(l->coll, sizeof l->coll, "coordination.k8s.io", "v1", l->ns, "leases", NULL,
                   NULL) < 0) {
    sl_err(err, SL_EINVAL, "lease path too long");
    free(l);
    return NULL;
  }
  sl_rng_seed(&l->rng, o->seed ? o->seed : (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)l);
  l->obs_time = -INFINITY;
  return l;
}

int sl_kube_lease_start(sl_kube_lease_t *l, sl_err_t *err) {
  if (l->running) return SL_OK;
  l->running = 1;
  l->timer = sl_sched_after(l->sched, 0, attempt, l);
  return l->timer ? SL_OK : sl_err(err, SL_ENOMEM, "out of memory");
}

static void on_released(void *ud, sl_kube_result_t *res) {
  sl_kube_lease_t *l = ud;
  l->call = NULL;
  if (res->rc != SL_OK) sl_warn("leader election: release failed: %s", res->message);
}

void sl_kube_lease_stop(sl_kube_lease_t *l) {
  if (!l || !l->running) return;
  l->running = 0;
  sl_sched_cancel(l->sched, l->timer);
  l->timer = 0;
  if (l->call) sl_kube_call_cancel(l->call);
  l->call = NULL;
  int was = l->leading;
  step_down(l, "stopped");
  if (was && l->o.release_on_stop && l->obs_rv[0]) {
    // client-go's release: no holder, a one-second lease, transitions kept.
    record_t r = {0};
    char ts[40];
    now_str(l, ts, sizeof ts);
    r.duration = 1;
    sl_strlcpy(r.acquire, ts, sizeof r.acquire);
    sl_strlcpy(r.renew, ts, sizeof r.renew);
    r.transitions = l->obs.transitions;
    put(l, &r, l->obs_rv, on_released);
  }
}

void sl_kube_lease_free(sl_kube_lease_t *l) {
  if (!l) return;
  sl_kube_lease_stop(l);
  // A release still in flight is abandoned: stop, let the loop run, then free, to keep it.
  if (l->call) sl_kube_call_cancel(l->call);
  sl_sched_cancel(l->sched, l->deadline);
  free(l);
}

int sl_kube_lease_is_leader(const sl_kube_lease_t *l) {
  return l->leading;
}

const char *sl_kube_lease_holder(const sl_kube_lease_t *l) {
  return l->obs.holder;
}

void sl_kube_lease_stats(const sl_kube_lease_t *l, sl_kube_lease_stats_t *out) {
  *out = l->st;
}
