// The emulator: lifecycle, the write operations behind every create/update/delete (API
// semantics: metadata, defaults, validation, conflicts, generation, owner-reference garbage
// collection, namespace and CRD cascades), backend notification, kubeconfig, and the C API.
#include "core/emu/emu.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/emu/api.h"
#include "core/emu/crd.h"
#include "core/emu/emu_priv.h"
#include "core/emu/tls.h"
#include "core/emu/kinds.h"
#include "core/emu/select.h"
#include "core/util/log.h"

#define EVENTS_KEPT 2000

// ---- small helpers
// --------------------------------------------------------------------------------

int emu_fail(sl_emu_fail_t *f, int code, const char *reason, const char *fmt, ...) {
  if (f) {
    f->code = code;
    f->reason = reason;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->msg, sizeof f->msg, fmt, ap);
    va_end(ap);
  }
  return SL_EINVAL;
}

const char *emu_qualified(const sl_emu_rtype_t *t, char *buf, size_t n) {
  if (!*t->group)
    snprintf(buf, n, "%s", t->resource);
  else
    snprintf(buf, n, "%s.%s", t->resource, t->group);
  return buf;
}

sl_emu_rtype_t *emu_type(sl_emu_t *e, const char *resource) {
  const char *dot = strchr(resource, '.');
  char plural[128];
  snprintf(plural, sizeof plural, "%.*s", dot ? (int)(dot - resource) : (int)strlen(resource),
           resource);
  sl_emu_rtype_t *t = sl_emu_store_type(e->store, dot ? dot + 1 : "", plural);
  return t && t->served ? t : NULL;
}

static int set_str(sl_json_t *o, const char *k, const char *v) {
  return sl_json_set(o, k, sl_json_string(v));
}

sl_json_t *emu_status(const sl_emu_fail_t *f) {
  sl_json_t *s = sl_json_object(), *md = sl_json_object(), *d = sl_json_object();
  int rc = set_str(s, "kind", "Status");
  rc |= set_str(s, "apiVersion", "v1");
  rc |= sl_json_set(s, "metadata", md);
  rc |= set_str(s, "status", "Failure");
  rc |= set_str(s, "message", f->msg);
  rc |= set_str(s, "reason", f->reason ? f->reason : "");
  if (f->name[0]) rc |= set_str(d, "name", f->name);
  if (f->t && *f->t->group) rc |= set_str(d, "group", f->t->group);
  if (f->t) rc |= set_str(d, "kind", f->t->resource);
  rc |= sl_json_set(s, "details", d);
  rc |= sl_json_set(s, "code", sl_json_number(f->code));
  if (rc < 0) {
    sl_json_free(s);
    return NULL;
  }
  return s;
}

