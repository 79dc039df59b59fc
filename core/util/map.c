// String hash map: FNV-1a, power-of-two slot table rebuilt when 70% full (tombstones included).
#include "core/util/map.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/err.h"

static uint64_t hash_str(const char *s) {
  uint64_t h = 1469598103934665603ULL;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
  return h;
}

void sl_map_init(sl_map_t *m) {
  memset(m, 0, sizeof *m);
}

void sl_map_deinit(sl_map_t *m) {
  for (size_t i = 0; i < m->n_entries; i++) free(m->entries[i].key);
  free(m->entries);
  free(m->slots);
  memset(m, 0, sizeof *m);
}

static long find_slot(const sl_map_t *m, const char *key, int *found) {
  *found = 0;
  if (!m->n_slots) return -1;
  size_t mask = m->n_slots - 1, i = hash_str(key) & mask;
  long first_tomb = -1;
  for (;;) {
    int e = m->slots[i];
    if (e == -1) return first_tomb >= 0 ? first_tomb : (long)i;
    if (e == -2) {
      if (first_tomb < 0) first_tomb = (long)i;
    } else if (strcmp(m->entries[e].key, key) == 0) {
      *found = 1;
      return (long)i;
    }
    i = (i + 1) & mask;
  }
}

static int rebuild(sl_map_t *m, size_t n_slots) {
  int *slots = malloc(n_slots * sizeof *slots);
  if (!slots) return SL_ENOMEM;
  for (size_t i = 0; i < n_slots; i++) slots[i] = -1;
  // Compact entries while rebuilding so deleted ones do not accumulate.
  size_t w = 0;
  for (size_t r = 0; r < m->n_entries; r++) {
    if (!m->entries[r].key) continue;
    m->entries[w] = m->entries[r];
    size_t i = hash_str(m->entries[w].key) & (n_slots - 1);
    while (slots[i] != -1) i = (i + 1) & (n_slots - 1);
    slots[i] = (int)w;
    w++;
  }
  m->n_entries = w;
  free(m->slots);
  m->slots = slots;
  m->n_slots = n_slots;
  return SL_OK;
}

void *sl_map_get(const sl_map_t *m, const char *key) {
  int found;
  long s = find_slot(m, key, &found);
  return found ? m->entries[m->slots[s]].value : NULL;
}

int sl_map_put(sl_map_t *m, const char *key, void *value) {
  int found;
  long s = find_slot(m, key, &found);
  if (found) {
    m->entries[m->slots[s]].value = value;
    return SL_OK;
  }
  if ((m->n_entries + 1) * 10 >= m->n_slots * 7) {
    size_t n = m->n_slots ? m->n_slots : 16;
    while ((m->n_live + 1) * 10 >= n * 5) n *= 2;
    if (rebuild(m, n) < 0) return SL_ENOMEM;
    s = find_slot(m, key, &found);
  }
  if (m->n_entries == m->cap_entries) {
    size_t cap = m->cap_entries ? m->cap_entries * 2 : 16;
    sl_map_entry_t *e = realloc(m->entries, cap * sizeof *e);
    if (!e) return SL_ENOMEM;
    m->entries = e;
    m->cap_entries = cap;
  }
  char *k = strdup(key);
  if (!k) return SL_ENOMEM;
  m->entries[m->n_entries] = (sl_map_entry_t){k, value};
  m->slots[s] = (int)m->n_entries++;
  m->n_live++;
  return SL_OK;
}

void *sl_map_del(sl_map_t *m, const char *key) {
  int found;
  long s = find_slot(m, key, &found);
  if (!found) return NULL;
  sl_map_entry_t *e = &m->entries[m->slots[s]];
  void *v = e->value;
  free(e->key);
  e->key = NULL;
  e->value = NULL;
  m->slots[s] = -2;
  m->n_live--;
  return v;
}

size_t sl_map_len(const sl_map_t *m) {
  return m->n_live;
}
