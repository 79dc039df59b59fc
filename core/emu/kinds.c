// Built-in kinds. See kinds.h. The merge keys mirror the patchMergeKey/patchStrategy tags of
// the Kubernetes API types, for the fields clients patch; lists not named here are atomic.
#include "core/emu/kinds.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/emu/select.h"

#define MERGE  SL_SMP_MERGE
#define ATOMIC SL_SMP_ATOMIC

// ---- strategic merge schemas
// ---------------------------------------------------------------------

static const sl_smp_field_t meta_f[] = {
    {"finalizers", MERGE, NULL, NULL},
    {"ownerReferences", MERGE, "uid", NULL},
    {NULL},
};
static const sl_smp_type_t meta_t = {meta_f};

static const sl_smp_field_t conditions_f[] = {
    {"conditions", MERGE, "type", NULL},
    {NULL},
};
static const sl_smp_type_t conditions_t = {conditions_f};

static const sl_smp_field_t container_f[] = {
    {"ports", MERGE, "containerPort", NULL},
    {"env", MERGE, "name", NULL},
    {"volumeMounts", MERGE, "mountPath", NULL},
    {"volumeDevices", MERGE, "devicePath", NULL},
    {NULL},
};
static const sl_smp_type_t container_t = {container_f};

static const sl_smp_field_t podspec_f[] = {
    {"containers", MERGE, "name", &container_t},
    {"initContainers", MERGE, "name", &container_t},
    {"ephemeralContainers", MERGE, "name", &container_t},
    {"volumes", MERGE, "name", NULL},
    {"imagePullSecrets", MERGE, "name", NULL},
    {"hostAliases", MERGE, "ip", NULL},
    {"topologySpreadConstraints", MERGE, "topologyKey", NULL},
    {"resourceClaims", MERGE, "name", NULL},
    {"schedulingGates", MERGE, "name", NULL},
    {NULL},
};
static const sl_smp_type_t podspec_t = {podspec_f};

static const sl_smp_field_t podstatus_f[] = {
    {"conditions", MERGE, "type", NULL},
    {"podIPs", MERGE, "ip", NULL},
    {"hostIPs", MERGE, "ip", NULL},
    {NULL},
};
static const sl_smp_type_t podstatus_t = {podstatus_f};

static const sl_smp_field_t pod_f[] = {
    {"metadata", ATOMIC, NULL, &meta_t},
    {"spec", ATOMIC, NULL, &podspec_t},
    {"status", ATOMIC, NULL, &podstatus_t},
    {NULL},
};
static const sl_smp_type_t pod_t = {pod_f};

static const sl_smp_field_t template_f[] = {
    {"metadata", ATOMIC, NULL, &meta_t},
    {"spec", ATOMIC, NULL, &podspec_t},
    {NULL},
};
static const sl_smp_type_t template_t = {template_f};

static const sl_smp_field_t workloadspec_f[] = {
    {"template", ATOMIC, NULL, &template_t},
    {NULL},
};
static const sl_smp_type_t workloadspec_t = {workloadspec_f};

static const sl_smp_field_t workload_f[] = {
    {"metadata", ATOMIC, NULL, &meta_t},
    {"spec", ATOMIC, NULL, &workloadspec_t},
    {"status", ATOMIC, NULL, &conditions_t},
    {NULL},
};
static const sl_smp_type_t workload_t = {workload_f};

static const sl_smp_field_t svcspec_f[] = {
    {"ports", MERGE, "port", NULL},
    {NULL},
};
static const sl_smp_type_t svcspec_t = {svcspec_f};
static const sl_smp_field_t svc_f[] = {
    {"metadata", ATOMIC, NULL, &meta_t},
    {"spec", ATOMIC, NULL, &svcspec_t},
    {"status", ATOMIC, NULL, &conditions_t},
    {NULL},
};
static const sl_smp_type_t svc_t = {svc_f};

static const sl_smp_field_t nodespec_f[] = {
    {"podCIDRs", MERGE, NULL, NULL},
    {NULL},
};
static const sl_smp_type_t nodespec_t = {nodespec_f};
static const sl_smp_field_t nodestatus_f[] = {
    {"conditions", MERGE, "type", NULL},
    {"addresses", MERGE, "type", NULL},
    {NULL},
};
static const sl_smp_type_t nodestatus_t = {nodestatus_f};
static const sl_smp_field_t node_f[] = {
    {"metadata", ATOMIC, NULL, &meta_t},
    {"spec", ATOMIC, NULL, &nodespec_t},
    {"status", ATOMIC, NULL, &nodestatus_t},
    {NULL},
};
static const sl_smp_type_t node_t = {node_f};

