// Real and simulated clocks.
#include "core/state/clock.h"

#include <stdio.h>
#include <time.h>

static double real_now(sl_clock_t *c) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double real_mono(sl_clock_t *c) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double sim_now(sl_clock_t *c) {
  return c->sim_now;
}

void sl_clock_init_real(sl_clock_t *c) {
  c->now = real_now;
  c->mono = real_mono;
  c->sim_now = 0;
}

void sl_clock_init_sim(sl_clock_t *c, double start) {
  c->now = sim_now;
  c->mono = sim_now;
  c->sim_now = start;
}

void sl_clock_set(sl_clock_t *c, double t) {
  c->sim_now = t;
}

void sl_clock_advance(sl_clock_t *c, double dt) {
  c->sim_now += dt;
}

void sl_clock_format(double t, char *buf, size_t n) {
  if (t > 1e8) { // wall-clock time: UTC, to the tenth of a second
    time_t s = (time_t)t;
    struct tm tm;
    gmtime_r(&s, &tm);
    size_t k = strftime(buf, n, "%H:%M:%S", &tm);
    snprintf(buf + k, n - k, ".%dZ", (int)((t - (double)s) * 10));
  } else { // simulated or relative time
    snprintf(buf, n, "t=%.1f", t);
  }
}
