// The vote: how the decisions of several policies voting on one variant become one request,
// the rule of WVA's multi-analyzer engine. The largest scale-up wins; a scale-down happens only
// when every voter asks for one (then the smallest step down wins); a voter that failed holds the
// variant; a voter with no opinion vetoes a scale-down.
#pragma once

#include "core/state/decider.h"

typedef struct {
  const char *name; // the decider's
  int requested;    // >= 0, -1 no opinion, SL_VOTE_FAILED
  const char *reason;
  int scale_from_zero;
  const char *inputs; // what the decider reported (JSON object text), carried to the outcome
} sl_vote_ballot_t;

#define SL_VOTE_FAILED (-2)

typedef struct {
  int requested;       // combined request, -1 = no opinion
  int failed;          // a voter failed this tick
  int allow_from_zero; // a voter enables scale-from-zero
  const char *reason;  // points into a ballot or into buf
  int winner;          // the ballot whose request and reason carried, -1 when none did
  char buf[SL_REASON_MAX];
} sl_vote_t;

// Combines n ballots (n >= 1) for a variant currently at `current` replicas.
void sl_vote_combine(const sl_vote_ballot_t *b, int n, int current, sl_vote_t *out);