void sl_emu_timestamp(char buf[32]) {
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void sl_emu_random_suffix(sl_emu_t *e, char *buf, size_t n) {
  // The alphabet the API server's name generator draws from: no vowels, no look-alikes.
  static const char alpha[] = "bcdfghjklmnpqrstvwxz2456789";
  size_t i = 0;
  for (; i + 1 < n; i++) buf[i] = alpha[sl_rng_u64(&e->rng) % (sizeof alpha - 1)];
  if (n) buf[i] = '\0';
}

static void make_uid(sl_emu_t *e, char out[37]) {
  uint64_t a = sl_rng_u64(&e->rng), b = sl_rng_u64(&e->rng);
  snprintf(out, 37, "%08x-%04x-4%03x-%04x-%012" PRIx64, (unsigned)(a >> 32),
           (unsigned)(a >> 16) & 0xffff, (unsigned)a & 0xfff,
           (unsigned)(0x8000 | ((b >> 48) & 0x3fff)), (uint64_t)(b & 0xffffffffffffULL));
}

static sl_json_t *obj_at(sl_json_t *o, const char *key) {
  sl_json_t *v = sl_json_get(o, key);
  if (v && v->type == SL_JSON_OBJECT) return v;
  if (sl_json_set(o, key, sl_json_object()) < 0) return NULL;
  return sl_json_get(o, key);
}

static const char *meta_str(const sl_json_t *obj, const char *key) {
  return sl_json_str_or(sl_json_get(sl_json_get(obj, "metadata"), key), NULL);
}

// A temporary version for dry runs and for answers that are not stored.
static sl_emu_obj_t *loose_obj(sl_json_t *json) {
  sl_emu_obj_t *o = calloc(1, sizeof *o);
  if (!o) {
    sl_json_free(json);
    return NULL;
  }
  o->refs = 1;
  o->json = json;
  return o;
}

// ---- writes
// -----------------------------------------------------------------------------------------

static int check_kind(const sl_emu_rtype_t *t, sl_json_t *body, sl_emu_fail_t *f) {
  const char *kind = sl_json_str_or(sl_json_get(body, "kind"), NULL);
  const char *av = sl_json_str_or(sl_json_get(body, "apiVersion"), NULL);
  if (kind && *kind && strcmp(kind, t->kind))
    return emu_fail(f, 400, "BadRequest",
                    "the kind in the body (%.100s) does not match the resource's kind (%s)", kind,
                    t->kind);
  char want[200];
  if (av && *av) {
    int ok = 0;
    for (size_t i = 0; i < t->n_versions && !ok; i++) {
      snprintf(want, sizeof want, "%s%s%s", t->group, *t->group ? "/" : "", t->versions[i]);
      ok = !strcmp(av, want);
    }
    if (!ok)
      return emu_fail(f, 400, "BadRequest",
                      "the API version in the data (%.100s) does not match the expected API "
                      "version (%s%s%s)",
                      av, t->group, *t->group ? "/" : "", t->version);
  } else {
    snprintf(want, sizeof want, "%s%s%s", t->group, *t->group ? "/" : "", t->version);
    if (set_str(body, "apiVersion", want) < 0) return emu_fail(f, 500, "InternalError", "oom");
  }
  if ((!kind || !*kind) && set_str(body, "kind", t->kind) < 0)
    return emu_fail(f, 500, "InternalError", "out of memory");
  return SL_OK;
}

static int invalid(sl_emu_fail_t *f, const sl_emu_rtype_t *t, const char *name, const char *msg) {
  emu_fail(f, 422, "Invalid", "%s%s%s \"%.200s\" is invalid: %s", t->kind, *t->group ? "." : "",
           t->group, name, msg);
  f->t = t;
  snprintf(f->name, sizeof f->name, "%s", name);
  return SL_EINVAL;
}

static sl_emu_rtype_t *type_of(sl_emu_t *e, const char *group, const char *res) {
  return sl_emu_store_type(e->store, group, res);
}

// The pod's QoS class, as the API server sets it: only cpu and memory count. BestEffort without
// requests or limits for them, Guaranteed when every container limits both and requests what
// it limits, Burstable otherwise.
static const char *qos_class(const sl_json_t *pod) {
  static const char *const res[] = {"cpu", "memory"};
  const sl_json_t *cs = sl_json_at(pod, "spec.containers");
  int any = 0, guaranteed = 1;
  for (size_t i = 0; cs && cs->type == SL_JSON_ARRAY && i < cs->n; i++) {
    const sl_json_t *lim = sl_json_at(cs->items[i], "resources.limits");
    const sl_json_t *req = sl_json_at(cs->items[i], "resources.requests");
    for (int k = 0; k < 2; k++) {
      const sl_json_t *l = sl_json_get(lim, res[k]), *r = sl_json_get(req, res[k]);
      if (l || r) any = 1;
      if (!l || (r && !sl_json_equal(l, r))) guaranteed = 0;
    }
  }
  return !any ? "BestEffort" : guaranteed ? "Guaranteed" : "Burstable";
}

static int fill_crd_status(sl_json_t *crd) {
  sl_json_t *status = sl_json_object(), *conds = sl_json_array();
  char now[32];
  sl_emu_timestamp(now);
  static const char *const types[][3] = {
      {"NamesAccepted", "NoConflicts", "no conflicts found"},
      {"Established", "InitialNamesAccepted", "the initial names have been accepted"},
  };
  int rc = status && conds ? 0 : SL_ENOMEM;
  // Conditions already true stay as they are, so re-applying an unchanged CRD changes nothing.
  const sl_json_t *have = sl_json_at(crd, "status.conditions");
  if (rc == 0 && have && have->type == SL_JSON_ARRAY && have->n) {
    sl_json_free(conds);
    if (!(conds = sl_json_clone(have))) rc = SL_ENOMEM;
  }
  int build = rc == 0 && conds->n == 0;
  for (int i = 0; i < 2 && rc == 0 && build; i++) {
    sl_json_t *c = sl_json_object();
    rc |= set_str(c, "type", types[i][0]);
    rc |= set_str(c, "status", "True");
    rc |= set_str(c, "lastTransitionTime", now);
    rc |= set_str(c, "reason", types[i][1]);
    rc |= set_str(c, "message", types[i][2]);
    rc |= sl_json_push(conds, c);
  }
  rc |= sl_json_set(status, "conditions", conds);
  const sl_json_t *names = sl_json_at(crd, "spec.names");
  rc |= sl_json_set(status, "acceptedNames", names ? sl_json_clone(names) : sl_json_object());
  sl_json_t *stored = sl_json_array();
  const sl_json_t *vs = sl_json_at(crd, "spec.versions");
  for (size_t i = 0; vs && vs->type == SL_JSON_ARRAY && i < vs->n; i++)
    if (sl_json_bool_or(sl_json_get(vs->items[i], "storage"), 0))
      rc |= sl_json_push(stored, sl_json_clone(sl_json_get(vs->items[i], "name")));
  rc |= sl_json_set(status, "storedVersions", stored);
  if (rc < 0) {
    sl_json_free(status);
    return SL_ENOMEM;
  }
  return sl_json_set(crd, "status", status);
}

// Fields the server owns or computes, shared by create and update.
static int finish_object(sl_emu_t *e, sl_emu_rtype_t *t, sl_json_t *body, const sl_json_t *old,
                         const char *name, int part, sl_emu_fail_t *f) {
  if (part != EMU_STATUS) {
    if (sl_emu_kinds_default(t, body) < 0) return emu_fail(f, 500, "InternalError", "oom");
    char msg[512];
    if (sl_emu_kinds_validate(t, body, msg, sizeof msg)) return invalid(f, t, name, msg);
    if (sl_emu_is(t, "apiextensions.k8s.io", "customresourcedefinitions") &&
        emu_crd_validate(e, body, f) < 0)
      return SL_EINVAL;
  }
  if (sl_emu_is(t, "", "services")) {
    sl_json_t *spec = sl_json_get(body, "spec");
    const char *type = sl_json_str_or(sl_json_get(spec, "type"), "ClusterIP");
    const sl_json_t *was = old ? sl_json_at(old, "spec.clusterIP") : NULL;
    if (spec && strcmp(type, "ExternalName") && !sl_json_get(spec, "clusterIP")) {
      char ip[32];
      if (was && was->type == SL_JSON_STRING)
        snprintf(ip, sizeof ip, "%s", was->str);
      else {
        unsigned n = ++e->next_ip;
        snprintf(ip, sizeof ip, "10.96.%u.%u", (n >> 8) & 0xff, n & 0xff);
      }
      sl_json_t *ips = sl_json_array();
      if (set_str(spec, "clusterIP", ip) < 0 || sl_json_push(ips, sl_json_string(ip)) < 0 ||
          sl_json_set(spec, "clusterIPs", ips) < 0)
        return emu_fail(f, 500, "InternalError", "out of memory");
    }
  }
  if (sl_emu_is(t, "apiextensions.k8s.io", "customresourcedefinitions") &&
      fill_crd_status(body) < 0)
    return emu_fail(f, 500, "InternalError", "out of memory");
  return SL_OK;
}

static int put(sl_emu_t *e, sl_emu_rtype_t *t, sl_json_t *json, int flags, sl_emu_obj_t **out,
               sl_emu_fail_t *f) {
  if (flags & EMU_DRY_RUN) {
    *out = loose_obj(json);
    return *out ? SL_OK : emu_fail(f, 500, "InternalError", "out of memory");
  }
  sl_err_t err;
  sl_emu_obj_t *o;
  if (sl_emu_store_put(e->store, t, json, flags & EMU_INTERNAL, &o, &err) < 0)
    return emu_fail(f, 500, "InternalError", "%s", err.msg);
  *out = sl_emu_obj_ref(o);
  return SL_OK;
}

int emu_create(sl_emu_t *e, sl_emu_rtype_t *t, const char *ns, sl_json_t *body, int flags,
               sl_emu_obj_t **out, sl_emu_fail_t *f) {
  *out = NULL;
  memset(f, 0, sizeof *f);
  int rc = SL_EINVAL;
  if (!body || body->type != SL_JSON_OBJECT) {
    emu_fail(f, 400, "BadRequest", "the request body must be a JSON object");
    goto fail;
  }
  if (check_kind(t, body, f) < 0) goto fail;
  sl_json_t *md = sl_json_get(body, "metadata");
  if (md && md->type != SL_JSON_OBJECT) {
    emu_fail(f, 400, "BadRequest", "metadata must be an object");
    goto fail;
  }
  if (!(md = obj_at(body, "metadata"))) goto oom;
  char name[254];
  const char *nm = sl_json_str_or(sl_json_get(md, "name"), "");
  const char *gen = sl_json_str_or(sl_json_get(md, "generateName"), "");
  if (!*nm && !*gen) {
    invalid(f, t, "", "metadata.name: Required value: name or generateName is required");
    goto fail;
  }
  if (*nm) {
    snprintf(name, sizeof name, "%s", nm);
  } else {
    // Like the API server: the prefix cut to leave room, then 5 random characters; a clash
    // with an existing name is retried here rather than failed.
    for (int tries = 0;; tries++) {
      char sfx[6];
      sl_emu_random_suffix(e, sfx, sizeof sfx);
      snprintf(name, sizeof name, "%.58s%s", gen, sfx);
      if (!sl_emu_store_get(e->store, t, ns, name) || tries > 20) break;
    }
  }
  char why[300];
  if (!sl_emu_kinds_valid_name(t, name, why, sizeof why)) {
    char msg[700];
    snprintf(msg, sizeof msg, "metadata.name: Invalid value: \"%.200s\": %s", name, why);
    invalid(f, t, name, msg);
    goto fail;
  }
  if (set_str(md, "name", name) < 0) goto oom;
  if (t->namespaced) {
    const char *bns = sl_json_str_or(sl_json_get(md, "namespace"), "");
    if (*bns && strcmp(bns, ns)) {
      emu_fail(f, 400, "BadRequest",
               "the namespace of the provided object does not match the namespace sent on the "
               "request");
      goto fail;
    }
    if (!sl_emu_store_get(e->store, type_of(e, "", "namespaces"), NULL, ns)) {
      emu_fail(f, 404, "NotFound", "namespaces \"%.200s\" not found", ns);
      f->t = type_of(e, "", "namespaces");
      snprintf(f->name, sizeof f->name, "%s", ns);
      goto fail;
    }
    if (set_str(md, "namespace", ns) < 0) goto oom;
  } else {
    sl_json_del(md, "namespace");
  }
  if (sl_emu_store_get(e->store, t, ns, name)) {
    char q[160];
    emu_fail(f, 409, "AlreadyExists", "%s \"%s\" already exists", emu_qualified(t, q, sizeof q),
             name);
    f->t = t;
    snprintf(f->name, sizeof f->name, "%s", name);
    goto fail;
  }
  char uid[37], now[32];
  make_uid(e, uid);
  sl_emu_timestamp(now);
  sl_json_del(md, "resourceVersion");
  sl_json_del(md, "selfLink");
  sl_json_del(md, "deletionTimestamp");
  sl_json_del(md, "managedFields");
  if (set_str(md, "uid", uid) < 0 || set_str(md, "creationTimestamp", now) < 0) goto oom;
  if (t->has_generation) {
    if (sl_json_set(md, "generation", sl_json_number(1)) < 0) goto oom;
  } else {
    sl_json_del(md, "generation");
  }
  if (t->has_status && !(flags & EMU_KEEP_STATUS)) sl_json_del(body, "status");
  if (sl_emu_is(t, "", "pods")) {
    sl_json_t *st = obj_at(body, "status");
    if (!st || (!sl_json_get(st, "phase") && set_str(st, "phase", "Pending") < 0) ||
        (!sl_json_get(st, "qosClass") && set_str(st, "qosClass", qos_class(body)) < 0))
      goto oom;
  }
  if (finish_object(e, t, body, NULL, name, EMU_MAIN, f) < 0) goto fail;
  rc = put(e, t, body, flags, out, f);
  body = NULL;
  if (rc < 0 || (flags & EMU_DRY_RUN)) return rc;
  if (sl_emu_is(t, "", "namespaces")) {
    // The service account controller's part: every namespace has a "default" account.
    sl_json_t *sa = sl_json_object(), *smd = sl_json_object();
    set_str(sa, "apiVersion", "v1");
    set_str(sa, "kind", "ServiceAccount");
    set_str(smd, "name", "default");
    sl_json_set(sa, "metadata", smd);
    sl_emu_obj_t *o = NULL;
    sl_emu_fail_t f2;
    if (emu_create(e, type_of(e, "", "serviceaccounts"), name, sa, EMU_INTERNAL, &o, &f2) == 0)
      sl_emu_obj_unref(o);
  }
  if (sl_emu_is(t, "apiextensions.k8s.io", "customresourcedefinitions")) {
    sl_err_t err;
    if (emu_crd_apply(e, (*out)->json, &err) < 0) sl_warn("emulate: CRD %s: %s", name, err.msg);
  }
  return SL_OK;
oom:
  emu_fail(f, 500, "InternalError", "out of memory");
fail:
  sl_json_free(body);
  return rc;
}

// The object with metadata and status cut away: what a generation counts changes of.
static int same_spec(const sl_json_t *a, const sl_json_t *b) {
  if (!a || !b || a->type != SL_JSON_OBJECT || b->type != SL_JSON_OBJECT) return 0;
  for (size_t i = 0; i < a->n; i++) {
    if (!strcmp(a->keys[i], "metadata") || !strcmp(a->keys[i], "status")) continue;
    if (!sl_json_equal(a->items[i], sl_json_get(b, a->keys[i]))) return 0;
  }
  for (size_t i = 0; i < b->n; i++) {
    if (!strcmp(b->keys[i], "metadata") || !strcmp(b->keys[i], "status")) continue;
    if (!sl_json_get(a, b->keys[i])) return 0;
  }
  return 1;
}

int emu_update(sl_emu_t *e, sl_emu_rtype_t *t, const char *ns, const char *name, sl_json_t *body,
               int part, int flags, sl_emu_obj_t **out, sl_emu_fail_t *f) {
  *out = NULL;
  memset(f, 0, sizeof *f);
  char q[160];
  sl_emu_obj_t *old = sl_emu_store_get(e->store, t, ns, name);
  if (!old) {
    emu_fail(f, 404, "NotFound", "%s \"%.200s\" not found", emu_qualified(t, q, sizeof q), name);
    f->t = t;
    snprintf(f->name, sizeof f->name, "%s", name);
    goto fail;
  }
  if (!body || body->type != SL_JSON_OBJECT) {
    emu_fail(f, 400, "BadRequest", "the request body must be a JSON object");
    goto fail;
  }
  if (check_kind(t, body, f) < 0) goto fail;
  sl_json_t *md = sl_json_get(body, "metadata");
  if (md && md->type != SL_JSON_OBJECT) {
    emu_fail(f, 400, "BadRequest", "metadata must be an object");
    goto fail;
  }
  if (!(md = obj_at(body, "metadata"))) goto oom;
  const char *bn = sl_json_str_or(sl_json_get(md, "name"), "");
  if (*bn && strcmp(bn, name)) {
    emu_fail(f, 400, "BadRequest",
             "the name of the object (%.200s) does not match the name on the URL (%.200s)", bn,
             name);
    goto fail;
  }
  const char *bns = sl_json_str_or(sl_json_get(md, "namespace"), "");
  if (t->namespaced && *bns && strcmp(bns, ns)) {
    emu_fail(f, 400, "BadRequest",
             "the namespace of the provided object does not match the namespace sent on the "
             "request");
    goto fail;
  }
  const char *brv = sl_json_str_or(sl_json_get(md, "resourceVersion"), "");
  const char *orv = meta_str(old->json, "resourceVersion");
  if (*brv && (!orv || strcmp(brv, orv))) {
    emu_fail(f, 409, "Conflict",
             "Operation cannot be fulfilled on %s \"%.200s\": the object has been modified; "
             "please apply your changes to the latest version and try again",
             emu_qualified(t, q, sizeof q), name);
    f->t = t;
    snprintf(f->name, sizeof f->name, "%s", name);
    goto fail;
  }
  const sl_json_t *omd = sl_json_get(old->json, "metadata");
  if (part == EMU_STATUS) {
    // Only status moves; everything else stays as stored.
    sl_json_t *next = sl_json_clone(old->json);
    sl_json_t *st = sl_json_get(body, "status");
    if (!next) goto oom;
    if (st) {
      if (sl_json_set(next, "status", sl_json_clone(st)) < 0) {
        sl_json_free(next);
        goto oom;
      }
    } else {
      sl_json_del(next, "status");
    }
    sl_json_free(body);
    body = next;
    md = sl_json_get(body, "metadata");
  } else {
    static const char *const keep[] = {"uid", "creationTimestamp", "deletionTimestamp", "namespace",
                                       "name"};
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
      const sl_json_t *v = sl_json_get(omd, keep[i]);
      if (v) {
        if (sl_json_set(md, keep[i], sl_json_clone(v)) < 0) goto oom;
      } else {
        sl_json_del(md, keep[i]);
      }
    }
    sl_json_del(md, "managedFields");
    sl_json_del(md, "selfLink");
    if (part == EMU_MAIN && t->has_status) {
      const sl_json_t *st = sl_json_get(old->json, "status");
      if (st) {
        if (sl_json_set(body, "status", sl_json_clone(st)) < 0) goto oom;
      } else {
        sl_json_del(body, "status");
      }
    }
    if (finish_object(e, t, body, old->json, name, part, f) < 0) goto fail;
  }
  if (t->has_generation) {
    double g = sl_json_num_or(sl_json_get(omd, "generation"), 1);
    if (part != EMU_STATUS && !same_spec(body, old->json)) g += 1;
    if (sl_json_set(md, "generation", sl_json_number(g)) < 0) goto oom;
  }
  // A write that changes nothing is not stored (no new resourceVersion, no event).
  if (set_str(md, "resourceVersion", orv ? orv : "") < 0) goto oom;
  if (sl_json_equal(body, old->json)) {
    sl_json_free(body);
    *out = sl_emu_obj_ref(old);
    return SL_OK;
  }
  int rc = put(e, t, body, flags, out, f);
  if (rc == 0 && !(flags & EMU_DRY_RUN) &&
      sl_emu_is(t, "apiextensions.k8s.io", "customresourcedefinitions")) {
    sl_err_t err;
    if (emu_crd_apply(e, (*out)->json, &err) < 0) sl_warn("emulate: CRD %s: %s", name, err.msg);
  }
  return rc;
oom:
  emu_fail(f, 500, "InternalError", "out of memory");
fail:
  sl_json_free(body);
  return SL_EINVAL;
}

