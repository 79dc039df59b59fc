// Cluster mode: the controller pointed at Kubernetes. Assembles, around a controller, the
// Kubernetes client (kubeconfig or in-cluster), the cluster source (informers into the store),
// direct scraping of the pods and gateways it names, the `scale` actuator, Events and
// VariantAutoscaling status, and leader election; discovers the variants the cluster declares
// (annotated workloads, HPAs and ScaledObjects, VariantAutoscalings) beside those in
// sluice.yaml, and when that set changes builds a new controller for it, carrying every
// policy's state over, between two ticks.
#pragma once

#include "core/runtime/controller.h"
#include "core/state/config.h"
#include "core/util/err.h"

struct sl_scraper;
struct sl_prom;

typedef struct {
  const char *kubeconfig;           // --kubeconfig (NULL: $KUBECONFIG, in-cluster, ~/.kube/config)
  const char *context;              // --context (NULL: the kubeconfig's current context)
  const char *shard;                // --shard NAME: one of the configuration's shards, or NULL
  const char *identity;             // this instance in the lease (default: hostname_pid)
  int leader_elect;                 // --leader-elect: act only while holding the lease
  long max_ticks;                   // stop after this many ticks (0: until SIGINT/SIGTERM)
  double rediscover_s;              // how often discovery looks again (default 2 s)
  const char *metrics_bind_address; // --metrics-bind-address (else sluice.yaml's)
  // Called with each controller built (the first, and a new one whenever the variants change),
  // before it starts; a failure stops the run with its error. Called with NULL when the run
  // ends, before the last controller is freed.
  int (*on_controller)(void *ud, sl_controller_t *c, sl_err_t *err);
  void *on_controller_ud;
  // Called before each on_controller with the run's metric sources (either may be NULL: no
  // scraping, no Prometheus source), valid until the run ends. Same ud.
  void (*on_sources)(void *ud, const struct sl_scraper *scraper, const struct sl_prom *prom);
} sl_cluster_opts_t;

// Runs until stopped. Returns 0, or a negative code with err (a configuration the cluster
// cannot serve, an unreadable kubeconfig, a certificate that does not verify).
int sl_cluster_run(sl_config_t *cfg, const sl_cluster_opts_t *o, sl_err_t *err);