static const sl_smp_field_t sa_f[] = {
    {"metadata", ATOMIC, NULL, &meta_t},
    {"secrets", MERGE, "name", NULL},
    {"imagePullSecrets", MERGE, "name", NULL},
    {NULL},
};
static const sl_smp_type_t sa_t = {sa_f};

// Kinds whose only mergeable lists are metadata's and status.conditions.
static const sl_smp_field_t plain_f[] = {
    {"metadata", ATOMIC, NULL, &meta_t},
    {"status", ATOMIC, NULL, &conditions_t},
    {NULL},
};
static const sl_smp_type_t plain_t = {plain_f};

const sl_smp_type_t *sl_emu_kinds_meta_schema(void) {
  return &plain_t;
}

// ---- the types
// -----------------------------------------------------------------------------------

typedef struct {
  const char *group, *version, *resource, *singular, *kind;
  int namespaced;
  const char *shorts, *cats; // comma-separated
  int status, scale, generation;
  const sl_smp_type_t *smp;
} builtin_t;

static const builtin_t builtins[] = {
    {"", "v1", "namespaces", "namespace", "Namespace", 0, "ns", "", 1, 0, 0, &plain_t},
    {"", "v1", "nodes", "node", "Node", 0, "no", "", 1, 0, 0, &node_t},
    {"", "v1", "pods", "pod", "Pod", 1, "po", "all", 1, 0, 0, &pod_t},
    {"", "v1", "services", "service", "Service", 1, "svc", "all", 1, 0, 0, &svc_t},
    {"", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", 1, "sa", "", 0, 0, 0, &sa_t},
    {"", "v1", "configmaps", "configmap", "ConfigMap", 1, "cm", "", 0, 0, 0, &plain_t},
    {"", "v1", "secrets", "secret", "Secret", 1, "", "", 0, 0, 0, &plain_t},
    {"", "v1", "events", "event", "Event", 1, "ev", "", 0, 0, 0, &plain_t},
    {"apps", "v1", "deployments", "deployment", "Deployment", 1, "deploy", "all", 1, 1, 1,
     &workload_t},
    {"apps", "v1", "replicasets", "replicaset", "ReplicaSet", 1, "rs", "all", 1, 1, 1, &workload_t},
    {"events.k8s.io", "v1", "events", "event", "Event", 1, "ev", "", 0, 0, 0, &plain_t},
    {"autoscaling", "v2", "horizontalpodautoscalers", "horizontalpodautoscaler",
     "HorizontalPodAutoscaler", 1, "hpa", "all", 1, 0, 1, &plain_t},
    {"coordination.k8s.io", "v1", "leases", "lease", "Lease", 1, "", "", 0, 0, 0, &plain_t},
    {"policy", "v1", "poddisruptionbudgets", "poddisruptionbudget", "PodDisruptionBudget", 1, "pdb",
     "", 1, 0, 1, &plain_t},
    {"networking.k8s.io", "v1", "networkpolicies", "networkpolicy", "NetworkPolicy", 1, "netpol",
     "", 0, 0, 1, &plain_t},
    {"rbac.authorization.k8s.io", "v1", "roles", "role", "Role", 1, "", "", 0, 0, 0, &plain_t},
    {"rbac.authorization.k8s.io", "v1", "rolebindings", "rolebinding", "RoleBinding", 1, "", "", 0,
     0, 0, &plain_t},
    {"rbac.authorization.k8s.io", "v1", "clusterroles", "clusterrole", "ClusterRole", 0, "", "", 0,
     0, 0, &plain_t},
    {"rbac.authorization.k8s.io", "v1", "clusterrolebindings", "clusterrolebinding",
     "ClusterRoleBinding", 0, "", "", 0, 0, 0, &plain_t},
    {"apiextensions.k8s.io", "v1", "customresourcedefinitions", "customresourcedefinition",
     "CustomResourceDefinition", 0, "crd,crds", "", 1, 0, 1, &plain_t},
};

static int split(const char *csv, char ***out, size_t *n) {
  *out = NULL;
  *n = 0;
  if (!*csv) return SL_OK;
  size_t cap = 1;
  for (const char *c = csv; *c; c++) cap += *c == ',';
  if (!(*out = calloc(cap, sizeof **out))) return SL_ENOMEM;
  const char *p = csv;
  while (*p) {
    size_t k = strcspn(p, ",");
    if (!((*out)[(*n)++] = strndup(p, k))) return SL_ENOMEM;
    p += k + (p[k] == ',');
  }
  return SL_OK;
}

int sl_emu_kinds_register(sl_emu_store_t *s, sl_err_t *err) {
  for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++) {
    const builtin_t *b = &builtins[i];
    sl_emu_rtype_t t = {0};
    char list_kind[96];
    snprintf(list_kind, sizeof list_kind, "%sList", b->kind);
    t.group = strdup(b->group);
    t.version = strdup(b->version);
    t.versions = calloc(1, sizeof *t.versions);
    if (t.versions) t.versions[0] = strdup(b->version);
    t.n_versions = 1;
    t.resource = strdup(b->resource);
    t.singular = strdup(b->singular);
    t.kind = strdup(b->kind);
    t.list_kind = strdup(list_kind);
    t.namespaced = b->namespaced;
    t.has_status = b->status;
    t.has_scale = b->scale;
    t.has_generation = b->generation;
    t.served = 1;
    t.smp = b->smp;
    if (b->scale) {
      t.scale_spec = strdup("spec.replicas");
      t.scale_status = strdup("status.replicas");
    }
    int rc = split(b->shorts, &t.short_names, &t.n_short);
    if (rc == 0) rc = split(b->cats, &t.categories, &t.n_categories);
    if (rc < 0 || !t.group || !t.version || !t.versions || !t.versions[0] || !t.resource ||
        !t.singular || !t.kind || !t.list_kind ||
        (b->scale && (!t.scale_spec || !t.scale_status)) || !sl_emu_store_add_type(s, &t)) {
      sl_emu_rtype_clear(&t);
      return sl_err(err, SL_ENOMEM, "out of memory");
    }
  }
  return SL_OK;
}

