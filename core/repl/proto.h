// The REPL's line protocol between `sluice repl` and a running controller (docs/repl.md): one
// JSON object per line in each direction over a unix socket. The server greets, then answers each
// request with one reply, in order. This module frames lines out of a byte stream with a cap,
// parses and writes requests and replies, and cleans text for a terminal. The server parses what
// any local process sends, so everything here treats its input as hostile (tests/fuzz/fuzz_repl.c).
#pragma once

#include <stddef.h>

#include "core/util/err.h"
#include "core/util/json.h"

#define SL_REPL_PROTO_VERSION 1
// A request line, newline included: a Lua chunk typed at a prompt is far smaller.
#define SL_REPL_LINE_MAX ((size_t)64 << 10)
// The text of one reply (what a command prints); longer output is cut with a note.
#define SL_REPL_OUT_MAX ((size_t)256 << 10)
// A reply line as the client accepts it: the text above, escaped, and the JSON around it.
#define SL_REPL_REPLY_MAX ((size_t)2 << 20)

// ---- framing ------------------------------------------------------------------------------------

typedef struct {
  char *buf;
  size_t len, cap;
  size_t start; // first byte not yet handed out
  size_t max;   // longest line accepted, newline included
} sl_repl_proto_lines_t;

void sl_repl_proto_lines_init(sl_repl_proto_lines_t *b, size_t max);
void sl_repl_proto_lines_deinit(sl_repl_proto_lines_t *b);
// Appends received bytes (0 or SL_ENOMEM).
int sl_repl_proto_lines_feed(sl_repl_proto_lines_t *b, const char *data, size_t n);
// The next complete line, without its "\n" (or "\r\n"), NUL-terminated inside the buffer and
// valid until the next feed or next: returns 1; 0 when no line is complete yet; SL_ERANGE when
// the line being received is already longer than max (the stream cannot be trusted to
// resynchronise: answer and close).
int sl_repl_proto_lines_next(sl_repl_proto_lines_t *b, const char **line, size_t *len);
// Bytes received and not yet handed out as lines.
size_t sl_repl_proto_lines_pending(const sl_repl_proto_lines_t *b);

// ---- requests (client -> server) ----------------------------------------------------------------

typedef enum {
  SL_REPL_OP_LINE,     // run a line: a command or a Lua chunk
  SL_REPL_OP_COMPLETE, // complete the last word of text (the line up to the cursor)
} sl_repl_op_t;

typedef struct {
  sl_repl_op_t op;
  int has_id;
  double id;  // echoed in the reply
  char *text; // owned; no NUL bytes inside
  size_t len;
  char *cwd; // owned; the client's directory, for relative paths (dry-run FILE), or NULL
} sl_repl_req_t;

// Parses one request line. Errors (SL_EPARSE) say what is wrong: not JSON, not an object, a
// missing or mistyped field, an unknown op. Unknown fields are ignored.
int sl_repl_proto_parse_request(const char *line, size_t len, sl_repl_req_t *req, sl_err_t *err);
void sl_repl_proto_req_deinit(sl_repl_req_t *req);
// Appends the request as one line, newline included.
int sl_repl_proto_write_request(sl_json_buf_t *b, const sl_repl_req_t *req);

// ---- replies (server -> client) -----------------------------------------------------------------

typedef struct {
  int ok;
  int has_id;
  double id;
  char *out;      // what to print ("" when nothing); owned
  char *error;    // why it failed (NULL when ok); owned
  char **matches; // completions (NULL when none); owned
  size_t nmatches;
  char *hello;  // the greeting's banner (the server's first line only); owned
  int protocol; // the greeting's protocol version
} sl_repl_reply_t;

int sl_repl_proto_parse_reply(const char *line, size_t len, sl_repl_reply_t *r, sl_err_t *err);
void sl_repl_proto_reply_deinit(sl_repl_reply_t *r);
// Appends the reply as one line, newline included. Text fields are written through
// sl_repl_proto_clean, so whatever a policy put in them reaches the terminal harmless.
int sl_repl_proto_write_reply(sl_json_buf_t *b, const sl_repl_reply_t *r);

// Copies s[0..n) into b with control characters other than newline and tab, and bytes that are
// not valid UTF-8, written as \xNN: nothing reaches a terminal as an escape sequence and every
// string is valid JSON text.
int sl_repl_proto_clean(sl_json_buf_t *b, const char *s, size_t n);
