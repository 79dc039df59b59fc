// Lua 5.1 pattern matching with a step counter. Semantics follow the reference manual §5.4.1 as
// LuaJIT implements them; every unit of work (a character tested, a backtrack, a byte compared in
// a back-reference or a %b scan) is a step, so the cost of any match is bounded by max_steps.
#include "core/lua/pattern.h"

#include <string.h>

typedef const unsigned char *ptr_t;

#define ESC      '%'
#define SPECIALS "^$*+?.([%-"

static int fail(sl_pattern_t *ms, const char *msg) {
  if (!ms->err) {
    ms->err = SL_PATTERN_EMALFORMED;
    ms->msg = msg;
  }
  return 0;
}

// One step; false once the limit is reached (and from then on).
static inline int step(sl_pattern_t *ms, uint64_t n) {
  ms->steps += n;
  if (ms->steps > ms->max_steps) {
    if (!ms->err) ms->err = SL_PATTERN_EBUDGET;
    return 0;
  }
  return !ms->err;
}

// ASCII classes, independent of the process locale (as LuaJIT's own tables are).
static int is_lower(int c) {
  return c >= 'a' && c <= 'z';
}
static int is_upper(int c) {
  return c >= 'A' && c <= 'Z';
}
static int is_alpha(int c) {
  return is_lower(c) || is_upper(c);
}
static int is_digit(int c) {
  return c >= '0' && c <= '9';
}
static int is_alnum(int c) {
  return is_alpha(c) || is_digit(c);
}
static int is_space(int c) {
  return c == ' ' || (c >= '\t' && c <= '\r');
}
static int is_cntrl(int c) {
  return c < 32 || c == 127;
}
static int is_punct(int c) {
  return c > 32 && c < 127 && !is_alnum(c);
}
static int is_xdigit(int c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int match_class(int c, int cl) {
  int res;
  switch (is_upper(cl) ? cl + ('a' - 'A') : cl) {
  case 'a':
    res = is_alpha(c);
    break;
  case 'c':
    res = is_cntrl(c);
    break;
  case 'd':
    res = is_digit(c);
    break;
  case 'g':
    res = c > 32 && c < 127;
    break;
  case 'l':
    res = is_lower(c);
    break;
  case 'p':
    res = is_punct(c);
    break;
  case 's':
    res = is_space(c);
    break;
  case 'u':
    res = is_upper(c);
    break;
  case 'w':
    res = is_alnum(c);
    break;
  case 'x':
    res = is_xdigit(c);
    break;
  case 'z':
    res = (c == 0);
    break;
  default:
    return cl == c; // %. for a non-class letter or punctuation: the character itself
  }
  return is_upper(cl) ? !res : res;
}

// p points at '[', ec at the closing ']'.
static int match_bracket(int c, ptr_t p, ptr_t ec) {
  int sig = 1;
  if (p[1] == '^') {
    sig = 0;
    p++;
  }
  while (++p < ec) {
    if (*p == ESC) {
      p++;
      if (match_class(c, *p)) return sig;
    } else if (p + 2 < ec && p[1] == '-') {
      if (p[0] <= c && c <= p[2]) return sig;
      p += 2;
    } else if (*p == c) {
      return sig;
    }
  }
  return !sig;
}

// The end of the single-character item starting at p, or NULL (with ms->err) if malformed.
static ptr_t class_end(sl_pattern_t *ms, ptr_t p) {
  int c = *p++;
  if (c == ESC) {
    if (p >= ms->p_end) return fail(ms, "malformed pattern (ends with '%')"), NULL;
    return p + 1;
  }
  if (c == '[') {
    if (p < ms->p_end && *p == '^') p++;
    // The first character of a set is literal even when it is ']'.
    do {
      if (p >= ms->p_end) return fail(ms, "malformed pattern (missing ']')"), NULL;
      c = *p++;
      if (c == ESC) {
        if (p >= ms->p_end) return fail(ms, "malformed pattern (missing ']')"), NULL;
        p++;
      }
    } while (p >= ms->p_end || *p != ']');
    return p + 1;
  }
  return p;
}

static int single_match(sl_pattern_t *ms, ptr_t s, ptr_t p, ptr_t ep) {
  if (s >= ms->src_end) return 0;
  int c = *s;
  switch (*p) {
  case '.':
    return 1;
  case ESC:
    return match_class(c, p[1]);
  case '[':
    return match_bracket(c, p, ep - 1);
  default:
    return *p == c;
  }
}

static ptr_t do_match(sl_pattern_t *ms, ptr_t s, ptr_t p);

static ptr_t match_balance(sl_pattern_t *ms, ptr_t s, ptr_t p) {
  if (p + 1 >= ms->p_end) return fail(ms, "unbalanced pattern"), NULL;
  if (s >= ms->src_end || *s != p[0]) return NULL;
  int open = p[0], close = p[1], depth = 1;
  while (++s < ms->src_end) {
    if (!step(ms, 1)) return NULL;
    if (*s == close) {
      if (--depth == 0) return s + 1;
    } else if (*s == open) {
      depth++;
    }
  }
  return NULL;
}

static ptr_t max_expand(sl_pattern_t *ms, ptr_t s, ptr_t p, ptr_t ep) {
  ptrdiff_t i = 0;
  while (single_match(ms, s + i, p, ep)) {
    if (!step(ms, 1)) return NULL;
    i++;
  }
  // Longest first, then back off one character at a time.
  while (i >= 0) {
    ptr_t res = do_match(ms, s + i, ep + 1);
    if (res || ms->err) return res;
    i--;
  }
  return NULL;
}

static ptr_t min_expand(sl_pattern_t *ms, ptr_t s, ptr_t p, ptr_t ep) {
  for (;;) {
    ptr_t res = do_match(ms, s, ep + 1);
    if (res || ms->err) return res;
    if (!single_match(ms, s, p, ep)) return NULL;
    s++;
  }
}

static ptr_t start_capture(sl_pattern_t *ms, ptr_t s, ptr_t p, ptrdiff_t what) {
  if (ms->level >= SL_PATTERN_MAXCAPTURES) return fail(ms, "too many captures"), NULL;
  ms->capture[ms->level].init = s;
  ms->capture[ms->level].len = what;
  ms->level++;
  ptr_t res = do_match(ms, s, p);
  if (!res) ms->level--;
  return res;
}

static ptr_t end_capture(sl_pattern_t *ms, ptr_t s, ptr_t p) {
  int l = ms->level - 1;
  while (l >= 0 && ms->capture[l].len != SL_PATTERN_CAP_UNFINISHED) l--;
  if (l < 0) return fail(ms, "invalid pattern capture"), NULL;
  ms->capture[l].len = s - ms->capture[l].init;
  ptr_t res = do_match(ms, s, p);
  if (!res) ms->capture[l].len = SL_PATTERN_CAP_UNFINISHED;
  return res;
}

static ptr_t match_backref(sl_pattern_t *ms, ptr_t s, int which) {
  int l = which - '1';
  if (l < 0 || l >= ms->level || ms->capture[l].len == SL_PATTERN_CAP_UNFINISHED)
    return fail(ms, "invalid capture index"), NULL;
  size_t len = ms->capture[l].len == SL_PATTERN_CAP_POSITION ? 0 : (size_t)ms->capture[l].len;
  if (!step(ms, len)) return NULL;
  if ((size_t)(ms->src_end - s) >= len && memcmp(ms->capture[l].init, s, len) == 0) return s + len;
  return NULL;
}

static ptr_t do_match_body(sl_pattern_t *ms, ptr_t s, ptr_t p) {
  for (;;) {
    if (p >= ms->p_end) return s;
    if (!step(ms, 1)) return NULL;
    switch (*p) {
    case '(':
      if (p + 1 < ms->p_end && p[1] == ')')
        return start_capture(ms, s, p + 2, SL_PATTERN_CAP_POSITION);
      return start_capture(ms, s, p + 1, SL_PATTERN_CAP_UNFINISHED);
    case ')':
      return end_capture(ms, s, p + 1);
    case '$':
      if (p + 1 == ms->p_end) return s == ms->src_end ? s : NULL;
      break; // a '$' elsewhere is an ordinary character
    case ESC:
      if (p + 1 >= ms->p_end) break; // class_end reports it
      if (p[1] == 'b') {
        s = match_balance(ms, s, p + 2);
        if (!s) return NULL;
        p += 4;
        continue;
      }
      if (p[1] == 'f') {
        p += 2;
        if (p >= ms->p_end || *p != '[') return fail(ms, "missing '[' after '%f' in pattern"), NULL;
        ptr_t ep = class_end(ms, p);
        if (!ep) return NULL;
        int prev = (s == ms->src_init) ? 0 : s[-1];
        int cur = (s < ms->src_end) ? *s : 0;
        if (match_bracket(prev, p, ep - 1) || !match_bracket(cur, p, ep - 1)) return NULL;
        p = ep;
        continue;
      }
      if (is_digit(p[1])) {
        s = match_backref(ms, s, p[1]);
        if (!s) return NULL;
        p += 2;
        continue;
      }
      break;
    default:
      break;
    }
    // A single-character item, possibly followed by a quantifier.
    ptr_t ep = class_end(ms, p);
    if (!ep) return NULL;
    int m = single_match(ms, s, p, ep);
    if (ep < ms->p_end) {
      switch (*ep) {
      case '?':
        if (m) {
          ptr_t res = do_match(ms, s + 1, ep + 1);
          if (res || ms->err) return res;
        }
        p = ep + 1;
        continue;
      case '*':
        return max_expand(ms, s, p, ep);
      case '+':
        return m ? max_expand(ms, s + 1, p, ep) : NULL;
      case '-':
        return min_expand(ms, s, p, ep);
      default:
        break;
      }
    }
    if (!m) return NULL;
    s++;
    p = ep;
  }
}

static ptr_t do_match(sl_pattern_t *ms, ptr_t s, ptr_t p) {
  if (ms->err) return NULL;
  if (++ms->depth > SL_PATTERN_MAXDEPTH) {
    ms->depth--;
    return fail(ms, "pattern too complex"), NULL;
  }
  ptr_t res = do_match_body(ms, s, p);
  ms->depth--;
  return ms->err ? NULL : res;
}

void sl_pattern_init(sl_pattern_t *ms, const char *s, size_t ls, const char *p, size_t lp,
                     uint64_t max_steps) {
  ms->src_init = (ptr_t)s;
  ms->src_end = (ptr_t)s + ls;
  ms->p_end = (ptr_t)p + lp;
  ms->level = 0;
  ms->depth = 0;
  ms->steps = 0;
  ms->max_steps = max_steps;
  ms->err = SL_PATTERN_OK;
  ms->msg = NULL;
}

const char *sl_pattern_match(sl_pattern_t *ms, const char *s, const char *p) {
  ms->level = 0;
  ms->depth = 0;
  return (const char *)do_match(ms, (ptr_t)s, (ptr_t)p);
}

int sl_pattern_is_plain(const char *p, size_t lp) {
  for (size_t i = 0; i < lp; i++)
    if (p[i] && strchr(SPECIALS, p[i])) return 0;
  return 1;
}