static int owned_by(const sl_json_t *obj, const char *uid) {
  const sl_json_t *refs = sl_json_at(obj, "metadata.ownerReferences");
  for (size_t i = 0; refs && refs->type == SL_JSON_ARRAY && i < refs->n; i++)
    if (!strcmp(sl_json_str_or(sl_json_get(refs->items[i], "uid"), ""), uid)) return 1;
  return 0;
}

// The garbage collector's part, done at once: dependents of a deleted owner go too (or, for
// Orphan, lose the reference).
static void collect(sl_emu_t *e, const sl_emu_rtype_t *owner_t, const sl_json_t *owner,
                    int orphan) {
  const char *uid = meta_str(owner, "uid");
  const char *ns = owner_t->namespaced ? meta_str(owner, "namespace") : NULL;
  if (!uid) return;
  for (size_t i = 0; i < sl_emu_store_ntypes(e->store); i++) {
    sl_emu_rtype_t *t = sl_emu_store_type_at(e->store, i);
    if (owner_t->namespaced && !t->namespaced) continue;
    sl_emu_obj_t **objs;
    size_t n = sl_emu_store_list(e->store, t, ns, &objs);
    // Names first: deleting changes the store under the list.
    char **keys = calloc(n + 1, sizeof *keys), **nss = calloc(n + 1, sizeof *nss);
    size_t k = 0;
    for (size_t j = 0; keys && nss && j < n; j++) {
      if (!owned_by(objs[j]->json, uid)) continue;
      keys[k] = strdup(meta_str(objs[j]->json, "name"));
      nss[k++] = strdup(sl_json_str_or(sl_json_at(objs[j]->json, "metadata.namespace"), ""));
    }
    free(objs);
    for (size_t j = 0; j < k; j++) {
      sl_emu_fail_t f;
      sl_emu_obj_t *o = NULL;
      if (!keys[j] || !nss[j]) continue;
      if (orphan) {
        sl_emu_obj_t *cur = sl_emu_store_get(e->store, t, nss[j], keys[j]);
        sl_json_t *next = cur ? sl_json_clone(cur->json) : NULL;
        sl_json_t *refs = next ? sl_json_at(next, "metadata.ownerReferences") : NULL;
        for (size_t r = 0; refs && r < refs->n;) {
          if (!strcmp(sl_json_str_or(sl_json_get(refs->items[r], "uid"), ""), uid))
            sl_json_remove_at(refs, r);
          else
            r++;
        }
        if (next &&
            sl_json_set(sl_json_get(next, "metadata"), "resourceVersion", sl_json_string("")) ==
                0 &&
            emu_update(e, t, nss[j], keys[j], next, EMU_ALL, EMU_INTERNAL, &o, &f) == 0)
          sl_emu_obj_unref(o);
      } else if (emu_delete(e, t, nss[j], keys[j], NULL, EMU_INTERNAL, &o, &f) == 0) {
        sl_emu_obj_unref(o);
      }
    }
    for (size_t j = 0; j < k; j++) {
      free(keys[j]);
      free(nss[j]);
    }
    free(keys);
    free(nss);
  }
}

