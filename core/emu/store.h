// The emulated API server's state: resource types (built in or defined by CRDs), the objects of
// each (immutable, reference-counted versions), one resourceVersion counter for everything, a
// bounded history of changes for watches that resume from a resourceVersion, and watchers
// notified synchronously of every change.
//
// The store does no API semantics (no conflicts, defaults or validation); it stores what it is
// given and stamps metadata.resourceVersion.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "core/emu/patch.h"
#include "core/util/err.h"
#include "core/util/json.h"
#include "core/util/map.h"

typedef struct sl_emu_store sl_emu_store_t;

// One version of an object. Never changed once stored; a write stores a new version.
typedef struct {
  int refs;
  sl_json_t *json;
  uint64_t rv;
  char *bytes; // its serialization, made on first use
  size_t len;
} sl_emu_obj_t;

sl_emu_obj_t *sl_emu_obj_ref(sl_emu_obj_t *o);
void sl_emu_obj_unref(sl_emu_obj_t *o);
// The compact JSON of the version (cached). NULL when out of memory.
const char *sl_emu_obj_bytes(sl_emu_obj_t *o, size_t *len);

typedef struct {
  char *name;      // "Ready"
  char *type;      // integer, number, string, boolean, date
  char *json_path; // ".status.conditions[?(@.type=="Ready")].status"
  char *description;
  int priority;
} sl_emu_column_t;

typedef struct sl_emu_rtype {
  char *group;     // "" for the core group
  char *version;   // the preferred (storage) version
  char **versions; // every served version, preferred first
  size_t n_versions;
  char *resource; // plural: "deployments"
  char *singular;
  char *kind;
  char *list_kind;
  char **short_names;
  size_t n_short;
  char **categories;
  size_t n_categories;
  int namespaced;
  int has_status; // a status subresource: main writes keep status, /status writes only it
  int has_scale;  // a scale subresource
  char *scale_spec, *scale_status, *scale_selector; // dotted paths ("spec.replicas")
  int has_generation;                               // metadata.generation bumped on spec changes
  int from_crd;
  int served;               // a CRD's type stays known after the CRD is deleted, unserved
  const sl_smp_type_t *smp; // strategic merge schema; NULL: strategic merge refused
  sl_emu_column_t *columns; // a CRD's additionalPrinterColumns
  size_t n_columns;
  sl_map_t objects; // "ns/name" (cluster-scoped: "/name") -> sl_emu_obj_t*
} sl_emu_rtype_t;

typedef enum { SL_EMU_ADDED, SL_EMU_MODIFIED, SL_EMU_DELETED } sl_emu_event_t;
const char *sl_emu_event_name(sl_emu_event_t t);

// A change as watchers see it: the new version (for DELETED, the last state, stamped with the
// deletion's resourceVersion) and the one before (NULL for ADDED). `internal` marks changes
// the emulator made itself (its backend, garbage collection) rather than a client.
typedef struct {
  sl_emu_event_t type;
  sl_emu_rtype_t *rt;
  sl_emu_obj_t *obj, *old;
  int internal;
} sl_emu_change_t;

typedef void (*sl_emu_watch_fn)(void *ud, const sl_emu_change_t *c);
typedef struct sl_emu_watcher sl_emu_watcher_t;

sl_emu_store_t *sl_emu_store_new(size_t history);
void sl_emu_store_free(sl_emu_store_t *s);
uint64_t sl_emu_store_rv(const sl_emu_store_t *s);
// The oldest resourceVersion a watch may resume from (events after it are all kept).
uint64_t sl_emu_store_oldest_rv(const sl_emu_store_t *s);

// ---- types ------------------------------------------------------------------------------------

// Adds a type; the store takes every string and array in *spec (the struct is copied).
// Returns the stored type, or NULL when out of memory.
sl_emu_rtype_t *sl_emu_store_add_type(sl_emu_store_t *s, const sl_emu_rtype_t *spec);
// A type by group and plural (served or not).
sl_emu_rtype_t *sl_emu_store_type(const sl_emu_store_t *s, const char *group, const char *resource);
// The served type for group/version and a plural, singular or short name.
sl_emu_rtype_t *sl_emu_store_find(const sl_emu_store_t *s, const char *group, const char *version,
                                  const char *name);
size_t sl_emu_store_ntypes(const sl_emu_store_t *s);
sl_emu_rtype_t *sl_emu_store_type_at(const sl_emu_store_t *s, size_t i);
// Frees a type's owned fields (for replacing them from an updated CRD).
void sl_emu_rtype_clear(sl_emu_rtype_t *t);

// ---- objects ------------------------------------------------------------------------------------

sl_emu_obj_t *sl_emu_store_get(const sl_emu_store_t *s, const sl_emu_rtype_t *t, const char *ns,
                               const char *name);
// Stores json (taken) as the new version of the object it names (metadata.namespace/name),
// stamping metadata.resourceVersion; ADDED or MODIFIED goes to the watchers. *out (optional)
// is the stored version, borrowed.
int sl_emu_store_put(sl_emu_store_t *s, sl_emu_rtype_t *t, sl_json_t *json, int internal,
                     sl_emu_obj_t **out, sl_err_t *err);
// Removes the object; DELETED goes to the watchers. *out (optional, a new reference) is the
// last version, stamped with the deletion's resourceVersion. SL_ENOTFOUND when absent.
int sl_emu_store_remove(sl_emu_store_t *s, sl_emu_rtype_t *t, const char *ns, const char *name,
                        int internal, sl_emu_obj_t **out);
// The objects of a type (in one namespace, or all when ns is NULL), sorted by namespace and
// name. *out is a malloc'd array of borrowed versions.
size_t sl_emu_store_list(const sl_emu_store_t *s, const sl_emu_rtype_t *t, const char *ns,
                         sl_emu_obj_t ***out);

// ---- watching -----------------------------------------------------------------------------------

// Watches one type (or every type when t is NULL).
sl_emu_watcher_t *sl_emu_store_watch(sl_emu_store_t *s, sl_emu_rtype_t *t, sl_emu_watch_fn fn,
                                     void *ud);
// Safe inside a notification (the watcher is dropped once the notification round is over).
void sl_emu_store_unwatch(sl_emu_store_t *s, sl_emu_watcher_t *w);
// Calls fn for every kept change of t after resourceVersion `since`, oldest first.
// SL_ERANGE when changes after `since` were already dropped from the history (410 Gone).
int sl_emu_store_replay(const sl_emu_store_t *s, const sl_emu_rtype_t *t, uint64_t since,
                        sl_emu_watch_fn fn, void *ud);
