// core/v1 Events about the workloads sluice scales: one per applied change, with the policy's
// reason as the message, recorded through a correlator that follows client-go's
// (tools/record/events_cache.go) so a flapping policy cannot flood the API:
//  1. aggregate: events that differ only in message (same source, object, type, reason,
//     reporting controller and instance) are tracked per group; once 10 distinct messages have
//     been seen within 600 s of each other, further ones become one "(combined from similar
//     events): ..." event for the group;
//  2. count: an event identical to one already written (same key: source, object, type, reason,
//     message; or the group's key once combined) PATCHes that event's count, lastTimestamp and
//     message instead of creating a new one;
//  3. spam filter: a token bucket per (source, object), burst 25, refilled at 1 per 300 s,
//     drops what exceeds it (after counting, so the next write carries the true count).
// Writes go out one at a time, in order, never blocking the loop; a PATCH whose event has
// expired (404) creates it again.
#pragma once

#include <stddef.h>

#include "core/kube/client.h"

typedef struct {
  const char *component;     // source.component and reportingComponent (default "sluice")
  const char *instance;      // reportingInstance, e.g. the pod name (default: hostname)
  int spam_burst;            // default 25
  double spam_qps;           // default 1/300
  int aggregate_max;         // default 10
  double aggregate_window_s; // default 600
  size_t cache_size;         // entries per cache, least recently used evicted (default 4096)
  size_t max_queue;          // writes waiting; beyond, events are dropped (default 1000)
} sl_kube_events_opts_t;

typedef struct {
  const char *api_version; // "apps/v1"
  const char *kind;        // "Deployment"
  const char *namespace;
  const char *name;
  const char *uid; // optional
} sl_kube_objref_t;

typedef struct {
  long recorded, created, patched, spam_dropped, queue_dropped, failed, aggregated;
} sl_kube_events_stats_t;

typedef struct sl_kube_events sl_kube_events_t;

sl_kube_events_t *sl_kube_events_new(sl_kube_client_t *c, const sl_kube_events_opts_t *o,
                                     sl_err_t *err);
// Pending writes are dropped.
void sl_kube_events_free(sl_kube_events_t *ev);
// Records an event (type "Normal" or "Warning"). Returns 0 when a write was queued, 1 when the
// spam filter or a full queue dropped it, or a negative code for bad arguments.
int sl_kube_events_record(sl_kube_events_t *ev, const sl_kube_objref_t *obj, const char *type,
                          const char *reason, const char *message, sl_err_t *err);
// Writes queued or in flight.
size_t sl_kube_events_pending(const sl_kube_events_t *ev);
void sl_kube_events_stats(const sl_kube_events_t *ev, sl_kube_events_stats_t *out);
