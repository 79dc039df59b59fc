// Error strings.
#include "core/util/err.h"

#include <stdio.h>
#include <string.h>

int sl_verr(sl_err_t *err, int code, const char *fmt, va_list ap) {
  if (err) {
    err->code = code;
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
  }
  return code;
}

int sl_err(sl_err_t *err, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  sl_verr(err, code, fmt, ap);
  va_end(ap);
  return code;
}

int sl_err_wrap(sl_err_t *err, const char *fmt, ...) {
  if (!err) return SL_EINVAL;
  char prefix[SL_ERR_MAX], old[SL_ERR_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  memcpy(old, err->msg, sizeof old);
  size_t n = strlen(prefix);
  if (n > sizeof err->msg - 3) n = sizeof err->msg - 3;
  memcpy(err->msg, prefix, n);
  memcpy(err->msg + n, ": ", 2);
  size_t room = sizeof err->msg - n - 3;
  size_t m = strnlen(old, room);
  memcpy(err->msg + n + 2, old, m);
  err->msg[n + 2 + m] = '\0';
  return err->code;
}

void sl_err_clear(sl_err_t *err) {
  if (!err) return;
  err->code = 0;
  err->msg[0] = '\0';
}

const char *sl_strerror(int code) {
  switch (code) {
  case SL_OK:
    return "ok";
  case SL_ENOMEM:
    return "out of memory";
  case SL_EINVAL:
    return "invalid argument";
  case SL_EIO:
    return "i/o error";
  case SL_EPARSE:
    return "parse error";
  case SL_ENOTFOUND:
    return "not found";
  case SL_EBUDGET:
    return "budget exceeded";
  case SL_ERANGE:
    return "out of range";
  case SL_ESTATE:
    return "invalid state";
  default:
    return "unknown error";
  }
}
