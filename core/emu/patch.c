// JSON merge patch, JSON patch and strategic merge patch. See patch.h.
#include "core/emu/patch.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ---- small tree helpers -------------------------------------------------------------------------

static int arr_insert(sl_json_t *arr, size_t at, sl_json_t *v) {
  size_t n = arr->n;
  if (sl_json_push(arr, v) < 0) return SL_ENOMEM;
  memmove(arr->items + at + 1, arr->items + at, (n - at) * sizeof *arr->items);
  arr->items[at] = v;
  return SL_OK;
}

static int starts(const char *s, const char *prefix) {
  return !strncmp(s, prefix, strlen(prefix));
}

// ---- JSON merge patch (RFC 7386) ----------------------------------------------------------------

static int merge_into(sl_json_t **slot, const sl_json_t *patch) {
  if (patch->type != SL_JSON_OBJECT) {
    sl_json_t *c = sl_json_clone(patch);
    if (!c) return SL_ENOMEM;
    sl_json_free(*slot);
    *slot = c;
    return SL_OK;
  }
  if (!*slot || (*slot)->type != SL_JSON_OBJECT) {
    sl_json_free(*slot);
    if (!(*slot = sl_json_object())) return SL_ENOMEM;
  }
  sl_json_t *t = *slot;
  for (size_t i = 0; i < patch->n; i++) {
    const sl_json_t *pv = patch->items[i];
    if (pv->type == SL_JSON_NULL) {
      sl_json_del(t, patch->keys[i]);
      continue;
    }
    long at = sl_json_index(t, patch->keys[i]);
    if (at >= 0) {
      int rc = merge_into(&t->items[at], pv);
      if (rc < 0) return rc;
    } else {
      sl_json_t *v = NULL;
      int rc = merge_into(&v, pv);
      if (rc < 0 || (rc = sl_json_set(t, patch->keys[i], v)) < 0) return rc;
    }
  }
  return SL_OK;
}

int sl_patch_merge(const sl_json_t *doc, const sl_json_t *patch, sl_json_t **out, sl_err_t *err) {
  *out = NULL;
  if (!patch) return sl_err(err, SL_EPARSE, "no patch");
  sl_json_t *d = doc ? sl_json_clone(doc) : NULL;
  if (doc && !d) return sl_err(err, SL_ENOMEM, "out of memory");
  int rc = merge_into(&d, patch);
  if (rc < 0) {
    sl_json_free(d);
    return sl_err(err, rc, "out of memory");
  }
  *out = d;
  return SL_OK;
}

// ---- JSON pointers (RFC 6901) -------------------------------------------------------------------

typedef struct {
  char **t;
  size_t n;
} ptr_t;

static void ptr_free(ptr_t *p) {
  for (size_t i = 0; i < p->n; i++) free(p->t[i]);
  free(p->t);
  p->t = NULL;
  p->n = 0;
}

static int ptr_parse(const char *s, ptr_t *p) {
  memset(p, 0, sizeof *p);
  if (!*s) return SL_OK;
  if (*s != '/') return SL_EPARSE;
  while (*s == '/') {
    s++;
    size_t n = strcspn(s, "/");
    char *tok = malloc(n + 1), **t = realloc(p->t, (p->n + 1) * sizeof *t);
    if (!tok || !t) {
      free(tok);
      if (t) p->t = t;
      ptr_free(p);
      return SL_ENOMEM;
    }
    p->t = t;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
      if (s[i] == '~') {
        if (i + 1 < n && (s[i + 1] == '0' || s[i + 1] == '1')) {
          tok[k++] = s[i + 1] == '0' ? '~' : '/';
          i++;
          continue;
        }
        free(tok);
        ptr_free(p);
        return SL_EPARSE;
      }
      tok[k++] = s[i];
    }
    tok[k] = '\0';
    p->t[p->n++] = tok;
    s += n;
  }
  return SL_OK;
}

// An array index token: digits without a leading zero. -1 when it is not one.
static long arr_index(const char *tok) {
  if (!*tok || (tok[0] == '0' && tok[1]) || strlen(tok) > 9) return -1;
  for (const char *c = tok; *c; c++)
    if (!isdigit((unsigned char)*c)) return -1;
  return strtol(tok, NULL, 10);
}

