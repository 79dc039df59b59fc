// The pipeline clock: wall/monotonic time in `run`, simulated time in `sim` and in tests.
// Everything that needs "now" (windows, the guard, os.time/os.clock in policy VMs) asks a clock.
#pragma once

#include <stddef.h>

typedef struct sl_clock {
  // Seconds since the Unix epoch as the pipeline sees it (simulated runs start at their trace's
  // start time, or 0).
  double (*now)(struct sl_clock *c);
  // Seconds on a monotonic scale, for durations.
  double (*mono)(struct sl_clock *c);
  double sim_now; // used by the simulated clock
} sl_clock_t;

// A clock reading the real time.
void sl_clock_init_real(sl_clock_t *c);
// A clock whose time only moves by sl_clock_set/advance.
void sl_clock_init_sim(sl_clock_t *c, double start);
void sl_clock_set(sl_clock_t *c, double t);
void sl_clock_advance(sl_clock_t *c, double dt);

// "12:04:31.5Z" for wall-clock times, "t=31.5" for simulated ones.
void sl_clock_format(double t, char *buf, size_t n);

static inline double sl_clock_now(sl_clock_t *c) {
  return c->now(c);
}
static inline double sl_clock_mono(sl_clock_t *c) {
  return c->mono(c);
}
