// Small string helpers the libraries do not give.
#pragma once

#include <stddef.h>

// Copies src[0..len) into dst[n], writing control characters (below 0x20 but tab, and 0x7f) as
// \n, \r or \xNN, so text from a policy can reach a log line or a terminal without forging lines or
// sending escape sequences. Truncates to fit (never mid-escape); always NUL-terminates. Returns
// the length written.
size_t sl_str_escape(char *dst, size_t n, const char *src, size_t len);
