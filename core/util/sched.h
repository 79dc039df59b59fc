// Time and one-shot timers behind one interface: real (a libuv timer on the caller's loop) or
// manual (time moves only when a test advances it). Backoff, rate limiting, leader election and
// the event correlator take a scheduler instead of reading the clock, so tests can run 15 s of
// lease time without sleeping.
#pragma once

#include <stdint.h>
#include <uv.h>

typedef struct sl_sched sl_sched_t;
typedef void (*sl_sched_fn)(void *ud);

// A scheduler firing timers from a uv_timer on `loop`. Monotonic time from uv_hrtime.
sl_sched_t *sl_sched_new_uv(uv_loop_t *loop);
// A scheduler whose time starts at `start` (monotonic seconds) and moves by sl_sched_advance.
// Its wall clock is `wall_start` + elapsed.
sl_sched_t *sl_sched_new_manual(double start, double wall_start);
// Drops pending timers without running them. A uv scheduler's memory is released when its
// timer handle has closed, so run the loop once more after this.
void sl_sched_free(sl_sched_t *s);

// Seconds on a monotonic scale (durations, deadlines).
double sl_sched_now(sl_sched_t *s);
// Seconds since the Unix epoch (timestamps written to the API: renewTime, lastTimestamp).
double sl_sched_wall(sl_sched_t *s);

// Runs fn(ud) once, `delay` seconds from now (<= 0: on the next turn, never inside this call).
// Returns a timer id (never 0), or 0 when out of memory.
uint64_t sl_sched_after(sl_sched_t *s, double delay, sl_sched_fn fn, void *ud);
// Cancels a pending timer; an id that already fired or is 0 is ignored, so owners need not
// track whether their timer ran.
void sl_sched_cancel(sl_sched_t *s, uint64_t id);
// Number of pending timers.
size_t sl_sched_pending(const sl_sched_t *s);

// Manual schedulers: moves time forward by dt, running every timer that falls due in time order
// (a timer scheduled by a callback for a time within the step also runs). No-op on a uv one.
void sl_sched_advance(sl_sched_t *s, double dt);
// Time of the earliest pending timer, or INFINITY.
double sl_sched_next(const sl_sched_t *s);
