// The three patch formats the Kubernetes API accepts, applied to JSON trees:
//   JSON merge patch (RFC 7386), JSON patch (RFC 6902), and strategic merge patch, whose list
//   semantics (merge by key, replace, primitive sets) come from a schema of the kind patched.
// Every function leaves its inputs alone and returns a new document.
// Errors: SL_EPARSE when the patch itself is malformed (an API server answers 400),
// SL_EINVAL when it does not apply to this document (a failed test, a missing path: 422).
#pragma once

#include "core/util/err.h"
#include "core/util/json.h"

// ---- strategic merge schema ---------------------------------------------------------------------
// A kind's patch metadata as a static tree: for each field whose lists are not atomic, how to
// merge them, and the type of what it holds. Fields not listed recurse as plain maps with
// atomic lists, which is also how a type with no schema (a custom resource) behaves.

typedef struct sl_smp_type sl_smp_type_t;

typedef enum {
  SL_SMP_ATOMIC = 0, // lists replaced whole (the default)
  SL_SMP_MERGE,      // lists merged: by merge_key for lists of maps, as a set for primitives
} sl_smp_strategy_t;

typedef struct {
  const char *name;
  sl_smp_strategy_t strategy;
  const char *merge_key;     // lists of maps merged by this field; NULL for primitive sets
  const sl_smp_type_t *type; // the map's, or each list item's, type (NULL: no metadata)
} sl_smp_field_t;

struct sl_smp_type {
  const sl_smp_field_t *fields; // terminated by a {NULL} entry
};

// ---- patches ----------------------------------------------------------------------------------

int sl_patch_merge(const sl_json_t *doc, const sl_json_t *patch, sl_json_t **out, sl_err_t *err);
int sl_patch_json(const sl_json_t *doc, const sl_json_t *ops, sl_json_t **out, sl_err_t *err);
// Strategic merge patch as the API server applies it: $patch (replace, delete, merge),
// $retainKeys, $setElementOrder/<list>, $deleteFromPrimitiveList/<list>; unmatched nulls dropped.
int sl_patch_strategic(const sl_json_t *doc, const sl_json_t *patch, const sl_smp_type_t *type,
                       sl_json_t **out, sl_err_t *err);

// RFC 6901 pointer lookup ("" is the whole document). NULL when absent or malformed.
const sl_json_t *sl_json_pointer(const sl_json_t *doc, const char *ptr);
