// Internal to core/sim/trace*.c: the source interface every trace format and generator
// implements (trace.c slices, scales and thins what they yield).
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/sim/trace.h"

// A source yields requests in non-decreasing source time (seconds from its own start). The
// pipeline in trace.c slices, scales and thins them.
typedef struct sl_trace_src sl_trace_src_t;
struct sl_trace_src {
  // 1 = got one, 0 = end, < 0 = error. *rng may be set to the stream the pipeline must use for
  // this request's thinning and token draws (ServeGen keeps one per client window so a window's
  // requests do not depend on other clients); left NULL, the pipeline uses its own.
  int (*next)(sl_trace_src_t *s, sl_req_t *r, sl_rng_t **rng, sl_err_t *err);
  // Skips ahead without work to source time t (requests before t may still come out).
  void (*seek)(sl_trace_src_t *s, double t);
  void (*free)(sl_trace_src_t *s);
  const char *kind;
  bool has_tokens;           // false: the pipeline draws lengths from opts->tokens
  double end;                // source time after which nothing comes (generators), else INFINITY
  const sl_blocks_t *blocks; // the prompt blocks requests name (NULL: none)
};