int emu_delete(sl_emu_t *e, sl_emu_rtype_t *t, const char *ns, const char *name,
               const sl_json_t *opts, int flags, sl_emu_obj_t **out, sl_emu_fail_t *f) {
  *out = NULL;
  memset(f, 0, sizeof *f);
  char q[160];
  sl_emu_obj_t *old = sl_emu_store_get(e->store, t, ns, name);
  if (!old) {
    emu_fail(f, 404, "NotFound", "%s \"%.200s\" not found", emu_qualified(t, q, sizeof q), name);
    f->t = t;
    snprintf(f->name, sizeof f->name, "%s", name);
    return SL_EINVAL;
  }
  const sl_json_t *pre = sl_json_get(opts, "preconditions");
  const char *puid = sl_json_str_or(sl_json_get(pre, "uid"), NULL);
  const char *prv = sl_json_str_or(sl_json_get(pre, "resourceVersion"), NULL);
  const char *ouid = meta_str(old->json, "uid"), *orv = meta_str(old->json, "resourceVersion");
  if ((puid && *puid && strcmp(puid, ouid ? ouid : "")) ||
      (prv && *prv && strcmp(prv, orv ? orv : ""))) {
    emu_fail(f, 409, "Conflict",
             "Operation cannot be fulfilled on %s \"%.200s\": Precondition failed: %s in "
             "precondition: %.60s, %s in object meta: %.60s",
             emu_qualified(t, q, sizeof q), name, puid && *puid ? "UID" : "ResourceVersion",
             puid && *puid ? puid : prv, puid && *puid ? "UID" : "ResourceVersion",
             puid && *puid ? ouid : orv);
    f->t = t;
    snprintf(f->name, sizeof f->name, "%s", name);
    return SL_EINVAL;
  }
  if (sl_emu_is(t, "", "namespaces") && !(flags & EMU_INTERNAL) &&
      (!strcmp(name, "default") || !strcmp(name, "kube-system") || !strcmp(name, "kube-public"))) {
    emu_fail(f, 403, "Forbidden",
             "namespaces \"%s\" is forbidden: this namespace may not be deleted", name);
    f->t = t;
    snprintf(f->name, sizeof f->name, "%s", name);
    return SL_EINVAL;
  }
  if (flags & EMU_DRY_RUN) {
    *out = sl_emu_obj_ref(old);
    return SL_OK;
  }
  const char *policy = sl_json_str_or(sl_json_get(opts, "propagationPolicy"), "");
  int orphan =
      !strcmp(policy, "Orphan") || sl_json_bool_or(sl_json_get(opts, "orphanDependents"), 0);
  // The namespace controller's and the CRD controller's parts, done at once.
  if (sl_emu_is(t, "", "namespaces")) {
    for (size_t i = 0; i < sl_emu_store_ntypes(e->store); i++) {
      sl_emu_rtype_t *ti = sl_emu_store_type_at(e->store, i);
      if (!ti->namespaced) continue;
      sl_emu_obj_t **objs;
      size_t n = sl_emu_store_list(e->store, ti, name, &objs);
      char **names = calloc(n + 1, sizeof *names);
      for (size_t j = 0; names && j < n; j++) names[j] = strdup(meta_str(objs[j]->json, "name"));
      free(objs);
      for (size_t j = 0; names && j < n; j++) {
        if (names[j]) sl_emu_store_remove(e->store, ti, name, names[j], 1, NULL);
        free(names[j]);
      }
      free(names);
    }
  }
  sl_json_t *keep = sl_json_clone(old->json);
  if (!keep) return emu_fail(f, 500, "InternalError", "out of memory");
  if (sl_emu_is(t, "apiextensions.k8s.io", "customresourcedefinitions")) emu_crd_remove(e, keep);
  sl_emu_store_remove(e->store, t, ns, name, flags & EMU_INTERNAL, out);
  collect(e, t, keep, orphan);
  sl_json_free(keep);
  return SL_OK;
}

