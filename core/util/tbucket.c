// Token bucket. See tbucket.h.
#include "core/util/tbucket.h"

static void refill(sl_tbucket_t *b, double now) {
  if (now > b->last) {
    b->tokens += (now - b->last) * b->rate;
    if (b->tokens > b->burst) b->tokens = b->burst;
    b->last = now;
  }
}

void sl_tbucket_init(sl_tbucket_t *b, double rate, double burst, double now) {
  b->rate = rate;
  b->burst = burst < 1 ? 1 : burst;
  b->tokens = b->burst;
  b->last = now;
}

double sl_tbucket_tokens(sl_tbucket_t *b, double now) {
  if (b->rate <= 0) return b->burst;
  refill(b, now);
  return b->tokens;
}

int sl_tbucket_try(sl_tbucket_t *b, double now) {
  if (b->rate <= 0) return 1;
  refill(b, now);
  // A hair of tolerance: 1/rate steps computed in floating point land a few ulps short.
  if (b->tokens < 1 - 1e-9) return 0;
  b->tokens -= 1;
  return 1;
}

double sl_tbucket_reserve(sl_tbucket_t *b, double now) {
  if (b->rate <= 0) return 0;
  refill(b, now);
  b->tokens -= 1;
  if (b->tokens >= -1e-9) return 0;
  return -b->tokens / b->rate;
}