int sl_emu_is(const sl_emu_rtype_t *t, const char *group, const char *resource) {
  return t && !strcmp(t->group, group) && !strcmp(t->resource, resource);
}

// ---- defaults
// ------------------------------------------------------------------------------------

static sl_json_t *obj_at(sl_json_t *o, const char *key) {
  sl_json_t *v = sl_json_get(o, key);
  if (v && v->type == SL_JSON_OBJECT) return v;
  if (v || !o || o->type != SL_JSON_OBJECT) return NULL;
  if (sl_json_set(o, key, sl_json_object()) < 0) return NULL;
  return sl_json_get(o, key);
}

static int def_str(sl_json_t *o, const char *key, const char *v) {
  if (!o || o->type != SL_JSON_OBJECT || sl_json_get(o, key)) return SL_OK;
  return sl_json_set(o, key, sl_json_string(v));
}

static int def_num(sl_json_t *o, const char *key, double v) {
  if (!o || o->type != SL_JSON_OBJECT || sl_json_get(o, key)) return SL_OK;
  return sl_json_set(o, key, sl_json_number(v));
}

static int def_bool(sl_json_t *o, const char *key, int v) {
  if (!o || o->type != SL_JSON_OBJECT || sl_json_get(o, key)) return SL_OK;
  return sl_json_set(o, key, sl_json_bool(v));
}

// An image without a tag, or tagged latest, is pulled always (as the API server defaults it).
static const char *pull_policy(const char *image) {
  if (!image) return "IfNotPresent";
  if (strchr(image, '@')) return "IfNotPresent";
  const char *slash = strrchr(image, '/');
  const char *colon = strrchr(slash ? slash : image, ':');
  if (!colon || !strcmp(colon, ":latest")) return "Always";
  return "IfNotPresent";
}

