// The emulator's fault switches: API errors drawn at configured rates (500, 429 with
// Retry-After, 409 on writes), forced 410 Gone for the next lists/watches that give a
// resourceVersion, watches dropped mid-event (now, or every N seconds), and per-pod metric
// endpoint faults (slow, dead, garbage) kept here for the metrics side to read. Draws come from
// a seeded generator, so a run's faults are reproducible given the seed and request order.
#pragma once

#include <stdint.h>

#include "core/emu/emu.h"
#include "core/util/json.h"
#include "core/util/map.h"
#include "core/util/rng.h"

typedef enum {
  SL_EMU_POD_OK = 0,
  SL_EMU_POD_SLOW,    // answer after delay_s
  SL_EMU_POD_DEAD,    // refuse or never answer
  SL_EMU_POD_GARBAGE, // answer with bytes that are not an exposition
} sl_emu_pod_fault_kind_t;

typedef struct {
  sl_emu_pod_fault_kind_t kind;
  double delay_s;
} sl_emu_pod_fault_t;

struct sl_emu_faults {
  double p500, p429, p409; // probability per API request (409: per write)
  double retry_after_s;    // Retry-After on 429s (default 1)
  unsigned expire_next;    // so many lists/watches with a resourceVersion get 410 Gone
  double drop_every_s;     // cut every open watch this often (0: never)
  unsigned drops;          // watches cut so far, for tests and the admin endpoint
  uint64_t seed;
  sl_rng_t rng;
  sl_map_t pods; // "ns/name" -> sl_emu_pod_fault_t*
};

void sl_emu_faults_init(sl_emu_faults_t *f, uint64_t seed);
void sl_emu_faults_deinit(sl_emu_faults_t *f);
// Clears every switch (the seed and the draw sequence carry on).
void sl_emu_faults_reset(sl_emu_faults_t *f);
// One --fault argument: 500=P, 429=P, 409=P, retry-after=S, expire=N, watch-drop=S,
// pod:NS/NAME=slow:S|dead|garbage|ok. SL_EINVAL with a message naming the argument.
int sl_emu_faults_parse(sl_emu_faults_t *f, const char *spec, sl_err_t *err);
// The admin endpoint's JSON: only the keys present change. *drop_now is set when it asks for
// every open watch to be cut now.
int sl_emu_faults_update(sl_emu_faults_t *f, const sl_json_t *j, int *drop_now, sl_err_t *err);
sl_json_t *sl_emu_faults_json(const sl_emu_faults_t *f);
// The status an API request is failed with (500, 429, 409), or 0.
int sl_emu_faults_draw(sl_emu_faults_t *f, int is_write);
// Whether this list/watch with a resourceVersion must be answered 410 (consumes one).
int sl_emu_faults_take_expire(sl_emu_faults_t *f);
// The fault set on a pod's metrics endpoint, or NULL.
const sl_emu_pod_fault_t *sl_emu_faults_pod(const sl_emu_faults_t *f, const char *ns,
                                            const char *name);