// ---- backend notification ---------------------------------------------------------------------

static int is_workload(const sl_emu_rtype_t *t) {
  return sl_emu_is(t, "apps", "deployments") || (t->from_crd && t->has_scale);
}

static void on_notify(uv_timer_t *tm);
static long replicas_at(const sl_emu_rtype_t *t, const sl_json_t *obj);

// Timestamps a client's scale when it is stored, not when the backend hears of it: what a
// controller's reaction time is measured to (tests/bench/reaction.sh).
static void record_scale(sl_emu_t *e, const sl_emu_change_t *c) {
  if (c->internal || c->type != SL_EMU_MODIFIED || !c->old) return;
  long from = replicas_at(c->rt, c->old->json), to = replicas_at(c->rt, c->obj->json);
  if (from == to) return;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  sl_emu_scale_rec_t *r = &e->scales[e->n_scales++ % EMU_SCALES];
  emu_qualified(c->rt, r->resource, sizeof r->resource);
  const sl_json_t *md = sl_json_get(c->obj->json, "metadata");
  snprintf(r->ns, sizeof r->ns, "%s", sl_json_str_or(sl_json_get(md, "namespace"), ""));
  snprintf(r->name, sizeof r->name, "%s", sl_json_str_or(sl_json_get(md, "name"), ""));
  r->from = from;
  r->to = to;
  r->time = (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void on_change(void *ud, const sl_emu_change_t *c) {
  sl_emu_t *e = ud;
  if (e->closing) return;
  if (is_workload(c->rt)) record_scale(e, c);
  if (!e->has_backend) return;
  int pod_gone = sl_emu_is(c->rt, "", "pods") && c->type == SL_EMU_DELETED && !c->internal;
  if (!is_workload(c->rt) && !pod_gone) return;
  if (e->n_notes == e->cap_notes) {
    size_t cap = e->cap_notes ? e->cap_notes * 2 : 32;
    sl_emu_note_t *n = realloc(e->notes, cap * sizeof *n);
    if (!n) return;
    e->notes = n;
    e->cap_notes = cap;
  }
  char q[200];
  sl_emu_note_t *n = &e->notes[e->n_notes];
  if (!(n->resource = strdup(emu_qualified(c->rt, q, sizeof q)))) return;
  n->type = c->type;
  n->obj = sl_emu_obj_ref(c->obj);
  n->old = sl_emu_obj_ref(c->old);
  e->n_notes++;
  uv_timer_start(&e->notify, on_notify, 0, 0);
}

static long replicas_at(const sl_emu_rtype_t *t, const sl_json_t *obj) {
  const char *path = t->scale_spec ? t->scale_spec : "spec.replicas";
  const sl_json_t *v = sl_json_at(obj, path);
  return v && v->type == SL_JSON_NUMBER ? (long)v->num : 1;
}

// Whether anything but the replica count changed in the spec.
static int spec_changed(const sl_emu_rtype_t *t, const sl_json_t *a, const sl_json_t *b) {
  sl_json_t *x = sl_json_clone(a), *y = sl_json_clone(b);
  const char *path = t->scale_spec ? t->scale_spec : "spec.replicas";
  const char *dot = strrchr(path, '.');
  if (x && y && dot) {
    char parent[128];
    snprintf(parent, sizeof parent, "%.*s", (int)(dot - path), path);
    sl_json_del(sl_json_at(x, parent), dot + 1);
    sl_json_del(sl_json_at(y, parent), dot + 1);
  }
  int changed = !same_spec(x, y);
  sl_json_free(x);
  sl_json_free(y);
  return changed;
}

static void on_notify(uv_timer_t *tm) {
  sl_emu_t *e = tm->data;
  // Take the batch: what the backend writes now is delivered on the next turn.
  sl_emu_note_t *notes = e->notes;
  size_t n = e->n_notes;
  e->notes = NULL;
  e->n_notes = e->cap_notes = 0;
  const sl_emu_backend_t *b = &e->backend;
  for (size_t i = 0; i < n; i++) {
    sl_emu_note_t *no = &notes[i];
    sl_emu_rtype_t *t = emu_type(e, no->resource);
    if (!e->closing && no->type == SL_EMU_DELETED && !strcmp(no->resource, "pods")) {
      if (b->pod_deleted) b->pod_deleted(b->ud, e, no->obj->json);
    } else if (!e->closing && no->type == SL_EMU_ADDED) {
      if (b->workload_changed) b->workload_changed(b->ud, e, no->resource, no->obj->json);
    } else if (!e->closing && no->type == SL_EMU_DELETED) {
      if (b->workload_deleted) b->workload_deleted(b->ud, e, no->resource, no->obj->json);
    } else if (!e->closing && t && no->old) {
      long from = replicas_at(t, no->old->json), to = replicas_at(t, no->obj->json);
      if (spec_changed(t, no->old->json, no->obj->json) && b->workload_changed)
        b->workload_changed(b->ud, e, no->resource, no->obj->json);
      if (from != to && b->workload_scaled)
        b->workload_scaled(b->ud, e, no->resource, no->obj->json, from, to);
    }
    free(no->resource);
    sl_emu_obj_unref(no->obj);
    sl_emu_obj_unref(no->old);
  }
  free(notes);
}

// ---- the watch-drop fault on a timer ------------------------------------------------------------

static void on_drop(uv_timer_t *tm) {
  sl_emu_t *e = tm->data;
  if (e->faults.drop_every_s > 0) emu_api_drop_watches(e);
}

// Re-arms the periodic drop after the switch changed.
void emu_faults_changed(sl_emu_t *e) {
  double s = e->faults.drop_every_s;
  if (s > 0) {
    uint64_t ms = (uint64_t)(s * 1000);
    uv_timer_start(&e->drop, on_drop, ms, ms);
  } else {
    uv_timer_stop(&e->drop);
  }
}

// ---- lifecycle ----------------------------------------------------------------------------------

static int make_namespace(sl_emu_t *e, const char *name, sl_err_t *err) {
  sl_json_t *ns = sl_json_object(), *md = sl_json_object();
  set_str(ns, "apiVersion", "v1");
  set_str(ns, "kind", "Namespace");
  set_str(md, "name", name);
  sl_json_set(ns, "metadata", md);
  sl_emu_obj_t *o;
  sl_emu_fail_t f;
  if (emu_create(e, type_of(e, "", "namespaces"), "", ns, EMU_INTERNAL, &o, &f) < 0)
    return sl_err(err, SL_EINVAL, "namespace %s: %s", name, f.msg);
  sl_emu_obj_unref(o);
  return SL_OK;
}

static void free_emu(sl_emu_t *e) {
  for (size_t i = 0; i < e->n_notes; i++) {
    free(e->notes[i].resource);
    sl_emu_obj_unref(e->notes[i].obj);
    sl_emu_obj_unref(e->notes[i].old);
  }
  free(e->notes);
  sl_emu_store_free(e->store);
  sl_emu_faults_deinit(&e->faults);
  free(e->cert_pem);
  free(e->key_pem);
  free(e);
}

static void on_closed(uv_handle_t *h) {
  sl_emu_t *e = h->data;
  if (--e->handles_open == 0) free_emu(e);
}

int sl_emu_new(uv_loop_t *loop, const sl_emu_opts_t *o, const sl_emu_backend_t *backend,
               sl_emu_t **out, sl_err_t *err) {
  *out = NULL;
  sl_emu_t *e = calloc(1, sizeof *e);
  if (!e) return sl_err(err, SL_ENOMEM, "out of memory");
  e->loop = loop;
  if (o) e->o = *o;
  if (!e->o.bookmark_s) e->o.bookmark_s = 30;
  sl_rng_seed(&e->rng, e->o.seed);
  sl_emu_faults_init(&e->faults, e->o.seed);
  int rc;
  if (!(e->store = sl_emu_store_new(e->o.history))) {
    rc = sl_err(err, SL_ENOMEM, "out of memory");
    goto fail;
  }
  if ((rc = sl_emu_kinds_register(e->store, err)) < 0) goto fail;
  static const char *const namespaces[] = {"default", "kube-system", "kube-public",
                                           "kube-node-lease"};
  for (size_t i = 0; i < 4; i++)
    if ((rc = make_namespace(e, namespaces[i], err)) < 0) goto fail;
  if (e->o.tls && (rc = emu_tls_make(e, err)) < 0) goto fail;
  if ((rc = emu_api_init(e, err)) < 0) goto fail;
  snprintf(e->url, sizeof e->url, "%s://%s:%d", e->o.tls ? "https" : "http",
           e->o.host ? e->o.host : "127.0.0.1", sl_http_server_port(e->http));
  e->dispatcher = sl_emu_store_watch(e->store, NULL, on_change, e);
  uv_timer_init(loop, &e->notify);
  uv_timer_init(loop, &e->drop);
  e->notify.data = e->drop.data = e;
  e->handles_open = 2;
  if (backend) {
    e->backend = *backend;
    e->has_backend = 1;
    if (e->backend.start && (rc = e->backend.start(e->backend.ud, e, err)) < 0) {
      sl_emu_free(e);
      return rc;
    }
  }
  *out = e;
  return SL_OK;
fail:
  if (e->http) sl_http_server_free(e->http);
  free_emu(e);
  return rc;
}

void sl_emu_free(sl_emu_t *e) {
  if (!e || e->closing) return;
  e->closing = 1;
  if (e->has_backend && e->backend.stop) e->backend.stop(e->backend.ud);
  e->has_backend = 0;
  emu_api_close_watches(e);
  sl_http_server_free(e->http);
  e->http = NULL;
  uv_close((uv_handle_t *)&e->notify, on_closed);
  uv_close((uv_handle_t *)&e->drop, on_closed);
}

int sl_emu_port(const sl_emu_t *e) {
  return sl_http_server_port(e->http);
}

const char *sl_emu_url(const sl_emu_t *e) {
  return e->url;
}

const char *sl_emu_ca_pem(const sl_emu_t *e) {
  return e->cert_pem;
}

sl_emu_faults_t *sl_emu_faults(sl_emu_t *e) {
  return &e->faults;
}

int sl_emu_set_fault(sl_emu_t *e, const char *spec, sl_err_t *err) {
  int rc = sl_emu_faults_parse(&e->faults, spec, err);
  if (rc == 0) emu_faults_changed(e);
  return rc;
}

int sl_emu_fault_check(const char *spec, sl_err_t *err) {
  sl_emu_faults_t f;
  sl_emu_faults_init(&f, 0);
  int rc = sl_emu_faults_parse(&f, spec, err);
  sl_emu_faults_deinit(&f);
  return rc;
}

uv_loop_t *sl_emu_loop(const sl_emu_t *e) {
  return e->loop;
}

static char *base64(const char *s, size_t n) {
  static const char tb[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  char *out = malloc(4 * ((n + 2) / 3) + 1), *p = out;
  if (!out) return NULL;
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)(unsigned char)s[i] << 16;
    if (i + 1 < n) v |= (uint32_t)(unsigned char)s[i + 1] << 8;
    if (i + 2 < n) v |= (unsigned char)s[i + 2];
    *p++ = tb[(v >> 18) & 63];
    *p++ = tb[(v >> 12) & 63];
    *p++ = i + 1 < n ? tb[(v >> 6) & 63] : '=';
    *p++ = i + 2 < n ? tb[v & 63] : '=';
  }
  *p = '\0';
  return out;
}

int sl_emu_write_kubeconfig(const sl_emu_t *e, const char *path, sl_err_t *err) {
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof tmp)
    return sl_err(err, SL_EINVAL, "kubeconfig path too long");
  FILE *fp = fopen(tmp, "w");
  if (!fp) return sl_err(err, SL_EIO, "%s: %s", tmp, strerror(errno));
  char *ca = e->cert_pem ? base64(e->cert_pem, strlen(e->cert_pem)) : NULL;
  fprintf(fp,
          "apiVersion: v1\n"
          "kind: Config\n"
          "clusters:\n"
          "- name: sluice-emu\n"
          "  cluster:\n"
          "    server: %s\n",
          e->url);
  if (ca) fprintf(fp, "    certificate-authority-data: %s\n", ca);
  fprintf(fp, "contexts:\n"
              "- name: sluice-emu\n"
              "  context:\n"
              "    cluster: sluice-emu\n"
              "    user: sluice-emu\n"
              "    namespace: default\n"
              "current-context: sluice-emu\n"
              "preferences: {}\n"
              "users:\n"
              "- name: sluice-emu\n"
              "  user:\n"
              "    token: sluice-emu\n");
  free(ca);
  int bad = ferror(fp);
  if (fclose(fp) != 0 || bad) {
    unlink(tmp);
    return sl_err(err, SL_EIO, "%s: write failed", tmp);
  }
  if (rename(tmp, path) < 0) {
    int en = errno;
    unlink(tmp);
    return sl_err(err, SL_EIO, "%s: %s", path, strerror(en));
  }
  return SL_OK;
}