static int default_containers(sl_json_t *list) {
  int rc = SL_OK;
  for (size_t i = 0; list && list->type == SL_JSON_ARRAY && i < list->n && rc == 0; i++) {
    sl_json_t *c = list->items[i];
    if (c->type != SL_JSON_OBJECT) continue;
    rc |= def_str(c, "imagePullPolicy", pull_policy(sl_json_str_or(sl_json_get(c, "image"), NULL)));
    rc |= def_str(c, "terminationMessagePath", "/dev/termination-log");
    rc |= def_str(c, "terminationMessagePolicy", "File");
    if (!sl_json_get(c, "resources")) rc |= sl_json_set(c, "resources", sl_json_object());
    sl_json_t *ports = sl_json_get(c, "ports");
    for (size_t j = 0; ports && ports->type == SL_JSON_ARRAY && j < ports->n; j++)
      rc |= def_str(ports->items[j], "protocol", "TCP");
  }
  return rc;
}

static int default_podspec(sl_json_t *spec) {
  if (!spec || spec->type != SL_JSON_OBJECT) return SL_OK;
  int rc = def_str(spec, "restartPolicy", "Always");
  rc |= def_num(spec, "terminationGracePeriodSeconds", 30);
  rc |= def_str(spec, "dnsPolicy", "ClusterFirst");
  rc |= def_str(spec, "schedulerName", "default-scheduler");
  if (!sl_json_get(spec, "securityContext"))
    rc |= sl_json_set(spec, "securityContext", sl_json_object());
  rc |= default_containers(sl_json_get(spec, "containers"));
  rc |= default_containers(sl_json_get(spec, "initContainers"));
  return rc < 0 ? SL_ENOMEM : SL_OK;
}

static int default_deployment(sl_json_t *obj) {
  sl_json_t *spec = obj_at(obj, "spec");
  if (!spec) return SL_ENOMEM;
  int rc = def_num(spec, "replicas", 1);
  rc |= def_num(spec, "revisionHistoryLimit", 10);
  rc |= def_num(spec, "progressDeadlineSeconds", 600);
  sl_json_t *st = obj_at(spec, "strategy");
  if (!st) return SL_ENOMEM;
  rc |= def_str(st, "type", "RollingUpdate");
  if (!strcmp(sl_json_str_or(sl_json_get(st, "type"), ""), "RollingUpdate")) {
    sl_json_t *ru = obj_at(st, "rollingUpdate");
    if (!ru) return SL_ENOMEM;
    rc |= def_str(ru, "maxUnavailable", "25%");
    rc |= def_str(ru, "maxSurge", "25%");
  }
  rc |= default_podspec(sl_json_at(spec, "template.spec"));
  return rc < 0 ? SL_ENOMEM : SL_OK;
}

static int default_service(sl_json_t *obj) {
  sl_json_t *spec = obj_at(obj, "spec");
  if (!spec) return SL_ENOMEM;
  int rc = def_str(spec, "type", "ClusterIP");
  rc |= def_str(spec, "sessionAffinity", "None");
  rc |= def_str(spec, "internalTrafficPolicy", "Cluster");
  rc |= def_str(spec, "ipFamilyPolicy", "SingleStack");
  if (!sl_json_get(spec, "ipFamilies")) {
    sl_json_t *f = sl_json_array();
    rc |= sl_json_push(f, sl_json_string("IPv4"));
    rc |= sl_json_set(spec, "ipFamilies", f);
  }
  sl_json_t *ports = sl_json_get(spec, "ports");
  for (size_t i = 0; ports && ports->type == SL_JSON_ARRAY && i < ports->n; i++) {
    sl_json_t *p = ports->items[i];
    if (p->type != SL_JSON_OBJECT) continue;
    rc |= def_str(p, "protocol", "TCP");
    const sl_json_t *port = sl_json_get(p, "port");
    if (port && !sl_json_get(p, "targetPort"))
      rc |= sl_json_set(p, "targetPort", sl_json_clone(port));
  }
  return rc < 0 ? SL_ENOMEM : SL_OK;
}

// A built-in kind's fields are typed on a real server, so a null reads back as absent.
static void strip_nulls(sl_json_t *v, int depth) {
  if (!v || depth > 200) return;
  for (size_t i = 0; i < v->n;) {
    if (v->type == SL_JSON_OBJECT && v->items[i]->type == SL_JSON_NULL) {
      sl_json_remove_at(v, i);
      continue;
    }
    strip_nulls(v->items[i], depth + 1);
    i++;
  }
}

