// A Lua 5.1 string-pattern matcher (the dialect of string.find/match/gmatch/gsub, with LuaJIT's
// %f frontier and embedded NULs) that counts its steps and stops when a step limit is reached, so
// a catastrophic pattern in a policy VM fails with the budget error in bounded time instead of
// running for hours inside C where no instruction hook fires. Pure C: no Lua, no allocation.
#pragma once

#include <stddef.h>
#include <stdint.h>

#define SL_PATTERN_MAXCAPTURES 32
// Nested sub-matches (captures, optional items, expansions) allowed before "pattern too complex".
#define SL_PATTERN_MAXDEPTH 200

enum {
  SL_PATTERN_CAP_UNFINISHED = -1,
  SL_PATTERN_CAP_POSITION = -2,
};

enum {
  SL_PATTERN_OK = 0,
  SL_PATTERN_EMALFORMED = 1, // bad pattern text; msg says what
  SL_PATTERN_EBUDGET = 2,    // step limit reached
};

typedef struct {
  const unsigned char *src_init, *src_end; // subject
  const unsigned char *p_end;              // end of pattern
  int level;                               // captures opened so far
  int depth;
  uint64_t steps, max_steps;
  int err;         // SL_PATTERN_* once the match must stop
  const char *msg; // static description when err == SL_PATTERN_EMALFORMED
  struct {
    const unsigned char *init;
    ptrdiff_t len; // length, or SL_PATTERN_CAP_*
  } capture[SL_PATTERN_MAXCAPTURES];
} sl_pattern_t;

// Prepares a match of pattern p (lp bytes) against subject s (ls bytes); at most max_steps steps
// over all sl_pattern_match calls until the next init.
void sl_pattern_init(sl_pattern_t *ms, const char *s, size_t ls, const char *p, size_t lp,
                     uint64_t max_steps);
// Tries to match the pattern starting at p against the subject starting at s (both pointers into
// the buffers given to init). Returns the end of the match, or NULL when there is no match or
// when ms->err was set (check it). Resets the captures first.
const char *sl_pattern_match(sl_pattern_t *ms, const char *s, const char *p);
// True when the pattern contains no character with a special meaning (plain find applies).
int sl_pattern_is_plain(const char *p, size_t lp);
