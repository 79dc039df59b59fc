// Server-side printing: the meta.k8s.io/v1 Table that `kubectl get` asks for, with the columns
// a real API server prints for the built-in kinds and a CRD's additionalPrinterColumns (a
// small JSONPath subset: .a.b, [n], [?(@.k=="v")]) for custom resources.
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/emu/table.h"
#include "core/emu/kinds.h"
#include "core/emu/select.h"

void emu_age(const char *ts, char *buf, size_t n) {
  struct tm tm = {0};
  if (!ts || !strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm)) {
    snprintf(buf, n, "<unknown>");
    return;
  }
  long long d = (long long)difftime(time(NULL), timegm(&tm));
  // kubectl's human durations: exact seconds under two minutes, then coarser.
  if (d < -1) {
    snprintf(buf, n, "<invalid>");
  } else if (d < 0) {
    snprintf(buf, n, "0s");
  } else if (d < 120) {
    snprintf(buf, n, "%llds", d);
  } else if (d < 600) {
    long long m = d / 60, s = d % 60;
    if (s)
      snprintf(buf, n, "%lldm%llds", m, s);
    else
      snprintf(buf, n, "%lldm", m);
  } else if (d < 3 * 3600) {
    snprintf(buf, n, "%lldm", d / 60);
  } else if (d < 8 * 3600) {
    long long h = d / 3600, m = (d / 60) % 60;
    if (m)
      snprintf(buf, n, "%lldh%lldm", h, m);
    else
      snprintf(buf, n, "%lldh", h);
  } else if (d < 48 * 3600) {
    snprintf(buf, n, "%lldh", d / 3600);
  } else if (d < 8 * 86400) {
    long long dd = d / 86400, h = (d / 3600) % 24;
    if (h)
      snprintf(buf, n, "%lldd%lldh", dd, h);
    else
      snprintf(buf, n, "%lldd", dd);
  } else if (d < 2 * 365 * 86400LL) {
    snprintf(buf, n, "%lldd", d / 86400);
  } else {
    long long y = d / (365 * 86400LL), dd = (d / 86400) % 365;
    if (y < 8 && dd)
      snprintf(buf, n, "%lldy%lldd", y, dd);
    else
      snprintf(buf, n, "%lldy", y);
  }
}

typedef struct {
  const char *name, *type, *format;
  int priority;
} col_t;

static const char *str(const sl_json_t *o, const char *path) {
  return sl_json_str_or(sl_json_at(o, path), NULL);
}

static sl_json_t *cell_str(const char *s) {
  return sl_json_string(s && *s ? s : "<none>");
}

static sl_json_t *cell_num(const sl_json_t *o, const char *path) {
  return sl_json_number(sl_json_num_or(sl_json_at(o, path), 0));
}

static sl_json_t *cell_age(const sl_json_t *o, const char *path) {
  char b[32];
  emu_age(str(o, path), b, sizeof b);
  return sl_json_string(b);
}

static size_t count(const sl_json_t *o, const char *path) {
  const sl_json_t *v = sl_json_at(o, path);
  return v && (v->type == SL_JSON_ARRAY || v->type == SL_JSON_OBJECT) ? v->n : 0;
}

// ---- per kind -----------------------------------------------------------------------------------

static const col_t pod_cols[] = {
    {"Name", "string", "name", 0},
    {"Ready", "string", "", 0},
    {"Status", "string", "", 0},
    {"Restarts", "string", "", 0},
    {"Age", "string", "", 0},
    {"IP", "string", "", 1},
    {"Node", "string", "", 1},
    {"Nominated Node", "string", "", 1},
    {"Readiness Gates", "string", "", 1},
    {NULL},
};

