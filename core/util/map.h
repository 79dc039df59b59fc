// String-keyed hash map (open addressing, linear probing). Keys are copied; values are borrowed
// pointers owned by the caller. Iteration order is insertion order, so anything built from a map
// is deterministic.
#pragma once

#include <stddef.h>

typedef struct {
  char *key;
  void *value;
} sl_map_entry_t;

typedef struct {
  sl_map_entry_t *entries; // insertion order, deleted entries have key == NULL
  size_t n_entries, cap_entries, n_live;
  int *slots; // index into entries, -1 empty, -2 tombstone
  size_t n_slots;
} sl_map_t;

void sl_map_init(sl_map_t *m);
void sl_map_deinit(sl_map_t *m);
void *sl_map_get(const sl_map_t *m, const char *key);
// Inserts or replaces. Returns 0 or SL_ENOMEM.
int sl_map_put(sl_map_t *m, const char *key, void *value);
// Removes and returns the value (NULL when absent).
void *sl_map_del(sl_map_t *m, const char *key);
size_t sl_map_len(const sl_map_t *m);
// Iterate: for (size_t i = 0; i < m->n_entries; i++) if (m->entries[i].key) ...
