// Discovery and OpenAPI documents, generated from the type table so that a CRD's resource
// appears as soon as the CRD is applied.
//
// Discovery is the legacy form (/api, /apis, /api/v1, /apis/G/V); client-go asks for the
// aggregated form first and takes this one when the response's Content-Type says plain JSON.
//
// OpenAPI v3 is what kubectl reads to decide where validation happens: when the PATCH
// operation of a kind lists the fieldValidation query parameter, `kubectl apply/create/edit`
// leave validation to the server (?fieldValidation=Strict) instead of downloading the full
// OpenAPI v2 schema. The PATCH request bodies deliberately omit strategic-merge-patch: kubectl
// then builds strategic patches for built-in kinds from the Go types compiled into it (exact
// patch metadata, no schemas needed here) and JSON merge patches for custom resources, as it
// does against a real server. /openapi/v2 is not served (kubectl's fallback then ends at its
// built-in types).
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/emu/api.h"
#include "core/emu/crd.h"
#include "core/emu/discovery.h"

static int set_str(sl_json_t *o, const char *k, const char *v) {
  return sl_json_set(o, k, sl_json_string(v));
}

static sl_json_t *str_array(char *const *v, size_t n) {
  sl_json_t *a = sl_json_array();
  for (size_t i = 0; a && i < n; i++)
    if (sl_json_push(a, sl_json_string(v[i])) < 0) {
      sl_json_free(a);
      return NULL;
    }
  return a;
}

static int serves(const sl_emu_rtype_t *t, const char *group, const char *version) {
  if (!t->served || strcmp(t->group, group)) return 0;
  for (size_t i = 0; i < t->n_versions; i++)
    if (!strcmp(t->versions[i], version)) return 1;
  return 0;
}

static sl_json_t *verbs(const char *const *v) {
  sl_json_t *a = sl_json_array();
  for (; a && *v; v++) sl_json_push(a, sl_json_string(*v));
  return a;
}

static const char *const all_verbs[] = {
    "create", "delete", "deletecollection", "get", "list", "patch", "update", "watch", NULL};
static const char *const sub_verbs[] = {"get", "patch", "update", NULL};

static sl_json_t *resource_entry(const sl_emu_rtype_t *t, const char *sub) {
  sl_json_t *r = sl_json_object();
  char name[200];
  snprintf(name, sizeof name, "%s%s%s", t->resource, sub ? "/" : "", sub ? sub : "");
  int rc = set_str(r, "name", name);
  rc |= set_str(r, "singularName", sub ? "" : t->singular);
  rc |= sl_json_set(r, "namespaced", sl_json_bool(t->namespaced));
  if (sub && !strcmp(sub, "scale")) {
    rc |= set_str(r, "group", "autoscaling");
    rc |= set_str(r, "version", "v1");
    rc |= set_str(r, "kind", "Scale");
  } else {
    rc |= set_str(r, "kind", t->kind);
  }
  rc |= sl_json_set(r, "verbs", verbs(sub ? sub_verbs : all_verbs));
  if (!sub && t->n_short) rc |= sl_json_set(r, "shortNames", str_array(t->short_names, t->n_short));
  if (!sub && t->n_categories)
    rc |= sl_json_set(r, "categories", str_array(t->categories, t->n_categories));
  if (rc < 0) {
    sl_json_free(r);
    return NULL;
  }
  return r;
}

sl_json_t *emu_discovery_resources(sl_emu_t *e, const char *group, const char *version) {
  sl_json_t *list = sl_json_object(), *res = sl_json_array();
  char gv[200];
  snprintf(gv, sizeof gv, "%s%s%s", group, *group ? "/" : "", version);
  int rc = set_str(list, "kind", "APIResourceList");
  rc |= set_str(list, "apiVersion", "v1");
  rc |= set_str(list, "groupVersion", gv);
  int any = 0;
  for (size_t i = 0; i < sl_emu_store_ntypes(e->store); i++) {
    const sl_emu_rtype_t *t = sl_emu_store_type_at(e->store, i);
    if (!serves(t, group, version)) continue;
    any = 1;
    rc |= sl_json_push(res, resource_entry(t, NULL));
    if (t->has_scale) rc |= sl_json_push(res, resource_entry(t, "scale"));
    if (t->has_status) rc |= sl_json_push(res, resource_entry(t, "status"));
  }
  rc |= sl_json_set(list, "resources", res);
  if (rc < 0 || !any) {
    sl_json_free(list);
    return NULL;
  }
  return list;
}

