// sluice.yaml: typed configuration loaded through libyaml. Every error names file:line and the
// field path. The `variants:`, `slo_classes:` and `accelerators:` blocks are shared with the
// simulator's cluster files (sl_config_parse_cluster_parts).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "core/util/err.h"
#include "core/util/yval.h"

typedef enum { SL_ROLE_BOTH, SL_ROLE_PREFILL, SL_ROLE_DECODE } sl_role_t;
const char *sl_role_name(sl_role_t r);

typedef struct {
  char *name;
  double ttft_ms, itl_ms;
  double ttft_ms_per_1k_in; // TTFT allowance per 1,000 prompt tokens (long-context classes), 0
} sl_slo_class_t;

// A request's TTFT target: ttft_ms plus the class's allowance for its prompt length.
static inline double sl_slo_ttft_ms(const sl_slo_class_t *s, double in_tokens) {
  return s->ttft_ms + s->ttft_ms_per_1k_in * in_tokens * 1e-3;
}

typedef struct {
  int max_num_seqs;           // vLLM --max-num-seqs (256)
  int max_num_batched_tokens; // vLLM --max-num-batched-tokens (8192 with chunked prefill)
  int block_size;             // KV block size in tokens (16)
  double kv_capacity_tokens;  // KV cache capacity per replica; 0 = unknown / from metrics
} sl_engine_t;

// The token mix a variant is sized for (an operator's load-test mix): means and coefficients of
// variation of prompt and output lengths. input 0: none declared.
typedef struct {
  double input, output, input_cv, output_cv;
} sl_tokens_t;

typedef struct sl_variant {
  char *id; // namespace/name
  char *ns, *name, *model, *accelerator, *slo_class;
  char *profile;  // latency profile name for the kernels (sluice.model.builtin), or NULL
  char *kind;     // the workload: "Deployment" (default) or "LeaderWorkerSet"
  char *actuator; // this variant's actuator, or NULL for the configuration's
  int discovered; // found in the cluster (annotations), not listed in sluice.yaml
  int gpus_per_replica;
  sl_role_t role;
  double cost; // per replica-hour
  int min, max, priority;
  const sl_slo_class_t *slo; // resolved slo_class, or NULL
  sl_engine_t engine;
  sl_tokens_t tokens;
  int line;
} sl_variant_t;

typedef struct {
  char *type;
  int count;   // GPUs of this type (0 = unknown / unlimited)
  double cost; // per GPU-hour
} sl_accel_cfg_t;

typedef struct {
  char *file;      // path (relative to policy_dir) or a canned policy name ("hpa")
  char **variants; // explicit variant ids, or NULL
  int nvariants;
  char *model;             // all variants of this model, or NULL (with no variants: all)
  const sl_yval_t *params; // overrides (a mapping in the document), or NULL
  double period;           // 0 = the policy's own or the controller interval
  uint64_t budget;         // instructions per tick (0 = default)
  size_t memory;           // bytes (0 = default)
  double time_limit;       // wall-clock seconds per tick and per dry run (0 = default 1 s)
  int shadow;              // decides on the live view, is reported, never votes or actuates
  int line;
} sl_policy_cfg_t;

typedef struct {
  int max_step;       // largest change per tick per variant, 0 = unlimited
  double stale_after; // seconds; a variant whose freshest sample is older holds
  int dry_run;        // decide and record, never actuate
  int paused;         // hold everything
} sl_guard_cfg_t;

// Watching a cluster: which objects, how to read their accelerators, the client's rate.
typedef struct {
  int enabled;
  char *namespace;         // only this namespace, or NULL for all
  char *selector;          // only workloads matching this label selector, or NULL
  char *accelerator_label; // node label naming the accelerator type (nvidia.com/gpu.product)
  int discover;            // find variants by annotation (llm-d.ai/managed), default on
  double qps;              // client-side rate limit (default 20 requests/s)
  int burst;               // (default 30)
} sl_kube_cfg_t;

