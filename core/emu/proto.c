// Protobuf request bodies to JSON. See proto.h. Field numbers are those of the Kubernetes API's
// generated.proto files for the messages listed; unknown fields are skipped, as protobuf
// readers do.
#include "core/emu/proto.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef enum {
  P_STR,
  P_BYTES,
  P_BOOL,
  P_INT,
  P_MSG,
  P_MAP_SS,
  P_MAP_SB,
  P_TIME,      // metav1.Time: RFC 3339 seconds
  P_MICROTIME, // metav1.MicroTime: RFC 3339 microseconds
} ptype_t;

typedef struct pmsg pmsg_t;
typedef struct {
  int num;
  const char *name;
  ptype_t type;
  int repeated;
  const pmsg_t *msg;
} pfield_t;
struct pmsg {
  const pfield_t *fields; // terminated by num 0
};

static const pfield_t owner_f[] = {{5, "apiVersion", P_STR, 0, NULL},
                                   {1, "kind", P_STR, 0, NULL},
                                   {3, "name", P_STR, 0, NULL},
                                   {4, "uid", P_STR, 0, NULL},
                                   {6, "controller", P_BOOL, 0, NULL},
                                   {7, "blockOwnerDeletion", P_BOOL, 0, NULL},
                                   {0}};
static const pmsg_t owner_m = {owner_f};

static const pfield_t meta_f[] = {{1, "name", P_STR, 0, NULL},
                                  {2, "generateName", P_STR, 0, NULL},
                                  {3, "namespace", P_STR, 0, NULL},
                                  {5, "uid", P_STR, 0, NULL},
                                  {6, "resourceVersion", P_STR, 0, NULL},
                                  {7, "generation", P_INT, 0, NULL},
                                  {8, "creationTimestamp", P_TIME, 0, NULL},
                                  {11, "labels", P_MAP_SS, 0, NULL},
                                  {12, "annotations", P_MAP_SS, 0, NULL},
                                  {13, "ownerReferences", P_MSG, 1, &owner_m},
                                  {14, "finalizers", P_STR, 1, NULL},
                                  {0}};
static const pmsg_t meta_m = {meta_f};

static const pfield_t ns_spec_f[] = {{1, "finalizers", P_STR, 1, NULL}, {0}};
static const pmsg_t ns_spec_m = {ns_spec_f};
static const pfield_t ns_f[] = {
    {1, "metadata", P_MSG, 0, &meta_m}, {2, "spec", P_MSG, 0, &ns_spec_m}, {0}};
static const pmsg_t ns_m = {ns_f};

static const pfield_t cm_f[] = {{1, "metadata", P_MSG, 0, &meta_m},
                                {2, "data", P_MAP_SS, 0, NULL},
                                {3, "binaryData", P_MAP_SB, 0, NULL},
                                {4, "immutable", P_BOOL, 0, NULL},
                                {0}};
static const pmsg_t cm_m = {cm_f};

static const pfield_t secret_f[] = {
    {1, "metadata", P_MSG, 0, &meta_m}, {2, "data", P_MAP_SB, 0, NULL},
    {3, "type", P_STR, 0, NULL},        {4, "stringData", P_MAP_SS, 0, NULL},
    {5, "immutable", P_BOOL, 0, NULL},  {0}};
static const pmsg_t secret_m = {secret_f};

static const pfield_t ref_f[] = {{3, "name", P_STR, 0, NULL}, {0}};
static const pmsg_t ref_m = {ref_f};
static const pfield_t local_ref_f[] = {{1, "name", P_STR, 0, NULL}, {0}};
static const pmsg_t local_ref_m = {local_ref_f};
static const pfield_t sa_f[] = {{1, "metadata", P_MSG, 0, &meta_m},
                                {2, "secrets", P_MSG, 1, &ref_m},
                                {3, "imagePullSecrets", P_MSG, 1, &local_ref_m},
                                {4, "automountServiceAccountToken", P_BOOL, 0, NULL},
                                {0}};
static const pmsg_t sa_m = {sa_f};

static const pfield_t lease_spec_f[] = {
    {1, "holderIdentity", P_STR, 0, NULL},    {2, "leaseDurationSeconds", P_INT, 0, NULL},
    {3, "acquireTime", P_MICROTIME, 0, NULL}, {4, "renewTime", P_MICROTIME, 0, NULL},
    {5, "leaseTransitions", P_INT, 0, NULL},  {6, "strategy", P_STR, 0, NULL},
    {7, "preferredHolder", P_STR, 0, NULL},   {0}};