// ---- the C API
// ------------------------------------------------------------------------------------

static int fail_err(const sl_emu_fail_t *f, sl_err_t *err) {
  int code = f->code == 404 ? SL_ENOTFOUND : f->code == 409 ? SL_ESTATE : SL_EINVAL;
  return sl_err(err, code, "%s", f->msg);
}

const sl_json_t *sl_emu_get(sl_emu_t *e, const char *resource, const char *ns, const char *name) {
  sl_emu_rtype_t *t = emu_type(e, resource);
  sl_emu_obj_t *o = t ? sl_emu_store_get(e->store, t, ns, name) : NULL;
  return o ? o->json : NULL;
}

int sl_emu_list(sl_emu_t *e, const char *resource, const char *ns, const char *label_selector,
                const sl_json_t ***items, size_t *n, sl_err_t *err) {
  *items = NULL;
  *n = 0;
  sl_emu_rtype_t *t = emu_type(e, resource);
  if (!t) return sl_err(err, SL_ENOTFOUND, "no resource %s", resource);
  sl_sel_t sel;
  int rc = sl_sel_parse_labels(label_selector, &sel, err);
  if (rc < 0) return rc;
  sl_emu_obj_t **objs;
  size_t m = sl_emu_store_list(e->store, t, ns, &objs);
  const sl_json_t **v = malloc((m + 1) * sizeof *v);
  if (!v) {
    free(objs);
    sl_sel_deinit(&sel);
    return sl_err(err, SL_ENOMEM, "out of memory");
  }
  for (size_t i = 0; i < m; i++)
    if (sl_sel_match_labels(&sel, sl_json_at(objs[i]->json, "metadata.labels")))
      v[(*n)++] = objs[i]->json;
  free(objs);
  sl_sel_deinit(&sel);
  *items = v;
  return SL_OK;
}

