// String helpers. See str.h.
#include "core/util/str.h"

#include <stdio.h>

size_t sl_str_escape(char *dst, size_t n, const char *src, size_t len) {
  if (!n) return 0;
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)src[i];
    char esc[5];
    size_t k = 0;
    if ((c >= 0x20 && c != 0x7f) || c == '\t') {
      esc[k++] = (char)c;
    } else if (c == '\n' || c == '\r') {
      esc[k++] = '\\';
      esc[k++] = c == '\n' ? 'n' : 'r';
    } else {
      snprintf(esc, sizeof esc, "\\x%02x", c);
      k = 4;
    }
    if (o + k + 1 > n) break;
    for (size_t j = 0; j < k; j++) dst[o++] = esc[j];
  }
  dst[o] = '\0';
  return o;
}