static const pmsg_t lease_spec_m = {lease_spec_f};
static const pfield_t lease_f[] = {
    {1, "metadata", P_MSG, 0, &meta_m}, {2, "spec", P_MSG, 0, &lease_spec_m}, {0}};
static const pmsg_t lease_m = {lease_f};

static const pfield_t objref_f[] = {
    {1, "kind", P_STR, 0, NULL},       {2, "namespace", P_STR, 0, NULL},
    {3, "name", P_STR, 0, NULL},       {4, "uid", P_STR, 0, NULL},
    {5, "apiVersion", P_STR, 0, NULL}, {6, "resourceVersion", P_STR, 0, NULL},
    {7, "fieldPath", P_STR, 0, NULL},  {0}};
static const pmsg_t objref_m = {objref_f};
static const pfield_t source_f[] = {
    {1, "component", P_STR, 0, NULL}, {2, "host", P_STR, 0, NULL}, {0}};
static const pmsg_t source_m = {source_f};
static const pfield_t event_f[] = {{1, "metadata", P_MSG, 0, &meta_m},
                                   {2, "involvedObject", P_MSG, 0, &objref_m},
                                   {3, "reason", P_STR, 0, NULL},
                                   {4, "message", P_STR, 0, NULL},
                                   {5, "source", P_MSG, 0, &source_m},
                                   {6, "firstTimestamp", P_TIME, 0, NULL},
                                   {7, "lastTimestamp", P_TIME, 0, NULL},
                                   {8, "count", P_INT, 0, NULL},
                                   {9, "type", P_STR, 0, NULL},
                                   {10, "eventTime", P_MICROTIME, 0, NULL},
                                   {12, "action", P_STR, 0, NULL},
                                   {13, "related", P_MSG, 0, &objref_m},
                                   {14, "reportingComponent", P_STR, 0, NULL},
                                   {15, "reportingInstance", P_STR, 0, NULL},
                                   {0}};
static const pmsg_t event_m = {event_f};

static const struct {
  const char *api_version, *kind;
  const pmsg_t *msg;
} kinds[] = {
    {"coordination.k8s.io/v1", "Lease", &lease_m},
    {"v1", "Event", &event_m},
    {"v1", "Namespace", &ns_m},
    {"v1", "ConfigMap", &cm_m},
    {"v1", "Secret", &secret_m},
    {"v1", "ServiceAccount", &sa_m},
};

// ---- wire format ------------------------------------------------------------------------------

typedef struct {
  const uint8_t *p, *end;
} rd_t;

static int varint(rd_t *r, uint64_t *v) {
  *v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (r->p >= r->end) return -1;
    uint8_t b = *r->p++;
    *v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) return 0;
  }
  return -1;
}

static int skip(rd_t *r, int wire) {
  uint64_t v;
  switch (wire) {
  case 0:
    return varint(r, &v);
  case 1:
    if (r->end - r->p < 8) return -1;
    r->p += 8;
    return 0;
  case 2:
    if (varint(r, &v) < 0 || v > (uint64_t)(r->end - r->p)) return -1;
    r->p += v;
    return 0;
  case 5:
    if (r->end - r->p < 4) return -1;
    r->p += 4;
    return 0;
  }
  return -1;
}

static int utf8_ok(const uint8_t *s, size_t n) {
  for (size_t i = 0; i < n;) {
    uint8_t c = s[i];
    size_t k = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (!k || i + k > n) return 0;
    for (size_t j = 1; j < k; j++)
      if ((s[i + j] & 0xc0) != 0x80) return 0;
    i += k;
  }
  return 1;
}

static sl_json_t *b64(const uint8_t *s, size_t n) {
  static const char tb[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  char *out = malloc(4 * ((n + 2) / 3) + 1), *p = out;
  if (!out) return NULL;
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)s[i] << 16;
    if (i + 1 < n) v |= (uint32_t)s[i + 1] << 8;
    if (i + 2 < n) v |= s[i + 2];
    *p++ = tb[(v >> 18) & 63];
    *p++ = tb[(v >> 12) & 63];
    *p++ = i + 1 < n ? tb[(v >> 6) & 63] : '=';
    *p++ = i + 2 < n ? tb[v & 63] : '=';
  }
  *p = '\0';
  sl_json_t *j = sl_json_string(out);
  free(out);
  return j;
}

