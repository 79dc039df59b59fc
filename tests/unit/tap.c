#include "tests/unit/tap.h"

#include <stdarg.h>
#include <stdio.h>

static int n_run, n_failed;

void tap_ok(int cond, const char *file, int line, const char *fmt, ...) {
  va_list ap;
  n_run++;
  if (!cond) n_failed++;
  printf("%s %d - ", cond ? "ok" : "not ok", n_run);
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  if (!cond) printf("  [%s:%d]", file, line);
  printf("\n");
}

int tap_done(void) {
  printf("# %d assertions, %d failed\n", n_run, n_failed);
  return n_failed ? 1 : 0;
}
