// Tables (table.c): the rows `kubectl get` prints.
#pragma once

#include "core/emu/emu_priv.h"

// include: 0 none, 1 metadata, 2 object.
sl_json_t *emu_table(sl_emu_t *e, const sl_emu_rtype_t *t, sl_emu_obj_t **objs, size_t n,
                     int include, int with_columns);
// The human-readable age of a timestamp, as kubectl prints it ("5m3s", "2d").
void emu_age(const char *rfc3339, char *buf, size_t n);