static void pod_row(const sl_json_t *p, sl_json_t *cells) {
  const sl_json_t *cs = sl_json_at(p, "status.containerStatuses");
  size_t total = count(p, "spec.containers"), ready = 0;
  long restarts = 0;
  const char *reason = str(p, "status.reason");
  if (!reason) reason = str(p, "status.phase");
  for (size_t i = 0; cs && cs->type == SL_JSON_ARRAY && i < cs->n; i++) {
    const sl_json_t *c = cs->items[i];
    if (sl_json_bool_or(sl_json_get(c, "ready"), 0)) ready++;
    restarts += (long)sl_json_num_or(sl_json_get(c, "restartCount"), 0);
    const char *w = str(c, "state.waiting.reason"), *t = str(c, "state.terminated.reason");
    if (w && *w)
      reason = w;
    else if (t && *t)
      reason = t;
  }
  if (str(p, "metadata.deletionTimestamp")) reason = "Terminating";
  char rb[32], restb[32];
  snprintf(rb, sizeof rb, "%zu/%zu", ready, total);
  snprintf(restb, sizeof restb, "%ld", restarts);
  sl_json_push(cells, sl_json_string(str(p, "metadata.name")));
  sl_json_push(cells, sl_json_string(rb));
  sl_json_push(cells, sl_json_string(reason ? reason : "Unknown"));
  sl_json_push(cells, sl_json_string(restb));
  sl_json_push(cells, cell_age(p, "metadata.creationTimestamp"));
  sl_json_push(cells, cell_str(str(p, "status.podIP")));
  sl_json_push(cells, cell_str(str(p, "spec.nodeName")));
  sl_json_push(cells, cell_str(NULL));
  sl_json_push(cells, cell_str(NULL));
}

static void containers_images(const sl_json_t *o, const char *path, sl_json_t *cells) {
  const sl_json_t *cs = sl_json_at(o, path);
  sl_json_buf_t names = {0}, images = {0};
  sl_json_buf_add(&names, "", 0);
  sl_json_buf_add(&images, "", 0);
  for (size_t i = 0; cs && cs->type == SL_JSON_ARRAY && i < cs->n; i++) {
    const char *n = str(cs->items[i], "name"), *im = str(cs->items[i], "image");
    if (i) {
      sl_json_buf_add(&names, ",", 1);
      sl_json_buf_add(&images, ",", 1);
    }
    if (n) sl_json_buf_add(&names, n, strlen(n));
    if (im) sl_json_buf_add(&images, im, strlen(im));
  }
  sl_json_push(cells, cell_str(names.buf));
  sl_json_push(cells, cell_str(images.buf));
  sl_json_buf_deinit(&names);
  sl_json_buf_deinit(&images);
}

static const col_t deploy_cols[] = {
    {"Name", "string", "name", 0},
    {"Ready", "string", "", 0},
    {"Up-to-date", "integer", "", 0},
    {"Available", "integer", "", 0},
    {"Age", "string", "", 0},
    {"Containers", "string", "", 1},
    {"Images", "string", "", 1},
    {"Selector", "string", "", 1},
    {NULL},
};

static void deploy_row(const sl_json_t *d, sl_json_t *cells) {
  char rb[48];
  snprintf(rb, sizeof rb, "%ld/%ld", (long)sl_json_num_or(sl_json_at(d, "status.readyReplicas"), 0),
           (long)sl_json_num_or(sl_json_at(d, "spec.replicas"), 0));
  sl_json_push(cells, sl_json_string(str(d, "metadata.name")));
  sl_json_push(cells, sl_json_string(rb));
  sl_json_push(cells, cell_num(d, "status.updatedReplicas"));
  sl_json_push(cells, cell_num(d, "status.availableReplicas"));
  sl_json_push(cells, cell_age(d, "metadata.creationTimestamp"));
  containers_images(d, "spec.template.spec.containers", cells);
  char *sel = sl_sel_format(sl_json_at(d, "spec.selector"));
  sl_json_push(cells, cell_str(sel));
  free(sel);
}

static const col_t rs_cols[] = {
    {"Name", "string", "name", 0}, {"Desired", "integer", "", 0}, {"Current", "integer", "", 0},
    {"Ready", "integer", "", 0},   {"Age", "string", "", 0},      {"Containers", "string", "", 1},
    {"Images", "string", "", 1},   {"Selector", "string", "", 1}, {NULL},
};

