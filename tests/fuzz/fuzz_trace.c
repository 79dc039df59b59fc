// libFuzzer: arbitrary bytes through the trace readers (Azure CSV, Mooncake JSONL, ServeGen client
// and aggregate CSVs, told apart by content) and the slicing/scaling pipeline. The first byte picks
// the format (or detection) and a rate scale, so every reader and the copy path are reached. Any
// input must yield requests in time order and then end or fail with a message naming the line.
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/sim/trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  sl_trace_opts_t o;
  sl_trace_opts_init(&o);
  o.format = data[0] % 5;  // SL_TRACE_AUTO .. SL_TRACE_SERVEGEN_AGG
  o.rate_scale = (data[0] >> 3) & 1 ? 2.5 : 0.7;
  o.duration = 3600;  // generated ServeGen windows stay bounded
  sl_trace_t *t;
  sl_err_t err = {0};
  if (sl_trace_open_mem(data + 1, size - 1, "fuzz.trace", &o, &t, &err) < 0) {
    if (err.msg[0] == '\0') __builtin_trap();
    return 0;
  }
  sl_req_t r;
  double last = -1;
  int rc, n = 0;
  while ((rc = sl_trace_next(t, &r, &err)) > 0 && n++ < 200000) {
    if (r.t < last || r.in_tokens < 1 || r.out_tokens < 1) __builtin_trap();
    last = r.t;
  }
  if (rc < 0 && err.msg[0] == '\0') __builtin_trap();
  sl_trace_free(t);
  return 0;
}
