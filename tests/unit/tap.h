// Minimal TAP-style assertions for the C unit tests. Each test binary prints "ok N - what" /
// "not ok N - what" and returns non-zero from tap_done() when anything failed.
#pragma once

#include <math.h>
#include <string.h>

void tap_ok(int cond, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int tap_done(void);

#define T_OK(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define T_EQ_INT(a, b, what)                                                                       \
  do {                                                                                             \
    long long a_ = (long long)(a), b_ = (long long)(b);                                            \
    tap_ok(a_ == b_, __FILE__, __LINE__, "%s (got %lld, want %lld)", what, a_, b_);                \
  } while (0)
#define T_NEAR(a, b, tol, what)                                                                    \
  do {                                                                                             \
    double a_ = (a), b_ = (b);                                                                     \
    tap_ok(fabs(a_ - b_) <= (tol), __FILE__, __LINE__, "%s (got %.9g, want %.9g +- %g)", what, a_, \
           b_, (double)(tol));                                                                     \
  } while (0)
#define T_STR_HAS(hay, needle, what)                                                               \
  do {                                                                                             \
    const char *h_ = (hay), *n_ = (needle);                                                        \
    tap_ok(h_ &&strstr(h_, n_) != NULL, __FILE__, __LINE__, "%s (\"%s\" should contain \"%s\")",   \
           what, h_ ? h_ : "(null)", n_);                                                          \
  } while (0)
