// The emulator's HorizontalPodAutoscaler controller: what kube-controller-manager and
// prometheus-adapter together do for an autoscaling/v2 HPA with External metrics, so an HPA
// written for a real cluster — WVA's, acting on `wva_desired_replicas` — scales workloads in
// `sluice emulate` unchanged. Every sync period it reads each HPA's External metrics from a
// Prometheus server (the adapter's rule: `METRIC{<selector>, NAMESPACE_LABEL="<hpa ns>"}`,
// summed), computes the count (hpacalc.h), writes the target's scale subresource, the HPA's
// status (current and desired replicas, currentMetrics, the AbleToScale / ScalingActive /
// ScalingLimited conditions, lastScaleTime) and the controller's Events (SuccessfulRescale,
// FailedGetExternalMetric, ...). A metric it cannot read holds the HPA where it is, as the real
// controller does: no scale on nothing. Other metric types (Resource, Pods, Object) are reported
// as unsupported in ScalingActive.
#pragma once

#include "core/emu/emu.h"
#include "core/util/err.h"

typedef struct {
  const char *metrics_url;     // Prometheus base URL, e.g. http://127.0.0.1:9090 (required)
  double sync_period_s;        // --horizontal-pod-autoscaler-sync-period (default 15)
  double tolerance;            // --horizontal-pod-autoscaler-tolerance (default 0.1)
  double downscale_window_s;   // --horizontal-pod-autoscaler-downscale-stabilization (300)
  const char *namespace_label; // the series' label for the HPA's namespace; "" for none
                               // (default "exported_namespace", as WVA's adapter rule)
} sl_emu_hpa_opts_t;

typedef struct sl_emu_hpa sl_emu_hpa_t;

// Starts the controller on the emulator's loop. Stop it before sl_emu_free.
int sl_emu_hpa_start(sl_emu_t *e, const sl_emu_hpa_opts_t *o, sl_emu_hpa_t **out, sl_err_t *err);
// Cancels what is in flight and closes the timer (memory goes once the loop has run again).
void sl_emu_hpa_stop(sl_emu_hpa_t *h);
