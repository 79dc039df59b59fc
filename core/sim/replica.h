// One simulated vLLM model server: continuous batching bounded by max_num_seqs and
// max_num_batched_tokens (chunked prefill, running requests before waiting ones, as vLLM's V1
// scheduler), a KV cache counted in tokens with recompute preemption of the newest running
// request when a decode step does not fit, and step times from the context-aware step model.
//
// Cost: a replica never walks its batch per step. Decoding requests sit in a min-heap keyed by the
// decode step at which they finish; the batch size and the sum of context tokens are kept
// incrementally; and a run of decode steps with unchanged membership is advanced in closed form
// (step time is linear in the resident context, which grows by the batch size each step) up to the
// next change: a request finishing, the KV cache filling, or an arrival that can join.
//
// Prefix cache (vLLM's automatic prefix caching, core/sim/pcache.h), for requests that name their
// prompt blocks: a request admitted to the batch starts its prefill after the longest run of its
// leading blocks found in the cache (at least one prompt token is always computed); its full
// prompt blocks enter the cache as its prefill computes them, shared by every running request
// that uses them, so the KV cache holds a shared block once. When a request ends its blocks stay
// cached, unreferenced, and are evicted least recently freed first when KV room is needed.
// `used` counts what running requests hold (shared blocks once), as vLLM's KV usage does;
// `pc_free` the cached blocks no request holds.
//
// Time: the replica lives on the caller's event loop. sl_replica_next_event() is when it next needs
// the loop (the end of the step or run in progress); the loop calls sl_replica_advance() then.
// Arrivals (sl_replica_submit) join at the next step boundary, as in vLLM.
#pragma once

#include <stdint.h>

#include "core/model/step.h"
#include "core/sim/blocks.h"
#include "core/sim/inflight.h"
#include "core/sim/pcache.h"
#include "core/sim/promhist.h"

typedef struct {
  sl_step_t step;
  int max_num_seqs;           // requests in the running batch at most
  int max_num_batched_tokens; // tokens scheduled per step at most (decode + prefill chunks)
  double kv_capacity;         // KV cache, tokens
} sl_replica_cfg_t;

typedef enum {
  SL_REPLICA_FINISHED, // all output tokens generated
  SL_REPLICA_CUT,      // still in flight when the server went away (drain grace ended)
  SL_REPLICA_REJECTED, // prompt + output can never fit the KV cache
} sl_replica_outcome_t;

struct sl_replica;
// A request leaves the server at time t. The callee owns the request slot from then on and must
// not call back into this replica (submit later, after advance/submit/cut has returned).
typedef void (*sl_replica_done_fn)(void *ud, struct sl_replica *r, int32_t req, double t,
                                   sl_replica_outcome_t outcome);

enum { SL_SEG_IDLE, SL_SEG_STEP, SL_SEG_RUN };

// vLLM's per-server metrics, cumulative since the server started.
enum { SL_RH_TTFT, SL_RH_ITL, SL_RH_E2E, SL_RH_PROMPT, SL_RH_GEN, SL_RH__COUNT };

typedef struct sl_replica {
  const sl_replica_cfg_t *cfg;
  sl_inflight_pool_t *pool;
  sl_replica_done_fn on_done;
  void *ud;

  double tb;      // time of the last committed step boundary
  int seg;        // SL_SEG_*: what runs from tb
  double seg_end; // when it ends (INFINITY when idle)
  int64_t run_k;  // SL_SEG_RUN: decode steps in the run
  double step_ms; // SL_SEG_STEP: its duration

  int32_t run_head, run_tail;   // running requests, in admission order
  int32_t pf_head;              // first still-prefilling running request (they form a suffix)
  int32_t wait_head, wait_tail; // waiting queue, FIFO (preempted requests go to the front)
  int n_running, n_waiting, n_prefill, n_decode;
  double ctx;    // context tokens resident for the decoding requests
  double used;   // KV tokens held (decoding context + prefilled prompt parts)
  uint64_t d;    // decode steps executed
  int32_t *heap; // decoding requests by finish step
  int nheap, heap_cap;
  int32_t *chunks; // requests with a prefill chunk in the step in progress
  int nchunks, chunks_cap;

  // Prefix cache: requests naming blocks of `blocks` (the submitter sets it; NULL: none).
  const sl_blocks_t *blocks;
  sl_pcache_t pc;
  double pc_free;  // KV tokens of cached blocks no running request holds (evictable)
  uint32_t *chain; // scratch: one request's blocks
  uint32_t chain_cap;

  // Metrics a scrape reads.
  double m_requests, m_prompt_tokens, m_gen_tokens, m_preemptions;
  double m_prefix_queries, m_prefix_hits; // prompt tokens looked up / found, at first admission
  sl_promhist_t h[SL_RH__COUNT];
  uint64_t steps; // engine steps executed (for tests and benchmarks)
  int oom;        // an allocation failed (the loop reports it)
} sl_replica_t;

int sl_replica_init(sl_replica_t *r, const sl_replica_cfg_t *cfg, sl_inflight_pool_t *pool,
                    sl_replica_done_fn on_done, void *ud);
void sl_replica_deinit(sl_replica_t *r);

// A request enters the server's waiting queue at `now` (>= the last event processed).
void sl_replica_submit(sl_replica_t *r, int32_t req, double now);
static inline double sl_replica_next_event(const sl_replica_t *r) {
  return r->seg_end;
}
// Completes the step or run ending at sl_replica_next_event() and schedules the next one.
void sl_replica_advance(sl_replica_t *r);
// Ends everything in flight at `now` (finished steps first), each request reported as CUT.
// Returns how many were cut.
int sl_replica_cut(sl_replica_t *r, double now);

// What a scrape at `now` reads, counting decode steps of a run in progress.
typedef struct {
  double waiting, running, kv_usage;
  double requests, prompt_tokens, gen_tokens, preemptions;
} sl_replica_gauges_t;
void sl_replica_peek(const sl_replica_t *r, double now, sl_replica_gauges_t *g);

// Of the n blocks in chain (first block first), how many lead it in the prefix cache.
uint32_t sl_replica_cached_blocks(const sl_replica_t *r, const uint32_t *chain, uint32_t n);

// KV occupancy 0..1 at the last boundary.
static inline double sl_replica_kv(const sl_replica_t *r) {
  return r->cfg->kv_capacity > 0 ? r->used / r->cfg->kv_capacity : 0;
}
