// The HorizontalPodAutoscaler's arithmetic, as kube-controller-manager does it: the replica
// count an External metric asks for (AverageValue and Value targets, milli-units, tolerance),
// and the normalisation of that raw count by `spec.behavior` — stabilisation windows first, then
// the scaling policies' rate limits and the min/max bounds — or, with no behavior, by the legacy
// rules (a 5-minute scale-down window and a scale-up cap of max(2 × current, 4)). It keeps the
// per-HPA history the controller keeps in memory (recommendations, scale-up and scale-down
// events), lost on restart as the real one's is. No I/O: the emulator's HPA controller (hpa.c)
// feeds it; tests drive it directly.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "core/util/json.h"

enum { SL_HPA_PODS, SL_HPA_PERCENT };
enum { SL_HPA_SELECT_MAX, SL_HPA_SELECT_MIN, SL_HPA_SELECT_DISABLED };

#define SL_HPA_MAX_POLICIES 8

typedef struct {
  int type; // SL_HPA_PODS or SL_HPA_PERCENT
  long value;
  double period_s;
} sl_hpa_policy_t;

typedef struct {
  double window_s;
  int select;
  sl_hpa_policy_t policies[SL_HPA_MAX_POLICIES];
  size_t npolicies;
  double tolerance; // the cluster-wide one unless the rules set their own
} sl_hpa_rules_t;

typedef struct {
  int has_behavior; // 0: the legacy path
  long min, max;
  sl_hpa_rules_t up, down;
} sl_hpa_spec_t;

// The controller's flags: --horizontal-pod-autoscaler-tolerance (0.1) and
// --horizontal-pod-autoscaler-downscale-stabilization (300 s).
typedef struct {
  double tolerance;
  double downscale_window_s;
} sl_hpa_flags_t;

// Reads spec.minReplicas (default 1), spec.maxReplicas and spec.behavior (defaults filled in
// field by field as the API server does). On a bad field: -1 and "field: why" in msg.
int sl_hpa_spec_parse(const sl_json_t *spec, const sl_hpa_flags_t *flags, sl_hpa_spec_t *out,
                      char *msg, size_t n);

// The replicas one External metric asks for. `usage_m` is the sum of the returned series in
// milli-units, `target_m` the target in milli-units. AverageValue: ceil(usage / target) unless
// usage / (target × status_replicas) is within the tolerance (then status_replicas). Value: the
// ratio usage / target times the ready pods, or ceil(ratio) from zero replicas.
long sl_hpa_external_replicas(int average_value, int64_t usage_m, int64_t target_m,
                              long spec_replicas, long status_replicas, long ready,
                              const sl_hpa_spec_t *sp);

typedef struct {
  double ts;
  long value;
} sl_hpa_mark_t;

// The in-memory history of one HPA.
typedef struct {
  int seeded;
  sl_hpa_mark_t *recs; // recommendations
  size_t nrecs, caprecs;
  sl_hpa_mark_t *ups, *downs; // scale events: |change| at ts (value < 0: outdated slot)
  size_t nups, capups, ndowns, capdowns;
} sl_hpa_state_t;

void sl_hpa_state_free(sl_hpa_state_t *st);
// The first sight of an HPA: its current count is the first recommendation (so a restarted
// controller waits out the scale-down window again). Does nothing after the first call.
void sl_hpa_seed(sl_hpa_state_t *st, double now, long current);

// Why the count came out as it did: the AbleToScale and ScalingLimited conditions' reasons.
typedef struct {
  const char *able_reason, *able_message;
  const char *limited_reason, *limited_message;
  int limited; // ScalingLimited True
} sl_hpa_why_t;

// The count to scale to, from `current` (the scale subresource's spec.replicas) and `raw`
// (the largest count the metrics ask for), at time `now` (seconds). Records `raw` in the history.
long sl_hpa_normalize(sl_hpa_state_t *st, const sl_hpa_spec_t *sp, double now, long current,
                      long raw, sl_hpa_why_t *why);

// A scale from `from` to `to` was written: remembered for the policies' periods.
void sl_hpa_record_scale(sl_hpa_state_t *st, const sl_hpa_spec_t *sp, double now, long from,
                         long to);