static const char *ns_of(const sl_emu_rtype_t *t, const sl_json_t *obj) {
  if (!t->namespaced) return "";
  const char *ns = meta_str(obj, "namespace");
  return ns && *ns ? ns : "default";
}

int sl_emu_create(sl_emu_t *e, const char *resource, sl_json_t *obj, const sl_json_t **out,
                  sl_err_t *err) {
  sl_emu_rtype_t *t = emu_type(e, resource);
  if (!t) {
    sl_json_free(obj);
    return sl_err(err, SL_ENOTFOUND, "no resource %s", resource);
  }
  sl_emu_obj_t *o;
  sl_emu_fail_t f;
  char ns[254];
  snprintf(ns, sizeof ns, "%s", ns_of(t, obj));
  if (emu_create(e, t, ns, obj, EMU_INTERNAL | EMU_KEEP_STATUS, &o, &f) < 0)
    return fail_err(&f, err);
  if (out) *out = o->json;
  sl_emu_obj_unref(o);
  return SL_OK;
}

int sl_emu_update(sl_emu_t *e, const char *resource, sl_json_t *obj, const sl_json_t **out,
                  sl_err_t *err) {
  sl_emu_rtype_t *t = emu_type(e, resource);
  if (!t) {
    sl_json_free(obj);
    return sl_err(err, SL_ENOTFOUND, "no resource %s", resource);
  }
  char ns[254], name[254];
  snprintf(ns, sizeof ns, "%s", ns_of(t, obj));
  snprintf(name, sizeof name, "%s", sl_json_str_or(sl_json_at(obj, "metadata.name"), ""));
  sl_json_del(sl_json_get(obj, "metadata"), "resourceVersion");
  sl_emu_obj_t *o;
  sl_emu_fail_t f;
  if (emu_update(e, t, ns, name, obj, EMU_ALL, EMU_INTERNAL, &o, &f) < 0) return fail_err(&f, err);
  if (out) *out = o->json;
  sl_emu_obj_unref(o);
  return SL_OK;
}

int sl_emu_patch_status(sl_emu_t *e, const char *resource, const char *ns, const char *name,
                        const sl_json_t *status, sl_err_t *err) {
  const sl_json_t *cur = sl_emu_get(e, resource, ns, name);
  if (!cur) return sl_err(err, SL_ENOTFOUND, "%s %s/%s not found", resource, ns, name);
  sl_json_t *next = sl_json_clone(cur);
  sl_json_t *merged = NULL;
  if (!next) return sl_err(err, SL_ENOMEM, "out of memory");
  int rc = sl_patch_merge(sl_json_get(next, "status"), status, &merged, err);
  if (rc < 0 || sl_json_set(next, "status", merged) < 0) {
    sl_json_free(next);
    return rc < 0 ? rc : sl_err(err, SL_ENOMEM, "out of memory");
  }
  return sl_emu_update(e, resource, next, NULL, err);
}

int sl_emu_delete(sl_emu_t *e, const char *resource, const char *ns, const char *name,
                  sl_err_t *err) {
  sl_emu_rtype_t *t = emu_type(e, resource);
  if (!t) return sl_err(err, SL_ENOTFOUND, "no resource %s", resource);
  sl_emu_obj_t *o;
  sl_emu_fail_t f;
  if (emu_delete(e, t, t->namespaced ? ns : "", name, NULL, EMU_INTERNAL, &o, &f) < 0)
    return fail_err(&f, err);
  sl_emu_obj_unref(o);
  return SL_OK;
}

// ---- the scale subresource, for the controllers ------------------------------------------------