static sl_json_t *step(const sl_json_t *cur, const char *tok) {
  if (!cur) return NULL;
  if (cur->type == SL_JSON_OBJECT) return sl_json_get(cur, tok);
  if (cur->type == SL_JSON_ARRAY) {
    long i = arr_index(tok);
    return i >= 0 && (size_t)i < cur->n ? cur->items[i] : NULL;
  }
  return NULL;
}

static sl_json_t *ptr_walk(const sl_json_t *doc, const ptr_t *p, size_t upto) {
  const sl_json_t *cur = doc;
  for (size_t i = 0; i < upto && cur; i++) cur = step(cur, p->t[i]);
  return (sl_json_t *)cur;
}

const sl_json_t *sl_json_pointer(const sl_json_t *doc, const char *s) {
  ptr_t p;
  if (ptr_parse(s, &p) < 0) return NULL;
  const sl_json_t *v = ptr_walk(doc, &p, p.n);
  ptr_free(&p);
  return v;
}

// ---- JSON patch (RFC 6902) ----------------------------------------------------------------------

// Adds v (taken) at p; the parent must exist.
static int jp_add(sl_json_t **root, const ptr_t *p, sl_json_t *v, const char *path, sl_err_t *err) {
  if (p->n == 0) {
    sl_json_free(*root);
    *root = v;
    return SL_OK;
  }
  sl_json_t *parent = ptr_walk(*root, p, p->n - 1);
  const char *last = p->t[p->n - 1];
  if (parent && parent->type == SL_JSON_OBJECT) {
    if (sl_json_set(parent, last, v) < 0) return sl_err(err, SL_ENOMEM, "out of memory");
    return SL_OK;
  }
  if (parent && parent->type == SL_JSON_ARRAY) {
    long i = !strcmp(last, "-") ? (long)parent->n : arr_index(last);
    if (i < 0 || (size_t)i > parent->n) {
      sl_json_free(v);
      return sl_err(err, SL_EINVAL, "add operation: index %s out of range at %s", last, path);
    }
    if (arr_insert(parent, (size_t)i, v) < 0) return sl_err(err, SL_ENOMEM, "out of memory");
    return SL_OK;
  }
  sl_json_free(v);
  return sl_err(err, SL_EINVAL, "add operation does not apply: doc is missing path: \"%.200s\"",
                path);
}

// Takes the value at p out of the document (the caller owns it).
static sl_json_t *jp_take(sl_json_t **root, const ptr_t *p) {
  if (p->n == 0) {
    sl_json_t *v = *root;
    *root = NULL;
    return v;
  }
  sl_json_t *parent = ptr_walk(*root, p, p->n - 1);
  const char *last = p->t[p->n - 1];
  if (!parent) return NULL;
  long i = -1;
  if (parent->type == SL_JSON_OBJECT)
    i = sl_json_index(parent, last);
  else if (parent->type == SL_JSON_ARRAY)
    i = arr_index(last);
  if (i < 0 || (size_t)i >= parent->n) return NULL;
  return sl_json_take_at(parent, (size_t)i);
}

static const char *op_str(const sl_json_t *op, const char *key) {
  const sl_json_t *v = sl_json_get(op, key);
  return v && v->type == SL_JSON_STRING ? v->str : NULL;
}

