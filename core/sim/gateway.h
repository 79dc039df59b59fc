// The simulated inference gateway's endpoint picker (EPP), per model: routing to the least-loaded
// Ready server that is not saturated (fewer waiting, lower KV occupancy, fewer running), a
// flow-control queue that holds requests while every server is saturated or none is Ready, the
// drop timeout, and the counters and gauges the EPP exposes. A server is saturated, as in the
// EPP's saturation detector, with queue_threshold or more requests waiting or a KV occupancy of
// kv_threshold or more.
#pragma once

#include <stdint.h>

#include "core/sim/inflight.h"
#include "core/sim/promhist.h"
#include "core/sim/replica.h"

typedef struct {
  sl_replica_t *rep;
  int *slot;  // the owner's record of its position (kept current when endpoints move)
} sl_gateway_ep_t;

typedef struct {
  int32_t head, tail;      // flow-control queue (FIFO) of in-flight requests
  int n;
  double bytes;
  sl_gateway_ep_t *ep;     // Ready endpoints
  int nep, cap;
  double requests, dropped;         // counters: arrived, dropped (timeout or rejected)
  double inflight, inflight_tokens; // routed to a server and not yet finished
  sl_promhist_t qdur;               // seconds in the queue, per dispatched or dropped request
} sl_gateway_model_t;

typedef struct {
  sl_inflight_pool_t *pool;
  sl_gateway_model_t *m;
  int nm;
  double queue_threshold, kv_threshold, drop_timeout;
} sl_gateway_t;

// Bytes the EPP counts per queued request: the prompt's text at about 4 bytes per token.
#define SL_GATEWAY_BYTES_PER_TOKEN 4.0

int sl_gateway_init(sl_gateway_t *g, int nmodels, sl_inflight_pool_t *pool,
                    double queue_threshold, double kv_threshold, double drop_timeout);
void sl_gateway_deinit(sl_gateway_t *g);

int sl_gateway_add_endpoint(sl_gateway_t *g, int model, sl_replica_t *rep, int *slot);
void sl_gateway_remove_endpoint(sl_gateway_t *g, int model, int *slot);

int sl_gateway_saturated(const sl_gateway_t *g, const sl_replica_t *r);
// The least-loaded unsaturated Ready server of a model, or NULL.
sl_replica_t *sl_gateway_pick(const sl_gateway_t *g, int model);
// Pool saturation: mean over Ready servers of max(waiting / queue_threshold, kv /
// kv_threshold) (above 1: throttling); with none Ready, 1 when requests are held, else 0.
double sl_gateway_saturation(const sl_gateway_t *g, int model);

void sl_gateway_enqueue(sl_gateway_t *g, int model, int32_t id);
// Removes the oldest queued request (-1 when empty).
int32_t sl_gateway_pop(sl_gateway_t *g, int model);
// When the oldest queued request of any model times out (INFINITY when none), and which model.
double sl_gateway_next_drop(const sl_gateway_t *g, int *model);
