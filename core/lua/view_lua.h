// The view as policies see it: read-only userdata proxies over the C view (docs/view.md).
// The view is built once per tick in C; every policy VM reads that one snapshot through these
// proxies, so nothing is rebuilt per policy in Lua. A policy only sees the variants it manages.
#pragma once

#include <lua.h>
#include <stdint.h>

#include "core/state/view.h"

typedef struct sl_lview {
  sl_view_t *view;              // the current tick's view; NULL outside decide()
  const unsigned char *manages; // per configured variant: visible to this policy
  const int *order;             // view index -> configured index
  double period;
  uint64_t tick; // this policy's tick number
  // Registry refs of this VM's proxy cache and interned name tables (0 until first use).
  int cache_ref, fields_ref, vsig_ref, psig_ref, gsig_ref;
  int ids_ref, index_ref; // view index -> id string, and id -> view index + 1
} sl_lview_t;

// Pushes this VM's view object for lv (created on first use and cached in the registry).
void sl_lview_push(lua_State *L, sl_lview_t *lv);
// The view index of the variant whose id is the string at stack index idx, or -1. The variant
// set is fixed for a pipeline's life, so this is one table read.
int sl_lview_find(lua_State *L, sl_lview_t *lv, int idx);