static void rs_row(const sl_json_t *d, sl_json_t *cells) {
  sl_json_push(cells, sl_json_string(str(d, "metadata.name")));
  sl_json_push(cells, cell_num(d, "spec.replicas"));
  sl_json_push(cells, cell_num(d, "status.replicas"));
  sl_json_push(cells, cell_num(d, "status.readyReplicas"));
  sl_json_push(cells, cell_age(d, "metadata.creationTimestamp"));
  containers_images(d, "spec.template.spec.containers", cells);
  char *sel = sl_sel_format(sl_json_at(d, "spec.selector"));
  sl_json_push(cells, cell_str(sel));
  free(sel);
}

static const col_t svc_cols[] = {
    {"Name", "string", "name", 0},   {"Type", "string", "", 0},
    {"Cluster-IP", "string", "", 0}, {"External-IP", "string", "", 0},
    {"Port(s)", "string", "", 0},    {"Age", "string", "", 0},
    {"Selector", "string", "", 1},   {NULL},
};

static void svc_row(const sl_json_t *s, sl_json_t *cells) {
  sl_json_push(cells, sl_json_string(str(s, "metadata.name")));
  sl_json_push(cells, cell_str(str(s, "spec.type")));
  sl_json_push(cells, cell_str(str(s, "spec.clusterIP")));
  sl_json_push(cells, cell_str(NULL));
  sl_json_buf_t b = {0};
  sl_json_buf_add(&b, "", 0);
  const sl_json_t *ps = sl_json_at(s, "spec.ports");
  for (size_t i = 0; ps && ps->type == SL_JSON_ARRAY && i < ps->n; i++) {
    char one[64];
    snprintf(one, sizeof one, "%s%ld/%s", i ? "," : "",
             (long)sl_json_num_or(sl_json_get(ps->items[i], "port"), 0),
             sl_json_str_or(sl_json_get(ps->items[i], "protocol"), "TCP"));
    sl_json_buf_add(&b, one, strlen(one));
  }
  sl_json_push(cells, cell_str(b.buf));
  sl_json_buf_deinit(&b);
  sl_json_push(cells, cell_age(s, "metadata.creationTimestamp"));
  const sl_json_t *sel = sl_json_at(s, "spec.selector");
  sl_json_buf_t sb = {0};
  sl_json_buf_add(&sb, "", 0);
  for (size_t i = 0; sel && sel->type == SL_JSON_OBJECT && i < sel->n; i++) {
    if (i) sl_json_buf_add(&sb, ",", 1);
    sl_json_buf_add(&sb, sel->keys[i], strlen(sel->keys[i]));
    sl_json_buf_add(&sb, "=", 1);
    const char *v = sl_json_str_or(sel->items[i], "");
    sl_json_buf_add(&sb, v, strlen(v));
  }
  sl_json_push(cells, cell_str(sb.buf));
  sl_json_buf_deinit(&sb);
}

static const col_t node_cols[] = {
    {"Name", "string", "name", 0},
    {"Status", "string", "", 0},
    {"Roles", "string", "", 0},
    {"Age", "string", "", 0},
    {"Version", "string", "", 0},
    {"GPU", "string", "", 1},
    {NULL},
};

static void node_row(const sl_json_t *n, sl_json_t *cells) {
  const sl_json_t *conds = sl_json_at(n, "status.conditions");
  const char *ready = "Unknown";
  for (size_t i = 0; conds && conds->type == SL_JSON_ARRAY && i < conds->n; i++)
    if (!strcmp(sl_json_str_or(sl_json_get(conds->items[i], "type"), ""), "Ready"))
      ready = !strcmp(sl_json_str_or(sl_json_get(conds->items[i], "status"), ""), "True")
                  ? "Ready"
                  : "NotReady";
  sl_json_push(cells, sl_json_string(str(n, "metadata.name")));
  sl_json_push(cells, sl_json_string(ready));
  sl_json_push(cells, cell_str(NULL));
  sl_json_push(cells, cell_age(n, "metadata.creationTimestamp"));
  sl_json_push(cells, cell_str(str(n, "status.nodeInfo.kubeletVersion")));
  const sl_json_t *labels = sl_json_at(n, "metadata.labels");
  sl_json_push(cells,
               cell_str(sl_json_str_or(sl_json_get(labels, "nvidia.com/gpu.product"), NULL)));
}

