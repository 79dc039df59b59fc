// Prompt blocks as a trie. See blocks.h.
#include "core/sim/blocks.h"

#include <stdlib.h>
#include <string.h>

#include "core/util/err.h"

struct sl_blocks_slot {
  uint64_t id;
  uint32_t parent;
  uint32_t block; // SL_BLOCK_NONE: empty slot
};

void sl_blocks_init(sl_blocks_t *b, uint32_t tokens_per_block) {
  memset(b, 0, sizeof *b);
  b->tokens = tokens_per_block;
}

void sl_blocks_deinit(sl_blocks_t *b) {
  free(b->parent);
  free(b->depth);
  free(b->slots);
  uint32_t t = b->tokens;
  memset(b, 0, sizeof *b);
  b->tokens = t;
}

static inline size_t slot_of(uint64_t id, uint32_t parent, size_t mask) {
  uint64_t x = id ^ ((uint64_t)parent * 0x9e3779b97f4a7c15ULL);
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  return (size_t)x & mask;
}

static int rehash(sl_blocks_t *b) {
  size_t n = b->nslots ? b->nslots * 2 : 1024;
  struct sl_blocks_slot *s = malloc(n * sizeof *s);
  if (!s) return SL_ENOMEM;
  for (size_t i = 0; i < n; i++) s[i].block = SL_BLOCK_NONE;
  for (size_t i = 0; i < b->nslots; i++) {
    if (b->slots[i].block == SL_BLOCK_NONE) continue;
    size_t j = slot_of(b->slots[i].id, b->slots[i].parent, n - 1);
    while (s[j].block != SL_BLOCK_NONE) j = (j + 1) & (n - 1);
    s[j] = b->slots[i];
  }
  free(b->slots);
  b->slots = s;
  b->nslots = n;
  return SL_OK;
}

int sl_blocks_intern(sl_blocks_t *b, uint32_t parent, uint64_t id, uint32_t *out, bool *seen) {
  if ((b->n + 1) * 4 > b->nslots * 3 && rehash(b) < 0) return SL_ENOMEM;
  size_t mask = b->nslots - 1, j = slot_of(id, parent, mask);
  for (; b->slots[j].block != SL_BLOCK_NONE; j = (j + 1) & mask)
    if (b->slots[j].id == id && b->slots[j].parent == parent) {
      *out = b->slots[j].block;
      *seen = true;
      return SL_OK;
    }
  if (b->n >= UINT32_MAX - 1) return SL_ENOMEM;
  if (b->n + (b->n == 0) >= b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 1024;
    uint32_t *p = realloc(b->parent, cap * sizeof *p);
    if (!p) return SL_ENOMEM;
    b->parent = p;
    uint32_t *d = realloc(b->depth, cap * sizeof *d);
    if (!d) return SL_ENOMEM;
    b->depth = d;
    b->cap = cap;
  }
  if (b->n == 0) b->parent[0] = b->depth[0] = 0, b->n = 1; // block 0: none
  uint32_t k = (uint32_t)b->n++;
  b->parent[k] = parent;
  b->depth[k] = parent == SL_BLOCK_NONE ? 1 : b->depth[parent] + 1;
  b->slots[j] = (struct sl_blocks_slot){id, parent, k};
  *out = k;
  *seen = false;
  return SL_OK;
}

void sl_blocks_chain(const sl_blocks_t *b, uint32_t last, uint32_t n, uint32_t *out) {
  uint32_t k = last;
  for (uint32_t d = sl_blocks_depth(b, last); d > n; d--) k = b->parent[k];
  for (uint32_t i = n; i > 0; i--) {
    out[i - 1] = k;
    k = b->parent[k];
  }
}
