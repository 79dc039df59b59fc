// Error codes and the error-string carrier shared by every module.
// Functions return 0 or a negative SL_E* code and describe the failure in an sl_err_t.
#pragma once

#include <stdarg.h>
#include <stddef.h>

enum {
  SL_OK = 0,
  SL_ENOMEM = -1, // allocation failed
  SL_EINVAL = -2, // bad argument or value
  SL_EIO = -3,    // file or network I/O
  SL_EPARSE = -4, // malformed input (YAML, trace, exposition text)
  SL_ENOTFOUND = -5,
  SL_EBUDGET = -6, // instruction or memory budget exceeded
  SL_ERANGE = -7,  // numeric result out of range / did not converge
  SL_ESTATE = -8,  // operation not valid in the current state
};

#define SL_ERR_MAX 1024

typedef struct {
  int code;
  char msg[SL_ERR_MAX];
} sl_err_t;

// Sets err (if not NULL) and returns code, so callers can write `return sl_err(err, ...)`.
int sl_err(sl_err_t *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int sl_verr(sl_err_t *err, int code, const char *fmt, va_list ap);
// Prepends "prefix: " to an existing message (keeps the code).
int sl_err_wrap(sl_err_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sl_err_clear(sl_err_t *err);
// A short name for an SL_E* code ("out of memory"), for messages about a code from elsewhere.
const char *sl_strerror(int code);

// Copies src into dst[n] (always terminated, truncated if needed). Cheaper than snprintf("%s").
static inline void sl_strlcpy(char *dst, const char *src, size_t n) {
  size_t i = 0;
  if (!n) return;
  for (; i + 1 < n && src[i]; i++) dst[i] = src[i];
  dst[i] = '\0';
}
