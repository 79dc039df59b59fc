// CustomResourceDefinitions: applying one makes its resource served (discovery, OpenAPI and the
// REST paths follow the type table); deleting it deletes its objects and unserves the type.
// Objects are stored once per group/resource whatever version they were written at; reading
// them at another served version only rewrites apiVersion (no conversion webhooks here).
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/emu/crd.h"
#include "core/emu/kinds.h"

static const char *str_at(const sl_json_t *j, const char *path) {
  return sl_json_str_or(sl_json_at(j, path), NULL);
}

// Kubernetes version priority: GA before beta before alpha, higher numbers first, anything
// else last in name order ("v1" > "v2beta1" > "v1beta2" > "v1alpha1" > "foo").
static void version_rank(const char *v, int *cls, long *major, long *minor) {
  *cls = 0;
  *major = *minor = 0;
  if (v[0] != 'v' || !isdigit((unsigned char)v[1])) return;
  char *end;
  *major = strtol(v + 1, &end, 10);
  if (!*end) {
    *cls = 3;
  } else if (!strncmp(end, "beta", 4) && isdigit((unsigned char)end[4])) {
    *cls = 2;
    *minor = strtol(end + 4, &end, 10);
  } else if (!strncmp(end, "alpha", 5) && isdigit((unsigned char)end[5])) {
    *cls = 1;
    *minor = strtol(end + 5, &end, 10);
  }
  if (*end) *cls = 0;
}

int emu_version_before(const char *a, const char *b) {
  int ca, cb;
  long ma, mb, na, nb;
  version_rank(a, &ca, &ma, &na);
  version_rank(b, &cb, &mb, &nb);
  if (ca != cb) return ca > cb;
  if (ca == 0) return strcmp(a, b) < 0;
  if (ma != mb) return ma > mb;
  return na > nb;
}

int emu_crd_validate(sl_emu_t *e, const sl_json_t *crd, sl_emu_fail_t *f) {
  const char *name = str_at(crd, "metadata.name");
  const char *group = str_at(crd, "spec.group");
  const char *plural = str_at(crd, "spec.names.plural");
  const char *kind = str_at(crd, "spec.names.kind");
  const char *scope = str_at(crd, "spec.scope");
  char want[400];
  const char *what = NULL;
  if (!group || !*group)
    what = "spec.group: Required value";
  else if (!plural || !*plural)
    what = "spec.names.plural: Required value";
  else if (!kind || !*kind)
    what = "spec.names.kind: Required value";
  else if (!scope || (strcmp(scope, "Namespaced") && strcmp(scope, "Cluster")))
    what = "spec.scope: Unsupported value: supported values: \"Cluster\", \"Namespaced\"";
  if (!what) {
    snprintf(want, sizeof want, "%s.%s", plural, group);
    if (!name || strcmp(name, want))
      what = "metadata.name: Invalid value: must be spec.names.plural+\".\"+spec.group";
  }
  const sl_json_t *vs = sl_json_at(crd, "spec.versions");
  if (!what) {
    int storage = 0, served = 0;
    for (size_t i = 0; vs && vs->type == SL_JSON_ARRAY && i < vs->n; i++) {
      if (!str_at(vs->items[i], "name")) {
        what = "spec.versions: Invalid value: every version needs a name";
        break;
      }
      storage += sl_json_bool_or(sl_json_get(vs->items[i], "storage"), 0);
      served += sl_json_bool_or(sl_json_get(vs->items[i], "served"), 0);
    }
    if (what)
      ;
    else if (!vs || vs->type != SL_JSON_ARRAY || vs->n == 0)
      what = "spec.versions: Required value";
    else if (storage != 1)
      what =
          "spec.versions: Invalid value: must have exactly one version marked as storage version";
    else if (!served)
      what = "spec.versions: Invalid value: at least one version must be served";
  }
  if (!what) {
    const sl_emu_rtype_t *t = sl_emu_store_type(e->store, group, plural);
    if (t && !t->from_crd) what = "spec.names.plural: Invalid value: a built-in resource has it";
    // Objects are stored by namespace or not; the scope of a served type cannot move.
    else if (t && t->served && t->namespaced != !strcmp(scope, "Namespaced"))
      what = "spec.scope: Invalid value: field is immutable";
  }
  if (!what) return SL_OK;
  emu_fail(f, 422, "Invalid",
           "CustomResourceDefinition.apiextensions.k8s.io \"%.200s\" is invalid: %s",
           name ? name : "", what);
  snprintf(f->name, sizeof f->name, "%s", name ? name : "");
  f->t = sl_emu_store_type(e->store, "apiextensions.k8s.io", "customresourcedefinitions");
  return SL_EINVAL;
}