static const col_t event_cols[] = {
    {"Last Seen", "string", "", 0}, {"Type", "string", "", 0},     {"Reason", "string", "", 0},
    {"Object", "string", "", 0},    {"Message", "string", "", 0},  {"Source", "string", "", 1},
    {"Count", "integer", "", 1},    {"Name", "string", "name", 1}, {NULL},
};

static void event_row(const sl_json_t *ev, sl_json_t *cells) {
  const char *last = str(ev, "lastTimestamp");
  if (!last) last = str(ev, "eventTime");
  if (!last) last = str(ev, "metadata.creationTimestamp");
  char age[32], obj[400];
  emu_age(last, age, sizeof age);
  const sl_json_t *inv = sl_json_get(ev, "involvedObject");
  if (!inv) inv = sl_json_get(ev, "regarding");
  char kind[64];
  snprintf(kind, sizeof kind, "%s", sl_json_str_or(sl_json_get(inv, "kind"), ""));
  for (char *c = kind; *c; c++) *c = (char)tolower((unsigned char)*c);
  snprintf(obj, sizeof obj, "%s/%s", kind, sl_json_str_or(sl_json_get(inv, "name"), ""));
  const char *msg = str(ev, "message");
  if (!msg) msg = str(ev, "note");
  sl_json_push(cells, sl_json_string(age));
  sl_json_push(cells, cell_str(str(ev, "type")));
  sl_json_push(cells, cell_str(str(ev, "reason")));
  sl_json_push(cells, sl_json_string(obj));
  sl_json_push(cells, sl_json_string(msg ? msg : ""));
  sl_json_push(cells, cell_str(str(ev, "source.component")));
  sl_json_push(cells, cell_num(ev, "count"));
  sl_json_push(cells, sl_json_string(str(ev, "metadata.name")));
}

static const col_t hpa_cols[] = {
    {"Name", "string", "name", 0}, {"Reference", "string", "", 0},
    {"Targets", "string", "", 0},  {"MinPods", "integer", "", 0},
    {"MaxPods", "integer", "", 0}, {"Replicas", "integer", "", 0},
    {"Age", "string", "", 0},      {NULL},
};

// `cur` is the metric's entry in status.currentMetrics (same index), or NULL.
static void metric_target(const sl_json_t *m, const sl_json_t *cur, char *buf, size_t n) {
  const char *type = sl_json_str_or(sl_json_get(m, "type"), "");
  char key[32];
  snprintf(key, sizeof key, "%s", type);
  if (key[0]) key[0] = (char)tolower((unsigned char)key[0]);
  if (!strcmp(type, "ContainerResource")) snprintf(key, sizeof key, "containerResource");
  const sl_json_t *src = sl_json_get(m, key);
  const sl_json_t *t = sl_json_get(src, "target");
  const sl_json_t *u = sl_json_get(t, "averageUtilization");
  const char *name = sl_json_str_or(sl_json_get(src, "name"), NULL);
  if (!name) name = str(src, "metric.name");
  if (u)
    snprintf(buf, n, "%s: <unknown>/%ld%%", name ? name : type, (long)u->num);
  else {
    const sl_json_t *v = sl_json_get(t, "averageValue");
    if (!v) v = sl_json_get(t, "value");
    const sl_json_t *c = sl_json_get(sl_json_get(sl_json_get(cur, key), "current"),
                                     sl_json_get(t, "averageValue") ? "averageValue" : "value");
    const char *now = c && c->type == SL_JSON_STRING ? c->str : "<unknown>";
    char val[64];
    if (v && v->type == SL_JSON_STRING)
      snprintf(val, sizeof val, "%s", v->str);
    else if (v)
      snprintf(val, sizeof val, "%g", v->num);
    else
      snprintf(val, sizeof val, "<unset>");
    snprintf(buf, n, "%s: %s/%s%s", name ? name : type, now, val,
             sl_json_get(t, "averageValue") ? " (avg)" : "");
  }
}