// The groups in the order of their first type (core, then built-ins, then CRDs as applied),
// each with its served versions, the preferred first.
typedef struct {
  const char *name;
  const char *versions[16];
  size_t n;
} group_t;

static size_t collect_groups(sl_emu_t *e, group_t *gs, size_t max) {
  size_t n = 0;
  for (size_t i = 0; i < sl_emu_store_ntypes(e->store); i++) {
    const sl_emu_rtype_t *t = sl_emu_store_type_at(e->store, i);
    if (!t->served) continue;
    group_t *g = NULL;
    for (size_t k = 0; k < n && !g; k++)
      if (!strcmp(gs[k].name, t->group)) g = &gs[k];
    if (!g) {
      if (n == max) continue;
      g = &gs[n++];
      g->name = t->group;
      g->n = 0;
    }
    for (size_t v = 0; v < t->n_versions; v++) {
      int have = 0;
      for (size_t k = 0; k < g->n && !have; k++) have = !strcmp(g->versions[k], t->versions[v]);
      if (!have && g->n < 16) g->versions[g->n++] = t->versions[v];
    }
  }
  for (size_t k = 0; k < n; k++) {
    group_t *g = &gs[k];
    for (size_t i = 1; i < g->n; i++)
      for (size_t j = i; j > 0 && emu_version_before(g->versions[j], g->versions[j - 1]); j--) {
        const char *x = g->versions[j];
        g->versions[j] = g->versions[j - 1];
        g->versions[j - 1] = x;
      }
  }
  return n;
}

static sl_json_t *group_doc(const group_t *g) {
  sl_json_t *o = sl_json_object(), *vs = sl_json_array(), *pref = sl_json_object();
  int rc = set_str(o, "name", g->name);
  for (size_t i = 0; i < g->n; i++) {
    sl_json_t *v = sl_json_object();
    char gv[200];
    snprintf(gv, sizeof gv, "%s/%s", g->name, g->versions[i]);
    rc |= set_str(v, "groupVersion", gv);
    rc |= set_str(v, "version", g->versions[i]);
    if (i == 0) {
      rc |= set_str(pref, "groupVersion", gv);
      rc |= set_str(pref, "version", g->versions[i]);
    }
    rc |= sl_json_push(vs, v);
  }
  rc |= sl_json_set(o, "versions", vs);
  rc |= sl_json_set(o, "preferredVersion", pref);
  if (rc < 0) {
    sl_json_free(o);
    return NULL;
  }
  return o;
}

// ---- OpenAPI v3 ---------------------------------------------------------------------------------

static void schema_name(const sl_emu_rtype_t *t, const char *version, char *buf, size_t n) {
  if (!*t->group) {
    snprintf(buf, n, "io.k8s.api.core.%s.%s", version, t->kind);
    return;
  }
  if (!t->from_crd) {
    char pkg[64];
    snprintf(pkg, sizeof pkg, "%.*s", (int)strcspn(t->group, "."), t->group);
    snprintf(buf, n, "io.k8s.api.%s.%s.%s", pkg, version, t->kind);
    return;
  }
  // A CRD's group reversed, as the API server names its schemas (llmd.ai -> ai.llmd).
  char rev[256] = "";
  const char *g = t->group;
  const char *end = g + strlen(g);
  while (end > g) {
    const char *dot = end - 1;
    while (dot > g && *dot != '.') dot--;
    const char *start = *dot == '.' ? dot + 1 : dot;
    size_t len = strlen(rev);
    snprintf(rev + len, sizeof rev - len, "%s%.*s", len ? "." : "", (int)(end - start), start);
    end = dot;
  }
  snprintf(buf, n, "%s.%s.%s", rev, version, t->kind);
}

