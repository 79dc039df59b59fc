// A model server's prefix cache, as vLLM's automatic prefix caching keeps it: full prompt blocks
// stay in the KV cache after the requests that computed them, keyed by the block (its content and
// every block before it, core/sim/blocks.h). A block used by a running request is referenced; an
// unreferenced block is free to evict and waits in an LRU queue, least recently freed first.
// Entries, the index and the queue are bounded by the KV cache's size in blocks.
#pragma once

#include <stdint.h>

typedef struct {
  uint32_t block;     // trace block (0: slot unused)
  uint32_t ref;       // running requests holding it
  int32_t prev, next; // LRU queue while ref == 0; free-slot list while unused
} sl_pcache_ent_t;

typedef struct {
  sl_pcache_ent_t *e;
  int32_t n, cap, free_slot;
  int32_t *tab; // block -> entry (-1: empty), open addressing with backward-shift deletion
  uint32_t ntab;
  int32_t lru_head, lru_tail; // unreferenced entries, oldest first
  int32_t nlru;
} sl_pcache_t;

void sl_pcache_init(sl_pcache_t *c);
void sl_pcache_deinit(sl_pcache_t *c);
// Forgets every entry (the server went away).
void sl_pcache_clear(sl_pcache_t *c);
// The entry of a block, or -1.
int32_t sl_pcache_find(const sl_pcache_t *c, uint32_t block);
// A new entry for a block not in the cache, referenced once; -1 when out of memory.
int32_t sl_pcache_add(sl_pcache_t *c, uint32_t block);
// One more reference (an unreferenced entry leaves the LRU queue).
void sl_pcache_ref(sl_pcache_t *c, int32_t i);
// One reference fewer; returns 1 when the entry became unreferenced (last in the LRU queue).
int sl_pcache_unref(sl_pcache_t *c, int32_t i);
// Evicts the least recently freed unreferenced entry; 0 when there is none.
int sl_pcache_evict(sl_pcache_t *c);