static char *dup_or(const char *s, const char *fallback) {
  return strdup(s ? s : fallback);
}

static int strv(const sl_json_t *arr, char ***out, size_t *n) {
  *out = NULL;
  *n = 0;
  if (!arr || arr->type != SL_JSON_ARRAY) return SL_OK;
  if (!(*out = calloc(arr->n + 1, sizeof **out))) return SL_ENOMEM;
  for (size_t i = 0; i < arr->n; i++)
    if (arr->items[i]->type == SL_JSON_STRING && !((*out)[(*n)++] = strdup(arr->items[i]->str)))
      return SL_ENOMEM;
  return SL_OK;
}

// ".spec.replicas" (a JSON path as CRDs write it) to "spec.replicas".
static char *path_of(const char *p) {
  if (!p) return NULL;
  return strdup(p[0] == '.' ? p + 1 : p);
}

int emu_crd_apply(sl_emu_t *e, const sl_json_t *crd, sl_err_t *err) {
  const char *group = str_at(crd, "spec.group"), *plural = str_at(crd, "spec.names.plural");
  const char *kind = str_at(crd, "spec.names.kind");
  if (!group || !plural || !kind) return sl_err(err, SL_EINVAL, "incomplete CRD");
  const sl_json_t *vs = sl_json_at(crd, "spec.versions");
  // Served versions, in the order discovery lists them (the preferred first).
  const sl_json_t *served[64];
  size_t ns = 0;
  const sl_json_t *storage = NULL;
  for (size_t i = 0; vs && vs->type == SL_JSON_ARRAY && i < vs->n && ns < 64; i++) {
    const sl_json_t *v = vs->items[i];
    if (sl_json_bool_or(sl_json_get(v, "storage"), 0)) storage = v;
    if (sl_json_bool_or(sl_json_get(v, "served"), 0)) served[ns++] = v;
  }
  for (size_t i = 1; i < ns; i++)
    for (size_t j = i;
         j > 0 && emu_version_before(str_at(served[j], "name"), str_at(served[j - 1], "name"));
         j--) {
      const sl_json_t *x = served[j];
      served[j] = served[j - 1];
      served[j - 1] = x;
    }
  if (!ns || !storage) return sl_err(err, SL_EINVAL, "no served or storage version");
  const sl_json_t *pref = served[0];
  sl_emu_rtype_t t = {0};
  t.group = strdup(group);
  t.version = strdup(str_at(pref, "name"));
  t.versions = calloc(ns, sizeof *t.versions);
  for (size_t i = 0; t.versions && i < ns; i++)
    t.versions[t.n_versions++] = strdup(str_at(served[i], "name"));
  t.resource = strdup(plural);
  char lower[128];
  snprintf(lower, sizeof lower, "%s", kind);
  for (char *c = lower; *c; c++) *c = (char)tolower((unsigned char)*c);
  t.singular = dup_or(str_at(crd, "spec.names.singular"), lower);
  t.kind = strdup(kind);
  char lk[160];
  snprintf(lk, sizeof lk, "%sList", kind);
  t.list_kind = dup_or(str_at(crd, "spec.names.listKind"), lk);
  int rc = strv(sl_json_at(crd, "spec.names.shortNames"), &t.short_names, &t.n_short);
  if (rc == 0) rc = strv(sl_json_at(crd, "spec.names.categories"), &t.categories, &t.n_categories);
  t.namespaced = !strcmp(sl_json_str_or(sl_json_at(crd, "spec.scope"), ""), "Namespaced");
  // Subresources and printer columns as the preferred version declares them.
  const sl_json_t *sub = sl_json_get(pref, "subresources");
  t.has_status = sl_json_get(sub, "status") != NULL;
  const sl_json_t *scale = sl_json_get(sub, "scale");
  if (scale) {
    t.has_scale = 1;
    t.scale_spec = path_of(str_at(scale, "specReplicasPath"));
    t.scale_status = path_of(str_at(scale, "statusReplicasPath"));
    t.scale_selector = path_of(str_at(scale, "labelSelectorPath"));
  }
  const sl_json_t *cols = sl_json_get(pref, "additionalPrinterColumns");
  if (cols && cols->type == SL_JSON_ARRAY && cols->n) {
    t.columns = calloc(cols->n, sizeof *t.columns);
    for (size_t i = 0; t.columns && i < cols->n; i++) {
      const sl_json_t *c = cols->items[i];
      sl_emu_column_t *col = &t.columns[t.n_columns++];
      col->name = dup_or(str_at(c, "name"), "");
      col->type = dup_or(str_at(c, "type"), "string");
      col->json_path = dup_or(str_at(c, "jsonPath"), "");
      col->description = dup_or(str_at(c, "description"), "");
      col->priority = (int)sl_json_num_or(sl_json_get(c, "priority"), 0);
    }
  }
  t.has_generation = 1;
  t.from_crd = 1;
  t.served = 1;
  t.smp = NULL;
  if (rc < 0 || !t.group || !t.version || !t.versions || !t.resource || !t.singular || !t.kind ||
      !t.list_kind) {
    sl_emu_rtype_clear(&t);
    return sl_err(err, SL_ENOMEM, "out of memory");
  }
  sl_emu_rtype_t *have = sl_emu_store_type(e->store, group, plural);
  if (have) {
    if (!have->from_crd) {
      sl_emu_rtype_clear(&t);
      return sl_err(err, SL_EINVAL, "%s.%s is a built-in resource", plural, group);
    }
    // Same type, new definition: the objects stay.
    sl_map_t objects = have->objects;
    sl_emu_rtype_clear(have);
    *have = t;
    have->objects = objects;
    return SL_OK;
  }
  if (!sl_emu_store_add_type(e->store, &t)) {
    sl_emu_rtype_clear(&t);
    return sl_err(err, SL_ENOMEM, "out of memory");
  }
  return SL_OK;
}

void emu_crd_remove(sl_emu_t *e, const sl_json_t *crd) {
  const char *group = str_at(crd, "spec.group"), *plural = str_at(crd, "spec.names.plural");
  sl_emu_rtype_t *t = group && plural ? sl_emu_store_type(e->store, group, plural) : NULL;
  if (!t || !t->from_crd) return;
  sl_emu_obj_t **objs;
  size_t n = sl_emu_store_list(e->store, t, NULL, &objs);
  char **keys = calloc(n + 1, sizeof *keys), **nss = calloc(n + 1, sizeof *nss);
  for (size_t i = 0; keys && nss && i < n; i++) {
    keys[i] = strdup(sl_json_str_or(sl_json_at(objs[i]->json, "metadata.name"), ""));
    nss[i] = strdup(sl_json_str_or(sl_json_at(objs[i]->json, "metadata.namespace"), ""));
  }
  free(objs);
  for (size_t i = 0; keys && nss && i < n; i++) {
    if (keys[i] && nss[i]) sl_emu_store_remove(e->store, t, nss[i], keys[i], 1, NULL);
    free(keys[i]);
    free(nss[i]);
  }
  free(keys);
  free(nss);
  t->served = 0;
}
