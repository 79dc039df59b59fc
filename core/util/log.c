// Logging. One process-wide level and sink; the controller is single-threaded on its loop.
#include "core/util/log.h"

#include <stdio.h>

static sl_log_level_t g_level = SL_LOG_INFO;
static sl_log_sink_fn g_sink;
static void *g_sink_ud;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void sl_log_set_level(sl_log_level_t level) {
  g_level = level;
}

sl_log_level_t sl_log_get_level(void) {
  return g_level;
}

void sl_log_set_sink(sl_log_sink_fn fn, void *ud) {
  g_sink = fn;
  g_sink_ud = ud;
}

void sl_log(sl_log_level_t level, const char *fmt, ...) {
  if (level < g_level) return;
  char buf[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (g_sink) {
    g_sink(g_sink_ud, level, buf);
    return;
  }
  fprintf(stderr, "sluice %s: %s\n", level_names[level], buf);
}