// Scraping model servers and gateways directly (cluster mode: the pods and gateways the cluster
// source names).
typedef struct {
  int enabled;     // default on; source.scrape.enabled: false turns it off
  double interval; // seconds (1)
  double timeout;  // seconds; 0 = 80% of the interval; never above the interval
  // A failing target's retries back off, doubling from the interval up to this (10 s), so a
  // target that comes back is seen within it.
  double backoff_max;
} sl_scrape_cfg_t;

// Reading the model servers' and gateways' series from a Prometheus server instead.
typedef struct {
  int enabled;
  char *url;               // base URL of its HTTP API
  double interval;         // seconds between polls (1)
  double timeout;          // seconds per query (the interval, at most 10 s)
  char *namespace_label;   // label naming a series' namespace ("namespace")
  char *pod_label;         // label naming its pod ("pod")
  char *matchers;          // extra label matchers for every selector, e.g. job="vllm"
  char *bearer_token_file; // read at start, sent as a bearer token
  char *ca_file;           // CA bundle for https
  int insecure_skip_tls_verify;
} sl_prom_cfg_t;

// A shard: the part of the cluster one controller (and its leader election) owns.
typedef struct {
  char *name, *namespace, *selector;
} sl_shard_cfg_t;

typedef struct {
  sl_ydoc_t doc; // kept: policy params point into it
  char *path, *dir;
  double interval; // seconds between ticks
  double window;   // seconds for rates, means, quantiles in the view
  sl_guard_cfg_t guard;
  char *source_kind, *source_file; // "fixture" + file, or "kubernetes"
  sl_kube_cfg_t kube;              // source: {kubernetes: ...}
  sl_scrape_cfg_t scrape;          // source: {scrape: ...}
  sl_prom_cfg_t prometheus;        // source: {prometheus: ...}
  char *actuator;                  // default for variants: "log" or "scale"
  sl_shard_cfg_t *shards;          // shards: {NAME: {namespace, selector}}
  int nshards;
  char *lease_name, *lease_namespace; // leader_election: {lease, namespace}
  char *policy_configmap; // the ConfigMap policy_dir is mounted from: Events on reloads go there
  char *metrics_bind_address; // HOST:PORT for /metrics, /healthz, /readyz, or NULL
  char *policy_dir;           // resolved against the config file's directory
  char *repl_socket;          // REPL socket path; "" = off, NULL = the default (docs/repl.md)
  sl_slo_class_t *slo_classes;
  int nslo;
  sl_accel_cfg_t *accels;
  int naccels;
  sl_variant_t *variants;
  int nvariants;
  sl_policy_cfg_t *policies;
  int npolicies;
} sl_config_t;

// The actuators a variant may name (actuator: in sluice.yaml).
#define SL_CONFIG_ACTUATORS "log, scale, metric, keda-metrics-api"
int sl_config_actuator_known(const char *name);

int sl_config_load(sl_config_t *c, const char *path, sl_err_t *err);
int sl_config_load_buffer(sl_config_t *c, const char *buf, size_t len, const char *name,
                          sl_err_t *err);
void sl_config_deinit(sl_config_t *c);
const sl_variant_t *sl_config_variant(const sl_config_t *c, const char *id);

// The shared blocks, for other file kinds (simulator cluster files). Each fills the config's
// arrays from the given nodes (any may be NULL).
int sl_config_parse_slo_classes(sl_config_t *c, const sl_yval_t *map, sl_err_t *err);
int sl_config_parse_accelerators(sl_config_t *c, const sl_yval_t *map, sl_err_t *err);
// Adds the variants of seq (sluice.yaml's variant syntax, in another document: a recording's)
// that c does not list. Errors name doc's file:line.
int sl_config_add_variants(sl_config_t *c, const sl_ydoc_t *doc, const sl_yval_t *seq,
                           sl_err_t *err);
int sl_config_parse_variants(sl_config_t *c, const sl_yval_t *seq, sl_err_t *err);
