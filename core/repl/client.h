// The REPL client behind `sluice repl`: connects to a controller's socket, sends lines and
// completion requests (core/repl/proto.h) and reads the replies, over plain blocking I/O. The
// interactive loop edits lines with libedit, completes variant ids and command names by asking
// the server, and keeps a history file.
#pragma once

#include <stdio.h>

#include "core/repl/proto.h"

typedef struct {
  int fd;
  sl_repl_proto_lines_t in;
  double next_id;
  char *banner; // the server's greeting
} sl_repl_client_t;

// Connects and reads the greeting. A refusal (another user's controller, too many clients) is
// SL_EINVAL with the server's reason; no socket, or nobody listening, SL_EIO.
int sl_repl_client_connect(sl_repl_client_t *cl, const char *path, sl_err_t *err);
void sl_repl_client_close(sl_repl_client_t *cl);
// Sends one request and reads its reply (which the caller deinits). SL_EIO when the connection
// fails or closes, SL_EPARSE when the reply is not one.
int sl_repl_client_call(sl_repl_client_t *cl, sl_repl_op_t op, const char *text, sl_repl_reply_t *r,
                        sl_err_t *err);
// Prints a reply: its text to `out`, its error (if any) to `errf`.
void sl_repl_client_print(const sl_repl_reply_t *r, FILE *out, FILE *errf);
// The interactive loop on a terminal: libedit, completion from the server, history in
// `history` (NULL: none). Returns when the user ends input (Ctrl-D) or the connection drops:
// 0, or 1 when it dropped.
int sl_repl_client_interactive(sl_repl_client_t *cl, const char *history);
// Lines from a stream that is not a terminal, each run and printed: 0 when every line
// succeeded, 1 when one failed, 2 when the connection dropped.
int sl_repl_client_script(sl_repl_client_t *cl, FILE *in);
