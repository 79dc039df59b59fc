// The buffered line reader the trace file formats share (from a file or from memory), and the
// CSV field and number helpers they parse lines with.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/sim/trace.h"

typedef struct {
  int fd;          // -1 when reading from memory
  const char *mem; // memory input (not owned)
  size_t mem_len, mem_pos;
  char *buf; // fd input: read buffer
  size_t cap, beg, end;
  bool eof;
  long line;  // number of the line last returned, from 1
  char *name; // for messages
} sl_trace_lines_t;

// Opens path (SL_EIO naming it) or wraps memory.
int sl_trace_lines_open(sl_trace_lines_t *l, const char *path, sl_err_t *err);
int sl_trace_lines_mem(sl_trace_lines_t *l, const void *data, size_t len, const char *name,
                       sl_err_t *err);
// 1 = *line/*len set (no newline; a trailing '\r' dropped; valid until the next call), 0 = end,
// < 0 = error.
int sl_trace_lines_next(sl_trace_lines_t *l, const char **line, size_t *len, sl_err_t *err);
// The first line, without consuming it (for format detection).
int sl_trace_lines_peek(sl_trace_lines_t *l, const char **line, size_t *len, sl_err_t *err);
void sl_trace_lines_deinit(sl_trace_lines_t *l);
// Formats "NAME:LINE: " + message as an SL_EPARSE error.
int sl_trace_lines_err(const sl_trace_lines_t *l, sl_err_t *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

// Splits a CSV line (no quoting in these formats) into at most max fields; returns the count
// (which may exceed max: the rest are not stored).
int sl_trace_lines_split(const char *line, size_t len, const char **f, size_t *flen, int max);
// Whole-field numbers; false on anything else (empty, trailing junk, out of range, NaN).
bool sl_trace_lines_num(const char *s, size_t n, double *out);
bool sl_trace_lines_uint(const char *s, size_t n, uint64_t *out);
