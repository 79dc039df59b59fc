// Leveled logging to stderr (or a sink installed by tests and the REPL).
#pragma once

#include <stdarg.h>

typedef enum { SL_LOG_DEBUG, SL_LOG_INFO, SL_LOG_WARN, SL_LOG_ERROR } sl_log_level_t;

typedef void (*sl_log_sink_fn)(void *ud, sl_log_level_t level, const char *msg);

void sl_log_set_level(sl_log_level_t level);
sl_log_level_t sl_log_get_level(void);
// Replaces the stderr sink; pass NULL to restore it.
void sl_log_set_sink(sl_log_sink_fn fn, void *ud);
void sl_log(sl_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define sl_debug(...) sl_log(SL_LOG_DEBUG, __VA_ARGS__)
#define sl_info(...)  sl_log(SL_LOG_INFO, __VA_ARGS__)
#define sl_warn(...)  sl_log(SL_LOG_WARN, __VA_ARGS__)
#define sl_error(...) sl_log(SL_LOG_ERROR, __VA_ARGS__)