// Resource quantities read back as strings in canonical form (1 -> "1", 0.5 -> "500m").
static int quantities(sl_json_t *m) {
  for (size_t i = 0; m && m->type == SL_JSON_OBJECT && i < m->n; i++) {
    sl_json_t *q = m->items[i];
    if (q->type != SL_JSON_NUMBER) continue;
    char b[40];
    double x = q->num;
    if (x == (double)(long long)x)
      snprintf(b, sizeof b, "%lld", (long long)x);
    else
      snprintf(b, sizeof b, "%lldm", (long long)(x * 1000 + (x < 0 ? -0.5 : 0.5)));
    sl_json_t *str = sl_json_string(b);
    if (!str) return SL_ENOMEM;
    sl_json_free(q);
    m->items[i] = str;
  }
  return SL_OK;
}

static int container_quantities(sl_json_t *spec) {
  static const char *const lists[] = {"containers", "initContainers"};
  int rc = SL_OK;
  for (int l = 0; l < 2; l++) {
    sl_json_t *cs = sl_json_get(spec, lists[l]);
    for (size_t i = 0; cs && cs->type == SL_JSON_ARRAY && i < cs->n; i++) {
      rc |= quantities(sl_json_at(cs->items[i], "resources.limits"));
      rc |= quantities(sl_json_at(cs->items[i], "resources.requests"));
    }
  }
  return rc;
}

int sl_emu_kinds_default(const sl_emu_rtype_t *t, sl_json_t *obj) {
  int rc = SL_OK;
  if (t->smp) strip_nulls(obj, 0);
  if (sl_emu_is(t, "", "pods"))
    rc |= container_quantities(sl_json_get(obj, "spec"));
  else if (sl_emu_is(t, "apps", "deployments") || sl_emu_is(t, "apps", "replicasets"))
    rc |= container_quantities(sl_json_at(obj, "spec.template.spec"));
  else if (sl_emu_is(t, "", "nodes")) {
    rc |= quantities(sl_json_at(obj, "status.capacity"));
    rc |= quantities(sl_json_at(obj, "status.allocatable"));
  }
  if (rc < 0) return SL_ENOMEM;
  if (sl_emu_is(t, "", "pods")) {
    sl_json_t *spec = obj_at(obj, "spec");
    if (!spec) return SL_ENOMEM;
    rc = default_podspec(spec);
    rc |= def_str(spec, "serviceAccountName", "default");
    rc |= def_bool(spec, "enableServiceLinks", 1);
    rc |= def_str(spec, "preemptionPolicy", "PreemptLowerPriority");
    rc |= def_num(spec, "priority", 0);
  } else if (sl_emu_is(t, "apps", "deployments")) {
    rc = default_deployment(obj);
  } else if (sl_emu_is(t, "apps", "replicasets")) {
    sl_json_t *spec = obj_at(obj, "spec");
    if (!spec) return SL_ENOMEM;
    rc = def_num(spec, "replicas", 1);
    rc |= default_podspec(sl_json_at(spec, "template.spec"));
  } else if (sl_emu_is(t, "", "services")) {
    rc = default_service(obj);
  } else if (sl_emu_is(t, "", "secrets")) {
    rc = def_str(obj, "type", "Opaque");
  } else if (sl_emu_is(t, "", "namespaces")) {
    sl_json_t *labels = obj_at(obj_at(obj, "metadata"), "labels");
    const char *name = sl_json_str_or(sl_json_at(obj, "metadata.name"), "");
    if (!labels) return SL_ENOMEM;
    rc = def_str(labels, "kubernetes.io/metadata.name", name);
    sl_json_t *spec = obj_at(obj, "spec");
    if (spec && !sl_json_get(spec, "finalizers")) {
      sl_json_t *f = sl_json_array();
      rc |= sl_json_push(f, sl_json_string("kubernetes"));
      rc |= sl_json_set(spec, "finalizers", f);
    }
    rc |= def_str(obj_at(obj, "status"), "phase", "Active");
  } else if (sl_emu_is(t, "autoscaling", "horizontalpodautoscalers")) {
    rc = def_num(obj_at(obj, "spec"), "minReplicas", 1);
  }
  return rc < 0 ? SL_ENOMEM : SL_OK;
}

// ---- validation
// ----------------------------------------------------------------------------------