static sl_json_t *gvk(const sl_emu_rtype_t *t, const char *version) {
  sl_json_t *o = sl_json_object();
  set_str(o, "group", t->group);
  set_str(o, "kind", t->kind);
  set_str(o, "version", version);
  return o;
}

static sl_json_t *param(const char *name, const char *in, const char *type) {
  sl_json_t *p = sl_json_object(), *s = sl_json_object();
  set_str(p, "name", name);
  set_str(p, "in", in);
  if (!strcmp(in, "path")) sl_json_set(p, "required", sl_json_bool(1));
  set_str(s, "type", type);
  sl_json_set(p, "schema", s);
  return p;
}

static sl_json_t *ref_content(const char *const *types, const char *schema) {
  sl_json_t *c = sl_json_object();
  char ref[300];
  snprintf(ref, sizeof ref, "#/components/schemas/%s", schema);
  for (; *types; types++) {
    sl_json_t *m = sl_json_object(), *s = sl_json_object();
    set_str(s, "$ref", ref);
    sl_json_set(m, "schema", s);
    sl_json_set(c, *types, m);
  }
  return c;
}

static sl_json_t *operation(const sl_emu_rtype_t *t, const char *version, const char *action,
                            const char *schema, int body) {
  static const char *const json[] = {"application/json", NULL};
  static const char *const patches[] = {"application/json-patch+json",
                                        "application/merge-patch+json",
                                        "application/apply-patch+yaml", NULL};
  sl_json_t *op = sl_json_object(), *params = sl_json_array();
  char id[256];
  snprintf(id, sizeof id, "%s%s%s", action, t->kind, version);
  set_str(op, "operationId", id);
  if (!strcmp(action, "patch") || !strcmp(action, "put") || !strcmp(action, "post")) {
    sl_json_push(params, param("dryRun", "query", "string"));
    sl_json_push(params, param("fieldManager", "query", "string"));
    sl_json_push(params, param("fieldValidation", "query", "string"));
    if (!strcmp(action, "patch")) sl_json_push(params, param("force", "query", "boolean"));
  }
  sl_json_set(op, "parameters", params);
  if (body) {
    sl_json_t *rb = sl_json_object();
    int patch = !strcmp(action, "patch");
    sl_json_set(rb, "content",
                ref_content(patch ? patches : json,
                            patch ? "io.k8s.apimachinery.pkg.apis.meta.v1.Patch" : schema));
    sl_json_set(rb, "required", sl_json_bool(1));
    sl_json_set(op, "requestBody", rb);
  }
  sl_json_t *resp = sl_json_object(), *ok = sl_json_object();
  set_str(ok, "description", "OK");
  sl_json_set(ok, "content", ref_content(json, schema));
  sl_json_set(resp, "200", ok);
  sl_json_set(op, "responses", resp);
  set_str(op, "x-kubernetes-action", action);
  sl_json_set(op, "x-kubernetes-group-version-kind", gvk(t, version));
  return op;
}

static void add_paths(sl_json_t *paths, const sl_emu_rtype_t *t, const char *version) {
  char base[300], schema[300], p[400];
  if (*t->group)
    snprintf(base, sizeof base, "/apis/%s/%s%s", t->group, version,
             t->namespaced ? "/namespaces/{namespace}" : "");
  else
    snprintf(base, sizeof base, "/api/%s%s", version,
             t->namespaced ? "/namespaces/{namespace}" : "");
  schema_name(t, version, schema, sizeof schema);

  sl_json_t *coll = sl_json_object();
  sl_json_set(coll, "get", operation(t, version, "list", schema, 0));
  sl_json_set(coll, "post", operation(t, version, "post", schema, 1));
  snprintf(p, sizeof p, "%s/%s", base, t->resource);
  sl_json_set(paths, p, coll);

  sl_json_t *item = sl_json_object();
  sl_json_set(item, "get", operation(t, version, "get", schema, 0));
  sl_json_set(item, "put", operation(t, version, "put", schema, 1));
  sl_json_set(item, "patch", operation(t, version, "patch", schema, 1));
  sl_json_set(item, "delete", operation(t, version, "delete", schema, 0));
  snprintf(p, sizeof p, "%s/%s/{name}", base, t->resource);
  sl_json_set(paths, p, item);

  if (t->has_status) {
    sl_json_t *st = sl_json_object();
    sl_json_set(st, "get", operation(t, version, "get", schema, 0));
    sl_json_set(st, "put", operation(t, version, "put", schema, 1));
    sl_json_set(st, "patch", operation(t, version, "patch", schema, 1));
    snprintf(p, sizeof p, "%s/%s/{name}/status", base, t->resource);
    sl_json_set(paths, p, st);
  }
}