static void hpa_row(const sl_json_t *h, sl_json_t *cells) {
  char ref[300];
  snprintf(ref, sizeof ref, "%s/%s", sl_json_str_or(sl_json_at(h, "spec.scaleTargetRef.kind"), ""),
           sl_json_str_or(sl_json_at(h, "spec.scaleTargetRef.name"), ""));
  sl_json_buf_t b = {0};
  sl_json_buf_add(&b, "", 0);
  const sl_json_t *ms = sl_json_at(h, "spec.metrics"), *cs = sl_json_at(h, "status.currentMetrics");
  for (size_t i = 0; ms && ms->type == SL_JSON_ARRAY && i < ms->n; i++) {
    char one[200];
    const sl_json_t *cur = cs && cs->type == SL_JSON_ARRAY && i < cs->n ? cs->items[i] : NULL;
    metric_target(ms->items[i], cur, one, sizeof one);
    if (i) sl_json_buf_add(&b, ", ", 2);
    sl_json_buf_add(&b, one, strlen(one));
  }
  sl_json_push(cells, sl_json_string(str(h, "metadata.name")));
  sl_json_push(cells, sl_json_string(ref));
  sl_json_push(cells, cell_str(b.buf));
  sl_json_buf_deinit(&b);
  sl_json_push(cells, sl_json_number(sl_json_num_or(sl_json_at(h, "spec.minReplicas"), 1)));
  sl_json_push(cells, cell_num(h, "spec.maxReplicas"));
  sl_json_push(cells, cell_num(h, "status.currentReplicas"));
  sl_json_push(cells, cell_age(h, "metadata.creationTimestamp"));
}

static const col_t ns_cols[] = {
    {"Name", "string", "name", 0}, {"Status", "string", "", 0}, {"Age", "string", "", 0}, {NULL}};
static void ns_row(const sl_json_t *o, sl_json_t *cells) {
  sl_json_push(cells, sl_json_string(str(o, "metadata.name")));
  sl_json_push(cells, cell_str(str(o, "status.phase")));
  sl_json_push(cells, cell_age(o, "metadata.creationTimestamp"));
}

static const col_t data_cols[] = {
    {"Name", "string", "name", 0}, {"Data", "integer", "", 0}, {"Age", "string", "", 0}, {NULL}};
static void data_row(const sl_json_t *o, sl_json_t *cells) {
  sl_json_push(cells, sl_json_string(str(o, "metadata.name")));
  sl_json_push(cells, sl_json_number((double)(count(o, "data") + count(o, "binaryData"))));
  sl_json_push(cells, cell_age(o, "metadata.creationTimestamp"));
}

static const col_t secret_cols[] = {{"Name", "string", "name", 0},
                                    {"Type", "string", "", 0},
                                    {"Data", "integer", "", 0},
                                    {"Age", "string", "", 0},
                                    {NULL}};
static void secret_row(const sl_json_t *o, sl_json_t *cells) {
  sl_json_push(cells, sl_json_string(str(o, "metadata.name")));
  sl_json_push(cells, cell_str(str(o, "type")));
  sl_json_push(cells, sl_json_number((double)(count(o, "data") + count(o, "stringData"))));
  sl_json_push(cells, cell_age(o, "metadata.creationTimestamp"));
}

static const col_t sa_cols[] = {
    {"Name", "string", "name", 0}, {"Secrets", "integer", "", 0}, {"Age", "string", "", 0}, {NULL}};
static void sa_row(const sl_json_t *o, sl_json_t *cells) {
  sl_json_push(cells, sl_json_string(str(o, "metadata.name")));
  sl_json_push(cells, sl_json_number((double)count(o, "secrets")));
  sl_json_push(cells, cell_age(o, "metadata.creationTimestamp"));
}