static int jp_apply(sl_json_t **root, const sl_json_t *op, size_t idx, sl_err_t *err) {
  if (op->type != SL_JSON_OBJECT)
    return sl_err(err, SL_EPARSE, "operation %zu is not an object", idx);
  const char *name = op_str(op, "op"), *path = op_str(op, "path");
  if (!name) return sl_err(err, SL_EPARSE, "operation %zu: missing \"op\"", idx);
  if (!path) return sl_err(err, SL_EPARSE, "operation %zu (%s): missing \"path\"", idx, name);
  ptr_t p, f = {0};
  if (ptr_parse(path, &p) < 0)
    return sl_err(err, SL_EPARSE, "operation %zu (%s): bad pointer \"%.200s\"", idx, name, path);
  int rc = SL_OK;
  const sl_json_t *value = sl_json_get(op, "value");
  if (!strcmp(name, "add") || !strcmp(name, "replace") || !strcmp(name, "test")) {
    if (!value) {
      rc = sl_err(err, SL_EPARSE, "operation %zu (%s): missing \"value\"", idx, name);
      goto done;
    }
  }
  if (!strcmp(name, "add")) {
    sl_json_t *v = sl_json_clone(value);
    rc = v ? jp_add(root, &p, v, path, err) : sl_err(err, SL_ENOMEM, "out of memory");
  } else if (!strcmp(name, "remove")) {
    sl_json_t *v = p.n ? jp_take(root, &p) : NULL;
    if (!v)
      rc = sl_err(err, SL_EINVAL,
                  "remove operation does not apply: doc is missing path: \"%.200s\"", path);
    sl_json_free(v);
  } else if (!strcmp(name, "replace")) {
    sl_json_t *old = jp_take(root, &p);
    if (!old) {
      rc = sl_err(err, SL_EINVAL,
                  "replace operation does not apply: doc is missing key: \"%.200s\"", path);
      goto done;
    }
    sl_json_free(old);
    sl_json_t *v = sl_json_clone(value);
    rc = v ? jp_add(root, &p, v, path, err) : sl_err(err, SL_ENOMEM, "out of memory");
  } else if (!strcmp(name, "move") || !strcmp(name, "copy")) {
    const char *from = op_str(op, "from");
    if (!from || ptr_parse(from, &f) < 0) {
      rc = sl_err(err, SL_EPARSE, "operation %zu (%s): missing or bad \"from\"", idx, name);
      goto done;
    }
    int move = name[0] == 'm';
    size_t fl = strlen(from);
    if (move && !strncmp(path, from, fl) && path[fl] == '/') {
      rc = sl_err(err, SL_EINVAL,
                  "move operation: cannot move \"%.100s\" into its child \"%.100s\"", from, path);
      goto done;
    }
    if (move && !strcmp(path, from)) {
      if (!ptr_walk(*root, &f, f.n))
        rc = sl_err(err, SL_EINVAL,
                    "move operation does not apply: doc is missing from path: "
                    "\"%.200s\"",
                    from);
      goto done;
    }
    sl_json_t *v = move ? jp_take(root, &f) : sl_json_clone(ptr_walk(*root, &f, f.n));
    if (!v) {
      rc = sl_err(err, SL_EINVAL,
                  "%s operation does not apply: doc is missing from path: "
                  "\"%.200s\"",
                  name, from);
      goto done;
    }
    rc = jp_add(root, &p, v, path, err);
  } else if (!strcmp(name, "test")) {
    const sl_json_t *cur = ptr_walk(*root, &p, p.n);
    if (!cur || !sl_json_equal(cur, value))
      rc = sl_err(err, SL_EINVAL, "testing value %.200s failed", path);
  } else {
    rc = sl_err(err, SL_EPARSE, "operation %zu: unknown op \"%.40s\"", idx, name);
  }
done:
  ptr_free(&p);
  ptr_free(&f);
  return rc;
}

int sl_patch_json(const sl_json_t *doc, const sl_json_t *ops, sl_json_t **out, sl_err_t *err) {
  *out = NULL;
  if (!ops || ops->type != SL_JSON_ARRAY)
    return sl_err(err, SL_EPARSE, "a JSON patch must be an array of operations");
  sl_json_t *d = sl_json_clone(doc);
  if (doc && !d) return sl_err(err, SL_ENOMEM, "out of memory");
  for (size_t i = 0; i < ops->n; i++) {
    int rc = jp_apply(&d, ops->items[i], i, err);
    if (rc < 0) {
      sl_json_free(d);
      return rc;
    }
  }
  if (!d && !(d = sl_json_null())) return sl_err(err, SL_ENOMEM, "out of memory");
  *out = d;
  return SL_OK;
}

// ---- strategic merge patch ----------------------------------------------------------------------

static const sl_smp_field_t *field_of(const sl_smp_type_t *t, const char *name) {
  if (!t || !t->fields) return NULL;
  for (const sl_smp_field_t *f = t->fields; f->name; f++)
    if (!strcmp(f->name, name)) return f;
  return NULL;
}

