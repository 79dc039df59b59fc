// Requests in flight inside the simulator (queued at the gateway, waiting in a model server or
// being served), in one growable pool addressed by index. A finished request leaves only its
// statistics behind: its slot returns to the free list, so memory is bounded by what is in flight,
// never by the length of the trace.
#pragma once

#include <stdint.h>

enum {
  SL_INFLIGHT_FREE,
  SL_INFLIGHT_QUEUED,  // in the gateway's flow-control queue
  SL_INFLIGHT_WAITING, // in a model server's waiting queue
  SL_INFLIGHT_PREFILL, // running, prompt (or recompute) not fully computed
  SL_INFLIGHT_DECODE,  // running, generating one token per engine step
};

typedef struct {
  double t_arrive;    // at the gateway
  double t_submit;    // into the model server
  double t_first;     // first token out (NaN before)
  uint64_t key;       // while decoding: the server's decode step at which the request finishes
  uint32_t in, out;   // prompt and output tokens
  uint32_t cached;    // prompt tokens found in the server's prefix cache when first admitted
  uint32_t block;     // the prompt's last block (core/sim/blocks.h), SL_BLOCK_NONE if none
  uint32_t pub;       // leading prompt blocks it holds in the server's prefix cache
  uint32_t gen;       // tokens generated (while decoding: when decoding (re)started)
  uint32_t plen;      // tokens to prefill: the prompt, plus what was generated before a preemption
  uint32_t done;      // of plen, computed so far
  uint32_t chunk;     // prefill tokens scheduled in the step in progress
  int32_t prev, next; // the list the request is on (queue, waiting, running, free)
  int32_t hpos;       // position in the server's finish heap while decoding, else -1
  uint16_t model;     // model index
  uint16_t variant;   // variant index of the server (for its SLO class)
  uint8_t state;
  uint8_t admitted; // has been admitted into a running batch
} sl_inflight_t;

typedef struct {
  sl_inflight_t *r;
  int32_t cap, live, free_head;
} sl_inflight_pool_t;

void sl_inflight_pool_init(sl_inflight_pool_t *p);
void sl_inflight_pool_deinit(sl_inflight_pool_t *p);
// A cleared slot (state QUEUED, links -1), or -1 when out of memory. May move p->r.
int32_t sl_inflight_alloc(sl_inflight_pool_t *p);
void sl_inflight_release(sl_inflight_pool_t *p, int32_t id);
