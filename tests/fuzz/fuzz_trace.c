// libFuzzer target for the trace readers: the input is read as each file format in turn (and
// auto-detected) from memory, with rate scaling on; its first line is also tried as a generator
// spec and its second as a token-length spec. Checks the output contract: time order, lengths
// >= 1. Draining stops after a few thousand requests so one input stays cheap.
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/sim/trace.h"

static void drain(sl_trace_t *t) {
  sl_req_t r;
  sl_err_t e;
  double last = 0;
  for (int i = 0; i < 4000; i++) {
    int rc = sl_trace_next(t, &r, &e);
    if (rc < 0 && (e.code != rc || !e.msg[0])) __builtin_trap(); // errors carry a message
    if (rc <= 0) return;
    if (!(r.t >= last) || r.in_tokens == 0 || r.out_tokens == 0) __builtin_trap();
    last = r.t;
  }
}

// Line k (from 0) of the input, NUL-terminated, into buf.
static void line(const uint8_t *data, size_t size, int k, char *buf, size_t cap) {
  size_t i = 0;
  for (; k > 0 && i < size; i++)
    if (data[i] == '\n') k--;
  size_t n = 0;
  while (i < size && data[i] != '\n' && data[i] != '\0' && n + 1 < cap) buf[n++] = (char)data[i++];
  buf[n] = '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sl_trace_opts_t o;
  sl_trace_opts_init(&o);
  o.rate_scale = size & 1 ? 2.5 : 0.6;
  o.seed = size;
  for (int f = SL_TRACE_AUTO; f <= SL_TRACE_SERVEGEN_AGG; f++) {
    sl_trace_t *t;
    sl_err_t e;
    o.format = f;
    int rc = sl_trace_open_mem(data, size, "fuzz.csv", &o, &t, &e);
    if (rc < 0 && !e.msg[0]) __builtin_trap();
    if (rc == 0) {
      drain(t);
      sl_trace_free(t);
    }
  }
  // Specs only as generators: a name without ':' or with '/' could be a real path.
  char spec[256], tokens[256];
  line(data, size, 0, spec, sizeof spec);
  line(data, size, 1, tokens, sizeof tokens);
  if (strchr(spec, ':') && !strchr(spec, '/')) {
    sl_trace_t *t;
    sl_err_t e;
    o.format = SL_TRACE_AUTO;
    o.duration = 100;
    o.tokens = tokens[0] ? tokens : NULL;
    if (sl_trace_open(spec, &o, &t, &e) == 0) {
      drain(t);
      sl_trace_free(t);
    }
  }
  return 0;
}