// A patch value taken as it is (its key is new to the document): directives and nulls go.
// *drop is set when the value is itself a `$patch: delete` map, which adds nothing.
static sl_json_t *fresh(const sl_json_t *v, int *drop) {
  *drop = 0;
  if (v->type == SL_JSON_OBJECT) {
    const char *dir = sl_json_str_or(sl_json_get(v, "$patch"), NULL);
    if (dir && !strcmp(dir, "delete")) {
      *drop = 1;
      return NULL;
    }
    sl_json_t *o = sl_json_object();
    if (!o) return NULL;
    for (size_t i = 0; i < v->n; i++) {
      if (v->keys[i][0] == '$' || v->items[i]->type == SL_JSON_NULL) continue;
      int d;
      sl_json_t *c = fresh(v->items[i], &d);
      if (d) continue;
      if (!c || sl_json_set(o, v->keys[i], c) < 0) {
        sl_json_free(o);
        return NULL;
      }
    }
    return o;
  }
  if (v->type == SL_JSON_ARRAY) {
    sl_json_t *a = sl_json_array();
    if (!a) return NULL;
    for (size_t i = 0; i < v->n; i++) {
      if (v->items[i]->type == SL_JSON_OBJECT && sl_json_get(v->items[i], "$patch")) continue;
      int d;
      sl_json_t *c = fresh(v->items[i], &d);
      if (d) continue;
      if (!c || sl_json_push(a, c) < 0) {
        sl_json_free(a);
        return NULL;
      }
    }
    return a;
  }
  return sl_json_clone(v);
}

// What identifies a list item for ordering and merging: its merge key's value, or itself.
static const sl_json_t *ident(const sl_json_t *item, const char *key) {
  return key ? sl_json_get(item, key) : item;
}

static long find_ident(sl_json_t *const *ids, size_t n, const sl_json_t *id) {
  if (!id) return -1;
  for (size_t i = 0; i < n; i++)
    if (ids[i] && sl_json_equal(ids[i], id)) return (long)i;
  return -1;
}

typedef struct {
  sl_json_t **v;
  size_t n;
} ids_t;

static void ids_free(ids_t *ids) {
  for (size_t i = 0; i < ids->n; i++) sl_json_free(ids->v[i]);
  free(ids->v);
}

// Identities of a list's items, copied (the list is about to change).
static int ids_of(const sl_json_t *list, const char *key, int skip_directives, ids_t *out) {
  out->n = 0;
  out->v = calloc(list ? list->n + 1 : 1, sizeof *out->v);
  if (!out->v) return SL_ENOMEM;
  for (size_t i = 0; list && i < list->n; i++) {
    const sl_json_t *it = list->items[i];
    if (skip_directives && it->type == SL_JSON_OBJECT && sl_json_get(it, "$patch")) continue;
    const sl_json_t *id = ident(it, key);
    out->v[out->n] = id ? sl_json_clone(id) : NULL;
    if (id && !out->v[out->n]) return SL_ENOMEM;
    out->n++;
  }
  return SL_OK;
}

static void sort_by(sl_json_t **items, size_t n, const char *key, const ids_t *order) {
  for (size_t i = 1; i < n; i++) {
    sl_json_t *x = items[i];
    long xi = find_ident(order->v, order->n, ident(x, key));
    size_t j = i;
    while (j > 0) {
      long yi = find_ident(order->v, order->n, ident(items[j - 1], key));
      if (xi < 0 || yi <= xi) break;
      items[j] = items[j - 1];
      j--;
    }
    items[j] = x;
  }
}

// Puts the list in the order the API server gives it: the items named by `order` (the patch's
// list or its $setElementOrder) in that order, the other (server-only) items in their previous
// order, the two interleaved by their positions in the previous list.
static int reorder(sl_json_t *list, const char *key, const ids_t *order, const ids_t *before) {
  size_t n = list->n, np = 0, ns = 0;
  sl_json_t **pi = malloc((n + 1) * sizeof *pi), **si = malloc((n + 1) * sizeof *si);
  if (!pi || !si) {
    free(pi);
    free(si);
    return SL_ENOMEM;
  }
  for (size_t i = 0; i < n; i++) {
    if (find_ident(order->v, order->n, ident(list->items[i], key)) >= 0)
      pi[np++] = list->items[i];
    else
      si[ns++] = list->items[i];
  }
  sort_by(pi, np, key, order);
  sort_by(si, ns, key, before);
  size_t i = 0, j = 0, k = 0;
  while (i < ns || j < np) {
    if (i < ns && j < np) {
      long li = find_ident(before->v, before->n, ident(si[i], key));
      long ri = find_ident(before->v, before->n, ident(pi[j], key));
      list->items[k++] = (li >= 0 && ri >= 0 && li < ri) ? si[i++] : pi[j++];
    } else if (i < ns) {
      list->items[k++] = si[i++];
    } else {
      list->items[k++] = pi[j++];
    }
  }
  free(pi);
  free(si);
  return SL_OK;
}

static int smp_map(sl_json_t **slot, const sl_json_t *patch, const sl_smp_type_t *t, sl_err_t *err);

