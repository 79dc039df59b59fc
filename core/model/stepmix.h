// The step kind's engine under load: what a continuous-batching step costs on average when prompts
// arrive at a rate, given the token mix, how many requests are decoding and the per-step token
// budget (chunked prefill). This is what the queue (core/model/queue.h) turns into per-request
// times for the `step` profile kind; docs/kernels.md derives it and measures it against the
// simulated server (core/sim/replica.h).
//
// Steps are of two kinds. Decode-only steps are memory-bound. Steps that carry prompt tokens are
// usually compute-bound (max(memory, compute) in core/model/step.h), and every request decoding
// in them waits for them too. The prompts a step carries are those that arrived during the
// previous step, so the step mix feeds back on itself: a long step gathers more prompts. The
// number of prompts per step is taken as a mixed Poisson (negative binomial: Poisson with the
// previous step's random length), the prompt tokens of k prompts as a lognormal with the mix's
// mean and variance, and the pair (mean, variance) of the step time is solved as a fixed point.
// A step whose prompts exceed the budget continues in further full-budget steps (a "virtual
// step" of several engine steps), each of which also gives every decoding request a token.
#pragma once

#include "core/model/step.h"

// Prompt counts per step whose conditional step-time moments are tabulated (beyond, prompt
// tokens are taken at their mean, which is close once a step carries this many).
#define SL_STEPMIX_K 24
// The per-step token budget when none is given (vLLM's max_num_batched_tokens for serving).
#define SL_STEPMIX_BUDGET 8192

typedef struct {
  sl_step_t s;
  double in, in_var; // prompt tokens per request: mean, variance
  double out;        // output tokens per request: mean (>= 1)
  double ctx;        // resident context of a decoding request, averaged over its decode steps
  double b_cmp;      // compute-bound ms per prompt token, attention pairs included on average
  double budget;     // tokens scheduled per step at most
} sl_stepmix_t;

// A token mix: means, coefficients of variation (std / mean; 0 = every request alike) and the
// per-step token budget (<= 0: SL_STEPMIX_BUDGET).
void sl_stepmix_init(sl_stepmix_t *m, const sl_step_t *s, double in, double in_cv, double out,
                     double out_cv, double budget);

// Share of n requests in service that are decoding rather than in their prefill, from the
// rate-free step times (a request spends one prefill step and out - 1 decode steps in service).
double sl_stepmix_decoding(const sl_stepmix_t *m, double n);

// Prompts carry `extra` more tokens each on average (recomputed after preemption), from offset 0;
// the decoding requests' context is unchanged.
void sl_stepmix_add_prompt(sl_stepmix_t *m, double extra);

// Everything about steps at `d` decoding requests that does not depend on the arrival rate.
typedef struct {
  double d;
  double a_mem, a_cmp; // step ms without prompts: memory-bound and compute-bound parts
  double room;         // prompt tokens one step can take (budget - d, at least 1)
  double t_room;       // ms of a step that carries `room` prompt tokens
  double cross;        // prompt tokens where the second line below takes over (<= room)
  double la[3], lb[3]; // step ms = la + lb P on [0, cross], (cross, room], beyond (per token)
  int klin;            // from this many prompts (at their mean) a step is all full-room runs
  int nk;              // k < nk are tabulated
  // Given k prompts in a (virtual) step: E[time], E[time^2], E[engine steps], and the mean time to
  // the first token of a prompt that joins k others.
  double t1[SL_STEPMIX_K], t2[SL_STEPMIX_K], st[SL_STEPMIX_K], own[SL_STEPMIX_K];
} sl_stepmix_at_t;

void sl_stepmix_at(const sl_stepmix_t *m, double d, sl_stepmix_at_t *a);

// The highest prompt arrival rate (per ms) the room leaves at a's decoders: full-room steps back
// to back (INFINITY when prompts are free).
double sl_stepmix_room_rate(const sl_stepmix_t *m, const sl_stepmix_at_t *a);

typedef struct {
  double itl;      // mean time between two tokens of a request, averaged over its out - 1 steps
  double itl_step; // mean time per engine step (the ITL of a long-lived decoding request), ms
  double rho;      // how much of a step's excess length carries over into the next
  double step;     // mean (virtual) step time, ms
  double step2;    // its second moment, ms^2
  double resid;    // mean time from an arrival to the end of the step in progress, ms
  double own;      // mean time from that boundary to the arrival's first token, ms
  double seat;     // of which the arrival is in the running batch (its own prefill steps), ms
  double prompts;  // mean prompts per (virtual) step
  int iters;       // fixed-point iterations used
  double jac[4];   // the solver's last Jacobian estimate (a start for nearby solves)
} sl_stepmix_sol_t;

// Step statistics at `d` decoding requests when prompts arrive at `rate` per ms (Poisson), or,
// with per_step set, `rate` prompts per engine step whatever its length (admissions that follow
// departures, as in a saturated server). With rate 0 every step is decode-only and `own` is a
// prompt alone in its step. `guess` (may be NULL) is a solution at nearby parameters to start
// from (its step, step2 and jac are read). If the prompts' compute exceeds the engine the step time
// is capped (prefill would back up without bound).
void sl_stepmix_solve(const sl_stepmix_t *m, const sl_stepmix_at_t *a, double rate, int per_step,
                      const sl_stepmix_sol_t *guess, sl_stepmix_sol_t *o);
