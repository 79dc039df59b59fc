// libFuzzer: the exposition parser. The first byte picks the format (bit 0: OpenMetrics) and
// whether a family filter runs too (bit 1); the rest is the page. Besides memory safety it checks
// the output contract: names and labels well formed and inside the page, each sample named its
// family's name plus its role's suffix, label values free of NUL; failures carry "line N: ...";
// and a filtered parse delivers exactly the wanted families' samples of a full parse, never
// failing where the full parse succeeds (declined lines are only skipped).
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/scrape/expo.h"

#define MAX_KEPT 4096

typedef struct {
  const char *buf;
  size_t len;
  int filter; // decline every family with an odd index
  int families;
  int fam_index; // of the family announced last
  size_t n;
  uint64_t hash[MAX_KEPT]; // per delivered sample
  int fam[MAX_KEPT];
} run_t;

static void check(int ok) {
  if (!ok) __builtin_trap();
}

static int in_buf(const run_t *r, sl_expo_str_t s) {
  return s.ptr >= r->buf && s.ptr + s.len <= r->buf + r->len;
}

static uint64_t mix(uint64_t h, const void *p, size_t n) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
  return h;
}

static int is_name(sl_expo_str_t s, int label) {
  if (!s.len) return 0;
  for (size_t i = 0; i < s.len; i++) {
    char c = s.ptr[i];
    int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (!label && c == ':') ||
             (i && c >= '0' && c <= '9');
    if (!ok) return 0;
  }
  return 1;
}

static volatile unsigned char sink;

static int on_family(void *ud, const sl_expo_family_t *f) {
  run_t *r = ud;
  check(in_buf(r, f->name) && is_name(f->name, 0));
  for (size_t i = 0; i < f->help.len; i++) sink ^= f->help.ptr[i]; // readable, every byte
  for (size_t i = 0; i < f->unit.len; i++) sink ^= f->unit.ptr[i];
  r->fam_index = r->families++;
  return r->filter ? !(r->fam_index & 1) : 1;
}

static int on_sample(void *ud, const sl_expo_sample_t *s) {
  run_t *r = ud;
  const sl_expo_family_t *f = s->family;
  check(in_buf(r, s->name) && is_name(s->name, 0));
  const char *sfx = sl_expo_role_suffix(s->role);
  size_t k = strlen(sfx);
  check(s->name.len == f->name.len + k && !memcmp(s->name.ptr, f->name.ptr, f->name.len) &&
        !memcmp(s->name.ptr + f->name.len, sfx, k));
  if (s->role == SL_EXPO_ROLE_BUCKET)
    check(!isnan(s->le));
  else
    check(isnan(s->le));
  uint64_t h = mix(0xcbf29ce484222325ull, s->name.ptr, s->name.len);
  h = mix(h, &s->value, sizeof s->value);
  h = mix(h, &s->ts_ms, sizeof s->ts_ms);
  for (size_t i = 0; i < s->nlabels; i++) {
    const sl_expo_label_t *l = &s->labels[i];
    check(in_buf(r, l->name) && is_name(l->name, 1));
    check(!memchr(l->value.ptr, 0, l->value.len));
    for (size_t j = 0; j < i; j++)
      check(l->name.len != s->labels[j].name.len ||
            memcmp(l->name.ptr, s->labels[j].name.ptr, l->name.len));
    h = mix(h, l->name.ptr, l->name.len);
    h = mix(h, "=", 1);
    h = mix(h, l->value.ptr, l->value.len);
  }
  if (r->n < MAX_KEPT) r->hash[r->n] = h, r->fam[r->n] = r->fam_index;
  r->n++;
  return 0;
}

static sl_expo_parser_t *reused;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  sl_expo_format_t fmt = data[0] & 1 ? SL_EXPO_OPENMETRICS : SL_EXPO_TEXT_004;
  int filter = data[0] & 2;
  // An exact-size copy, so a read one past the page is caught.
  size_t len = size - 1;
  char *buf = malloc(len ? len : 1);
  memcpy(buf, data + 1, len);
  sl_expo_handler_t h = {on_family, on_sample};
  sl_err_t err;

  static run_t full, part;
  full = (run_t){.buf = buf, .len = len};
  int rc_full = sl_expo_parse(buf, len, fmt, &h, &full, &err);
  check(rc_full == 0 || rc_full == SL_EPARSE);
  if (rc_full) check(err.code == rc_full && !strncmp(err.msg, "line ", 5));

  if (filter) {
    if (!reused) reused = sl_expo_parser_new();
    part = (run_t){.buf = buf, .len = len, .filter = 1};
    int rc_part = sl_expo_parser_run(reused, buf, len, fmt, &h, &part, &err);
    check(rc_part == 0 || rc_part == SL_EPARSE);
    if (rc_part) check(rc_full != 0);
    if (!rc_full) {
      check(rc_part == 0 && part.families == full.families);
      size_t j = 0;
      for (size_t i = 0; i < full.n && i < MAX_KEPT; i++) {
        if (full.fam[i] & 1) continue;
        check(j < part.n && part.hash[j] == full.hash[i] && part.fam[j] == full.fam[i]);
        j++;
      }
      if (full.n <= MAX_KEPT) check(j == part.n);
    }
  }
  free(buf);
  return 0;
}
