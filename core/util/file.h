// Reading whole files that may be swapped, replaced or planted while the controller runs (policy
// files, Lua modules): only regular files, opened without blocking (a FIFO in their place would
// otherwise stall the process in open), read with a size cap.
#pragma once

#include <stddef.h>

#include "core/util/err.h"

enum {
  SL_FILE_REGULAR = 1, // refuse anything but a regular file (else pipes are read to EOF)
};

// Reads path into a malloc'd, NUL-terminated buffer. Errors name the path and why: missing
// (SL_ENOTFOUND), a directory, or with SL_FILE_REGULAR a FIFO, a socket or a device
// (SL_EINVAL), larger than max bytes (SL_ERANGE), unreadable (SL_EIO). Files the user names on
// the command line may be pipes (`-c <(...)`); files the controller re-reads on its own may not.
int sl_file_read(const char *path, size_t max, int flags, char **out, size_t *len, sl_err_t *err);
// What kind of file path is, for messages: "a directory", "a FIFO", ... or NULL for a regular
// file; "missing" when it does not exist.
const char *sl_file_kind(const char *path);