static sl_emu_rtype_t *scalable(sl_emu_t *e, const char *api_version, const char *kind) {
  const char *slash = strchr(api_version, '/');
  size_t glen = slash ? (size_t)(slash - api_version) : 0; // "v1": the core group
  for (size_t i = 0; i < sl_emu_store_ntypes(e->store); i++) {
    sl_emu_rtype_t *t = sl_emu_store_type_at(e->store, i);
    if (t->has_scale && t->served && !strcmp(t->kind, kind) && strlen(t->group) == glen &&
        !strncmp(t->group, api_version, glen))
      return t;
  }
  return NULL;
}

int sl_emu_get_scale(sl_emu_t *e, const char *api_version, const char *kind, const char *ns,
                     const char *name, sl_emu_scale_t *out, sl_err_t *err) {
  memset(out, 0, sizeof *out);
  sl_emu_rtype_t *t = scalable(e, api_version ? api_version : "", kind ? kind : "");
  if (!t)
    return sl_err(err, SL_ENOTFOUND, "no scale subresource for %s %s",
                  api_version ? api_version : "", kind ? kind : "");
  sl_emu_obj_t *o = sl_emu_store_get(e->store, t, t->namespaced ? ns : "", name);
  char q[200];
  emu_qualified(t, q, sizeof q);
  if (!o) return sl_err(err, SL_ENOTFOUND, "%s \"%s\" not found", q, name);
  snprintf(out->resource, sizeof out->resource, "%s", q);
  out->spec_replicas =
      (long)sl_json_num_or(sl_json_at(o->json, t->scale_spec ? t->scale_spec : "spec.replicas"), 0);
  out->status_replicas =
      t->scale_status ? (long)sl_json_num_or(sl_json_at(o->json, t->scale_status), 0) : 0;
  char *sel = NULL;
  if (sl_emu_is(t, "apps", "deployments") || sl_emu_is(t, "apps", "replicasets") ||
      sl_emu_is(t, "apps", "statefulsets"))
    sel = sl_sel_format(sl_json_at(o->json, "spec.selector"));
  else if (t->scale_selector)
    sel = strdup(sl_json_str_or(sl_json_at(o->json, t->scale_selector), ""));
  snprintf(out->selector, sizeof out->selector, "%s", sel ? sel : "");
  free(sel);
  return SL_OK;
}

int sl_emu_set_scale(sl_emu_t *e, const char *resource, const char *ns, const char *name,
                     long replicas, sl_err_t *err) {
  sl_emu_rtype_t *t = emu_type(e, resource);
  if (!t || !t->has_scale)
    return sl_err(err, SL_ENOTFOUND, "no scale subresource for %s", resource);
  const sl_json_t *cur = sl_emu_get(e, resource, ns, name);
  if (!cur) return sl_err(err, SL_ENOTFOUND, "%s \"%s\" not found", resource, name);
  sl_json_t *next = sl_json_clone(cur);
  const char *path = t->scale_spec ? t->scale_spec : "spec.replicas";
  const char *dot = strrchr(path, '.');
  char parent[128];
  snprintf(parent, sizeof parent, "%.*s", dot ? (int)(dot - path) : 0, path);
  sl_json_t *p = dot ? sl_json_at(next, parent) : next;
  if (!p && dot && sl_json_set(next, parent, sl_json_object()) == 0) p = sl_json_at(next, parent);
  if (!p || sl_json_set(p, dot ? dot + 1 : path, sl_json_number((double)replicas)) < 0) {
    sl_json_free(next);
    return sl_err(err, SL_ENOMEM, "cannot set %s", path);
  }
  return sl_emu_update(e, resource, next, NULL, err);
}

// Old events go first once too many are kept (the API server's TTL, by count).
static void trim_events(sl_emu_t *e, sl_emu_rtype_t *t) {
  if (sl_map_len(&t->objects) <= EVENTS_KEPT) return;
  sl_emu_obj_t *oldest = NULL;
  for (size_t i = 0; i < t->objects.n_entries; i++) {
    sl_emu_obj_t *o = t->objects.entries[i].value;
    if (t->objects.entries[i].key && (!oldest || o->rv < oldest->rv)) oldest = o;
  }
  if (!oldest) return;
  char ns[254], name[254];
  snprintf(ns, sizeof ns, "%s", sl_json_str_or(sl_json_at(oldest->json, "metadata.namespace"), ""));
  snprintf(name, sizeof name, "%s", sl_json_str_or(sl_json_at(oldest->json, "metadata.name"), ""));
  sl_emu_store_remove(e->store, t, ns, name, 1, NULL);
}

int sl_emu_event(sl_emu_t *e, const sl_json_t *obj, const char *type, const char *reason,
                 const char *message, const char *component) {
  sl_emu_rtype_t *t = type_of(e, "", "events");
  const char *name = meta_str(obj, "name"), *ns = meta_str(obj, "namespace");
  if (!name) return SL_EINVAL;
  if (!ns || !*ns) ns = "default";
  char ev_name[300], now[32], sfx[17];
  snprintf(sfx, sizeof sfx, "%016" PRIx64, sl_rng_u64(&e->rng));
  snprintf(ev_name, sizeof ev_name, "%.200s.%s", name, sfx);
  sl_emu_timestamp(now);
  sl_json_t *ev = sl_json_object(), *md = sl_json_object(), *inv = sl_json_object(),
            *src = sl_json_object();
  int rc = set_str(ev, "apiVersion", "v1");
  rc |= set_str(ev, "kind", "Event");
  rc |= set_str(md, "name", ev_name);
  rc |= set_str(md, "namespace", ns);
  rc |= sl_json_set(ev, "metadata", md);
  static const char *const ref_keys[] = {"uid", "resourceVersion"};
  rc |= set_str(inv, "kind", sl_json_str_or(sl_json_get(obj, "kind"), ""));
  rc |= set_str(inv, "namespace", ns);
  rc |= set_str(inv, "name", name);
  rc |= set_str(inv, "apiVersion", sl_json_str_or(sl_json_get(obj, "apiVersion"), ""));
  for (size_t i = 0; i < 2; i++) {
    const char *v = meta_str(obj, ref_keys[i]);
    if (v) rc |= set_str(inv, ref_keys[i], v);
  }
  rc |= sl_json_set(ev, "involvedObject", inv);
  rc |= set_str(ev, "reason", reason);
  rc |= set_str(ev, "message", message);
  rc |= set_str(src, "component", component);
  rc |= sl_json_set(ev, "source", src);
  rc |= set_str(ev, "firstTimestamp", now);
  rc |= set_str(ev, "lastTimestamp", now);
  rc |= sl_json_set(ev, "count", sl_json_number(1));
  rc |= set_str(ev, "type", type);
  rc |= set_str(ev, "reportingComponent", component);
  rc |= set_str(ev, "reportingInstance", "sluice-emulate");
  if (rc < 0) {
    sl_json_free(ev);
    return SL_ENOMEM;
  }
  sl_emu_obj_t *o;
  sl_emu_fail_t f;
  if (emu_create(e, t, ns, ev, EMU_INTERNAL, &o, &f) < 0) return SL_EINVAL;
  sl_emu_obj_unref(o);
  trim_events(e, t);
  return SL_OK;
}