static int decode(rd_t *r, const pmsg_t *m, sl_json_t *obj, int depth);

static sl_json_t *decode_value(const pfield_t *f, const uint8_t *p, size_t n, uint64_t v,
                               int depth) {
  switch (f->type) {
  case P_STR:
    return utf8_ok(p, n) ? sl_json_stringn((const char *)p, n) : NULL;
  case P_BYTES:
    return b64(p, n);
  case P_BOOL:
    return sl_json_bool(v != 0);
  case P_INT:
    return sl_json_number((double)(int64_t)v);
  case P_MSG: {
    sl_json_t *o = sl_json_object();
    rd_t sub = {p, p + n};
    if (o && decode(&sub, f->msg, o, depth + 1) < 0) {
      sl_json_free(o);
      return NULL;
    }
    return o;
  }
  case P_TIME:
  case P_MICROTIME: {
    rd_t sub = {p, p + n};
    int64_t secs = 0, nanos = 0;
    while (sub.p < sub.end) {
      uint64_t key, x;
      if (varint(&sub, &key) < 0) return NULL;
      if (((key >> 3) == 1 || (key >> 3) == 2) && (key & 7) == 0) {
        if (varint(&sub, &x) < 0) return NULL;
        if ((key >> 3) == 1)
          secs = (int64_t)x;
        else
          nanos = (int64_t)x;
      } else if (skip(&sub, (int)(key & 7)) < 0) {
        return NULL;
      }
    }
    time_t t = (time_t)secs;
    struct tm tm;
    char b[48];
    if (!gmtime_r(&t, &tm)) return NULL;
    size_t k = strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%S", &tm);
    if (f->type == P_MICROTIME)
      snprintf(b + k, sizeof b - k, ".%06ldZ",
               (long)((nanos / 1000) % 1000000 + 1000000) % 1000000);
    else
      snprintf(b + k, sizeof b - k, "Z");
    return sl_json_string(b);
  }
  default:
    return NULL;
  }
}

// A map entry {1: key, 2: value} into obj.
static int map_entry(const pfield_t *f, const uint8_t *p, size_t n, sl_json_t *map) {
  rd_t r = {p, p + n};
  const uint8_t *k = NULL, *v = (const uint8_t *)"";
  size_t kl = 0, vl = 0;
  while (r.p < r.end) {
    uint64_t key, len;
    if (varint(&r, &key) < 0) return -1;
    if ((key & 7) != 2) {
      if (skip(&r, (int)(key & 7)) < 0) return -1;
      continue;
    }
    if (varint(&r, &len) < 0 || len > (uint64_t)(r.end - r.p)) return -1;
    if ((key >> 3) == 1) {
      k = r.p;
      kl = len;
    } else if ((key >> 3) == 2) {
      v = r.p;
      vl = len;
    }
    r.p += len;
  }
  if (!k || !utf8_ok(k, kl)) return -1;
  char *key = strndup((const char *)k, kl);
  sl_json_t *val = f->type == P_MAP_SB ? b64(v, vl)
                   : utf8_ok(v, vl)    ? sl_json_stringn((const char *)v, vl)
                                       : NULL;
  if (!key || !val) {
    free(key);
    sl_json_free(val);
    return -1;
  }
  int rc = sl_json_set(map, key, val);
  free(key);
  return rc < 0 ? -1 : 0;
}

