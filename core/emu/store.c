// The emulator's object store. See store.h.
#include "core/emu/store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sl_emu_watcher {
  sl_emu_rtype_t *t;
  sl_emu_watch_fn fn;
  void *ud;
  int dead;
  sl_emu_watcher_t *next;
};

struct sl_emu_store {
  sl_emu_rtype_t **types;
  size_t n_types;
  uint64_t rv;
  sl_emu_change_t *hist; // ring of kept changes (each holds references)
  size_t cap, head, count;
  uint64_t dropped; // resourceVersion of the newest change no longer kept (0: none)
  sl_emu_watcher_t *watchers;
  int notifying, has_dead;
};

const char *sl_emu_event_name(sl_emu_event_t t) {
  return t == SL_EMU_ADDED ? "ADDED" : t == SL_EMU_MODIFIED ? "MODIFIED" : "DELETED";
}

// ---- object versions ----------------------------------------------------------------------------

static sl_emu_obj_t *obj_new(sl_json_t *json, uint64_t rv) {
  sl_emu_obj_t *o = calloc(1, sizeof *o);
  if (!o) return NULL;
  o->refs = 1;
  o->json = json;
  o->rv = rv;
  return o;
}

sl_emu_obj_t *sl_emu_obj_ref(sl_emu_obj_t *o) {
  if (o) o->refs++;
  return o;
}

void sl_emu_obj_unref(sl_emu_obj_t *o) {
  if (!o || --o->refs > 0) return;
  sl_json_free(o->json);
  free(o->bytes);
  free(o);
}

const char *sl_emu_obj_bytes(sl_emu_obj_t *o, size_t *len) {
  if (!o->bytes) {
    sl_err_t err;
    if (sl_json_write(o->json, &o->bytes, &o->len, &err) < 0) return NULL;
  }
  if (len) *len = o->len;
  return o->bytes;
}

// ---- types
// ----------------------------------------------------------------------------------------

static void free_strv(char **v, size_t n) {
  for (size_t i = 0; i < n; i++) free(v[i]);
  free(v);
}

void sl_emu_rtype_clear(sl_emu_rtype_t *t) {
  free(t->group);
  free(t->version);
  free_strv(t->versions, t->n_versions);
  free(t->resource);
  free(t->singular);
  free(t->kind);
  free(t->list_kind);
  free_strv(t->short_names, t->n_short);
  free_strv(t->categories, t->n_categories);
  free(t->scale_spec);
  free(t->scale_status);
  free(t->scale_selector);
  for (size_t i = 0; i < t->n_columns; i++) {
    free(t->columns[i].name);
    free(t->columns[i].type);
    free(t->columns[i].json_path);
    free(t->columns[i].description);
  }
  free(t->columns);
  t->group = t->version = t->resource = t->singular = t->kind = t->list_kind = NULL;
  t->versions = t->short_names = t->categories = NULL;
  t->n_versions = t->n_short = t->n_categories = t->n_columns = 0;
  t->scale_spec = t->scale_status = t->scale_selector = NULL;
  t->columns = NULL;
}

static void rtype_free(sl_emu_rtype_t *t) {
  for (size_t i = 0; i < t->objects.n_entries; i++)
    if (t->objects.entries[i].key) sl_emu_obj_unref(t->objects.entries[i].value);
  sl_map_deinit(&t->objects);
  sl_emu_rtype_clear(t);
  free(t);
}

sl_emu_rtype_t *sl_emu_store_add_type(sl_emu_store_t *s, const sl_emu_rtype_t *spec) {
  sl_emu_rtype_t **ts = realloc(s->types, (s->n_types + 1) * sizeof *ts);
  if (!ts) return NULL;
  s->types = ts;
  sl_emu_rtype_t *t = malloc(sizeof *t);
  if (!t) return NULL;
  *t = *spec;
  sl_map_init(&t->objects);
  s->types[s->n_types++] = t;
  return t;
}

sl_emu_rtype_t *sl_emu_store_type(const sl_emu_store_t *s, const char *group,
                                  const char *resource) {
  for (size_t i = 0; i < s->n_types; i++) {
    sl_emu_rtype_t *t = s->types[i];
    if (!strcmp(t->group, group) && !strcmp(t->resource, resource)) return t;
  }
  return NULL;
}

static int has_str(char *const *v, size_t n, const char *s) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(v[i], s)) return 1;
  return 0;
}

