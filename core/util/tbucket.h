// A token bucket as a pure function of time: the client-side request limiter (QPS and burst) and
// the event spam filter share it. Time comes from the caller, so it is exact under a manual clock.
#pragma once

typedef struct {
  double rate;   // tokens per second (<= 0: unlimited)
  double burst;  // capacity
  double tokens; // may go negative: reservations taken ahead of time
  double last;   // time of the last update
} sl_tbucket_t;

// Starts full.
void sl_tbucket_init(sl_tbucket_t *b, double rate, double burst, double now);
// Takes a token if one is available now; returns 1 when taken, 0 when not (nothing reserved).
int sl_tbucket_try(sl_tbucket_t *b, double now);
// Takes a token unconditionally and returns how long to wait before using it (0 when one was
// available). Successive reservations queue up in order, 1/rate apart once the burst is spent.
double sl_tbucket_reserve(sl_tbucket_t *b, double now);
// Tokens available at `now` (negative while reservations are outstanding).
double sl_tbucket_tokens(sl_tbucket_t *b, double now);
