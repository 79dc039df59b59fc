// Simulator cluster files: what `sluice sim --cluster FILE` simulates. The `variants:`,
// `slo_classes:` and `accelerators:` blocks are sluice.yaml's (parsed by core/runtime/config.c);
// on top of them: `models:` (shape, step profile per accelerator type, own trace), `gpus:` (speeds
// for derived profiles and KV sizing), `cold_start:`, `drain_grace:` and `gateway:`. Every error
// names file:line and the field. docs/simulator.md describes the format.
#pragma once

#include "core/model/step.h"
#include "core/state/config.h"
#include "core/sim/gateway.h"
#include "core/sim/replica.h"
#include "core/util/err.h"

typedef struct {
  char *name;
  char *trace;       // this model's trace spec (path resolved against the file), or NULL
  double rate_scale; // applied to this model's arrivals on top of the run's scaling
  int has_shape;
  sl_step_llm_t shape;
  int line;
} sl_cluster_model_t;

typedef struct {
  char *type;
  double mem_bw, flops; // bytes/s and flop/s per GPU
  double memory;        // bytes per GPU (0 = unknown)
  double comm_ms;       // per-step tensor-parallel communication
} sl_cluster_gpu_t;

// What the simulator needs per variant, in the variants' order.
typedef struct {
  int model;               // index into models
  sl_replica_cfg_t engine; // step profile, batch limits, KV capacity in tokens
  char profile[96];        // where the step profile came from, for messages and docs
} sl_cluster_variant_t;

typedef struct {
  sl_config_t cfg; // variants, slo_classes, accelerators
  sl_cluster_model_t *models;
  int nmodels;
  sl_cluster_gpu_t *gpus;
  int ngpus;
  sl_cluster_variant_t *vx; // cfg.nvariants entries
  // cold start: lognormal with this median and p95 (equal: fixed), clamped to [min, max]
  double cold_median, cold_p95, cold_min, cold_max;
  double drain_grace;           // seconds a draining pod keeps serving before what is left is cut
  double drop_timeout;          // seconds a request may wait in the gateway queue
  double queue_threshold;       // EPP saturation: a server with this many waiting is saturated
  double kv_threshold;          // ... or with this KV occupancy
  sl_gateway_routing_t routing; // least-loaded, or the EPP's scorer mix
} sl_cluster_t;

int sl_cluster_load(sl_cluster_t *c, const char *path, sl_err_t *err);
int sl_cluster_load_buffer(sl_cluster_t *c, const char *buf, size_t len, const char *name,
                           sl_err_t *err);
void sl_cluster_deinit(sl_cluster_t *c);
int sl_cluster_find_model(const sl_cluster_t *c, const char *name);

// The built-in scenario of `sluice sim` with no flags: two models on two accelerator types with
// limited inventory, each with a diurnal trace with bursts.
extern const char sl_cluster_builtin_yaml[];

// Built-in model shapes ("llama-3.1-8b", "llama-3.1-70b", "llama-3.2-3b") and GPUs ("H100",
// "A100", "L40S"); NULL when unknown.
const sl_step_llm_t *sl_cluster_shape(const char *name);
const sl_cluster_gpu_t *sl_cluster_gpu_builtin(const char *type);