sl_emu_rtype_t *sl_emu_store_find(const sl_emu_store_t *s, const char *group, const char *version,
                                  const char *name) {
  for (size_t i = 0; i < s->n_types; i++) {
    sl_emu_rtype_t *t = s->types[i];
    if (!t->served || strcmp(t->group, group)) continue;
    if (version && !has_str(t->versions, t->n_versions, version)) continue;
    if (!strcmp(t->resource, name)) return t;
  }
  for (size_t i = 0; i < s->n_types; i++) {
    sl_emu_rtype_t *t = s->types[i];
    if (!t->served || strcmp(t->group, group)) continue;
    if (version && !has_str(t->versions, t->n_versions, version)) continue;
    if ((t->singular && !strcmp(t->singular, name)) || has_str(t->short_names, t->n_short, name))
      return t;
  }
  return NULL;
}

size_t sl_emu_store_ntypes(const sl_emu_store_t *s) {
  return s->n_types;
}

sl_emu_rtype_t *sl_emu_store_type_at(const sl_emu_store_t *s, size_t i) {
  return i < s->n_types ? s->types[i] : NULL;
}

// ---- the store ----------------------------------------------------------------------------------

sl_emu_store_t *sl_emu_store_new(size_t history) {
  sl_emu_store_t *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->cap = history ? history : 4096;
  if (!(s->hist = calloc(s->cap, sizeof *s->hist))) {
    free(s);
    return NULL;
  }
  return s;
}

void sl_emu_store_free(sl_emu_store_t *s) {
  if (!s) return;
  for (size_t i = 0; i < s->count; i++) {
    sl_emu_change_t *c = &s->hist[(s->head + i) % s->cap];
    sl_emu_obj_unref(c->obj);
    sl_emu_obj_unref(c->old);
  }
  free(s->hist);
  for (size_t i = 0; i < s->n_types; i++) rtype_free(s->types[i]);
  free(s->types);
  while (s->watchers) {
    sl_emu_watcher_t *w = s->watchers;
    s->watchers = w->next;
    free(w);
  }
  free(s);
}

uint64_t sl_emu_store_rv(const sl_emu_store_t *s) {
  return s->rv;
}

uint64_t sl_emu_store_oldest_rv(const sl_emu_store_t *s) {
  return s->dropped;
}

static void sweep(sl_emu_store_t *s) {
  sl_emu_watcher_t **pp = &s->watchers;
  while (*pp) {
    sl_emu_watcher_t *w = *pp;
    if (w->dead) {
      *pp = w->next;
      free(w);
    } else {
      pp = &w->next;
    }
  }
  s->has_dead = 0;
}

static void emit(sl_emu_store_t *s, const sl_emu_change_t *c) {
  // Keep it for resuming watches; the oldest falls out when the ring is full.
  if (s->count == s->cap) {
    sl_emu_change_t *old = &s->hist[s->head];
    s->dropped = old->obj->rv;
    sl_emu_obj_unref(old->obj);
    sl_emu_obj_unref(old->old);
    s->head = (s->head + 1) % s->cap;
    s->count--;
  }
  sl_emu_change_t *h = &s->hist[(s->head + s->count) % s->cap];
  *h = *c;
  sl_emu_obj_ref(h->obj);
  sl_emu_obj_ref(h->old);
  s->count++;
  s->notifying++;
  for (sl_emu_watcher_t *w = s->watchers; w; w = w->next)
    if (!w->dead && (!w->t || w->t == c->rt)) w->fn(w->ud, c);
  if (--s->notifying == 0 && s->has_dead) sweep(s);
}

static int key_of(const sl_emu_rtype_t *t, const char *ns, const char *name, char *buf, size_t n) {
  int k = snprintf(buf, n, "%s/%s", t->namespaced && ns ? ns : "", name);
  return k < 0 || (size_t)k >= n ? -1 : 0;
}

sl_emu_obj_t *sl_emu_store_get(const sl_emu_store_t *s, const sl_emu_rtype_t *t, const char *ns,
                               const char *name) {
  char key[600];
  if (key_of(t, ns, name, key, sizeof key) < 0) return NULL;
  return sl_map_get(&t->objects, key);
}

static int stamp_rv(sl_json_t *json, uint64_t rv) {
  sl_json_t *md = sl_json_get(json, "metadata");
  char b[24];
  snprintf(b, sizeof b, "%" PRIu64, rv);
  return sl_json_set(md, "resourceVersion", sl_json_string(b));
}

