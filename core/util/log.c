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
  char raw[2048], buf[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(raw, sizeof raw, fmt, ap);
  va_end(ap);
  // Messages carry text from policies (error messages, names): no escape sequences reach the
  // terminal, and a message's own newlines (tracebacks) indent what follows, so no line of a
  // message can pass for a log line of its own.
  size_t o = 0;
  for (const unsigned char *c = (const unsigned char *)raw; *c && o + 8 < sizeof buf; c++) {
    if (*c == '\n') {
      buf[o++] = '\n';
      if (c[1] != '\t') buf[o++] = '\t';
    } else if ((*c < 0x20 && *c != '\t') || *c == 0x7f) {
      o += (size_t)snprintf(buf + o, sizeof buf - o, "\\x%02x", *c);
    } else {
      buf[o++] = (char)*c;
    }
  }
  buf[o] = '\0';
  if (g_sink) {
    g_sink(g_sink_ud, level, buf);
    return;
  }
  fprintf(stderr, "sluice %s: %s\n", level_names[level], buf);
}