static int list_kind(const sl_json_t *a, const sl_json_t *b, sl_json_type_t *kind, sl_err_t *err) {
  int seen = 0;
  const sl_json_t *ls[2] = {a, b};
  for (int l = 0; l < 2; l++)
    for (size_t i = 0; ls[l] && i < ls[l]->n; i++) {
      sl_json_type_t t = ls[l]->items[i]->type;
      if (t == SL_JSON_ARRAY) return sl_err(err, SL_EINVAL, "lists of lists are not supported");
      int is_map = t == SL_JSON_OBJECT;
      if (!seen) {
        *kind = is_map ? SL_JSON_OBJECT : SL_JSON_STRING;
        seen = 1;
      } else if ((*kind == SL_JSON_OBJECT) != is_map) {
        return sl_err(err, SL_EINVAL, "a list mixes maps and primitive values");
      }
    }
  if (!seen) *kind = SL_JSON_STRING;
  return SL_OK;
}

// Merges a patch list into the list at *slot (a list with merge semantics).
static int smp_list(sl_json_t **slot, const sl_json_t *patch, const sl_smp_field_t *f,
                    sl_err_t *err) {
  sl_json_t *list = *slot;
  if (list->n == 0 && patch->n == 0) return SL_OK;
  sl_json_type_t kind = SL_JSON_STRING;
  int rc = list_kind(list, patch, &kind, err);
  if (rc < 0) return rc;
  const char *key = kind == SL_JSON_OBJECT ? f->merge_key : NULL;
  if (kind == SL_JSON_OBJECT && !key)
    return sl_err(err, SL_EINVAL, "cannot merge lists without merge key for %s", f->name);
  ids_t before = {0}, order = {0};
  if ((rc = ids_of(list, key, 0, &before)) < 0 || (rc = ids_of(patch, key, 1, &order)) < 0) {
    rc = sl_err(err, SL_ENOMEM, "out of memory");
    goto done;
  }
  if (kind != SL_JSON_OBJECT) {
    // A set of primitives: the union, each value once.
    for (size_t i = 0; i < patch->n; i++) {
      sl_json_t *c = sl_json_clone(patch->items[i]);
      if (!c || sl_json_push(list, c) < 0) {
        rc = sl_err(err, SL_ENOMEM, "out of memory");
        goto done;
      }
    }
    for (size_t i = 1; i < list->n;) {
      int dup = 0;
      for (size_t j = 0; j < i && !dup; j++) dup = sl_json_equal(list->items[j], list->items[i]);
      if (dup)
        sl_json_remove_at(list, i);
      else
        i++;
    }
  } else {
    int replace = 0;
    for (size_t i = 0; i < patch->n; i++) {
      const sl_json_t *it = patch->items[i];
      const sl_json_t *dir = sl_json_get(it, "$patch");
      if (!dir) continue;
      const char *d = sl_json_str_or(dir, "");
      if (!strcmp(d, "delete")) {
        const sl_json_t *kv = sl_json_get(it, key);
        if (!kv) {
          rc = sl_err(err, SL_EINVAL, "map: %s does not contain declared merge key: %s", f->name,
                      key);
          goto done;
        }
        for (size_t j = 0; j < list->n;) {
          if (sl_json_equal(sl_json_get(list->items[j], key), kv))
            sl_json_remove_at(list, j);
          else
            j++;
        }
      } else if (!strcmp(d, "replace")) {
        replace = 1;
      } else if (!strcmp(d, "merge")) {
        rc = sl_err(err, SL_EPARSE, "merging lists cannot yet be specified in the patch");
        goto done;
      } else {
        rc = sl_err(err, SL_EPARSE, "unknown patch type: %.40s", d);
        goto done;
      }
    }
    if (replace)
      while (list->n) sl_json_remove_at(list, list->n - 1);
    for (size_t i = 0; i < patch->n; i++) {
      const sl_json_t *it = patch->items[i];
      if (sl_json_get(it, "$patch")) continue;
      const sl_json_t *kv = sl_json_get(it, key);
      if (!kv) {
        rc =
            sl_err(err, SL_EINVAL, "map: %s does not contain declared merge key: %s", f->name, key);
        goto done;
      }
      long at = -1;
      for (size_t j = 0; j < list->n && at < 0; j++)
        if (sl_json_equal(sl_json_get(list->items[j], key), kv)) at = (long)j;
      if (at >= 0) {
        if ((rc = smp_map(&list->items[at], it, f->type, err)) < 0) goto done;
      } else {
        int drop;
        sl_json_t *c = fresh(it, &drop);
        if (!drop && (!c || sl_json_push(list, c) < 0)) {
          rc = sl_err(err, SL_ENOMEM, "out of memory");
          goto done;
        }
      }
    }
  }
  if (reorder(list, key, &order, &before) < 0) rc = sl_err(err, SL_ENOMEM, "out of memory");
done:
  ids_free(&before);
  ids_free(&order);
  return rc;
}

