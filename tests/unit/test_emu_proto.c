// Protobuf request bodies (what kubectl's typed create commands send) decoded to JSON, and
// malformed or unsupported ones refused.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/emu/proto.h"
#include "tests/unit/tap.h"

typedef struct {
  char b[1024];
  size_t n;
} pb_t;

static void raw(pb_t *p, const void *s, size_t n) {
  memcpy(p->b + p->n, s, n);
  p->n += n;
}

static void varint(pb_t *p, unsigned long long v) {
  do {
    unsigned char c = v & 0x7f;
    v >>= 7;
    if (v) c |= 0x80;
    raw(p, &c, 1);
  } while (v);
}

static void field(pb_t *p, int num, const void *s, size_t n) {
  varint(p, (unsigned long long)num << 3 | 2);
  varint(p, n);
  raw(p, s, n);
}

static void fstr(pb_t *p, int num, const char *s) {
  field(p, num, s, strlen(s));
}

static void envelope(pb_t *out, const char *av, const char *kind, const pb_t *obj) {
  pb_t tm = {0};
  fstr(&tm, 1, av);
  fstr(&tm, 2, kind);
  raw(out, "k8s\0", 4);
  field(out, 1, tm.b, tm.n);
  field(out, 2, obj->b, obj->n);
  fstr(out, 4, "application/vnd.kubernetes.protobuf");
}

int main(void) {
  // kubectl create configmap cfg --from-literal=a=1, with a label and a binary value
  pb_t meta = {0}, label = {0}, data = {0}, bin = {0}, cm = {0}, body = {0};
  fstr(&meta, 1, "cfg");
  fstr(&meta, 3, "default");
  fstr(&label, 1, "app");
  fstr(&label, 2, "web");
  field(&meta, 11, label.b, label.n);
  varint(&meta, 99 << 3 | 0); // an unknown varint field: skipped
  varint(&meta, 7);
  field(&cm, 1, meta.b, meta.n);
  fstr(&data, 1, "a");
  fstr(&data, 2, "1");
  field(&cm, 2, data.b, data.n);
  fstr(&bin, 1, "blob");
  field(&bin, 2, "\x00\xff\x10", 3);
  field(&cm, 3, bin.b, bin.n);
  varint(&cm, 4 << 3 | 0);
  varint(&cm, 1);
  envelope(&body, "v1", "ConfigMap", &cm);
  sl_json_t *j = NULL;
  sl_err_t err = {0};
  T_OK(sl_emu_proto_decode(body.b, body.n, &j, &err) == 0, "ConfigMap decodes (%s)", err.msg);
  char *s = NULL;
  size_t len;
  if (j) sl_json_write(j, &s, &len, &err);
  T_OK(s && !strcmp(s,
                    "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"cfg\","
                    "\"namespace\":\"default\",\"labels\":{\"app\":\"web\"}},\"data\":{\"a\":"
                    "\"1\"},\"binaryData\":{\"blob\":\"AP8Q\"},\"immutable\":true}"),
       "as JSON: names, maps, bytes as base64, bool (%s)", s);
  free(s);
  sl_json_free(j);

  // Every truncation of a valid body is refused or decodes; none crashes or leaks.
  int refused = 0;
  for (size_t cut = 0; cut < body.n; cut++) {
    j = NULL;
    if (sl_emu_proto_decode(body.b, cut, &j, &err) < 0)
      refused++;
    else
      sl_json_free(j);
  }
  T_OK(refused > (int)body.n / 2, "truncated bodies are mostly refused (%d of %zu)", refused,
       body.n);

  // A leader election Lease, with MicroTime and int32 fields.
  pb_t lm = {0}, spec = {0}, rt = {0}, lease = {0}, lb = {0};
  fstr(&lm, 1, "sluice-leader");
  fstr(&spec, 1, "pod-a");
  varint(&spec, 2 << 3 | 0);
  varint(&spec, 15);
  varint(&rt, 1 << 3 | 0);
  varint(&rt, 1700000000);
  varint(&rt, 2 << 3 | 0);
  varint(&rt, 123456000);
  field(&spec, 4, rt.b, rt.n);
  field(&lease, 1, lm.b, lm.n);
  field(&lease, 2, spec.b, spec.n);
  envelope(&lb, "coordination.k8s.io/v1", "Lease", &lease);
  j = NULL;
  T_OK(sl_emu_proto_decode(lb.b, lb.n, &j, &err) == 0, "Lease decodes (%s)", err.msg);
  T_OK(!strcmp(sl_json_str_or(sl_json_at(j, "spec.holderIdentity"), ""), "pod-a") &&
           sl_json_num_or(sl_json_at(j, "spec.leaseDurationSeconds"), 0) == 15 &&
           !strcmp(sl_json_str_or(sl_json_at(j, "spec.renewTime"), ""),
                   "2023-11-14T22:13:20.123456Z"),
       "holder, duration and MicroTime (%s)", sl_json_str_or(sl_json_at(j, "spec.renewTime"), "?"));
  sl_json_free(j);

  pb_t dep = {0}, b2 = {0};
  fstr(&dep, 1, "x");
  envelope(&b2, "apps/v1", "Deployment", &dep);
  T_OK(sl_emu_proto_decode(b2.b, b2.n, &j, &err) == SL_ENOTFOUND, "a kind without a schema");
  T_STR_HAS(err.msg, "apps/v1 Deployment", "named in the message");
  T_OK(sl_emu_proto_decode("{\"a\":1}", 7, &j, &err) == SL_EPARSE, "JSON is not protobuf");
  pb_t bad = {0}, b3 = {0};
  fstr(&bad, 1, "\xff\xfe"); // metadata that is not a message
  envelope(&b3, "v1", "Namespace", &bad);
  T_OK(sl_emu_proto_decode(b3.b, b3.n, &j, &err) == SL_EPARSE, "a field that does not parse");
  pb_t m2 = {0}, ns = {0}, b4 = {0};
  fstr(&m2, 1, "\xc3\x28"); // invalid UTF-8
  field(&ns, 1, m2.b, m2.n);
  envelope(&b4, "v1", "Namespace", &ns);
  T_OK(sl_emu_proto_decode(b4.b, b4.n, &j, &err) == SL_EPARSE, "invalid UTF-8 in a string");
  return tap_done();
}
