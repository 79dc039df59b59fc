// libFuzzer: arbitrary bytes as a watch stream (split at a point the input chooses) and as one
// JSON text. Every value that comes out must serialize and parse back equal; failures say why.
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/util/json.h"

static int on_value(void *ud, sl_json_t *v) {
  char *out;
  size_t len;
  sl_err_t err;
  if (sl_json_write(v, &out, &len, &err) == 0) {
    sl_json_t *back = sl_json_parse(out, len, NULL, &err);
    if (!back || !sl_json_equal(v, back)) __builtin_trap();
    sl_json_free(back);
    free(out);
  }
  sl_json_free(v);
  (*(int *)ud)++;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  size_t cut = data[0] % size;
  const char *s = (const char *)data + 1;
  size_t n = size - 1;
  if (cut > n) cut = n;
  int count = 0;
  sl_err_t err = {0};
  sl_json_limits_t lim = {32, 1 << 16};
  sl_json_stream_t *st = sl_json_stream_new(&lim, on_value, &count);
  int rc = sl_json_stream_feed(st, s, cut, &err);
  if (rc == 0) rc = sl_json_stream_feed(st, s + cut, n - cut, &err);
  if (rc == 0) rc = sl_json_stream_finish(st, &err);
  if (rc < 0 && err.msg[0] == '\0') __builtin_trap();
  sl_json_stream_free(st);
  sl_json_t *j = sl_json_parse(s, n, &lim, &err);
  if (!j && err.msg[0] == '\0') __builtin_trap();
  sl_json_free(j);
  return 0;
}
