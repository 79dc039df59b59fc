// The simulated inference gateway's endpoint picker (EPP), per model: routing to the least-loaded
// Ready server that is not saturated (fewer waiting, lower KV occupancy, fewer running), or, as
// llm-d's EPP does, to the unsaturated server with the best weighted sum of a prefix-cache, a
// KV-utilisation and a queue scorer (the scorer mix, which visits every endpoint), a
// flow-control queue that holds requests while every server is saturated or none is Ready, the
// drop timeout, and the counters and gauges the EPP exposes. A server is saturated, as in the
// EPP's saturation detector, with queue_threshold or more requests waiting or a KV occupancy of
// kv_threshold or more.
#pragma once

#include <stdint.h>

#include "core/sim/blocks.h"
#include "core/sim/heap.h"
#include "core/sim/inflight.h"
#include "core/sim/promhist.h"
#include "core/sim/replica.h"
#include "core/util/rng.h"

// A Ready server as an endpoint, kept inside its owner (the pod): the gateway files endpoints in a
// min-heap by load score, so picking the least-loaded one costs O(1) and a server's change of
// load O(log n) when its owner calls sl_gateway_update.
typedef struct {
  sl_replica_t *rep;
  sl_heap_node_t node;
  int model;                    // -1 while not an endpoint
  int waiting, running, kv_pct; // what the filed score was computed from
} sl_gateway_ep_t;

// How the EPP picks among unsaturated Ready servers. The scorer mix follows the default
// scheduling profile of the Gateway API Inference Extension's EPP chart, which llm-d's
// inference-scheduling guide deploys: queue-scorer 2, kv-cache-utilization-scorer 2,
// prefix-cache-scorer 3, and the max-score picker (ties drawn at random). Scores, each in [0, 1]:
// prefix = leading full prompt blocks in the server's cache / the request's full prompt blocks;
// kv = 1 - KV occupancy; queue = (most waiting - its waiting) / (most - fewest) among the
// candidates (1 when all are equal).
typedef struct {
  int mix; // 0: least-loaded (the default); 1: the scorer mix
  double w_prefix, w_kv, w_queue;
} sl_gateway_routing_t;

#define SL_GATEWAY_W_PREFIX 3.0
#define SL_GATEWAY_W_KV     2.0
#define SL_GATEWAY_W_QUEUE  2.0

// Scores at or above this mark a saturated server.
#define SL_GATEWAY_SATURATED 1e9

typedef struct {
  int32_t head, tail; // flow-control queue (FIFO) of in-flight requests
  int n;
  double bytes;
  sl_heap_t eps;                    // Ready endpoints by score (eps.n of them)
  double requests, dropped;         // counters: arrived, dropped (timeout or rejected)
  double inflight, inflight_tokens; // routed to a server and not yet finished
  sl_promhist_t qdur;               // seconds in the queue, per dispatched or dropped request
  const sl_blocks_t *blocks;        // the prompt blocks this model's requests name, or NULL
} sl_gateway_model_t;

typedef struct {
  sl_inflight_pool_t *pool;
  sl_gateway_model_t *m;
  int nm;
  double queue_threshold, kv_threshold, drop_timeout;
  sl_gateway_routing_t rt;
  sl_rng_t rng;    // the scorer mix's ties
  uint32_t *chain; // scratch: one request's blocks
  uint32_t chain_cap;
} sl_gateway_t;

// Bytes the EPP counts per queued request: the prompt's text at about 4 bytes per token.
#define SL_GATEWAY_BYTES_PER_TOKEN 4.0

int sl_gateway_init(sl_gateway_t *g, int nmodels, sl_inflight_pool_t *pool, double queue_threshold,
                    double kv_threshold, double drop_timeout);
void sl_gateway_deinit(sl_gateway_t *g);

void sl_gateway_ep_init(sl_gateway_ep_t *ep, sl_replica_t *rep, uint64_t tie);
int sl_gateway_add_endpoint(sl_gateway_t *g, int model, sl_gateway_ep_t *ep);
void sl_gateway_remove_endpoint(sl_gateway_t *g, sl_gateway_ep_t *ep);
// Refiles an endpoint after its server's load changed (no-op for a non-endpoint, or when
// nothing the score reads has changed).
void sl_gateway_update(sl_gateway_t *g, sl_gateway_ep_t *ep);

// The least-loaded unsaturated Ready server of a model (ties: the oldest), or NULL.
sl_replica_t *sl_gateway_pick(const sl_gateway_t *g, int model);
// The scorer mix's pick for request id (see sl_gateway_pick_for).
sl_replica_t *sl_gateway_pick_mix(sl_gateway_t *g, int model, int32_t id);
// The server for request id by the gateway's routing (sl_gateway_pick when least-loaded), or NULL
// when every Ready server is saturated.
static inline sl_replica_t *sl_gateway_pick_for(sl_gateway_t *g, int model, int32_t id) {
  return g->rt.mix ? sl_gateway_pick_mix(g, model, id) : sl_gateway_pick(g, model);
}
// Selects the routing; seed draws the scorer mix's ties.
void sl_gateway_set_routing(sl_gateway_t *g, const sl_gateway_routing_t *rt, uint64_t seed);
// Pool saturation: mean over Ready servers of max(waiting / queue_threshold, kv /
// kv_threshold) (above 1: throttling); with none Ready, 1 when requests are held, else 0.
double sl_gateway_saturation(const sl_gateway_t *g, int model);

void sl_gateway_enqueue(sl_gateway_t *g, int model, int32_t id);
// Removes the oldest queued request (-1 when empty).
int32_t sl_gateway_pop(sl_gateway_t *g, int model);
// When the oldest queued request of any model times out (INFINITY when none), and which model.
double sl_gateway_next_drop(const sl_gateway_t *g, int *model);
