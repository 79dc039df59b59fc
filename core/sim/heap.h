// An intrusive indexed min-heap of event times: nodes live inside the simulator's objects (pods,
// servers) and know their position, so moving an object's next event is O(log n). Equal times
// are ordered by `tie`, which keeps every run deterministic.
#pragma once

#include <stdint.h>

typedef struct {
  double key;   // event time; INFINITY means "not in the heap"
  uint64_t tie; // order among equal keys (e.g. creation order)
  int pos;      // index in the heap, -1 when absent
} sl_heap_node_t;

typedef struct {
  sl_heap_node_t **a;
  int n, cap;
} sl_heap_t;

void sl_heap_init(sl_heap_t *h);
void sl_heap_deinit(sl_heap_t *h);
static inline void sl_heap_node_init(sl_heap_node_t *n, uint64_t tie) {
  n->key = 1.0 / 0.0;
  n->tie = tie;
  n->pos = -1;
}
// Sets a node's key: inserts, moves, or (key INFINITY) removes it. Returns 0 or SL_ENOMEM.
int sl_heap_set(sl_heap_t *h, sl_heap_node_t *n, double key);
static inline sl_heap_node_t *sl_heap_top(const sl_heap_t *h) {
  return h->n ? h->a[0] : 0;
}
static inline double sl_heap_top_key(const sl_heap_t *h) {
  return h->n ? h->a[0]->key : 1.0 / 0.0;
}