static const col_t lease_cols[] = {
    {"Name", "string", "name", 0}, {"Holder", "string", "", 0}, {"Age", "string", "", 0}, {NULL}};
static void lease_row(const sl_json_t *o, sl_json_t *cells) {
  sl_json_push(cells, sl_json_string(str(o, "metadata.name")));
  sl_json_push(cells, sl_json_string(sl_json_str_or(sl_json_at(o, "spec.holderIdentity"), "")));
  sl_json_push(cells, cell_age(o, "metadata.creationTimestamp"));
}

static const col_t created_cols[] = {
    {"Name", "string", "name", 0}, {"Created At", "date", "", 0}, {NULL}};
static void created_row(const sl_json_t *o, sl_json_t *cells) {
  sl_json_push(cells, sl_json_string(str(o, "metadata.name")));
  sl_json_push(cells, cell_str(str(o, "metadata.creationTimestamp")));
}

static const col_t binding_cols[] = {
    {"Name", "string", "name", 0}, {"Role", "string", "", 0}, {"Age", "string", "", 0}, {NULL}};
static void binding_row(const sl_json_t *o, sl_json_t *cells) {
  char role[300];
  snprintf(role, sizeof role, "%s/%s", sl_json_str_or(sl_json_at(o, "roleRef.kind"), ""),
           sl_json_str_or(sl_json_at(o, "roleRef.name"), ""));
  sl_json_push(cells, sl_json_string(str(o, "metadata.name")));
  sl_json_push(cells, sl_json_string(role));
  sl_json_push(cells, cell_age(o, "metadata.creationTimestamp"));
}

static sl_json_t *int_or_str(const sl_json_t *v) {
  if (!v) return sl_json_string("N/A");
  if (v->type == SL_JSON_STRING) return sl_json_string(v->str);
  char b[32];
  snprintf(b, sizeof b, "%ld", (long)v->num);
  return sl_json_string(b);
}

static const col_t pdb_cols[] = {{"Name", "string", "name", 0},
                                 {"Min Available", "string", "", 0},
                                 {"Max Unavailable", "string", "", 0},
                                 {"Allowed Disruptions", "integer", "", 0},
                                 {"Age", "string", "", 0},
                                 {NULL}};
static void pdb_row(const sl_json_t *o, sl_json_t *cells) {
  sl_json_push(cells, sl_json_string(str(o, "metadata.name")));
  sl_json_push(cells, int_or_str(sl_json_at(o, "spec.minAvailable")));
  sl_json_push(cells, int_or_str(sl_json_at(o, "spec.maxUnavailable")));
  sl_json_push(cells, cell_num(o, "status.disruptionsAllowed"));
  sl_json_push(cells, cell_age(o, "metadata.creationTimestamp"));
}

static const col_t netpol_cols[] = {{"Name", "string", "name", 0},
                                    {"Pod-Selector", "string", "", 0},
                                    {"Age", "string", "", 0},
                                    {NULL}};
static void netpol_row(const sl_json_t *o, sl_json_t *cells) {
  char *sel = sl_sel_format(sl_json_at(o, "spec.podSelector"));
  sl_json_push(cells, sl_json_string(str(o, "metadata.name")));
  sl_json_push(cells, cell_str(sel));
  free(sel);
  sl_json_push(cells, cell_age(o, "metadata.creationTimestamp"));
}

static const col_t default_cols[] = {
    {"Name", "string", "name", 0}, {"Age", "string", "", 0}, {NULL}};
static void default_row(const sl_json_t *o, sl_json_t *cells) {
  sl_json_push(cells, sl_json_string(str(o, "metadata.name")));
  sl_json_push(cells, cell_age(o, "metadata.creationTimestamp"));
}

typedef struct {
  const char *group, *resource;
  const col_t *cols;
  void (*row)(const sl_json_t *, sl_json_t *);
} printer_t;

