// The built-in resource types the emulator serves: their API shape (group, version, names,
// scope, subresources, categories), the strategic merge schema of each (the patch metadata the
// API server applies kubectl's patches with), the defaults the API server fills in, and the
// few validations clients depend on.
#pragma once

#include "core/emu/store.h"
#include "core/util/err.h"
#include "core/util/json.h"

// Adds every built-in type to the store.
int sl_emu_kinds_register(sl_emu_store_t *s, sl_err_t *err);
// The schema custom resources' status and scale subresources use: metadata only.
const sl_smp_type_t *sl_emu_kinds_meta_schema(void);
// Fills the fields the API server defaults (on create and on every update).
int sl_emu_kinds_default(const sl_emu_rtype_t *t, sl_json_t *obj);
// A validation failure as "field: reason" into msg, or 0 when the object is acceptable.
int sl_emu_kinds_validate(const sl_emu_rtype_t *t, const sl_json_t *obj, char *msg, size_t n);
// Whether a name is valid for the type (a DNS-1123 subdomain, or a label for namespaces and
// services); why into msg when not.
int sl_emu_kinds_valid_name(const sl_emu_rtype_t *t, const char *name, char *msg, size_t n);
// Whether the type is this group/resource.
int sl_emu_is(const sl_emu_rtype_t *t, const char *group, const char *resource);
