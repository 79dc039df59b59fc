// Telemetry: what sluice says about itself over HTTP, on --metrics-bind-address HOST:PORT.
//   /metrics   Prometheus text: per variant the desired and current replicas, its pods by
//              state and the age of its freshest sample, decisions and holds; per policy runs,
//              failures by kind (error, budget, time, memory, malformed, state) and reloads; tick
//              durations; actuation errors; leadership; anything a component adds (scrape health
//              per target, the client's requests); and, for every variant whatever its actuator,
//              WVA's wva_desired_replicas, wva_current_replicas and wva_desired_ratio with WVA's
//              labels, so an HPA or KEDA ScaledObject built for WVA acts on sluice's decisions
//              unchanged.
//   /healthz   200 while the process serves.
//   /readyz    200 once every source is ready and a first tick has run; 503 before.
//   /keda/NAMESPACE/NAME   the variant's desired replicas as JSON, for KEDA's metrics-api trigger
//              ({"desiredReplicas": 3, "currentReplicas": 2, "variant": "ns/name"}).
// It also provides the two actuators that only publish: `metric` (an HPA or ScaledObject reads
// wva_desired_replicas) and `keda-metrics-api` (KEDA polls /keda/...).
#pragma once

#include <uv.h>

#include "core/runtime/controller.h"
#include "core/scrape/scraper.h"
#include "core/state/actuator.h"
#include "core/state/observer.h"
#include "core/util/json.h"

typedef struct sl_telemetry sl_telemetry_t;

// Appends exposition text (complete families) for what a component knows.
typedef void (*sl_telemetry_render_fn)(void *ud, sl_json_buf_t *out);

sl_telemetry_t *sl_telemetry_new(sl_err_t *err);
void sl_telemetry_free(sl_telemetry_t *t);
// Serves on "HOST:PORT" (":8080" binds every address; port 0 lets the OS choose).
int sl_telemetry_listen(sl_telemetry_t *t, uv_loop_t *loop, const char *bind, sl_err_t *err);
int sl_telemetry_port(const sl_telemetry_t *t);
// Stops serving (the listening socket and its connections close); the rest stays until free.
void sl_telemetry_close(sl_telemetry_t *t);
// The controller whose pipeline it reads (policies' runs and failures, variants); called again
// when cluster mode builds a new one. Adds its observer and tick hook to it.
int sl_telemetry_attach(sl_telemetry_t *t, sl_controller_t *c, sl_err_t *err);
void sl_telemetry_set_ready(sl_telemetry_t *t, int ready);
void sl_telemetry_set_leader(sl_telemetry_t *t, int leader); // -1: no leader election
int sl_telemetry_add_renderer(sl_telemetry_t *t, sl_telemetry_render_fn fn, void *ud);
// Scrape health on /metrics (borrowed; it must outlive the telemetry or be removed by freeing
// both): per target sluice_scrape_up, _last_duration_seconds, _samples (what its last page gave
// the store), _scrapes_total, _failures_total and _rejected_total, labelled with the target's
// URL, pod and variant (or model, for a gateway); across targets sluice_scrape_targets by state,
// the sluice_scrape_duration_seconds histogram, and sample, byte and skipped-slot totals.
int sl_telemetry_add_scraper(sl_telemetry_t *t, sl_scraper_t *s);
// The `metric` and `keda-metrics-api` actuators: they accept every change (the published
// desired count is what acts) and count it.
sl_actuator_t *sl_telemetry_metric_actuator(sl_telemetry_t *t);
sl_actuator_t *sl_telemetry_keda_actuator(sl_telemetry_t *t);
// The whole /metrics page (for tests): malloc'd, NUL-terminated.
char *sl_telemetry_render(sl_telemetry_t *t, size_t *len);