static const printer_t printers[] = {
    {"", "pods", pod_cols, pod_row},
    {"apps", "deployments", deploy_cols, deploy_row},
    {"apps", "replicasets", rs_cols, rs_row},
    {"", "services", svc_cols, svc_row},
    {"", "nodes", node_cols, node_row},
    {"", "events", event_cols, event_row},
    {"events.k8s.io", "events", event_cols, event_row},
    {"autoscaling", "horizontalpodautoscalers", hpa_cols, hpa_row},
    {"", "namespaces", ns_cols, ns_row},
    {"", "configmaps", data_cols, data_row},
    {"", "secrets", secret_cols, secret_row},
    {"", "serviceaccounts", sa_cols, sa_row},
    {"coordination.k8s.io", "leases", lease_cols, lease_row},
    {"apiextensions.k8s.io", "customresourcedefinitions", created_cols, created_row},
    {"rbac.authorization.k8s.io", "roles", created_cols, created_row},
    {"rbac.authorization.k8s.io", "clusterroles", created_cols, created_row},
    {"rbac.authorization.k8s.io", "rolebindings", binding_cols, binding_row},
    {"rbac.authorization.k8s.io", "clusterrolebindings", binding_cols, binding_row},
    {"policy", "poddisruptionbudgets", pdb_cols, pdb_row},
    {"networking.k8s.io", "networkpolicies", netpol_cols, netpol_row},
};

// ---- CRD printer columns
// -------------------------------------------------------------------------

// Evaluates the JSONPath subset CRDs use; the first match or NULL.
static const sl_json_t *jsonpath(const sl_json_t *root, const char *p) {
  const sl_json_t *cur = root;
  if (*p == '{') p++;
  while (cur && *p && *p != '}') {
    if (*p == '.') {
      p++;
      size_t n = strcspn(p, ".[}");
      if (n == 0) return NULL;
      char key[256];
      snprintf(key, sizeof key, "%.*s", (int)n, p);
      cur = sl_json_get(cur, key);
      p += n;
    } else if (*p == '[') {
      const char *close = strchr(p, ']');
      if (!close) return NULL;
      if (p[1] == '?') {
        // [?(@.a.b=="v")]
        char field[200], val[200];
        const char *at = strstr(p, "@.");
        const char *eq = strstr(p, "==");
        if (!at || !eq || at > eq) return NULL;
        snprintf(field, sizeof field, "%.*s", (int)(eq - at - 2), at + 2);
        const char *v = eq + 2;
        char quote = *v == '"' || *v == '\'' ? *v++ : 0;
        const char *ve = quote ? strchr(v, quote) : close - 1;
        if (!ve) return NULL;
        snprintf(val, sizeof val, "%.*s", (int)(ve - v), v);
        close = strchr(ve, ']');
        if (!close) return NULL;
        const sl_json_t *hit = NULL;
        for (size_t i = 0; cur->type == SL_JSON_ARRAY && i < cur->n && !hit; i++) {
          char b[64];
          if (!strcmp(sl_sel_field_value(cur->items[i], field, b, sizeof b), val))
            hit = cur->items[i];
        }
        cur = hit;
      } else if (p[1] == '*') {
        cur = cur->type == SL_JSON_ARRAY && cur->n ? cur->items[0] : NULL;
      } else {
        long i = strtol(p + 1, NULL, 10);
        if (cur->type != SL_JSON_ARRAY) return NULL;
        if (i < 0) i += (long)cur->n;
        cur = i >= 0 && (size_t)i < cur->n ? cur->items[i] : NULL;
      }
      p = close + 1;
    } else {
      return NULL;
    }
  }
  return cur;
}