static int decode(rd_t *r, const pmsg_t *m, sl_json_t *obj, int depth) {
  if (depth > 16) return -1;
  while (r->p < r->end) {
    uint64_t key, v = 0, len = 0;
    if (varint(r, &key) < 0) return -1;
    int num = (int)(key >> 3), wire = (int)(key & 7);
    const pfield_t *f = NULL;
    for (const pfield_t *x = m->fields; x->num && !f; x++)
      if (x->num == num) f = x;
    int want = f && (f->type == P_BOOL || f->type == P_INT) ? 0 : 2;
    if (!f || wire != want) {
      if (skip(r, wire) < 0) return -1;
      continue;
    }
    const uint8_t *p = NULL;
    if (wire == 0) {
      if (varint(r, &v) < 0) return -1;
    } else {
      if (varint(r, &len) < 0 || len > (uint64_t)(r->end - r->p)) return -1;
      p = r->p;
      r->p += len;
    }
    if (f->type == P_MAP_SS || f->type == P_MAP_SB) {
      sl_json_t *map = sl_json_get(obj, f->name);
      if (!map) {
        if (sl_json_set(obj, f->name, sl_json_object()) < 0) return -1;
        map = sl_json_get(obj, f->name);
      }
      if (map_entry(f, p, (size_t)len, map) < 0) return -1;
      continue;
    }
    sl_json_t *val = decode_value(f, p, (size_t)len, v, depth);
    if (!val) return -1;
    if (f->repeated) {
      sl_json_t *arr = sl_json_get(obj, f->name);
      if (!arr) {
        if (sl_json_set(obj, f->name, sl_json_array()) < 0) {
          sl_json_free(val);
          return -1;
        }
        arr = sl_json_get(obj, f->name);
      }
      if (sl_json_push(arr, val) < 0) return -1;
    } else if (sl_json_set(obj, f->name, val) < 0) {
      return -1;
    }
  }
  return 0;
}

int sl_emu_proto_decode(const char *buf, size_t len, sl_json_t **out, sl_err_t *err) {
  *out = NULL;
  if (len < 4 || memcmp(buf, "k8s\0", 4))
    return sl_err(err, SL_EPARSE, "not a Kubernetes protobuf body (no k8s magic)");
  rd_t r = {(const uint8_t *)buf + 4, (const uint8_t *)buf + len};
  char av[64] = "", kind[64] = "";
  const uint8_t *raw = NULL;
  size_t raw_len = 0;
  while (r.p < r.end) {
    uint64_t key, n;
    if (varint(&r, &key) < 0) return sl_err(err, SL_EPARSE, "truncated protobuf envelope");
    if ((key & 7) != 2) {
      if (skip(&r, (int)(key & 7)) < 0) return sl_err(err, SL_EPARSE, "bad protobuf envelope");
      continue;
    }
    if (varint(&r, &n) < 0 || n > (uint64_t)(r.end - r.p))
      return sl_err(err, SL_EPARSE, "truncated protobuf envelope");
    if ((key >> 3) == 1) { // TypeMeta
      rd_t tm = {r.p, r.p + n};
      while (tm.p < tm.end) {
        uint64_t k2, l2;
        if (varint(&tm, &k2) < 0 || (k2 & 7) != 2 || varint(&tm, &l2) < 0 ||
            l2 > (uint64_t)(tm.end - tm.p) || l2 >= sizeof av)
          return sl_err(err, SL_EPARSE, "bad protobuf type meta");
        char *dst = (k2 >> 3) == 1 ? av : (k2 >> 3) == 2 ? kind : NULL;
        if (dst) {
          memcpy(dst, tm.p, l2);
          dst[l2] = '\0';
        }
        tm.p += l2;
      }
    } else if ((key >> 3) == 2) {
      raw = r.p;
      raw_len = (size_t)n;
    }
    r.p += n;
  }
  const pmsg_t *m = NULL;
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0] && !m; i++)
    if (!strcmp(kinds[i].api_version, av) && !strcmp(kinds[i].kind, kind)) m = kinds[i].msg;
  if (!m)
    return sl_err(err, SL_ENOTFOUND,
                  "protobuf bodies are decoded only for v1 Namespace, ConfigMap, Secret, "
                  "ServiceAccount and Event, and coordination.k8s.io/v1 Lease, not %.60s %.60s",
                  av, kind);
  sl_json_t *obj = sl_json_object();
  if (!obj || sl_json_set(obj, "apiVersion", sl_json_string(av)) < 0 ||
      sl_json_set(obj, "kind", sl_json_string(kind)) < 0) {
    sl_json_free(obj);
    return sl_err(err, SL_ENOMEM, "out of memory");
  }
  rd_t body = {raw ? raw : r.end, raw ? raw + raw_len : r.end};
  if (decode(&body, m, obj, 0) < 0) {
    sl_json_free(obj);
    return sl_err(err, SL_EPARSE, "malformed protobuf %s", kind);
  }
  *out = obj;
  return SL_OK;
}
