// Intrusive min-heap. See heap.h.
#include "core/sim/heap.h"

#include <math.h>
#include <stdlib.h>

#include "core/util/err.h"

void sl_heap_init(sl_heap_t *h) {
  h->a = NULL;
  h->n = h->cap = 0;
}

void sl_heap_deinit(sl_heap_t *h) {
  for (int i = 0; i < h->n; i++) h->a[i]->pos = -1;
  free(h->a);
  sl_heap_init(h);
}

static inline int less(const sl_heap_node_t *x, const sl_heap_node_t *y) {
  return x->key < y->key || (x->key == y->key && x->tie < y->tie);
}

static void up(sl_heap_t *h, int i) {
  sl_heap_node_t *n = h->a[i];
  while (i > 0) {
    int p = (i - 1) / 2;
    if (!less(n, h->a[p])) break;
    h->a[i] = h->a[p];
    h->a[i]->pos = i;
    i = p;
  }
  h->a[i] = n;
  n->pos = i;
}

static void down(sl_heap_t *h, int i) {
  sl_heap_node_t *n = h->a[i];
  for (;;) {
    int c = 2 * i + 1;
    if (c >= h->n) break;
    if (c + 1 < h->n && less(h->a[c + 1], h->a[c])) c++;
    if (!less(h->a[c], n)) break;
    h->a[i] = h->a[c];
    h->a[i]->pos = i;
    i = c;
  }
  h->a[i] = n;
  n->pos = i;
}

int sl_heap_set(sl_heap_t *h, sl_heap_node_t *n, double key) {
  if (isinf(key) && key > 0) {
    n->key = key;
    if (n->pos < 0) return SL_OK;
    int i = n->pos;
    n->pos = -1;
    sl_heap_node_t *last = h->a[--h->n];
    if (i == h->n) return SL_OK;
    h->a[i] = last;
    last->pos = i;
    up(h, i);
    down(h, last->pos);
    return SL_OK;
  }
  if (n->pos < 0) {
    if (h->n == h->cap) {
      int cap = h->cap ? h->cap * 2 : 64;
      sl_heap_node_t **a = realloc(h->a, sizeof *a * (size_t)cap);
      if (!a) return SL_ENOMEM;
      h->a = a;
      h->cap = cap;
    }
    n->key = key;
    h->a[h->n] = n;
    n->pos = h->n++;
    up(h, n->pos);
    return SL_OK;
  }
  double old = n->key;
  n->key = key;
  if (key < old)
    up(h, n->pos);
  else if (key > old)
    down(h, n->pos);
  return SL_OK;
}