static sl_json_t *kind_schema(const sl_emu_rtype_t *t, const char *version) {
  sl_json_t *s = sl_json_object(), *props = sl_json_object(), *g = sl_json_array();
  set_str(s, "type", "object");
  static const char *const fields[][2] = {{"apiVersion", "string"},
                                          {"kind", "string"},
                                          {"metadata", "object"},
                                          {"spec", "object"},
                                          {"status", "object"}};
  for (size_t i = 0; i < 5; i++) {
    sl_json_t *f = sl_json_object();
    set_str(f, "type", fields[i][1]);
    if (!strcmp(fields[i][1], "object"))
      sl_json_set(f, "x-kubernetes-preserve-unknown-fields", sl_json_bool(1));
    sl_json_set(props, fields[i][0], f);
  }
  sl_json_set(s, "properties", props);
  sl_json_push(g, gvk(t, version));
  sl_json_set(s, "x-kubernetes-group-version-kind", g);
  return s;
}

static sl_json_t *openapi_gv(sl_emu_t *e, const char *group, const char *version) {
  sl_json_t *doc = sl_json_object(), *info = sl_json_object(), *paths = sl_json_object();
  sl_json_t *comp = sl_json_object(), *schemas = sl_json_object();
  set_str(doc, "openapi", "3.0.0");
  set_str(info, "title", "Kubernetes (sluice emulate)");
  set_str(info, "version", "v1.32.0");
  sl_json_set(doc, "info", info);
  int any = 0;
  for (size_t i = 0; i < sl_emu_store_ntypes(e->store); i++) {
    const sl_emu_rtype_t *t = sl_emu_store_type_at(e->store, i);
    if (!serves(t, group, version)) continue;
    any = 1;
    add_paths(paths, t, version);
    char name[300];
    schema_name(t, version, name, sizeof name);
    sl_json_set(schemas, name, kind_schema(t, version));
  }
  sl_json_t *patch = sl_json_object();
  set_str(patch, "type", "object");
  set_str(patch, "description", "a JSON patch, merge patch or apply configuration");
  sl_json_set(schemas, "io.k8s.apimachinery.pkg.apis.meta.v1.Patch", patch);
  sl_json_set(doc, "paths", paths);
  sl_json_set(comp, "schemas", schemas);
  sl_json_set(doc, "components", comp);
  if (!any) {
    sl_json_free(doc);
    return NULL;
  }
  return doc;
}

static uint64_t fnv(const char *s, size_t n) {
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
  return h;
}

static void reply_doc(sl_http_req_t *r, sl_json_t *doc) {
  if (!doc) {
    static const char nf[] = "404 page not found\n";
    sl_http_reply(r, 404, "text/plain; charset=utf-8", nf, sizeof nf - 1);
    return;
  }
  emu_reply_json(r, 200, doc);
}

