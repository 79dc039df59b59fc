// Seeded pseudo-random numbers (xoshiro256**) and the few distributions the simulator, trace
// generators and tests draw from. Deterministic for a given seed on every platform.
#pragma once

#include <stdint.h>

typedef struct {
  uint64_t s[4];
} sl_rng_t;

void sl_rng_seed(sl_rng_t *r, uint64_t seed);
uint64_t sl_rng_u64(sl_rng_t *r);
// Uniform in [0, 1).
double sl_rng_uniform(sl_rng_t *r);
// Uniform in (0, 1): safe for log().
double sl_rng_uniform_pos(sl_rng_t *r);
double sl_rng_exp(sl_rng_t *r, double rate);
double sl_rng_normal(sl_rng_t *r);
double sl_rng_lognormal(sl_rng_t *r, double mu, double sigma);
// Gamma with shape k > 0 and scale theta (Marsaglia-Tsang; boosted for k < 1).
double sl_rng_gamma(sl_rng_t *r, double k, double theta);
double sl_rng_weibull(sl_rng_t *r, double k, double lambda);
// Derives an independent stream (e.g. one per simulated replica) from a parent.
void sl_rng_split(sl_rng_t *parent, sl_rng_t *child);