static int is_dns_label(const char *s, size_t max, int start_alpha) {
  size_t n = strlen(s);
  if (n == 0 || n > max) return 0;
  if (start_alpha ? !islower((unsigned char)s[0]) : !isalnum((unsigned char)s[0])) return 0;
  if (!islower((unsigned char)s[n - 1]) && !isdigit((unsigned char)s[n - 1])) return 0;
  for (size_t i = 0; i < n; i++)
    if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && s[i] != '-') return 0;
  return 1;
}

static int is_dns_subdomain(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 253) return 0;
  char part[254];
  const char *p = s;
  while (*p) {
    size_t k = strcspn(p, ".");
    if (k == 0 || k > 63) return 0;
    memcpy(part, p, k);
    part[k] = '\0';
    if (!is_dns_label(part, 63, 0) || isupper((unsigned char)part[0])) return 0;
    p += k;
    if (*p == '.' && !*++p) return 0;
  }
  return 1;
}

int sl_emu_kinds_valid_name(const sl_emu_rtype_t *t, const char *name, char *msg, size_t n) {
  if (sl_emu_is(t, "", "namespaces") || sl_emu_is(t, "", "services")) {
    int svc = sl_emu_is(t, "", "services");
    if (is_dns_label(name, 63, svc)) return 1;
    snprintf(msg, n,
             "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or "
             "'-', and must start%s and end with an alphanumeric character",
             svc ? " with an alphabetic character" : "");
    return 0;
  }
  if (is_dns_subdomain(name)) return 1;
  snprintf(msg, n,
           "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
           "'-' or '.', and must start and end with an alphanumeric character");
  return 0;
}

static int check_replicas(const sl_json_t *spec, char *msg, size_t n) {
  const sl_json_t *r = sl_json_get(spec, "replicas");
  if (r && (r->type != SL_JSON_NUMBER || r->num < 0 || r->num != (double)(long long)r->num ||
            r->num > 2147483647.0)) {
    snprintf(msg, n, "spec.replicas: Invalid value: must be a non-negative integer");
    return -1;
  }
  return 0;
}

int sl_emu_kinds_validate(const sl_emu_rtype_t *t, const sl_json_t *obj, char *msg, size_t n) {
  const sl_json_t *spec = sl_json_get(obj, "spec");
  if (sl_emu_is(t, "apps", "deployments") || sl_emu_is(t, "apps", "replicasets")) {
    if (check_replicas(spec, msg, n)) return -1;
    const sl_json_t *sel = sl_json_get(spec, "selector");
    if (!sel || sel->type != SL_JSON_OBJECT) {
      snprintf(msg, n, "spec.selector: Required value");
      return -1;
    }
    const sl_json_t *labels = sl_json_at(spec, "template.metadata.labels");
    if (!sl_emu_is(t, "apps", "replicasets") || labels) {
      if (!sl_sel_object_matches(sel, labels)) {
        snprintf(msg, n,
                 "spec.template.metadata.labels: Invalid value: `selector` does not "
                 "match template `labels`");
        return -1;
      }
    }
    const sl_json_t *cs = sl_json_at(spec, "template.spec.containers");
    if (!cs || cs->type != SL_JSON_ARRAY || cs->n == 0) {
      snprintf(msg, n, "spec.template.spec.containers: Required value");
      return -1;
    }
  }
  if (sl_emu_is(t, "", "pods")) {
    const sl_json_t *cs = sl_json_get(spec, "containers");
    if (!cs || cs->type != SL_JSON_ARRAY || cs->n == 0) {
      snprintf(msg, n, "spec.containers: Required value");
      return -1;
    }
    for (size_t i = 0; i < cs->n; i++) {
      if (!sl_json_str_or(sl_json_get(cs->items[i], "name"), NULL)) {
        snprintf(msg, n, "spec.containers[%zu].name: Required value", i);
        return -1;
      }
    }
  }
  if (sl_emu_is(t, "autoscaling", "horizontalpodautoscalers")) {
    const sl_json_t *max = sl_json_get(spec, "maxReplicas");
    if (!max || max->type != SL_JSON_NUMBER || max->num < 1) {
      snprintf(msg, n, "spec.maxReplicas: Required value: must be greater than or equal to 1");
      return -1;
    }
    if (!sl_json_get(spec, "scaleTargetRef")) {
      snprintf(msg, n, "spec.scaleTargetRef: Required value");
      return -1;
    }
  }
  return 0;
}