static sl_json_t *crd_cell(const sl_emu_column_t *c, const sl_json_t *obj) {
  const sl_json_t *v = jsonpath(obj, c->json_path);
  if (!v || v->type == SL_JSON_NULL) return sl_json_null();
  if (!strcmp(c->type, "date")) {
    char b[32];
    emu_age(v->type == SL_JSON_STRING ? v->str : NULL, b, sizeof b);
    return sl_json_string(b);
  }
  if ((!strcmp(c->type, "integer") || !strcmp(c->type, "number")) && v->type == SL_JSON_NUMBER)
    return sl_json_number(v->num);
  if (!strcmp(c->type, "boolean") && v->type == SL_JSON_BOOL) return sl_json_bool(v->b);
  if (v->type == SL_JSON_STRING) return sl_json_string(v->str);
  char *out;
  size_t len;
  sl_err_t err;
  if (sl_json_write(v, &out, &len, &err) < 0) return sl_json_null();
  sl_json_t *s = sl_json_stringn(out, len);
  free(out);
  return s;
}

// ---- the table
// ------------------------------------------------------------------------------------

static sl_json_t *column(const char *name, const char *type, const char *format, int priority) {
  sl_json_t *c = sl_json_object();
  sl_json_set(c, "name", sl_json_string(name));
  sl_json_set(c, "type", sl_json_string(type));
  sl_json_set(c, "format", sl_json_string(format));
  sl_json_set(c, "description", sl_json_string(""));
  sl_json_set(c, "priority", sl_json_number(priority));
  return c;
}

static sl_json_t *row_object(const sl_json_t *obj, int include) {
  if (include == 2) return sl_json_clone(obj);
  sl_json_t *o = sl_json_object();
  sl_json_set(o, "kind", sl_json_string("PartialObjectMetadata"));
  sl_json_set(o, "apiVersion", sl_json_string("meta.k8s.io/v1"));
  const sl_json_t *md = sl_json_get(obj, "metadata");
  sl_json_set(o, "metadata", md ? sl_json_clone(md) : sl_json_object());
  return o;
}

sl_json_t *emu_table(sl_emu_t *e, const sl_emu_rtype_t *t, sl_emu_obj_t **objs, size_t n,
                     int include, int with_columns) {
  const printer_t *pr = NULL;
  for (size_t i = 0; i < sizeof printers / sizeof printers[0] && !pr; i++)
    if (sl_emu_is(t, printers[i].group, printers[i].resource)) pr = &printers[i];
  int crd_cols = !pr && t->n_columns > 0;
  sl_json_t *tbl = sl_json_object(), *cols = sl_json_array(), *rows = sl_json_array();
  if (!tbl || !cols || !rows) goto oom;
  sl_json_set(tbl, "kind", sl_json_string("Table"));
  sl_json_set(tbl, "apiVersion", sl_json_string("meta.k8s.io/v1"));
  sl_json_set(tbl, "metadata", sl_json_object());
  if (with_columns) {
    if (crd_cols) {
      sl_json_push(cols, column("Name", "string", "name", 0));
      for (size_t i = 0; i < t->n_columns; i++) {
        const sl_emu_column_t *c = &t->columns[i];
        sl_json_push(cols, column(c->name, c->type, "", c->priority));
      }
    } else {
      for (const col_t *c = pr ? pr->cols : default_cols; c->name; c++)
        sl_json_push(cols, column(c->name, c->type, c->format, c->priority));
    }
  }
  for (size_t i = 0; i < n; i++) {
    const sl_json_t *obj = objs[i]->json;
    sl_json_t *row = sl_json_object(), *cells = sl_json_array();
    if (crd_cols) {
      sl_json_push(cells, sl_json_string(str(obj, "metadata.name")));
      for (size_t k = 0; k < t->n_columns; k++) sl_json_push(cells, crd_cell(&t->columns[k], obj));
    } else {
      (pr ? pr->row : default_row)(obj, cells);
    }
    sl_json_set(row, "cells", cells);
    if (include) sl_json_set(row, "object", row_object(obj, include));
    if (sl_json_push(rows, row) < 0) goto oom;
  }
  sl_json_set(tbl, "columnDefinitions", cols);
  sl_json_set(tbl, "rows", rows);
  return tbl;
oom:
  sl_json_free(tbl);
  sl_json_free(cols);
  sl_json_free(rows);
  return NULL;
}
