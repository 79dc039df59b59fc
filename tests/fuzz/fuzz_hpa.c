// libFuzzer: arbitrary bytes as an HPA's spec (JSON) through the emulator's HPA arithmetic. A spec
// either parses, with min <= max and every policy in range, or fails with a message naming a
// field; a parsed spec then takes a run of recommendations drawn from the input's bytes, and
// every count it answers stays inside [min, max] or at the current count (never below 0).
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/emu/hpacalc.h"
#include "core/util/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sl_json_limits_t lim = {32, 1 << 20};
  sl_err_t err;
  sl_json_t *j = sl_json_parse((const char *)data, size, &lim, &err);
  if (!j) return 0;
  static const sl_hpa_flags_t flags = {0.1, 300};
  sl_hpa_spec_t sp;
  char msg[256] = "";
  if (sl_hpa_spec_parse(j, &flags, &sp, msg, sizeof msg) < 0) {
    if (!strstr(msg, "spec.")) __builtin_trap(); // every failure names its field
    sl_json_free(j);
    return 0;
  }
  if (sp.min < 0 || sp.max < sp.min || sp.up.npolicies > SL_HPA_MAX_POLICIES ||
      sp.down.npolicies > SL_HPA_MAX_POLICIES)
    __builtin_trap();
  sl_hpa_state_t st = {0};
  long cur = sp.min > 0 ? sp.min : 1;
  double now = 0;
  for (size_t i = 0; i < size && i < 64; i++) {
    long raw = (long)data[i] * (i % 3 == 0 ? 7 : 1);
    now += 1 + data[(i * 7) % size] % 40;
    sl_hpa_why_t why;
    long d = sl_hpa_normalize(&st, &sp, now, cur, raw, &why);
    if (d < 0 || !why.able_reason || !why.limited_reason) __builtin_trap();
    if (d != cur && (d > sp.max || d < sp.min)) __builtin_trap();
    sl_hpa_record_scale(&st, &sp, now, cur, d);
    cur = d;
    int64_t usage = (int64_t)data[i] * 1000;
    if (sl_hpa_external_replicas(i & 1, usage, 1000, cur, cur, cur, &sp) < 0) __builtin_trap();
  }
  sl_hpa_state_free(&st);
  sl_json_free(j);
  return 0;
}