int sl_emu_store_put(sl_emu_store_t *s, sl_emu_rtype_t *t, sl_json_t *json, int internal,
                     sl_emu_obj_t **out, sl_err_t *err) {
  const sl_json_t *md = sl_json_get(json, "metadata");
  const char *name = sl_json_str_or(sl_json_get(md, "name"), NULL);
  const char *ns = sl_json_str_or(sl_json_get(md, "namespace"), "");
  char key[600];
  if (!name || !*name || key_of(t, ns, name, key, sizeof key) < 0) {
    sl_json_free(json);
    return sl_err(err, SL_EINVAL, "an object needs metadata.name (of at most 253 characters)");
  }
  uint64_t rv = s->rv + 1;
  sl_emu_obj_t *o = NULL;
  if (stamp_rv(json, rv) < 0 || !(o = obj_new(json, rv))) {
    if (!o) sl_json_free(json);
    return sl_err(err, SL_ENOMEM, "out of memory");
  }
  sl_emu_obj_t *old = sl_map_get(&t->objects, key);
  if (sl_map_put(&t->objects, key, o) < 0) {
    sl_emu_obj_unref(o);
    return sl_err(err, SL_ENOMEM, "out of memory");
  }
  s->rv = rv;
  sl_emu_change_t c = {old ? SL_EMU_MODIFIED : SL_EMU_ADDED, t, o, old, internal};
  emit(s, &c);
  sl_emu_obj_unref(old);
  if (out) *out = o;
  return SL_OK;
}

int sl_emu_store_remove(sl_emu_store_t *s, sl_emu_rtype_t *t, const char *ns, const char *name,
                        int internal, sl_emu_obj_t **out) {
  if (out) *out = NULL;
  char key[600];
  if (key_of(t, ns, name, key, sizeof key) < 0) return SL_ENOTFOUND;
  sl_emu_obj_t *old = sl_map_get(&t->objects, key);
  if (!old) return SL_ENOTFOUND;
  uint64_t rv = s->rv + 1;
  sl_json_t *last = sl_json_clone(old->json);
  sl_emu_obj_t *o = NULL;
  if (!last || stamp_rv(last, rv) < 0 || !(o = obj_new(last, rv))) {
    if (!o) sl_json_free(last);
    return SL_ENOMEM;
  }
  sl_map_del(&t->objects, key);
  s->rv = rv;
  sl_emu_change_t c = {SL_EMU_DELETED, t, o, old, internal};
  emit(s, &c);
  sl_emu_obj_unref(old);
  if (out)
    *out = o;
  else
    sl_emu_obj_unref(o);
  return SL_OK;
}

typedef struct {
  const char *key;
  sl_emu_obj_t *obj;
} kv_t;

static int by_key(const void *a, const void *b) {
  return strcmp(((const kv_t *)a)->key, ((const kv_t *)b)->key);
}

size_t sl_emu_store_list(const sl_emu_store_t *s, const sl_emu_rtype_t *t, const char *ns,
                         sl_emu_obj_t ***out) {
  *out = NULL;
  size_t n = 0, nsl = ns ? strlen(ns) : 0;
  kv_t *kv = malloc((sl_map_len(&t->objects) + 1) * sizeof *kv);
  if (!kv) return 0;
  for (size_t i = 0; i < t->objects.n_entries; i++) {
    const char *k = t->objects.entries[i].key;
    if (!k) continue;
    if (ns && t->namespaced && (strncmp(k, ns, nsl) || k[nsl] != '/')) continue;
    kv[n].key = k;
    kv[n++].obj = t->objects.entries[i].value;
  }
  qsort(kv, n, sizeof *kv, by_key);
  sl_emu_obj_t **v = malloc((n + 1) * sizeof *v);
  if (!v) {
    free(kv);
    return 0;
  }
  for (size_t i = 0; i < n; i++) v[i] = kv[i].obj;
  free(kv);
  *out = v;
  return n;
}

sl_emu_watcher_t *sl_emu_store_watch(sl_emu_store_t *s, sl_emu_rtype_t *t, sl_emu_watch_fn fn,
                                     void *ud) {
  sl_emu_watcher_t *w = calloc(1, sizeof *w);
  if (!w) return NULL;
  w->t = t;
  w->fn = fn;
  w->ud = ud;
  w->next = s->watchers;
  s->watchers = w;
  return w;
}

void sl_emu_store_unwatch(sl_emu_store_t *s, sl_emu_watcher_t *w) {
  if (!w) return;
  w->dead = 1;
  if (s->notifying) {
    s->has_dead = 1;
    return;
  }
  sweep(s);
}

int sl_emu_store_replay(const sl_emu_store_t *s, const sl_emu_rtype_t *t, uint64_t since,
                        sl_emu_watch_fn fn, void *ud) {
  if (s->dropped && since < s->dropped) return SL_ERANGE;
  for (size_t i = 0; i < s->count; i++) {
    const sl_emu_change_t *c = &s->hist[(s->head + i) % s->cap];
    if (c->obj->rv > since && c->rt == t) fn(ud, c);
  }
  return SL_OK;
}
