// Where the REPL socket is when none is configured, for `sluice run` (which creates it) and
// `sluice repl` (which looks for it): the first of
//   $XDG_RUNTIME_DIR/sluice/repl.sock   when XDG_RUNTIME_DIR is set
//   /run/sluice/repl.sock               when /run/sluice is, or can be made, a directory we own
//   /tmp/sluice-UID/repl.sock           a directory of our own (0700) under /tmp
// docs/repl.md says the same.
#pragma once

#include <stddef.h>

#include "core/util/err.h"

// The server's default: the first candidate whose directory exists or can be created (0700) and
// is ours to write; a /tmp directory that is not ours, or is a symlink, is skipped.
int sl_repl_sockpath_server(char *buf, size_t n, sl_err_t *err);
// The client's default: the first candidate where a socket exists, else the first candidate (so
// the error names where it looked first).
void sl_repl_sockpath_client(char *buf, size_t n);
// Makes the directory of an explicit socket path when it is missing (one level, 0700).
int sl_repl_sockpath_prepare(const char *path, sl_err_t *err);