// A list field patched: merged when the schema says so, replaced otherwise.
static int patch_list_field(sl_json_t **slot, const sl_json_t *pv, const sl_smp_field_t *f,
                            sl_err_t *err) {
  if (f && f->strategy == SL_SMP_MERGE && *slot && (*slot)->type == SL_JSON_ARRAY)
    return smp_list(slot, pv, f, err);
  int drop;
  sl_json_t *c = fresh(pv, &drop);
  if (!c) return sl_err(err, SL_ENOMEM, "out of memory");
  sl_json_free(*slot);
  *slot = c;
  return SL_OK;
}

static int in_names(const sl_json_t *list, const char *name) {
  for (size_t i = 0; list && i < list->n; i++)
    if (list->items[i]->type == SL_JSON_STRING && !strcmp(list->items[i]->str, name)) return 1;
  return 0;
}

#define SEO  "$setElementOrder/"
#define DFPL "$deleteFromPrimitiveList/"

static int smp_map(sl_json_t **slot, const sl_json_t *patch, const sl_smp_type_t *t,
                   sl_err_t *err) {
  const sl_json_t *dir = sl_json_get(patch, "$patch");
  if (dir) {
    const char *d = sl_json_str_or(dir, "");
    sl_json_t *v;
    if (!strcmp(d, "replace")) {
      int drop;
      v = fresh(patch, &drop);
    } else if (!strcmp(d, "delete")) {
      v = sl_json_object();
    } else {
      return sl_err(err, SL_EPARSE, "unknown patch type: %.40s in map", d);
    }
    if (!v) return sl_err(err, SL_ENOMEM, "out of memory");
    sl_json_free(*slot);
    *slot = v;
    return SL_OK;
  }
  if (!*slot && !(*slot = sl_json_object())) return sl_err(err, SL_ENOMEM, "out of memory");
  sl_json_t *o = *slot;

  const sl_json_t *rk = sl_json_get(patch, "$retainKeys");
  if (rk) {
    if (rk->type != SL_JSON_ARRAY) return sl_err(err, SL_EPARSE, "$retainKeys must be a list");
    for (size_t i = 0; i < rk->n; i++)
      if (rk->items[i]->type != SL_JSON_STRING)
        return sl_err(err, SL_EPARSE, "$retainKeys must be a list of field names");
    for (size_t i = 0; i < patch->n; i++) {
      const char *k = patch->keys[i];
      if (k[0] == '$' || patch->items[i]->type == SL_JSON_NULL) continue;
      if (!in_names(rk, k))
        return sl_err(err, SL_EINVAL, "field %.100s is in the patch but not in $retainKeys", k);
    }
    for (size_t i = 0; i < o->n;) {
      if (!in_names(rk, o->keys[i]))
        sl_json_remove_at(o, i);
      else
        i++;
    }
  }

  // Lists with an explicit order, merged and ordered together.
  for (size_t i = 0; i < patch->n; i++) {
    if (!starts(patch->keys[i], SEO)) continue;
    const char *k = patch->keys[i] + strlen(SEO);
    const sl_json_t *order = patch->items[i];
    if (order->type != SL_JSON_ARRAY)
      return sl_err(err, SL_EPARSE, "%s%.100s must be a list", SEO, k);
    const sl_smp_field_t *f = field_of(t, k);
    long at = sl_json_index(o, k);
    const sl_json_t *pl = sl_json_get(patch, k);
    if (at < 0 && !pl) continue;
    if (pl && pl->type != SL_JSON_ARRAY)
      return sl_err(err, SL_EPARSE, "%.100s: the patch is not a list", k);
    const char *key = f && f->strategy == SL_SMP_MERGE ? f->merge_key : NULL;
    ids_t before = {0}, want = {0};
    int rc;
    sl_json_t *cur = at >= 0 ? o->items[at] : NULL;
    if ((rc = ids_of(cur && cur->type == SL_JSON_ARRAY ? cur : NULL, key, 0, &before)) < 0 ||
        (rc = ids_of(order, NULL, 0, &want)) < 0) {
      ids_free(&before);
      ids_free(&want);
      return sl_err(err, SL_ENOMEM, "out of memory");
    }
    if (key) {
      // The order list holds {key: value} maps; keep only the values.
      for (size_t j = 0; j < want.n; j++) {
        sl_json_t *kv = want.v[j] ? sl_json_get(want.v[j], key) : NULL;
        sl_json_t *c = kv ? sl_json_clone(kv) : NULL;
        sl_json_free(want.v[j]);
        want.v[j] = c;
      }
    }
    if (at >= 0 && pl) {
      rc = patch_list_field(&o->items[at], pl, f, err);
    } else if (pl) {
      int drop;
      sl_json_t *c = fresh(pl, &drop);
      rc = c ? sl_json_set(o, k, c) : SL_ENOMEM;
      if (rc < 0) sl_err(err, rc, "out of memory");
      at = sl_json_index(o, k);
    }
    if (rc == 0 && o->items[at]->type == SL_JSON_ARRAY &&
        reorder(o->items[at], key, &want, &before) < 0)
      rc = sl_err(err, SL_ENOMEM, "out of memory");
    ids_free(&before);
    ids_free(&want);
    if (rc < 0) return rc;
  }

  for (size_t i = 0; i < patch->n; i++) {
    const char *k = patch->keys[i];
    const sl_json_t *pv = patch->items[i];
    if (starts(k, DFPL)) {
      const char *lk = k + strlen(DFPL);
      if (pv->type != SL_JSON_ARRAY)
        return sl_err(err, SL_EPARSE, "%s%.100s must be a list", DFPL, lk);
      sl_json_t *cur = sl_json_get(o, lk);
      for (size_t j = 0; cur && cur->type == SL_JSON_ARRAY && j < cur->n;) {
        int hit = 0;
        for (size_t m = 0; m < pv->n && !hit; m++) hit = sl_json_equal(cur->items[j], pv->items[m]);
        if (hit)
          sl_json_remove_at(cur, j);
        else
          j++;
      }
      continue;
    }
    if (k[0] == '$') continue; // directives handled above, unknown ones ignored
    char seo[256];
    snprintf(seo, sizeof seo, "%s%s", SEO, k);
    if (sl_json_get(patch, seo)) continue; // merged with its order list
    if (pv->type == SL_JSON_NULL) {
      sl_json_del(o, k);
      continue;
    }
    long at = sl_json_index(o, k);
    const sl_smp_field_t *f = field_of(t, k);
    int rc = SL_OK;
    if (at < 0 || o->items[at]->type != pv->type) {
      int drop;
      sl_json_t *c = fresh(pv, &drop);
      if (drop) {
        if (at >= 0) sl_json_remove_at(o, (size_t)at);
        continue;
      }
      if (!c || sl_json_set(o, k, c) < 0) return sl_err(err, SL_ENOMEM, "out of memory");
      continue;
    }
    if (pv->type == SL_JSON_OBJECT)
      rc = smp_map(&o->items[at], pv, f ? f->type : NULL, err);
    else if (pv->type == SL_JSON_ARRAY)
      rc = patch_list_field(&o->items[at], pv, f, err);
    else {
      sl_json_t *c = sl_json_clone(pv);
      if (!c) return sl_err(err, SL_ENOMEM, "out of memory");
      sl_json_free(o->items[at]);
      o->items[at] = c;
    }
    if (rc < 0) return rc;
  }
  return SL_OK;
}

int sl_patch_strategic(const sl_json_t *doc, const sl_json_t *patch, const sl_smp_type_t *type,
                       sl_json_t **out, sl_err_t *err) {
  *out = NULL;
  if (!patch || patch->type != SL_JSON_OBJECT)
    return sl_err(err, SL_EPARSE, "a strategic merge patch must be a JSON object");
  sl_json_t *d = doc && doc->type == SL_JSON_OBJECT ? sl_json_clone(doc) : sl_json_object();
  if (!d) return sl_err(err, SL_ENOMEM, "out of memory");
  int rc = smp_map(&d, patch, type, err);
  if (rc < 0) {
    sl_json_free(d);
    return rc;
  }
  *out = d;
  return SL_OK;
}
