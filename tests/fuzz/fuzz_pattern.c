// libFuzzer: the budgeted pattern matcher. The input is split at its first NUL-free '\x01' into
// pattern and subject (or halves); every start position is tried under a step limit. Must never
// crash, read out of bounds or run past the limit; captures must lie inside the subject.
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/lua/pattern.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *sep = memchr(data, 1, size);
  size_t lp = sep ? (size_t)(sep - data) : size / 2;
  const char *p = (const char *)data, *s = (const char *)data + lp + (sep != NULL);
  size_t ls = size - lp - (sep != NULL);
  int anchor = lp > 0 && *p == '^';
  if (anchor) p++, lp--;
  sl_pattern_t ms;
  sl_pattern_init(&ms, s, ls, p, lp, 20000);
  for (const char *at = s; at <= s + ls; at++) {
    const char *e = sl_pattern_match(&ms, at, p);
    if (ms.err) break;
    if (e) {
      if (e < at || e > s + ls) __builtin_trap();
      for (int i = 0; i < ms.level; i++) {
        const char *ci = (const char *)ms.capture[i].init;
        if (ms.capture[i].len >= 0 && (ci < s || ci + ms.capture[i].len > s + ls)) __builtin_trap();
      }
      break;
    }
    if (anchor) break;
  }
  // The limit binds: past it the match stops with the budget error, having overshot by at most
  // one step's worth (a back-reference or %b scan counts its length).
  if (ms.steps > ms.max_steps && ms.err != SL_PATTERN_EBUDGET) __builtin_trap();
  if (ms.steps > ms.max_steps + ls + lp + 1) __builtin_trap();
  if (ms.err == SL_PATTERN_EMALFORMED && !ms.msg) __builtin_trap();
  return 0;
}
