// Pool of in-flight requests. See inflight.h.
#include "core/sim/inflight.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void sl_inflight_pool_init(sl_inflight_pool_t *p) {
  memset(p, 0, sizeof *p);
  p->free_head = -1;
}

void sl_inflight_pool_deinit(sl_inflight_pool_t *p) {
  free(p->r);
  memset(p, 0, sizeof *p);
  p->free_head = -1;
}

int32_t sl_inflight_alloc(sl_inflight_pool_t *p) {
  if (p->free_head < 0) {
    int32_t cap = p->cap ? p->cap * 2 : 1024;
    sl_inflight_t *r = realloc(p->r, sizeof *r * (size_t)cap);
    if (!r) return -1;
    for (int32_t i = cap - 1; i >= p->cap; i--) {
      r[i].state = SL_INFLIGHT_FREE;
      r[i].next = p->free_head;
      p->free_head = i;
    }
    p->r = r;
    p->cap = cap;
  }
  int32_t id = p->free_head;
  sl_inflight_t *q = &p->r[id];
  p->free_head = q->next;
  memset(q, 0, sizeof *q);
  q->t_first = NAN;
  q->prev = q->next = q->hpos = -1;
  q->state = SL_INFLIGHT_QUEUED;
  p->live++;
  return id;
}

void sl_inflight_release(sl_inflight_pool_t *p, int32_t id) {
  sl_inflight_t *q = &p->r[id];
  q->state = SL_INFLIGHT_FREE;
  q->next = p->free_head;
  p->free_head = id;
  p->live--;
}