static void openapi_v3(sl_emu_t *e, sl_http_req_t *r, const char *rest) {
  group_t gs[64];
  size_t ng = collect_groups(e, gs, 64);
  if (!*rest || !strcmp(rest, "/")) {
    sl_json_t *root = sl_json_object(), *paths = sl_json_object();
    for (size_t i = 0; i < ng; i++) {
      for (size_t v = 0; v < gs[i].n; v++) {
        sl_json_t *doc = openapi_gv(e, gs[i].name, gs[i].versions[v]);
        char *bytes;
        size_t len;
        sl_err_t err;
        if (!doc || sl_json_write(doc, &bytes, &len, &err) < 0) {
          sl_json_free(doc);
          continue;
        }
        char key[300], url[400];
        if (*gs[i].name)
          snprintf(key, sizeof key, "apis/%s/%s", gs[i].name, gs[i].versions[v]);
        else
          snprintf(key, sizeof key, "api/%s", gs[i].versions[v]);
        snprintf(url, sizeof url, "/openapi/v3/%s?hash=%016" PRIX64, key, fnv(bytes, len));
        sl_json_t *ent = sl_json_object();
        set_str(ent, "serverRelativeURL", url);
        sl_json_set(paths, key, ent);
        free(bytes);
        sl_json_free(doc);
      }
    }
    sl_json_set(root, "paths", paths);
    reply_doc(r, root);
    return;
  }
  // /api/v1 or /apis/GROUP/VERSION
  char g[200] = "", v[64] = "";
  if (sscanf(rest, "/api/%63[^/]", v) == 1 && !strchr(rest + 5, '/'))
    reply_doc(r, openapi_gv(e, "", v));
  else if (sscanf(rest, "/apis/%199[^/]/%63[^/]", g, v) == 2)
    reply_doc(r, openapi_gv(e, g, v));
  else
    reply_doc(r, NULL);
}

// ---- the routes
// -----------------------------------------------------------------------------------

void emu_discovery_route(sl_emu_t *e, sl_http_req_t *r, const char *path) {
  if (!strcmp(path, "/version") || !strcmp(path, "/version/")) {
    sl_json_t *v = sl_json_object();
    set_str(v, "major", "1");
    set_str(v, "minor", "32");
    set_str(v, "gitVersion", "v1.32.0-sluice-emulate");
    set_str(v, "gitCommit", "0000000000000000000000000000000000000000");
    set_str(v, "gitTreeState", "clean");
    set_str(v, "buildDate", "2025-01-01T00:00:00Z");
    set_str(v, "goVersion", "go1.23.0");
    set_str(v, "compiler", "gc");
    set_str(v, "platform", "linux/amd64");
    reply_doc(r, v);
    return;
  }
  if (!strcmp(path, "/api") || !strcmp(path, "/api/")) {
    sl_json_t *v = sl_json_object(), *vs = sl_json_array(), *addrs = sl_json_array(),
              *a = sl_json_object();
    set_str(v, "kind", "APIVersions");
    sl_json_push(vs, sl_json_string("v1"));
    sl_json_set(v, "versions", vs);
    set_str(a, "clientCIDR", "0.0.0.0/0");
    const char *hostport = strstr(e->url, "://");
    set_str(a, "serverAddress", hostport ? hostport + 3 : e->url);
    sl_json_push(addrs, a);
    sl_json_set(v, "serverAddressByClientCIDRs", addrs);
    reply_doc(r, v);
    return;
  }
  if (!strncmp(path, "/api/", 5) && !strchr(path + 5, '/')) {
    reply_doc(r, emu_discovery_resources(e, "", path + 5));
    return;
  }
  group_t gs[64];
  size_t ng = collect_groups(e, gs, 64);
  if (!strcmp(path, "/apis") || !strcmp(path, "/apis/")) {
    sl_json_t *l = sl_json_object(), *groups = sl_json_array();
    set_str(l, "kind", "APIGroupList");
    set_str(l, "apiVersion", "v1");
    for (size_t i = 0; i < ng; i++)
      if (*gs[i].name) sl_json_push(groups, group_doc(&gs[i]));
    sl_json_set(l, "groups", groups);
    reply_doc(r, l);
    return;
  }
  char g[200], v[64];
  if (sscanf(path, "/apis/%199[^/]/%63[^/]", g, v) == 2) {
    reply_doc(r, emu_discovery_resources(e, g, v));
    return;
  }
  if (sscanf(path, "/apis/%199[^/]", g) == 1) {
    for (size_t i = 0; i < ng; i++) {
      if (!strcmp(gs[i].name, g)) {
        sl_json_t *d = group_doc(&gs[i]);
        set_str(d, "kind", "APIGroup");
        set_str(d, "apiVersion", "v1");
        reply_doc(r, d);
        return;
      }
    }
    reply_doc(r, NULL);
    return;
  }
  if (!strncmp(path, "/openapi/v3", 11)) {
    openapi_v3(e, r, path + 11);
    return;
  }
  reply_doc(r, NULL);
}
