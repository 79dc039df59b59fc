// A model server's prefix cache. See pcache.h.
#include "core/sim/pcache.h"

#include <stdlib.h>
#include <string.h>

void sl_pcache_init(sl_pcache_t *c) {
  memset(c, 0, sizeof *c);
  c->free_slot = c->lru_head = c->lru_tail = -1;
}

void sl_pcache_deinit(sl_pcache_t *c) {
  free(c->e);
  free(c->tab);
  sl_pcache_init(c);
}

void sl_pcache_clear(sl_pcache_t *c) {
  if (c->tab)
    for (uint32_t i = 0; i < c->ntab; i++) c->tab[i] = -1;
  c->n = 0;
  c->free_slot = c->lru_head = c->lru_tail = -1;
  c->nlru = 0;
}

static inline uint32_t home(uint32_t block, uint32_t mask) {
  return (uint32_t)((block * 0x9e3779b97f4a7c15ULL) >> 32) & mask;
}

int32_t sl_pcache_find(const sl_pcache_t *c, uint32_t block) {
  if (!c->ntab) return -1;
  uint32_t mask = c->ntab - 1;
  for (uint32_t j = home(block, mask);; j = (j + 1) & mask) {
    int32_t i = c->tab[j];
    if (i < 0) return -1;
    if (c->e[i].block == block) return i;
  }
}

static int grow_tab(sl_pcache_t *c) {
  uint32_t n = c->ntab ? c->ntab * 2 : 256;
  int32_t *t = malloc(sizeof *t * n);
  if (!t) return -1;
  for (uint32_t j = 0; j < n; j++) t[j] = -1;
  for (uint32_t j = 0; j < c->ntab; j++) {
    int32_t i = c->tab[j];
    if (i < 0) continue;
    uint32_t k = home(c->e[i].block, n - 1);
    while (t[k] >= 0) k = (k + 1) & (n - 1);
    t[k] = i;
  }
  free(c->tab);
  c->tab = t;
  c->ntab = n;
  return 0;
}

int32_t sl_pcache_add(sl_pcache_t *c, uint32_t block) {
  if ((uint32_t)(c->n + 1) * 2 > c->ntab && grow_tab(c) < 0) return -1;
  int32_t i = c->free_slot;
  if (i >= 0) {
    c->free_slot = c->e[i].next;
  } else {
    if (c->n == c->cap) {
      int32_t cap = c->cap ? c->cap * 2 : 64;
      sl_pcache_ent_t *e = realloc(c->e, sizeof *e * (size_t)cap);
      if (!e) return -1;
      c->e = e;
      c->cap = cap;
    }
    // Slots are handed out in order until the array is full; freed ones are reused first.
    i = c->n;
  }
  c->n++;
  c->e[i] = (sl_pcache_ent_t){block, 1, -1, -1};
  uint32_t mask = c->ntab - 1, j = home(block, mask);
  while (c->tab[j] >= 0) j = (j + 1) & mask;
  c->tab[j] = i;
  return i;
}

static void lru_unlink(sl_pcache_t *c, int32_t i) {
  sl_pcache_ent_t *x = &c->e[i];
  if (x->prev >= 0)
    c->e[x->prev].next = x->next;
  else
    c->lru_head = x->next;
  if (x->next >= 0)
    c->e[x->next].prev = x->prev;
  else
    c->lru_tail = x->prev;
  x->prev = x->next = -1;
  c->nlru--;
}

void sl_pcache_ref(sl_pcache_t *c, int32_t i) {
  if (c->e[i].ref++ == 0) lru_unlink(c, i);
}

int sl_pcache_unref(sl_pcache_t *c, int32_t i) {
  sl_pcache_ent_t *x = &c->e[i];
  if (--x->ref > 0) return 0;
  x->next = -1;
  x->prev = c->lru_tail;
  if (c->lru_tail >= 0)
    c->e[c->lru_tail].next = i;
  else
    c->lru_head = i;
  c->lru_tail = i;
  c->nlru++;
  return 1;
}

// Removes entry i from the index (backward-shift deletion keeps probe chains unbroken).
static void tab_remove(sl_pcache_t *c, int32_t i) {
  uint32_t mask = c->ntab - 1, j = home(c->e[i].block, mask);
  while (c->tab[j] != i) j = (j + 1) & mask;
  for (uint32_t k = (j + 1) & mask; c->tab[k] >= 0; k = (k + 1) & mask) {
    uint32_t h = home(c->e[c->tab[k]].block, mask);
    // Move k back into the hole at j unless its home lies cyclically in (j, k].
    if (((k - h) & mask) >= ((k - j) & mask)) {
      c->tab[j] = c->tab[k];
      j = k;
    }
  }
  c->tab[j] = -1;
}

int sl_pcache_evict(sl_pcache_t *c) {
  int32_t i = c->lru_head;
  if (i < 0) return 0;
  lru_unlink(c, i);
  tab_remove(c, i);
  c->e[i].block = 0;
  c->e[i].next = c->free_slot;
  c->free_slot = i;
  c->n--;
  return 1;
}
